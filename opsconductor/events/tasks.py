from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from opsconductor.events.message import Event
from opsconductor.events.outbox import consume, consume_batch, record_failed_delivery, sweep
from opsconductor.events.registry import get_subscriber

logger = logging.getLogger(__name__)


@shared_task(name="opsconductor.events.tasks.deliver_event", bind=True)
def deliver_event(self, subscriber_name: str, message: dict) -> bool:
    """Run one subscriber's handler for one event (sent to the subscriber app's queue).

    A failing handler is retried with exponential backoff; after the last retry the event is
    kept as a ``FailedDelivery`` on the subscriber's database for a person to replay.
    """
    sub = get_subscriber(subscriber_name)
    if sub is None:
        logger.error(
            "event %s for unknown subscriber %s dropped", message.get("id"), subscriber_name
        )
        return False
    try:
        return consume(sub, Event.from_message(message))
    except Exception as exc:
        attempt = self.request.retries + 1
        if self.request.retries >= settings.EVENT_DELIVERY_MAX_RETRIES:
            record_failed_delivery(sub, message, error=exc, attempts=attempt)
            logger.error(
                "event %s (%s) failed %d times in %s; kept as a failed delivery: %s",
                message.get("id"), message.get("type"), attempt, subscriber_name, exc,
            )  # fmt: skip
            return False
        delay = min(settings.EVENT_DELIVERY_RETRY_DELAY * 2**self.request.retries, 300)
        raise self.retry(exc=exc, countdown=delay, max_retries=None) from exc


@shared_task(name="opsconductor.events.tasks.deliver_events", bind=True)
def deliver_events(self, subscriber_name: str, messages: list[dict]) -> int:
    """Run one batch subscriber's handler for a chunk of events (``subscriber(batch=True)``),
    retried like ``deliver_event``; after the last retry every event of the chunk is kept as a
    ``FailedDelivery``."""
    sub = get_subscriber(subscriber_name)
    if sub is None:
        logger.error("%d events for unknown subscriber %s dropped", len(messages), subscriber_name)
        return 0
    try:
        consume_batch(sub, [Event.from_message(message) for message in messages])
        return len(messages)
    except Exception as exc:
        attempt = self.request.retries + 1
        if self.request.retries >= settings.EVENT_DELIVERY_MAX_RETRIES:
            for message in messages:
                record_failed_delivery(sub, message, error=exc, attempts=attempt)
            logger.error(
                "a batch of %d events failed %d times in %s; kept as failed deliveries: %s",
                len(messages), attempt, subscriber_name, exc,
            )  # fmt: skip
            return 0
        delay = min(settings.EVENT_DELIVERY_RETRY_DELAY * 2**self.request.retries, 300)
        raise self.retry(exc=exc, countdown=delay, max_retries=None) from exc


@shared_task(name="opsconductor.events.tasks.sweep_outbox")
def sweep_outbox() -> dict[str, int]:
    """Periodic (Celery beat): relay events a crash left in the outbox, purge old ones."""
    relayed = sweep(
        grace=timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS),
        retention=timedelta(days=settings.OUTBOX_RETENTION_DAYS),
    )
    if any(relayed.values()):
        logger.info("outbox sweep relayed %s", relayed)
    return relayed
