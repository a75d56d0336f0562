"""Writes of the audit context."""

from __future__ import annotations

import ipaddress

from apps.audit.models import AuditRecord
from opsconductor.events import Event


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def audit_record_event(*, event: Event) -> AuditRecord:
    """Store ``event`` in the trail (once: a second call with the same event id changes nothing)."""
    record, _ = AuditRecord.objects.get_or_create(
        id=event.id,
        defaults={
            "action": event.type,
            "occurred_at": event.occurred_at,
            "actor_kind": event.actor.kind,
            "actor_id": event.actor.id or "",
            "actor_name": event.actor.name,
            "source_ip": _ip_or_none(event.context.get("ip")),
            "user_agent": (event.context.get("user_agent") or "")[:400],
            "request_id": event.context.get("request_id", ""),
            "details": event.payload,
        },
    )
    return record
