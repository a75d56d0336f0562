"""The only module of the targets app other apps may import.

The targets context owns targets, groups and tags, connection methods, sealed credentials,
host keys and health. Functions here take and return ids and frozen dataclasses, never model
instances (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.targets.connection import (
    ConnectionParams,
    HostKeyVerdict,
    KnownHostKey,
    Secret,
    describe_refusal,
    fingerprint_sha256,
    host_key_verdict,
)
from apps.targets.selection import SelectorError
from apps.targets.ssh_connect import (
    Deadline,
    SshAuthFailed,
    SshConnectionBroke,
    SshProtocolError,
    SshUnreachable,
    authenticate,
    connect_tcp,
    handshake,
    load_private_key,
    preferred_algorithms,
    scrub,
    server_key,
)

if TYPE_CHECKING:
    from winrm.protocol import Protocol

__all__ = [
    "ConnectionParams",
    "Deadline",
    "HostKeyVerdict",
    "KnownHostKey",
    "Secret",
    "SelectorError",
    "SshAuthFailed",
    "SshConnectionBroke",
    "SshProtocolError",
    "SshUnreachable",
    "TargetSummary",
    "authenticate",
    "connect_tcp",
    "connection_for_target",
    "describe_refusal",
    "fingerprint_sha256",
    "handshake",
    "host_key_verdict",
    "load_private_key",
    "preferred_algorithms",
    "record_host_key_seen",
    "report_connection_outcome",
    "resolve_selector",
    "scrub",
    "server_key",
    "target_summaries",
    "tls_failure_reason",
    "validate_selector",
    "winrm_endpoint",
    "winrm_protocol",
]


@dataclass(frozen=True)
class TargetSummary:
    """A target as other apps see it: enough to show and to plan a run."""

    id: uuid.UUID
    name: str
    os_family: str
    environment: str
    status: str
    health_status: str


def validate_selector(text: str) -> None:
    """Raise ``SelectorError`` (with ``message`` and ``position``) if ``text`` is not a selector."""
    from apps.targets.selection import validate

    validate(text)


def resolve_selector(text: str, *, active_only: bool = True) -> list[uuid.UUID]:
    """Ids of the targets ``text`` selects, ordered by name; only ``active`` ones by default
    (targets in ``inactive`` or ``maintenance`` status are never run on). Raises
    ``SelectorError``."""
    from apps.targets.models import Target
    from apps.targets.selection import select

    queryset = select(text)
    if active_only:
        queryset = queryset.filter(status=Target.Status.ACTIVE)
    return list(queryset.order_by("name", "id").values_list("id", flat=True))


def target_summaries(target_ids: list[uuid.UUID]) -> dict[uuid.UUID, TargetSummary]:
    """The targets among ``target_ids`` that exist, keyed by id, in one query."""
    from apps.targets.models import Target

    return {
        t.id: TargetSummary(
            id=t.id,
            name=t.name,
            os_family=t.os_family,
            environment=t.environment,
            status=t.status,
            health_status=t.health_status,
        )
        for t in Target.objects.filter(id__in=target_ids)
    }


def connection_for_target(target_id: uuid.UUID) -> ConnectionParams | None:
    """How to reach a target through its primary connection method, with the credential
    unsealed into ``Secret`` wrappers (they never print their value).

    Call it only in the worker that opens the session, and never store or send the result:
    it holds the secret in memory. None when the target or its connection method is gone.
    """
    from apps.targets import selectors

    method = selectors.primary_methods([target_id]).get(target_id)
    return (
        selectors.connection_params(method=method, host_keys=list(method.host_keys.all()))
        if method
        else None
    )


def connections_for_targets(
    target_ids: list[uuid.UUID],
) -> tuple[dict[uuid.UUID, ConnectionParams], set[uuid.UUID]]:
    """``connection_for_target`` for many targets in a few queries (a worker starting a slice
    of a run). Returns the parameters by target id, and the ids of targets whose credential
    cannot be unsealed with the configured keys; a target or method that is gone is in
    neither. The same rules apply: keep the result in the worker's memory only."""
    from apps.targets import selectors
    from opsconductor.sealing import SealError

    found: dict[uuid.UUID, ConnectionParams] = {}
    unsealable: set[uuid.UUID] = set()
    for target_id, method in selectors.primary_methods(list(target_ids)).items():
        try:
            found[target_id] = selectors.connection_params(
                method=method, host_keys=list(method.host_keys.all())
            )
        except SealError:
            unsealable.add(target_id)
    return found, unsealable


def tls_failure_reason(exc: Exception) -> str:
    """Why a TLS handshake failed, read from a requests/urllib3 exception (WinRM over https)."""
    from apps.targets.probes.winrm import _ssl_reason

    return _ssl_reason(exc)


def record_host_key_seen(
    *, method_id: uuid.UUID, algorithm: str, public_key: str, fingerprint: str, trusted: bool
) -> None:
    """Record the host key a host presented: ``trusted=True`` on first use under
    ``accept-new``; otherwise it is kept as pending for an admin to approve or reject."""
    from apps.targets.models import ConnectionMethod, HostKey
    from apps.targets.probes import SeenHostKey
    from apps.targets.services import hostkeys

    method = ConnectionMethod.objects.filter(pk=method_id).first()
    if method is None:
        return
    hostkeys.host_key_record_seen(
        method=method,
        key=SeenHostKey(algorithm=algorithm, public_key=public_key, fingerprint=fingerprint),
        source=HostKey.Source.FIRST_USE if trusted else HostKey.Source.CONNECTION,
        state=HostKey.State.TRUSTED if trusted else HostKey.State.PENDING,
    )


def report_connection_outcome(*, target_id: uuid.UUID, status: str, message: str = "") -> None:
    """Tell targets how a real connection (a run, not a health check) went, so the target's
    health reflects it. ``status`` is one of the health values (``healthy``, ``unreachable``,
    ``auth_failed``, ``host_key_unknown``, ``host_key_mismatch``, ``error``)."""
    from apps.targets.services import health

    health.target_record_outcome(target_id=target_id, status=status, message=message)


def report_connection_outcomes(outcomes: list[tuple[uuid.UUID, str, str]]) -> None:
    """``report_connection_outcome`` for many targets at once: ``(target_id, status,
    message)`` each, in one transaction (the last one per target counts)."""
    from apps.targets.services import health

    health.targets_record_outcomes(outcomes)


def winrm_endpoint(params: ConnectionParams) -> str:
    """The WS-Management URL of a WinRM method, ``<scheme>://<host>:<port>/wsman`` (an IPv6
    host in brackets), exactly as the health probe builds it."""
    from apps.targets.probes.winrm import endpoint_for

    return endpoint_for(params)


def winrm_protocol(params: ConnectionParams, *, read_timeout: int) -> Protocol:
    """A pywinrm ``Protocol`` for a WinRM method, built by the health probe's rules: the
    method's transport (``basic``, ``ntlm``, ...) and scheme, certificate validation on or off,
    a private CA from ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when set (else the bundle of
    ``requests``), never a proxy from the environment. ``read_timeout`` (whole seconds, >= 2)
    is the HTTP timeout, the WS-Management OperationTimeout one second less; both are plain
    attributes the caller may change per request.

    Nothing is sent until the first request. The protocol holds the password in memory: use it
    in the worker that connects and never log or pickle it. Raises ``ValueError`` for an
    unsupported scheme or transport or a missing username/password."""
    from apps.targets.probes.winrm import SCHEMES, TRANSPORTS, _protocol, endpoint_for

    if params.winrm_scheme not in SCHEMES:
        raise ValueError(f"unsupported WinRM scheme {params.winrm_scheme!r} ({', '.join(SCHEMES)})")
    if params.winrm_transport not in TRANSPORTS:
        raise ValueError(
            f"unsupported WinRM transport {params.winrm_transport!r} ({', '.join(TRANSPORTS)})"
        )
    password = params.password.reveal()
    if not params.username or not password:
        raise ValueError(
            f"no username/password is set for the WinRM method of {params.target_name}"
        )
    return _protocol(params, endpoint_for(params), password, read_timeout)
