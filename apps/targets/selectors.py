"""Reads of the targets context."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast
from django.db.models.lookups import Lookup

from apps.targets.connection import ConnectionParams, KnownHostKey, Secret
from apps.targets.models import (
    ConnectionMethod,
    Credential,
    HealthCheck,
    HostKey,
    Target,
    TargetLabel,
)
from apps.targets.scope import scope_for
from opsconductor.sealing import unseal

DB = "targets"


def targets_with_details() -> QuerySet[Target]:
    """Targets with what their API representation shows (tags, labels, connection methods)."""
    return Target.objects.using(DB).prefetch_related(
        "tags", "labels", "connection_methods", "connection_methods__credential"
    )


def targets_for_list() -> QuerySet[Target]:
    """Targets for a list page: the rows only. The page's tags, labels and connection methods
    come from ``target_list_details`` in three queries, whatever the page's size."""
    return Target.objects.using(DB).all()


@dataclass(frozen=True)
class TargetListDetails:
    """What a page of targets shows besides the targets' own columns, by target id as text
    (``str(target.pk)``).

    ``methods``: each target's connection methods as column dicts (the columns asked for, plus
    ``credential_id`` and ``credential__name``), in the order the model sorts them (primary
    first, then by priority)."""

    tags: dict[str, list[str]] = field(default_factory=dict)  # sorted names
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # in key order
    methods: dict[str, list[dict]] = field(default_factory=dict)


class _AnyOf(Lookup):
    """``column IN (ids)``, written ``column = ANY(%s::uuid[])`` on PostgreSQL with the ids in
    one text parameter. An ``IN`` of a page of 100 ids costs a parameter each (prepared one by
    one by Django, adapted one by one by psycopg, and psycopg does not cache the conversion of
    a statement with more than 50 parameters): ~1 ms a query for nothing. ``ids`` are UUIDs."""

    lookup_name = "any_of"  # used as an expression, not registered on any field
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):  # other databases: a plain IN
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection) for v in self.rhs]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*lhs_params, *values)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array = "{" + ",".join(str(v) for v in self.rhs) + "}"
        return f"{lhs} = ANY(%s::uuid[])", (*lhs_params, array)


def target_list_details(
    target_ids: list[uuid.UUID], *, method_columns: tuple[str, ...] = ()
) -> TargetListDetails:
    """Tags, labels and connection methods (with their credential's name) of many targets, in
    three queries of plain rows: no model instance is built for them (a page of 100 targets has
    ~1,000 of these rows; building and prefetching model instances for them was most of the
    list's CPU, docs/benchmarks.md, "Targets list")."""
    if not target_ids:
        return TargetListDetails()
    # The target id as text, the dictionaries' key: PostgreSQL writes it as str(uuid) does, so
    # ~1,000 rows build no UUID object and hash no UUID (elsewhere: str() here).
    as_text = connections[DB].vendor == "postgresql"
    key = Cast("target_id", TextField()) if as_text else F("target_id")
    among = _AnyOf(F("target_id"), target_ids)
    tags: defaultdict[str, list[str]] = defaultdict(list)
    rows = Target.tags.through.objects.using(DB).filter(among).values_list(key, "tag__name")
    for target_id, name in rows:
        tags[target_id if as_text else str(target_id)].append(name)
    for names in tags.values():
        names.sort()
    labels: defaultdict[str, dict[str, str]] = defaultdict(dict)
    rows = (
        TargetLabel.objects.using(DB)
        .filter(among)
        .order_by("key")  # the model's ordering, as target.labels.all() gives them
        .values_list(key, "key", "value")
    )
    for target_id, label, value in rows:
        labels[target_id if as_text else str(target_id)][label] = value
    methods: defaultdict[str, list[dict]] = defaultdict(list)
    columns = {*method_columns, "credential_id", "credential__name"}
    columns.discard("credential")
    rows = (
        ConnectionMethod.objects.using(DB)
        .filter(among)
        # the model's ordering within a target (its "target" part sorts targets by name)
        .order_by("target_id", "-is_primary", "priority", "created_at")
        .values(*sorted(columns), target_key=key)
    )
    for row in rows:
        target_id = row.pop("target_key")
        methods[target_id if as_text else str(target_id)].append(row)
    return TargetListDetails(tags=dict(tags), labels=dict(labels), methods=dict(methods))


def primary_method(*, target: Target) -> ConnectionMethod | None:
    """The method a connection tries first: the primary one, else the lowest priority."""
    return (
        ConnectionMethod.objects.using(DB)
        .filter(target=target)
        .select_related("credential")
        .order_by("-is_primary", "priority", "created_at", "id")
        .first()
    )


def connection_params(
    *, method: ConnectionMethod, host_keys: list[HostKey] | None = None
) -> ConnectionParams:
    """Everything a worker needs to open a session through ``method``, secret included.

    The credential's scope is evaluated here against the target as stored now (its
    ``allowed_targets`` selector; ``scope.refusal`` when it no longer matches) and carried in
    ``scope`` for the dial (``ssh_connect.connect_tcp``); a ``strict`` credential makes the
    host-key policy strict whatever the target says. The credential is unsealed here, into
    ``Secret`` wrappers; the result must stay in the
    calling process (never stored, logged or sent to a broker). Raises
    ``opsconductor.sealing.SealError`` when the configured keys cannot open the credential.
    """
    target = method.target
    credential: Credential | None = method.credential
    password = private_key = passphrase = None
    if credential is not None:
        secret = unseal(credential.secret)
        if credential.kind == Credential.Kind.SSH_KEY:
            private_key = secret.get("private_key")
            passphrase = secret.get("passphrase")
        else:
            password = secret.get("password")
    if host_keys is None:
        host_keys = list(
            HostKey.objects.using(DB).filter(method=method).order_by("created_at", "id")
        )
    known = tuple(
        KnownHostKey(
            algorithm=key.algorithm,
            public_key=key.public_key,
            fingerprint=key.fingerprint,
            trusted=key.state == HostKey.State.TRUSTED,
            rejected=key.state == HostKey.State.REJECTED,
        )
        for key in host_keys
    )
    return ConnectionParams(
        target_id=target.id,
        target_name=target.name,
        method_id=method.id,
        protocol=method.protocol,
        host=method.host,
        port=method.port,
        username=method.username or (credential.username if credential else ""),
        credential_kind=credential.kind if credential else None,
        password=Secret(password),
        private_key=Secret(private_key),
        passphrase=Secret(passphrase),
        host_key_policy=(
            Target.HostKeyPolicy.STRICT
            if credential is not None
            and credential.host_key_policy == Credential.HostKeyPolicy.STRICT
            else target.host_key_policy
        ),
        known_host_keys=known,
        winrm_scheme=method.winrm_scheme or ConnectionMethod.WinrmScheme.HTTP,
        winrm_transport=method.winrm_transport or ConnectionMethod.WinrmTransport.NTLM,
        winrm_validate_cert=method.winrm_validate_cert,
        scope=scope_for(credential, target),
        credential_name=credential.name if credential else "",
    )


def primary_methods(target_ids: list[uuid.UUID]) -> dict[uuid.UUID, ConnectionMethod]:
    """Each target's primary connection method (as ``connection_params`` wants it: target,
    credential and host keys loaded), in three queries for any number of targets."""
    from django.db.models import Prefetch

    methods = (
        ConnectionMethod.objects.using(DB)
        .filter(target_id__in=target_ids)
        .select_related("target", "credential")
        .prefetch_related(
            Prefetch("host_keys", queryset=HostKey.objects.using(DB).order_by("created_at", "id"))
        )
        .order_by("target_id", "-is_primary", "priority", "created_at", "id")
    )
    chosen: dict[uuid.UUID, ConnectionMethod] = {}
    for method in methods:
        chosen.setdefault(method.target_id, method)
    return chosen


def health_batch(*, batch_id: uuid.UUID) -> QuerySet[HealthCheck]:
    """The health checks of one batch (``targets_check_health``), finished or not."""
    return (
        HealthCheck.objects.using(DB)
        .filter(batch_id=batch_id)
        .select_related("target")
        .order_by("target__name", "target_id")
    )


def health_batch_done(*, batch_id: uuid.UUID) -> bool:
    """Whether every check of the batch has a result."""
    return not HealthCheck.objects.using(DB).filter(batch_id=batch_id, status="").exists()


def health_summary() -> dict:
    """Targets counted by health (every health, zeros too) and the host keys waiting for an
    admin's decision: the console's dashboard. Three queries, whatever the number of targets."""
    from django.db.models import Count

    by_health = dict.fromkeys(Target.Health.values, 0)
    for health, n in (
        Target.objects.using(DB).values_list("health_status").annotate(n=Count("id")).order_by()
    ):
        by_health[health] = n
    pending = HostKey.objects.using(DB).filter(state=HostKey.State.PENDING)
    return {
        "total": sum(by_health.values()),
        "by_health": by_health,
        "pending_host_keys": pending.count(),
        "targets_with_pending_host_keys": Target.objects.using(DB)
        .filter(id__in=pending.values("method__target_id"))
        .count(),
    }
