"""Celery tasks of the scheduling app (queue ``scheduling``): thin wrappers around services.

``fire_due`` is the scheduler's tick, sent by Celery beat every ``SCHEDULING_TICK_SECONDS``
(docs/adr/0010). Within its second it also waits for due times that fall inside it, so a due
time fires within milliseconds of its instant rather than up to a tick late. Several beats (or
a tick redelivered) are safe: schedules are claimed with SKIP LOCKED and each due time has one
firing row at most.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.scheduling import alerts, selectors, services

WORKER = f"{socket.gethostname()}:{os.getpid()}"


@shared_task(name="apps.scheduling.tasks.fire_due")
def fire_due() -> dict[str, int]:
    """Fire what is due now, then what falls due within this tick (one tick's time at most)."""
    selectors.record_tick()
    done: dict[str, int] = {}
    window_end = time.monotonic() + settings.SCHEDULING_TICK_SECONDS * 0.9
    while True:
        fired = services.schedules_fire_due(worker=WORKER)
        for key, count in fired.items():
            done[key] = done.get(key, 0) + count
        soonest = selectors.soonest_due()
        if soonest is None:
            break
        wait = (soonest - timezone.now()).total_seconds()
        if wait > window_end - time.monotonic():
            break
        if wait > 0:
            time.sleep(wait)
        elif not fired:
            # due but not claimable here (another scheduler holds it): do not spin
            time.sleep(0.05)
    return done


@shared_task(name="apps.scheduling.tasks.deliver_notification")
def deliver_notification(delivery_id: str) -> str:
    """One delivery attempt of an alert (webhook or email); failures are retried by the sweep."""
    return alerts.deliver(uuid.UUID(delivery_id))


@shared_task(name="apps.scheduling.tasks.retry_notifications")
def retry_notifications() -> int:
    """Deliveries whose retry time has come (beat, every 30 s)."""
    return alerts.retry_due()
