from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from opsconductor.events.message import Event
from opsconductor.events.outbox import consume, sweep
from opsconductor.events.registry import get_subscriber

logger = logging.getLogger(__name__)


@shared_task(
    name="opsconductor.events.tasks.deliver_event",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def deliver_event(subscriber_name: str, message: dict) -> bool:
    """Run one subscriber's handler for one event (sent to the subscriber app's queue)."""
    sub = get_subscriber(subscriber_name)
    if sub is None:
        logger.error(
            "event %s for unknown subscriber %s dropped", message.get("id"), subscriber_name
        )
        return False
    return consume(sub, Event.from_message(message))


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
