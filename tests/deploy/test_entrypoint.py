"""The image's worker role as the entrypoint starts it: production settings, the queues it is
given (with the installation's CELERY_QUEUE_PREFIX), the host name the run targets record, and
the HEALTHCHECK that pings it through the broker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from tests.deploy.gateway import ROOT, production_env
from tests.reliability.workers import queue_prefix

pytestmark = [
    pytest.mark.once,
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
ENTRYPOINT = str(ROOT / "deploy" / "entrypoint.sh")


def healthcheck(env) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", ENTRYPOINT, "healthcheck", "worker"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_the_worker_role_consumes_its_prefixed_queues_and_answers_its_health_check(
    rabbitmq, tmp_path
):
    from config.celery import app

    prefix = queue_prefix()
    name = f"hc{uuid.uuid4().hex[:6]}"
    env = {
        **production_env(tmp_path),
        "CELERY_QUEUE_PREFIX": prefix,
        "CELERY_QUEUE_EXPIRES_SECONDS": "600",
        "WORKER_NAME": name,
        "WORKER_THREADS": "2",
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        ["sh", ENTRYPOINT, "worker", "execution,kernel"], cwd=ROOT, env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        hostname = f"{name}@{socket.gethostname()}"
        assert f"{hostname} v" in log.read_text()  # celery's banner names the worker

        checked = healthcheck(env)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        queues = app.control.inspect(destination=[hostname], timeout=5).active_queues()
        assert {q["name"] for q in queues[hostname]} == {f"{prefix}execution", f"{prefix}kernel"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # a worker that is gone fails its health check (docker marks the container unhealthy)
    assert healthcheck(env).returncode != 0
    with app.connection_for_write() as connection:
        for queue in ("execution", "kernel"):
            with contextlib.suppress(Exception):
                connection.default_channel.queue_delete(prefix + queue)
