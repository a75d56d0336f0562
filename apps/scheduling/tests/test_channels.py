"""Notification channels and alert rules through the API, and which alerts a run's end raises."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from apps.scheduling import services
from apps.scheduling.models import AlertRule, NotificationChannel, NotificationDelivery, Schedule
from apps.scheduling.tests.conftest import ok
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
SECRET = "whsec-canary-0123456789"


@pytest.fixture
def sent(monkeypatch):
    """Deliveries queued for a worker (the broker call recorded instead of made)."""
    from celery import current_app

    calls = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=None, **kw: calls.append(args))
    return calls


def webhook(api, name="ops-webhook", **extra):
    body = {"name": name, "kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET}
    return ok(api.post("/api/v1/notification-channels/", {**body, **extra}, format="json"), 201)


def test_a_webhook_channels_secret_is_write_only_and_never_leaks(manager_api, viewer_api):
    made = webhook(manager_api)

    assert made["secret_set"] is True and "secret" not in made
    assert SECRET not in str(ok(viewer_api.get(f"/api/v1/notification-channels/{made['id']}/")))
    row = NotificationChannel.objects.get(pk=made["id"])
    assert SECRET not in row.sealed_secret
    assert all(SECRET not in str(e.payload) for e in OutboxEvent.objects.using("scheduling").all())
    # changing the URL keeps the secret
    changed = ok(manager_api.patch(f"/api/v1/notification-channels/{made['id']}/",
                                   {"url": "https://127.0.0.1:9/other"}, format="json"))  # fmt: skip
    assert changed["secret_set"] is True and changed["url"] == "https://127.0.0.1:9/other"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "url": "http://127.0.0.1:9/x"}, "secret"),
        ({"kind": "webhook", "secret": "s"}, "url"),
        ({"kind": "webhook", "url": "ftp://127.0.0.1/x", "secret": "s"}, "url"),
        ({"kind": "email"}, "recipients"),
        ({"kind": "email", "recipients": ["not-an-address"]}, "recipients.0"),
        ({"kind": "sms", "recipients": ["a@example.com"]}, "kind"),
    ],
)
def test_bad_channels_are_refused_naming_the_field(manager_api, body, field):
    response = manager_api.post("/api/v1/notification-channels/", {"name": "c", **body},
                                format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not NotificationChannel.objects.exists()


def test_only_managers_write_channels_and_rules(operator_api, viewer_api, client):
    body = {"name": "x", "kind": "email", "recipients": ["ops@example.com"]}
    assert (
        operator_api.post("/api/v1/notification-channels/", body, format="json").status_code == 403
    )
    assert viewer_api.get("/api/v1/notification-channels/").status_code == 200
    assert client.get("/api/v1/notification-channels/").status_code == 401
    assert operator_api.post("/api/v1/alert-rules/", {}, format="json").status_code == 403
    assert client.get("/api/v1/notification-deliveries/").status_code == 401


def test_a_failed_scheduled_run_alerts_the_schedule_and_job_channels_once_each(
    manager_api, make_job, sent
):
    job = make_job()
    webhook(manager_api)
    ok(manager_api.post("/api/v1/notification-channels/", {"name": "ops-mail", "kind": "email",
       "recipients": ["ops@example.com"]}, format="json"), 201)  # fmt: skip
    schedule = ok(manager_api.post("/api/v1/schedules/", {
        "name": "nightly", "job": job["id"], "kind": "cron", "cron": "0 2 * * *",
        "notify": [{"channel": "ops-webhook", "events": ["failed", "recovered"]}]},
        format="json"), 201)  # fmt: skip
    assert schedule["notify"] == [{"channel": "ops-webhook", "events": ["failed", "recovered"]}]
    # the job alerts the same webhook and the mail channel on failures
    for channel in ("ops-webhook", "ops-mail"):
        ok(manager_api.post("/api/v1/alert-rules/", {"job": job["id"], "channel": channel,
           "events": ["failed"]}, format="json"), 201)  # fmt: skip

    def finish(status):
        with transaction.atomic(using="scheduling"):
            services.run_finished(payload={
                "run_id": str(uuid.uuid4()), "job_id": job["id"], "job_name": job["name"],
                "schedule_id": schedule["id"], "status": status, "counts": {status: 1},
                "trigger": "schedule"})  # fmt: skip

    finish("failed")
    deliveries = list(NotificationDelivery.objects.order_by("channel_name"))
    assert [(d.channel_name, d.event) for d in deliveries] == [
        ("ops-mail", "failed"),
        ("ops-webhook", "failed"),
    ]  # the webhook is named by both the schedule and the job: told once
    payload = deliveries[1].payload
    assert payload["schedule_name"] == "nightly" and payload["status"] == "failed"
    assert len(sent) == 2

    finish("succeeded")
    recovered = NotificationDelivery.objects.filter(event="recovered")
    assert [d.channel_name for d in recovered] == ["ops-webhook"]
    finish("succeeded")
    assert NotificationDelivery.objects.count() == 3  # a plain success alerts nobody here


def test_a_missed_due_time_alerts_the_schedules_channels(manager_api, make_job, sent):
    from datetime import UTC, datetime

    from apps.scheduling.http.serializers import ScheduleSerializer
    from opsconductor.events import SYSTEM

    job = make_job()
    webhook(manager_api)
    serializer = ScheduleSerializer(data={
        "name": "hourly", "job": job["id"], "kind": "cron", "cron": "0 * * * *",
        "timezone": "UTC", "notify": [{"channel": "ops-webhook", "events": ["missed"]}]})  # fmt: skip
    serializer.is_valid(raise_exception=True)
    services.schedule_create(data=serializer.validated_data, actor=SYSTEM,
                             now=datetime(2026, 6, 1, 12, tzinfo=UTC))  # fmt: skip
    services.schedules_fire_due(now=datetime(2026, 6, 1, 15, 30, tzinfo=UTC))

    (delivery,) = NotificationDelivery.objects.all()
    assert delivery.event == "missed" and len(delivery.payload["missed"]) == 3
    assert sent == [[str(delivery.id)]]


def test_deleting_a_channel_removes_its_rules(manager_api, make_job):
    job = make_job()
    hook = webhook(manager_api)
    ok(manager_api.post("/api/v1/schedules/", {"name": "n", "job": job["id"], "kind": "cron",
       "cron": "0 2 * * *", "notify": [{"channel": "ops-webhook", "events": ["failed"]}]},
       format="json"), 201)  # fmt: skip
    assert manager_api.delete(f"/api/v1/notification-channels/{hook['id']}/").status_code == 204
    assert not AlertRule.objects.exists()
    assert Schedule.objects.count() == 1


def test_a_webhook_address_with_a_token_is_whole_only_for_those_who_may_change_it(
    manager_api, viewer_api, operator_api
):
    token_url = "https://127.0.0.1:9/services/T000/B000/XXXXsecretpath?key=abc"
    made = ok(manager_api.post("/api/v1/notification-channels/",
                               {"name": "chat", "kind": "webhook", "url": token_url,
                                "secret": SECRET}, format="json"), 201)  # fmt: skip
    assert made["url"] == token_url  # the manager who set it
    for api in (viewer_api, operator_api):
        one = ok(api.get(f"/api/v1/notification-channels/{made['id']}/"))
        listed = ok(api.get("/api/v1/notification-channels/"))
        assert one["url"] == "https://127.0.0.1:9/…"
        assert "secretpath" not in str(listed) and "key=abc" not in str(listed)
