"""Runs through the API, on real sshd targets, executed by the real Celery worker."""

from __future__ import annotations

import json
import secrets
import socket
import time

import pytest

from apps.execution.tests.conftest import ok, targets_of, wait_run
from apps.execution.tests.sshhelpers import remote_running
from tests.fixtures import wait_for
from tests.sshd import free_port

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_two_step_job_runs_on_every_target_with_output_and_summary(
    admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(3, tag="web")
    job = make_job(
        [
            {
                "name": "greet",
                "kind": "command",
                "command": "echo hello {{ who }} from $OPSCONDUCTOR_TARGET",
            },
            {
                "name": "script",
                "kind": "script",
                "interpreter": "sh",
                "script": "echo out; echo err >&2; exit 0",
            },
        ],
        parameters=[{"name": "who", "type": "string", "required": True}],
        selector="tag:web",
    )
    run = ok(admin_api.post("/api/v1/runs/", {"job": job["id"], "parameters": {"who": "ops"}},
                            format="json"), 201)  # fmt: skip
    assert run["trigger"] == "manual"
    done = wait_run(admin_api, run["id"])
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"succeeded": 3}
    targets = targets_of(admin_api, run["id"])
    assert len(targets) == 3
    for name, target in targets.items():
        assert target["status"] == "succeeded"
        assert [s["status"] for s in target["steps"]] == ["succeeded", "succeeded"]
        output = ok(
            admin_api.get(f"/api/v1/runs/{run['id']}/targets/{target['target_id']}/output/")
        )
        text = {(c["step"], c["stream"]): c["text"] for c in output["chunks"]}
        assert text[(1, "stdout")] == f"hello ops from {name}\n"
        assert text[(2, "stdout")] == "out\n"
        assert text[(2, "stderr")] == "err\n"
    # all three printed different names: three groups of one
    assert len(done["summary"]["groups"]) == 3


def _run(client, job, **body):
    return ok(client.post("/api/v1/runs/", {"job": job["id"], **body}, format="json"), 201)


def test_cancel_during_a_long_sleep_stops_it_within_seconds_and_kills_the_remote_process(
    operator_api, make_fleet, make_job, celery_worker
):
    make_fleet(2, tag="slow")
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"
    job = make_job(
        [
            {"name": "long", "kind": "command", "command": f"echo started; {tag}"},
            {"name": "after", "kind": "command", "command": "echo never"},
        ],
        selector="tag:slow",
    )
    run = _run(operator_api, job)
    wait_for(lambda: remote_running(tag), timeout=15, what="the remote sleep to start")
    started = time.monotonic()
    first = ok(operator_api.post(f"/api/v1/runs/{run['id']}/cancel/"))
    again = ok(operator_api.post(f"/api/v1/runs/{run['id']}/cancel/"))  # idempotent
    assert first["cancel_requested_at"] == again["cancel_requested_at"]
    done = wait_run(operator_api, run["id"], timeout=10)
    assert time.monotonic() - started < 5
    assert done["status"] == "canceled"
    assert done["status_reason"] == "canceled by user:run-op"
    for target in targets_of(operator_api, run["id"]).values():
        assert target["status"] == "canceled"
        assert [s["status"] for s in target["steps"]] == ["canceled", "skipped"]
    wait_for(lambda: not remote_running(tag), timeout=5, what="the remote sleep to be gone")
    # a finished run cannot be canceled into another state
    assert ok(operator_api.post(f"/api/v1/runs/{run['id']}/cancel/"))["status"] == "canceled"


def test_failures_unreachable_hosts_and_retry_of_only_the_failed_targets(
    admin_api, make_fleet, make_job, celery_worker, tmp_path
):
    targets, _servers = make_fleet(3, tag="mixed")
    flag = tmp_path / "fixed"
    job = make_job(
        [
            {
                "name": "check",
                "kind": "command",
                "command": f'test "$OPSCONDUCTOR_TARGET" != {targets[1]["name"]} -o -e {flag} '
                '|| { echo "No such file or directory" >&2; exit 1; }',
            }
        ],
        selector="tag:mixed",
        policy={"connection_retries": 0},
    )
    # a closed port, and a port that accepts TCP but never speaks SSH
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed_port = free_port()
    for name, port in (("mixed-closed", closed_port), ("mixed-silent", silent.getsockname()[1])):
        ok(admin_api.post("/api/v1/targets/", {
            "name": name, "tags": ["mixed"], "host_key_policy": "accept-new",
            "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1", "port": port,
                                    "credential": "mixed-cred-1"}],
        }, format="json"), 201)  # fmt: skip
    try:
        started = time.monotonic()
        run = _run(admin_api, job)
        done = wait_run(admin_api, run["id"], timeout=40)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert done["status"] == "failed"
    assert elapsed < 10 + 5  # the connect timeout (10 s) bounds the silent host
    by_name = targets_of(admin_api, run["id"])
    assert by_name["mixed-closed"]["status"] == "unreachable"
    assert "refused" in by_name["mixed-closed"]["reason"]
    assert by_name["mixed-silent"]["status"] == "unreachable"
    assert by_name[targets[1]["name"]]["status"] == "failed"
    assert by_name[targets[1]["name"]]["exit_code"] == 1
    assert by_name[targets[0]["name"]]["status"] == "succeeded"
    # the summary shows the odd ones first: the 1-target groups before the 2 that succeeded
    groups = done["summary"]["groups"]
    assert groups[-1]["status"] == "succeeded" and groups[-1]["count"] == 2
    failed = next(g for g in groups if g["status"] == "failed")
    assert "No such file or directory" in failed["description"]

    flag.touch()
    # retrying before the fix would fail again; after it only the 3 failed targets rerun
    retry = ok(admin_api.post(f"/api/v1/runs/{run['id']}/retry/", {"only": "failed"},
                              format="json"), 201)  # fmt: skip
    assert retry["trigger"] == "retry" and retry["retry_of"] == run["id"]
    assert retry["target_count"] == 3
    redone = wait_run(admin_api, retry["id"], timeout=40)
    assert targets_of(admin_api, retry["id"])[targets[1]["name"]]["status"] == "succeeded"
    assert redone["counts"] == {"succeeded": 1, "unreachable": 2}
    bad = admin_api.post(f"/api/v1/runs/{run['id']}/retry/", {"only": "some"}, format="json")
    assert bad.status_code == 400 and "only" in bad.json()["error"]["fields"]


def test_secret_parameter_and_password_are_masked_in_output_stream_and_events(
    admin_api, make_fleet, make_job, celery_worker, caplog
):
    make_fleet(1, tag="canary")
    canary = f"Canary{secrets.token_hex(12)}"
    job = make_job(
        [{"name": "leak", "kind": "script", "interpreter": "sh",
          # the secret printed whole, split across two writes with a pause between them,
          # and from the environment
          "script": f"echo token={{{{ token }}}}; printf '{canary[:9]}'; sleep 0.6; "
                    f"printf '{canary[9:]}\\n'; echo \"env=$OPSCONDUCTOR_PARAM_TOKEN\""}],
        parameters=[{"name": "token", "type": "secret", "required": True}],
        selector="tag:canary",
    )  # fmt: skip
    run = _run(admin_api, job, parameters={"token": canary})
    assert canary not in json.dumps(run)
    wait_run(admin_api, run["id"])
    (target,) = targets_of(admin_api, run["id"]).values()
    output = ok(admin_api.get(f"/api/v1/runs/{run['id']}/targets/{target['target_id']}/output/"))
    text = "".join(c["text"] for c in output["chunks"])
    assert text == "token=********\n********\nenv=********\n"
    stream = b"".join(admin_api.get(f"/api/v1/runs/{run['id']}/stream/").streaming_content)
    assert b"env=********" in stream and canary.encode() not in stream
    assert canary not in json.dumps(ok(admin_api.get(f"/api/v1/runs/{run['id']}/")))
    wait_for(
        lambda: ok(admin_api.get("/api/v1/audit/events/?action=execution.run.finished"))["results"],
        what="the run's events to reach the audit trail",
    )
    audit = ok(admin_api.get("/api/v1/audit/events/?page_size=500"))
    assert "execution.run.requested" in json.dumps(audit)
    assert canary not in json.dumps(audit)
    assert canary not in caplog.text


def test_a_job_with_runs_cannot_be_deleted_only_archived(admin_api, make_fleet, make_job,
                                                         celery_worker):  # fmt: skip
    make_fleet(1, tag="keep")
    job = make_job([{"name": "s", "kind": "command", "command": "true"}], selector="tag:keep")
    run = _run(admin_api, job)
    wait_run(admin_api, run["id"])
    refused = admin_api.delete(f"/api/v1/jobs/{job['id']}/")
    assert refused.status_code == 409
    assert "archive" in refused.json()["error"]["message"]
    ok(admin_api.post(f"/api/v1/jobs/{job['id']}/archive/"))
    again = admin_api.post("/api/v1/runs/", {"job": job["id"]}, format="json")
    assert again.status_code == 400 and "archived" in again.json()["error"]["fields"]["job"][0]
    assert ok(admin_api.get(f"/api/v1/runs/{run['id']}/"))["job_name"] == job["name"]
