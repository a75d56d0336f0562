"""A rogue SSH server on loopback that records everything a client offers it.

What an attacker would run to collect credentials: a paramiko ``ServerInterface`` in a thread
that completes the key exchange (with its own host key) and then records every user name,
password and public key a client offers, refusing them all. Tests point a target at it and
assert that nothing reached it (``offered`` stays empty; ``connections`` counts even bare TCP
connections, so "nothing was dialled" can be asserted too).

Listens on ``127.0.0.2`` by default (an address of the loopback network other than the one the
sshd fixtures use, so a credential scoped to ``127.0.0.1/32`` is out of scope there).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko
import pytest


@dataclass
class RogueSshServer:
    host: str
    port: int
    connections: int = 0
    offered: list[tuple[str, str, str]] = field(default_factory=list)  # (method, user, secret)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def usernames(self) -> list[str]:
        return [user for _, user, _ in self.offered]

    def received_nothing(self) -> bool:
        return not self.offered


class _Recorder(paramiko.ServerInterface):
    def __init__(self, server: RogueSshServer):
        self.server = server

    def _record(self, method: str, username: str, secret: str) -> None:
        with self.server._lock:
            self.server.offered.append((method, username, secret))

    def get_allowed_auths(self, username):
        self._record("query", username, "")
        return "password,publickey,keyboard-interactive"

    def check_auth_none(self, username):
        self._record("none", username, "")
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        self._record("password", username, password)
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        self._record("publickey", username, f"{key.get_name()} {key.get_base64()}")
        return paramiko.AUTH_FAILED

    def check_auth_interactive(self, username, submethods):
        self._record("keyboard-interactive", username, "")
        return paramiko.AUTH_FAILED


def start_rogue_sshd(host: str = "127.0.0.2") -> tuple[RogueSshServer, Callable[[], None]]:
    """Start the server; returns it and a function that stops it."""
    key = paramiko.RSAKey.generate(2048)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    server = RogueSshServer(host=host, port=listener.getsockname()[1])
    stopping = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve_one(conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transports.append(transport)
        transport.add_server_key(key)
        try:
            transport.start_server(server=_Recorder(server))
            transport.accept(timeout=10)
        except Exception:  # a client leaving, a scan: nothing to record
            pass
        finally:
            transport.close()

    def loop() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with server._lock:
                server.connections += 1
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, name="rogue-sshd", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(5)
        listener.close()
        for transport in transports:
            transport.close()

    return server, stop


@pytest.fixture
def rogue_sshd():
    """A rogue SSH server on 127.0.0.2 recording every user name, password and key offered."""
    server, stop = start_rogue_sshd()
    yield server
    stop()
