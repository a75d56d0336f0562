"""Changing the route table (admins only, through the API or the admin). Every change bumps
the table's version, so every web process picks it up on its next request, and publishes an
event for the audit trail in the same transaction."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from legacy_bridge.adapters import adapter_names
from legacy_bridge.models import Mode, Route, RouteTableVersion
from legacy_bridge.routing import normalize_prefix
from opsconductor.events import Actor, publish

DB = "default"
FIELDS = ("prefix", "mode", "new_url", "adapter", "message", "note")


def _bump_version() -> None:
    updated = RouteTableVersion.objects.using(DB).filter(pk=1).update(version=F("version") + 1)
    if not updated:
        RouteTableVersion.objects.using(DB).create(pk=1, version=1)


def _clean(values: dict, *, existing: Route | None) -> dict:
    """Validated, normalized values; raises ``ValidationError`` naming each field's reason."""
    merged = {field: getattr(existing, field) for field in FIELDS} if existing else {}
    merged.update({k: v for k, v in values.items() if k in FIELDS})
    errors: dict[str, list[str]] = {}
    try:
        merged["prefix"] = normalize_prefix(merged.get("prefix", ""))
    except ValueError as exc:
        errors["prefix"] = [str(exc)]
    mode = merged.get("mode", "")
    if mode not in Mode.values:
        errors["mode"] = [f"Must be one of: {', '.join(Mode.values)}."]
    for field in ("new_url", "adapter", "message", "note"):
        merged[field] = (merged.get(field) or "").strip()
    new_url = merged["new_url"]
    if (
        new_url and not (new_url.startswith("/") or new_url.startswith(("http://", "https://")))
    ) or any(c in new_url for c in ' \r\n"<>'):
        errors["new_url"] = ["Must be a path starting with '/' or an http(s) URL."]
    if merged["adapter"] and merged["adapter"] not in adapter_names():
        errors["adapter"] = [f"Unknown adapter; registered: {', '.join(adapter_names())}."]
    if mode == Mode.MIGRATED and not new_url and not merged["adapter"]:
        errors["new_url"] = ["A migrated prefix needs the new endpoint (or an adapter)."]
    if mode != Mode.MIGRATED and merged["adapter"]:
        errors["adapter"] = ["Only a migrated prefix is answered by an adapter."]
    if errors:
        raise ValidationError(errors)
    return merged


def _changes(before: dict, after: dict) -> dict:
    return {
        field: {"from": before.get(field), "to": after[field]}
        for field in FIELDS
        if before.get(field) != after[field]
    }


def route_create(*, actor: Actor, **values) -> uuid.UUID:
    """Add a prefix to the route table. Raises ``ValidationError`` (bad values, or a row for
    this prefix exists already)."""
    clean = _clean(values, existing=None)
    with transaction.atomic(using=DB):
        if Route.objects.using(DB).filter(prefix=clean["prefix"]).exists():
            raise ValidationError({"prefix": ["A route for this prefix exists already."]})
        route = Route.objects.using(DB).create(**clean)
        _bump_version()
        publish(
            "legacy_bridge.route.created",
            {
                "route_id": str(route.id),
                "name": route.prefix,
                "mode": route.mode,
                "changes": _changes({}, clean),
            },
            actor=actor,
        )
    return route.id


def route_update(*, route_id: uuid.UUID, actor: Actor, **values) -> bool:
    """Change a route (e.g. flip its mode). Returns whether anything changed."""
    with transaction.atomic(using=DB):
        route = Route.objects.using(DB).select_for_update().get(pk=route_id)
        before = {field: getattr(route, field) for field in FIELDS}
        clean = _clean(values, existing=route)
        if clean["prefix"] != route.prefix and (
            Route.objects.using(DB).filter(prefix=clean["prefix"]).exclude(pk=route.pk).exists()
        ):
            raise ValidationError({"prefix": ["A route for this prefix exists already."]})
        changes = _changes(before, clean)
        if not changes:
            return False
        for field, value in clean.items():
            setattr(route, field, value)
        route.save()
        _bump_version()
        publish(
            "legacy_bridge.route.changed",
            {
                "route_id": str(route.id),
                "name": route.prefix,
                "mode": route.mode,
                "changes": changes,
            },
            actor=actor,
        )
    return True


def route_delete(*, route_id: uuid.UUID, actor: Actor) -> None:
    """Remove a route: its prefix falls back to the next shorter one (or a default)."""
    with transaction.atomic(using=DB):
        route = Route.objects.using(DB).select_for_update().get(pk=route_id)
        before = {field: getattr(route, field) for field in FIELDS}
        route.delete()
        _bump_version()
        publish(
            "legacy_bridge.route.deleted",
            {"route_id": str(route_id), "name": before["prefix"], "mode": before["mode"]},
            actor=actor,
        )


def forwarded_request_record(
    *,
    method: str,
    path: str,
    query: str,
    status: int,
    prefix: str,
    mode: str,
    source_ip: str,
    user_agent: str,
    request_id: str,
    duration_ms: int,
    actor: Actor | None = None,
) -> None:
    """Publish the audit event of a state-changing legacy request (POST/PUT/PATCH/DELETE).

    ``actor`` is the caller when the bridge authenticated it (a request an adapter answered).
    Otherwise the caller is not known to the new system (the backend authenticates its own
    tokens): the event names the client's address and user agent. Query values under
    secret-looking names are masked."""
    verb = "forwarded" if status < 400 else "failed"
    with transaction.atomic(using=DB):
        publish(
            f"legacy_bridge.request.{verb}",
            {
                "name": f"{method} {path}",
                "method": method,
                "path": path,
                "query": masked_query(query),
                "status": status,
                "prefix": prefix,
                "mode": mode,
                "source_ip": source_ip,
                "user_agent": user_agent,
                "request_id": request_id,
                "duration_ms": duration_ms,
            },
            actor=actor or Actor(kind="anonymous", name=f"legacy client {source_ip}".strip()),
        )


_SECRET_QUERY_HINTS = ("token", "password", "passwd", "secret", "key", "auth", "sig", "code")


def masked_query(query: str) -> str:
    """``a=1&token=xyz`` -> ``a=1&token=********``: values of secret-looking names masked."""
    if not query:
        return ""
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        if sep and any(hint in name.lower() for hint in _SECRET_QUERY_HINTS):
            parts.append(f"{name}=********")
        else:
            parts.append(part)
    return "&".join(parts)[:1000]
