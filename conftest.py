"""Suite-wide set-up. A missing service stops the run with what to start, not a stack trace."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connections

pytest_plugins = [
    "tests.fixtures",
    "tests.winrm_fixtures",
    "tests.rogue_sshd",
    "tests.alias_guard",
]


def pytest_sessionstart(session):
    from tests.fixtures import START_HINTS, service_reachable

    for alias, db in settings.DATABASES.items():
        if db["ENGINE"].endswith("postgresql"):
            host, port = db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)
            if not service_reachable(host, port):
                pytest.exit(
                    f"PostgreSQL (database alias '{alias}') is not reachable at {host}:{port}; "
                    f"{START_HINTS['PostgreSQL']}",
                    returncode=1,
                )


@pytest.fixture(scope="session", autouse=True)
def _close_connections_before_test_databases_are_dropped(django_db_setup, django_db_blocker):
    # Several aliases share one test database in single mode; Django closes only the first
    # alias's connection (and pool) before dropping it, so close them all first: this thread's
    # connections, then every alias's pool (a pool keeps the connections given back to it open).
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()
