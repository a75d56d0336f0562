"""Scheduling metrics for ``GET /metrics``, read from the scheduling tables at scrape time
(docs/operations.md, "Metrics")."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from apps.scheduling.models import Firing, FiringOutcome, Schedule
from opsconductor.observability.metrics import register_collector

DB = "scheduling"


def collect() -> Iterator[Metric]:
    now = timezone.now()
    outcomes = dict(
        Firing.objects.using(DB).values_list("outcome").annotate(count=Count("pk")).order_by()
    )
    firings = CounterMetricFamily(
        "opsconductor_schedule_firings",
        "Due times of schedules by what became of them: fired (a run started), skipped "
        "(overlap), missed (a misfire: the scheduler was down past the grace), failed_to_start.",
        labels=["outcome"],
    )
    for outcome in FiringOutcome.values:
        if outcome != FiringOutcome.STARTING:
            firings.add_metric([outcome], outcomes.get(outcome, 0))
    yield firings
    yield GaugeMetricFamily(
        "opsconductor_schedule_firings_starting",
        "Firings claimed whose run is being created right now.",
        value=outcomes.get(FiringOutcome.STARTING, 0),
    )

    enabled = Schedule.objects.using(DB).filter(enabled=True)
    stats = enabled.aggregate(
        count=Count("pk"), overdue=Min("next_fire_at", filter=Q(next_fire_at__lte=now))
    )
    yield GaugeMetricFamily(
        "opsconductor_schedules_enabled", "Schedules that are not paused.", value=stats["count"]
    )
    lag = (now - stats["overdue"]).total_seconds() if stats["overdue"] else 0.0
    yield GaugeMetricFamily(
        "opsconductor_scheduler_lag_seconds",
        "How long the most overdue due time of an enabled schedule has been waiting to fire "
        "(0 if none is overdue).",
        value=max(lag, 0.0),
    )


register_collector("scheduling", collect)
