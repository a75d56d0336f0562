"""The only module of the targets app other apps may import.

The targets context owns targets, groups and tags, connection methods, sealed credentials,
host keys and health. Functions here take and return ids and frozen dataclasses, never model
instances (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apps.targets.connection import (
    ConnectionParams,
    CredentialOutOfScope,
    CredentialScope,
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
    check_scope,
    connect_tcp,
    handshake,
    load_private_key,
    preferred_algorithms,
    scrub,
    server_key,
)
from opsconductor.events import Actor

if TYPE_CHECKING:
    from winrm.protocol import Protocol

__all__ = [
    "ConnectionParams",
    "CredentialOutOfScope",
    "CredentialScope",
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
    "check_scope",
    "connect_tcp",
    "connection_for_target",
    "credential_allow_hosts",
    "credential_import",
    "credential_name_taken",
    "describe_refusal",
    "fingerprint_sha256",
    "group_import",
    "handshake",
    "host_key_verdict",
    "load_private_key",
    "normalise_host",
    "preferred_algorithms",
    "record_host_key_seen",
    "report_connection_outcome",
    "report_host_key_refused",
    "report_scope_refusal",
    "resolve_selector",
    "scrub",
    "server_key",
    "target_import",
    "target_summaries",
    "targets_import_state",
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


def report_host_key_refused(
    *,
    target_id: uuid.UUID,
    method_id: uuid.UUID,
    verdict: str,
    algorithm: str,
    public_key: str,
    fingerprint: str,
    message: str,
) -> None:
    """A real connection (a run, a retry, a scheduled run; not a health check) refused the key
    the host presented (``verdict``: ``unknown``, ``changed`` or ``rejected``): handled as a
    health check handles it. The key is recorded (pending for an admin), the target's health
    becomes ``host_key_unknown``/``host_key_mismatch`` with ``message``, and a changed key
    publishes ``targets.host_key.changed_refused`` once per refused key."""
    from apps.targets.probes import SeenHostKey
    from apps.targets.services import health

    health.target_record_host_key_refusal(
        target_id=target_id,
        method_id=method_id,
        verdict=verdict,
        key=SeenHostKey(algorithm=algorithm, public_key=public_key, fingerprint=fingerprint),
        message=message,
    )


def report_connection_outcome(*, target_id: uuid.UUID, status: str, message: str = "") -> None:
    """Tell targets how a real connection (a run, not a health check) went, so the target's
    health reflects it. ``status`` is one of the health values (``healthy``, ``unreachable``,
    ``auth_failed``, ``host_key_unknown``, ``host_key_mismatch``, ``scope_refused``,
    ``error``)."""
    from apps.targets.services import health

    health.target_record_outcome(target_id=target_id, status=status, message=message)


def report_scope_refusal(
    *, target_id: uuid.UUID, refusal: CredentialOutOfScope, actor: Actor | None = None
) -> None:
    """Record that a connection to the target (a run) was refused because its credential may
    not be used there (``CredentialOutOfScope``, nothing was sent): the audit event
    ``targets.credential.scope_refused``. The target's health is reported separately
    (``report_connection_outcome`` with ``scope_refused``)."""
    from django.db import transaction

    from apps.targets.models import Target
    from apps.targets.scope import publish_scope_refused
    from opsconductor.events import SYSTEM

    target = Target.objects.using("targets").filter(pk=target_id).only("id", "name").first()
    with transaction.atomic(using="targets"):
        publish_scope_refused(
            target_id=target_id,
            target_name=target.name if target else "",
            credential_name=refusal.credential_name,
            address=refusal.address,
            reason=refusal.reason,
            via="run",
            actor=actor or SYSTEM,
        )


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


# --- Imports from another system (legacy_bridge.importing) ----------------------------------------


def credential_import(
    *,
    credential_id: uuid.UUID,
    name: str,
    kind: str,
    username: str,
    actor: Actor,
    description: str = "",
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    publish_event: bool = False,
) -> bool:
    """Create the credential ``credential_id`` (``kind`` ``password``, ``ssh_key`` or
    ``winrm``), sealing the secret under this installation's keys, with the same checks as the
    API (a key must parse and its passphrase open it). Returns True when created, False when a
    credential with that id already exists (left unchanged: a repeated import call is
    harmless). Raises ``django.core.exceptions.ValidationError`` keyed by field (``name`` taken
    or malformed, ``private_key``, ``passphrase``, ``password``); no message holds the secret.
    ``publish_event=False`` leaves out the per-credential event (imports publish a summary)."""
    from apps.targets.models import Credential
    from apps.targets.services import credentials

    if Credential.objects.using("targets").filter(pk=credential_id).exists():
        return False
    credentials.credential_create(
        pk=credential_id,
        name=name,
        kind=kind,
        username=username,
        description=description,
        password=password,
        private_key=private_key,
        passphrase=passphrase,
        actor=actor,
        publish_event=publish_event,
    )
    return True


def credential_allow_hosts(
    *, credential_id: uuid.UUID, hosts: list[str], actor: Actor, publish_event: bool = False
) -> list[str]:
    """Add ``hosts`` (host names or IP addresses) to the ``allowed_hosts`` of the credential
    ``credential_id`` and return the new list. Imports call it for each host an imported
    credential was used with, before the target that uses it is created, so the credential
    is scoped to those hosts (docs/targets.md, "Credential scope"). Raises
    ``django.core.exceptions.ValidationError`` (``allowed_hosts.<i>``) for a malformed host."""
    from apps.targets.services import credentials

    return credentials.credential_allow_hosts(
        credential_id=credential_id, hosts=hosts, actor=actor, publish_event=publish_event
    )


def credential_name_taken(name: str) -> bool:
    """Whether a credential is already named ``name`` (names are unique)."""
    from apps.targets.models import Credential

    return Credential.objects.using("targets").filter(name=name).exists()


def target_import(
    *,
    target_id: uuid.UUID,
    data: dict[str, Any],
    actor: Actor,
    tags: list[str] | tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    connection_methods: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    publish_event: bool = False,
) -> bool:
    """Create the target ``target_id`` with its tags, labels and connection methods, in one
    transaction, through the same validation as the API. ``data`` holds target fields
    (``name``, ``description``, ``os_family``, ``environment``, ``location``, ``data_center``,
    ``region``, ``status``, ``host_key_policy``); each connection method is a dict of
    ``protocol``, ``host``, ``port``, ``username``, ``priority``, ``is_primary``,
    ``winrm_scheme``, ``winrm_transport``, ``winrm_validate_cert`` and ``credential_id`` (a
    credential of this app, or None). Returns True when created, False when a target with that
    id already exists (left unchanged). Raises ``django.core.exceptions.ValidationError`` keyed
    by field (``connection_methods.<i>.<field>`` for a method)."""
    from django.core.exceptions import ValidationError

    from apps.targets.models import Credential, Target
    from apps.targets.services import inventory

    if Target.objects.using("targets").filter(pk=target_id).exists():
        return False
    # one query for the credentials of all methods (ids as the primary key field reads them)
    as_pk = Credential._meta.pk.to_python
    wanted = {as_pk(m["credential_id"]) for m in connection_methods if m.get("credential_id")}
    found = Credential.objects.using("targets").in_bulk(list(wanted)) if wanted else {}
    methods = []
    for index, method in enumerate(connection_methods):
        entry = {k: v for k, v in method.items() if k != "credential_id"}
        credential_id = method.get("credential_id")
        if credential_id is not None:
            credential = found.get(as_pk(credential_id))
            if credential is None:
                raise ValidationError(
                    {f"connection_methods.{index}.credential": ["No such credential."]}
                )
            entry["credential"] = credential
        methods.append(entry)
    inventory.target_create(
        pk=target_id,
        data=data,
        tags=tags,
        labels=labels or {},
        connection_methods=methods,
        actor=actor,
        publish_event=publish_event,
    )
    return True


def group_import(
    *,
    group_id: uuid.UUID,
    name: str,
    member_ids: list[uuid.UUID],
    actor: Actor,
    description: str = "",
    publish_event: bool = False,
) -> bool:
    """Create the group ``group_id`` with static members ``member_ids`` (no saved selector).
    Returns True when created, False when it already exists (left unchanged). Raises
    ``django.core.exceptions.ValidationError`` keyed by field (``name`` taken or malformed)."""
    from apps.targets.models import Group
    from apps.targets.services import inventory

    if Group.objects.using("targets").filter(pk=group_id).exists():
        return False
    inventory.group_create(
        pk=group_id,
        data={"name": name, "description": description},
        member_ids=member_ids,
        actor=actor,
        publish_event=publish_event,
    )
    return True


@dataclass(frozen=True)
class ImportedMethodState:
    protocol: str
    host: str
    port: int
    credential_id: uuid.UUID | None
    is_primary: bool


@dataclass(frozen=True)
class ImportedTargetState:
    """The fields of a target an import compares with its source (verification)."""

    id: uuid.UUID
    name: str
    os_family: str
    environment: str
    status: str
    host_key_policy: str
    labels: dict[str, str]
    methods: tuple[ImportedMethodState, ...]


def targets_import_state(target_ids: list[uuid.UUID]) -> dict[uuid.UUID, ImportedTargetState]:
    """The targets among ``target_ids`` that exist, with their methods and labels, in a few
    queries (for an import's verification of what it wrote)."""
    from django.db.models import Prefetch

    from apps.targets.models import ConnectionMethod, Target, TargetLabel

    found: dict[uuid.UUID, ImportedTargetState] = {}
    ids = list(target_ids)
    for start in range(0, len(ids), 2000):
        queryset = Target.objects.using("targets").filter(id__in=ids[start : start + 2000])
        queryset = queryset.prefetch_related(
            Prefetch("labels", queryset=TargetLabel.objects.using("targets")),
            Prefetch(
                "connection_methods",
                queryset=ConnectionMethod.objects.using("targets").order_by(
                    "-is_primary", "priority", "host", "port"
                ),
            ),
        )
        for target in queryset:
            found[target.id] = ImportedTargetState(
                id=target.id,
                name=target.name,
                os_family=target.os_family,
                environment=target.environment,
                status=target.status,
                host_key_policy=target.host_key_policy,
                labels={label.key: label.value for label in target.labels.all()},
                methods=tuple(
                    ImportedMethodState(
                        protocol=m.protocol,
                        host=m.host,
                        port=m.port,
                        credential_id=m.credential_id,
                        is_primary=m.is_primary,
                    )
                    for m in target.connection_methods.all()
                ),
            )
    return found


def normalise_host(value: str) -> str:
    """A host as connection methods store it (lower case, no trailing dot, IP addresses in
    their canonical form); a value that is not a valid host comes back stripped and lowered."""
    from django.core.exceptions import ValidationError

    from apps.targets.services.inventory import validate_host

    try:
        return validate_host(value)
    except ValidationError:
        return value.strip().lower()


# --- Details and writes for other front doors (the legacy bridge's adapters) ----------------------


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: never its secret."""

    id: uuid.UUID
    name: str
    kind: str
    username: str
    created_at: Any
    updated_at: Any


@dataclass(frozen=True)
class MethodDetails:
    id: uuid.UUID
    protocol: str
    host: str
    port: int
    username: str
    priority: int
    is_primary: bool
    credential: CredentialInfo | None
    created_at: Any
    updated_at: Any


@dataclass(frozen=True)
class TargetDetails:
    id: uuid.UUID
    name: str
    description: str
    os_family: str
    environment: str
    location: str
    data_center: str
    region: str
    status: str
    health_status: str
    labels: dict[str, str]
    methods: tuple[MethodDetails, ...]  # primary first, then by priority
    created_at: Any
    updated_at: Any


def target_ids_ordered(*, exclude_statuses: tuple[str, ...] = ()) -> list[uuid.UUID]:
    """Ids of every target ordered by name (then id), leaving out those in ``exclude_statuses``."""
    from apps.targets.models import Target

    queryset = Target.objects.using("targets").exclude(status__in=list(exclude_statuses))
    return list(queryset.order_by("name", "id").values_list("id", flat=True))


def target_details(target_ids: list[uuid.UUID]) -> dict[uuid.UUID, TargetDetails]:
    """The targets among ``target_ids`` that exist, with labels, connection methods and their
    credentials (name, kind and username only), in a few queries."""
    from django.db.models import Prefetch

    from apps.targets.models import ConnectionMethod, Target, TargetLabel

    found: dict[uuid.UUID, TargetDetails] = {}
    ids = list(target_ids)
    for start in range(0, len(ids), 2000):
        queryset = (
            Target.objects.using("targets")
            .filter(id__in=ids[start : start + 2000])
            .prefetch_related(
                Prefetch("labels", queryset=TargetLabel.objects.using("targets")),
                Prefetch(
                    "connection_methods",
                    queryset=ConnectionMethod.objects.using("targets")
                    .select_related("credential")
                    .order_by("-is_primary", "priority", "created_at", "id"),
                ),
            )
        )
        for t in queryset:
            found[t.id] = TargetDetails(
                id=t.id,
                name=t.name,
                description=t.description,
                os_family=t.os_family,
                environment=t.environment,
                location=t.location,
                data_center=t.data_center,
                region=t.region,
                status=t.status,
                health_status=t.health_status,
                labels={label.key: label.value for label in t.labels.all()},
                methods=tuple(
                    MethodDetails(
                        id=m.id,
                        protocol=m.protocol,
                        host=m.host,
                        port=m.port,
                        username=m.username,
                        priority=m.priority,
                        is_primary=m.is_primary,
                        credential=(
                            CredentialInfo(
                                id=m.credential.id,
                                name=m.credential.name,
                                kind=m.credential.kind,
                                username=m.credential.username,
                                created_at=m.credential.created_at,
                                updated_at=m.credential.updated_at,
                            )
                            if m.credential is not None
                            else None
                        ),
                        created_at=m.created_at,
                        updated_at=m.updated_at,
                    )
                    for m in t.connection_methods.all()
                ),
                created_at=t.created_at,
                updated_at=t.updated_at,
            )
    return found


def target_delete_as(*, target_id: uuid.UUID, actor: Actor) -> bool:
    """Delete the target as ``actor`` (``targets.target.deleted``, as the API does). False
    when there is no such target."""
    from apps.targets.models import Target
    from apps.targets.services import inventory

    target = Target.objects.using("targets").filter(pk=target_id).first()
    if target is None:
        return False
    inventory.target_delete(target=target, actor=actor)
    return True


def targets_check_health_as(*, target_ids: list[uuid.UUID], actor: Actor) -> uuid.UUID:
    """Queue a health check of each target on the workers (as ``POST /api/v1/targets/check/``);
    returns the batch id. Raises ``ValidationError`` (``target_ids``) for unknown ids."""
    from apps.targets.services import health

    return health.targets_check_health(target_ids=target_ids, actor=actor)


@dataclass(frozen=True)
class MethodCheck:
    """How checking one connection method went: what may be shown, never a secret."""

    ok: bool  # status == "healthy"
    status: str  # a health value: healthy, unreachable, auth_failed, host_key_unknown, ...
    message: str  # what a user can act on (no secret: the probes scrub it)
    host: str
    port: int
    protocol: str  # ssh, winrm
    username: str  # the method's, else its credential's ("" when none)
    credential_kind: str | None  # password, ssh_key, winrm; None without a credential
    duration_ms: int  # from the start of the check to its outcome
    # SSH, when the host presented a key: the verdict (connection.HostKeyVerdict value:
    # trusted, trust_on_first_use, unknown, changed, rejected) and the key's fingerprint
    host_key_verdict: str | None
    host_key_fingerprint: str | None
    check_id: uuid.UUID | None  # the HealthCheck row recording it (None: nothing was saved)
    checked_at: Any


def connection_method_check_as(
    *, target_id: uuid.UUID, method_id: uuid.UUID, actor: Actor
) -> MethodCheck:
    """Check the connection method ``method_id`` of the target ``target_id`` now, as
    ``actor``, the way a health check (``POST /api/v1/targets/{id}/check/``, operators) checks
    a target: the same probe, host-key policy and verdict recording, credential scope,
    ``HealthCheck`` row and events. The target's health follows only when it is its primary
    method. Synchronous: it takes up to ``TARGET_HEALTH_TIMEOUT_SECONDS``. Raises
    ``LookupError`` when there is no such target, or no such method of that target."""
    from apps.targets.models import ConnectionMethod, Target
    from apps.targets.services import health

    method = (
        ConnectionMethod.objects.using("targets")
        .select_related("credential")
        .filter(pk=method_id, target_id=target_id)
        .first()
    )
    if method is None:
        raise LookupError(method_id)
    credential = method.credential
    try:
        check, result = health.method_check_health(method=method, actor=actor)
    except Target.DoesNotExist:
        raise LookupError(target_id) from None
    return _method_check(
        result,
        host=method.host,
        port=method.port,
        protocol=method.protocol,
        username=method.username or (credential.username if credential else ""),
        credential_kind=credential.kind if credential else None,
        started=check.started_at,
        finished=check.finished_at,
        check_id=check.id,
    )


def _method_check(result, *, started, finished, check_id, **where) -> MethodCheck:
    """A probe's result as ``MethodCheck`` (``where``: host, port, protocol, username and
    credential_kind of what was probed)."""
    from apps.targets.models import Target

    seen = result.host_key
    return MethodCheck(
        ok=result.status == Target.Health.HEALTHY,
        status=result.status,
        message=result.message,
        duration_ms=_duration_ms(started, finished),
        host_key_verdict=result.host_key_verdict,
        host_key_fingerprint=seen.fingerprint if seen else None,
        check_id=check_id,
        checked_at=finished,
        **where,
    )


def connection_config_check_as(
    *,
    protocol: str,
    host: str,
    port: int | None,
    username: str,
    credential_kind: str | None,
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    actor: Actor,
) -> MethodCheck:
    """Check a connection method that is not saved yet, with a credential typed by ``actor``
    (the legacy UI's "Test" in its create and edit dialogs): the health check's probe, held to
    a new target's ``strict`` host-key policy against the keys already trusted for that
    address; nothing is stored but an audited event, and the secret is never kept or shown.
    Synchronous (up to ``TARGET_HEALTH_TIMEOUT_SECONDS``). Raises Django's ``ValidationError``
    by field (``protocol``, ``host``, ``port``, ``credential``)."""
    from django.utils import timezone

    from apps.targets.services import health

    started = timezone.now()
    result, params = health.config_check(
        protocol=protocol,
        host=host,
        port=port,
        username=username,
        credential_kind=credential_kind,
        password=password,
        private_key=private_key,
        passphrase=passphrase,
        actor=actor,
    )
    return _method_check(
        result,
        host=params.host,
        port=params.port,
        protocol=params.protocol,
        username=params.username,
        credential_kind=credential_kind,
        started=started,
        finished=timezone.now(),
        check_id=None,
    )


def _duration_ms(started: datetime | None, finished: datetime | None) -> int:
    """A check's length in ms (0 when either end was not recorded)."""
    if started is None or finished is None:
        return 0
    return max(0, round((finished - started).total_seconds() * 1000))


def _credential_name(base: str) -> str:
    import re

    from apps.targets.models import Credential

    stem = re.sub(r"[^A-Za-z0-9_.:-]+", "-", base).strip("-_.:")[:56] or "credential"
    name, n = stem, 1
    while Credential.objects.using("targets").filter(name=name).exists():
        n += 1
        name = f"{stem}-{n}"
    return name


def _method_values(index: int, method: dict[str, Any], target_name: str, actor: Actor) -> dict:
    """A method of ``target_write_as`` as the services take it; creates its new credential."""
    from django.core.exceptions import ValidationError

    from apps.targets.services import credentials

    values = {
        k: method[k]
        for k in ("protocol", "host", "port", "username", "priority", "is_primary")
        if method.get(k) is not None
    }
    new = method.get("credential")
    if isinstance(new, dict):
        kind = new.get("kind") or "password"
        if kind == "password" and values.get("protocol") == "winrm":
            kind = "winrm"
        try:
            values["credential"] = credentials.credential_create(
                name=_credential_name(f"{target_name}-{values.get('protocol', 'method')}"),
                kind=kind,
                username=new.get("username") or "",
                password=new.get("password"),
                private_key=new.get("private_key"),
                passphrase=new.get("passphrase"),
                description=f"Created for target {target_name}",
                # sent to the host it was given for, nowhere else (docs/targets.md)
                allowed_hosts=[values["host"]] if values.get("host") else None,
                actor=actor,
            )
        except ValidationError as exc:
            raise ValidationError(
                {
                    f"connection_methods.{index}.credential.{k}": v
                    for k, v in exc.message_dict.items()
                }
            ) from exc
    elif new is None and "credential" in method:
        values["credential"] = None
    return values


def target_write_as(
    *,
    actor: Actor,
    data: dict[str, Any],
    target_id: uuid.UUID | None = None,
    labels: dict[str, str] | None = None,
    methods: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    """Create (``target_id`` None) or change a target with its connection methods, in one
    transaction, as ``actor``, through the API's services (validation, credential scope,
    ``targets.*`` events). ``data``: target fields (``name``, ``description``, ``os_family``,
    ``environment``, ``location``, ``data_center``, ``region``, ``status``); ``labels`` are set
    on top of the existing ones. ``methods`` (None: left as they are) is the whole list: each
    ``{"id": <existing method or None>, "protocol", "host", "port", "is_primary", "username",
    "credential": {"kind", "username", "password" | "private_key", "passphrase"} (a new
    credential, scoped to the method's host) | None (none) | absent (kept)}``; existing methods
    not in the list are deleted. Raises ``ValidationError`` keyed by field
    (``connection_methods.<i>.<field>``), ``LookupError`` for an unknown target or method, and
    ``rest_framework.exceptions.PermissionDenied`` when the actor may not attach a credential."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from apps.targets.models import ConnectionMethod, Target
    from apps.targets.services import inventory

    with transaction.atomic(using="targets"):
        if target_id is None:
            target = inventory.target_create(
                data=data, labels=labels or {}, connection_methods=(), actor=actor
            )
        else:
            found = Target.objects.using("targets").filter(pk=target_id).first()
            if found is None:
                raise LookupError(target_id)
            merged = None
            if labels:
                merged = {
                    **dict(found.labels.values_list("key", "value")),
                    **labels,
                }
            target = inventory.target_update(target=found, data=data, labels=merged, actor=actor)
        if methods is None:
            return target.pk
        existing = {
            m.pk: m for m in ConnectionMethod.objects.using("targets").filter(target=target)
        }
        kept = set()
        for index, method in enumerate(methods):
            values = _method_values(index, method, target.name, actor)
            try:
                if method.get("id") is not None:
                    current = existing.get(method["id"])
                    if current is None:
                        raise LookupError(method["id"])
                    kept.add(current.pk)
                    inventory.connection_method_update(method=current, data=values, actor=actor)
                else:
                    created = inventory.connection_method_create(
                        target=target, data=values, actor=actor
                    )
                    kept.add(created.pk)
            except ValidationError as exc:
                raise ValidationError(
                    {f"connection_methods.{index}.{k}": v for k, v in exc.message_dict.items()}
                ) from exc
        for pk, unsent in existing.items():
            if pk not in kept:
                inventory.connection_method_delete(method=unsent, actor=actor)
    return target.pk


def connection_method_write_as(
    *,
    actor: Actor,
    target_id: uuid.UUID,
    data: dict[str, Any],
    method_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Add (``method_id`` None) or change one connection method of a target, as
    ``POST``/``PATCH /api/v1/targets/{id}/connection-methods/`` do; ``data`` as one method of
    ``target_write_as``. Raises ``LookupError``, ``ValidationError`` or ``PermissionDenied``."""
    from django.db import transaction

    from apps.targets.models import ConnectionMethod, Target
    from apps.targets.services import inventory

    with transaction.atomic(using="targets"):
        target = Target.objects.using("targets").filter(pk=target_id).first()
        if target is None:
            raise LookupError(target_id)
        values = _method_values(0, data, target.name, actor)
        if method_id is None:
            return inventory.connection_method_create(target=target, data=values, actor=actor).pk
        method = (
            ConnectionMethod.objects.using("targets").filter(pk=method_id, target=target).first()
        )
        if method is None:
            raise LookupError(method_id)
        return inventory.connection_method_update(method=method, data=values, actor=actor).pk


def connection_method_delete_as(
    *, actor: Actor, target_id: uuid.UUID, method_id: uuid.UUID
) -> bool:
    """Delete a connection method (the next one becomes primary); False when there is none."""
    from apps.targets.models import ConnectionMethod
    from apps.targets.services import inventory

    method = (
        ConnectionMethod.objects.using("targets").filter(pk=method_id, target_id=target_id).first()
    )
    if method is None:
        return False
    inventory.connection_method_delete(method=method, actor=actor)
    return True
