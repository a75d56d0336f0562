"""``/api/v3/audit``: the legacy UI's audit page (O1-O5), served from the audit trail.

The trail is an admin's or an auditor's to read (as ``/api/v1/audit/``); the legacy backend
let any signed-in user read it. Events are the trail's records in the legacy shape: the
``event_type`` is the new system's event type (``targets.target.created``: what the trail
records, and what ``event-types`` lists and ``event_type=`` filters on), ``user_id`` the legacy
id of the user who acted, ``resource_id`` the legacy id of a user, target, job or schedule
acted on (what the lookups take). Paging is real: ``page`` (from 1) and ``limit``, or the
legacy ``skip``; ``total`` counts every matching record.
"""

from __future__ import annotations

import uuid

from django.http import StreamingHttpResponse
from django.utils import timezone

from apps.accounts.interface import user_summaries
from apps.audit.interface import AuditEntry, audit_actions, audit_entries, audit_export
from apps.targets.interface import target_summaries
from legacy_bridge import legacy_ids, sessions
from legacy_bridge.adapters.common import (
    INT_PARSING,
    answer,
    endpoint,
    invalid,
    new_id,
    query_int,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.responses import field_error
from opsconductor.roles import Role

area = Area(
    "legacy-audit",
    "/api/v3/audit: the audit trail in the legacy shape (events with real paging, event "
    "types, export as CSV or JSON, user and target lookups); admins and auditors.",
    root="/api/v3/audit",
)

# the trail's object types whose ids the legacy UI knows as integers
LEGACY_KINDS = {"user": "users", "target": "targets", "job": "jobs", "schedule": "schedules"}
SEVERITY = {"failure": "error", "denied": "warning", "missed": "warning"}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _legacy_refs(entries: list[AuditEntry]) -> dict[tuple[str, str], int]:
    """(kind, new id) -> legacy id of the users and objects the entries name."""
    wanted: dict[str, set[uuid.UUID]] = {}
    for entry in entries:
        actor = _uuid(entry.actor_id) if entry.actor_kind == "user" else None
        if actor:
            wanted.setdefault("users", set()).add(actor)
        kind = LEGACY_KINDS.get(entry.object_type)
        target = _uuid(entry.object_id) if kind else None
        if target:
            wanted.setdefault(kind, set()).add(target)
    refs = {}
    for kind, ids in wanted.items():
        for new, legacy in legacy_ids.legacy_ids_for(kind, ids).items():
            refs[(kind, str(new))] = legacy
    return refs


def event(entry: AuditEntry, refs: dict) -> dict:
    kind = LEGACY_KINDS.get(entry.object_type)
    resource = refs.get((kind, entry.object_id)) if kind else None
    return {
        "id": str(entry.id),
        "timestamp": entry.occurred_at.isoformat(),
        "event_type": entry.action,
        "user_id": refs.get(("users", entry.actor_id)) if entry.actor_kind == "user" else None,
        "resource_type": entry.object_type or None,
        "resource_id": str(resource) if resource is not None else (entry.object_id or None),
        "action": entry.action.rsplit(".", 1)[-1],
        "details": {**entry.details, **({"changes": entry.changes} if entry.changes else {})},
        "severity": SEVERITY.get(entry.outcome, "info"),
        "ip_address": entry.source_ip,
        "user_agent": entry.user_agent or None,
        "checksum": entry.hash,
    }


@area.endpoint("GET", r"/events", calls="O1", example="/events", role=Role.ADMIN, auditor=True)
@endpoint
def events(request):
    """``page`` (from 1) and ``limit`` as the UI sends them, or the legacy ``skip``;
    ``order`` ``desc`` (newest first, the default) or ``asc``; ``sort`` is always the time;
    ``event_type`` filters."""
    limit = query_int(request, "limit", 100, ge=1, le=1000)
    if request.GET.get("page") is not None:
        skip = (query_int(request, "page", 1, ge=1) - 1) * limit
    else:
        skip = query_int(request, "skip", 0, ge=0)
    order = request.GET.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(
            field_error(
                ("query", "order"),
                "Input should be 'asc' or 'desc'",
                "literal_error",
                input=order,
                ctx={"expected": "'asc' or 'desc'"},
            )
        )
    sort = request.GET.get("sort", "timestamp")
    if sort not in ("timestamp", "id"):
        raise invalid(
            field_error(
                ("query", "sort"),
                "Input should be 'timestamp'",
                "literal_error",
                input=sort,
                ctx={"expected": "'timestamp'"},
            )
        )
    entries, total = audit_entries(
        offset=skip,
        limit=limit,
        newest_first=order == "desc",
        action=request.GET.get("event_type") or None,
    )
    refs = _legacy_refs(entries)
    return answer(
        {"events": [event(e, refs) for e in entries], "total": total, "skip": skip, "limit": limit}
    )


@area.endpoint(
    "GET", r"/event-types", calls="O2", example="/event-types", role=Role.ADMIN, auditor=True
)
@endpoint
def event_types(request):
    """The event types the trail holds (what ``event_type=`` filters on)."""
    return answer(
        {
            "event_types": [
                {
                    "name": action.upper().replace(".", "_"),
                    "value": action,
                    "description": action.replace(".", " ").replace("_", " ").capitalize(),
                }
                for action in audit_actions()
            ]
        }
    )


@area.endpoint("GET", r"/export", calls="O3", example="/export", role=Role.ADMIN, auditor=True)
@endpoint
def export(request):
    """The trail (``event_type=`` filters) as CSV or JSON, streamed, newest first."""
    kind = request.GET.get("format", "json")
    if kind not in ("csv", "json"):
        raise invalid(
            field_error(
                ("query", "format"),
                "Input should be 'csv' or 'json'",
                "literal_error",
                input=kind,
                ctx={"expected": "'csv' or 'json'"},
            )
        )
    content_type = "text/csv" if kind == "csv" else "application/json"
    response = StreamingHttpResponse(
        audit_export(kind=kind, action=request.GET.get("event_type") or None),
        content_type=content_type,
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    return response


def _ids(request, name: str) -> list[int]:
    raw = request.GET.get(name, "")
    numbers = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise invalid(field_error(("query", name), INT_PARSING, "int_parsing", input=raw))
        numbers.append(int(part))
    return list(dict.fromkeys(numbers))


@area.endpoint(
    "GET", r"/lookups/users", calls="O4", example="/lookups/users", role=Role.ADMIN, auditor=True
)
@endpoint
def lookup_users(request):
    found = {number: new_id("users", number) for number in _ids(request, "user_ids")}
    users = user_summaries([u for u in found.values() if u])
    out = {}
    for number, user_id in found.items():
        user = users.get(user_id) if user_id else None
        if user is None:
            continue
        out[str(number)] = {
            "id": number,
            "username": user.username,
            "email": user.email,
            "role": sessions.LEGACY_ROLES.get(user.role, user.role),
            "is_active": user.is_active,
            "display_name": user.display_name,
        }
    return answer({"users": out})


@area.endpoint(
    "GET",
    r"/lookups/targets",
    calls="O5",
    example="/lookups/targets",
    role=Role.ADMIN,
    auditor=True,
)
@endpoint
def lookup_targets(request):
    found = {number: new_id("targets", number) for number in _ids(request, "target_ids")}
    targets = target_summaries([t for t in found.values() if t])
    out = {}
    for number, target_id in found.items():
        target = targets.get(target_id) if target_id else None
        if target is None:
            continue
        out[str(number)] = {"id": number, "name": target.name, "display_name": target.name}
    return answer({"targets": out})


area.register()
