"""The SSH probe: TCP, handshake, host-key verdict, authentication, ``hostname``.

Works at paramiko's ``Transport`` level so the host key is judged (``host_key_verdict``) after
the key exchange and BEFORE any authentication request: a host whose key is unknown (strict) or
changed never sees the credential, or even the user name (RejectPolicy semantics, never
AutoAddPolicy). Every step shares one deadline, so a probe takes at most ``timeout`` seconds.
"""

from __future__ import annotations

import logging
import time

import paramiko

from apps.targets.connection import (
    ConnectionParams,
    CredentialOutOfScope,
    CredentialScope,
    HostKeyVerdict,
    describe_refusal,
    fingerprint_sha256,
    host_key_verdict,
)
from apps.targets.probes import ProbeResult, SeenHostKey
from apps.targets.ssh_connect import (
    Deadline,
    SshAuthFailed,
    SshConnectionBroke,
    SshProtocolError,
    SshUnreachable,
    authenticate,
    connect_tcp,
    handshake,
    preferred_algorithms,
    scrub,
)

logger = logging.getLogger(__name__)

COMMAND = "hostname"
MAX_OUTPUT = 4096  # bytes of the command's output kept


class ScanError(Exception):
    """A host key could not be fetched; the message says why (no secret is involved)."""


def _seen(key: paramiko.PKey) -> SeenHostKey:
    return SeenHostKey(
        algorithm=key.get_name(),
        public_key=key.get_base64(),
        fingerprint=fingerprint_sha256(key.asbytes()),
    )


def scan_host_key(
    host: str, port: int, *, timeout: float, scope: CredentialScope | None = None
) -> SeenHostKey:
    """The host key ``host:port`` presents (handshake only: no user name, no credential).

    Raises ``ScanError`` with a message a user can act on, ``CredentialOutOfScope`` when the
    method's credential may not be used there (``scope``; a scan stays within it too).
    """
    deadline = Deadline(timeout)
    try:
        sock = connect_tcp(host, port, deadline, scope=scope)
        transport = handshake(sock, f"{host}:{port}", deadline)
    except CredentialOutOfScope:
        raise
    except (SshUnreachable, SshProtocolError) as exc:
        raise ScanError(str(exc)) from None
    except Exception as exc:
        raise ScanError(f"scanning {host}:{port} failed: {type(exc).__name__}") from None
    try:
        return _seen(transport.get_remote_server_key())
    finally:
        transport.close()


def probe_ssh(params: ConnectionParams, *, timeout: float) -> ProbeResult:
    """Check an SSH target the way a job would reach it; never raises."""
    started = time.monotonic()
    state: dict = {}
    try:
        status, message, hostname = _probe(params, Deadline(timeout), state)
    except Exception as exc:  # a bug or an unforeseen library error: report, never raise
        logger.warning(
            "ssh probe of %s failed unexpectedly: %s", params.address, type(exc).__name__
        )
        status, message, hostname = "error", f"unexpected {type(exc).__name__} in the probe", ""
    seen: SeenHostKey | None = state.get("host_key")
    verdict: HostKeyVerdict | None = state.get("verdict")
    refused: CredentialOutOfScope | None = state.get("scope_refused")
    return ProbeResult(
        status=status,
        message=scrub(message, params),
        latency_ms=round((time.monotonic() - started) * 1000),
        host_key=seen,
        host_key_verdict=verdict.value if verdict else None,
        hostname=hostname,
        scope_refused=(refused.address, refused.reason) if refused else None,
    )


def _probe(params: ConnectionParams, deadline: Deadline, state: dict) -> tuple[str, str, str]:
    address = params.address
    try:
        sock = connect_tcp(params.host, params.port, deadline, scope=params.scope)
        transport = handshake(sock, address, deadline, preferred_algorithms(params))
    except CredentialOutOfScope as exc:
        state["scope_refused"] = exc
        return "scope_refused", str(exc), ""
    except SshUnreachable as exc:
        return "unreachable", str(exc), ""
    except SshProtocolError as exc:
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
        try:
            authenticate(transport, params)
        except (SshAuthFailed, SshConnectionBroke) as exc:
            return "auth_failed", str(exc), ""
        return _run_command(transport, address, deadline)
    finally:
        transport.close()


def _run_command(
    transport: paramiko.Transport, address: str, deadline: Deadline
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
