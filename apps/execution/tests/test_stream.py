"""The live stream of a run (Server-Sent Events) over a real HTTP server."""

from __future__ import annotations

import json
import time

import pytest
import requests

from apps.execution.tests.conftest import ok, wait_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _events(lines):
    """Parse an SSE line iterator into (id, event, data) tuples."""
    current: dict = {}
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        if not line:
            if "data" in current:
                yield current.get("id"), current.get("event"), json.loads(current["data"])
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        current[key] = current.get(key, "") + value if key == "data" else value


def test_output_arrives_live_and_the_stream_resumes_after_last_event_id(
    live_server, admin_api, make_fleet, make_job, celery_worker, django_user_model
):
    django_user_model.objects.create_user(username="sse", password="sse-pass-1", role="viewer")
    token = requests.post(
        f"{live_server.url}/api/v1/auth/token/",
        json={"username": "sse", "password": "sse-pass-1"},
        timeout=10,
    )
    headers = {"Authorization": f"Bearer {token.json()['access']}",
               "Accept": "text/event-stream"}  # fmt: skip
    make_fleet(2, tag="live")
    job = make_job([{"name": "tick", "kind": "command",
                     "command": "for i in 1 2 3; do echo tick$i; sleep 1; done"}],
                   selector="tag:live")  # fmt: skip
    run = ok(admin_api.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    url = f"{live_server.url}/api/v1/runs/{run['id']}/stream/"
    seen = []
    started = time.monotonic()
    with requests.get(url, headers=headers, stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for event_id, kind, data in _events(response.iter_lines(chunk_size=1)):
            seen.append((int(event_id), kind, data, time.monotonic() - started))
            if kind == "end":
                break
    first_tick = next(
        at for _, kind, data, at in seen if kind == "output" and "tick1" in data["text"]
    )
    end = seen[-1]
    assert end[1] == "end" and end[2]["status"] == "succeeded"
    assert end[3] - first_tick > 1.5, str(
        [(i, k, d.get("text") or d.get("status"), round(a, 2)) for i, k, d, a in seen]
    )
    ids = [event_id for event_id, *_ in seen]
    assert ids[:-1] == sorted(set(ids[:-1]))  # ordered, no duplicates
    texts = "".join(d["text"] for _, k, d, _ in seen if k == "output")
    assert texts.count("tick3") == 2
    assert any(k == "state" and d.get("type") == "target" and d["status"] == "succeeded"
               for _, k, d, _ in seen)  # fmt: skip
    wait_run(admin_api, run["id"])

    # reconnecting with Last-Event-ID sends only what came after it
    middle = seen[len(seen) // 2][0]
    with requests.get(url, headers={**headers, "Last-Event-ID": str(middle)}, stream=True,
                      timeout=30) as response:  # fmt: skip
        resumed = [int(i) for i, k, _ in _events(response.iter_lines(chunk_size=1)) if k != "end"]
    assert resumed == [i for i in ids[:-1] if i > middle]

    assert requests.get(url, timeout=10).status_code == 401
    bad = requests.get(url, headers={**headers, "Last-Event-ID": "x"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["Last-Event-ID"]
