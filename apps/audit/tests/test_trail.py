from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.audit.models import AuditRecord
from apps.audit.services import audit_record_event
from opsconductor.events import Actor, Event, publish
from tests.fixtures import wait_for


def make_event(**overrides) -> Event:
    fields = {
        "id": uuid.uuid4(),
        "type": "targets.target.created",
        "occurred_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        "actor": Actor(kind="user", id="7", name="alice"),
        "payload": {"target_id": "t-1", "name": "web-1"},
        "context": {"ip": "10.1.2.3", "user_agent": "curl/8", "request_id": "req-123456789"},
    }
    return Event(**{**fields, **overrides})


@pytest.mark.django_db(databases=["audit"])
def test_an_event_is_recorded_once_with_who_what_where():
    event = make_event()
    audit_record_event(event=event)
    audit_record_event(event=event)  # redelivery

    record = AuditRecord.objects.get()
    assert record.id == event.id
    assert record.action == "targets.target.created"
    assert (record.actor_kind, record.actor_id, record.actor_name) == ("user", "7", "alice")
    assert record.source_ip == "10.1.2.3"
    assert record.user_agent == "curl/8"
    assert record.request_id == "req-123456789"
    assert record.details == {"target_id": "t-1", "name": "web-1"}


@pytest.mark.django_db(databases=["audit"])
def test_a_malformed_ip_in_the_context_does_not_lose_the_event():
    audit_record_event(event=make_event(context={"ip": "not-an-ip"}))
    assert AuditRecord.objects.get().source_ip is None


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_every_published_event_reaches_the_trail_through_the_broker(celery_worker):
    with transaction.atomic(using="targets"):
        event_id = publish(
            "targets.target.created", {"name": "db-1"}, actor=Actor(kind="user", name="bob")
        )
    record = wait_for(
        lambda: AuditRecord.objects.filter(id=event_id).first(), what="the audit record"
    )
    assert record.actor_name == "bob"
    assert record.details == {"name": "db-1"}


@pytest.fixture
def api(django_user_model):
    def client_for(role: str, *, is_auditor: bool = False) -> APIClient:
        user = django_user_model.objects.create_user(
            username=f"{role}-{uuid.uuid4().hex[:6]}", password="x", role=role,
            is_auditor=is_auditor,
        )  # fmt: skip
        client = APIClient()
        client.force_authenticate(user)
        return client

    return client_for


@pytest.mark.django_db(databases=["default", "audit"])
def test_only_admins_and_auditors_read_the_trail(api):
    audit_record_event(event=make_event())
    assert api("viewer").get("/api/v1/audit/events/").status_code == 403
    assert api("manager").get("/api/v1/audit/events/").status_code == 403
    assert api("viewer", is_auditor=True).get("/api/v1/audit/events/").status_code == 200
    response = api("admin").get("/api/v1/audit/events/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1 and "next" in response.json()
    assert response.json()["results"][0]["actor"] == {"kind": "user", "id": "7", "name": "alice"}


@pytest.mark.django_db(databases=["default", "audit"])
def test_auditors_cannot_change_the_trail(api):
    record = audit_record_event(event=make_event())
    auditor = api("viewer", is_auditor=True)
    assert auditor.delete(f"/api/v1/audit/events/{record.id}/").status_code == 403
    assert AuditRecord.objects.filter(id=record.id).exists()


@pytest.mark.django_db(databases=["default", "audit"])
def test_the_trail_filters_by_action_actor_and_time(api):
    audit_record_event(event=make_event(type="accounts.login.failed"))
    audit_record_event(
        event=make_event(
            type="accounts.login.succeeded",
            actor=Actor(kind="user", id="8", name="carol"),
            occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
        )
    )
    audit_record_event(event=make_event(type="targets.target.deleted"))
    client = api("admin")

    def actions(query: str) -> list[str]:
        response = client.get(f"/api/v1/audit/events/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(r["action"] for r in response.json()["results"])

    assert actions("action_prefix=accounts.login.") == [
        "accounts.login.failed", "accounts.login.succeeded",
    ]  # fmt: skip
    assert actions("actor=carol") == ["accounts.login.succeeded"]
    assert actions("since=2026-11-02T00:00:00Z") == ["accounts.login.succeeded"]
    assert len(actions("source_ip=10.1.2.3")) == 3
    assert actions("source_ip=10.9.9.9") == []
    bad_ip = client.get("/api/v1/audit/events/?source_ip=abc")
    assert bad_ip.status_code == 400 and "source_ip" in bad_ip.json()["error"]["fields"]
    bad = client.get("/api/v1/audit/events/?since=yesterday")
    assert bad.status_code == 400
    assert "since" in bad.json()["error"]["fields"]


@pytest.mark.django_db(databases=["audit"])
@pytest.mark.parametrize(("outcome", "recorded"), [("delivered", "success"), ("failed", "failure")])
def test_a_channels_test_notice_is_recorded_with_whether_it_arrived(outcome, recorded):
    event = make_event(
        type="scheduling.channel.tested",
        payload={"channel_id": "c-1", "name": "ops-hook", "outcome": outcome},
    )
    audit_record_event(event=event)
    record = AuditRecord.objects.get()
    assert (record.object_type, record.object_name, record.outcome) == (
        "channel",
        "ops-hook",
        recorded,
    )
