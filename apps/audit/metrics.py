"""Audit metrics for ``GET /metrics``, read from the audit tables at scrape time
(docs/operations.md, "Metrics")."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from apps.audit.models import AuditChainHead, AuditRecord
from opsconductor.observability.metrics import register_collector

DB = "audit"


def collect() -> Iterator[Metric]:
    head = AuditChainHead.objects.using(DB).filter(pk=1).first()
    yield CounterMetricFamily(
        "opsconductor_audit_records",
        "Audit records appended to the chain since the trail began (its head's sequence).",
        value=head.sequence if head else 0,
    )
    latest = (
        AuditRecord.objects.using(DB)
        .order_by("-sequence")
        .values_list("occurred_at", "recorded_at")
        .first()
    )
    lag = max((latest[1] - latest[0]).total_seconds(), 0.0) if latest else 0.0
    yield GaugeMetricFamily(
        "opsconductor_audit_ingestion_lag_seconds",
        "Between when the newest recorded event happened and when the trail recorded it.",
        value=lag,
    )
    yield GaugeMetricFamily(
        "opsconductor_audit_last_recorded_age_seconds",
        "Time since the trail last recorded anything (grows when ingestion stops).",
        value=max((timezone.now() - latest[1]).total_seconds(), 0.0) if latest else 0.0,
    )


register_collector("audit", collect)
