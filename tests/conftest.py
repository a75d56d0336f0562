from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import connections

from conftest import require_service


@pytest.fixture(scope="session")
def rabbitmq():
    """The real RabbitMQ broker the test settings point Celery at."""
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return settings.CELERY_BROKER_URL


@pytest.fixture(scope="session")
def celery_worker(rabbitmq, django_db_setup):
    """A real Celery worker (in a thread of this process) consuming every app queue on RabbitMQ.

    Started once per session. Tests using it need ``django_db(transaction=True)``: the worker
    has its own database connections and sees only committed data.
    """
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.control.purge()
    with start_worker(
        app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=settings.OPSCONDUCTOR_QUEUES,
        shutdown_timeout=20,
    ) as worker:
        yield worker
    app.control.purge()
    connections.close_all()


def wait_for(predicate, *, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH sshd on 127.0.0.1 (random port) that accepts one generated client key."""
    from tests.sshd import start_sshd, stop_sshd

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)
