"""Surviving a database restart: one mechanism for every process (docs/operations.md,
"Database restarts and outages").

A PostgreSQL restart (or a failover, or an administrator terminating backends) kills every
connection a process holds, and for a few seconds refuses new ones. Django notices a dead
connection only where it checks: at the start and end of a web request (``close_old_connections``,
with ``CONN_HEALTH_CHECKS`` a ``SELECT 1`` before the first query of a reused connection).
Celery's Django fix-up closes a worker's connections only every ``2 * CELERY_DB_REUSE_MAX``
tasks, and a thread of our own (the execution writer, the worker's housekeeping) is no request
at all: there a dead connection stays dead, and every later query fails on it.

With connection pools (the default on PostgreSQL: config/settings.py, ADR 0018) a thread's
connection is taken from its alias's pool at the first query of a unit of work and given back
when Django "closes" it (``CONN_MAX_AGE`` is 0 with a pool), so every boundary below returns the
thread's connections to the pools; the pool checks a connection when it hands it out (a dead one
is replaced), and a thread waits for one at most ``DATABASE_POOL_TIMEOUT_SECONDS``.

This module is what those places use:

- ``is_connection_error(exc)``: the connection died or could not be opened (as opposed to a
  bad query): an ``InterfaceError``, or an ``OperationalError`` from the driver with no SQLSTATE
  (a connection that failed, closed, or could not be made; the pool's ``PoolTimeout``, no
  connection within its timeout, is one of them: during an outage that is how a checkout
  fails), a connection-exception class (``08*``) or an operator intervention that ends the
  session (``57P01``-``57P03``).
- ``is_pool_timeout(exc)``: of those, the pool's timeout (the process's budget was in use, or
  the database was unreachable for that long).
- ``refresh_connections()``: at a unit-of-work boundary (a task, a loop's tick), do what Django
  does at a request boundary: close the connections of this thread that had an error and fail a
  ``SELECT 1``, or outlived ``CONN_MAX_AGE`` (with a pool: every one, i.e. give it back), and
  arm the ``CONN_HEALTH_CHECKS`` check for the next use of the others.
- ``release_connections()``: give this thread's pooled connections back now, outside a
  transaction (a unit of work about to wait for something else than the database: a slice
  waiting for its targets, a streamed response); without a pool, nothing (reconnecting costs).
- ``close_broken_connections()``: after an error, close this thread's connections that had an
  error and are unusable (the next query opens a new one).
- ``retry_on_disconnect``: run a unit of database work; on a connection error close the broken
  connections (and give the pooled ones back: a thread waiting for a connection of one alias
  while holding another's could be what another thread waits for) and run it again, with
  backoff, for ``DATABASE_RETRY_SECONDS`` at most. Never
  inside a transaction (the work done so far is lost with the connection: only the caller can
  start over), so a unit must be safe to run again (every task is: ADR 0008, docs/execution.md).
- ``db_unit()``: a context manager for a long-lived loop's tick that needs no retry (it runs
  again at the next tick): refreshes the connections before, closes the broken ones after a
  connection error (and lets the error through).
- ``seconds_since_connection_loss()``: how long ago this process last found the database
  unreachable (the execution reaper does not judge heartbeats missed during an outage).
- ``ReconnectingTask``: the Celery app's task class: every task runs under ``retry_on_disconnect``;
  ``install_celery_hooks`` refreshes the connections of the task's thread before and after
  every task (``task_prerun`` / ``task_postrun``), whatever ``CELERY_DB_REUSE_MAX`` says.

Connections are per thread in Django: each function acts on the calling thread's connections.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from celery import Task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATEs that end a session without anything being wrong with the statement: connection
# exceptions (class 08), admin/crash shutdown and "cannot connect now" (a server starting up).
_SESSION_ENDED = ("57P01", "57P02", "57P03")
_FIRST_DELAY = 0.2
_MAX_DELAY = 5.0
_NO_SQLSTATE = object()


def is_connection_error(exc: BaseException) -> bool:
    """``exc`` (or what it wraps) says the database connection is gone or cannot be made."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InterfaceError) or type(current).__name__ == "InterfaceError":
            return True
        sqlstate = getattr(current, "sqlstate", _NO_SQLSTATE)
        if sqlstate is not _NO_SQLSTATE and type(current).__module__.startswith("psycopg"):
            if sqlstate is None:
                # psycopg raises connection failures ("connection failed: ...", "the
                # connection is closed", "server closed the connection unexpectedly") with
                # no SQLSTATE; a statement the server refused always has one
                return isinstance(current, _driver_operational_errors())
            return isinstance(sqlstate, str) and (
                sqlstate.startswith("08") or sqlstate in _SESSION_ENDED
            )
        current = current.__cause__ or current.__context__
    return False


def is_pool_timeout(exc: BaseException) -> bool:
    """``exc`` (or what it wraps) is a connection pool's ``PoolTimeout`` (or ``TooManyRequests``):
    no connection could be had from the pool in time."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__ == "psycopg_pool" and type(current).__name__ in {
            "PoolTimeout", "TooManyRequests"
        }:  # fmt: skip
            return True
        current = current.__cause__ or current.__context__
    return False


@functools.cache
def _driver_operational_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    with contextlib.suppress(ImportError):
        import psycopg

        errors += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(errors)


_last_loss: float | None = None  # time.monotonic() when this process last lost the database


def note_connection_loss() -> None:
    """This process found the database unreachable (a lost or a refused connection)."""
    global _last_loss
    _last_loss = time.monotonic()


def seconds_since_connection_loss() -> float:
    """How long ago this process last found the database unreachable (``inf``: never).
    The execution reaper waits a heartbeat window after one: heartbeats the workers could not
    write meanwhile say nothing about whether they are alive (docs/execution.md)."""
    return float("inf") if _last_loss is None else time.monotonic() - _last_loss


def _initialized():
    return connections.all(initialized_only=True)


def refresh_connections() -> None:
    """A unit-of-work boundary: what Django does between two requests, for this thread."""
    for connection in _initialized():
        if connection.in_atomic_block:
            continue
        try:
            connection.close_if_unusable_or_obsolete()
        except DatabaseError:
            _close_quietly(connection)


def _pooled(connection) -> bool:
    return getattr(connection, "pool", None) is not None


def release_connections(aliases: Iterable[str] | None = None) -> None:
    """Give this thread's pooled connections (of ``aliases``, default: all) back to their pools,
    except one in a transaction (it is taken again at the next query). Connections without a
    pool are kept."""
    only = None if aliases is None else set(aliases)
    for connection in _initialized():
        if connection.connection is None or connection.in_atomic_block:
            continue
        if only is not None and connection.alias not in only:
            continue
        if _pooled(connection):
            try:
                connection.close()
            except DatabaseError:
                _close_quietly(connection)


def close_broken_connections() -> None:
    """Close this thread's connections that had an error and no longer answer."""
    for connection in _initialized():
        if connection.connection is None or connection.in_atomic_block:
            continue
        if not connection.errors_occurred:
            continue
        try:
            usable = connection.is_usable()
        except Exception:
            usable = False
        if usable:
            connection.errors_occurred = False
        else:
            note_connection_loss()
            _close_quietly(connection)


def _close_quietly(connection) -> None:
    with contextlib.suppress(Exception):
        connection.close()
    # a connection whose close failed is dropped all the same: the next use opens a new one
    connection.connection = None


def _in_transaction() -> bool:
    return any(connection.in_atomic_block for connection in _initialized())


def retry_seconds() -> float:
    return float(getattr(settings, "DATABASE_RETRY_SECONDS", 15.0))


def call_with_retry(
    work: Callable[..., T], *args: Any, seconds: float | None = None, what: str = "", **kwargs: Any
) -> T:
    """``work(*args, **kwargs)``, run again while it fails for want of a database connection,
    with backoff (0.2 s doubling to 5 s), for ``seconds`` (``DATABASE_RETRY_SECONDS``) at most;
    then the last error is raised."""
    budget = retry_seconds() if seconds is None else seconds
    deadline = time.monotonic() + budget
    delay = _FIRST_DELAY
    attempt = 0
    while True:
        try:
            return work(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if not is_connection_error(exc):
                raise
            note_connection_loss()
            if _in_transaction():
                raise
            close_broken_connections()
            # hold no connection while waiting to try again: one this thread holds may be what
            # another thread waits for (and a pool's timeout may have been that wait)
            release_connections()
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                logger.error(
                    "%s: the database is still unreachable after %d attempts (%.0f s): %s",
                    what or getattr(work, "__qualname__", "database work"), attempt, budget,
                    type(exc).__name__,
                )  # fmt: skip
                raise
            logger.warning(
                "%s: lost the database connection (%s); retrying in %.1f s",
                what or getattr(work, "__qualname__", "database work"), describe(exc),
                min(delay, left),
            )  # fmt: skip
            time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_DELAY)


def retry_on_disconnect(
    work: Callable[..., T] | None = None, *, seconds: float | None = None
) -> Any:
    """Decorator form of ``call_with_retry`` (``@retry_on_disconnect`` or
    ``@retry_on_disconnect(seconds=5)``)."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return call_with_retry(function, *args, seconds=seconds, **kwargs)

        return wrapper

    return decorate(work) if work is not None else decorate


@contextlib.contextmanager
def db_unit() -> Iterator[None]:
    """One tick of a long-lived loop, like a web request: connections checked before and after
    it (``refresh_connections``), broken ones closed after a connection error (which is raised
    on: the loop logs it and tries again at its next tick)."""
    refresh_connections()
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        if is_connection_error(exc):
            note_connection_loss()
            close_broken_connections()
        raise
    finally:
        refresh_connections()


def describe(exc: BaseException) -> str:
    """The error's class, and for a session the server ended its SQLSTATE: never the driver's
    message (a failed connect names the host and the database)."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    return f"{type(cause).__name__}{f' {sqlstate}' if sqlstate else ''}"


# -- Celery ----------------------------------------------------------------------------------


class ReconnectingTask(Task):
    """Every task is a unit of database work: run again (``call_with_retry``) when it fails for
    want of a connection, instead of failing on the first query after a database restart."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Celery's __call__ runs the body under a request made from the one the worker pushed
        # (id, retries, hostname: tests/kernel/test_reconnect.py holds it)
        return call_with_retry(
            super().__call__, *args, seconds=self._retry_budget(), what=f"task {self.name}",
            **kwargs,
        )  # fmt: skip

    def _retry_budget(self) -> float:
        """``DATABASE_RETRY_SECONDS``, but never past the message's expiry: a periodic task
        that expires (the scheduler's tick, every second) is not worth more than that, and
        must not hold worker threads while its successors arrive."""
        budget = retry_seconds()
        expires = getattr(self.request, "expires", None)
        if expires:
            with contextlib.suppress(TypeError, ValueError):
                when = expires if isinstance(expires, datetime) else datetime.fromisoformat(expires)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                budget = max(0.0, min(budget, (when - datetime.now(UTC)).total_seconds()))
        return budget


def _refresh_for_task(sender=None, **_kwargs) -> None:
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return  # run inline by the caller (e.g. inside a web request): its connections
    refresh_connections()


def install_celery_hooks() -> None:
    """Refresh the connections of a task's thread before and after every task."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_refresh_for_task, weak=False, dispatch_uid="opsconductor-db-prerun")
    task_postrun.connect(_refresh_for_task, weak=False, dispatch_uid="opsconductor-db-postrun")


__all__ = [
    "ReconnectingTask",
    "call_with_retry",
    "close_broken_connections",
    "db_unit",
    "describe",
    "install_celery_hooks",
    "is_connection_error",
    "is_pool_timeout",
    "note_connection_loss",
    "refresh_connections",
    "release_connections",
    "retry_on_disconnect",
    "seconds_since_connection_loss",
]
