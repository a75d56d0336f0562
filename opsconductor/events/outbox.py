"""Writing events to the outbox and relaying them to subscribers."""

from __future__ import annotations

import json
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone

from opsconductor.db.router import alias_for_app
from opsconductor.events.actor import SYSTEM, Actor
from opsconductor.events.message import Event
from opsconductor.events.models import ConsumedEvent, FailedDelivery, OutboxCounter, OutboxEvent
from opsconductor.events.registry import Subscriber, subscribers_for
from opsconductor.observability.context import actor_bound, bound, current_context
from opsconductor.tasks_routing import queue_for

logger = logging.getLogger(__name__)

RELAY_CHUNK = 500  # events relayed per transaction
RELAYED = "relayed"  # the OutboxCounter of events handed to the broker


class TransactionRequired(RuntimeError):
    """``publish`` was called outside a transaction on the publishing app's alias."""


def alias_for_event(event_type: str) -> str:
    """Events are named ``<app>.<entity>.<verb>``; they live on the publishing app's alias."""
    return alias_for_app(event_type.split(".", 1)[0])


def _json_safe(value: dict) -> dict:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def publish(
    event_type: str,
    payload: dict,
    *,
    actor: Actor | None = None,
    using: str | None = None,
    relay: bool = True,
) -> uuid.UUID:
    """Record ``event_type`` in the outbox, in the caller's transaction, and relay it after commit.

    Call it inside the ``transaction.atomic`` block that makes the change: if that transaction
    rolls back, the event disappears with it and is never delivered. The alias is the publishing
    app's (derived from the first segment of ``event_type``) unless ``using`` says otherwise.
    Returns the event id.

    ``relay=False`` leaves the relay to a batch: for high-volume events (one per target of a
    run) whose publisher calls ``relay_pending`` for many of them at once, or to the sweep.
    """
    alias = using or alias_for_event(event_type)
    if not connections[alias].in_atomic_block:
        # Outside a transaction on *this* alias the event would commit on its own, even if the
        # change it describes (perhaps made on another alias) rolls back.
        raise TransactionRequired(
            f"publish({event_type!r}) must run inside transaction.atomic(using={alias!r}), "
            "the transaction that makes the change."
        )
    row = OutboxEvent.objects.using(alias).create(
        id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=timezone.now(),
        actor=(actor or SYSTEM).as_dict(),
        payload=_json_safe(payload),
        context=current_context(),
    )
    if relay:
        _relay_after_commit(alias, row.id)
    return row.id


def publish_many(
    event_type: str,
    payloads: list[dict],
    *,
    actor: Actor | list[Actor] | None = None,
    using: str | None = None,
    relay: bool = False,
) -> list[uuid.UUID]:
    """``publish`` for many events of one type at once (one insert). ``actor``: one for all,
    or one per payload. By default each is left to a batched relay (``relay=False``: for a
    publisher that calls ``relay_pending`` itself); ``relay=True`` relays them after the
    commit like ``publish``. The same transaction rule as ``publish``."""
    alias = using or alias_for_event(event_type)
    if not connections[alias].in_atomic_block:
        raise TransactionRequired(
            f"publish_many({event_type!r}) must run inside transaction.atomic(using={alias!r})."
        )
    now = timezone.now()
    actors = actor if isinstance(actor, list) else [actor] * len(payloads)
    context = current_context()
    rows = [
        OutboxEvent(
            id=uuid.uuid4(),
            event_type=event_type,
            occurred_at=now,
            actor=(who or SYSTEM).as_dict(),
            payload=_json_safe(payload),
            context=context,
        )
        for payload, who in zip(payloads, actors, strict=True)
    ]
    OutboxEvent.objects.using(alias).bulk_create(rows)
    if relay:
        for row in rows:
            _relay_after_commit(alias, row.id)
    return [row.id for row in rows]


class _RelayBatch:
    """The events one transaction published on one alias, relayed together after its commit."""

    def __init__(self, alias: str):
        self.alias = alias
        self.event_ids: list[uuid.UUID] = []

    def __call__(self) -> None:
        for start in range(0, len(self.event_ids), RELAY_CHUNK):
            relay_pending(using=self.alias, event_ids=self.event_ids[start : start + RELAY_CHUNK])


# The open batch of each database connection (connections are per thread, so is this).
_batches: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _RelayBatch] = weakref.WeakKeyDictionary()


def _relay_after_commit(alias: str, event_id: uuid.UUID) -> None:
    connection = connections[alias]
    batch = _batches.get(connection)
    # Reuse this transaction's batch while its callback is still registered; a rollback (of the
    # transaction or of the savepoint that registered it) discards the callback, so start anew.
    if batch is None or not any(entry[1] is batch for entry in connection.run_on_commit):
        batch = _RelayBatch(alias)
        _batches[connection] = batch
        transaction.on_commit(batch, using=alias)
    batch.event_ids.append(event_id)


@dataclass(frozen=True)
class _Claimed:
    """An outbox row claimed by a relay, with its message as subscribers receive it."""

    id: uuid.UUID
    event_type: str
    message: dict


def _message(event_id, event_type: str, occurred_at, actor: dict | None, payload, context) -> dict:
    """``Event.to_message()`` of an outbox row, built from the row's values directly."""
    actor = actor or SYSTEM.as_dict()
    return {
        "id": str(event_id),
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "actor": {
            "kind": actor.get("kind", "system"),
            "id": actor.get("id"),
            "name": actor.get("name", ""),
        },
        "payload": payload,
        "context": context,
    }


def _dispatch(sub: Subscriber, message: dict, producer=None) -> None:
    from opsconductor.events.tasks import deliver_event

    deliver_event.apply_async(
        args=(sub.name, message),
        queue=queue_for(sub.app),
        producer=producer,
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
    )


def _dispatch_batch(sub: Subscriber, messages: list[dict], producer=None) -> None:
    from opsconductor.events.tasks import deliver_events

    deliver_events.apply_async(
        args=(sub.name, messages),
        queue=queue_for(sub.app),
        producer=producer,
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
    )


def relay_pending(
    *,
    using: str,
    event_ids: list[uuid.UUID] | None = None,
    older_than: timedelta | None = None,
    limit: int = RELAY_CHUNK,
) -> int:
    """Hand unrelayed events to their subscribers' queues; returns how many were relayed.

    Never raises: an event that cannot be sent (broker down) stays in the outbox for the sweep.
    """
    try:
        return _relay(using=using, event_ids=event_ids, older_than=older_than, limit=limit)
    except Exception:  # the database itself failed; the sweep will try again
        logger.exception("outbox relay on %s failed", using)
        return 0


class _Unsent(Exception):
    """A chunk's batch message could not be sent: its claim is rolled back."""


def _relay(*, using, event_ids, older_than, limit) -> int:
    from celery import current_app

    relayed = 0
    try:
        with transaction.atomic(using=using):
            rows = _claim(using=using, event_ids=event_ids, older_than=older_than, limit=limit)
            if not rows:
                return 0
            failed_at: int | None = None
            error = ""
            batches: dict[str, tuple[Subscriber, list[dict]]] = {}
            with current_app.producer_or_acquire() as producer:
                for index, row in enumerate(rows):
                    try:
                        for sub in subscribers_for(row.event_type):
                            if sub.batch:  # sent below, one message for the chunk
                                batches.setdefault(sub.name, (sub, []))[1].append(row.message)
                            else:
                                _dispatch(sub, row.message, producer)
                    except Exception as exc:
                        failed_at, error = index, f"{type(exc).__name__}: {exc}"[:2000]
                        logger.warning("relay of event %s (%s) failed: %s",
                                       row.id, row.event_type, exc)  # fmt: skip
                        break  # the broker is likely down: leave the rest for the sweep
                try:
                    for sub, messages in batches.values():
                        _dispatch_batch(sub, messages, producer)
                except Exception as exc:  # nothing of this chunk is marked relayed: sent again
                    logger.warning("relay of a batch of %d events failed: %s", len(rows), exc)
                    raise _Unsent from exc
            if failed_at is not None:
                _unclaim(using=using, rows=rows[failed_at:], error=error)
            relayed = len(rows) if failed_at is None else failed_at
    except _Unsent:
        return 0
    if relayed:
        _count(using, RELAYED, relayed)
    return relayed


CLAIM_SQL = """
UPDATE {table} AS o
   SET relayed_at = %s, relay_attempts = o.relay_attempts + 1, last_error = ''
  FROM (SELECT id FROM {table}
         WHERE relayed_at IS NULL {conditions}
         ORDER BY occurred_at LIMIT %s
           FOR UPDATE SKIP LOCKED) AS pick
 WHERE o.id = pick.id
RETURNING o.id, o.event_type, o.occurred_at, o.actor, o.payload, o.context
"""


def _claim(*, using, event_ids, older_than, limit) -> list[_Claimed]:
    """Mark up to ``limit`` unrelayed events as relayed (in the caller's transaction, which
    rolls the mark back if the broker refuses them) and return them, oldest first; rows another
    relay holds are skipped. One statement on PostgreSQL."""
    now = timezone.now()
    connection = connections[using]
    if connection.vendor == "postgresql":
        conditions: list[str] = []
        params: list[Any] = [now]
        if event_ids is not None:
            conditions.append("AND id = ANY(%s)")
            params.append(list(event_ids))
        if older_than is not None:
            conditions.append("AND occurred_at <= %s")
            params.append(now - older_than)
        params.append(limit)
        sql = CLAIM_SQL.format(
            table=connection.ops.quote_name(OutboxEvent._meta.db_table),
            conditions=" ".join(conditions),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = [
                (event_id, event_type, at, *(json.loads(v) if isinstance(v, str) else v
                                              for v in (actor, payload, context)))
                for event_id, event_type, at, actor, payload, context in cursor.fetchall()
            ]  # fmt: skip
    else:
        pending = OutboxEvent.objects.using(using).filter(relayed_at__isnull=True)
        if event_ids is not None:
            pending = pending.filter(id__in=event_ids)
        if older_than is not None:
            pending = pending.filter(occurred_at__lte=now - older_than)
        found = list(
            pending.select_for_update().order_by("occurred_at")
            .values_list("id", "event_type", "occurred_at", "actor", "payload", "context")[:limit]
        )  # fmt: skip
        OutboxEvent.objects.using(using).filter(id__in=[row[0] for row in found]).update(
            relayed_at=now, relay_attempts=F("relay_attempts") + 1, last_error=""
        )
    if event_ids is not None:  # the order they were published in, within one instant
        position = {event_id: index for index, event_id in enumerate(event_ids)}
        found.sort(key=lambda row: (row[2], position.get(row[0], 0)))
    else:
        found.sort(key=lambda row: row[2])
    return [_Claimed(row[0], row[1], _message(*row)) for row in found]


def _unclaim(*, using: str, rows: list[_Claimed], error: str) -> None:
    """Give back what could not be sent: the first of ``rows`` failed (its attempt and error
    are kept), the others were not tried."""
    outbox = OutboxEvent.objects.using(using)
    outbox.filter(id=rows[0].id).update(relayed_at=None, last_error=error)
    outbox.filter(id__in=[row.id for row in rows[1:]]).update(
        relayed_at=None, relay_attempts=F("relay_attempts") - 1
    )


def _count(using: str, name: str, amount: int) -> None:
    """Add ``amount`` to an outbox counter (for ``/metrics``), after the relay committed.

    Its own short statement, not part of the relay's transaction: that one talks to the broker
    and would hold the counter's row lock meanwhile, making every relay on the database wait.
    A counter that could not be written is logged and left behind: it is a metric, not data.
    """
    counters = OutboxCounter.objects.using(using).filter(name=name)
    try:
        if counters.update(value=F("value") + amount):
            return
        try:
            with transaction.atomic(using=using):
                OutboxCounter.objects.using(using).create(name=name, value=amount)
        except IntegrityError:  # another process created it meanwhile
            counters.update(value=F("value") + amount)
    except Exception:
        logger.warning("counting %d %s events on %s failed", amount, name, using, exc_info=True)


def consume(sub: Subscriber, event: Event) -> bool:
    """Run ``sub``'s handler for ``event`` once: False if this event was already consumed.

    The ledger row and the handler's writes commit together on the subscriber app's alias, so
    a handler that fails leaves no trace and the redelivery runs it again.
    """
    alias = alias_for_app(sub.app)
    with transaction.atomic(using=alias):
        try:
            with transaction.atomic(using=alias):
                ConsumedEvent.objects.using(alias).create(subscriber=sub.name, event_id=event.id)
        except IntegrityError:
            logger.info("event %s already consumed by %s; skipped", event.id, sub.name)
            return False
        with (
            bound(
                request_id=event.context.get("request_id"),
                ip=event.context.get("ip"),
                user_agent=event.context.get("user_agent"),
            ),
            actor_bound(event.actor.label),
        ):
            handler: Any = sub.handler  # a Handler (registered without batch)
            handler(event)
    return True


def consume_batch(sub: Subscriber, events: list[Event]) -> None:
    """Run a batch subscriber's handler for ``events`` in one transaction on its app's alias
    (no ledger: a batch handler skips what it has seen itself, see ``subscriber``)."""
    alias = alias_for_app(sub.app)
    handler: Any = sub.handler  # a BatchHandler (registered with batch=True)
    with transaction.atomic(using=alias):
        handler(events)


def record_failed_delivery(sub: Subscriber, message: dict, *, error: Exception, attempts: int):
    """Keep an event its subscriber could not handle, on the subscriber's database."""
    alias = alias_for_app(sub.app)
    FailedDelivery.objects.using(alias).update_or_create(
        subscriber=sub.name,
        event_id=message["id"],
        defaults={
            "event_type": message.get("type", ""),
            "message": message,
            "error": f"{type(error).__name__}: {error}"[:4000],
            "attempts": attempts,
        },
    )


def distinct_database_aliases() -> list[str]:
    """One alias per physical database (aliases sharing a database share one outbox table)."""
    from django.conf import settings

    seen: dict[str, str] = {}
    for alias in settings.DATABASES:
        seen.setdefault(settings.DATABASE_STORES.get(alias, alias), alias)
    return list(seen.values())


def sweep(*, grace: timedelta, retention: timedelta) -> dict[str, int]:
    """Relay what a crash left behind on every database, and purge old relayed rows."""
    relayed = {}
    cutoff = timezone.now() - retention
    for alias in distinct_database_aliases():
        relayed[alias] = relay_pending(using=alias, older_than=grace)
        OutboxEvent.objects.using(alias).filter(relayed_at__lt=cutoff).delete()
        ConsumedEvent.objects.using(alias).filter(consumed_at__lt=cutoff).delete()
    return relayed
