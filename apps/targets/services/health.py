"""Health of targets: probe one now, or many in parallel on the workers (queue ``targets``),
or one given connection method of a target now (``method_check_health``).

A check connects the way a job would (TCP, handshake, host-key verdict, authentication, a
harmless command), stores the outcome as a ``HealthCheck`` row and on the target, records the
host key the host presented, and publishes ``targets.target.health_changed`` when the target's
status changed. The probe runs outside any transaction; only its result is written in one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.targets.connection import ConnectionParams, HostKeyVerdict, KnownHostKey, Secret
from apps.targets.models import ConnectionMethod, HealthCheck, HostKey, Target
from apps.targets.probes import ProbeResult, SeenHostKey, probe
from apps.targets.scope import publish_scope_refused
from apps.targets.selectors import connection_params, primary_method
from apps.targets.services.hostkeys import record_seen
from opsconductor.db.reconnect import release_connections
from opsconductor.events import SYSTEM, Actor, publish
from opsconductor.sealing import SealError

DB = "targets"
logger = logging.getLogger(__name__)


def _probe(method: ConnectionMethod | None) -> ProbeResult:
    if method is None:
        return ProbeResult(status=Target.Health.ERROR, message="no connection method")
    try:
        params = connection_params(method=method)
    except SealError:
        return ProbeResult(
            status=Target.Health.ERROR,
            message="the credential cannot be unsealed with the configured keys "
            "(OPSCONDUCTOR_SEAL_KEYS); write it again or restore the key",
        )
    # the probe waits on the network for up to its timeout and needs no database meanwhile:
    # the thread's connections go back to the pools (many probes at once must not hold the
    # process's connection budget; ADR 0018)
    release_connections()
    try:
        return probe(params, timeout=settings.TARGET_HEALTH_TIMEOUT_SECONDS)
    except Exception as exc:  # probes do not raise; a missing or broken one must not either
        logger.warning("probe of target %s failed: %s", method.target_id, type(exc).__name__)
        return ProbeResult(
            status=Target.Health.ERROR, message=f"the probe failed ({type(exc).__name__})"
        )


def _record_host_key(
    *, target: Target, method: ConnectionMethod, result: ProbeResult, actor: Actor
) -> ProbeResult:
    """Record the presented key as the verdict says; may turn the result into a refusal."""
    seen, verdict = result.host_key, result.host_key_verdict
    if seen is None or verdict is None:
        return result
    if verdict == HostKeyVerdict.TRUST_ON_FIRST_USE:
        trusted_now = list(
            HostKey.objects.using(DB)
            .filter(method=method, state=HostKey.State.TRUSTED)
            .exclude(algorithm=seen.algorithm, public_key=seen.public_key)
            .values_list("fingerprint", flat=True)
        )
        if not trusted_now:
            record_seen(
                method=method,
                key=seen,
                source=HostKey.Source.FIRST_USE,
                state=HostKey.State.TRUSTED,
                actor=actor,
            )
            return result
        # Another check trusted a different key for this address since the probe started: the
        # first one wins, this one is a change (rare: concurrent first uses).
        verdict = HostKeyVerdict.CHANGED
        result = ProbeResult(
            status=Target.Health.HOST_KEY_MISMATCH,
            message=(
                f"host key for {target.name} ({method.host}:{method.port}) changed: expected "
                f"{', '.join(trusted_now)}, got {seen.fingerprint}. If the host was reinstalled, "
                "an admin can approve the new key."
            ),
            latency_ms=result.latency_ms,
            host_key=seen,
            host_key_verdict=verdict.value,
        )
    if verdict == HostKeyVerdict.TRUSTED:
        record_seen(
            method=method,
            key=seen,
            source=HostKey.Source.CONNECTION,
            state=HostKey.State.TRUSTED,
            actor=actor,
        )
        return result
    row, created = record_seen(
        method=method,
        key=seen,
        source=HostKey.Source.CONNECTION,
        state=HostKey.State.PENDING,
        actor=actor,
    )
    if verdict == HostKeyVerdict.CHANGED and (
        created or target.health_status != Target.Health.HOST_KEY_MISMATCH
    ):
        # Once per refused key (not on every periodic check while it stays refused).
        _publish_changed_refused(
            target=target, method=method, row=row, seen=seen, message=result.message, actor=actor
        )
    return result


def _publish_changed_refused(
    *, target: Target, method: ConnectionMethod, row: HostKey, seen, message: str, actor: Actor
) -> None:
    expected = list(
        HostKey.objects.using(DB)
        .filter(method=method, state=HostKey.State.TRUSTED)
        .values_list("fingerprint", flat=True)
    )
    publish(
        "targets.host_key.changed_refused",
        {
            "target_id": str(target.id),
            "name": target.name,
            "method_id": str(method.id),
            "address": f"{method.host}:{method.port}",
            "host_key_id": str(row.id),
            "algorithm": seen.algorithm,
            "expected": expected,
            "presented": seen.fingerprint,
            "message": message,
        },
        actor=actor,
    )


def target_record_host_key_refusal(
    *,
    target_id: uuid.UUID,
    method_id: uuid.UUID,
    verdict: str,
    key: SeenHostKey,
    message: str,
    actor: Actor = SYSTEM,
) -> None:
    """A real connection (a run, a retry, a scheduled run) refused the host's key: what a
    health check does with the same verdict, in one transaction. The key is recorded (pending
    for an admin; a rejected key stays rejected), the target's health becomes
    ``host_key_unknown`` or ``host_key_mismatch``, and a changed key publishes
    ``targets.host_key.changed_refused`` once per refused key."""
    verdict = HostKeyVerdict(verdict)
    status = (
        Target.Health.HOST_KEY_UNKNOWN
        if verdict == HostKeyVerdict.UNKNOWN
        else Target.Health.HOST_KEY_MISMATCH
    )
    with transaction.atomic(using=DB):
        target = Target.objects.using(DB).select_for_update().filter(pk=target_id).first()
        method = ConnectionMethod.objects.using(DB).filter(pk=method_id, target=target).first()
        if target is None or method is None:
            return
        row, created = record_seen(
            method=method,
            key=key,
            source=HostKey.Source.CONNECTION,
            state=HostKey.State.PENDING,
            actor=actor,
        )
        if verdict == HostKeyVerdict.CHANGED and (
            created or target.health_status != Target.Health.HOST_KEY_MISMATCH
        ):
            _publish_changed_refused(
                target=target, method=method, row=row, seen=key, message=message, actor=actor
            )
        _set_target_health(
            target=target, status=status, message=message[:2000], latency_ms=None,
            at=timezone.now(), actor=actor,
        )  # fmt: skip


def _set_target_health(
    *, target: Target, status: str, message: str, latency_ms: int | None, at, actor: Actor
) -> None:
    """Store the target's current health (``target`` is locked); event when it changed."""
    previous = target.health_status
    target.health_status = status
    target.health_message = message
    target.health_latency_ms = latency_ms
    target.health_checked_at = at
    target.save(
        using=DB,
        update_fields=[
            "health_status",
            "health_message",
            "health_latency_ms",
            "health_checked_at",
            "updated_at",
        ],
    )
    if previous != status:
        publish(
            "targets.target.health_changed",
            {
                "target_id": str(target.id),
                "name": target.name,
                "from": previous,
                "to": status,
                "message": message,
            },
            actor=actor,
        )


def targets_record_outcomes(
    outcomes: list[tuple[uuid.UUID, str, str]], *, actor: Actor = SYSTEM
) -> None:
    """``target_record_outcome`` for many targets in one transaction: targets whose health does
    not change get one UPDATE together; a change is saved and published one by one."""
    latest: dict[uuid.UUID, tuple[str, str]] = {}
    for target_id, status, message in outcomes:
        if status not in Target.Health.values or status == Target.Health.UNKNOWN:
            raise ValueError(f"not a health status: {status!r}")
        latest[target_id] = (status, message[:2000])
    if not latest:
        return
    at = timezone.now()
    with transaction.atomic(using=DB):
        targets = (
            Target.objects.using(DB)
            .select_for_update()
            .filter(pk__in=list(latest))
            .order_by("id")  # one lock order for every caller: no deadlocks between them
            .only("id", "name", "health_status", "health_message")
        )
        unchanged: dict[tuple[str, str], list[uuid.UUID]] = {}
        for target in targets:
            status, message = latest[target.id]
            if target.health_status == status:
                unchanged.setdefault((status, message), []).append(target.id)
                continue
            _set_target_health(
                target=target, status=status, message=message, latency_ms=None, at=at,
                actor=actor,
            )  # fmt: skip
        for (_status, message), ids in unchanged.items():
            Target.objects.using(DB).filter(pk__in=ids).update(
                health_message=message, health_latency_ms=None, health_checked_at=at,
                updated_at=at,
            )  # fmt: skip


def target_check_health(
    *,
    target_id: uuid.UUID,
    batch_id: uuid.UUID | None = None,
    check_id: uuid.UUID | None = None,
    actor: Actor = SYSTEM,
) -> HealthCheck:
    """Check one target now (synchronously) and record the outcome.

    ``check_id``: fill that pending check (a batch's) instead of creating a new row.
    Raises ``Target.DoesNotExist`` / ``HealthCheck.DoesNotExist`` for unknown ids.
    """
    target = Target.objects.using(DB).get(pk=target_id)
    started_at = timezone.now()
    if check_id is not None:
        check = HealthCheck.objects.using(DB).get(pk=check_id, target_id=target_id)
        HealthCheck.objects.using(DB).filter(pk=check_id).update(started_at=started_at)
    else:
        check = HealthCheck(target=target, batch_id=batch_id, requested_by_id=actor.user_id)
    check.started_at = started_at

    _probe_and_record(
        target_id=target_id, check=check, method=primary_method(target=target), actor=actor
    )
    return check


def method_check_health(
    *, method: ConnectionMethod, actor: Actor = SYSTEM
) -> tuple[HealthCheck, ProbeResult]:
    """Check one connection method of a target now (synchronously), whichever it is.

    The probe, the host-key verdict and its recording, the credential's scope, the
    ``HealthCheck`` row (``method`` set, ``requested_by`` the actor) and the events are those
    of ``target_check_health``. The target's own health changes only when ``method`` is the
    one that health describes (its primary method, the one runs use): checking another method
    says nothing about how runs reach the target. Returns the stored check and the probe's
    result (after the host-key verdict was applied); raises ``Target.DoesNotExist`` when the
    target is gone.
    """
    target = Target.objects.using(DB).get(pk=method.target_id)
    check = HealthCheck(target=target, requested_by_id=actor.user_id)
    check.started_at = timezone.now()
    result = _probe_and_record(
        target_id=target.id, check=check, method=method, actor=actor, only_if_primary=True
    )
    return check, result


def _probe_and_record(
    *,
    target_id: uuid.UUID,
    check: HealthCheck,
    method: ConnectionMethod | None,
    actor: Actor,
    only_if_primary: bool = False,
) -> ProbeResult:
    """Probe ``method`` and record the outcome: host key, ``check``, scope refusal, and the
    target's health (``only_if_primary``: only when ``method`` is the target's primary one)."""
    result = _probe(method)
    finished_at = timezone.now()

    with transaction.atomic(using=DB):
        target = Target.objects.using(DB).select_for_update().get(pk=target_id)
        if (
            method is not None
            and not ConnectionMethod.objects.using(DB).filter(pk=method.pk).exists()
        ):
            method = None  # deleted while the probe ran
        if method is not None:
            result = _record_host_key(target=target, method=method, result=result, actor=actor)
        check.method = method
        check.status = result.status
        check.latency_ms = result.latency_ms
        check.message = result.message
        check.finished_at = finished_at
        check.save(using=DB)
        if result.scope_refused is not None and method is not None:
            address, reason = result.scope_refused
            publish_scope_refused(
                target_id=target.id,
                target_name=target.name,
                credential_name=method.credential.name if method.credential else "",
                address=address,
                reason=reason,
                via="health_check",
                actor=actor,
            )
        describes_target = not only_if_primary
        if only_if_primary and method is not None:
            primary = primary_method(target=target)
            describes_target = primary is not None and primary.pk == method.pk
        if describes_target:
            _set_target_health(
                target=target,
                status=result.status,
                message=result.message,
                latency_ms=result.latency_ms,
                at=finished_at,
                actor=actor,
            )
    through = f" through {method.host}:{method.port}" if method and not describes_target else ""
    logger.info(
        "health of target %s (%s)%s: %s in %s ms",
        target.name,
        target.id,
        through,
        result.status,
        result.latency_ms,
    )
    return result


def targets_check_health(*, target_ids: list[uuid.UUID], actor: Actor) -> uuid.UUID:
    """Queue a check of each target on the workers; returns the batch id to follow them by.

    One pending ``HealthCheck`` per target is created now (status empty); one Celery task per
    target goes to the ``targets`` queue after commit, so many run in parallel. Unknown ids are
    a ValidationError naming them.
    """
    wanted = list(dict.fromkeys(uuid.UUID(str(i)) for i in target_ids))
    batch_id = uuid.uuid4()
    with transaction.atomic(using=DB):
        found = set(Target.objects.using(DB).filter(pk__in=wanted).values_list("id", flat=True))
        missing = [str(i) for i in wanted if i not in found]
        if missing:
            raise ValidationError({"target_ids": f"No such target: {', '.join(missing)}"})
        checks = HealthCheck.objects.using(DB).bulk_create(
            [
                HealthCheck(
                    id=uuid.uuid4(),
                    target_id=target_id,
                    batch_id=batch_id,
                    requested_by_id=actor.user_id,
                )
                for target_id in wanted
            ]
        )
        check_ids = [str(check.id) for check in checks]
        transaction.on_commit(lambda: _enqueue(check_ids, actor), using=DB)
    return batch_id


def _enqueue(check_ids: list[str], actor: Actor) -> None:
    from celery import current_app

    from apps.targets.tasks import check_target_health

    with current_app.producer_or_acquire() as producer:
        for check_id in check_ids:
            check_target_health.apply_async(
                args=(check_id,), kwargs={"actor": actor.as_dict()}, producer=producer
            )


def health_checks_expire(*, older_than: timedelta) -> int:
    """Close checks that no worker took within ``older_than`` (lost with a broker or worker)."""
    now = timezone.now()
    return (
        HealthCheck.objects.using(DB)
        .filter(status="", created_at__lt=now - older_than)
        .update(
            status=Target.Health.ERROR,
            message=f"the check did not run: no worker took it within {older_than}",
            finished_at=now,
        )
    )


def target_record_outcome(
    *, target_id: uuid.UUID, status: str, message: str = "", actor: Actor = SYSTEM
) -> None:
    """The outcome of a real connection (a run) as the target's current health."""
    if status not in Target.Health.values or status == Target.Health.UNKNOWN:
        raise ValueError(f"not a health status: {status!r}")
    with transaction.atomic(using=DB):
        target = Target.objects.using(DB).select_for_update().filter(pk=target_id).first()
        if target is None:
            return
        _set_target_health(
            target=target,
            status=status,
            message=message[:2000],
            latency_ms=None,
            at=timezone.now(),
            actor=actor,
        )


# -- a connection method not saved yet -------------------------------------------------------

UNSAVED = "the configuration being tested"


def config_check(
    *,
    protocol: str,
    host: str,
    port: int | None,
    username: str,
    credential_kind: str | None,
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[ProbeResult, ConnectionParams]:
    """Probe a connection method that is not saved yet (a target being created or edited),
    with the credential the user typed: the same probe as a health check, nothing stored but an
    event saying who tested what (``targets.method_config.tested``, without the secret).

    The typed secret is the requester's own, not a stored credential, so no credential scope
    applies (ADR 0015, amendment). The host key is held to the policy a new target gets
    (``strict``): the keys this system already trusts or rejected for that address (through
    any target's method) decide; a key it has never trusted is reported with its fingerprint
    and the credential is not sent (save the target, then approve the key). Raises
    ``ValidationError`` by field (``protocol``, ``host``, ``port``, ``credential``)."""
    errors: dict[str, list[str]] = {}
    if protocol not in (ConnectionMethod.Protocol.SSH, ConnectionMethod.Protocol.WINRM):
        errors["protocol"] = ["Must be ssh or winrm."]
    host = (host or "").strip()
    if not host or len(host) > 255 or any(c.isspace() for c in host):
        errors["host"] = ["A host name or address is required (no spaces, 255 characters)."]
    if port is None:
        port = 22 if protocol == ConnectionMethod.Protocol.SSH else 5985
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors["port"] = ["Must be a port number from 1 to 65535."]
    if credential_kind == "ssh_key" and not private_key:
        errors["credential"] = ["An SSH key credential needs its private key."]
    if credential_kind == "password" and not password:
        errors["credential"] = ["A password credential needs its password."]
    if errors:
        raise ValidationError(errors)
    known: dict[tuple[str, str], KnownHostKey] = {}
    for key in (
        HostKey.objects.using(DB)
        .filter(
            method__host=host,
            method__port=port,
            state__in=[HostKey.State.TRUSTED, HostKey.State.REJECTED],
        )
        .order_by("created_at", "id")
    ):
        known[(key.algorithm, key.public_key)] = KnownHostKey(
            algorithm=key.algorithm,
            public_key=key.public_key,
            fingerprint=key.fingerprint,
            trusted=key.state == HostKey.State.TRUSTED,
            rejected=key.state == HostKey.State.REJECTED,
        )
    params = ConnectionParams(
        target_id=uuid.UUID(int=0),
        target_name=UNSAVED,
        method_id=uuid.UUID(int=0),
        protocol=protocol,
        host=host,
        port=port,
        username=username or "",
        credential_kind=credential_kind,
        password=Secret(password),
        private_key=Secret(private_key),
        passphrase=Secret(passphrase),
        host_key_policy=Target.HostKeyPolicy.STRICT,
        known_host_keys=tuple(known.values()),
        winrm_scheme=(
            ConnectionMethod.WinrmScheme.HTTPS
            if port == 5986
            else ConnectionMethod.WinrmScheme.HTTP
        ),
    )
    release_connections()
    try:
        result = probe(params, timeout=settings.TARGET_HEALTH_TIMEOUT_SECONDS)
    except Exception as exc:  # probes do not raise; a broken one must not either
        logger.warning("probe of an unsaved configuration failed: %s", type(exc).__name__)
        result = ProbeResult(
            status=Target.Health.ERROR, message=f"the probe failed ({type(exc).__name__})"
        )
    if result.status == Target.Health.HOST_KEY_UNKNOWN and result.host_key is not None:
        result = ProbeResult(
            status=result.status,
            message=(
                f"{params.address} presented the host key {result.host_key.fingerprint}, which "
                "is not trusted yet, so the credentials were not sent. Save the target, then "
                "scan and approve its key (or give it the accept-new policy) to test the login."
            ),
            latency_ms=result.latency_ms,
            host_key=result.host_key,
            host_key_verdict=result.host_key_verdict,
        )
    with transaction.atomic(using=DB):
        publish(
            "targets.method_config.tested",
            {
                "protocol": protocol,
                "host": host,
                "port": port,
                "username": params.username,
                "credential_kind": credential_kind,
                "status": result.status,
                "host_key_fingerprint": result.host_key.fingerprint if result.host_key else None,
                "actor": actor.label,
            },
            actor=actor,
        )
    return result, params
