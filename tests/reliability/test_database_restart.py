"""A PostgreSQL restart, as its clients see it, under production's connection reuse.

Production configuration in real processes (``tests/reliability/workers.py``,
``tests/deploy/gateway.py``): gunicorn (gthread) serving the API, one Celery worker with 16
threads consuming every queue, one Celery beat; connections reused as in production
(``CELERY_DB_REUSE_MAX=1000``, ``DATABASE_CONN_MAX_AGE=60``, where the suite's defaults close
them after every task). A restart is what ``tests.db_outage.database_outage`` does to the test
databases: every backend terminated from the server side and new connections refused for a
few seconds.

Mid-run: the run in progress ends with every target's result, none run twice. Between runs: the
next run starts at once (not at the 120 s resend), the periodic tasks (``reap_runs``,
``fire_due``, ``sweep_outbox``) keep working, and the API answered 503 with ``Retry-After``
meanwhile, then recovers by itself.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from tests.db_outage import database_outage
from tests.fixtures import wait_for
from tests.reliability.test_execution_reliability import api, fleet, ok, register  # noqa: F401

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True, databases="__all__")]

TERMINAL = {"succeeded", "failed", "canceled", "timed_out", "lost"}
OUTAGE_SECONDS = 3  # connections refused this long (the incident: 2.4 s)
REUSE = {"CELERY_DB_REUSE_MAX": "1000", "DATABASE_CONN_MAX_AGE": "60"}
# production's resend of queued targets (120 s): a run must start because the worker recovered,
# not because the reaper sent its targets again
RESEND = {"EXECUTION_REQUEUE_AFTER_SECONDS": "120"}
QUEUES = ("execution", "kernel", "scheduling", "jobs", "targets", "audit", "accounts")
HOST = "ops.test"


class Web:
    """The real gunicorn, spoken to as the gateway does (plain HTTP, forwarded as https)."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def request(self, method: str, path: str, body=None) -> tuple[int, dict, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Host": HOST, "X-Forwarded-Proto": "https",
                       "Authorization": f"Token {self.token}"}  # fmt: skip
            payload = None
            if body is not None:
                payload = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw.decode(errors="replace")
            return response.status, dict(response.headers), data
        finally:
            conn.close()

    def get(self, path: str):
        status, _, data = self.request("GET", path)
        assert status == 200, (status, data)
        return data


@pytest.fixture
def web(api, workers, tmp_path):  # noqa: F811 (the shared fixture)
    from tests.deploy.gateway import WebProcess, web_env
    from tests.sshd import free_port

    token = ok(api.post("/api/v1/tokens/", {"name": "restart"}, format="json"), 201)["token"]
    port = free_port()
    env = {**web_env(port, tmp_path, 443), "WEB_THREADS": "4", **REUSE,
           "CELERY_QUEUE_EXPIRES_SECONDS": "0"}  # the workers' queues, declared alike  # fmt: skip
    process = WebProcess(port=port, env=env, log=tmp_path / "web.log").start()
    yield Web(port, token)
    process.stop()


def start_run(web: Web, job_id: str) -> dict:
    status, _, data = web.request("POST", "/api/v1/runs/", {"job": job_id})
    assert status == 201, (status, data)
    return data


def wait_run(web: Web, run_id: str, timeout: float) -> dict:
    return wait_for(
        lambda: (r := web.get(f"/api/v1/runs/{run_id}/"))["status"] in TERMINAL and r,
        timeout=timeout, interval=0.2, what=f"run {run_id} to end",
    )  # fmt: skip


def targets_of(web: Web, run_id: str) -> list[dict]:
    return web.get(f"/api/v1/runs/{run_id}/targets/?page_size=500")["results"]


def lines_after(log: str, offset: int, task: str) -> list[str]:
    return [line for line in log[offset:].splitlines() if task in line]


def outage(web: Web) -> None:
    """The restart: while it lasts, the API answers 503 in the shape with Retry-After."""
    with database_outage() as killed:
        assert killed >= 3  # the web's, the worker's and the beat's connections at least
        status, headers, body = web.request("GET", "/api/v1/runs/")
        assert status == 503, body
        assert headers.get("Retry-After") == "5"
        assert body["error"]["code"] == "service_unavailable"
        assert "5432" not in json.dumps(body) and "test_" not in json.dumps(body)
        time.sleep(OUTAGE_SECONDS)
    connections.close_all()  # this test process's own (it only set things up)


def test_a_database_restart_mid_run_and_between_runs(api, workers, web, sshd_factory, tmp_path):  # noqa: F811
    marks = tmp_path / "marks"
    marks.mkdir()
    names = register(api, fleet(sshd_factory, 4), per_server=2, tag="pgr")
    job = ok(api.post("/api/v1/jobs/", {
        "name": "pgr-job", "default_selector": "tag:pgr", "policy": {"max_parallel": 100},
        "steps": [{"name": "work", "kind": "command", "timeout_seconds": 60,
                   "command": f'echo x >> {marks}/"$OPSCONDUCTOR_TARGET"; sleep 5; echo done'}],
    }, format="json"), 201)  # fmt: skip
    # fire_due: an every-5-seconds schedule of a job whose one target nothing answers
    quiet = ok(api.post("/api/v1/targets/", {
        "name": "pgr-quiet", "tags": ["pgr-quiet"],
        "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1", "port": 9,
                                "credential": "pgr-key"}]}, format="json"), 201)  # fmt: skip
    assert quiet["name"] == "pgr-quiet"
    quiet_job = ok(api.post("/api/v1/jobs/", {
        "name": "pgr-quiet-job", "default_selector": "tag:pgr-quiet",
        "steps": [{"name": "n", "kind": "command", "command": "true"}]}, format="json"), 201)  # fmt: skip
    schedule = ok(api.post("/api/v1/schedules/", {
        "name": "pgr-every-5s", "job": quiet_job["id"], "kind": "interval", "interval_every": 5,
        "interval_unit": "seconds", "timezone": "UTC"}, format="json"), 201)  # fmt: skip

    worker = workers.start("w1", concurrency=16, queues=QUEUES, **REUSE, **RESEND)
    beat = workers.start_beat("b1", OUTBOX_SWEEP_SECONDS="2", **REUSE, **RESEND)

    def marks_of(name: str) -> int:
        path = marks / name
        return len(path.read_text().splitlines()) if path.exists() else 0

    # a first run: every thread of every process holds connections to reuse
    warm = start_run(web, job["id"])
    assert wait_run(web, warm["id"], 40)["status"] == "succeeded"

    # -- mid-run -----------------------------------------------------------------------------
    run = start_run(web, job["id"])
    wait_for(lambda: all(t["steps"] and t["steps"][0]["status"] == "running"
                         for t in targets_of(web, run["id"])),
             timeout=20, interval=0.1, what="every target to run its step")  # fmt: skip
    outage(web)
    done = wait_run(web, run["id"], 60)
    assert done["status"] == "succeeded", [
        (t["status"], t["reason"]) for t in targets_of(web, run["id"])
    ]
    assert done["counts"] == {"succeeded": len(names)}
    rows = targets_of(web, run["id"])
    assert all(t["exit_code"] == 0 and t["steps"][0]["status"] == "succeeded" for t in rows)
    assert all("done" in t["output_sample"] for t in rows), [t["output_sample"] for t in rows]
    assert all(marks_of(name) == 2 for name in names), {n: marks_of(n) for n in names}

    # -- between runs ------------------------------------------------------------------------
    outage(web)
    after_outage = len(worker.output())
    beat_after = len(beat.output())
    resumed = datetime.now(UTC)
    started = time.monotonic()
    second = start_run(web, job["id"])
    wait_for(lambda: any(t["status"] != "queued" for t in targets_of(web, second["id"])),
             timeout=10, interval=0.1, what="the next run to start")  # fmt: skip
    assert time.monotonic() - started < 10  # at once, not at the 120 s resend
    done = wait_run(web, second["id"], 40)
    assert done["status"] == "succeeded", done
    assert all(marks_of(name) == 3 for name in names), {n: marks_of(n) for n in names}

    # -- the periodic tasks keep working ---------------------------------------------------------
    time.sleep(3)  # two outbox sweeps, three reaps, three ticks since
    log = worker.output()
    for task in ("apps.execution.tasks.reap_runs", "apps.scheduling.tasks.fire_due",
                 "opsconductor.events.tasks.sweep_outbox"):  # fmt: skip
        succeeded = [line for line in lines_after(log, after_outage, task) if "succeeded" in line]
        assert succeeded, f"{task} did not succeed after the restart:\n{log[after_outage:][-3000:]}"
    failed = re.findall(r"Task (\S+)\[[^\]]+\] raised unexpected: (\w+)", log[after_outage:])
    assert not failed, failed
    assert "Sending due task" in beat.output()[beat_after:]
    fired = web.get(f"/api/v1/schedules/{schedule['id']}/firings/?page_size=500")["results"]
    assert any(
        datetime.fromisoformat(f["fired_at"].replace("Z", "+00:00"))
        > resumed + timedelta(seconds=1)
        for f in fired
        if f.get("fired_at")
    ), fired
    assert worker.process.poll() is None and beat.process.poll() is None
