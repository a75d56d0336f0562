"""Assertions shared by the accounts tests."""

from __future__ import annotations

import json

from opsconductor.events.models import OutboxEvent


def events(event_type: str | None = None) -> list[OutboxEvent]:
    rows = OutboxEvent.objects.using("default").order_by("occurred_at")
    if event_type:
        rows = rows.filter(event_type=event_type)
    return list(rows)


def assert_no_secret(row: OutboxEvent, *secrets: str) -> None:
    """Neither the payload nor anything else in the event mentions a secret or a password."""
    text = json.dumps({"payload": row.payload, "actor": row.actor, "context": row.context})
    for secret in secrets:
        assert secret not in text, f"{row.event_type} leaks a secret"
    assert '"password"' not in text.lower()


def assert_error(response, status: int, *, field: str | None = None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"]
    assert body["error"]["request_id"]
    if field is not None:
        assert field in body["error"].get("fields", {}), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
