"""The import run: order of tables, the mapping table, one transaction per record, dry runs.

Every legacy record is imported by ``import_record``: if the mapping table knows it, it is
"already present" (and flagged if its legacy content changed since); otherwise the object is
created, with an id derived from the legacy row (so a run interrupted between the creation and
the mapping row finds the object again instead of creating a second one), and the mapping row
is written. Any error of one record is reported with its reason and the run goes on.

A dry run does all of it inside one transaction per database alias that is rolled back at the
end: dependent records (a job's targets, a schedule's job) resolve exactly as in a real run,
the report is the same, and nothing is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError as DrfValidationError

from legacy_bridge.importing.legacy import LegacyDatabase, legacy_fernet
from legacy_bridge.importing.models import ImportedRecord, ImportRun
from legacy_bridge.importing.report import Report, TableReport
from opsconductor.events import Actor, publish

logger = logging.getLogger("opsconductor.legacy_import")

DB = "default"
TABLES = ("users", "targets", "jobs", "schedules", "history")
IMPORT_ACTOR = Actor(kind="system", id=None, name="legacy import")
# Ids of imported objects are uuid5 of "<legacy table>:<legacy id>" in this namespace (or the
# legacy row's own uuid where it has one).
NAMESPACE = uuid.UUID("5d0f4a52-3a0e-4c41-9b51-0a7c1f3b2e11")


class RecordProblem(Exception):
    """A legacy record cannot be imported as it is; the message is the reason in the report."""


class DryRunRollback(Exception):
    """Raised at the end of a dry run to roll every write back."""


def derived_id(legacy_table: str, legacy_id: Any) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{legacy_table}:{legacy_id}")


def fingerprint(data: Any) -> str:
    """SHA-256 of a row's imported fields (JSON, keys sorted; dates as ISO text)."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe_error(exc: BaseException) -> str:
    """A one-line reason for the report. Validation errors name their fields; nothing here ever
    holds a secret (credentials are validated by code that never echoes them)."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            parts = [f"{key}: {' '.join(map(str, msgs))}" for key, msgs in exc.message_dict.items()]
        else:
            parts = [" ".join(map(str, exc.messages))]
        return "invalid: " + "; ".join(parts)
    if isinstance(exc, DrfValidationError):
        return "invalid: " + "; ".join(_flatten(exc.detail))
    if isinstance(exc, RecordProblem):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out += _flatten(value, f"{prefix}{key}." if prefix or key else prefix)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [f"{prefix.rstrip('.')}: {' '.join(str(i) for i in detail)}".lstrip(": ")]
        out = []
        for index, item in enumerate(detail):
            out += _flatten(item, f"{prefix}{index}.")
        return out
    return [f"{prefix.rstrip('.')}: {detail}".lstrip(": ")]


@dataclass(frozen=True)
class Mapped:
    new_id: uuid.UUID
    fingerprint: str


class MappingTable:
    """The legacy-id -> new-id table, cached per legacy table (ids and digests only)."""

    def __init__(self, run_id: uuid.UUID | None) -> None:
        self.run_id = run_id
        self._cache: dict[str, dict[str, Mapped]] = {}

    def table(self, legacy_table: str) -> dict[str, Mapped]:
        if legacy_table not in self._cache:
            rows = ImportedRecord.objects.using(DB).filter(legacy_table=legacy_table)
            self._cache[legacy_table] = {
                legacy_id: Mapped(new_id, fp)
                for legacy_id, new_id, fp in rows.values_list(
                    "legacy_id", "new_id", "fingerprint"
                ).iterator(chunk_size=5000)
            }
        return self._cache[legacy_table]

    def get(self, legacy_table: str, legacy_id: Any) -> Mapped | None:
        return self.table(legacy_table).get(str(legacy_id))

    def new_id(self, legacy_table: str, legacy_id: Any) -> uuid.UUID | None:
        mapped = self.get(legacy_table, legacy_id)
        return mapped.new_id if mapped else None

    def write(
        self, legacy_table: str, legacy_id: Any, new_id: uuid.UUID, digest: str
    ) -> ImportedRecord:
        """Write one mapping row (in the caller's transaction); ``remember`` it after commit."""
        return ImportedRecord.objects.using(DB).create(
            legacy_table=legacy_table,
            legacy_id=str(legacy_id),
            new_id=new_id,
            fingerprint=digest,
            run_id=self.run_id,
        )

    def write_many(self, rows: list[tuple[str, Any, uuid.UUID, str]]) -> None:
        ImportedRecord.objects.using(DB).bulk_create(
            [
                ImportedRecord(
                    legacy_table=table,
                    legacy_id=str(legacy_id),
                    new_id=new_id,
                    fingerprint=digest,
                    run_id=self.run_id,
                )
                for table, legacy_id, new_id, digest in rows
            ]
        )

    def remember(self, legacy_table: str, legacy_id: Any, new_id: uuid.UUID, digest: str) -> None:
        self.table(legacy_table)[str(legacy_id)] = Mapped(new_id, digest)


@dataclass
class Options:
    only: tuple[str, ...] = TABLES
    dry_run: bool = False
    host_key_policy: str = "accept-new"
    history_batch: int = 500
    # Zone of imported cron/recurring schedules: "effective" (UTC, where the legacy scheduler
    # evaluated them: same instants) or "declared" (their declared zone: same wall-clock times
    # there, which moves them). See schedule_conversion.
    schedule_zones: str = "effective"


@dataclass
class Context:
    legacy: LegacyDatabase
    report: Report
    options: Options
    mapping: MappingTable
    fernet: Fernet | None
    run_id: uuid.UUID
    # Keys the HMAC that recognises identical credentials (derived from the legacy key).
    dedup_key: bytes = b""
    actor: Actor = IMPORT_ACTOR
    # What earlier steps of this run learned, for later ones (e.g. legacy user id -> username).
    facts: dict[str, Any] = field(default_factory=dict)


def import_record(
    ctx: Context,
    table: TableReport,
    *,
    legacy_table: str,
    legacy_id: Any,
    digest: str,
    new_id: uuid.UUID,
    create: Callable[[uuid.UUID], bool],
) -> uuid.UUID | None:
    """Import one record in its own transaction; returns its new id (None if it failed)."""
    mapped = ctx.mapping.get(legacy_table, legacy_id)
    if mapped is not None:
        table.present_one(legacy_id, changed=mapped.fingerprint != digest)
        return mapped.new_id
    try:
        with transaction.atomic(using=DB):
            created = create(new_id)
            ctx.mapping.write(legacy_table, legacy_id, new_id, digest)
    except Exception as exc:
        table.fail(legacy_id, describe_error(exc))
        if not isinstance(exc, (DjangoValidationError, DrfValidationError, RecordProblem)):
            logger.warning(
                "legacy import: %s %s failed: %s", legacy_table, legacy_id, describe_error(exc)
            )
        return None
    ctx.mapping.remember(legacy_table, legacy_id, new_id, digest)
    if created:
        table.imported_one()
    else:  # created by an interrupted run that did not get to write its mapping row
        table.present_one(legacy_id)
        table.note("some records existed without a mapping row (an interrupted run): adopted")
    return new_id


COMMIT_EVERY = 200


@contextlib.contextmanager
def batched(ctx: Context, *aliases: str, size: int = COMMIT_EVERY):
    """Commit every ``size`` records instead of after each one: the loop calls the yielded
    ``tick()`` after every record. Each record still runs in its own savepoint (a failing one
    is rolled back alone and reported); only the commits are grouped. An interrupted run loses
    at most the last uncommitted group, which the next run imports again. A dry run is already
    inside one transaction per alias: nothing to group there."""
    if ctx.options.dry_run:
        yield lambda: None
        return
    stack = contextlib.ExitStack()
    wanted = list(dict.fromkeys((DB, *aliases)))

    def begin() -> None:
        for alias in wanted:
            stack.enter_context(transaction.atomic(using=alias))

    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % size == 0:
            stack.close()
            begin()

    begin()
    try:
        yield tick
    except BaseException:
        stack.__exit__(*sys.exc_info())
        raise
    stack.close()


def publish_summary(ctx: Context, table: TableReport) -> None:
    """One audit event per table (never one per row)."""
    with transaction.atomic(using=DB):
        publish(
            "legacy_import.table.imported",
            {
                "id": str(ctx.run_id),
                "name": f"legacy {table.table}",
                "table": table.table,
                "dry_run": ctx.options.dry_run,
                "read": table.read,
                "imported": table.imported,
                "already_present": table.present,
                "skipped": table.skipped,
                "failed": table.failed,
                "changed_since_import": table.changed_since,
                "verification_ok": table.verification.get("ok"),
            },
            actor=ctx.actor,
        )


def _step(name: str) -> Callable[[Context], None]:
    import importlib

    return importlib.import_module(f"legacy_bridge.importing.{name}").run


def _aliases() -> list[str]:
    return list(settings.DATABASES)


class ImportBusy(Exception):
    """Another import is running against this installation."""


# pg_advisory_lock key of the import (any constant: "legacy import" as a 64-bit number).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"opsconductor legacy import").digest()[:8], "big") >> 1


@contextlib.contextmanager
def one_import_at_a_time():
    """Refuse a second import while one runs (two would race to create the same records). A
    PostgreSQL session advisory lock on the default database; the embedded SQLite default
    serialises writers anyway."""
    from django.db import connections

    connection = connections[DB]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ImportBusy("another legacy import is running; wait for it to finish")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def run_import(*, legacy_url: str, secret_key: str, options: Options) -> Report:
    """Import the tables ``options.only`` (in dependency order) and return the report."""
    report = Report(
        dry_run=options.dry_run,
        only=[t for t in TABLES if t in options.only and set(options.only) != set(TABLES)],
        options={
            "host_key_policy": options.host_key_policy,
            "schedule_zones": options.schedule_zones,
        },
    )
    report.started_at = timezone.now().isoformat(timespec="seconds")
    run_id = uuid.uuid4()
    report.run_id = str(run_id)
    fernet = legacy_fernet(secret_key) if secret_key else None
    run_row = None
    with one_import_at_a_time(), LegacyDatabase(legacy_url) as legacy:
        ctx = Context(
            legacy=legacy,
            report=report,
            options=options,
            mapping=MappingTable(None if options.dry_run else run_id),
            fernet=fernet,
            run_id=run_id,
            dedup_key=hashlib.sha256(b"legacy-credential-dedup:" + secret_key.encode()).digest(),
        )
        with contextlib.ExitStack() as stack:
            if options.dry_run:
                for alias in _aliases():
                    stack.enter_context(transaction.atomic(using=alias))
            else:
                run_row = ImportRun.objects.using(DB).create(
                    id=run_id,
                    started_at=timezone.now(),
                    only=list(options.only),
                    options=report.options,
                )
            try:
                for name in TABLES:
                    if name in options.only:
                        started, before = time.monotonic(), set(report.tables)
                        _step(name)(ctx)
                        for table_name in set(report.tables) - before:
                            if not report.tables[table_name].seconds:
                                report.tables[table_name].seconds = time.monotonic() - started
                from legacy_bridge.importing.verify import verify_all

                verify_all(ctx)
                for table in report.tables.values():
                    publish_summary(ctx, table)
            except Exception as exc:
                report.error = describe_error(exc)
                logger.exception("legacy import stopped")
            report.finished_at = timezone.now().isoformat(timespec="seconds")
            if options.dry_run:
                for alias in _aliases():
                    transaction.set_rollback(True, using=alias)
    if run_row is not None:
        run_row.finished_at = timezone.now()
        run_row.status = ImportRun.Status.FAILED if report.error else ImportRun.Status.FINISHED
        run_row.report = report.as_dict()
        run_row.save(using=DB)
    return report
