"""A database outage for one test's own database, without touching the PostgreSQL server.

``cut()`` refuses new connections to the database an alias uses (``ALTER DATABASE … ALLOW_CONNECTIONS
false``) and ends its open ones (``pg_terminate_backend``), from a connection to the ``postgres``
database; ``restore()`` lets connections in again. Other databases on the server (other tests',
other engineers') are not affected.
"""

from __future__ import annotations

import contextlib

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql


class DatabaseCut:
    def __init__(self, alias: str = "execution"):
        db = settings.DATABASES[alias]
        self.name = db["NAME"]
        self._params = {
            "host": db.get("HOST") or "127.0.0.1",
            "port": db.get("PORT") or 5432,
            "user": db.get("USER") or "postgres",
            "dbname": "postgres",
            "autocommit": True,
        }
        if db.get("PASSWORD"):
            self._params["password"] = db["PASSWORD"]

    def _allow(self, admin, allowed: bool) -> None:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(self.name), sql.SQL("true" if allowed else "false")
            )
        )

    def cut(self) -> None:
        with psycopg.connect(**self._params) as admin:
            self._allow(admin, False)
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.name],
            )

    def restore(self) -> None:
        with psycopg.connect(**self._params) as admin:
            self._allow(admin, True)
        connections.close_all()  # this thread's connections died with the cut


@contextlib.contextmanager
def database_cut(alias: str = "execution"):
    cut = DatabaseCut(alias)
    cut.cut()
    try:
        yield cut
    finally:
        cut.restore()
