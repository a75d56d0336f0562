"""Suite-wide set-up. A missing service stops the run with what to start, not a stack trace."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings

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
