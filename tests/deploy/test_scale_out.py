"""Scale-out: two worker processes (different hostnames, different queue sets, as on two
machines) joined only by the broker and the databases share one 200-target run.

Real RabbitMQ, real worker processes (tests/reliability/workers.py), real sshd targets (ten
servers, twenty targets each), the run started through the API like any user starts one.
Everything runs on one machine here; a second machine adds nothing the workers see but
another host name (which is what they are told apart by).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.fixtures import wait_for
from tests.sshd import ensure_password_user, start_sshd, stop_sshd

pytestmark = [
    pytest.mark.once,
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

TERMINAL = {"succeeded", "failed", "canceled", "timed_out"}
TARGETS = 200
SERVERS = 10


@pytest.fixture
def fleet():
    """SERVERS real sshd servers sharing one client key, and the account to log in as. As root
    that is the suite's light ``/bin/sh`` account (root's login costs sshd twice the CPU, and
    200 of them dominate the run on a small machine), so the servers' files live in a directory
    that account can traverse."""
    base = Path(tempfile.mkdtemp(prefix="oc-fleet-"))
    base.chmod(0o711)
    servers = [start_sshd(base / "s00")]
    try:
        servers += [start_sshd(base / f"s{i:02d}", client_key=servers[0].client_key_path)
                    for i in range(1, SERVERS)]  # fmt: skip
        username = ensure_password_user().username if os.geteuid() == 0 else servers[0].username
        yield servers, username
    finally:
        for server in servers:
            stop_sshd(server)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_user(username="scale-admin", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.mark.timeout(240)
def test_a_200_target_run_is_spread_over_two_worker_hosts(api, workers, fleet):
    servers, username = fleet
    first = servers[0]
    ok(api.post("/api/v1/credentials/", {
        "name": "fleet-key", "kind": "ssh_key", "username": username,
        "private_key": first.client_key_path.read_text()}, format="json"), 201)  # fmt: skip
    rows = [
        {"name": f"node-{index:03d}", "tags": ["fleet"], "host_key_policy": "accept-new",
         "connection_methods": [{"protocol": "ssh", "host": servers[index % SERVERS].host,
                                 "port": servers[index % SERVERS].port,
                                 "credential": "fleet-key"}]}
        for index in range(TARGETS)
    ]  # fmt: skip
    ok(api.post("/api/v1/targets/import/", rows, format="json"), 201)

    # "machine A" runs only execution work; "machine B" also carries the kernel and app queues
    # (its deployment puts more on it). Both join through the broker URL alone.
    # production's heartbeat and lost-worker times, not the reliability tests' hair trigger: a
    # busy machine must not turn a slow heartbeat into a lost target here
    timing = {"EXECUTION_HEARTBEAT_SECONDS": "5", "EXECUTION_LOST_AFTER_SECONDS": "30",
              "EXECUTION_REQUEUE_AFTER_SECONDS": "120", "EXECUTION_REAP_SECONDS": "10"}  # fmt: skip
    workers.start("alpha", concurrency=4, queues=("execution",), **timing)
    workers.start(
        "beta", concurrency=4, queues=("execution", "kernel", "targets", "jobs"), **timing
    )

    job = ok(api.post("/api/v1/jobs/", {
        "name": "fleet-job", "default_selector": "tag:fleet",
        "policy": {"max_parallel": TARGETS},
        "steps": [{"name": "work", "kind": "command",
                   "command": 'sleep 0.2; echo "done on $OPSCONDUCTOR_TARGET"',
                   "timeout_seconds": 120}],
    }, format="json"), 201)  # fmt: skip
    started = time.monotonic()
    run = ok(api.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    done = wait_for(
        lambda: (r := ok(api.get(f"/api/v1/runs/{run['id']}/")))["status"] in TERMINAL and r,
        timeout=150, interval=0.5, what="the 200-target run to end",
    )  # fmt: skip
    elapsed = time.monotonic() - started

    assert done["status"] == "succeeded", done["counts"]
    assert done["counts"] == {"succeeded": TARGETS}
    targets = ok(api.get(f"/api/v1/runs/{run['id']}/targets/?page_size=500"))["results"]
    assert len(targets) == TARGETS
    by_host = Counter(t["worker"].split("-", 1)[0] for t in targets)
    assert set(by_host) == {"alpha", "beta"}, by_host
    # each took a fair share (whole slices of 25; neither sat idle while the other did it all)
    assert min(by_host.values()) >= 50, by_host
    # every target's output names it: each ran once, on the target it was meant for
    sample = targets[0]
    output = ok(api.get(f"/api/v1/runs/{run['id']}/targets/{sample['target_id']}/output/"))
    assert f"done on {sample['target_name']}" in "".join(c["text"] for c in output["chunks"])
    print(f"200 targets over two workers in {elapsed:.1f}s: {dict(by_host)}")
