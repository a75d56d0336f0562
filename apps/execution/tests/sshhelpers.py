"""Building ``ConnectionParams`` for the real sshd fixtures (no database involved)."""

from __future__ import annotations

import base64
import subprocess
import uuid

from apps.targets.interface import ConnectionParams, KnownHostKey, Secret, fingerprint_sha256
from tests.sshd import SshServer, free_port


def known_key(server: SshServer, *, trusted: bool = True) -> KnownHostKey:
    return KnownHostKey(
        algorithm=server.host_key_algorithm,
        public_key=server.host_key_base64,
        fingerprint=fingerprint_sha256(base64.b64decode(server.host_key_base64)),
        trusted=trusted,
    )


def params_for(
    server: SshServer | None = None,
    *,
    port: int | None = None,
    username: str | None = None,
    private_key: str | None = None,
    password: str | None = None,
    passphrase: str | None = None,
    policy: str = "strict",
    known: tuple[KnownHostKey, ...] | None = None,
    target_id: uuid.UUID | None = None,
    method_id: uuid.UUID | None = None,
) -> ConnectionParams:
    if password is not None:
        kind = "password"
    else:
        kind = "ssh_key"
        if private_key is None and server is not None:
            private_key = server.client_key_text
    if known is None:
        known = (known_key(server),) if server is not None else ()
    return ConnectionParams(
        target_id=target_id or uuid.uuid4(),
        target_name="web-1",
        method_id=method_id or uuid.uuid4(),
        protocol="ssh",
        host="127.0.0.1",
        port=port or (server.port if server else free_port()),
        username=username or (server.username if server else "root"),
        credential_kind=kind,
        password=Secret(password),
        private_key=Secret(private_key),
        passphrase=Secret(passphrase),
        host_key_policy=policy,
        known_host_keys=known,
    )


def remote_running(pattern: str) -> bool:
    """Whether a process whose command line matches ``pattern`` runs on this machine (the
    sshd targets are local)."""
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
