"""What a worker needs to open a session on a target, and the host-key trust rule.

``ConnectionParams`` carries the unsealed secret in a ``Secret`` wrapper whose ``repr``/``str``
never show the value, so a params object can be logged or put in an exception safely. These
objects exist only in the worker that uses them; they are never stored or sent to a broker.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
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
class CredentialScope:
    """Where the credential of a connection may be sent (docs/targets.md, "Credential scope").

    Data only, built by ``selectors.connection_params`` from the credential and the current
    target. ``names`` are exact host names and ``*.suffix`` wildcards, ``networks`` CIDR
    networks (a single address is a /32 or /128). ``refusal`` is set when the target was found
    outside the scope when the parameters were built (e.g. it no longer matches the
    credential's ``allowed_targets`` selector): then nothing may be dialled at all.
    """

    credential_name: str
    names: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    refusal: str = ""

    def host_refusal(self, host: str) -> str:
        """Why the configured ``host`` is outside the scope ("" when it is not). An address
        must be in one of ``networks``; a name must match one of ``names`` (when the scope
        lists names; with networks only, its resolved addresses are checked when dialling)."""
        if self.refusal:
            return self.refusal
        if not self.names and not self.networks:
            return ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            if not self.in_networks(address):
                return f"{host} is not in the credential's allowed_hosts"
            return ""
        if self.names and not any(name_matches(host, entry) for entry in self.names):
            return f"{host} is not in the credential's allowed_hosts"
        return ""

    def in_networks(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in ipaddress.ip_network(net) for net in self.networks)

    def dial_refusal(self, address: str) -> str:
        """Why a resolved address may not be dialled ("" when it may): when the scope lists
        networks, every address dialled must be in one of them; with names only (or no
        restriction), the resolver is trusted."""
        if not self.networks:
            return ""
        if self.in_networks(ipaddress.ip_address(address.split("%", 1)[0])):
            return ""
        return f"it resolves to {address}, which is not in the credential's allowed_hosts"


def name_matches(host: str, entry: str) -> bool:
    """``host`` equals the name ``entry``, or ends with ``.suffix`` for ``*.suffix``."""
    host = host.lower().rstrip(".")
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and len(host) > len(entry) - 1
    return host == entry


class CredentialOutOfScope(Exception):
    """The connection would send a credential outside its scope; nothing was sent.

    The message names the credential, the address and why; never a secret."""

    def __init__(self, *, credential_name: str, address: str, reason: str):
        self.credential_name = credential_name
        self.address = address
        self.reason = reason
        super().__init__(
            f"credential {credential_name} may not be used with {address}: outside its scope "
            f"({reason}); nothing was sent"
        )

    def __reduce__(self):
        return (_out_of_scope, (self.credential_name, self.address, self.reason))


def _out_of_scope(credential_name: str, address: str, reason: str) -> CredentialOutOfScope:
    return CredentialOutOfScope(credential_name=credential_name, address=address, reason=reason)


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
    # None: no credential, or one without any restriction.
    scope: CredentialScope | None = None
    credential_name: str = ""

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
