"""Targets metrics for ``GET /metrics``, read from the targets table at scrape time
(docs/operations.md, "Metrics")."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from apps.targets.models import Target
from opsconductor.observability.metrics import register_collector

DB = "targets"


def collect() -> Iterator[Metric]:
    counts = {
        (health, status): count
        for health, status, count in Target.objects.using(DB)
        .values_list("health_status", "status")
        .annotate(count=Count("pk"))
        .order_by()
    }
    targets = GaugeMetricFamily(
        "opsconductor_targets",
        "Targets by the result of their last health check and their status (only active "
        "targets are checked periodically).",
        labels=["health", "status"],
    )
    for health in Target.Health.values:
        for status in Target.Status.values:
            targets.add_metric([health, status], counts.get((health, status), 0))
    yield targets


register_collector("targets", collect)
