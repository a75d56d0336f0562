"""The bridge's Prometheus metrics (``GET /metrics``; docs/legacy-bridge.md, "Visibility").

Counted in this process (like the HTTP request metrics): every request the bridge answered, by
route prefix, method and status, and how long the backend took to answer. The breaker's state
is this process's too. Traffic across all processes over days is in the database
(``GET /api/v1/bridge/routes/``).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from legacy_bridge.breaker import CLOSED, HALF_OPEN, OPEN, breaker_for
from opsconductor.observability.metrics import REGISTRY, register_collector

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

BRIDGE_REQUESTS = Counter(
    "opsconductor_legacy_bridge_requests",
    "Requests the legacy bridge answered in this process, by route prefix, mode, method and "
    "status code (proxied ones carry the backend's status; 502/503/504 are the bridge's own).",
    ["prefix", "mode", "method", "status"],
    registry=REGISTRY,
)
BACKEND_SECONDS = Histogram(
    "opsconductor_legacy_bridge_backend_response_seconds",
    "Time until the legacy backend's response headers arrived, in this process, by prefix.",
    ["prefix"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)


def observe(*, prefix: str, mode: str, method: str, status: int) -> None:
    BRIDGE_REQUESTS.labels(
        prefix=prefix,
        mode=mode,
        method=method if method in METHODS else "other",
        status=str(status),
    ).inc()


def collect() -> Iterator[Metric]:
    url = settings.LEGACY_BACKEND_URL
    if not url:
        return
    snapshot = breaker_for(url).snapshot()
    state = GaugeMetricFamily(
        "opsconductor_legacy_bridge_breaker_state",
        "The circuit breaker in front of the legacy backend, in this process (1 for the "
        "current state).",
        labels=["state"],
    )
    for name in (CLOSED, OPEN, HALF_OPEN):
        state.add_metric([name], 1 if snapshot.state == name else 0)
    yield state
    yield CounterMetricFamily(
        "opsconductor_legacy_bridge_breaker_opened",
        "Times the breaker opened in this process.",
        value=snapshot.opened_count,
    )


register_collector("legacy_bridge", collect)
