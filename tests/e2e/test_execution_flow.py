"""The execution issue's acceptance story, through the API, on 3 real sshd targets and one
WinRM target (the WS-Management test server), with the real worker and a real HTTP server for
the live stream: run a two-step job, watch it live, read the grouped summary, retry only the
failed target, cancel a long run."""

from __future__ import annotations

import json
import time

import pytest
import requests
from rest_framework.test import APIClient

from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
DONE = {"succeeded", "failed", "canceled", "timed_out"}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def admin(django_user_model):
    user = django_user_model.objects.create_user(username="e2e-admin", password="e2e-pass-1",
                                                 role="admin")  # fmt: skip
    client = APIClient()
    client.force_authenticate(user)
    return client


def finished(admin, run_id, timeout=40):
    return wait_for(lambda: (r := ok(admin.get(f"/api/v1/runs/{run_id}/")))["status"] in DONE
                    and r, timeout=timeout, interval=0.1, what="the run to finish")  # fmt: skip


def test_run_watch_summarise_retry_and_cancel(admin, sshd_factory, winrm_server, celery_worker,
                                              live_server, tmp_path):  # fmt: skip
    first = sshd_factory()
    servers = [first] + [sshd_factory(client_key=first.client_key_path) for _ in range(2)]
    ok(
        admin.post(
            "/api/v1/credentials/",
            {
                "name": "e2e-key",
                "kind": "ssh_key",
                "username": first.username,
                "private_key": first.client_key_path.read_text(),
            },
            format="json",
        ),
        201,
    )
    ok(
        admin.post(
            "/api/v1/credentials/",
            {
                "name": "e2e-win",
                "kind": "winrm",
                "username": winrm_server.username,
                "password": winrm_server.password,
            },
            format="json",
        ),
        201,
    )
    for index, server in enumerate(servers):
        ok(
            admin.post(
                "/api/v1/targets/",
                {
                    "name": f"e2e-{index}",
                    "tags": ["e2e"],
                    "host_key_policy": "accept-new",
                    "connection_methods": [
                        {
                            "protocol": "ssh",
                            "host": server.host,
                            "port": server.port,
                            "credential": "e2e-key",
                        }
                    ],
                },
                format="json",
            ),
            201,
        )
    ok(admin.post("/api/v1/targets/", {
        "name": "e2e-win", "tags": ["e2e"], "os_family": "windows",
        "connection_methods": [{"protocol": "winrm", "host": winrm_server.host,
                                "port": winrm_server.port, "winrm_transport": "basic",
                                "credential": "e2e-win"}]}, format="json"), 201)  # fmt: skip
    flag = tmp_path / "fixed"
    job = ok(admin.post("/api/v1/jobs/", {
        "name": "e2e-deploy", "default_selector": "tag:e2e",
        "steps": [
            {"name": "hello", "kind": "command", "command": "echo hello"},
            {"name": "check", "kind": "script", "interpreter": "sh", "os_family": "linux",
             "script": f'sleep 1; test "$OPSCONDUCTOR_TARGET" != e2e-1 -o -e {flag} '
                       '|| { echo "missing file" >&2; exit 2; }'},
            {"name": "where", "kind": "script", "interpreter": "powershell",
             "os_family": "windows", "script": "Write-Output $env:OPSCONDUCTOR_TARGET"},
        ]}, format="json"), 201)  # fmt: skip

    run = ok(admin.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    assert run["target_count"] == 4

    # watch it live over SSE on a real HTTP server
    token = ok(
        requests.post(
            f"{live_server.url}/api/v1/auth/token/",
            timeout=10,
            json={"username": "e2e-admin", "password": "e2e-pass-1"},
        )
    )
    events, started = [], time.monotonic()
    with requests.get(f"{live_server.url}/api/v1/runs/{run['id']}/stream/", stream=True,
                      headers={"Authorization": f"Bearer {token['access']}"},
                      timeout=60) as response:  # fmt: skip
        block: dict = {}
        for line in response.iter_lines(chunk_size=1):
            line = line.decode()
            if line:
                key, _, value = line.partition(": ")
                block[key] = value
                continue
            if "data" in block:
                events.append((block.get("event"), json.loads(block["data"]),
                               time.monotonic() - started))  # fmt: skip
                if block.get("event") == "end":
                    break
            block = {}
    outputs = [(d["target"], d["text"], at) for kind, d, at in events if kind == "output"]
    assert {t for t, text, _ in outputs if text == "hello\n"} == {"e2e-0", "e2e-1", "e2e-2"}
    assert ("e2e-win", "e2e-win\r\n") in {(t, text) for t, text, _ in outputs} or any(
        t == "e2e-win" and "e2e-win" in text for t, text, _ in outputs
    )
    first_hello = min(at for t, text, at in outputs if text == "hello\n")
    assert events[-1][2] - first_hello > 0.8  # "hello" arrived while "check" still slept
    assert events[-1][1]["status"] == "failed"

    done = finished(admin, run["id"])
    assert done["counts"] == {"succeeded": 3, "failed": 1}
    first_group = done["summary"]["groups"][0]
    assert first_group["status"] == "failed" and first_group["targets"] == ["e2e-1"]
    assert "missing file" in first_group["description"]
    win = ok(admin.get(f"/api/v1/runs/{run['id']}/targets/?name=win"))["results"][0]
    assert [s["status"] for s in win["steps"]] == ["succeeded", "skipped", "succeeded"]

    flag.touch()
    retry = ok(admin.post(f"/api/v1/runs/{run['id']}/retry/", {"only": "failed"},
                          format="json"), 201)  # fmt: skip
    assert retry["target_count"] == 1
    assert finished(admin, retry["id"])["counts"] == {"succeeded": 1}

    long_job = ok(admin.post("/api/v1/jobs/", {
        "name": "e2e-long", "default_selector": "tag:e2e and not os=windows",
        "steps": [{"name": "wait", "kind": "command", "command": "echo waiting; sleep 60"}]},
        format="json"), 201)  # fmt: skip
    long_run = ok(admin.post("/api/v1/runs/", {"job": long_job["id"]}, format="json"), 201)
    wait_for(lambda: ok(admin.get(f"/api/v1/runs/{long_run['id']}/"))["counts"].get("running")
             == 3, timeout=20, what="the long run to be running")  # fmt: skip
    time.sleep(0.5)
    asked = time.monotonic()
    ok(admin.post(f"/api/v1/runs/{long_run['id']}/cancel/"))
    canceled = finished(admin, long_run["id"], timeout=10)
    assert canceled["status"] == "canceled" and time.monotonic() - asked < 5
