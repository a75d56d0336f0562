"""Reads of the scheduling context."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from apps.scheduling.models import (
    AlertRule,
    Firing,
    NotificationChannel,
    NotificationDelivery,
    Schedule,
)

DB = "scheduling"


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


def job_alert_rules() -> QuerySet[AlertRule]:
    return (
        AlertRule.objects.using(DB)
        .filter(job_id__isnull=False)
        .select_related("channel")
        .order_by("created_at")
    )


def deliveries() -> QuerySet[NotificationDelivery]:
    return NotificationDelivery.objects.using(DB).order_by("-created_at")
