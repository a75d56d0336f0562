"""The SSH probe: TCP, handshake, host-key verdict, authentication, ``hostname``.

Works at paramiko's ``Transport`` level so the host key is judged (``host_key_verdict``) after
the key exchange and BEFORE any authentication request: a host whose key is unknown (strict) or
changed never sees the credential, or even the user name (RejectPolicy semantics, never
AutoAddPolicy). Every step shares one deadline, so a probe takes at most ``timeout`` seconds.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time

import paramiko

from apps.targets.connection import (
    ConnectionParams,
    HostKeyVerdict,
    describe_refusal,
    fingerprint_sha256,
    host_key_verdict,
)
from apps.targets.probes import ProbeResult, SeenHostKey

logger = logging.getLogger(__name__)

COMMAND = "hostname"
MAX_OUTPUT = 4096  # bytes of the command's output kept
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
# Host-key algorithms that negotiate a key stored under one name (an RSA key is "ssh-rsa" in
# known_hosts but is offered as rsa-sha2-*).
_ALGORITHMS_FOR_KEY = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


class ScanError(Exception):
    """A host key could not be fetched; the message says why (no secret is involved)."""


class _Deadline:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._end = time.monotonic() + timeout

    def remaining(self) -> float:
        return max(0.05, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


class _Unreachable(Exception):
    pass


class _ProtocolError(Exception):
    pass


def _resolve(host: str, port: int, deadline: _Deadline) -> list[tuple]:
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
        raise _Unreachable(f"cannot resolve {host} within {deadline.timeout:g}s")
    if "error" in outcome:
        exc = outcome["error"]
        raise _Unreachable(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    return outcome["addresses"]


def _connect(host: str, port: int, deadline: _Deadline) -> socket.socket:
    last: OSError | None = None
    for family, kind, proto, _, address in _resolve(host, port, deadline):
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
        raise _Unreachable(f"connection to {host}:{port} refused")
    if isinstance(last, TimeoutError) or deadline.expired:
        raise _Unreachable(f"no answer from {host}:{port} within {deadline.timeout:g}s (TCP)")
    reason = (last.strerror if last else None) or last or "no address"
    raise _Unreachable(f"cannot connect to {host}:{port}: {reason}")


def _handshake(
    sock: socket.socket,
    address: str,
    deadline: _Deadline,
    preferred_algorithms: tuple[str, ...] = (),
) -> paramiko.Transport:
    """A transport whose key exchange is done (the host key is known, nothing was sent yet)."""
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = deadline.remaining()
        transport.handshake_timeout = deadline.remaining()
        transport.auth_timeout = deadline.remaining()
        if preferred_algorithms:
            options = transport.get_security_options()
            supported = [a for a in preferred_algorithms if a in options.key_types]
            options.key_types = tuple(
                supported + [a for a in options.key_types if a not in supported]
            )
        try:
            transport.start_client(timeout=deadline.remaining())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if deadline.expired or "timed out" in str(exc).lower() or isinstance(exc, TimeoutError):
                raise _Unreachable(
                    f"{address} did not complete the SSH handshake within {deadline.timeout:g}s"
                ) from exc
            raise _ProtocolError(f"SSH handshake with {address} failed: {exc}") from exc
        if not transport.initial_kex_done:  # start_client returns quietly on its timeout
            raise _Unreachable(
                f"{address} did not complete the SSH handshake within {deadline.timeout:g}s"
            )
        return transport
    except BaseException:
        transport.close()
        raise


def _seen(key: paramiko.PKey) -> SeenHostKey:
    return SeenHostKey(
        algorithm=key.get_name(),
        public_key=key.get_base64(),
        fingerprint=fingerprint_sha256(key.asbytes()),
    )


def scan_host_key(host: str, port: int, *, timeout: float) -> SeenHostKey:
    """The host key ``host:port`` presents (handshake only: no user name, no credential).

    Raises ``ScanError`` with a message a user can act on.
    """
    deadline = _Deadline(timeout)
    try:
        sock = _connect(host, port, deadline)
        transport = _handshake(sock, f"{host}:{port}", deadline)
    except (_Unreachable, _ProtocolError) as exc:
        raise ScanError(str(exc)) from None
    except Exception as exc:
        raise ScanError(f"scanning {host}:{port} failed: {type(exc).__name__}") from None
    try:
        return _seen(transport.get_remote_server_key())
    finally:
        transport.close()


def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """The private key in ``text`` (OpenSSH or PEM; Ed25519, ECDSA or RSA); ValueError if not."""
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except (paramiko.SSHException, ValueError, TypeError, IndexError, AssertionError):
            continue
    raise ValueError("the credential's private key cannot be read (or its passphrase is wrong)")


def _scrub(message: str, params: ConnectionParams) -> str:
    """``message`` without any secret of ``params`` (defence in depth: none should be there)."""
    for secret in (params.password, params.passphrase, params.private_key):
        value = secret.reveal()
        if value:
            message = message.replace(value, "********")
    return message


def probe_ssh(params: ConnectionParams, *, timeout: float) -> ProbeResult:
    """Check an SSH target the way a job would reach it; never raises."""
    started = time.monotonic()
    state: dict = {}
    try:
        status, message, hostname = _probe(params, _Deadline(timeout), state)
    except Exception as exc:  # a bug or an unforeseen library error: report, never raise
        logger.warning(
            "ssh probe of %s failed unexpectedly: %s", params.address, type(exc).__name__
        )
        status, message, hostname = "error", f"unexpected {type(exc).__name__} in the probe", ""
    seen: SeenHostKey | None = state.get("host_key")
    verdict: HostKeyVerdict | None = state.get("verdict")
    return ProbeResult(
        status=status,
        message=_scrub(message, params),
        latency_ms=round((time.monotonic() - started) * 1000),
        host_key=seen,
        host_key_verdict=verdict.value if verdict else None,
        hostname=hostname,
    )


def _probe(params: ConnectionParams, deadline: _Deadline, state: dict) -> tuple[str, str, str]:
    address = params.address
    preferred: list[str] = []
    for known in params.known_host_keys:
        if known.trusted:
            for algorithm in _ALGORITHMS_FOR_KEY.get(known.algorithm, (known.algorithm,)):
                if algorithm not in preferred:
                    preferred.append(algorithm)
    try:
        sock = _connect(params.host, params.port, deadline)
        transport = _handshake(sock, address, deadline, tuple(preferred))
    except _Unreachable as exc:
        return "unreachable", str(exc), ""
    except _ProtocolError as exc:
        return "error", str(exc), ""
    try:
        seen = _seen(transport.get_remote_server_key())
        verdict = host_key_verdict(
            policy=params.host_key_policy,
            known=params.known_host_keys,
            algorithm=seen.algorithm,
            public_key=seen.public_key,
        )
        state["host_key"], state["verdict"] = seen, verdict
        if verdict in (HostKeyVerdict.CHANGED, HostKeyVerdict.REJECTED):
            return "host_key_mismatch", describe_refusal(params, verdict, seen.fingerprint), ""
        if verdict is HostKeyVerdict.UNKNOWN:
            return "host_key_unknown", describe_refusal(params, verdict, seen.fingerprint), ""
        failure = _authenticate(transport, params)
        if failure:
            return "auth_failed", failure, ""
        return _run_command(transport, address, deadline)
    finally:
        transport.close()


def _authenticate(transport: paramiko.Transport, params: ConnectionParams) -> str:
    """Log in with the credential; returns why it failed, or "" when it worked."""
    who = f"{params.username}@{params.address}"
    if not params.username:
        return f"no user name to log in to {params.address} (set one on the method or credential)"
    try:
        if params.credential_kind == "ssh_key":
            try:
                key = load_private_key(
                    params.private_key.reveal() or "", params.passphrase.reveal()
                )
            except ValueError as exc:
                return str(exc)
            remaining = transport.auth_publickey(params.username, key)
        elif params.credential_kind in ("password", "winrm"):
            remaining = transport.auth_password(params.username, params.password.reveal() or "")
        else:
            return f"the connection method to {params.address} has no credential"
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "none"
        return f"{who}: the server does not accept this kind of credential (it allows: {allowed})"
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            return f"{who}: authentication timed out"
        return f"{who}: authentication failed (the server did not accept the credential)"
    except (paramiko.SSHException, EOFError, OSError) as exc:
        return f"{who}: the connection broke during authentication ({type(exc).__name__})"
    if remaining:  # partial success: the server wants another factor
        return f"{who}: the server asks for more authentication ({', '.join(remaining)})"
    if not transport.is_authenticated():
        return f"{who}: authentication failed"
    return ""


def _run_command(
    transport: paramiko.Transport, address: str, deadline: _Deadline
) -> tuple[str, str, str]:
    try:
        channel = transport.open_session(timeout=deadline.remaining())
    except (paramiko.SSHException, EOFError, OSError) as exc:
        return "error", f"logged in to {address} but could not open a session: {exc}", ""
    try:
        channel.settimeout(deadline.remaining())
        channel.exec_command(COMMAND)
        stdout, stderr = bytearray(), bytearray()
        while chunk := channel.recv(MAX_OUTPUT):  # until EOF; a silent host times out
            if len(stdout) < MAX_OUTPUT:
                stdout.extend(chunk)
            channel.settimeout(deadline.remaining())
        while channel.recv_stderr_ready() and len(stderr) < MAX_OUTPUT:
            stderr.extend(channel.recv_stderr(MAX_OUTPUT))
        if not channel.status_event.wait(deadline.remaining()):
            return "error", f"`{COMMAND}` did not finish on {address} in time", ""
        code = channel.recv_exit_status()
    except TimeoutError:
        return "error", f"`{COMMAND}` did not finish on {address} in time", ""
    except (paramiko.SSHException, EOFError, OSError) as exc:
        return "error", f"`{COMMAND}` on {address} failed: {type(exc).__name__}", ""
    finally:
        channel.close()
    hostname = stdout.decode(errors="replace").strip()[:255]
    if code != 0:
        detail = stderr.decode(errors="replace").strip()[:200]
        return "error", f"`{COMMAND}` on {address} exited with {code}: {detail}".rstrip(": "), ""
    return "healthy", f"logged in to {address}; `{COMMAND}` answered {hostname!r}", hostname
