"""Execution metrics for ``GET /metrics``, read from the execution tables at scrape time
(docs/operations.md, "Metrics"). Runs are never deleted, so counts by final status only grow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from apps.execution.models import RUN_TERMINAL, Run, RunStatus, RunTarget, TargetStatus
from opsconductor.observability.metrics import duration_histogram, register_collector

DB = "execution"
# Fixed bucket bounds (seconds): a run is one or many targets, from seconds to hours.
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
TARGET_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_WAITING = (TargetStatus.PENDING, TargetStatus.QUEUED)


def collect() -> Iterator[Metric]:
    # imported history is not activity of this system: counting it would look like a burst of
    # finished (and failed) runs to anything that watches these counters
    rows = (
        Run.objects.using(DB)
        .filter(imported=False)
        .values("status")
        .annotate(count=Count("pk"), started=Count("pk", filter=Q(started_at__isnull=False)))
        .order_by()
    )
    by_status = {row["status"]: row for row in rows}
    runs = GaugeMetricFamily(
        "opsconductor_runs", "Runs by their current status.", labels=["status"]
    )
    for status in RunStatus.values:
        runs.add_metric([status], by_status.get(status, {}).get("count", 0))
    yield runs
    yield CounterMetricFamily(
        "opsconductor_runs_started",
        "Runs that started (left pending).",
        value=sum(row["started"] for row in by_status.values()),
    )
    finished = CounterMetricFamily(
        "opsconductor_runs_finished", "Runs that finished, by final status.", labels=["status"]
    )
    for status in sorted(RUN_TERMINAL):
        finished.add_metric([status], by_status.get(status, {}).get("count", 0))
    yield finished
    yield GaugeMetricFamily(
        "opsconductor_runs_imported",
        "Runs imported as history from the legacy system (not in the other run metrics).",
        value=Run.objects.using(DB).filter(imported=True).count(),
    )

    # pending, queued, running and lost are few next to the finished targets: the index on
    # (status, heartbeat_at) finds them without reading the others
    targets = dict(
        RunTarget.objects.using(DB)
        .filter(status__in=[*_WAITING, TargetStatus.RUNNING, TargetStatus.LOST])
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    pending = GaugeMetricFamily(
        "opsconductor_targets_pending",
        "Targets of runs waiting: pending (for their batch or a free slot) or queued (sent, "
        "no worker has taken them yet).",
        labels=["status"],
    )
    for status in _WAITING:
        pending.add_metric([status.value], targets.get(status, 0))
    yield pending
    yield GaugeMetricFamily(
        "opsconductor_targets_running",
        "Targets of runs a worker is running now.",
        value=targets.get(TargetStatus.RUNNING, 0),
    )
    yield CounterMetricFamily(
        "opsconductor_targets_lost",
        "Targets of runs marked lost: their worker stopped answering.",
        value=targets.get(TargetStatus.LOST, 0),
    )

    window = settings.METRICS_DURATION_WINDOW_SECONDS
    since = timezone.now() - timedelta(seconds=window)
    yield duration_histogram(
        "opsconductor_run_duration_seconds",
        f"Durations (start to end) of the runs that finished in the last {window} s.",
        Run.objects.using(DB).filter(finished_at__gte=since, imported=False),
        buckets=RUN_BUCKETS,
    )
    yield duration_histogram(
        "opsconductor_target_duration_seconds",
        f"Durations of the targets (of runs) that finished in the last {window} s.",
        RunTarget.objects.using(DB).filter(finished_at__gte=since, run__imported=False),
        buckets=TARGET_BUCKETS,
    )


register_collector("execution", collect)
