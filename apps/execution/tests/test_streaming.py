"""The stream hub: one reader of run logs per process, fanned out to every open stream.

Each test writes a run's log the way workers do (numbers reserved on ``Run.event_seq``, entries
committed later, sometimes out of order) and reads it through ``stream_lines``, the generator a
request thread serves, with the hub's own thread and connection doing the reading.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection, connections

from apps.execution import streaming
from apps.execution.models import Run, RunEvent, RunStatus, RunTarget, TargetStatus
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
DB = "execution"


def _run(*, status=RunStatus.RUNNING) -> tuple[Run, RunTarget]:
    run = Run.objects.using(DB).create(
        job_id=uuid.uuid4(), job_name="hub", job_version=1, definition={}, parameters={},
        sealed_parameters="", policy={}, trigger="manual", requested_by={"kind": "system"},
        status=status, target_count=1,
    )  # fmt: skip
    target = RunTarget.objects.using(DB).create(
        run=run, target_id=uuid.uuid4(), target_name="web-01", os_family="linux", position=0,
        status=TargetStatus.RUNNING, worker="w",
    )  # fmt: skip
    return run, target


def _reserve(run: Run, count: int = 1) -> None:
    Run.objects.using(DB).filter(pk=run.pk).update(event_seq=run.event_seq + count)
    run.event_seq += count


def _write(run: Run, target: RunTarget, *seqs: int) -> None:
    fields = {"run": run, "kind": RunEvent.Kind.OUTPUT, "run_target": target, "step_index": 0}
    RunEvent.objects.using(DB).bulk_create(
        RunEvent(seq=seq, stream="stdout", data=f"line {seq}\n", **fields) for seq in seqs
    )


def _end(run: Run, status=RunStatus.SUCCEEDED) -> None:
    Run.objects.using(DB).filter(pk=run.pk).update(status=status)


class Reader:
    """A client of ``stream_lines`` in a thread of its own: what it received, and when."""

    def __init__(self, run: Run, after: int = 0) -> None:
        self.events: list[tuple[int, str, dict, float]] = []
        self.done = threading.Event()
        self._lines = streaming.stream_lines(run_id=run.id, after=after, keepalive=0.5)
        self.keepalives = 0
        self.pieces = 0  # pieces of the stream that carried events
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for chunk in self._lines:
                self.pieces += "id: " in chunk
                # a piece of the stream: any number of events, or a keep-alive comment
                for block in chunk.split("\n\n"):
                    if block.startswith(": keepalive"):
                        self.keepalives += 1
                        continue
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
                    if "id" in fields:
                        event = (int(fields["id"]), fields["event"], json.loads(fields["data"]))
                        self.events.append((*event, time.monotonic()))
        finally:
            connections.close_all()
            self.done.set()

    @property
    def ids(self) -> list[int]:
        return [seq for seq, kind, *_ in self.events if kind != "end"]

    def has(self, count: int) -> bool:
        return len(self.ids) >= count


def test_entries_arrive_in_order_and_a_gap_is_waited_for_until_its_entry_commits():
    run, target = _run()
    _reserve(run, 3)
    _write(run, target, 1, 3)  # 2 is reserved, its writer has not committed yet
    reader = Reader(run)
    wait_for(lambda: reader.has(1), what="the first entry")
    time.sleep(0.8)
    assert reader.ids == [1]  # 3 is held back: 2 may still come
    _write(run, target, 2)
    wait_for(lambda: reader.has(3), what="the gap to fill")
    assert reader.ids == [1, 2, 3]
    _end(run)
    assert reader.done.wait(10)
    assert reader.events[-1][1:3] == ("end", {"status": "succeeded"})


def test_a_gap_whose_writer_rolled_back_is_skipped_after_the_wait():
    run, target = _run()
    _reserve(run, 3)
    _write(run, target, 1, 3)
    reader = Reader(run)
    wait_for(lambda: reader.has(2), timeout=10, what="entry 3 after the gap's wait")
    assert reader.ids == [1, 3]
    first, third = reader.events[0][3], reader.events[1][3]
    assert third - first >= streaming.GAP_WAIT_SECONDS - 0.5


def test_a_late_reader_of_a_long_finished_log_gets_every_entry_once_then_the_end():
    run, target = _run()
    count = streaming.PAGE * 2 + 137
    _reserve(run, count)
    _write(run, target, *range(1, count + 1))
    _end(run, RunStatus.FAILED)
    readers = [Reader(run), Reader(run, after=count - 10), Reader(run, after=count)]
    for reader in readers:
        assert reader.done.wait(20)
    assert readers[0].ids == list(range(1, count + 1))
    assert readers[1].ids == list(range(count - 9, count + 1))
    assert readers[2].ids == []
    for reader in readers:
        assert reader.events[-1][0] == count
        assert reader.events[-1][1:3] == ("end", {"status": "failed"})


def test_a_client_that_does_not_read_is_paused_not_fed_without_bound_and_loses_nothing():
    run, target = _run()
    count = streaming.MAX_PENDING * 3
    _reserve(run, count)
    _write(run, target, *range(1, count + 1))
    subscription = streaming.HUB.subscribe(streaming.ThreadSubscription(run.id, 0))
    try:
        wait_for(lambda: subscription.pending >= streaming.MAX_PENDING, what="the first pages")
        time.sleep(1.0)  # several ticks while the client reads nothing
        assert subscription.pending < streaming.MAX_PENDING + streaming.PAGE
        received = []
        while len(received) < count:
            item = subscription.get(timeout=10)
            assert item is not None, f"stalled after {len(received)} entries"
            received += [int(line[4:]) for line in item[0].split("\n") if line.startswith("id: ")]
        assert received == list(range(1, count + 1))
    finally:
        streaming.HUB.unsubscribe(subscription)


def test_many_streams_of_one_run_are_fed_from_one_read_and_a_closed_one_is_let_go():
    run, target = _run()
    readers = [Reader(run) for _ in range(40)]
    wait_for(lambda: streaming.HUB.watching >= 40, what="every stream subscribed")
    _reserve(run, 2)
    _write(run, target, 1, 2)
    wait_for(lambda: all(r.has(2) for r in readers), what="every stream fed")
    assert all(r.ids == [1, 2] for r in readers)
    # entries committed together reach a stream as one piece (one write to its client)
    assert all(r.pieces == 1 for r in readers), [r.pieces for r in readers]
    _end(run)
    for reader in readers:
        assert reader.done.wait(10)
    wait_for(lambda: streaming.HUB.watching == 0, what="the hub to let the streams go")


def test_a_deleted_run_ends_its_streams():
    run, _ = _run()
    reader = Reader(run)
    wait_for(lambda: streaming.HUB.watching >= 1, what="the stream subscribed")
    Run.objects.using(DB).filter(pk=run.pk).delete()
    assert reader.done.wait(10)
    assert reader.events[-1][1:3] == ("end", {"status": None})


def test_streams_keep_going_when_the_hubs_connection_is_killed():
    run, target = _run()
    reader = Reader(run)
    _reserve(run)
    _write(run, target, 1)
    wait_for(lambda: reader.has(1), what="the first entry")
    for alias in connections:  # this thread's others reconnect; the hub's are killed
        if alias != "default":
            connections[alias].close()
    with connection.cursor() as cursor:  # what a database restart does to the hub's session
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    _reserve(run)
    _write(run, target, 2)
    wait_for(lambda: reader.has(2), timeout=15, what="the entry after the connection died")
    _end(run)
    assert reader.done.wait(10)
    assert reader.ids == [1, 2]


def test_nobody_watching_means_no_reading_and_no_connection_held(monkeypatch):
    """Once the last stream ends, the hub stops querying and hands its connection back (to the
    process's pool, ADR 0018, which closes it when idle; without a pool, it is closed)."""
    run, _ = _run()
    reader = Reader(run)
    wait_for(lambda: streaming.HUB.watching >= 1, what="the stream subscribed")
    ticks = []
    tick = streaming.HUB._tick
    monkeypatch.setattr(streaming.HUB, "_tick", lambda feeds: ticks.append(1) or tick(feeds))
    wait_for(lambda: ticks, what="the hub reading the run's log")
    _end(run)
    assert reader.done.wait(10)
    wait_for(lambda: streaming.HUB.watching == 0, what="the stream unsubscribed")
    time.sleep(settings.EXECUTION_STREAM_POLL_SECONDS * 2)  # a tick under way when it left ends
    read = len(ticks)
    time.sleep(settings.EXECUTION_STREAM_POLL_SECONDS * 6)
    assert len(ticks) == read, "the hub kept reading with nobody watching"

    connections[DB].close()  # this thread's own, given back
    pool = getattr(connections[DB], "pool", None)
    if pool is not None:
        stats = pool.get_stats()
        assert stats["pool_size"] - stats["pool_available"] == 0, stats
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE %s",
                ["%event_seq%"],
            )
            assert cursor.fetchone()[0] == 0
