"""What every transport shares: the failures it raises, a command's result, stream names.

``ssh.py`` and ``winrm.py`` raise these (``ssh.py`` re-exports them, so older imports from it
keep working). Messages are for users: they name the host, never a secret.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

STDOUT = "stdout"
STDERR = "stderr"
OutputCallback = Callable[[str, bytes], None]  # on_output(stream, chunk)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a plain environment variable name (letters,
    digits, ``_``; not starting with a digit): it is put into a command line."""
    if not _ENV_NAME.match(name):
        raise ValueError(f"invalid environment variable name: {name!r}")


class TransportError(Exception):
    """Base of every failure raised by a transport; ``str()`` is a message a user can act on."""


class Unreachable(TransportError):
    """The host could not be reached or did not complete the connection set-up in time (DNS,
    TCP, the SSH handshake, TLS, or WinRM's HTTP service)."""


class AuthFailed(TransportError):
    """The host did not accept the credential (or there is no usable credential)."""


class ScopeRefused(TransportError):
    """The target's credential may not be used at the address the connection would reach
    (its scope, docs/targets.md): refused before anything (not even the user name) was sent.
    ``refusal`` is the targets app's ``CredentialOutOfScope``."""

    def __init__(self, refusal):
        super().__init__(str(refusal))
        self.refusal = refusal


class ConnectionLost(TransportError):
    """An established session broke (host gone, service killed, network cut)."""


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None when timed out, canceled or killed by a signal
    timed_out: bool
    canceled: bool
    duration_ms: int


class Session:
    """What every transport's session has: the target it reaches, when it was opened and
    last used (the pool's idle accounting), whether it is closed; a context manager."""

    def __init__(self, params) -> None:
        self._params = params
        self.target_id = params.target_id
        self.address = params.address
        self.opened_at = time.monotonic()
        self.last_used = self.opened_at
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
