"""Writes of the audit context: appending events to the chain, verifying it, retention.

Appending locks ``AuditChainHead`` (one row) for the transaction, so concurrent writers append
one after the other and the chain never forks; events arrive in batches (the audit subscriber
is a batch subscriber), so the lock is taken once per batch, not per event. An event already
recorded (a redelivery) is skipped: its id is the record's id.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from apps.audit import integrity
from apps.audit.describe import describe, masked
from apps.audit.export import record_as_dict
from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditRecord, AuditVerification
from opsconductor.events import SYSTEM, Actor, Event, publish

DB = "audit"
logger = logging.getLogger(__name__)
VERIFY_CHUNK = 5000


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def _head() -> AuditChainHead:
    head = AuditChainHead.objects.using(DB).select_for_update().filter(pk=1).first()
    if head is None:  # a database made before the chain existed: start it
        AuditChainHead.objects.using(DB).get_or_create(pk=1, defaults={"hash": integrity.GENESIS})
        head = AuditChainHead.objects.using(DB).select_for_update().get(pk=1)
    return head


# The columns of a record, in the order COPY writes them: the hashed fields, then the links.
COLUMNS = (*integrity.FIELDS, "prev_hash", "hash")


@dataclass
class _Prepared:
    """An event made into a record, all but its place in the chain."""

    values: dict[str, Any]
    parts: tuple[bytes, bytes]  # integrity.canonical_parts(values)
    details_json: str
    changes_json: str


def _prepare(event: Event, now: datetime) -> _Prepared:
    payload = masked(event.payload)
    values: dict[str, Any] = {
        "id": event.id,
        "action": event.type[:100],
        "occurred_at": event.occurred_at,
        "recorded_at": now,
        "actor_kind": event.actor.kind[:20],
        "actor_id": (event.actor.id or "")[:64],
        "actor_name": (event.actor.name or "")[:150],
        "source_ip": _ip_or_none(event.context.get("ip")),
        "user_agent": (event.context.get("user_agent") or "")[:400],
        "request_id": (event.context.get("request_id") or "")[:128],
        **describe(event.type, payload),
    }
    # the hash covers the values as the database gives them back
    details_json = json.dumps(payload, default=str)
    changes_json = json.dumps(values["changes"], default=str)
    values["details"] = json.loads(details_json)
    values["changes"] = json.loads(changes_json)
    return _Prepared(values, integrity.canonical_parts(values), details_json, changes_json)


def audit_record_events(*, events: list[Event]) -> list[AuditRecord]:
    """Append ``events`` to the trail, each once (redeliveries change nothing); the records
    made. One transaction and one lock of the chain's head for the whole batch.

    Everything that does not depend on a record's place in the chain (masking, describing,
    the canonical content) is prepared before the lock is taken; under it only the
    redelivery check, the sequence and hash, and the write (``COPY`` on PostgreSQL), so
    concurrent writers wait on each other as little as possible."""
    now = timezone.now()
    prepared: dict[Any, _Prepared] = {}
    for event in events:
        if event.id not in prepared:
            prepared[event.id] = _prepare(event, now)
    with transaction.atomic(using=DB):
        head = _head()
        seen = set(
            AuditRecord.objects.using(DB).filter(id__in=list(prepared)).values_list("id", flat=True)
        )
        sequence, previous = head.sequence, head.hash
        rows = []
        for event_id, item in prepared.items():
            if event_id in seen:
                continue
            sequence += 1
            digest = integrity.chain_hash_of_parts(previous, item.parts, sequence)
            rows.append((item, sequence, previous, digest))
            previous = digest
        if rows:
            _write(rows)
            head.sequence, head.hash = sequence, previous
            head.save(using=DB, update_fields=["sequence", "hash"])
    made = []
    for item, number, prev, digest in rows:
        record = AuditRecord(**item.values, sequence=number, prev_hash=prev, hash=digest)
        record._state.adding, record._state.db = False, DB  # as if loaded: it is stored
        made.append(record)
    return made


def _write(rows: list[tuple[_Prepared, int, str, str]]) -> None:
    connection = connections[DB]
    if connection.vendor != "postgresql":
        AuditRecord.objects.using(DB).bulk_create(
            AuditRecord(**item.values, sequence=number, prev_hash=prev, hash=digest)
            for item, number, prev, digest in rows
        )
        return
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(name) for name in COLUMNS)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for item, number, prev, digest in rows:
            v = item.values
            copy.write_row((
                v["id"], number, v["action"], v["occurred_at"], v["recorded_at"],
                v["actor_kind"], v["actor_id"], v["actor_name"], v["source_ip"],
                v["user_agent"], v["request_id"], v["object_type"], v["object_id"],
                v["object_name"], v["outcome"], item.details_json, item.changes_json,
                prev, digest,
            ))  # fmt: skip


def audit_record_event(*, event: Event) -> AuditRecord:
    """``audit_record_events`` for one event; its record (the existing one on a redelivery)."""
    made = audit_record_events(events=[event])
    return made[0] if made else AuditRecord.objects.using(DB).get(pk=event.id)


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_sequence: int | None
    last_sequence: int | None
    problem: str = ""  # which record and what is wrong with it
    record_id: str = ""


def _records_from(sequence: int, until: int | None = None) -> Iterator[AuditRecord]:
    """Records from ``sequence`` on (up to ``until``), in order, in chunks (a million rows
    never in memory)."""
    last = sequence - 1
    while True:
        records = AuditRecord.objects.using(DB).filter(sequence__gt=last)
        if until is not None:
            records = records.filter(sequence__lte=until)
        chunk = list(records.order_by("sequence")[:VERIFY_CHUNK])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].sequence


def audit_verify(*, from_checkpoint: bool = False) -> Verdict:
    """Walk the chain and name the first record that was altered, inserted or removed.

    From the start of the trail (after the latest retention checkpoint, whose signature is
    checked, if records were purged), or with ``from_checkpoint`` from the latest checkpoint of
    any kind."""
    checkpoints = AuditCheckpoint.objects.using(DB).order_by("-sequence")
    checkpoint = (
        checkpoints.first() if from_checkpoint else checkpoints.filter(kind="retention").first()
    )
    expected_sequence, previous = 1, integrity.GENESIS
    # the head as committed when the walk starts: records appended meanwhile (the trail keeps
    # growing while a long walk runs) are left to the next verification, not taken for records
    # removed from the end
    head = AuditChainHead.objects.using(DB).filter(pk=1).first()
    if checkpoint is not None:
        if not integrity.checkpoint_is_authentic(checkpoint):
            return Verdict(False, 0, None, None,
                           f"checkpoint at sequence {checkpoint.sequence} has a bad signature "
                           "(it was altered or forged)")  # fmt: skip
        expected_sequence, previous = checkpoint.sequence + 1, checkpoint.hash
    checked, first = 0, None
    for record in _records_from(expected_sequence, head.sequence if head is not None else None):
        first = first or record.sequence
        if record.sequence != expected_sequence:
            what = "removed" if record.sequence > expected_sequence else "duplicated"
            return Verdict(False, checked, first, record.sequence,
                           f"record {expected_sequence} was {what}: the chain jumps to "
                           f"{record.sequence} (id {record.id})", str(record.id))  # fmt: skip
        if record.prev_hash != previous:
            return Verdict(False, checked, first, record.sequence,
                           f"record {record.sequence} (id {record.id}) does not follow record "
                           f"{record.sequence - 1}: a record was inserted or removed before it",
                           str(record.id))  # fmt: skip
        if integrity.chain_hash(previous, integrity.record_values(record)) != record.hash:
            return Verdict(False, checked, first, record.sequence,
                           f"record {record.sequence} (id {record.id}) was altered: its content "
                           "does not match its hash", str(record.id))  # fmt: skip
        previous = record.hash
        expected_sequence += 1
        checked += 1
    if head is not None and head.sequence >= expected_sequence:
        return Verdict(False, checked, first, expected_sequence - 1,
                       f"records {expected_sequence} to {head.sequence} were removed from the "
                       "end of the chain")  # fmt: skip
    if head is not None and head.sequence == expected_sequence - 1 and head.hash != previous:
        problem = f"the last record ({head.sequence}) does not match the chain's head"
        return Verdict(False, checked, first, head.sequence, problem)
    return Verdict(True, checked, first, expected_sequence - 1)


# -- verification runs: scheduled, requested, or from the command line -----------------------------

# a requested verification still queued or running after this long is taken for lost (its
# worker died): a new request starts another
VERIFICATION_LOST_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def verification_pending() -> AuditVerification | None:
    """The verification queued or running now, if any (one lost with its worker is not)."""
    return (
        AuditVerification.objects.using(DB)
        .filter(finished_at__isnull=True)
        .filter(requested_at__gte=timezone.now() - VERIFICATION_LOST_AFTER)
        .order_by("-id")
        .first()
    )


def verification_last() -> AuditVerification | None:
    """The latest verification that finished (passed or failed)."""
    return (
        AuditVerification.objects.using(DB)
        .filter(finished_at__isnull=False)
        .order_by("-id")
        .first()
    )


def verification_request(*, trigger: str, actor: Actor) -> tuple[AuditVerification, bool]:
    """A verification to run: the one already queued or running (``False``), or a new one
    (``True``; the caller sends it to a worker, ``tasks.verify_chain``)."""
    with transaction.atomic(using=DB):
        # one request at a time decides (two admins clicking at once start one walk)
        _head()
        pending = verification_pending()
        if pending is not None:
            return pending, False
        made = AuditVerification.objects.using(DB).create(
            trigger=trigger, requested_at=timezone.now(), requested_by=actor.name or actor.kind
        )
    return made, True


def verification_run(
    *,
    verification_id: int | None = None,
    trigger: str = "schedule",
    actor: Actor = SYSTEM,
    from_checkpoint: bool = False,
) -> AuditVerification:
    """Walk the chain (``audit_verify``) for the verification ``verification_id`` (or a new
    one of ``trigger``), store the result and record it in the trail
    (``audit.verification.finished``, outcome ``passed`` or ``failed``)."""
    if verification_id is not None:
        verification = AuditVerification.objects.using(DB).get(pk=verification_id)
    else:
        verification = AuditVerification.objects.using(DB).create(
            trigger=trigger, requested_at=timezone.now(), requested_by=actor.name or actor.kind
        )
    verification.started_at = timezone.now()
    verification.save(using=DB, update_fields=["started_at"])
    verdict = audit_verify(from_checkpoint=from_checkpoint)
    verification.finished_at = timezone.now()
    verification.ok = verdict.ok
    verification.checked = verdict.checked
    verification.first_sequence = verdict.first_sequence
    verification.last_sequence = verdict.last_sequence
    verification.problem = verdict.problem
    verification.record_id = verdict.record_id
    with transaction.atomic(using=DB):
        verification.save(using=DB)
        publish(
            "audit.verification.finished",
            {"verification_id": verification.pk, "status": verification.state,
             "trigger": verification.trigger, "checked": verdict.checked,
             "first_sequence": verdict.first_sequence, "last_sequence": verdict.last_sequence,
             "problem": verdict.problem},
            actor=actor,
        )  # fmt: skip
    if not verdict.ok:
        logger.error("audit chain verification failed: %s", verdict.problem)
    return verification


# -- retention ------------------------------------------------------------------------------------


def audit_purge(
    *, older_than: timedelta | None = None, export_dir: str | None = None, batch: int = 10_000
) -> dict[str, int | str]:
    """Remove the records older than the retention period (``AUDIT_RETENTION_DAYS``), oldest
    first, in batches: only a prefix of the chain, so that what stays is verifiable from a
    signed checkpoint of what was removed. With ``export_dir`` (or
    ``AUDIT_RETENTION_EXPORT_DIR``) each batch is first written there as JSON Lines. The purge
    is itself recorded (event ``audit.retention.purged``)."""
    older_than = older_than or timedelta(days=settings.AUDIT_RETENTION_DAYS)
    export_dir = export_dir if export_dir is not None else settings.AUDIT_RETENTION_EXPORT_DIR
    cutoff = timezone.now() - older_than
    # the prefix: every record before the first one that is still within the period
    keep_from = (
        AuditRecord.objects.using(DB).filter(occurred_at__gte=cutoff).order_by("sequence")
        .values_list("sequence", flat=True).first()
    )  # fmt: skip
    upto = (keep_from - 1) if keep_from is not None else (
        AuditRecord.objects.using(DB).order_by("-sequence").values_list("sequence", flat=True)
        .first() or 0
    )  # fmt: skip
    first = (
        AuditRecord.objects.using(DB).order_by("sequence").values_list("sequence", flat=True)
        .first()
    )  # fmt: skip
    if first is None or upto < first:
        return {"removed": 0}
    removed, exported = 0, ""
    start = first
    while start <= upto:
        end = min(start + batch - 1, upto)
        with transaction.atomic(using=DB):
            rows = list(
                AuditRecord.objects.using(DB).filter(sequence__gte=start, sequence__lte=end)
                .order_by("sequence")
            )  # fmt: skip
            if export_dir:
                exported = str(_export(rows, Path(export_dir)))
            last = rows[-1]
            checkpoint = AuditCheckpoint(
                kind="retention", sequence=last.sequence, hash=last.hash,
                removed_count=removed + len(rows), removed_until=cutoff,
                first_removed_sequence=first, export_path=exported,
            )  # fmt: skip
            checkpoint.signature = integrity.sign_checkpoint(checkpoint)
            checkpoint.save(using=DB)
            _delete_range(start, end)
        removed += len(rows)
        start = end + 1
    with transaction.atomic(using=DB):
        publish(
            "audit.retention.purged",
            {"removed": removed, "up_to_sequence": upto, "older_than": cutoff,
             "export_path": exported},
            actor=SYSTEM,
        )  # fmt: skip
    logger.info("audit retention removed %d records (up to sequence %d)", removed, upto)
    return {"removed": removed, "up_to_sequence": upto, "export_path": exported}


def _delete_range(start: int, end: int) -> None:
    """The one path that deletes audit records (the PostgreSQL trigger lets it through)."""
    connection = connections[DB]
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    column = connection.ops.quote_name("sequence")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL opsconductor.audit_retention = 'on'")
        cursor.execute(
            f"DELETE FROM {table} WHERE {column} BETWEEN %s AND %s",  # noqa: S608
            [start, end],
        )


def _export(rows: list[AuditRecord], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"audit-{rows[0].sequence:012d}-{rows[-1].sequence:012d}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(record_as_dict(row), default=str) + "\n")
    return path
