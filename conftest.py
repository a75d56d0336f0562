"""Suite-wide set-up. A missing service stops the run with what to start, not a stack trace."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.db import connections

START_HINTS = {
    "PostgreSQL": "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
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


def pytest_sessionstart(session):
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
    # alias's connection before dropping it, so close them all first.
    yield
    with django_db_blocker.unblock():
        connections.close_all()
