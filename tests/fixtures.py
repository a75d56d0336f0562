"""Fixtures and helpers shared by every test package (loaded as a plugin by the root conftest)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


@contextlib.contextmanager
def webhook_receiver(*, status: int = 200, path: str = "/hooks/opsconductor"):
    """A real HTTP server on loopback answering every POST with ``status``; ``.url`` is where
    to send, ``.received`` each POST (``path``, ``headers``, raw ``body``)."""
    received: list[dict] = []
    answer = b"ok" if status < 400 else b"error"

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}{path}"  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def wait_for_first_firing(api, schedule: dict, run_at, *, timeout: float) -> str:
    """Tick the scheduler as beat does until ``schedule``'s first firing (due at ``run_at``)
    has started a run; that run's id."""
    from datetime import UTC, datetime

    from apps.scheduling.tasks import fire_due

    def fired():
        fire_due.apply_async(expires=5)
        response = api.get(f"/api/v1/schedules/{schedule['id']}/firings/")
        assert response.status_code == 200, response.content
        page = response.json()
        return page["results"] and page["results"][0]["run_id"]

    time.sleep(max((run_at - datetime.now(UTC)).total_seconds(), 0))
    return wait_for(fired, timeout=timeout, interval=1.0, what="the schedule to fire")


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


@pytest.fixture
def workers(tmp_path, settings, rabbitmq):
    """Start real worker processes with ``workers.start(name)`` (and beats with
    ``workers.start_beat(name)``); the test's API calls send work to their queues (a prefix of
    this test's own). All are stopped at the end."""
    from tests.reliability.workers import Workers, queue_prefix

    prefix = queue_prefix()
    settings.CELERY_QUEUE_PREFIX = prefix
    pool = Workers(tmp_path, prefix)
    yield pool
    pool.stop_all()


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
    # what this test's flush (next) empties: the aliases it declared, each database once
    _flushed_stores.clear()
    _declared[:] = _declared_aliases(request)


# The physical databases a test's flush has emptied already, and the aliases the test declared
# (see _flush_once_per_database).
_flushed_stores: set[str] = set()
_declared: list[str] = []


def _declared_aliases(request) -> list[str]:
    from django.conf import settings
    from pytest_django.fixtures import validate_django_db

    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return []
    _, _, databases, _, _ = validate_django_db(marker)  # its signature's order
    if databases == "__all__":
        return list(settings.DATABASES)
    return list(databases or ["default"])


def _flush_once_per_database() -> None:
    """A transactional test's teardown flushes every alias; in single mode the six aliases are
    one database. Django's flush would then TRUNCATE it in six transactions and run the
    post-migrate handlers six times (2-3 s per test): here the first alias of a database
    truncates the tables of all aliases on it in one statement, the others find it done, and
    the post-migrate handlers (content types, permissions) run only where those tables live.

    The in-process worker and its background threads (output relays, heartbeats) may still
    write for a moment after a test; PostgreSQL then picks the flush's TRUNCATE as a deadlock
    victim. The flush is simply tried again (the worker's write is done by then)."""
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType
    from django.core.management.color import no_style
    from django.core.management.commands import flush
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import OperationalError, connections, router

    if getattr(flush.Command.handle, "_once_per_database", False):
        return

    def handle(self, **options):
        alias = options["database"]
        stores = getattr(settings, "DATABASE_STORES", {})
        store = stores.get(alias, alias)
        if store in _flushed_stores:
            return None
        # only aliases the test declared (others are off limits, and keep their rows)
        declared = _declared if alias in _declared else [alias]
        sharing = [other for other in declared if stores.get(other, other) == store]
        connection = connections[alias]
        existing = set(connection.introspection.table_names(include_views=False))
        tables = sorted({
            table
            for other in sharing
            for table in connections[other].introspection.django_table_names(include_views=False)
        } & existing)  # fmt: skip
        statements = connection.ops.sql_flush(
            no_style(), tables, reset_sequences=options.get("reset_sequences", False),
            allow_cascade=options.get("allow_cascade", False),
        )  # fmt: skip
        for attempt in range(5):
            try:
                connection.ops.execute_sql_flush(statements)
                break
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        _flushed_stores.add(store)
        if not options.get("inhibit_post_migrate"):
            for other in sharing:
                if router.allow_migrate_model(other, ContentType):
                    emit_post_migrate_signal(0, False, other)
        return None

    handle._once_per_database = True  # type: ignore[attr-defined]
    flush.Command.handle = handle


_flush_once_per_database()
