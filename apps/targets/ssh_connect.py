"""Reaching an SSH target safely, shared by the health probe and the execution transport.

TCP (with DNS bounded by the deadline), the key exchange, then authentication: the caller
judges the host key (``host_key_verdict``) between ``handshake`` and ``authenticate``, so a host
whose key is refused never sees the user name or the credential (never AutoAddPolicy).
Messages never contain a secret.
"""

from __future__ import annotations

import io
import socket
import threading
import time

import paramiko

from apps.targets.connection import (
    ConnectionParams,
    CredentialOutOfScope,
    CredentialScope,
    fingerprint_sha256,
)

_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
# Host-key algorithms that negotiate a key stored under one name (an RSA key is "ssh-rsa" in
# known_hosts but is offered as rsa-sha2-*).
_ALGORITHMS_FOR_KEY = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


class SshUnreachable(Exception):
    """DNS, TCP or the handshake failed or took too long."""


class SshProtocolError(Exception):
    """The peer answered but the SSH handshake failed (not SSH, no common algorithm...)."""


class SshAuthFailed(Exception):
    """The host refused the credential (or wants another factor)."""


class SshConnectionBroke(Exception):
    """The connection broke during authentication."""


class Deadline:
    """One time budget shared by every step of a connection."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._end = time.monotonic() + timeout

    def remaining(self) -> float:
        return max(0.05, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


def _resolve(host: str, port: int, deadline: Deadline) -> list[tuple]:
    """``getaddrinfo`` bounded by the deadline (a socket timeout does not cover DNS)."""
    outcome: dict = {}

    def lookup() -> None:
        try:
            outcome["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    resolver = threading.Thread(target=lookup, name=f"resolve-{host}", daemon=True)
    resolver.start()
    resolver.join(deadline.remaining())
    if resolver.is_alive():
        raise SshUnreachable(f"cannot resolve {host} within {deadline.timeout:g}s")
    if "error" in outcome:
        exc = outcome["error"]
        raise SshUnreachable(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    return outcome["addresses"]


def scoped_addresses(
    host: str, port: int, deadline: Deadline, scope: CredentialScope | None
) -> list[tuple]:
    """``host``'s addresses that the credential's ``scope`` allows (all of them without one).

    Raises ``CredentialOutOfScope`` when the configured host, or every address it resolves to,
    is outside the scope: before any packet is sent to the host. ``SshUnreachable`` when the
    name cannot be resolved.
    """
    if scope is not None:
        reason = scope.host_refusal(host)
        if reason:
            raise CredentialOutOfScope(
                credential_name=scope.credential_name, address=f"{host}:{port}", reason=reason
            )
    addresses = _resolve(host, port, deadline)
    if scope is None or not scope.networks:
        return addresses
    allowed = [entry for entry in addresses if not scope.dial_refusal(entry[4][0])]
    if not allowed:
        raise CredentialOutOfScope(
            credential_name=scope.credential_name,
            address=f"{host}:{port}",
            reason=scope.dial_refusal(addresses[0][4][0]) if addresses else "no address",
        )
    return allowed


def check_scope(params: ConnectionParams, timeout: float) -> None:
    """Raise ``CredentialOutOfScope`` if ``params``' credential may not be sent to its host
    (for clients that dial on their own, i.e. WinRM over ``requests``: call it right before
    the session is made). A name that cannot be resolved is left to the client to report."""
    if params.scope is None:
        return
    try:
        scoped_addresses(params.host, params.port, Deadline(timeout), params.scope)
    except SshUnreachable:
        if params.scope.networks:  # nothing resolvable is inside the networks
            raise CredentialOutOfScope(
                credential_name=params.scope.credential_name,
                address=params.address,
                reason=f"{params.host} cannot be resolved to an address to check",
            ) from None


def connect_tcp(
    host: str, port: int, deadline: Deadline, *, scope: CredentialScope | None
) -> socket.socket:
    """A TCP connection to ``host:port``. Every SSH dial goes through here (health probe,
    host-key scan, execution): with a credential ``scope``, only addresses inside it are
    dialled (``scoped_addresses``; ``CredentialOutOfScope`` otherwise). ``scope`` is required
    so that no caller forgets it: pass ``params.scope`` (None for no credential)."""
    last: OSError | None = None
    for family, kind, proto, _, address in scoped_addresses(host, port, deadline, scope):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
            # Small request/response packets: without this, Nagle plus delayed ACKs add ~40 ms
            # to each round trip of the handshake and authentication.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
            if deadline.expired:
                break
    if isinstance(last, ConnectionRefusedError):
        raise SshUnreachable(f"connection to {host}:{port} refused")
    if isinstance(last, TimeoutError) or deadline.expired:
        raise SshUnreachable(f"no answer from {host}:{port} within {deadline.timeout:g}s (TCP)")
    reason = (last.strerror if last else None) or last or "no address"
    raise SshUnreachable(f"cannot connect to {host}:{port}: {reason}")


def preferred_algorithms(params: ConnectionParams) -> tuple[str, ...]:
    """Host-key algorithms of the trusted keys first, so a host with several key types is not
    mistaken for a changed one."""
    preferred: list[str] = []
    for known in params.known_host_keys:
        if known.trusted:
            for algorithm in _ALGORITHMS_FOR_KEY.get(known.algorithm, (known.algorithm,)):
                if algorithm not in preferred:
                    preferred.append(algorithm)
    return tuple(preferred)


def handshake(
    sock: socket.socket, address: str, deadline: Deadline, preferred: tuple[str, ...] = ()
) -> paramiko.Transport:
    """A transport whose key exchange is done (the host key is known, nothing was sent yet)."""
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = deadline.remaining()
        transport.handshake_timeout = deadline.remaining()
        transport.auth_timeout = deadline.remaining()
        if preferred:
            options = transport.get_security_options()
            supported = [a for a in preferred if a in options.key_types]
            options.key_types = tuple(
                supported + [a for a in options.key_types if a not in supported]
            )
        too_slow = f"{address} did not complete the SSH handshake within {deadline.timeout:g}s"
        try:
            transport.start_client(timeout=deadline.remaining())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if deadline.expired or "timed out" in str(exc).lower() or isinstance(exc, TimeoutError):
                raise SshUnreachable(too_slow) from None
            raise SshProtocolError(f"SSH handshake with {address} failed: {exc}") from None
        if not transport.initial_kex_done:  # start_client returns quietly on its timeout
            raise SshUnreachable(too_slow)
        return transport
    except BaseException:
        transport.close()
        raise


def server_key(transport: paramiko.Transport) -> tuple[str, str, str]:
    """(algorithm, base64 key, ``SHA256:`` fingerprint) of the key the host presented."""
    key = transport.get_remote_server_key()
    return key.get_name(), key.get_base64(), fingerprint_sha256(key.asbytes())


def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """The private key in ``text`` (OpenSSH or PEM; Ed25519, ECDSA or RSA); ValueError if not."""
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except (paramiko.SSHException, ValueError, TypeError, IndexError, AssertionError):
            continue
    raise ValueError("the credential's private key cannot be read (or its passphrase is wrong)")


def authenticate(transport: paramiko.Transport, params: ConnectionParams) -> None:
    """Log in with the credential. Raises ``SshAuthFailed`` or ``SshConnectionBroke``."""
    who = f"{params.username}@{params.address}"
    if not params.username:
        raise SshAuthFailed(
            f"no user name to log in to {params.address} (set one on the method or credential)"
        )
    try:
        if params.credential_kind == "ssh_key":
            try:
                key = load_private_key(
                    params.private_key.reveal() or "", params.passphrase.reveal()
                )
            except ValueError as exc:
                raise SshAuthFailed(str(exc)) from None
            remaining = transport.auth_publickey(params.username, key)
        elif params.credential_kind in ("password", "winrm"):
            remaining = transport.auth_password(params.username, params.password.reveal() or "")
        else:
            raise SshAuthFailed(f"the connection method to {params.address} has no credential")
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "none"
        raise SshAuthFailed(
            f"{who}: the server does not accept this kind of credential (it allows: {allowed})"
        ) from None
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            raise SshAuthFailed(
                f"{who}: authentication timed out after {transport.auth_timeout:g}s"
            ) from None
        raise SshAuthFailed(
            f"{who}: authentication failed (the server did not accept the credential)"
        ) from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise SshConnectionBroke(
            f"{who}: the connection broke during authentication ({type(exc).__name__})"
        ) from None
    if remaining:  # partial success: the server wants another factor
        raise SshAuthFailed(
            f"{who}: the server asks for more authentication ({', '.join(remaining)})"
        )
    if not transport.is_authenticated():
        raise SshAuthFailed(f"{who}: authentication failed")


def scrub(message: str, params: ConnectionParams) -> str:
    """``message`` without any secret of ``params`` (defence in depth: none should be there)."""
    for secret in (params.password, params.passphrase, params.private_key):
        value = secret.reveal()
        if value:
            message = message.replace(value, "********")
    return message
