"""Fixtures for a WS-Management test server that pywinrm can talk to (WinRM targets).

``winrm_server``: one fresh server per test (HTTP, Basic authentication), so its request log,
delay and command handler belong to that test alone. ``winrm_server_factory``: start more, or
differently configured ones (``tls=True``, ``auth=("ntlm",)``, ``delay=...``); all are stopped
when the test ends. See ``tests/winrm_server.py`` and ``docs/winrm-testing.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from apps.targets.interface import ConnectionParams, Secret
from tests.winrm_server import CommandResult, LoggedRequest, WinRMTestServer

__all__ = ["CommandResult", "LoggedRequest", "WinRMTestServer", "winrm_params"]


def winrm_params(
    server=None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    transport: str = "basic",
    scheme: str | None = None,
    validate_cert: bool = True,
) -> ConnectionParams:
    """Connection parameters for ``server`` (a ``WinRMTestServer``), as a worker gets them."""
    return ConnectionParams(
        target_id=uuid.uuid4(),
        target_name="win-app-01",
        method_id=uuid.uuid4(),
        protocol="winrm",
        host=server.host if server else host,
        port=port if port is not None else server.port,
        username=username if username is not None else server.username,
        credential_kind="winrm",
        password=Secret(password if password is not None else server.password),
        winrm_scheme=scheme or (server.scheme if server else "http"),
        winrm_transport=transport,
        winrm_validate_cert=validate_cert,
    )


@pytest.fixture
def winrm_server_factory() -> Iterator[Callable[..., WinRMTestServer]]:
    started: list[WinRMTestServer] = []

    def start(**options) -> WinRMTestServer:
        server = WinRMTestServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def winrm_server(winrm_server_factory) -> WinRMTestServer:
    """A WinRM (WS-Management) service on 127.0.0.1 accepting Basic auth over HTTP.

    ``host``, ``port``, ``endpoint``, ``username``, ``password``, ``computer_name``, and the
    request log (``requests``, ``actions()``, ``commands_run()``, ``credentials_sent()``).
    """
    return winrm_server_factory()
