"""The console's alert API: a channel's test send (through the real delivery path, to a real
HTTP receiver on loopback), alert rules on jobs and on schedules in one list, and the delivery
log's filters."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import transaction

from apps.scheduling import alerts, services
from apps.scheduling.models import NotificationDelivery
from apps.scheduling.tests.conftest import ok
from apps.scheduling.tests.test_alerts import Receiver, closed_port
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
SECRET = "whsec-test-send-5d1f0c"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def sent(monkeypatch):
    from celery import current_app

    calls = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=None, **kw: calls.append(args))
    return calls


def channel(api, url, name="ops-hook", **extra):
    body = {"name": name, "kind": "webhook", "url": url, "secret": SECRET, **extra}
    return ok(api.post("/api/v1/notification-channels/", body, format="json"), 201)


def test_a_test_send_posts_a_signed_test_notice_and_logs_it(manager_api, receiver):
    hook = channel(manager_api, receiver.url())

    answer = ok(manager_api.post(f"/api/v1/notification-channels/{hook['id']}/test/"))

    assert answer["delivered"] is True
    (request,) = receiver.requests
    headers = request["headers"]
    assert headers["X-OpsConductor-Event"] == "test"
    assert alerts.verify(
        SECRET, headers["X-OpsConductor-Timestamp"], request["body"],
        headers["X-OpsConductor-Signature"],
    )  # fmt: skip
    body = json.loads(request["body"])
    assert body["test"] is True and body["event"] == "test"
    assert body["channel_name"] == "ops-hook" and body["requested_by"] == "sched-manager"
    assert "No run failed" in body["message"]
    delivery = answer["delivery"]
    assert delivery["status"] == "delivered" and delivery["response_status"] == 200
    assert delivery["response_excerpt"] == '{"ok":true}'
    assert [(a["number"], a["outcome"], a["response_status"]) for a in delivery["attempt_log"]] == [
        (1, "delivered", 200)
    ]
    # in the delivery log, found by its channel
    log = ok(manager_api.get("/api/v1/notification-deliveries/", {"channel": "ops-hook"}))
    assert [d["id"] for d in log["results"]] == [delivery["id"]]
    # audited, with its outcome and without the secret
    (event,) = OutboxEvent.objects.using("scheduling").filter(
        event_type="scheduling.channel.tested"
    )
    assert event.payload["outcome"] == "delivered" and event.actor["name"] == "sched-manager"
    assert SECRET not in json.dumps(answer) and SECRET not in json.dumps(event.payload)


def test_a_failed_test_send_answers_why_and_is_not_retried(manager_api, receiver, settings):
    settings.SCHEDULING_WEBHOOK_MAX_ATTEMPTS = 5
    receiver.fail_next, receiver.fail_status, receiver.fail_body = (
        1,
        503,
        b"maintenance " + (SECRET.encode()),
    )
    hook = channel(manager_api, receiver.url())

    answer = ok(manager_api.post(f"/api/v1/notification-channels/{hook['id']}/test/"))

    assert answer["delivered"] is False
    delivery = answer["delivery"]
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    assert delivery["attempts"] == 1 and delivery["response_status"] == 503
    assert "HTTP 503" in delivery["last_error"]
    assert delivery["response_excerpt"] == "maintenance ***"  # the secret is scrubbed
    assert SECRET not in json.dumps(answer)
    assert alerts.retry_due() == 0  # a test notice is never sent again
    assert len(receiver.requests) == 1
    event = OutboxEvent.objects.using("scheduling").get(event_type="scheduling.channel.tested")
    assert event.payload["outcome"] == "failed"


def test_a_test_send_to_a_closed_port_says_the_connection_failed(manager_api):
    hook = channel(manager_api, f"http://127.0.0.1:{closed_port()}/hook")
    answer = ok(manager_api.post(f"/api/v1/notification-channels/{hook['id']}/test/"))
    assert answer["delivered"] is False
    assert "connection failed" in answer["delivery"]["last_error"]


def test_only_those_who_may_edit_channels_may_test_them(
    manager_api, operator_api, viewer_api, client
):
    hook = channel(manager_api, f"http://127.0.0.1:{closed_port()}/hook")
    path = f"/api/v1/notification-channels/{hook['id']}/test/"
    assert operator_api.post(path).status_code == 403
    assert viewer_api.post(path).status_code == 403
    assert client.post(path).status_code == 401
    assert not NotificationDelivery.objects.exists()
    assert (
        manager_api.post(f"/api/v1/notification-channels/{uuid.uuid4()}/test/").status_code == 404
    )


def test_rules_on_jobs_and_schedules_live_in_one_list(manager_api, make_job, sent):
    job = make_job()
    channel(manager_api, "http://127.0.0.1:9/hook")
    schedule = ok(manager_api.post("/api/v1/schedules/", {
        "name": "nightly", "job": job["id"], "kind": "cron", "cron": "0 2 * * *"},
        format="json"), 201)  # fmt: skip

    on_job = ok(manager_api.post("/api/v1/alert-rules/", {
        "job": job["id"], "channel": "ops-hook", "events": ["failed"]}, format="json"), 201)  # fmt: skip
    on_schedule = ok(manager_api.post("/api/v1/alert-rules/", {
        "schedule": schedule["id"], "channel": "ops-hook", "events": ["missed", "failed"]},
        format="json"), 201)  # fmt: skip

    assert (on_job["subject_name"], on_job["schedule"]) == (job["name"], None)
    assert (on_schedule["subject_name"], on_schedule["job"]) == ("nightly", None)
    listed = ok(manager_api.get("/api/v1/alert-rules/"))["results"]
    assert [r["id"] for r in listed] == [on_job["id"], on_schedule["id"]]
    assert [r["id"] for r in ok(manager_api.get("/api/v1/alert-rules/", {"on": "schedule"}))[
        "results"]] == [on_schedule["id"]]  # fmt: skip
    assert [r["id"] for r in ok(manager_api.get("/api/v1/alert-rules/", {"job": job["id"]}))[
        "results"]] == [on_job["id"]]  # fmt: skip
    # the schedule shows it as its notify
    shown = ok(manager_api.get(f"/api/v1/schedules/{schedule['id']}/"))
    assert shown["notify"] == [{"channel": "ops-hook", "events": ["missed", "failed"]}]

    changed = ok(manager_api.patch(f"/api/v1/alert-rules/{on_job['id']}/",
                                   {"events": ["failed", "recovered"]}, format="json"))  # fmt: skip
    assert changed["events"] == ["failed", "recovered"] and changed["subject_name"] == job["name"]
    assert (
        OutboxEvent.objects.using("scheduling")
        .filter(event_type="scheduling.alert_rule.updated")
        .exists()
    )
    assert manager_api.delete(f"/api/v1/alert-rules/{on_schedule['id']}/").status_code == 204
    assert ok(manager_api.get(f"/api/v1/schedules/{schedule['id']}/"))["notify"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["failed"]}, "job"),
        ({"events": ["failed"], "job": "JOB", "schedule": "SCHEDULE"}, "job"),
        ({"events": ["failed"], "job": str(uuid.uuid4())}, "job"),
        ({"events": ["failed"], "schedule": str(uuid.uuid4())}, "schedule"),
        ({"events": ["test"], "job": "JOB"}, "events.0"),
        ({"events": [], "job": "JOB"}, "events"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(manager_api, make_job, body, field):
    job = make_job()
    channel(manager_api, "http://127.0.0.1:9/hook")
    schedule = ok(manager_api.post("/api/v1/schedules/", {
        "name": "n", "job": job["id"], "kind": "cron", "cron": "0 2 * * *"}, format="json"), 201)  # fmt: skip
    values = {"JOB": job["id"], "SCHEDULE": schedule["id"]}
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    response = manager_api.post("/api/v1/alert-rules/", {"channel": "ops-hook", **body},
                                format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_a_rules_job_cannot_be_swapped(manager_api, make_job):
    job = make_job()
    other = make_job(name="other")
    channel(manager_api, "http://127.0.0.1:9/hook")
    rule = ok(manager_api.post("/api/v1/alert-rules/", {
        "job": job["id"], "channel": "ops-hook", "events": ["failed"]}, format="json"), 201)  # fmt: skip
    response = manager_api.patch(f"/api/v1/alert-rules/{rule['id']}/", {"job": other["id"]},
                                 format="json")  # fmt: skip
    assert response.status_code == 400 and "job" in response.json()["error"]["fields"]


def test_a_job_rule_alerts_on_a_run_nobody_scheduled(manager_api, make_job, sent):
    job = make_job()
    channel(manager_api, "http://127.0.0.1:9/hook")
    ok(manager_api.post("/api/v1/alert-rules/", {
        "job": job["id"], "channel": "ops-hook", "events": ["failed"]}, format="json"), 201)  # fmt: skip
    with transaction.atomic(using="scheduling"):
        services.run_finished(payload={
            "run_id": str(uuid.uuid4()), "job_id": job["id"], "job_name": job["name"],
            "status": "failed", "trigger": "manual"})  # fmt: skip
    (delivery,) = NotificationDelivery.objects.all()
    assert (delivery.event, delivery.subject) == ("failed", f"job:{job['id']}")
    assert delivery.payload["trigger"] == "manual"


def test_the_delivery_log_filters_by_outcome_and_channel(manager_api, receiver):
    good = channel(manager_api, receiver.url(), name="good")
    bad = channel(manager_api, f"http://127.0.0.1:{closed_port()}/x", name="bad")
    for hook in (good, bad, good):
        manager_api.post(f"/api/v1/notification-channels/{hook['id']}/test/")

    def ids(**query):
        return [d["channel_name"] for d in ok(
            manager_api.get("/api/v1/notification-deliveries/", query))["results"]]  # fmt: skip

    assert ids(status="failed") == ["bad"]
    assert ids(status="delivered") == ["good", "good"]
    assert sorted(ids(status=["failed", "delivered"])) == ["bad", "good", "good"]
    assert ids(channel="bad") == ["bad"]
    page = ok(manager_api.get("/api/v1/notification-deliveries/", {"page_size": 2}))
    assert page["count"] == 3 and len(page["results"]) == 2
    response = manager_api.get("/api/v1/notification-deliveries/", {"status": "lost"})
    assert response.status_code == 400


def test_a_test_send_to_an_email_channel_sends_a_marked_email(manager_api, settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    made = ok(manager_api.post("/api/v1/notification-channels/", {
        "name": "ops-mail", "kind": "email", "recipients": ["ops@example.com"]},
        format="json"), 201)  # fmt: skip

    answer = ok(manager_api.post(f"/api/v1/notification-channels/{made['id']}/test/"))

    assert answer["delivered"] is True
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == "[OpsConductor] test: ops-mail"
    assert "No run failed" in message.body and "requested_by: sched-manager" in message.body
