"""Audit records as rows for export: JSON Lines and CSV, streamed (a million records never sit
in memory: the queryset is read in chunks by sequence)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from apps.audit.models import AuditRecord

COLUMNS = (
    "sequence", "id", "occurred_at", "recorded_at", "action", "outcome", "actor_kind",
    "actor_id", "actor_name", "source_ip", "user_agent", "request_id", "object_type",
    "object_id", "object_name", "details", "changes", "prev_hash", "hash",
)  # fmt: skip
CHUNK = 2000


def record_as_dict(record: AuditRecord) -> dict[str, Any]:
    return {
        name: (
            getattr(record, name).isoformat()
            if name in ("occurred_at", "recorded_at")
            else str(record.id)
            if name == "id"
            else getattr(record, name)
        )
        for name in COLUMNS
    }


def _chunks(records: QuerySet[AuditRecord]) -> Iterator[AuditRecord]:
    """Newest first, by keyset on sequence (no OFFSET, no server-side cursor needed)."""
    last = None
    while True:
        page = records.order_by("-sequence")
        if last is not None:
            page = page.filter(sequence__lt=last)
        rows = list(page[:CHUNK])
        if not rows:
            return
        yield from rows
        last = rows[-1].sequence


def jsonl_lines(records: QuerySet[AuditRecord]) -> Iterator[str]:
    for record in _chunks(records):
        yield json.dumps(record_as_dict(record), default=str, ensure_ascii=False) + "\n"


def csv_lines(records: QuerySet[AuditRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(COLUMNS)
    yield take()
    for record in _chunks(records):
        row = record_as_dict(record)
        for name in ("details", "changes"):
            row[name] = json.dumps(row[name], default=str, ensure_ascii=False, sort_keys=True)
        writer.writerow([_cell(row[name]) for name in COLUMNS])
        yield take()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # a cell a spreadsheet would run as a formula is quoted as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
