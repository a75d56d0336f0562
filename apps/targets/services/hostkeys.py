"""SSH host keys: record what hosts present, scan on request, approve and reject.

A trusted key is the only thing that lets a probe or a job send a credential to a host
(``connection.host_key_verdict``). Approving a key replaces the method's trusted key of the same
algorithm (the host was reinstalled); rejecting one keeps it on record so it is recognised.
"""

from __future__ import annotations

import base64
import binascii

import paramiko
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status

from apps.targets.connection import fingerprint_sha256
from apps.targets.models import ConnectionMethod, HostKey
from apps.targets.probes import SeenHostKey
from opsconductor.events import SYSTEM, Actor, publish

DB = "targets"


class HostKeyScanFailed(exceptions.APIException):
    """The host could not be scanned (unreachable, not SSH): a 502 naming the reason."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The host key could not be fetched."
    default_code = "scan_failed"


def _payload(key: HostKey, **extra) -> dict:
    method = key.method
    return {
        "host_key_id": str(key.id),
        "method_id": str(method.id),
        "target_id": str(method.target_id),
        "target_name": method.target.name,
        "address": f"{method.host}:{method.port}",
        "algorithm": key.algorithm,
        "fingerprint": key.fingerprint,
        "state": key.state,
        "source": key.source,
        **extra,
    }


DECISION_FIELDS = ["state", "decided_at", "decided_by_id", "decided_by_name", "updated_at"]


def _decide(key: HostKey, state: str, actor: Actor) -> None:
    key.state = state
    key.decided_at = timezone.now()
    key.decided_by_id = actor.user_id
    key.decided_by_name = (actor.name or actor.label)[:150]


def record_seen(
    *, method: ConnectionMethod, key: SeenHostKey, source: str, state: str, actor: Actor = SYSTEM
) -> tuple[HostKey, bool]:
    """``host_key_record_seen`` that also says whether the key was new for the method."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        row = (
            HostKey.objects.using(DB)
            .select_for_update()
            .filter(method=method, algorithm=key.algorithm, public_key=key.public_key)
            .first()
        )
        created = row is None
        trust_raised = False
        if created:
            row = HostKey(
                method=method,
                algorithm=key.algorithm,
                public_key=key.public_key,
                fingerprint=key.fingerprint,
                source=source,
                state=HostKey.State.PENDING,
            )
            if state == HostKey.State.TRUSTED:
                _decide(row, HostKey.State.TRUSTED, actor)
            row.last_seen_at = now
            try:
                with transaction.atomic(using=DB):
                    row.save(using=DB)
            except IntegrityError:  # recorded by a concurrent check meanwhile
                return record_seen(method=method, key=key, source=source, state=state, actor=actor)
        else:
            row.last_seen_at = now
            fields = ["last_seen_at", "updated_at"]
            # Seeing a key never lowers its trust; trust on first use may raise a pending one.
            if state == HostKey.State.TRUSTED and row.state == HostKey.State.PENDING:
                row.source = source
                _decide(row, HostKey.State.TRUSTED, actor)
                fields += ["state", "source", "decided_at", "decided_by_id", "decided_by_name"]
                trust_raised = True
            row.save(using=DB, update_fields=fields)
        if created or trust_raised:
            row.method = method
            publish("targets.host_key.seen", _payload(row), actor=actor)
    return row, created


def host_key_record_seen(
    *, method: ConnectionMethod, key: SeenHostKey, source: str, state: str, actor: Actor = SYSTEM
) -> HostKey:
    """Record that ``method``'s host presented ``key``: a new row (``state``: trusted on first
    use, else pending) or a known one seen again (``last_seen_at``; trust never lowered).

    Publishes ``targets.host_key.seen`` when the key is new or becomes trusted, not on every
    sighting (periodic checks would flood the audit trail).
    """
    return record_seen(method=method, key=key, source=source, state=state, actor=actor)[0]


def host_key_scan(*, method: ConnectionMethod, actor: Actor) -> HostKey:
    """Fetch the key the host presents now (no login) and record it pending unless trusted.

    A key rejected earlier becomes pending again: scanning is a request to decide anew.
    Raises ``HostKeyScanFailed`` (502) when the host cannot be scanned.
    """
    from apps.targets.probes.ssh import ScanError, scan_host_key

    if method.protocol != ConnectionMethod.Protocol.SSH:
        raise ValidationError({"method_id": "Only SSH connection methods have host keys."})
    from apps.targets.connection import CredentialOutOfScope
    from apps.targets.scope import publish_scope_refused, scope_for

    # A scan sends no secret, but it stays within the scope of the method's credential too
    # (it would otherwise help prepare a connection to a host the credential may not reach).
    limits = scope_for(method.credential, method.target) if method.credential_id else None
    try:  # network first, outside any transaction
        seen = scan_host_key(
            method.host, method.port, timeout=settings.TARGET_HEALTH_TIMEOUT_SECONDS, scope=limits
        )
    except ScanError as exc:
        raise HostKeyScanFailed(str(exc)) from exc
    except CredentialOutOfScope as exc:
        with transaction.atomic(using=DB):
            publish_scope_refused(
                target_id=method.target_id,
                target_name=method.target.name,
                credential_name=exc.credential_name,
                address=exc.address,
                reason=exc.reason,
                via="host_key_scan",
                actor=actor,
            )
        raise ValidationError({"host": [str(exc)]}) from None
    with transaction.atomic(using=DB):
        row, _ = record_seen(
            method=method,
            key=seen,
            source=HostKey.Source.SCAN,
            state=HostKey.State.PENDING,
            actor=actor,
        )
        if row.state == HostKey.State.REJECTED:
            row.state = HostKey.State.PENDING
            row.source = HostKey.Source.SCAN
            row.decided_at, row.decided_by_id, row.decided_by_name = None, None, ""
            row.save(
                using=DB,
                update_fields=[
                    "state",
                    "source",
                    "decided_at",
                    "decided_by_id",
                    "decided_by_name",
                    "updated_at",
                ],
            )
            publish("targets.host_key.seen", _payload(row), actor=actor)
    return row


def _locked(host_key: HostKey) -> HostKey:
    return (
        HostKey.objects.using(DB)
        .select_for_update()
        .select_related("method__target")
        .get(pk=host_key.pk)
    )


def host_key_approve(*, host_key: HostKey, actor: Actor) -> HostKey:
    """Trust ``host_key``; the method's other trusted keys of its algorithm become rejected."""
    with transaction.atomic(using=DB):
        key = _locked(host_key)
        replaced = list(
            HostKey.objects.using(DB)
            .select_for_update()
            .filter(method_id=key.method_id, algorithm=key.algorithm, state=HostKey.State.TRUSTED)
            .exclude(pk=key.pk)
        )
        for old in replaced:
            _decide(old, HostKey.State.REJECTED, actor)
            old.save(
                using=DB,
                update_fields=DECISION_FIELDS,
            )
        if key.state != HostKey.State.TRUSTED or replaced:
            _decide(key, HostKey.State.TRUSTED, actor)
            key.save(
                using=DB,
                update_fields=DECISION_FIELDS,
            )
            publish(
                "targets.host_key.approved",
                _payload(key, replaced=[old.fingerprint for old in replaced]),
                actor=actor,
            )
    return key


def host_key_reject(*, host_key: HostKey, actor: Actor) -> HostKey:
    """Refuse ``host_key`` (kept on record, so the host presenting it is refused knowingly)."""
    with transaction.atomic(using=DB):
        key = _locked(host_key)
        if key.state != HostKey.State.REJECTED:
            _decide(key, HostKey.State.REJECTED, actor)
            key.save(
                using=DB,
                update_fields=DECISION_FIELDS,
            )
            publish("targets.host_key.rejected", _payload(key), actor=actor)
    return key


def parse_known_hosts_line(line: str) -> SeenHostKey:
    """``<algorithm> <base64> [comment]`` (an optional leading host field is ignored)."""
    fields = line.strip().split()
    if fields and not fields[0].startswith(("ssh-", "ecdsa-", "sk-")):
        fields = fields[1:]  # "host algorithm key" as in a known_hosts file
    if len(fields) < 2:
        raise ValidationError({"key": "Give the key as in known_hosts: '<algorithm> <base64>'."})
    algorithm, text = fields[0], fields[1]
    try:
        blob = base64.b64decode(text, validate=True)
        key = paramiko.PKey.from_type_string(algorithm, blob)
    except (binascii.Error, ValueError, paramiko.SSHException, TypeError, IndexError) as exc:
        raise ValidationError({"key": f"Not a readable {algorithm} public key."}) from exc
    return SeenHostKey(
        algorithm=key.get_name(), public_key=key.get_base64(), fingerprint=fingerprint_sha256(blob)
    )


def host_key_add(*, method: ConnectionMethod, line: str, actor: Actor) -> HostKey:
    """Trust a key an admin typed in (as in known_hosts), like an approval of a scanned key."""
    if method.protocol != ConnectionMethod.Protocol.SSH:
        raise ValidationError({"method_id": "Only SSH connection methods have host keys."})
    seen = parse_known_hosts_line(line)
    with transaction.atomic(using=DB):
        row, _ = record_seen(
            method=method,
            key=seen,
            source=HostKey.Source.MANUAL,
            state=HostKey.State.PENDING,
            actor=actor,
        )
        return host_key_approve(host_key=row, actor=actor)
