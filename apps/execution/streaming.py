"""The live stream of runs (Server-Sent Events): one poller per process, fanned out to every
open stream (docs/adr/0019-live-streams.md).

An open stream costs no database connection and no thread while it waits. The process's
``StreamHub`` owns one thread with one connection (to ``execution``). Every
``EXECUTION_STREAM_POLL_SECONDS`` it reads, in one query, the log counter and state of every run
somebody is watching (``Run.event_seq``: the number of the last entry of the run's log, handed out
before the entry commits), and reads a run's log only when its counter moved past what a stream
has seen: the same page of entries serves every stream of that run. With nobody watching, the
thread holds no connection and waits.

A stream is a ``Subscription``: the hub hands it its entries, formatted, in order; the stream's
consumer is either a generator in a request thread (WSGI: the development server, gthread) or a
coroutine in an event loop (the ``streams`` process, ASGI: no thread per stream at all).

Order and gaps: workers reserve log numbers before their transaction commits
(``services.reserve_seq``), so number N+1 can become visible before N. A stream never sends past a
missing number while its writer may still commit it; after ``GAP_WAIT_SECONDS`` (a writer that
rolled back) or once the run has ended (read before its log: every writer is done), the gap is
skipped. So ``Last-Event-ID`` never hides an entry that arrives later.

Cost: per tick, each entry is formatted once for all the streams of its run, and each stream
gets what is new for it as one piece (one hand-over to its consumer, one write to its client),
not an entry at a time: measured, the per-entry, per-stream hand-overs were what a process
serving 500 streams of a busy run spent its CPU on (docs/benchmarks.md, "Live streams").

Flow control: the hub hands a stream more only while fewer than ``MAX_PENDING`` entries wait to
be sent to its client; a slow client only slows itself (its entries are read again for it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connections

from apps.execution.models import RUN_TERMINAL, Run, RunEvent, RunTarget
from opsconductor.db.reconnect import db_unit

logger = logging.getLogger(__name__)

DB = "execution"
GAP_WAIT_SECONDS = 2.0
PAGE = 500  # log entries read per run per tick
MAX_PENDING = 1000  # entries a stream may have waiting for its client before the hub pauses it
RUNS_PER_QUERY = 1000
KEEPALIVE_SECONDS = 15.0


def sse_event(event: RunEvent, names: dict[uuid.UUID, str]) -> str:
    """One log entry as an SSE event (steps numbered from 1)."""
    if event.kind == RunEvent.Kind.OUTPUT:
        payload = {
            "run_target_id": str(event.run_target_id),
            "target": names.get(event.run_target_id, ""),
            "step": None if event.step_index is None else event.step_index + 1,
            "stream": event.stream,
            "text": event.data,
        }
    else:
        payload = json.loads(event.data)
        if event.run_target_id:
            payload.setdefault("target", names.get(event.run_target_id, ""))
        if payload.get("step") is not None:
            payload["step"] = payload["step"] + 1
    lines = "\n".join(f"data: {line}" for line in json.dumps(payload).split("\n"))
    return f"id: {event.seq}\nevent: {event.kind}\n{lines}\n\n"


def sse_end(cursor: int, status: str | None) -> str:
    return f"id: {cursor}\nevent: end\ndata: {json.dumps({'status': status})}\n\n"


class Subscription:
    """One open stream: where it is in the run's log, and how the hub hands it entries.

    ``cursor`` and ``offered`` (entries handed over) are written by the hub's thread only,
    ``taken`` (entries the consumer took) by the consumer only; ``pending`` is their difference
    (no lock needed). Items are ``(text, entries)``: a tick's entries for this stream as one
    piece of text."""

    def __init__(self, run_id: uuid.UUID, after: int) -> None:
        self.run_id = run_id
        self.cursor = after
        self.offered = 0
        self.taken = 0
        self.closed = False

    @property
    def pending(self) -> int:
        return self.offered - self.taken

    def offer(self, chunks: list[str], end: str | None) -> None:
        """Called by the hub's thread: ``chunks`` (events) to send, then ``end`` (the last
        event, after which the stream closes), handed over as one item."""
        count = len(chunks) + (end is not None)
        if not count:
            return
        self.offered += count
        self._put(("".join(chunks) + (end or ""), count, end is not None))

    def _put(self, item: tuple[str, int, bool]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class ThreadSubscription(Subscription):
    """Consumed by a generator in a request thread (WSGI)."""

    def __init__(self, run_id: uuid.UUID, after: int) -> None:
        super().__init__(run_id, after)
        self._queue: queue.SimpleQueue[tuple[str, int, bool]] = queue.SimpleQueue()

    def _put(self, item: tuple[str, int, bool]) -> None:
        self._queue.put(item)

    def get(self, timeout: float) -> tuple[str, bool] | None:
        """The next piece of text and whether it ends the stream; None after ``timeout``."""
        try:
            text, count, last = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        self.taken += count
        return text, last


class LoopSubscription(Subscription):
    """Consumed by a coroutine in an event loop (ASGI): entries cross into the loop through
    ``call_soon_threadsafe``."""

    def __init__(self, run_id: uuid.UUID, after: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(run_id, after)
        self._loop = loop
        self._queue: asyncio.Queue[tuple[str, int, bool]] = asyncio.Queue()

    def _put(self, item: tuple[str, int, bool]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: the client is gone
            self.closed = True

    async def get(self, timeout: float) -> tuple[str, bool] | None:
        try:
            text, count, last = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        self.taken += count
        return text, last


@dataclass
class _Feed:
    """What the hub knows of one watched run."""

    run_id: uuid.UUID
    subscriptions: list[Subscription] = field(default_factory=list)
    names: dict[uuid.UUID, str] | None = None
    missing_since: dict[int, float] = field(default_factory=dict)
    formatted: dict[int, str] = field(default_factory=dict)  # this tick's entries as SSE text

    def text(self, event: RunEvent) -> str:
        text = self.formatted.get(event.seq)
        if text is None:
            text = self.formatted[event.seq] = sse_event(event, self.names or {})
        return text


class StreamHub:
    """The process's one reader of run logs for live streams (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[uuid.UUID, _Feed] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the consumers' side -------------------------------------------------------------------

    def subscribe(self, subscription: Subscription) -> Subscription:
        with self._lock:
            feed = self._feeds.setdefault(subscription.run_id, _Feed(subscription.run_id))
            feed.subscriptions.append(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="execution-stream-hub", daemon=True
                )
                self._thread.start()
        self._wake.set()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.closed = True
        with self._lock:
            feed = self._feeds.get(subscription.run_id)
            if feed is not None and subscription in feed.subscriptions:
                feed.subscriptions.remove(subscription)
                if not feed.subscriptions:
                    del self._feeds[subscription.run_id]

    @property
    def watching(self) -> int:
        with self._lock:
            return sum(len(feed.subscriptions) for feed in self._feeds.values())

    # -- the hub's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                feeds = [feed for feed in self._feeds.values() if feed.subscriptions]
            if not feeds:
                # nobody is watching: give the connection back and wait for a stream
                connections.close_all()
                self._wake.wait(timeout=60)
                self._wake.clear()
                continue
            busy = False
            try:
                with db_unit():
                    busy = self._tick(feeds)
            except DatabaseError as exc:  # an outage: the streams wait (with keep-alives)
                logger.warning("live streams: could not read the run logs (%s)", type(exc).__name__)
                time.sleep(1.0)
                continue
            except Exception:  # a bug must not end every stream of the process
                logger.exception("live streams: the hub's tick failed")
                time.sleep(1.0)
                continue
            if not busy:
                self._wake.wait(timeout=settings.EXECUTION_STREAM_POLL_SECONDS)
                self._wake.clear()

    def _tick(self, feeds: list[_Feed]) -> bool:
        """One read of every watched run; True when a page was full (read again at once)."""
        state: dict[uuid.UUID, tuple[int, str]] = {}
        ids = [feed.run_id for feed in feeds]
        for start in range(0, len(ids), RUNS_PER_QUERY):
            rows = Run.objects.using(DB).filter(pk__in=ids[start : start + RUNS_PER_QUERY])
            for run_id, seq, status in rows.values_list("id", "event_seq", "status"):
                state[run_id] = (seq, status)
        busy = False
        for feed in feeds:
            subscriptions = [s for s in list(feed.subscriptions) if not s.closed]
            if feed.run_id not in state:  # the run was deleted
                for subscription in subscriptions:
                    subscription.offer([], sse_end(subscription.cursor, None))
                    self.unsubscribe(subscription)
                continue
            last, status = state[feed.run_id]
            ended = status in RUN_TERMINAL
            ready = [s for s in subscriptions if s.pending < MAX_PENDING]
            behind = [s for s in ready if s.cursor < last or ended]
            if not behind:
                continue
            start_after = min(s.cursor for s in behind)
            events = list(
                RunEvent.objects.using(DB)
                .filter(run_id=feed.run_id, seq__gt=start_after, seq__lte=last)
                .order_by("seq")[:PAGE]
            )
            complete = len(events) < PAGE
            busy = busy or not complete
            if feed.names is None or any(
                e.run_target_id and e.run_target_id not in feed.names for e in events
            ):
                feed.names = dict(
                    RunTarget.objects.using(DB)
                    .filter(run_id=feed.run_id)
                    .values_list("id", "target_name")
                )
            self._note_gaps(feed, events, start_after)
            feed.formatted = {}
            for subscription in behind:
                self._deliver(feed, subscription, events, ended=ended and complete, status=status)
            feed.formatted = {}
        return busy

    def _note_gaps(self, feed: _Feed, events: list[RunEvent], start_after: int) -> None:
        now = time.monotonic()
        present = {e.seq for e in events}
        top = events[-1].seq if events else start_after
        missing = {seq for seq in range(start_after + 1, top) if seq not in present}
        feed.missing_since = {seq: feed.missing_since.get(seq, now) for seq in missing}

    def _deliver(
        self, feed: _Feed, subscription: Subscription, events: list[RunEvent], *, ended: bool,
        status: str,
    ) -> None:  # fmt: skip
        now = time.monotonic()
        chunks: list[str] = []
        cursor = subscription.cursor
        for event in events:
            if event.seq <= cursor:
                continue
            if event.seq != cursor + 1 and not ended:
                waiting = any(
                    now - feed.missing_since.get(seq, now) < GAP_WAIT_SECONDS
                    for seq in range(cursor + 1, event.seq)
                )
                if waiting:
                    break  # an earlier entry may still be committing: wait for it
            chunks.append(feed.text(event))
            cursor = event.seq
        subscription.cursor = cursor
        if ended and cursor >= (events[-1].seq if events else cursor):
            subscription.offer(chunks, sse_end(cursor, status))
            self.unsubscribe(subscription)
        else:
            subscription.offer(chunks, None)


HUB = StreamHub()


def stream_lines(
    *, run_id: uuid.UUID, after: int = 0, keepalive: float = KEEPALIVE_SECONDS
) -> Iterator[str]:
    """The run's log as SSE, for a request thread (WSGI): the thread waits on its queue and holds
    no database connection while it does."""
    subscription = ThreadSubscription(run_id, after)
    HUB.subscribe(subscription)
    try:
        yield "retry: 2000\n\n"
        while True:
            item = subscription.get(timeout=keepalive)
            if item is None:
                yield ": keepalive\n\n"
                continue
            text, last = item
            yield text
            if last:
                return
    finally:
        HUB.unsubscribe(subscription)


async def stream_lines_async(
    *, run_id: uuid.UUID, after: int = 0, keepalive: float = KEEPALIVE_SECONDS
) -> AsyncIterator[str]:
    """The same, for an event loop (ASGI): a stream is a coroutine, no thread at all."""
    subscription = LoopSubscription(run_id, after, asyncio.get_running_loop())
    HUB.subscribe(subscription)
    try:
        yield "retry: 2000\n\n"
        while True:
            item = await subscription.get(timeout=keepalive)
            if item is None:
                yield ": keepalive\n\n"
                continue
            text, last = item
            yield text
            if last:
                return
    finally:
        HUB.unsubscribe(subscription)
