"""The per-process connection budget (ADR 0018): a pool per PostgreSQL alias, sized by the
process's role, connections given back at the end of each unit of work, and a thread that
cannot get one in time answered like a database outage (503 in the API, a retry in a task),
never a 500. The budget of real processes: tests/deploy/test_connection_budget.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from rest_framework.test import APIClient

from opsconductor.conf import ConfigurationError, parse_alias_sizes, process_role
from opsconductor.db import reconnect

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/srv/venv/bin/gunicorn", "config.wsgi:application", "--threads", "16"], "web"),
        (["/srv/venv/lib/python3.11/site-packages/gunicorn/__main__.py", "config.wsgi"], "web"),
        (["/srv/venv/bin/uvicorn", "config.asgi:application", "--port", "8001"], "streams"),
        (["/srv/venv/bin/celery", "-A", "config", "worker", "-Q", "execution"], "worker"),
        (
            ["/srv/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "config", "worker"],
            "worker",
        ),
        (["/srv/venv/bin/celery", "-A", "config", "beat", "--scheduler", "x"], "beat"),
        (["/srv/venv/bin/celery", "-A", "config", "inspect", "ping"], "other"),
        (["manage.py", "migrate_all"], "migrate"),
        (["/app/manage.py", "migrate", "--database=audit"], "migrate"),
        (["manage.py", "runserver", "127.0.0.1:8000"], "web"),
        (["manage.py", "reseal_secrets"], "other"),
        (["/srv/venv/bin/pytest"], "other"),
        ([], "other"),
    ],
)
def test_the_role_of_a_process_comes_from_its_command_line(argv, role):
    assert process_role(argv) == role


def test_per_alias_sizes_are_checked():
    aliases = ["default", "execution"]
    assert parse_alias_sizes(" execution=6, default=1 ,", aliases, variable="X") == {
        "execution": 6,
        "default": 1,
    }
    assert parse_alias_sizes("", aliases, variable="X") == {}
    for bad in ("execution", "nosuch=2", "execution=-1", "execution=two"):
        with pytest.raises(ConfigurationError, match="X: expected alias=size"):
            parse_alias_sizes(bad, aliases, variable="X")


def settings_of(argv: list[str], **env: str) -> dict:
    """DATABASES and the pool settings of a process started as ``argv`` with ``env``."""
    code = (
        "import json, sys\n"
        f"sys.argv = {argv!r}\n"
        "import config.settings as s\n"
        "print(json.dumps({'role': s.PROCESS_ROLE, 'sizes': s.DATABASE_POOL_MAX_SIZES,"
        " 'databases': s.DATABASES}, default=str))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    clean = {k: v for k, v in clean.items() if not k.startswith("DATABASE_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


PG = "postgres://u@db.internal:5432/ops"


def test_every_role_has_a_budget_and_the_operator_can_set_it():
    web = settings_of(["/v/bin/gunicorn", "config.wsgi"], DATABASE_URL=PG)
    assert web["role"] == "web"
    assert web["sizes"] == dict.fromkeys(["default", "targets", "jobs", "execution",
                                          "scheduling", "audit"], 2)  # fmt: skip
    pool = web["databases"]["execution"]["OPTIONS"]["pool"]
    assert pool["max_size"] == 2 and pool["min_size"] == 0
    assert pool["max_idle"] == 10.0 and pool["timeout"] == 10.0
    assert web["databases"]["execution"]["CONN_MAX_AGE"] == 0  # Django's pool requires it
    assert web["databases"]["execution"]["CONN_HEALTH_CHECKS"] is True  # checked at checkout
    assert web["databases"]["audit"]["OPTIONS"]["application_name"] == "opsconductor-web:audit"

    worker = settings_of(["/v/bin/celery", "-A", "config", "worker"], DATABASE_URL=PG)
    assert sum(worker["sizes"].values()) == 14 and worker["sizes"]["execution"] == 4
    streams = settings_of(["/v/bin/uvicorn", "config.asgi:application"], DATABASE_URL=PG)
    assert sum(streams["sizes"].values()) == 7 and streams["sizes"]["execution"] == 2
    beat = settings_of(["/v/bin/celery", "-A", "config", "beat"], DATABASE_URL=PG)
    assert set(beat["sizes"].values()) == {1}

    # the operator's word: every alias, then single aliases on top
    mine = settings_of(["/v/bin/celery", "-A", "config", "worker"], DATABASE_URL=PG,
                       DATABASE_POOL_MAX_SIZE="3", DATABASE_POOL_MAX_SIZES="execution=7",
                       DATABASE_POOL_MAX_IDLE_SECONDS="30", DATABASE_POOL_TIMEOUT_SECONDS="4",
                       DATABASE_CONN_MAX_AGE="60")  # fmt: skip
    assert mine["sizes"] == {"default": 3, "targets": 3, "jobs": 3, "execution": 7,
                             "scheduling": 3, "audit": 3}  # fmt: skip
    pool = mine["databases"]["execution"]["OPTIONS"]["pool"]
    assert (pool["max_size"], pool["max_idle"], pool["timeout"]) == (7, 30.0, 4.0)
    assert mine["databases"]["execution"]["CONN_MAX_AGE"] == 0  # the pool keeps connections


def test_a_size_of_0_turns_pooling_off_and_sqlite_has_no_pool(tmp_path):
    off = settings_of(["/v/bin/gunicorn"], DATABASE_URL=PG, DATABASE_POOL_MAX_SIZE="0",
                      DATABASE_CONN_MAX_AGE="60")  # fmt: skip
    for db in off["databases"].values():
        assert "pool" not in db["OPTIONS"] and db["CONN_MAX_AGE"] == 60
    one = settings_of(["/v/bin/gunicorn"], DATABASE_URL=PG, DATABASE_POOL_MAX_SIZES="audit=0")
    assert "pool" not in one["databases"]["audit"]["OPTIONS"]
    assert one["databases"]["default"]["OPTIONS"]["pool"]["max_size"] == 2

    embedded = settings_of(["/v/bin/gunicorn"], OPSCONDUCTOR_VAR_DIR=str(tmp_path))
    for db in embedded["databases"].values():
        assert db["ENGINE"] == "django.db.backends.sqlite3"
        assert "pool" not in db["OPTIONS"] and "application_name" not in db["OPTIONS"]


def test_the_suite_runs_with_pools_like_production():
    for alias, db in settings.DATABASES.items():
        assert db["OPTIONS"]["pool"]["max_size"] >= 1, alias
        assert db["CONN_MAX_AGE"] == 0, alias
        assert connections[alias].pool is not None, alias


def _held(alias: str) -> bool:
    return connections[alias].connection is not None


@pytest.mark.django_db(transaction=True, databases=["default", "audit"])
def test_release_gives_connections_back_except_in_a_transaction():
    connections["audit"].ensure_connection()
    connections["default"].ensure_connection()
    reconnect.release_connections(["audit"])
    assert not _held("audit") and _held("default")
    with transaction.atomic(using="default"):
        connections["default"].ensure_connection()
        reconnect.release_connections()
        assert _held("default")  # its transaction goes on
    reconnect.release_connections()
    assert not _held("default")
    # the next query takes one again
    with connections["audit"].cursor() as cursor:
        cursor.execute("SELECT 1")
    assert _held("audit")
    reconnect.refresh_connections()  # a unit of work's end: given back
    assert not _held("audit")


class Exhausted:
    """Every connection of ``alias``'s pool held by threads of this test (the process's budget
    in use), and the pool's timeout short."""

    def __init__(self, alias: str, timeout: float = 0.5):
        self.alias, self.timeout = alias, timeout
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self):
        connections[self.alias].close()  # this thread's own (the test client keeps it)
        pool = connections[self.alias].pool
        self.saved = pool.timeout
        taken = threading.Barrier(pool.max_size + 1)

        def hold():
            try:
                with connections[self.alias].cursor() as cursor:
                    cursor.execute("SELECT 1")
                taken.wait(10)
                self.release.wait(30)
            finally:
                connections[self.alias].close()

        self.threads = [threading.Thread(target=hold) for _ in range(pool.max_size)]
        for thread in self.threads:
            thread.start()
        taken.wait(10)
        pool.timeout = self.timeout
        return self

    def __exit__(self, *exc):
        connections[self.alias].pool.timeout = self.saved
        self.release.set()
        for thread in self.threads:
            thread.join(10)


@pytest.mark.django_db(transaction=True, databases=["default", "audit"])
def test_no_connection_in_time_is_a_pool_timeout_that_a_task_retries():
    with Exhausted("audit"), pytest.raises(DatabaseError) as caught, connections["audit"].cursor():
        pass
    assert reconnect.is_pool_timeout(caught.value)
    assert reconnect.is_connection_error(caught.value)
    assert "couldn't get a connection" not in reconnect.describe(caught.value)

    # a unit of work run again gives its other connections back while it waits (another thread
    # may be waiting for them), and succeeds once a connection is free
    attempts = []

    def work():
        attempts.append(_held("default"))
        connections["default"].ensure_connection()
        with connections["audit"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return "done"

    exhausted = Exhausted("audit", timeout=0.3)
    with exhausted:
        threading.Timer(0.5, exhausted.release.set).start()
        assert reconnect.call_with_retry(work, seconds=10) == "done"
    assert len(attempts) >= 2
    assert attempts[1:] == [False] * (len(attempts) - 1)  # "default" was given back between


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_no_connection_in_time_is_a_503_in_the_shape_not_a_500(django_user_model):
    user = django_user_model.objects.create_user(username="pool-user", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/v1/audit/events/").status_code == 200
    with Exhausted("audit"):
        response = client.get("/api/v1/audit/events/")
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(settings.DATABASE_OUTAGE_RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "service_unavailable"
    assert client.get("/api/v1/audit/events/").status_code == 200  # and the next one is served


def test_the_pools_own_warnings_name_no_host_and_no_database(caplog):
    import logging

    import psycopg

    refused = psycopg.OperationalError(
        'connection failed: connection to server at "10.9.8.7", port 5432 failed: FATAL:  '
        'database "secret_db" is not currently accepting connections'
    )
    with caplog.at_level(logging.WARNING, logger="psycopg.pool"):
        logging.getLogger("psycopg.pool").warning("error connecting in %r: %s", "default", refused)
    assert "error connecting in 'default': OperationalError" in caplog.text
    assert "10.9.8.7" not in caplog.text and "secret_db" not in caplog.text


def test_beats_scheduler_logs_a_database_error_without_host_database_or_traceback(caplog):
    """django-celery-beat logs ``logger.exception('Database error while sync: %r', exc)``: the
    repr and the traceback's last line are the driver's message."""
    import logging

    import psycopg
    from django.db import OperationalError

    logger = logging.getLogger("django_celery_beat.schedulers")
    message = (
        'connection failed: connection to server at "10.9.8.7", port 5432 failed: FATAL:  '
        'database "secret_db" is not currently accepting connections'
    )
    with caplog.at_level(logging.ERROR, logger="django_celery_beat.schedulers"):
        try:
            try:
                raise psycopg.OperationalError(message)
            except psycopg.OperationalError as driver_error:
                raise OperationalError(message) from driver_error  # as Django wraps it
        except OperationalError as exc:
            logger.exception("Database error while sync: %r", exc)
    assert "Database error while sync: OperationalError" in caplog.text
    assert "10.9.8.7" not in caplog.text and "secret_db" not in caplog.text
    assert "Traceback" not in caplog.text
    # an error that is not the database's keeps its traceback
    with caplog.at_level(logging.ERROR, logger="django_celery_beat.schedulers"):
        try:
            raise ValueError("bad arguments")
        except ValueError:
            logger.exception("Removing schedule %s for argument deseralization error", "x")
    assert "Traceback" in caplog.text and "bad arguments" in caplog.text
