"""Event outbox: publish cost in the caller's transaction, and commit-to-handler latency.

Real PostgreSQL and RabbitMQ on loopback; the worker runs in this process (threads pool).
"""

from __future__ import annotations

import statistics
import threading
import time

from bench.setup import django_for_bench


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def main(events: int = 1000) -> None:
    django_for_bench()
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.db import transaction

    from config.celery import app
    from opsconductor.events import publish, subscriber
    from opsconductor.events.models import ConsumedEvent, OutboxEvent

    seen: dict[str, float] = {}
    done = threading.Event()

    @subscriber(app="audit", events=["benchmark.*"])
    def on_event(event):
        seen[str(event.id)] = time.perf_counter()
        if len(seen) >= expected[0]:
            done.set()

    expected = [events]
    OutboxEvent.objects.all().delete()
    ConsumedEvent.objects.using("audit").all().delete()
    app.control.purge()

    # 1. Publish cost without a consumer running: one event per transaction, then a batch.
    started = time.perf_counter()
    for i in range(events):
        with transaction.atomic():
            publish("benchmark.thing.happened", {"i": i})
    single = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        for i in range(events):
            publish("benchmark.thing.batched", {"i": i})
    batch = time.perf_counter() - started
    app.control.purge()
    print(f"outbox publish+relay, 1 event/transaction: {events / single:,.0f} events/s "
          f"({single / events * 1000:.2f} ms each)")  # fmt: skip
    print(f"outbox publish+relay, {events} events in 1 transaction: {events / batch:,.0f} events/s")

    # 2. Commit-to-handler latency through RabbitMQ and a real worker.
    committed: dict[str, float] = {}
    with start_worker(
        app, pool="threads", concurrency=8, perform_ping_check=False, loglevel="WARNING",
        queues=settings.OPSCONDUCTOR_QUEUES,
    ):  # fmt: skip
        started = time.perf_counter()
        for i in range(events):
            with transaction.atomic():
                event_id = publish("benchmark.thing.timed", {"i": i})
            committed[str(event_id)] = time.perf_counter()
        done.wait(timeout=120)
        elapsed = time.perf_counter() - started
    latencies = [(seen[k] - committed[k]) * 1000 for k in committed if k in seen]
    print(f"delivered {len(latencies)}/{events} events in {elapsed:.2f}s "
          f"({len(latencies) / elapsed:,.0f} events/s end to end)")  # fmt: skip
    print(f"commit-to-handler latency ms: p50 {statistics.median(latencies):.1f}, "
          f"p95 {_percentile(latencies, 0.95):.1f}, max {max(latencies):.1f}")  # fmt: skip
