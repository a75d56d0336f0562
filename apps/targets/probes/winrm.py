"""WinRM health probe: TCP reach, then a WS-Management shell that runs ``hostname``.

The probe does what a job would do on a Windows target, and no more: open a Windows Remote Shell
with the method's transport and credential, run ``hostname`` (cmd.exe, so no PowerShell start-up
cost), read its output, then signal the command and delete the shell so nothing is left behind
on the host (Windows limits shells per user).

WinRM has no SSH host keys: the trust anchor is TLS (``https`` scheme with certificate
validation on). ``host_key``/``host_key_verdict`` of the result therefore stay ``None``. A
certificate that does not validate is reported before any credential is sent: the TLS handshake
fails first. Private CAs are taken from ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when set, else
the CA bundle ``requests`` ships.

The password is passed to pywinrm and nowhere else; every message is also scrubbed of it, in
case a library ever echoes it back.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import time

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from apps.targets.connection import ConnectionParams, CredentialOutOfScope
from apps.targets.probes import ProbeResult
from apps.targets.ssh_connect import check_scope

log = logging.getLogger(__name__)

TRANSPORTS = ("basic", "ntlm", "kerberos", "credssp")
SCHEMES = ("http", "https")
HEALTH_COMMAND = "hostname"
CLEANUP_GRACE = 1.0  # seconds allowed past the deadline to delete a shell we opened
MESSAGE_LIMIT = 500
MASK = "********"


class _DeadlineExceeded(Exception):
    pass


class _Deadline:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.started = time.monotonic()
        self.ends = self.started + timeout

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def budget(self) -> float:
        """Seconds the next network step may take; raises once the deadline has passed."""
        left = self.remaining()
        if left <= 0:
            raise _DeadlineExceeded()
        return left


def endpoint_for(params: ConnectionParams) -> str:
    host = f"[{params.host}]" if ":" in params.host else params.host
    return f"{params.winrm_scheme}://{host}:{params.port}/wsman"


def probe_winrm(params: ConnectionParams, *, timeout: float) -> ProbeResult:
    """Check a WinRM connection method. Never raises; never reveals the password."""
    deadline = _Deadline(timeout)
    password = params.password.reveal()
    try:
        result = _probe(params, deadline, password)
    except UnicodeError:
        # e.g. a password with characters Basic authentication cannot carry (Latin-1 only);
        # the exception text would quote part of the secret, so it is not shown.
        result = ProbeResult(
            status="error",
            message=f"the WinRM credential for {params.address} cannot be encoded for the "
            f"{params.winrm_transport} transport (characters it cannot carry)",
            latency_ms=deadline.elapsed_ms(),
        )
    except Exception as exc:  # a probe reports, it does not raise
        result = ProbeResult(
            status="error",
            message=f"unexpected error during the WinRM check of {params.address}: "
            f"{type(exc).__name__}: {exc}",
            latency_ms=deadline.elapsed_ms(),
        )
    result = _scrubbed(result, password)
    log.info(
        "winrm probe of %s (%s): %s in %s ms: %s",
        params.target_name,
        params.address,
        result.status,
        result.latency_ms,
        result.message,
    )
    return result


def _probe(params: ConnectionParams, deadline: _Deadline, password: str | None) -> ProbeResult:
    def result(status: str, message: str, hostname: str = "") -> ProbeResult:
        return ProbeResult(
            status=status, message=message, latency_ms=deadline.elapsed_ms(), hostname=hostname
        )

    if params.winrm_scheme not in SCHEMES:
        return result("error", f"unsupported WinRM scheme {params.winrm_scheme!r} (http, https)")
    if params.winrm_transport not in TRANSPORTS:
        return result(
            "error",
            f"unsupported WinRM transport {params.winrm_transport!r} ({', '.join(TRANSPORTS)})",
        )

    # 0. The credential's scope: refused before anything is sent to the host.
    try:
        check_scope(params, deadline.budget())
    except CredentialOutOfScope as exc:
        return ProbeResult(
            status="scope_refused",
            message=str(exc),
            latency_ms=deadline.elapsed_ms(),
            scope_refused=(exc.address, exc.reason),
        )

    # 1. TCP reach: a closed port or a silent host is "unreachable", whatever the credential.
    try:
        with socket.create_connection((params.host, params.port), timeout=deadline.budget()):
            pass
    except (TimeoutError, _DeadlineExceeded):
        return result(
            "unreachable", f"no answer from {params.address} within {deadline.timeout:g}s"
        )
    except socket.gaierror as exc:
        return result("unreachable", f"cannot resolve {params.host!r}: {exc.strerror or exc}")
    except OSError as exc:
        return result("unreachable", f"cannot connect to {params.address}: {exc.strerror or exc}")

    if not params.username or not password:
        return result(
            "auth_failed",
            f"no username/password is set for the WinRM method of {params.target_name}: "
            "attach a WinRM credential",
        )

    # 2. WS-Management: shell, harmless command, output.
    endpoint = endpoint_for(params)
    # pywinrm wants whole seconds, read > operation >= 1; the real per-request limit is set
    # below from what is left of the deadline.
    read_timeout = max(2, math.ceil(deadline.timeout))
    try:
        protocol = _protocol(params, endpoint, password, read_timeout)
    except (WinRMError, ValueError) as exc:
        return result("error", f"WinRM client set-up failed: {exc}")

    transport = protocol.transport
    stage = "connect"
    shell_id = command_id = None
    try:
        transport.read_timeout_sec = deadline.budget()
        shell_id = protocol.open_shell()
        stage = "command"
        transport.read_timeout_sec = deadline.budget()
        command_id = protocol.run_command(shell_id, HEALTH_COMMAND)
        stdout, stderr, exit_code, done = [], [], -1, False
        while not done:
            transport.read_timeout_sec = deadline.budget()
            try:
                out, err, exit_code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue  # no output yet: Receive again while the deadline allows
            stdout.append(out)
            stderr.append(err)
        latency_ms = deadline.elapsed_ms()
    except InvalidCredentialsError:
        return result(
            "auth_failed",
            f"WinRM at {endpoint} rejected the credentials of {params.username!r} "
            f"(transport {params.winrm_transport}); check the username and password, and that "
            f"the {params.winrm_transport} transport is enabled on the host",
        )
    except (_DeadlineExceeded, requests.exceptions.Timeout):
        if stage == "connect":
            return result(
                "unreachable",
                f"WinRM at {endpoint} did not answer within {deadline.timeout:g}s",
            )
        return result(
            "error",
            f"connected and authenticated to {endpoint}, but {HEALTH_COMMAND!r} did not finish "
            f"within {deadline.timeout:g}s",
        )
    except requests.exceptions.SSLError as exc:
        reason = _ssl_reason(exc)
        if "certificate verify failed" in reason:
            hint = (
                "install the host's CA (REQUESTS_CA_BUNDLE) or turn certificate validation off "
                "for this method"
            )
        elif "wrong version number" in reason:
            hint = "the port seems to speak plain HTTP: should the scheme be http?"
        else:
            hint = "check the listener's TLS configuration"
        return result(
            "error", f"TLS with {endpoint} failed: {reason}; no credential was sent. {hint}"
        )
    except requests.exceptions.ConnectionError as exc:
        reason = _connection_reason(exc)
        if params.winrm_scheme == "http" and "RemoteDisconnected" in reason:
            reason += " (if the listener is HTTPS, set the scheme to https)"
        return result("unreachable", f"connection to {endpoint} failed: {reason}")
    except WSManFaultError as exc:
        code = f" (WSManFault {exc.wsman_fault_code})" if exc.wsman_fault_code else ""
        return result("error", f"WinRM at {endpoint} answered a fault{code}: {exc.reason}")
    except WinRMTransportError as exc:
        hint = " — is this a WinRM endpoint?" if exc.code in (404, 405) else ""
        return result("error", f"WinRM at {endpoint} answered HTTP {exc.code}{hint}")
    except WinRMError as exc:
        if "is not installed" in str(exc):  # kerberos / credssp without their libraries
            return result(
                "error",
                f"the {params.winrm_transport} transport cannot be used by this worker: {exc} "
                f"(install pywinrm[{params.winrm_transport}] and its system libraries)",
            )
        return result("error", f"WinRM error with {endpoint}: {exc}")
    finally:
        _cleanup(protocol, shell_id, command_id, deadline)

    output = b"".join(stdout).decode("utf-8", errors="replace").strip()
    if exit_code != 0:
        detail = b"".join(stderr).decode("utf-8", errors="replace").strip().splitlines()
        why = f": {detail[0]}" if detail else ""
        return ProbeResult(
            status="error",
            message=f"connected to {endpoint}, but {HEALTH_COMMAND!r} exited with {exit_code}{why}",
            latency_ms=latency_ms,
        )
    return ProbeResult(
        status="healthy",
        message=f"WinRM {params.winrm_transport} over {params.winrm_scheme}: "
        f"authenticated as {params.username!r}, host name {output or '(empty)'}",
        latency_ms=latency_ms,
        hostname=output,
    )


def _protocol(
    params: ConnectionParams, endpoint: str, password: str, read_timeout: int
) -> Protocol:
    # Every WinRM session (probe and execution) is made here: the credential's scope is
    # checked against the resolved address first (CredentialOutOfScope; nothing is sent).
    check_scope(params, float(read_timeout))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return Protocol(
        endpoint=endpoint,
        transport=params.winrm_transport,  # type: ignore[arg-type]
        username=params.username,
        password=password,
        server_cert_validation="validate" if params.winrm_validate_cert else "ignore",
        ca_trust_path=ca_bundle or None,  # None: requests' own CA bundle, and no warning
        read_timeout_sec=read_timeout,
        operation_timeout_sec=read_timeout - 1,
        proxy=None,  # health checks go straight to the target, never through an env proxy
    )


def _cleanup(
    protocol: Protocol, shell_id: str | None, command_id: str | None, deadline: _Deadline
) -> None:
    """Signal the command and delete the shell (best effort, briefly), then drop the session."""
    try:
        if shell_id is not None:
            grace_ends = max(deadline.ends, time.monotonic()) + CLEANUP_GRACE
            steps = []
            if command_id is not None:
                steps.append(lambda: protocol.cleanup_command(shell_id, command_id))
            steps.append(lambda: protocol.close_shell(shell_id, close_session=False))
            for step in steps:
                left = grace_ends - time.monotonic()
                if left <= 0:
                    break
                protocol.transport.read_timeout_sec = left
                try:
                    step()
                except Exception as exc:  # the verdict is already made; note and go on
                    log.debug("winrm probe cleanup step failed: %s", type(exc).__name__)
    finally:
        protocol.transport.close_session()


def _scrubbed(result: ProbeResult, password: str | None) -> ProbeResult:
    message = result.message
    if password:
        message = message.replace(password, MASK)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    hostname = result.hostname.replace(password, MASK) if password else result.hostname
    if message == result.message and hostname == result.hostname:
        return result
    return ProbeResult(
        status=result.status,
        message=message,
        latency_ms=result.latency_ms,
        host_key=result.host_key,
        host_key_verdict=result.host_key_verdict,
        hostname=hostname,
        scope_refused=result.scope_refused,
    )


def _ssl_reason(exc: Exception) -> str:
    match = re.search(r"\[SSL: [A-Z_]+\] ([^(')]+)", str(exc))
    return match.group(1).strip() if match else "TLS handshake failed"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for pattern in (r"Caused by \w+\('?(.*?)'?\)\)?$", r"\((.*)\)$"):
        match = re.search(pattern, text)
        if match:
            return match.group(1)[:200]
    return text[:200] or type(exc).__name__
