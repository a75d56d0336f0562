"""``GET /api/v1/system/status/``: what the console's System page shows, in one answer.

- **dependencies**: every database alias, the broker, the cache (the checks of /readyz) and the
  soft checks other packages register there (the legacy backend);
- **workers**: the Celery workers that answered a broadcast (``inspect().active_queues()``, a
  short timeout) and the queues each consumes; **queues**: messages ready and consumers of each
  app's queue, asked of the broker (as ``/metrics`` does);
- **outbox**: events written and not relayed yet, per app (the first segment of the event
  type), and events a subscriber gave up on;
- **sections** other packages register with ``register_status_section`` (the kernel imports no
  app): the scheduling app reports the scheduler's lag and whether beat ticks;
- **metrics**: the names on ``/metrics`` that matter most, to graph and alert on.

Each part is checked on its own: one that fails is reported down (with the exception's type
only: never a message, which may carry a URL with its password) and the answer stays 200.
Answers are cached for ``SYSTEM_STATUS_CACHE_SECONDS`` (shared through the cache), so many open
pages do not each ask the broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opsconductor import health
from opsconductor.api.permissions import IsAuthenticatedUser
from opsconductor.db.reconnect import release_connections
from opsconductor.events.models import FailedDelivery, OutboxEvent
from opsconductor.events.outbox import distinct_database_aliases

logger = logging.getLogger(__name__)

CACHE_KEY = "opsconductor:system-status"
DEFAULT_CACHE_SECONDS = 5.0
DEFAULT_INSPECT_TIMEOUT_SECONDS = 1.0

Section = Callable[[], dict[str, Any]]
_sections: dict[str, Section] = {}

# The metrics an operator graphs and alerts on first (docs/operations.md, "Metrics").
METRICS = (
    ("opsconductor_up", "1 while the process answers scrapes."),
    ("opsconductor_broker_up", "1 if the broker answered at the scrape."),
    ("opsconductor_queue_messages", "Messages waiting in each app's queue."),
    ("opsconductor_queue_consumers", "Workers consuming each queue."),
    ("opsconductor_outbox_pending", "Events not relayed to the broker yet, per database."),
    ("opsconductor_outbox_oldest_pending_age_seconds", "Age of the oldest event not relayed."),
    ("opsconductor_event_failed_deliveries", "Events waiting for replay_failed_events."),
    ("opsconductor_scheduler_lag_seconds", "How long the most overdue due time has waited."),
    ("opsconductor_schedule_firings", "Due times by outcome (fired, skipped, missed...)."),
    ("opsconductor_http_requests", "HTTP requests by route and status."),
)


def register_status_section(name: str, section: Section) -> None:
    """Add ``section()``'s answer (a JSON-able dict, no secrets) to the status under
    ``sections[name]``. A section that raises is reported as ``{"error": "<type>"}``."""
    _sections[name] = section


def unregister_status_section(name: str) -> None:
    _sections.pop(name, None)


def cache_seconds() -> float:
    return float(getattr(settings, "SYSTEM_STATUS_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def inspect_timeout() -> float:
    return float(
        getattr(settings, "SYSTEM_STATUS_INSPECT_TIMEOUT_SECONDS", DEFAULT_INSPECT_TIMEOUT_SECONDS)
    )


def _dependency(name: str, kind: str, problem: str | None, *, soft: bool = False) -> dict:
    state = "ok" if problem in (None, "ok") else "degraded" if soft else "down"
    return {"name": name, "kind": kind, "state": state, "detail": "" if state == "ok" else problem}


def dependencies() -> list[dict]:
    found = []
    for alias in settings.DATABASES:
        found.append(_dependency(f"database:{alias}", "database", health._check_database(alias)))
        release_connections([alias])
    found.append(_dependency("broker", "broker", _check_broker()))
    if "locmem" in settings.CACHES["default"]["BACKEND"]:
        found.append(
            {"name": "cache", "kind": "cache", "state": "ok", "detail": "in-process (no Redis)"}
        )
    else:
        found.append(_dependency("cache", "cache", health._check_cache()))
    for name, check in sorted(health._soft_checks.items()):
        found.append(_dependency(name, "service", health._run_soft_check(name, check), soft=True))
    return found


def _check_broker() -> str | None:
    timeout = settings.METRICS_BROKER_TIMEOUT_SECONDS
    try:
        with current_app.connection_for_write(
            url=settings.CELERY_BROKER_URL, connect_timeout=timeout
        ) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # its text may hold the broker URL with its password
        logger.warning("system status: broker unreachable: %s", type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


def queues() -> list[dict]:
    """Messages ready and consumers per app queue (names without the installation's prefix)."""
    prefix = settings.CELERY_QUEUE_PREFIX
    found: dict[str, dict] = {}
    for metric in _broker_metrics():
        if metric.name not in ("opsconductor_queue_messages", "opsconductor_queue_consumers"):
            continue
        field = "messages" if metric.name.endswith("messages") else "consumers"
        for sample in metric.samples:
            queue = sample.labels["queue"].removeprefix(prefix)
            found.setdefault(queue, {"name": queue, "messages": None, "consumers": None})
            found[queue][field] = int(sample.value)
    return [found[name] for name in sorted(found)]


def _broker_metrics():
    from opsconductor.observability.collectors import broker_metrics

    return list(broker_metrics())


def workers(broker_ok: bool) -> dict:
    """The workers that answered, with the app queues each consumes."""
    if not broker_ok:
        return {"state": "unknown", "detail": "the broker is down", "workers": []}
    prefix = settings.CELERY_QUEUE_PREFIX
    try:
        replies = current_app.control.inspect(timeout=inspect_timeout()).active_queues() or {}
    except Exception as exc:
        logger.warning("system status: workers did not answer: %s", type(exc).__name__)
        detail = f"inspect failed ({type(exc).__name__})"
        return {"state": "unknown", "detail": detail, "workers": []}
    seen = []
    for name, consumed in sorted(replies.items()):
        names = sorted(
            q["name"].removeprefix(prefix)
            for q in consumed or []
            if isinstance(q, dict) and q.get("name", "").startswith(prefix)
        )
        if names:  # (a worker of another installation on the same broker is not ours)
            seen.append({"name": name, "queues": names})
    if not seen:
        return {"state": "down", "detail": "no worker answered", "workers": []}
    wanted = {q.removeprefix(prefix) for q in settings.OPSCONDUCTOR_QUEUES}
    served = {q for worker in seen for q in worker["queues"]}
    missing = sorted(wanted - served)
    if missing:
        return {
            "state": "degraded",
            "detail": "no worker consumes " + ", ".join(missing),
            "workers": seen,
        }
    return {"state": "ok", "detail": "", "workers": seen}


def outbox() -> dict:
    """Undelivered events per app, and failed deliveries per subscribing app."""
    pending: dict[str, dict] = {}
    failed: dict[str, int] = {}
    for alias in distinct_database_aliases():
        rows = (
            OutboxEvent.objects.using(alias)
            .filter(relayed_at__isnull=True)
            .values("event_type")
            .annotate(count=Count("pk"), oldest=Min("occurred_at"))
            .order_by()
        )
        for row in rows:
            app = row["event_type"].split(".", 1)[0]
            entry = pending.setdefault(app, {"app": app, "pending": 0, "oldest_pending_at": None})
            entry["pending"] += row["count"]
            if entry["oldest_pending_at"] is None or row["oldest"] < entry["oldest_pending_at"]:
                entry["oldest_pending_at"] = row["oldest"]
        for subscriber, count in (
            FailedDelivery.objects.using(alias)
            .values_list("subscriber")
            .annotate(count=Count("pk"))
            .order_by()
        ):
            app = subscriber.split(".", 1)[0]
            failed[app] = failed.get(app, 0) + count
        release_connections([alias])
    return {
        "pending": [pending[app] for app in sorted(pending)],
        "failed_deliveries": [{"app": app, "count": failed[app]} for app in sorted(failed)],
    }


def _section(name: str, section: Section) -> dict:
    try:
        return section()
    except Exception as exc:
        logger.exception("system status: section %s failed", name)
        return {"error": type(exc).__name__}


def _part(name: str, compute: Callable[[], Any], fallback: Any) -> Any:
    try:
        return compute()
    except Exception as exc:
        logger.exception("system status: %s failed", name)
        return fallback(type(exc).__name__) if callable(fallback) else fallback


def collect() -> dict:
    """The status, computed now (``status`` is the worst of the dependencies and workers)."""
    started = time.monotonic()
    deps = dependencies()
    broker_ok = any(d["name"] == "broker" and d["state"] == "ok" for d in deps)
    worker_state = workers(broker_ok)
    body = {
        "checked_at": timezone.now(),
        "dependencies": deps,
        "workers": worker_state,
        "queues": _part("queues", queues, []) if broker_ok else [],
        "outbox": _part(
            "outbox",
            outbox,
            lambda error: {"pending": [], "failed_deliveries": [], "error": error},
        ),
        "sections": {name: _section(name, fn) for name, fn in sorted(_sections.items())},
        "metrics": [{"name": name, "help": text} for name, text in METRICS],
        "metrics_path": "/metrics",
    }
    states = [d["state"] for d in deps if d["kind"] != "service"]
    if "down" in states:
        body["status"] = "unavailable"
    elif worker_state["state"] != "ok" or any(d["state"] != "ok" for d in deps):
        body["status"] = "degraded"
    else:
        body["status"] = "ok"
    body["took_ms"] = round((time.monotonic() - started) * 1000)
    return body


def status() -> dict:
    """The status as last computed within ``cache_seconds()`` (computed now if older)."""
    seconds = cache_seconds()
    if seconds > 0:
        try:
            cached = cache.get(CACHE_KEY)
        except Exception:  # the cache itself is down: computed every time, and reported down
            cached = None
        if cached is not None:
            return cached
    body = collect()
    body["cached_for_seconds"] = seconds
    if seconds > 0:
        try:
            cache.set(CACHE_KEY, body, timeout=seconds)
        except Exception as exc:  # reported as the cache's state; computed again next time
            logger.warning("system status: not cached: %s", type(exc).__name__)
    return body


# --- the API --------------------------------------------------------------------------------------


class DependencySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="database:<alias>, broker, cache, or a service.")
    kind = serializers.ChoiceField(choices=["database", "broker", "cache", "service"])
    state = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    detail = serializers.CharField(help_text="What is wrong (never a URL or a driver message).")


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    queues = serializers.ListField(child=serializers.CharField())


class WorkersSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["ok", "degraded", "down", "unknown"])
    detail = serializers.CharField()
    workers = WorkerSerializer(many=True)


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    messages = serializers.IntegerField(allow_null=True)
    consumers = serializers.IntegerField(allow_null=True, help_text="AMQP brokers only.")


class OutboxPendingSerializer(serializers.Serializer):
    app = serializers.CharField()
    pending = serializers.IntegerField()
    oldest_pending_at = serializers.DateTimeField(allow_null=True)


class FailedDeliveriesSerializer(serializers.Serializer):
    app = serializers.CharField(help_text="The subscribing app.")
    count = serializers.IntegerField()


class OutboxSerializer(serializers.Serializer):
    pending = OutboxPendingSerializer(many=True)
    failed_deliveries = FailedDeliveriesSerializer(many=True)


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    help = serializers.CharField()


class SchedulerSectionSerializer(serializers.Serializer):
    enabled_schedules = serializers.IntegerField()
    overdue_seconds = serializers.FloatField(
        help_text="How long the most overdue due time has waited (0: none is overdue)."
    )
    last_firing = serializers.DictField(
        allow_null=True,
        help_text="The latest due time that fired: schedule_name, scheduled_for, fired_at, "
        "late_seconds (how late it fired), outcome.",
    )
    last_tick_at = serializers.DateTimeField(
        allow_null=True, help_text="When the scheduler's tick (sent by beat) last ran."
    )
    beat_alive = serializers.BooleanField(
        allow_null=True, help_text="Whether a tick ran recently (null: none seen yet)."
    )
    tick_seconds = serializers.FloatField()


class SectionsSerializer(serializers.Serializer):
    scheduler = SchedulerSectionSerializer(required=False)


class SystemStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "degraded", "unavailable"],
        help_text="unavailable: a database, the broker or the cache is down; degraded: a "
        "service (the legacy backend) or the workers are not all well.",
    )
    checked_at = serializers.DateTimeField()
    cached_for_seconds = serializers.FloatField()
    took_ms = serializers.IntegerField()
    dependencies = DependencySerializer(many=True)
    workers = WorkersSerializer()
    queues = QueueSerializer(many=True)
    outbox = OutboxSerializer()
    sections = SectionsSerializer()
    metrics = MetricSerializer(many=True)
    metrics_path = serializers.CharField()


class SystemStatusView(APIView):
    """The state of OpsConductor's dependencies, workers, queues, scheduler and event outbox,
    for every signed-in user (it names no secret). Cached for a few seconds."""

    permission_classes = (IsAuthenticatedUser,)

    @extend_schema(operation_id="system_status", responses=SystemStatusSerializer, tags=["system"])
    def get(self, request: Request) -> Response:
        return Response(status())
