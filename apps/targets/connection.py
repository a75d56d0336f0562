"""What a worker needs to open a session on a target, and the host-key trust rule.

``ConnectionParams`` carries the unsealed secret in a ``Secret`` wrapper whose ``repr``/``str``
never show the value, so a params object can be logged or put in an exception safely. These
objects exist only in the worker that uses them; they are never stored or sent to a broker.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret(None)"

    __str__ = __repr__

    def __reduce__(self):  # never pickled (e.g. into a Celery message) by accident
        raise TypeError("Secret values cannot be pickled")


def fingerprint_sha256(key_blob: bytes) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key blob."""
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class KnownHostKey:
    algorithm: str
    public_key: str  # base64 blob, as in known_hosts
    fingerprint: str
    trusted: bool  # False: seen (pending or rejected), not to be trusted
    rejected: bool = False  # an admin said no: never trusted, not even on first use


@dataclass(frozen=True)
class ConnectionParams:
    target_id: uuid.UUID
    target_name: str
    method_id: uuid.UUID
    protocol: str  # "ssh" | "winrm"
    host: str
    port: int
    username: str
    credential_kind: str | None  # "password" | "ssh_key" | "winrm" | None
    password: Secret = field(default_factory=lambda: Secret(None))
    private_key: Secret = field(default_factory=lambda: Secret(None))
    passphrase: Secret = field(default_factory=lambda: Secret(None))
    host_key_policy: str = "strict"  # "strict" | "accept-new"
    known_host_keys: tuple[KnownHostKey, ...] = ()
    winrm_scheme: str = "http"
    winrm_transport: str = "ntlm"
    winrm_validate_cert: bool = True

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class HostKeyVerdict(StrEnum):
    TRUSTED = "trusted"  # go on
    TRUST_ON_FIRST_USE = "trust_on_first_use"  # accept-new and no key known yet: record it, go on
    UNKNOWN = "unknown"  # strict and not approved: refuse
    CHANGED = "changed"  # a different key is trusted for this address: refuse
    REJECTED = "rejected"  # an admin rejected this very key: refuse


def host_key_verdict(
    *, policy: str, known: tuple[KnownHostKey, ...], algorithm: str, public_key: str
) -> HostKeyVerdict:
    """Whether to proceed with a host presenting ``algorithm``/``public_key``.

    Never proceed on UNKNOWN or CHANGED: the credential must not be sent to that host.
    """

    def presented(key: KnownHostKey) -> bool:
        return key.algorithm == algorithm and key.public_key == public_key

    trusted = [k for k in known if k.trusted]
    if any(presented(k) for k in trusted):
        return HostKeyVerdict.TRUSTED
    if trusted:
        return HostKeyVerdict.CHANGED
    if any(presented(k) for k in known if k.rejected):
        return HostKeyVerdict.REJECTED
    # First use means no key was ever decided for this address: once an admin has rejected a
    # key, a new one waits for approval even under accept-new.
    if policy == "accept-new" and not any(k.rejected for k in known):
        return HostKeyVerdict.TRUST_ON_FIRST_USE
    return HostKeyVerdict.UNKNOWN


def describe_refusal(params: ConnectionParams, verdict: HostKeyVerdict, presented_fp: str) -> str:
    """The message a user sees when a host key is refused."""
    if verdict is HostKeyVerdict.REJECTED:
        return (
            f"host key for {params.target_name} ({params.address}) was rejected by an admin: "
            f"{presented_fp}. Nothing was sent to the host."
        )
    if verdict is HostKeyVerdict.CHANGED:
        expected = ", ".join(k.fingerprint for k in params.known_host_keys if k.trusted)
        return (
            f"host key for {params.target_name} ({params.address}) changed: expected {expected}, "
            f"got {presented_fp}. If the host was reinstalled, an admin can approve the new key."
        )
    return (
        f"host key for {params.target_name} ({params.address}) is not trusted yet: "
        f"{presented_fp}. Scan and approve it, or set the target's host-key policy to accept-new."
    )
