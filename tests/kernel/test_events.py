"""The event outbox: transactional publish, relay after commit, sweep, idempotent consumers.

These run a real Celery worker against the real RabbitMQ broker.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.db import transaction

from opsconductor.events import Actor, Event, publish, subscriber
from opsconductor.events import outbox as outbox_module
from opsconductor.events.models import ConsumedEvent, FailedDelivery, OutboxEvent
from opsconductor.events.outbox import TransactionRequired
from opsconductor.events.registry import unregister
from opsconductor.events.tasks import deliver_event, sweep_outbox
from opsconductor.tasks_routing import queue_for
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

received: list = []
received_lock = threading.Lock()


@pytest.fixture
def recorder():
    """A subscriber of the audit app that remembers every event it handles."""
    received.clear()

    @subscriber(app="audit", events=["kerneltest.*"])
    def remember(event):
        with received_lock:
            received.append(event)

    yield received
    unregister(f"{remember.__module__}.{remember.__qualname__}")


def ids(events) -> set:
    with received_lock:
        return {e.id for e in events}


def test_committed_event_reaches_subscriber_with_actor_and_context(celery_worker, recorder):
    actor = Actor(kind="user", id="42", name="alice")
    with transaction.atomic():
        event_id = publish("kerneltest.thing.created", {"name": "web-1"}, actor=actor)

    wait_for(lambda: event_id in ids(recorder), what="the event to be delivered")
    event = next(e for e in recorder if e.id == event_id)
    assert event.type == "kerneltest.thing.created"
    assert event.payload == {"name": "web-1"}
    assert event.actor == actor
    assert OutboxEvent.objects.get(id=event_id).relayed_at is not None


def test_event_in_rolled_back_transaction_is_never_delivered(celery_worker, recorder):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        doomed = publish("kerneltest.thing.created", {"name": "never"})
        raise Boom

    # A later event is delivered; by then the rolled-back one would have been too.
    with transaction.atomic():
        marker = publish("kerneltest.thing.created", {"name": "marker"})
    wait_for(lambda: marker in ids(recorder), what="the marker event")
    sweep_outbox()
    assert doomed not in ids(recorder)
    assert not OutboxEvent.objects.filter(id=doomed).exists()


def test_event_whose_relay_was_interrupted_is_delivered_by_the_sweep(
    celery_worker, recorder, monkeypatch, settings
):
    # The process "dies" between commit and relay: the after-commit relay never happens.
    monkeypatch.setattr(outbox_module, "relay_pending", lambda **kwargs: 0)
    with transaction.atomic():
        event_id = publish("kerneltest.thing.created", {"name": "orphan"})
    monkeypatch.undo()

    row = OutboxEvent.objects.get(id=event_id)
    assert row.relayed_at is None
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 0
    relayed = sweep_outbox()
    assert sum(relayed.values()) >= 1

    wait_for(lambda: event_id in ids(recorder), what="the swept event")
    assert OutboxEvent.objects.get(id=event_id).relayed_at is not None


def test_broker_failure_during_relay_leaves_event_for_the_sweep(
    celery_worker, recorder, monkeypatch, settings
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(outbox_module, "_dispatch", broker_down)
    with transaction.atomic():
        event_id = publish("kerneltest.thing.created", {"name": "retry-me"})
    row = OutboxEvent.objects.get(id=event_id)
    assert row.relayed_at is None
    assert "broker unreachable" in row.last_error
    monkeypatch.undo()

    settings.OUTBOX_SWEEP_GRACE_SECONDS = 0
    sweep_outbox()
    wait_for(lambda: event_id in ids(recorder), what="the event after the broker came back")


def test_a_broker_failure_mid_chunk_keeps_what_was_sent_and_gives_back_the_rest(
    monkeypatch, recorder
):
    sent: list[str] = []

    def flaky(sub, message, producer=None):
        if len(sent) == 1:
            raise ConnectionRefusedError("broker unreachable")
        sent.append(message["payload"]["name"])

    monkeypatch.setattr(outbox_module, "_dispatch", flaky)
    monkeypatch.setattr(outbox_module, "_dispatch_batch", lambda *a, **k: None)  # audit's
    with transaction.atomic():
        first, second, third = (
            publish("kerneltest.thing.created", {"name": name}, relay=False)
            for name in ("a", "b", "c")
        )
    assert outbox_module.relay_pending(using="default", event_ids=[first, second, third]) == 1

    rows = {row.id: row for row in OutboxEvent.objects.filter(id__in=[first, second, third])}
    assert sent == ["a"] and rows[first].relayed_at is not None
    assert rows[second].relayed_at is None and "broker unreachable" in rows[second].last_error
    assert (rows[second].relay_attempts, rows[third].relay_attempts) == (1, 0)
    assert rows[third].relayed_at is None and rows[third].last_error == ""

    # a batch subscriber's message refused: nothing of the chunk counts as relayed
    monkeypatch.setattr(outbox_module, "_dispatch", lambda *a, **k: None)
    monkeypatch.setattr(outbox_module, "_dispatch_batch", flaky)
    sent[:] = ["x"]
    assert outbox_module.relay_pending(using="default", event_ids=[second, third]) == 0
    assert OutboxEvent.objects.filter(id__in=[second, third], relayed_at=None).count() == 2


def test_a_relayed_message_is_the_event_as_subscribers_read_it():
    with transaction.atomic():
        event_id = publish("kerneltest.thing.created", {"name": "n", "when": "2026"},
                           actor=Actor(kind="user", id="7", name="bob"), relay=False)  # fmt: skip
    row = OutboxEvent.objects.get(id=event_id)
    message = outbox_module._message(
        row.id, row.event_type, row.occurred_at, row.actor, row.payload, row.context
    )
    event = Event.from_message(message)
    assert event.to_message() == message
    assert (event.id, event.actor.name, event.payload) == (event_id, "bob", row.payload)
    assert event.occurred_at == row.occurred_at


@pytest.fixture
def skipped_redeliveries(caplog):
    """The redeliveries the worker recognised and skipped, by event id."""
    caplog.set_level(logging.INFO, logger="opsconductor.events.outbox")

    def of(event_id) -> list:
        return [
            r
            for r in caplog.records
            if "already consumed" in r.getMessage() and str(event_id) in r.getMessage()
        ]

    return of


def test_publish_outside_a_transaction_on_its_alias_is_refused():
    # Inside default's transaction, but the event belongs to targets: it would commit alone.
    with transaction.atomic(), pytest.raises(TransactionRequired, match="using='targets'"):
        publish("targets.target.created", {})
    assert not OutboxEvent.objects.using("targets").exists()


def test_a_delivery_that_keeps_failing_is_kept_as_a_dead_letter(celery_worker, settings):
    @subscriber(app="audit", events=["kerneltest.doomed"])
    def always_fails(event):
        raise RuntimeError("handler bug")

    settings.EVENT_DELIVERY_MAX_RETRIES = 1
    settings.EVENT_DELIVERY_RETRY_DELAY = 0
    try:
        with transaction.atomic():
            event_id = publish("kerneltest.doomed", {"n": 1})
        letter = wait_for(
            lambda: FailedDelivery.objects.using("audit").filter(event_id=event_id).first(),
            what="the dead letter",
        )
        assert letter.subscriber.endswith("always_fails")
        assert "handler bug" in letter.error
        assert letter.message["payload"] == {"n": 1}
    finally:
        unregister(f"{always_fails.__module__}.{always_fails.__qualname__}")


def test_redelivered_event_is_consumed_once(celery_worker, recorder, skipped_redeliveries):
    with transaction.atomic():
        event_id = publish("kerneltest.thing.created", {"name": "dup"})
    wait_for(lambda: event_id in ids(recorder), what="first delivery")

    # At-least-once delivery: the broker hands the same message over again (twice more).
    row = OutboxEvent.objects.get(id=event_id)
    message = outbox_module._message(
        row.id, row.event_type, row.occurred_at, row.actor, row.payload, row.context
    )
    name = next(
        s.name
        for s in outbox_module.subscribers_for("kerneltest.thing.created")
        if s.handler.__name__ == "remember"
    )
    for _ in range(2):
        deliver_event.apply_async(args=[name, message], queue=queue_for("audit"))
    wait_for(lambda: len(skipped_redeliveries(event_id)) == 2, what="both redeliveries handled")
    wait_for(
        lambda: (
            ConsumedEvent.objects.using("audit").filter(subscriber=name, event_id=event_id).count()
            == 1
        ),
        what="the ledger row",
    )

    with received_lock:
        assert [e.id for e in received].count(event_id) == 1


def test_failed_handler_is_retried_and_its_writes_roll_back(celery_worker):
    attempts: list[int] = []

    @subscriber(app="audit", events=["kerneltest.flaky"])
    def flaky(event):
        attempts.append(1)
        ConsumedEvent.objects.using("audit").create(subscriber="side-effect", event_id=event.id)
        if len(attempts) == 1:
            raise RuntimeError("transient failure")

    try:
        with transaction.atomic():
            event_id = publish("kerneltest.flaky", {})
        wait_for(lambda: len(attempts) >= 2, timeout=20, what="the retry")
        wait_for(
            lambda: (
                ConsumedEvent.objects.using("audit")
                .filter(subscriber=f"{flaky.__module__}.{flaky.__qualname__}", event_id=event_id)
                .exists()
            ),
            what="the ledger row of the successful attempt",
        )
        # The first attempt's side effect rolled back with it: exactly one survived.
        assert (
            ConsumedEvent.objects.using("audit")
            .filter(subscriber="side-effect", event_id=event_id)
            .count()
            == 1
        )
    finally:
        unregister(f"{flaky.__module__}.{flaky.__qualname__}")


def test_sweep_purges_relayed_events_past_retention(settings):
    with transaction.atomic():
        event_id = publish("kerneltest.old", {})
    OutboxEvent.objects.filter(id=event_id).update(
        relayed_at=OutboxEvent.objects.get(id=event_id).occurred_at - timedelta(days=30)
    )
    settings.OUTBOX_RETENTION_DAYS = 7
    sweep_outbox()
    assert not OutboxEvent.objects.filter(id=event_id).exists()
