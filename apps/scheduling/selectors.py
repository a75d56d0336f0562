"""Reads of the scheduling context."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from apps.scheduling.models import (
    AlertRule,
    Firing,
    NotificationChannel,
    NotificationDelivery,
    Schedule,
)

DB = "scheduling"
logger = logging.getLogger(__name__)


def schedules() -> QuerySet[Schedule]:
    return Schedule.objects.using(DB).prefetch_related("alert_rules__channel").order_by("name")


def firings(*, schedule_id: uuid.UUID) -> QuerySet[Firing]:
    return Firing.objects.using(DB).filter(schedule_id=schedule_id).order_by("-scheduled_for")


def soonest_due() -> datetime | None:
    """The earliest next due time of any enabled schedule (one index lookup)."""
    return (
        Schedule.objects.using(DB)
        .filter(enabled=True, next_fire_at__isnull=False)
        .order_by("next_fire_at")
        .values_list("next_fire_at", flat=True)
        .first()
    )


def channels() -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.using(DB).order_by("name")


def alert_rules() -> QuerySet[AlertRule]:
    """Every alert rule, on jobs and on schedules."""
    return AlertRule.objects.using(DB).select_related("channel", "schedule").order_by("created_at")


def job_alert_rules() -> QuerySet[AlertRule]:
    return alert_rules().filter(job_id__isnull=False)


def deliveries() -> QuerySet[NotificationDelivery]:
    return NotificationDelivery.objects.using(DB).order_by("-created_at")


TICK_CACHE_KEY = "scheduling:last-tick"


def record_tick() -> None:
    """Note that the scheduler's tick ran now (read by ``scheduler_status``); never raises."""
    from django.core.cache import cache

    try:
        cache.set(TICK_CACHE_KEY, timezone.now(), timeout=24 * 3600)
    except Exception as exc:  # the cache is down: the status says beat is unknown, no more
        logger.warning("could not record the scheduler's tick: %s", type(exc).__name__)


def scheduler_status() -> dict:
    """The scheduler as the System page shows it: schedules enabled, the most overdue due
    time, how late the latest firing was, and whether beat's tick runs."""
    from django.conf import settings
    from django.core.cache import cache

    now = timezone.now()
    enabled = Schedule.objects.using(DB).filter(enabled=True)
    stats = enabled.aggregate(
        count=Count("pk"), overdue=Min("next_fire_at", filter=Q(next_fire_at__lte=now))
    )
    latest = (
        Firing.objects.using(DB)
        .filter(fired_at__isnull=False)
        .select_related("schedule")
        .order_by("-scheduled_for")
        .first()
    )
    last_firing = None
    if latest is not None:
        last_firing = {
            "schedule_id": str(latest.schedule_id),
            "schedule_name": latest.schedule.name,
            "scheduled_for": latest.scheduled_for.isoformat(),
            "fired_at": latest.fired_at.isoformat(),
            "late_seconds": round(
                max((latest.fired_at - latest.scheduled_for).total_seconds(), 0.0), 3
            ),
            "outcome": latest.outcome,
        }
    tick = float(settings.SCHEDULING_TICK_SECONDS)
    try:
        last_tick = cache.get(TICK_CACHE_KEY)
    except Exception:
        last_tick = None
    return {
        "enabled_schedules": stats["count"],
        "overdue_seconds": round(max((now - stats["overdue"]).total_seconds(), 0.0), 3)
        if stats["overdue"]
        else 0.0,
        "last_firing": last_firing,
        "last_tick_at": last_tick,
        # beat sends a tick every tick_seconds: alive if one ran within a few of them
        "beat_alive": None
        if last_tick is None
        else (now - last_tick).total_seconds() <= max(10 * tick, 30.0),
        "tick_seconds": tick,
    }
