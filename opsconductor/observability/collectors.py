"""The kernel's own metrics: the event outbox of every database, and the broker's queues.

Registered by ``opsconductor.observability.metrics.autodiscover`` at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from celery import current_app
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from opsconductor.db.reconnect import release_connections
from opsconductor.events.models import FailedDelivery, OutboxCounter, OutboxEvent
from opsconductor.events.outbox import RELAYED, distinct_database_aliases
from opsconductor.observability.metrics import register_collector

logger = logging.getLogger(__name__)


def outbox_metrics() -> Iterator[Metric]:
    """Per database (aliases sharing one are reported once, under the first alias's name)."""
    pending = GaugeMetricFamily(
        "opsconductor_outbox_pending",
        "Events written to the outbox and not relayed to the broker yet.",
        labels=["alias"],
    )
    oldest = GaugeMetricFamily(
        "opsconductor_outbox_oldest_pending_age_seconds",
        "Age of the oldest event not relayed yet (0 if none).",
        labels=["alias"],
    )
    relayed = CounterMetricFamily(
        "opsconductor_events_relayed",
        "Events relayed from the outbox to their subscribers' queues.",
        labels=["alias"],
    )
    failed = GaugeMetricFamily(
        "opsconductor_event_failed_deliveries",
        "Events a subscriber kept failing on, waiting for replay_failed_events.",
        labels=["alias"],
    )
    now = timezone.now()
    for alias in distinct_database_aliases():
        backlog = (
            OutboxEvent.objects.using(alias)
            .filter(relayed_at__isnull=True)
            .aggregate(count=Count("pk"), oldest=Min("occurred_at"))
        )
        pending.add_metric([alias], backlog["count"])
        age = (now - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0
        oldest.add_metric([alias], max(age, 0.0))
        total = (
            OutboxCounter.objects.using(alias)
            .filter(name=RELAYED)
            .values_list("value", flat=True)
            .first()
        )
        relayed.add_metric([alias], total or 0)
        failed.add_metric([alias], FailedDelivery.objects.using(alias).count())
        release_connections([alias])  # one alias's connection at a time (ADR 0018)
    yield from (pending, oldest, relayed, failed)


def broker_metrics() -> Iterator[Metric]:
    """Messages waiting in each app's queue, asked of the broker with a short timeout.

    An unreachable broker gives ``opsconductor_broker_up 0`` (and no queue numbers), never a
    failed scrape. Consumers are known on AMQP (RabbitMQ) only; a queue the broker does not
    know (no worker or sender declared it yet) is left out.
    """
    timeout = settings.METRICS_BROKER_TIMEOUT_SECONDS
    up = GaugeMetricFamily(
        "opsconductor_broker_up", "1 if the broker answered at this scrape, 0 if not."
    )
    messages = GaugeMetricFamily(
        "opsconductor_queue_messages",
        "Messages ready in the queue (not yet taken by a worker).",
        labels=["queue"],
    )
    consumers = GaugeMetricFamily(
        "opsconductor_queue_consumers",
        "Workers consuming from the queue (AMQP brokers only).",
        labels=["queue"],
    )
    try:
        with current_app.connection_for_write(
            url=settings.CELERY_BROKER_URL,
            connect_timeout=timeout,
            transport_options={"read_timeout": timeout, "write_timeout": timeout},
        ) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            amqp = connection.transport.driver_type == "amqp"
            channel: Any = connection.channel()  # kombu's stubs know no queue_declare on it
            try:
                for queue in settings.OPSCONDUCTOR_QUEUES:
                    try:
                        _, ready, consuming = channel.queue_declare(queue=queue, passive=True)
                    except connection.channel_errors:
                        # unknown queue: the broker closed the channel; carry on with a new one
                        channel = connection.channel()
                        continue
                    messages.add_metric([queue], ready)
                    if amqp:
                        consumers.add_metric([queue], consuming)
            finally:
                channel.close()
    except Exception as exc:
        # the exception's text may hold the broker URL with its password: name its type only
        logger.warning("metrics: broker unreachable: %s", type(exc).__name__)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield from (up, messages, consumers)


register_collector("kernel.outbox", outbox_metrics)
register_collector("kernel.broker", broker_metrics)
