"""Alert delivery against a real HTTP server on loopback, Django's mail backends and the database."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import celery
import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.scheduling import alerts
from apps.scheduling.models import (
    AlertRule,
    AlertState,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
    Schedule,
)
from opsconductor.sealing import seal

DB = "scheduling"
SECRET = "whsec-Zx81-correct-horse-battery"
db = pytest.mark.django_db(databases=[DB])


# --- a real webhook receiver ---------------------------------------------------------------------


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 (random port) that records every request and answers
    ``fail_status`` to the next ``fail_next`` of them, then 200 (or ``redirect`` / ``delay``)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail_next = 0
        self.fail_status = 500
        self.fail_body = b"internal trouble"
        self.redirect_to: str | None = None
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                    )
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                if failing:
                    self._answer(receiver.fail_status, receiver.fail_body)
                elif receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._answer(200, b'{"ok":true}')

            def _answer(self, status, body):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hooks/ops?token=abc"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def quick(settings):
    settings.SCHEDULING_WEBHOOK_MAX_ATTEMPTS = 3
    settings.SCHEDULING_WEBHOOK_BACKOFF_SECONDS = 5
    settings.SCHEDULING_WEBHOOK_TIMEOUT_SECONDS = 2
    return settings


@pytest.fixture
def sent_tasks(monkeypatch):
    """Record ``celery.current_app.send_task`` calls instead of reaching a broker."""
    calls = []

    def send_task(name, args=None, kwargs=None, **options):
        calls.append((name, list(args or [])))

    monkeypatch.setattr(celery.current_app, "send_task", send_task)
    return calls


# --- rows -----------------------------------------------------------------------------------------


def webhook_channel(url: str, *, name: str = "ops-hook", enabled: bool = True, secret=SECRET):
    return NotificationChannel.objects.using(DB).create(
        name=name,
        kind=NotificationChannel.ChannelKind.WEBHOOK,
        url=url,
        sealed_secret=seal({"secret": secret}) if secret else "",
        enabled=enabled,
    )


def email_channel(recipients, *, name: str = "ops-mail", enabled: bool = True):
    return NotificationChannel.objects.using(DB).create(
        name=name,
        kind=NotificationChannel.ChannelKind.EMAIL,
        recipients=recipients,
        enabled=enabled,
    )


def make_schedule(name: str = "nightly-backup") -> Schedule:
    return Schedule.objects.using(DB).create(
        name=name,
        job_id=uuid.uuid4(),
        job_name="backup",
        kind="cron",
        cron="* * * * *",
        timezone="UTC",
    )


def pending_delivery(channel: NotificationChannel, *, event: str = "failed", **payload):
    delivery_id = uuid.uuid4()
    return NotificationDelivery.objects.using(DB).create(
        id=delivery_id,
        channel=channel,
        channel_name=channel.name,
        event=event,
        subject=f"schedule:{uuid.uuid4()}",
        payload={
            "event": event,
            "subject": "schedule:x",
            "schedule_name": "nightly-backup",
            "job_name": "backup",
            "status": "failed",
            "run_id": str(uuid.uuid4()),
            "note": "zürich ✓",
            **payload,
            "delivery_id": str(delivery_id),
            "sent_at": timezone.now().isoformat(),
        },
    )


def fetch(delivery) -> NotificationDelivery:
    return NotificationDelivery.objects.using(DB).get(id=delivery.id)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


# --- signatures -----------------------------------------------------------------------------------


def test_sign_and_verify():
    body = b'{"a":1}'
    signature = alerts.sign("k", 1700000000, body)
    assert signature == expected_signature("k", "1700000000", body)
    assert alerts.verify("k", 1700000000, body, signature)
    assert not alerts.verify("other", 1700000000, body, signature)
    assert not alerts.verify("k", 1700000001, body, signature)
    assert not alerts.verify("k", 1700000000, body + b" ", signature)
    assert not alerts.verify("k", 1700000000, body, "sha256=" + "0" * 64)
    assert not alerts.verify("k", 1700000000, body, signature, max_age_seconds=300)
    assert alerts.verify("k", 1700000000, body, signature, max_age_seconds=300, now=1700000100)


# --- webhooks -------------------------------------------------------------------------------------


@db
def test_a_webhook_is_delivered_signed(receiver, quick):
    channel = webhook_channel(receiver.url())
    delivery = pending_delivery(channel)

    assert alerts.deliver(delivery.id) == DeliveryStatus.DELIVERED

    [request] = receiver.requests
    assert request["path"] == "/hooks/ops?token=abc"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    body = request["body"]
    assert json.loads(body.decode("utf-8")) == delivery.payload
    assert body == json.dumps(
        delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    timestamp = headers[alerts.TIMESTAMP_HEADER.lower()]
    assert abs(int(timestamp) - time.time()) < 60
    assert headers[alerts.SIGNATURE_HEADER.lower()] == expected_signature(SECRET, timestamp, body)
    assert headers[alerts.EVENT_HEADER.lower()] == "failed"
    assert headers[alerts.DELIVERY_HEADER.lower()] == str(delivery.id)

    row = fetch(delivery)
    assert row.status == DeliveryStatus.DELIVERED
    assert row.response_status == 200
    assert row.attempts == 1
    assert row.delivered_at is not None
    assert row.next_attempt_at is None
    assert row.last_error == ""

    # Delivered is final: another call (a duplicate task) sends nothing.
    assert alerts.deliver(delivery.id) == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1


@db
def test_a_failing_webhook_is_retried_with_backoff_then_given_up(receiver, quick):
    channel = webhook_channel(receiver.url())
    delivery = pending_delivery(channel)
    receiver.fail_next = 1

    before = timezone.now()
    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING
    row = fetch(delivery)
    assert row.attempts == 1
    assert row.response_status == 500
    assert "500" in row.last_error and "internal trouble" in row.last_error
    assert row.next_attempt_at >= before + timedelta(seconds=5)  # backoff 5 * 2**0
    assert row.next_attempt_at <= timezone.now() + timedelta(seconds=6)

    # Not due yet: nothing is sent.
    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING
    assert alerts.retry_due() == 0
    assert len(receiver.requests) == 1 and fetch(delivery).attempts == 1

    # Due: the sweep delivers it (the same delivery id, freshly signed).
    NotificationDelivery.objects.using(DB).filter(id=delivery.id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert alerts.retry_due() == 1
    row = fetch(delivery)
    assert row.status == DeliveryStatus.DELIVERED
    assert row.attempts == 2 and row.response_status == 200 and row.last_error == ""
    assert len(receiver.requests) == 2
    assert {r["headers"][alerts.DELIVERY_HEADER] for r in receiver.requests} == {str(delivery.id)}

    # A receiver that keeps failing: 3 attempts (the setting), doubling waits, then failed.
    other = pending_delivery(channel)
    receiver.fail_next = 10
    waits = []
    for attempt in range(1, 4):
        start = timezone.now()
        status = alerts.deliver(other.id)
        row = fetch(other)
        assert row.attempts == attempt
        if attempt < 3:
            assert status == DeliveryStatus.PENDING
            waits.append((row.next_attempt_at - start).total_seconds())
            NotificationDelivery.objects.using(DB).filter(id=other.id).update(
                next_attempt_at=timezone.now() - timedelta(seconds=1)
            )
    assert status == DeliveryStatus.FAILED
    assert row.status == DeliveryStatus.FAILED and row.next_attempt_at is None
    assert "HTTP 500" in row.last_error
    assert 5 <= waits[0] < 6 and 10 <= waits[1] < 11
    assert alerts.deliver(other.id) == DeliveryStatus.FAILED  # no fourth attempt
    assert len(receiver.requests) == 5


@db
def test_the_sweep_sends_what_was_never_queued(receiver, quick):
    channel = webhook_channel(receiver.url())
    fresh = pending_delivery(channel)
    stale = pending_delivery(channel)
    NotificationDelivery.objects.using(DB).filter(id=stale.id).update(
        created_at=timezone.now() - timedelta(seconds=120)
    )

    assert alerts.retry_due() == 1
    assert fetch(stale).status == DeliveryStatus.DELIVERED
    assert fetch(fresh).status == DeliveryStatus.PENDING and fetch(fresh).attempts == 0
    assert alerts.retry_due(timezone.now() + timedelta(seconds=61)) == 1
    assert fetch(fresh).status == DeliveryStatus.DELIVERED


@db
def test_a_closed_port_is_a_failed_attempt_not_an_exception(quick):
    port = closed_port()
    channel = webhook_channel(f"http://127.0.0.1:{port}/hook?token=abc")
    delivery = pending_delivery(channel)

    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING

    row = fetch(delivery)
    assert row.attempts == 1 and row.response_status is None
    assert row.last_error.startswith(f"POST to 127.0.0.1:{port}: connection failed")
    assert "refused" in row.last_error.lower()
    assert "token=abc" not in row.last_error and "object at 0x" not in row.last_error


@db
def test_a_slow_receiver_times_out(receiver, quick):
    quick.SCHEDULING_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.delay = 2
    delivery = pending_delivery(webhook_channel(receiver.url()))

    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING
    assert "timed out" in fetch(delivery).last_error


@db
def test_redirects_are_not_followed(receiver, quick):
    target = Receiver()
    try:
        receiver.redirect_to = target.url("/elsewhere")
        delivery = pending_delivery(webhook_channel(receiver.url()))

        assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING

        row = fetch(delivery)
        assert row.response_status == 302
        assert "redirects are not followed" in row.last_error
        assert len(receiver.requests) == 1 and target.requests == []
    finally:
        target.stop()


@db
def test_proxy_environment_variables_are_ignored(receiver, quick, monkeypatch):
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    delivery = pending_delivery(webhook_channel(receiver.url()))

    assert alerts.deliver(delivery.id) == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1


@db
def test_the_secret_is_never_stored_or_logged(receiver, quick, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.fail_next = 1
    receiver.fail_body = f"you sent {SECRET}?".encode()  # even a receiver echoing it
    channel = webhook_channel(receiver.url())
    delivery = pending_delivery(channel)

    alerts.deliver(delivery.id)
    first_error = fetch(delivery).last_error
    assert "you sent ***?" in first_error and SECRET not in first_error
    NotificationDelivery.objects.using(DB).filter(id=delivery.id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    alerts.deliver(delivery.id)
    down = pending_delivery(webhook_channel(f"http://127.0.0.1:{closed_port()}/", name="down"))
    alerts.deliver(down.id)

    assert [r["body"] for r in receiver.requests]  # it was really used to sign
    for row in NotificationDelivery.objects.using(DB).all():
        stored = json.dumps(
            {f.attname: str(getattr(row, f.attname)) for f in row._meta.concrete_fields}
        )
        assert SECRET not in stored
    assert SECRET not in caplog.text
    assert "failed on attempt 1/3" in caplog.text  # the failures were logged
    assert SECRET not in channel.sealed_secret


@db
def test_a_channel_without_a_usable_secret_fails_clearly(receiver, quick):
    delivery = pending_delivery(webhook_channel(receiver.url(), secret=None))

    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING
    assert fetch(delivery).last_error == "the webhook channel has no signing secret"
    assert receiver.requests == []


@db
def test_disabled_or_deleted_channels_fail_without_sending(receiver, quick):
    channel = webhook_channel(receiver.url())
    delivery = pending_delivery(channel)
    NotificationChannel.objects.using(DB).filter(id=channel.id).update(enabled=False)

    assert alerts.deliver(delivery.id) == DeliveryStatus.FAILED
    assert fetch(delivery).last_error == "the channel is disabled"

    other = pending_delivery(webhook_channel(receiver.url(), name="gone"))
    NotificationChannel.objects.using(DB).filter(name="gone").delete()
    assert alerts.deliver(other.id) == DeliveryStatus.FAILED
    assert fetch(other).last_error == "the channel was deleted"
    assert receiver.requests == []
    assert alerts.deliver(uuid.uuid4()) == "missing"


# --- email ----------------------------------------------------------------------------------------


@db
def test_an_email_alert_goes_to_the_recipients(settings, quick):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    channel = email_channel(["ops@example.com", "oncall@example.com"])
    delivery = pending_delivery(channel, error="exit code 2 on web-1")

    assert alerts.deliver(delivery.id) == DeliveryStatus.DELIVERED

    [message] = mail.outbox
    assert message.to == ["ops@example.com", "oncall@example.com"]
    assert message.subject == "[OpsConductor] failed: nightly-backup"
    assert "job_name: backup" in message.body
    assert "error: exit code 2 on web-1" in message.body
    assert f"run_id: {delivery.payload['run_id']}" in message.body
    assert str(delivery.id) in message.body
    row = fetch(delivery)
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 1


@db
def test_an_unreachable_mail_server_is_a_failed_attempt(settings, quick):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    delivery = pending_delivery(email_channel(["ops@example.com"]))

    assert alerts.deliver(delivery.id) == DeliveryStatus.PENDING
    row = fetch(delivery)
    assert row.attempts == 1
    assert row.last_error.startswith("sending email failed: ConnectionRefusedError")


# --- outcomes -------------------------------------------------------------------------------------


@db
def test_outcome_events_tell_failures_and_recoveries():
    subject = f"schedule:{uuid.uuid4()}"

    def outcome(status):
        with transaction.atomic(using=DB):
            return alerts.outcome_events(subject=subject, status=status)

    assert outcome("failed") == ["failed"]
    assert outcome("timed_out") == ["failed"]
    assert AlertState.objects.using(DB).get(subject=subject).failures == 2
    assert outcome("succeeded") == ["succeeded", "recovered"]
    assert outcome("succeeded") == ["succeeded"]
    assert outcome("canceled") == []
    state = AlertState.objects.using(DB).get(subject=subject)
    assert (state.last_status, state.failures) == ("canceled", 0)
    # A cancellation neither ends nor extends a failure streak.
    assert outcome("failed") == ["failed"]
    assert outcome("canceled") == []
    assert outcome("succeeded") == ["succeeded", "recovered"]
    # A first-ever success is no recovery; other subjects are separate.
    assert outcome_of(f"job:{uuid.uuid4()}", "succeeded") == ["succeeded"]


def outcome_of(subject, status):
    with transaction.atomic(using=DB):
        return alerts.outcome_events(subject=subject, status=status)


@pytest.mark.django_db(databases=[DB], transaction=True)
def test_outcome_events_needs_the_callers_transaction():
    with pytest.raises(RuntimeError, match=r"transaction\.atomic"):
        alerts.outcome_events(subject="job:x", status="failed")
    assert not AlertState.objects.using(DB).exists()


# --- notify ---------------------------------------------------------------------------------------


@db
def test_notify_picks_enabled_channels_whose_rules_list_the_event(
    sent_tasks, django_capture_on_commit_callbacks
):
    schedule = make_schedule()
    both = webhook_channel("http://127.0.0.1:9/both", name="both")
    mailing = email_channel(["ops@example.com"], name="mailing")
    other_event = webhook_channel("http://127.0.0.1:9/succ", name="successes")
    disabled = webhook_channel("http://127.0.0.1:9/off", name="disabled", enabled=False)
    other_job = webhook_channel("http://127.0.0.1:9/other", name="other-job")
    rules = AlertRule.objects.using(DB)
    rules.create(channel=both, schedule=schedule, events=["failed", "missed"])
    rules.create(channel=both, job_id=schedule.job_id, events=["failed"])
    rules.create(channel=mailing, job_id=schedule.job_id, events=["failed", "recovered"])
    rules.create(channel=other_event, schedule=schedule, events=["succeeded"])
    rules.create(channel=disabled, schedule=schedule, events=["failed"])
    rules.create(channel=other_job, job_id=uuid.uuid4(), events=["failed"])
    run_id = uuid.uuid4()

    with django_capture_on_commit_callbacks(using=DB, execute=True), transaction.atomic(using=DB):
        ids = alerts.notify(
            event="failed",
            subject=f"schedule:{schedule.id}",
            schedule_id=schedule.id,
            job_id=schedule.job_id,
            payload={"run_id": run_id, "schedule_name": schedule.name, "status": "failed"},
        )
        assert sent_tasks == []  # only after commit

    deliveries = {d.channel_name: d for d in NotificationDelivery.objects.using(DB).all()}
    assert set(deliveries) == {"both", "mailing"}
    assert sorted(ids) == sorted(d.id for d in deliveries.values())
    assert sorted(sent_tasks) == sorted(
        ("apps.scheduling.tasks.deliver_notification", [str(i)]) for i in ids
    )
    delivery = deliveries["both"]
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert delivery.event == "failed" and delivery.subject == f"schedule:{schedule.id}"
    payload = delivery.payload
    assert payload["event"] == "failed"
    assert payload["subject"] == f"schedule:{schedule.id}"
    assert payload["run_id"] == str(run_id)
    assert payload["schedule_name"] == "nightly-backup"
    assert payload["delivery_id"] == str(delivery.id)
    sent_at = datetime.fromisoformat(payload["sent_at"])
    assert abs(timezone.now() - sent_at) < timedelta(seconds=30)

    # Another event: only the rules listing it.
    with django_capture_on_commit_callbacks(using=DB, execute=True):
        ids = alerts.notify(
            event="recovered",
            subject=f"job:{schedule.job_id}",
            schedule_id=None,
            job_id=schedule.job_id,
            payload={},
        )
    assert [NotificationDelivery.objects.using(DB).get(id=i).channel_name for i in ids] == [
        "mailing"
    ]
    assert (
        alerts.notify(
            event="missed", subject="job:x", schedule_id=None, job_id=uuid.uuid4(), payload={}
        )
        == []
    )


@db
def test_notify_rolled_back_with_its_transaction_sends_nothing(
    sent_tasks, django_capture_on_commit_callbacks
):
    schedule = make_schedule()
    channel = webhook_channel("http://127.0.0.1:9/x")
    AlertRule.objects.using(DB).create(channel=channel, schedule=schedule, events=["failed"])

    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(using=DB, execute=True),
        pytest.raises(Abort),
        transaction.atomic(using=DB),
    ):
        alerts.notify(
            event="failed",
            subject=f"schedule:{schedule.id}",
            schedule_id=schedule.id,
            job_id=None,
            payload={},
        )
        raise Abort

    assert sent_tasks == []
    assert not NotificationDelivery.objects.using(DB).exists()


@pytest.mark.django_db(databases=[DB], transaction=True)
def test_a_broker_failure_leaves_the_delivery_pending_for_the_sweep(monkeypatch, caplog):
    def broken_send_task(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery.current_app, "send_task", broken_send_task)
    schedule = make_schedule()
    channel = webhook_channel("http://127.0.0.1:9/x")
    AlertRule.objects.using(DB).create(channel=channel, schedule=schedule, events=["failed"])

    with transaction.atomic(using=DB):  # a real commit runs the on_commit callback
        [delivery_id] = alerts.notify(
            event="failed",
            subject=f"schedule:{schedule.id}",
            schedule_id=schedule.id,
            job_id=None,
            payload={},
        )

    delivery = NotificationDelivery.objects.using(DB).get(id=delivery_id)
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is None
    assert f"could not queue notification delivery {delivery_id}" in caplog.text
