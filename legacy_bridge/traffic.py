"""Hourly traffic counts per route prefix, method and status class, kept in the database so the
routes view shows every process's traffic over the last day and week.

Each process sums its requests in memory and a background thread writes them with one upsert
per bucket (``count = count + n``) every ``LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS`` (no request
waits for it); the rest is written at exit, and the routes view writes its own process's
pending counts before reading. A crash loses at most that interval's counts of that process.
With the interval at 0 every request writes its own upsert (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from legacy_bridge.models import TrafficBucket

logger = logging.getLogger(__name__)
DB = "default"

BucketKey = tuple[datetime, str, str, str]  # hour, prefix, method, status class

_lock = threading.Lock()
_pending: Counter[BucketKey] = Counter()
_last_flush = time.monotonic()
_flusher: threading.Thread | None = None


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "5xx"


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def record(*, prefix: str, method: str, status: int) -> None:
    """Count one request the bridge answered."""
    key = (hour_of(timezone.now()), prefix, method[:10], status_class(status))
    interval = settings.LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS
    if interval <= 0:
        write({key: 1})
        return
    with _lock:
        _pending[key] += 1
    _ensure_flusher()


def flush() -> int:
    """Write this process's pending counts; returns how many requests they covered."""
    global _last_flush
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    if not batch:
        return 0
    try:
        write(batch)
    except Exception:
        logger.exception("legacy bridge: could not write traffic counts; kept for the next flush")
        with _lock:
            for key, count in batch.items():
                _pending[key] += count
        return 0
    return sum(batch.values())


def write(batch: dict[BucketKey, int]) -> None:
    """Add ``batch`` to the buckets, one upsert per bucket, in one transaction."""
    table = TrafficBucket._meta.db_table
    connection = connections[DB]
    ops = connection.ops
    # the table name is the model's own; every value is a parameter
    sql = (
        f"INSERT INTO {table} (id, hour, prefix, method, status_class, count) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (hour, prefix, method, status_class) "
        f"DO UPDATE SET count = {table}.count + excluded.count"
    )
    rows = [
        (uuid.uuid4().hex, ops.adapt_datetimefield_value(hour), prefix, method, klass, count)
        for (hour, prefix, method, klass), count in sorted(batch.items())
    ]
    with transaction.atomic(using=DB), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        _purge_old(max(hour for hour, *_ in batch))


def _purge_old(now_hour: datetime) -> None:
    # only when a new hour's bucket is written: at most one delete per hour and process
    global _purged_before
    if _purged_before is not None and now_hour <= _purged_before:
        return
    _purged_before = now_hour
    cutoff = now_hour - timedelta(days=settings.LEGACY_BRIDGE_TRAFFIC_RETENTION_DAYS)
    TrafficBucket.objects.using(DB).filter(hour__lt=cutoff).delete()


_purged_before: datetime | None = None


def _ensure_flusher() -> None:
    global _flusher
    if _flusher is not None and _flusher.is_alive():
        return
    with _lock:
        if _flusher is not None and _flusher.is_alive():
            return
        _flusher = threading.Thread(target=_flush_loop, name="legacy-bridge-traffic", daemon=True)
        _flusher.start()


def _flush_loop() -> None:
    while True:
        interval = max(settings.LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS, 0.5)
        time.sleep(interval)
        if time.monotonic() - _last_flush >= interval:
            try:
                flush()
            finally:
                close_old_connections()


@atexit.register
def _flush_at_exit() -> None:
    try:
        flush()
    except Exception as exc:  # the database may be gone at exit: nothing more to do
        logger.warning("legacy bridge: traffic counts lost at exit: %s", type(exc).__name__)
