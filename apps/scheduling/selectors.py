"""Reads of the scheduling context."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import QuerySet

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


def job_alert_rules() -> QuerySet[AlertRule]:
    return (
        AlertRule.objects.using(DB)
        .filter(job_id__isnull=False)
        .select_related("channel")
        .order_by("created_at")
    )


def deliveries() -> QuerySet[NotificationDelivery]:
    return NotificationDelivery.objects.using(DB).order_by("-created_at")


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
