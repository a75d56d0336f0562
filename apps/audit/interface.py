"""The only module of the audit app other apps may import.

The audit context owns the audit trail: consumes every app's events, queries, export and retention.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One record of the trail as data (details and changes with secrets masked, as stored)."""

    id: uuid.UUID
    sequence: int
    action: str  # the event type, e.g. targets.target.created
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_name: str
    source_ip: str | None
    user_agent: str
    request_id: str
    object_type: str
    object_id: str
    object_name: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    hash: str = ""


def _records(action: str | None):
    from apps.audit import selectors

    records = selectors.audit_records()
    return records.filter(action=action) if action else records


def audit_entries(
    *, offset: int, limit: int, newest_first: bool = True, action: str | None = None
) -> tuple[list[AuditEntry], int]:
    """A page of the trail (``limit`` records after the first ``offset``, by time), only the
    records of the event type ``action`` when given, and how many records match in all."""
    records = _records(action)
    order = ("-sequence",) if newest_first else ("sequence",)
    page = records.order_by(*order)[offset : offset + limit]
    entries = [
        AuditEntry(
            id=r.id,
            sequence=r.sequence,
            action=r.action,
            occurred_at=r.occurred_at,
            actor_kind=r.actor_kind,
            actor_id=r.actor_id,
            actor_name=r.actor_name,
            source_ip=r.source_ip,
            user_agent=r.user_agent,
            request_id=r.request_id,
            object_type=r.object_type,
            object_id=r.object_id,
            object_name=r.object_name,
            outcome=r.outcome,
            details=r.details,
            changes=r.changes,
            hash=r.hash,
        )
        for r in page
    ]
    return entries, records.count()


def audit_actions() -> list[str]:
    """Every event type the trail holds, sorted."""
    return sorted(_records(None).order_by().values_list("action", flat=True).distinct())


def audit_export(*, kind: str, action: str | None = None) -> Iterator[str]:
    """The trail (of the event type ``action`` when given), newest first, as the pieces of a
    CSV (``kind="csv"``) or a JSON array (``kind="json"``) document, streamed in chunks: the
    columns of ``GET /api/v1/audit/export/`` (docs/audit.md)."""
    from apps.audit import export

    records = _records(action)
    if kind == "csv":
        return export.csv_lines(records)
    if kind != "json":
        raise ValueError(f"kind must be csv or json, not {kind!r}")

    def array() -> Iterator[str]:
        yield "["
        for index, line in enumerate(export.jsonl_lines(records)):
            yield ("," if index else "") + "\n" + line.rstrip("\n")
        yield "\n]\n"

    return array()
