"""Prometheus metrics: the collectors apps contribute, HTTP request metrics, the exposition.

Two kinds of numbers, kept apart on purpose (docs/operations.md, "Metrics"):

- **Computed from the database at scrape time** by *collectors*. Each app registers one in its
  ``apps/<app>/metrics.py`` (imported at start-up, like ``subscribers``)::

      from opsconductor.observability.metrics import register_collector

      def collect():
          yield GaugeMetricFamily("opsconductor_things", "Things.", value=Thing.objects.count())

      register_collector("things", collect)

  A collector reads only its own app's tables. Every web process answers with the same numbers
  however many web and worker processes there are, so nothing is shared between processes
  (prometheus_client's multiprocess mode is not used).
- **Counted in this process**: HTTP requests (``observe_request``, called by
  ``opsconductor.observability.middleware.HttpMetricsMiddleware``). Each web process reports
  the requests it answered itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.utils.module_loading import autodiscover_modules
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from opsconductor.db.reconnect import release_connections

logger = logging.getLogger(__name__)

CollectorFunction = Callable[[], Iterable[Metric]]

# ``*_created`` samples would double every counter's series and mean nothing to our alerts.
disable_created_metrics()

# -- collectors apps contribute -------------------------------------------------------------------

_collectors: dict[str, CollectorFunction] = {}


def register_collector(name: str, fn: CollectorFunction) -> CollectorFunction:
    """Have ``fn()`` called at every scrape; it returns (or yields) metric families.

    ``name`` (usually the app label) identifies it in ``opsconductor_metrics_collector_up``;
    registering a name again replaces the earlier function. A collector that raises costs its
    own metrics only: the scrape goes on and reports it down.
    """
    _collectors[name] = fn
    return fn


def unregister_collector(name: str) -> None:
    _collectors.pop(name, None)


def autodiscover() -> None:
    """Import every installed app's ``metrics`` module, and the kernel's own collectors."""
    autodiscover_modules("metrics")
    from opsconductor.observability import collectors  # noqa: F401  (registers the kernel's)


class _RegisteredCollectors(Collector):
    """Runs the registered collector functions at each scrape, each on its own."""

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to query when registered; names are known only at scrape time

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "opsconductor_metrics_collector_up",
            "1 if the collector answered at this scrape, 0 if it failed (see the logs).",
            labels=["collector"],
        )
        took = GaugeMetricFamily(
            "opsconductor_metrics_collector_duration_seconds",
            "How long the collector took at this scrape.",
            labels=["collector"],
        )
        for name, fn in sorted(_collectors.items()):
            started = time.perf_counter()
            try:
                families = list(fn())
            except Exception:
                logger.exception("metrics collector %s failed", name)
                families, ok = [], 0
            else:
                ok = 1
            finally:
                # a scrape holds one collector's connections at a time, not every alias's at
                # once (ADR 0018: no thread waits for one pool while holding another's)
                release_connections()
            up.add_metric([name], ok)
            took.add_metric([name], time.perf_counter() - started)
            yield from families
        yield up
        yield took


# -- the registry /metrics exposes ----------------------------------------------------------------

REGISTRY = CollectorRegistry(auto_describe=True)
REGISTRY.register(_RegisteredCollectors())
# This process's CPU, memory, open files, garbage collection and Python version.
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# -- HTTP requests, counted in this process --------------------------------------------------------

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "opsconductor_http_requests",
    "HTTP requests this process answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "opsconductor_http_request_duration_seconds",
    "Time from the request reaching Django to the response (for a stream: its start), "
    "in this process, by route template and method.",
    ["route", "method"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")  # path("runs/<uuid:pk>/")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")  # re_path("(?P<pk>[^/.]+)")


def route_template(request) -> str:
    """The URL pattern that answered ``request`` (``/api/v1/runs/{pk}/``), never its path:
    ids in a label would make a new time series per object. ``unmatched`` when no pattern
    matched (404s, redirects made before URL resolution)."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not route:
        return UNMATCHED
    route = _REGEX_GROUP.sub(r"{\1}", route)
    route = _CONVERTER.sub(r"{\1}", route)
    route = route.replace("^", "").replace("$", "").replace(r"\Z", "").replace("\\", "")
    return "/" + route.lstrip("/")


def observe_request(request, status: int, seconds: float) -> None:
    route = route_template(request)
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_DURATION.labels(route=route, method=method).observe(seconds)


# -- helpers for collectors -----------------------------------------------------------------------


def duration_histogram(
    name: str,
    documentation: str,
    rows: QuerySet,
    *,
    buckets: Sequence[float],
    start: str = "started_at",
    end: str = "finished_at",
) -> GaugeHistogramMetricFamily:
    """A histogram of ``end - start`` over ``rows`` (those with both set), counted in one query.

    It describes the rows as they are now (a *gauge* histogram: ``_bucket``, ``_gcount``,
    ``_gsum``), e.g. the runs that finished in the last hour: use ``histogram_quantile`` on
    the buckets directly, not on their ``rate``.
    """
    rows = rows.filter(**{f"{start}__isnull": False, f"{end}__isnull": False}).annotate(
        metric_duration=ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    )
    counts = {
        f"le_{index}": Count("pk", filter=Q(metric_duration__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(buckets)
    }
    totals = rows.aggregate(count=Count("pk"), total=Sum("metric_duration"), **counts)
    samples = [
        (floatToGoString(bound), totals[f"le_{index}"]) for index, bound in enumerate(buckets)
    ]
    samples.append(("+Inf", totals["count"]))
    total = totals["total"]
    seconds = total.total_seconds() if isinstance(total, timedelta) else float(total or 0)
    return GaugeHistogramMetricFamily(name, documentation, buckets=samples, gsum_value=seconds)


# -- the exposition -------------------------------------------------------------------------------


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The metrics in the format the scraper asked for (``Accept``): body and content type."""
    encoder, content_type = choose_encoder(accept)
    return encoder(REGISTRY), content_type
