"""A database outage on the test's own databases, as a PostgreSQL restart looks to clients.

``database_outage(names)``: new connections to those databases are refused
(``ALLOW_CONNECTIONS false``) and every backend connected to them is terminated from the server
side (``pg_terminate_backend``: what a restart does to every client); on leaving the block they
are allowed again. ``database_cut(alias)`` is the same for one alias's database, closing this
thread's dead connections afterwards; ``DatabaseCut`` starts and ends it by hand. Run through a connection of its own to the ``postgres`` database; the server
itself and every other database are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql


def _admin() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def test_database_names() -> list[str]:
    """Every physical database the suite's aliases use (one, or six in split mode)."""
    return sorted({db["NAME"] for db in settings.DATABASES.values()})


test_database_names.__test__ = False  # a helper, not a test


def terminate_backends(admin: psycopg.Connection, names: Iterable[str]) -> int:
    killed = 0
    for name in names:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
        killed += len(rows)
    return killed


def _allow(admin: psycopg.Connection, names: Iterable[str], allowed: bool) -> None:
    for name in names:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )


@contextlib.contextmanager
def database_outage(names: str | Iterable[str] | None = None) -> Iterator[int]:
    """Refuse connections to ``names`` (default: every test database) and kill every backend
    connected to them; allowed again on leaving. Yields how many backends were terminated."""
    names = [names] if isinstance(names, str) else list(names or test_database_names())
    with _admin() as admin:
        _allow(admin, names, False)
        try:
            yield terminate_backends(admin, names)
        finally:
            _allow(admin, names, True)


class DatabaseCut:
    """``database_outage`` of one alias's database, started (``cut``) and ended (``restore``)
    by hand, for a test that cuts in the middle of something."""

    def __init__(self, alias: str = "execution"):
        self.names = [settings.DATABASES[alias]["NAME"]]

    def cut(self) -> None:
        with _admin() as admin:
            _allow(admin, self.names, False)
            terminate_backends(admin, self.names)

    def restore(self) -> None:
        with _admin() as admin:
            _allow(admin, self.names, True)
        connections.close_all()  # this thread's connections died with the cut


@contextlib.contextmanager
def database_cut(alias: str = "execution") -> Iterator[DatabaseCut]:
    cut = DatabaseCut(alias)
    cut.cut()
    try:
        yield cut
    finally:
        cut.restore()
