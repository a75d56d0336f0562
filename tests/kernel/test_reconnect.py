"""The kernel's database-restart mechanism (opsconductor.db.reconnect), on real connections
killed and refused by the server (tests.db_outage); the processes using it:
tests/reliability/test_database_restart.py."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from opsconductor.db import reconnect
from tests.db_outage import _admin, database_outage, terminate_backends

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reused():
    """Persistent connections on ``default``, as without a pool (``DATABASE_POOL_MAX_SIZE=0``,
    ``DATABASE_CONN_MAX_AGE``): a thread keeps its connection between units of work."""
    saved = dict(connection.settings_dict)
    connection.close()
    options = {k: v for k, v in connection.settings_dict["OPTIONS"].items() if k != "pool"}
    connection.settings_dict.update(OPTIONS=options, CONN_MAX_AGE=600)
    assert connection.pool is None
    yield connection
    connection.close()
    connection.settings_dict.update(OPTIONS=saved["OPTIONS"], CONN_MAX_AGE=saved["CONN_MAX_AGE"])


@pytest.fixture
def pooled():
    """``default`` with its pool, as production runs it."""
    assert connection.pool is not None and connection.settings_dict["CONN_MAX_AGE"] == 0
    connection.close()
    yield connection
    connection.close()


def kill_my_backends() -> None:
    with _admin() as admin:
        terminate_backends(admin, [connection.settings_dict["NAME"]])


def select_one() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


def error_of(work) -> BaseException:
    try:
        work()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def test_a_killed_or_refused_connection_is_a_connection_error_and_a_bad_query_is_not(reused):
    select_one()
    kill_my_backends()
    killed = error_of(select_one)
    assert reconnect.is_connection_error(killed)  # 57P01, terminating connection
    closed = error_of(select_one)
    assert reconnect.is_connection_error(closed)  # "the connection is closed"
    connection.close()
    with database_outage(connection.settings_dict["NAME"]):
        refused = error_of(select_one)
    assert reconnect.is_connection_error(refused)  # "not currently accepting connections"
    connection.close()

    def bad_query():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    assert not reconnect.is_connection_error(error_of(bad_query))

    def timeout():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")

    assert not reconnect.is_connection_error(error_of(timeout))  # 57014: a query, not a session
    # never the host or the database (with a pool: no connection could be had from it)
    assert reconnect.describe(refused) in {"OperationalError", "PoolTimeout"}


def test_without_a_check_a_reused_connection_stays_dead_and_refresh_replaces_it(reused):
    select_one()
    kill_my_backends()
    assert isinstance(error_of(select_one), DatabaseError)
    assert isinstance(error_of(select_one), DatabaseError)  # and again: nothing recovers it
    reconnect.refresh_connections()
    assert select_one() == 1

    kill_my_backends()  # no error seen yet: the health check armed by refresh catches it
    reconnect.refresh_connections()
    assert select_one() == 1


def test_a_unit_of_work_is_retried_through_an_outage(reused):
    select_one()
    calls = []

    def work():
        calls.append(time.monotonic())
        return select_one()

    with database_outage(connection.settings_dict["NAME"]):
        started = time.monotonic()
        result = {}
        thread = threading.Thread(target=lambda: result.update(value=reconnect.call_with_retry(
            work, seconds=10)))  # fmt: skip
        thread.start()
        time.sleep(1.5)  # allowed again 1.5 s into the retries
    thread.join(15)
    assert result == {"value": 1}
    assert len(calls) >= 3 and time.monotonic() - started < 10
    assert reconnect.seconds_since_connection_loss() < 10


def test_it_gives_up_after_its_budget_and_never_retries_inside_a_transaction(reused):
    select_one()
    with database_outage(connection.settings_dict["NAME"]):
        started = time.monotonic()
        with pytest.raises(DatabaseError):
            reconnect.call_with_retry(select_one, seconds=1)
        assert 0.9 < time.monotonic() - started < 4
    connection.close()
    calls = []

    def in_transaction():
        calls.append(1)
        return select_one()

    def in_atomic():
        with transaction.atomic():
            select_one()
            kill_my_backends()
            reconnect.call_with_retry(in_transaction, seconds=5)

    with pytest.raises(DatabaseError):
        in_atomic()
    assert calls == [1]  # the transaction's work is lost with the connection: not redone
    connections.close_all()


def test_a_task_retries_no_longer_than_its_message_lives():
    from opsconductor.events.tasks import sweep_outbox as task

    assert isinstance(task, reconnect.ReconnectingTask)  # the app's task class
    task.push_request(expires=(datetime.now(UTC) + timedelta(seconds=3)).isoformat())
    try:
        assert 2 < task._retry_budget() <= 3
    finally:
        task.pop_request()
    task.push_request()
    try:
        assert task._retry_budget() == reconnect.retry_seconds()
    finally:
        task.pop_request()


def test_a_task_sees_its_own_request_and_is_retried_through_an_outage(reused):
    """The retrying task class keeps what the worker pushed (id, retries: deliver_event counts
    its attempts with them) and runs the body again on a lost connection."""
    from celery import current_app

    calls = []

    @current_app.task(bind=True, name="tests.kernel.test_reconnect.probe")
    def probe(self):
        calls.append(1)
        select_one()
        return {"id": self.request.id, "retries": self.request.retries}

    assert isinstance(probe, reconnect.ReconnectingTask)
    select_one()
    kill_my_backends()  # the task's first query fails: it runs again on a new connection
    result = probe.apply(task_id="probe-1", retries=2).get()
    assert result == {"id": "probe-1", "retries": 2}
    assert len(calls) == 2
    assert probe.run.__name__ == "probe"


# -- with the pool (production's default, ADR 0018) -----------------------------------------------


def test_with_a_pool_a_unit_of_work_after_a_restart_gets_a_live_connection(pooled):
    select_one()
    reconnect.refresh_connections()  # the unit's end: back to the pool
    assert connection.connection is None
    kill_my_backends()  # the pool's idle connections die with the restart
    assert select_one() == 1  # checked when taken from the pool: a dead one is replaced
    kill_my_backends()  # and one that dies in a unit's hands is closed after the error
    assert reconnect.is_connection_error(error_of(select_one))
    reconnect.refresh_connections()
    assert select_one() == 1


def test_with_a_pool_an_outage_fails_checkouts_fast_and_a_retried_unit_goes_through(pooled):
    select_one()
    reconnect.refresh_connections()
    calls = []

    def work():
        calls.append(time.monotonic())
        return select_one()

    with database_outage(connection.settings_dict["NAME"]):
        # the pool finds the database refusing: the waiting thread is told at once, the next
        # ones wait 1.5 s at most, not the pool's timeout (10 s)
        started = time.monotonic()
        assert reconnect.is_connection_error(error_of(select_one))
        assert time.monotonic() - started < 3
        started = time.monotonic()
        assert reconnect.is_pool_timeout(error_of(select_one))
        assert time.monotonic() - started < 2
        started = time.monotonic()
        result = {}
        thread = threading.Thread(target=lambda: result.update(value=reconnect.call_with_retry(
            work, seconds=10)))  # fmt: skip
        thread.start()
        time.sleep(1.5)  # allowed again 1.5 s into the retries
    thread.join(15)
    assert result == {"value": 1}
    # tried during the outage (a checkout fails within 1.5 s), then through once it is back
    assert len(calls) >= 2 and time.monotonic() - started < 10
    assert connection.pool.timeout == settings.DATABASE_POOL_TIMEOUT_SECONDS  # waits as usual
