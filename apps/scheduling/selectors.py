"""Reads of the scheduling context."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apps.scheduling.models import (
    AlertRule,
    DeliveryStatus,
    Firing,
    FiringOutcome,
    NotificationChannel,
    NotificationDelivery,
    Schedule,
)

DB = "scheduling"
logger = logging.getLogger(__name__)


def schedules() -> QuerySet[Schedule]:
    """Schedules with their latest firing's due time, outcome, reason and run (``last_*``:
    one index lookup each on (schedule, scheduled_for))."""
    latest = Firing.objects.using(DB).filter(schedule_id=OuterRef("pk")).order_by("-scheduled_for")
    return (
        Schedule.objects.using(DB)
        .prefetch_related("alert_rules__channel")
        .annotate(
            last_firing_for=Subquery(latest.values("scheduled_for")[:1]),
            last_firing_outcome=Subquery(latest.values("outcome")[:1]),
            last_firing_reason=Subquery(latest.values("reason")[:1]),
            last_firing_run=Subquery(latest.values("run_id")[:1]),
        )
        .order_by("name")
    )


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


# What the last firing of a schedule came to, as the dashboard and ?last_outcome= name it:
# "failed" also covers a run that was started and then failed or timed out.
LAST_OUTCOMES = ("fired", "failed", "missed", "skipped", "starting")


def last_outcome_expression():
    """The outcome of a schedule's latest firing (by ``scheduled_for``), one index lookup per
    schedule (the firing_once constraint's index): "failed" (failed to start, or its run failed
    or timed out), "missed", "skipped", "fired" or "starting"; null if it never fired."""
    from django.db.models import Case, CharField, F, OuterRef, Q, Subquery, Value, When

    failed = Q(outcome=FiringOutcome.FAILED_TO_START) | Q(
        outcome=FiringOutcome.FIRED, run_status__in=("failed", "timed_out")
    )
    latest = (
        Firing.objects.using(DB)
        .filter(schedule_id=OuterRef("pk"))
        .order_by("-scheduled_for")
        .annotate(
            verdict=Case(
                When(failed, then=Value("failed")),
                default=F("outcome"),
                output_field=CharField(),
            )
        )
        .values("verdict")[:1]
    )
    return Subquery(latest, output_field=CharField())


def schedules_summary(*, next_count: int = 5) -> dict:
    """The dashboard's view of the schedules: how many are enabled and paused, how many whose
    latest firing failed or was missed, the next firings, and the notification deliveries that
    failed for good. Four queries, whatever the number of schedules."""
    from django.db.models import Count

    counts = {"total": 0, "enabled": 0, "last_failed": 0, "last_missed": 0}
    rows = (
        Schedule.objects.using(DB)
        .annotate(last_outcome=last_outcome_expression())
        .values_list("enabled", "last_outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for enabled, last_outcome, n in rows:
        counts["total"] += n
        counts["enabled"] += n if enabled else 0
        if last_outcome in ("failed", "missed"):
            counts[f"last_{last_outcome}"] += n
    upcoming = list(
        Schedule.objects.using(DB)
        .filter(enabled=True, next_fire_at__isnull=False)
        .order_by("next_fire_at")
        .values("id", "name", "job_id", "job_name", "next_fire_at", "timezone")[:next_count]
    )
    failed_deliveries = (
        NotificationDelivery.objects.using(DB).filter(status=DeliveryStatus.FAILED).count()
    )
    return {
        "total": counts["total"],
        "enabled": counts["enabled"],
        "paused": counts["total"] - counts["enabled"],
        "last_failed": counts["last_failed"],
        "last_missed": counts["last_missed"],
        "next_firings": upcoming,
        "failed_deliveries": failed_deliveries,
    }
