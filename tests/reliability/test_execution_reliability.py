"""The execution engine when things die: workers, the broker, target hosts.

Real worker processes (``tests/reliability/workers.py``), real RabbitMQ, real sshd targets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.fixtures import wait_for

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True, databases="__all__")]

TERMINAL = {"succeeded", "failed", "canceled", "timed_out"}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_user(username="rel-admin", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def register(api, servers, *, per_server: int, tag: str):
    ok(api.post("/api/v1/credentials/", {
        "name": f"{tag}-key", "kind": "ssh_key", "username": servers[0].username,
        "private_key": servers[0].client_key_path.read_text()}, format="json"), 201)  # fmt: skip
    names = []
    for s_index, server in enumerate(servers):
        for copy in range(per_server):
            name = f"{tag}-{s_index:02d}-{copy:02d}"
            ok(api.post("/api/v1/targets/", {
                "name": name, "tags": [tag], "host_key_policy": "accept-new",
                "connection_methods": [{"protocol": "ssh", "host": server.host,
                                        "port": server.port, "credential": f"{tag}-key"}],
            }, format="json"), 201)  # fmt: skip
            names.append(name)
    return names


def fleet(sshd_factory, count):
    first = sshd_factory()
    return [first] + [sshd_factory(client_key=first.client_key_path) for _ in range(count - 1)]


def start_run(api, tag, command, *, policy=None, timeout_seconds=10):
    job = ok(api.post("/api/v1/jobs/", {
        "name": f"{tag}-job", "default_selector": f"tag:{tag}",
        "policy": {"max_parallel": 100, **(policy or {})},
        "steps": [{"name": "work", "kind": "command", "command": command,
                   "timeout_seconds": timeout_seconds}],
    }, format="json"), 201)  # fmt: skip
    return ok(api.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)


def run_of(api, run_id):
    return ok(api.get(f"/api/v1/runs/{run_id}/"))


def targets(api, run_id):
    return ok(api.get(f"/api/v1/runs/{run_id}/targets/?page_size=500"))["results"]


def test_sigkill_of_a_worker_mid_run_ends_every_target_once(api, workers, sshd_factory, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    names = register(api, fleet(sshd_factory, 10), per_server=5, tag="kill")
    workers.start("w1", concurrency=15)
    survivor = workers.start("w2", concurrency=15)
    step_timeout = 15
    run = start_run(
        api,
        "kill",
        f'echo x >> {marks}/"$OPSCONDUCTOR_TARGET"; sleep 2; echo done',
        timeout_seconds=step_timeout,
    )
    # kill it once it is inside steps (targets it has only claimed are requeued, not lost)
    wait_for(lambda: sum(t["worker"].startswith("w1") and bool(t["steps"])
                         and t["steps"][0]["status"] == "running"
                         for t in targets(api, run["id"])) >= 3,
             timeout=20, interval=0.05, what="w1 to run steps")  # fmt: skip
    killed_at = time.monotonic()
    workers.started[0].kill()
    done = wait_for(lambda: (r := run_of(api, run["id"]))["status"] in TERMINAL and r,
                    timeout=2 * step_timeout + 5, interval=0.2, what="the run to end")  # fmt: skip
    ended_after = time.monotonic() - killed_at
    rows = targets(api, run["id"])
    assert len(rows) == 50
    assert all(t["status"] in {"succeeded", "lost"} for t in rows), {t["status"] for t in rows}
    lost = [t for t in rows if t["status"] == "lost"]
    assert len(lost) >= 3, "w1 was running steps when it was killed"
    assert all("w1" in t["reason"] and "stopped answering" in t["reason"] for t in lost)
    assert all(t["worker"].startswith("w2") for t in rows if t["status"] == "succeeded")
    # none ran twice: each target's step appended at most one line
    for name in names:
        mark = marks / name
        lines = mark.read_text().splitlines() if mark.exists() else []
        assert len(lines) <= 1, (name, lines)
    assert done["status"] == "failed" and done["counts"]["lost"] == len(lost)
    assert ended_after < 2 * step_timeout
    assert survivor.process.poll() is None


def test_restart_of_rabbitmq_during_a_run_lets_the_run_complete(api, workers, sshd_factory):
    register(api, fleet(sshd_factory, 5), per_server=4, tag="broker")
    workers.start("w1", concurrency=10)
    run = start_run(api, "broker", "sleep 1; echo ok", policy={"max_parallel": 4})
    wait_for(lambda: run_of(api, run["id"])["counts"].get("succeeded"), timeout=20,
             what="the first targets to finish")  # fmt: skip
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=60)
    time.sleep(2)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=60)
    done = wait_for(lambda: (r := run_of(api, run["id"]))["status"] in TERMINAL and r,
                    timeout=60, interval=0.5, what="the run to end after the restart")  # fmt: skip
    assert done["status"] == "succeeded", done["counts"]
    assert done["counts"] == {"succeeded": 20}


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for child in children.get(current, []):
            found.append(child)
            todo.append(child)
    return found


def test_a_target_whose_sshd_dies_mid_command_fails_alone(api, workers, sshd_factory):
    servers = fleet(sshd_factory, 4)
    register(api, servers, per_server=1, tag="die")
    workers.start("w1", concurrency=10)
    run = start_run(api, "die", "echo started; sleep 3; echo done", timeout_seconds=30)
    wait_for(lambda: all(t["status"] == "running" for t in targets(api, run["id"])),
             timeout=20, what="every target to be running")  # fmt: skip
    time.sleep(0.5)
    victim = servers[2].process.pid
    for pid in [victim, *_descendants(victim)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    done = wait_for(lambda: (r := run_of(api, run["id"]))["status"] in TERMINAL and r,
                    timeout=30, interval=0.2, what="the run to end")  # fmt: skip
    by_name = {t["target_name"]: t for t in targets(api, run["id"])}
    dead = by_name["die-02-00"]
    assert dead["status"] in {"unreachable", "failed"}
    assert "connection" in dead["reason"] or "closed" in dead["reason"], dead["reason"]
    others = [t for name, t in by_name.items() if name != "die-02-00"]
    assert all(t["status"] == "succeeded" for t in others)
    assert done["status"] == "failed"


def test_a_database_outage_longer_than_the_commands_loses_no_result(api, workers, sshd_factory):
    """The execution database refuses connections (its backends ended) for longer than the
    commands take and than a heartbeat may be missed (LOST_AFTER, 3 s here): the worker keeps
    what its targets report and writes it when the database is back; every target ends
    succeeded with its whole output, once, and none is declared lost."""
    from tests.db_outage import DatabaseCut

    names = register(api, fleet(sshd_factory, 3), per_server=1, tag="dbcut")
    workers.start("w1", concurrency=4)
    run = start_run(api, "dbcut", "echo started; sleep 3; echo done", timeout_seconds=60)
    wait_for(lambda: all(t["steps"] and t["steps"][0]["status"] == "running"
                         for t in targets(api, run["id"])),
             timeout=20, interval=0.05, what="every target to run its step")  # fmt: skip
    cut = DatabaseCut()
    cut.cut()
    try:
        time.sleep(10)  # the commands end (3 s) while the database is away
    finally:
        cut.restore()
    done = wait_for(lambda: (r := run_of(api, run["id"]))["status"] in TERMINAL and r,
                    timeout=30, interval=0.2, what="the run to end")  # fmt: skip
    rows = targets(api, run["id"])
    assert sorted(t["target_name"] for t in rows) == sorted(names)
    assert [t["status"] for t in rows] == ["succeeded"] * 3, [
        (t["status"], t["reason"]) for t in rows
    ]
    assert done["status"] == "succeeded" and done["counts"].get("lost", 0) == 0
    for row in rows:
        output = ok(api.get(f"/api/v1/runs/{run['id']}/targets/{row['target_id']}/output/"))
        text = "".join(c["text"] for c in output["chunks"] if c["stream"] == "stdout")
        assert text == "started\ndone\n", (row["target_name"], text)  # whole, once
        assert row["steps"][0]["status"] == "succeeded" and row["exit_code"] == 0
    assert "could not write" not in workers.started[0].output()
