"""Probes: connect to a target the way a job would and say how it went.

A probe never raises for a target-side problem; it returns a ``ProbeResult`` whose ``status`` is
one of ``Target.Health`` (``healthy``, ``unreachable``, ``auth_failed``, ``host_key_unknown``,
``host_key_mismatch``, ``scope_refused``, ``error``) with a message a user can act on. Secrets
never appear in a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.targets.connection import ConnectionParams


@dataclass(frozen=True)
class SeenHostKey:
    algorithm: str
    public_key: str  # base64 blob
    fingerprint: str  # SHA256:...


@dataclass(frozen=True)
class ProbeResult:
    status: str
    message: str
    latency_ms: int | None = None  # time to a working session (or to the failure)
    host_key: SeenHostKey | None = None  # the key the host presented (SSH)
    host_key_verdict: str | None = None  # connection.HostKeyVerdict value
    hostname: str = ""  # what the harmless command printed
    # (address, reason) when the credential's scope refused the connection (nothing was sent)
    scope_refused: tuple[str, str] | None = None


def probe(params: ConnectionParams, *, timeout: float) -> ProbeResult:
    """Check reachability, handshake, host key, authentication and a harmless command."""
    if params.protocol == "ssh":
        from apps.targets.probes.ssh import probe_ssh

        return probe_ssh(params, timeout=timeout)
    if params.protocol == "winrm":
        from apps.targets.probes.winrm import probe_winrm

        return probe_winrm(params, timeout=timeout)
    return ProbeResult(status="error", message=f"unsupported protocol {params.protocol!r}")
