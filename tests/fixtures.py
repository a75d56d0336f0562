"""Fixtures and helpers shared by every test package (loaded as a plugin by the root conftest)."""

from __future__ import annotations

import socket
import time

import pytest
from django.conf import settings
from django.db import connections

START_HINTS = {
    "PostgreSQL": (
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    ),
    "RabbitMQ": "start it with: rabbitmq-server -detached",
    "Redis": "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''",
}


def service_reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if not service_reachable(host, port):
        pytest.fail(f"{name} is not reachable at {host}:{port}; {START_HINTS[name]}", pytrace=False)


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


@pytest.fixture
def sshd_factory(tmp_path_factory):
    """Start as many real sshd processes as a test needs; all are stopped after it.

    ``sshd_factory()`` -> ``tests.sshd.SshServer`` (own host key, client key and log file);
    ``sshd_factory(password=True)`` also accepts the local test account's password (skips the
    test when that account cannot be created, i.e. not running as root);
    ``sshd_factory(client_key=path)`` authorizes an existing key instead of a new one.
    """
    from tests.sshd import SshdFactory

    factory = SshdFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture
def sshd_rekey(sshd_factory):
    """``sshd_rekey(server)``: stop ``server``, start an sshd with ANOTHER host key on its port."""
    return sshd_factory.restart_with_new_host_key


@pytest.fixture(autouse=True)
def _celery_worker_idle_before_the_database_is_flushed(request, _django_db_marker):
    """Every test ends with the in-process worker idle (once a test has started it, it takes
    the tasks of later tests too, e.g. the runs a scheduling test creates): a task still
    writing (an audit batch, a run's result) while the database is flushed deadlocks the
    flush. Costs nothing when no task is running."""
    yield
    from celery.worker import state

    deadline = time.monotonic() + 15
    while state.active_requests and time.monotonic() < deadline:
        time.sleep(0.02)


def _flush_retrying_deadlocks() -> None:
    """The in-process worker and its background threads (output relays, heartbeats) may still
    write for a moment after a test; PostgreSQL then picks the flush's TRUNCATE as a deadlock
    victim. The flush is simply tried again (the worker's write is done by then)."""
    from django.core.management.commands import flush
    from django.db import OperationalError

    original = flush.Command.handle
    if getattr(original, "_retries_deadlocks", False):
        return

    def handle(self, **options):
        for attempt in range(5):
            try:
                return original(self, **options)
            except Exception as exc:  # CommandError wrapping the OperationalError
                cause = exc.__cause__ or exc.__context__
                if attempt == 4 or not isinstance(cause, OperationalError):
                    raise
                time.sleep(0.2 * (attempt + 1))
        return None

    handle._retries_deadlocks = True  # type: ignore[attr-defined]
    flush.Command.handle = handle


_flush_retrying_deadlocks()
