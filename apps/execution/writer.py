"""Group commit: one thread per worker process writes what every target it runs reports.

A target of a run produces a handful of writes: its steps' starts and results, its output in
chunks, its final result and event. Written by each target's own thread, that is ~20 statements
and ~6 commits per target, each with its own round trip, ORM compilation and commit, and as many
database connections as threads. Here the targets' threads only queue what happened; one writer
thread takes everything queued since its last commit and writes it together:

- log numbers reserved once per run per batch (``services.reserve_seq``);
- one transaction with one statement per kind of change (``executemany`` of prepared raw SQL for
  the per-row updates, one bulk insert for the log entries, one for the outbox events);
- after the commit: targets' health reports in one call, other after-commit work (host keys
  seen), ``services.run_target_finished`` once per run, and the relay of the events.

While a batch commits the next one queues up, so batches grow with load and nothing waits for a
timer. Order is kept: log numbers are handed out in queue order, and within a batch step starts
are written before step results before target results.

A step's start is the one synchronous write (``step_started`` returns when it is committed): once a
step may have run it must be on record, so that a worker that dies afterwards gets its target
declared ``lost``, never run twice. Everything else is queued; ``barrier`` waits until what was
queued before it is committed (a unit of work calls it before it returns).

A failing batch is retried (a lost database connection: up to three times with a pause), then
written one operation at a time, so one bad operation cannot take the others with it.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from apps.execution.models import RunEvent, RunStep, RunTarget, StepStatus, TargetStatus
from apps.execution.output import Chunk
from apps.execution.services import DB, LogEntry, reserve_seq, state_entry
from opsconductor.db.reconnect import close_broken_connections
from opsconductor.events.outbox import publish_many

logger = logging.getLogger(__name__)

RETRIES = 3  # of a batch that failed with a lost connection, before going one by one
MAX_BATCH = 2000  # operations written in one transaction at most
START_TIMEOUT_SECONDS = 60  # a step whose start cannot be recorded by then is not run
IDLE_CLOSE_SECONDS = 2.0  # an idle writer closes its database connection after this long


class WriteFailed(Exception):
    """A synchronous write (a step's start) could not be committed."""


# -- what the targets' threads queue ----------------------------------------------------------


@dataclass
class _Op:
    run_id: uuid.UUID | None = None
    done: threading.Event | None = None
    error: BaseException | None = None

    def entries(self) -> int:
        return 0


@dataclass
class Output(_Op):
    run_target_id: uuid.UUID | None = None
    chunks: list[Chunk] = field(default_factory=list)

    def entries(self) -> int:
        return len(self.chunks)


@dataclass
class StepStart(_Op):
    run_target_id: uuid.UUID | None = None
    index: int = 0
    name: str = ""

    def entries(self) -> int:
        return 1


@dataclass
class StepEnd(_Op):
    run_target_id: uuid.UUID | None = None
    index: int = 0
    status: str = ""
    reason: str = ""
    exit_code: int | None = None
    duration_ms: int = 0
    chunks: list[Chunk] = field(default_factory=list)

    def entries(self) -> int:
        return len(self.chunks) + 1


@dataclass
class StepsSkipped(_Op):
    run_target_id: uuid.UUID | None = None
    indexes: list[int] = field(default_factory=list)
    reason: str = ""


@dataclass
class TargetDone(_Op):
    run_target_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    target_name: str = ""
    status: str = ""
    reason: str = ""
    exit_code: int | None = None
    output: dict[str, Any] = field(default_factory=dict)  # output_* fields, when it ran

    def entries(self) -> int:
        return 1  # its result, or a note that it came too late


@dataclass
class Heartbeat(_Op):
    run_target_ids: list[uuid.UUID] = field(default_factory=list)
    worker: str = ""


@dataclass
class Health(_Op):
    target_id: uuid.UUID | None = None
    status: str = ""
    message: str = ""


@dataclass
class AfterCommit(_Op):
    call: Callable[[], None] | None = None


@dataclass
class Barrier(_Op):
    pass


def output_entry(run_target_id: uuid.UUID, chunk: Chunk) -> LogEntry:
    return LogEntry(
        kind="output",
        data=chunk.text,
        run_target_id=run_target_id,
        step_index=chunk.step_index if chunk.step_index >= 0 else None,
        stream=chunk.stream,
    )


# -- the writer --------------------------------------------------------------------------------


class Writer:
    def __init__(
        self,
        *,
        report_health: Callable[[list[tuple[uuid.UUID, str, str]]], None],
        on_targets_done: Callable[[set[uuid.UUID]], None],
    ):
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._report_health = report_health
        self._on_targets_done = on_targets_done
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # written so far (for the benchmark's and the tests' curiosity)
        self.operations = 0

    # -- queueing (any thread) ------------------------------------------------------------------

    def output(self, run_id: uuid.UUID, run_target_id: uuid.UUID, chunks: list[Chunk]) -> None:
        if chunks:
            self._put(Output(run_id=run_id, run_target_id=run_target_id, chunks=list(chunks)))

    def step_started(self, run_id: uuid.UUID, run_target_id: uuid.UUID, index: int, name: str):
        """Record that a step starts; returns once that is committed (raises ``WriteFailed``,
        also when that takes longer than ``START_TIMEOUT_SECONDS``)."""
        op = StepStart(run_id=run_id, run_target_id=run_target_id, index=index, name=name)
        if not self._wait(op, timeout=START_TIMEOUT_SECONDS):
            raise WriteFailed(f"the step's start was not written within {START_TIMEOUT_SECONDS} s")

    def step_ended(self, run_id: uuid.UUID, run_target_id: uuid.UUID, index: int, *, status: str,
                   reason: str, exit_code: int | None, duration_ms: int,
                   chunks: list[Chunk]) -> None:  # fmt: skip
        self._put(
            StepEnd(
                run_id=run_id,
                run_target_id=run_target_id,
                index=index,
                status=status,
                reason=reason,
                exit_code=exit_code,
                duration_ms=duration_ms,
                chunks=list(chunks),
            )
        )

    def steps_skipped(self, run_target_id: uuid.UUID, indexes: list[int], reason: str) -> None:
        if indexes:
            self._put(StepsSkipped(run_target_id=run_target_id, indexes=indexes, reason=reason))

    def target_done(self, op: TargetDone) -> None:
        self._put(op)

    def heartbeat(self, run_target_ids: list[uuid.UUID], worker: str) -> None:
        """Stamp ``heartbeat_at`` on the targets this worker runs (see worker.py)."""
        self._put(Heartbeat(run_target_ids=run_target_ids, worker=worker))

    def health(self, target_id: uuid.UUID, status: str, message: str = "") -> None:
        self._put(Health(target_id=target_id, status=status, message=message))

    def after_commit(self, call: Callable[[], None]) -> None:
        self._put(AfterCommit(call=call))

    def barrier(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before now is written (or has failed); False on timeout."""
        return self._wait(Barrier(), timeout=timeout, raise_error=False)

    def _put(self, op: _Op) -> None:
        # under the lock: the thread cannot decide to end between this put and its check
        with self._lock:
            self._queue.put(op)
            if self._thread is None or not self._thread.is_alive():
                self._start_locked()

    def _wait(self, op: _Op, *, timeout: float | None = None, raise_error: bool = True) -> bool:
        op.done = threading.Event()
        self._put(op)
        if not op.done.wait(timeout):
            return False
        if op.error is not None and raise_error:
            raise WriteFailed(str(op.error)) from op.error
        return True

    # -- the thread -----------------------------------------------------------------------------

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="execution-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Write what is queued, then end the thread (a later report starts it again)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _loop(self) -> None:
        stopping = False
        while True:
            try:
                first = self._queue.get(timeout=0 if stopping else IDLE_CLOSE_SECONDS)
            except queue.Empty:
                if stopping:
                    with self._lock:  # nothing left, and nobody can add without seeing this
                        if self._queue.empty():
                            self._thread = None
                            break
                    continue
                connections.close_all()  # idle: hold no database connection meanwhile
                continue
            if first is None:
                stopping = True  # write what is still queued, then end
                continue
            ops = [first]
            while len(ops) < MAX_BATCH:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stopping = True
                    continue
                ops.append(op)
            try:
                # a connection that died meanwhile (a database restart: this one, or another
                # alias's used by the after-commit work) is replaced before the batch
                close_broken_connections()
                self._write(ops)
            except BaseException as exc:  # never let the thread die: the process would stop
                logger.exception("the execution writer failed on a batch of %d", len(ops))
                for op in ops:  # and never leave a waiting target behind
                    if op.done is not None and not op.done.is_set():
                        op.error = op.error or exc
                        op.done.set()
        connections.close_all()

    def _write(self, ops: list[_Op]) -> None:
        for attempt in range(RETRIES + 1):
            try:
                done_runs = write_batch(ops)
                break
            except (OperationalError, InterfaceError) as exc:
                connections[DB].close()
                if attempt >= RETRIES:
                    logger.warning("execution writer: the database is away (%s)", exc)
                    done_runs = self._one_by_one(ops)
                    break
                time.sleep(0.5 * 2**attempt)
            except DatabaseError:
                logger.exception("execution writer: a batch failed; writing it one by one")
                connections[DB].close()
                done_runs = self._one_by_one(ops)
                break
        self.batches += 1
        self.operations += len(ops)
        self._after(ops, done_runs)

    def _one_by_one(self, ops: list[_Op]) -> set[uuid.UUID]:
        done_runs: set[uuid.UUID] = set()
        for op in ops:
            try:
                done_runs |= write_batch([op])
            except Exception as exc:
                op.error = exc
                logger.exception("execution writer: could not write %s", type(op).__name__)
                if isinstance(exc, OperationalError | InterfaceError):
                    connections[DB].close()
        return done_runs

    def _after(self, ops: list[_Op], done_runs: set[uuid.UUID]) -> None:
        health = [(op.target_id, op.status, op.message) for op in ops if isinstance(op, Health)]
        calls = [op.call for op in ops if isinstance(op, AfterCommit) and op.call]
        try:
            if health:
                self._report_health(health)
            for call in calls:
                try:
                    call()
                except Exception:
                    logger.exception("execution writer: after-commit work failed")
            if done_runs:
                self._on_targets_done(done_runs)
        except Exception:
            logger.exception("execution writer: after-commit work failed")
        finally:
            for op in ops:
                if op.done is not None:
                    op.done.set()


# -- one batch, in one transaction ---------------------------------------------------------------


@functools.cache
def _statements(vendor: str) -> dict[str, str]:
    """The batch's per-row statements for a database vendor (prepared once, run with
    ``executemany``: no ORM compilation per row). Names come from the models, quoted."""
    quote = connections[DB].ops.quote_name

    def names(model, fields: str) -> dict[str, str]:
        return {f: quote(model._meta.get_field(f).column) for f in fields.split()}

    step_table, target_table = quote(RunStep._meta.db_table), quote(RunTarget._meta.db_table)
    s = names(
        RunStep,
        "run_target index status reason exit_code started_at finished_at duration_ms updated_at",
    )
    t = names(
        RunTarget,
        "id status reason exit_code finished_at updated_at step_started heartbeat_at "
        "output_bytes output_truncated output_digest output_sample",
    )
    one_step = f"{s['run_target']} = %s AND {s['index']} = %s"
    return {
        "step_start": (
            f"UPDATE {step_table} SET {s['status']} = %s, {s['started_at']} = %s, "  # noqa: S608
            f"{s['updated_at']} = %s WHERE {one_step}"
        ),
        "target_step": (
            f"UPDATE {target_table} SET {t['step_started']} = %s, "  # noqa: S608
            f"{t['heartbeat_at']} = %s, {t['updated_at']} = %s WHERE {t['id']} = %s"
        ),
        "step_end": (
            f"UPDATE {step_table} SET {s['status']} = %s, {s['reason']} = %s, "  # noqa: S608
            f"{s['exit_code']} = %s, {s['finished_at']} = %s, {s['duration_ms']} = %s, "
            f"{s['updated_at']} = %s WHERE {one_step}"
        ),
        "step_skip": (
            f"UPDATE {step_table} SET {s['status']} = %s, {s['reason']} = %s, "  # noqa: S608
            f"{s['updated_at']} = %s WHERE {one_step} AND {s['status']} = %s"
        ),
        "target_done": (
            f"UPDATE {target_table} SET {t['status']} = %s, {t['reason']} = %s, "  # noqa: S608
            f"{t['exit_code']} = %s, {t['finished_at']} = %s, {t['updated_at']} = %s, "
            f"{t['output_bytes']} = %s, {t['output_truncated']} = %s, "
            f"{t['output_digest']} = %s, {t['output_sample']} = %s WHERE {t['id']} = %s"
        ),
        "steps_left": (
            f"UPDATE {step_table} SET {s['status']} = %s, {s['reason']} = %s, "  # noqa: S608
            f"{s['updated_at']} = %s WHERE {s['run_target']} = %s AND {s['status']} IN (%s, %s)"
        ),
    }


def write_batch(ops: list[_Op]) -> set[uuid.UUID]:
    """Write ``ops`` (see the module's docstring); the runs that had targets finish."""
    connection = connections[DB]
    # log numbers, in queue order, reserved per run (autocommitted: see reserve_seq)
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    for op in ops:
        if op.run_id is not None and op.entries():
            wanted[op.run_id] += op.entries()
    next_seq: dict[uuid.UUID, int] = {}
    gone: set[uuid.UUID] = set()
    from apps.execution.models import Run

    for run_id, count in wanted.items():
        try:
            next_seq[run_id] = reserve_seq(run_id, count)
        except Run.DoesNotExist:
            gone.add(run_id)  # deleted meanwhile: nothing of it to write
    first_seq: dict[int, int] = {}
    for op in ops:
        if op.run_id in next_seq and op.entries():
            first_seq[id(op)] = next_seq[op.run_id]
            next_seq[op.run_id] += op.entries()

    now = timezone.now()
    uuid_prep = RunTarget._meta.pk.get_db_prep_value
    at = connection.ops.adapt_datetimefield_value(now)
    sql = _statements(connection.vendor)

    def u(value):
        return uuid_prep(value, connection)

    events: list[RunEvent] = []

    def log(op: _Op, entries: list[LogEntry]) -> None:
        first = first_seq[id(op)]
        events.extend(
            RunEvent(
                run_id=op.run_id,
                seq=first + offset,
                kind=e.kind,
                run_target_id=e.run_target_id,
                step_index=e.step_index,
                stream=e.stream,
                data=e.data,
            )
            for offset, e in enumerate(entries)
        )

    live = [op for op in ops if op.run_id not in gone]
    starts = [op for op in live if isinstance(op, StepStart)]
    ends = [op for op in live if isinstance(op, StepEnd)]
    skips = [op for op in live if isinstance(op, StepsSkipped)]
    dones = [op for op in live if isinstance(op, TargetDone)]
    beats = [op for op in live if isinstance(op, Heartbeat)]
    done_runs: set[uuid.UUID] = set()
    with transaction.atomic(using=DB), connection.cursor() as cursor:
        for beat in beats:
            RunTarget.objects.using(DB).filter(
                pk__in=beat.run_target_ids, status=TargetStatus.RUNNING, worker=beat.worker
            ).update(heartbeat_at=now)
        if starts:
            cursor.executemany(
                sql["step_start"],
                [(StepStatus.RUNNING, at, at, u(op.run_target_id), op.index) for op in starts],
            )
            cursor.executemany(
                sql["target_step"],
                [(op.index, at, at, u(op.run_target_id)) for op in starts],
            )
        if ends:
            cursor.executemany(
                sql["step_end"],
                [
                    (
                        op.status,
                        op.reason[:1000],
                        op.exit_code,
                        at,
                        op.duration_ms,
                        at,
                        u(op.run_target_id),
                        op.index,
                    )
                    for op in ends
                ],
            )
        if skips:
            cursor.executemany(
                sql["step_skip"],
                [
                    (
                        StepStatus.SKIPPED,
                        op.reason[:1000],
                        at,
                        u(op.run_target_id),
                        index,
                        StepStatus.PENDING,
                    )
                    for op in skips
                    for index in op.indexes
                ],
            )
        running: set[uuid.UUID] = set()
        if dones:
            running = set(
                RunTarget.objects.using(DB)
                .select_for_update(no_key=True)
                .filter(pk__in=[op.run_target_id for op in dones], status=TargetStatus.RUNNING)
                .values_list("id", flat=True)
            )
            finished = [op for op in dones if op.run_target_id in running]
            if finished:
                cursor.executemany(
                    sql["target_done"],
                    [
                        (
                            op.status,
                            op.reason[:1000],
                            op.exit_code,
                            at,
                            at,
                            op.output.get("output_bytes", 0),
                            op.output.get("output_truncated", False),
                            op.output.get("output_digest", ""),
                            op.output.get("output_sample", "")[:500],
                            u(op.run_target_id),
                        )
                        for op in finished
                    ],
                )
                cursor.executemany(
                    sql["steps_left"],
                    [
                        (
                            StepStatus.SKIPPED,
                            op.reason[:1000] or "not run",
                            at,
                            u(op.run_target_id),
                            StepStatus.PENDING,
                            StepStatus.RUNNING,
                        )
                        for op in finished
                    ],
                )
                # one event per target of a run: relayed in batches by the worker (worker.py)
                publish_many(
                    "execution.target.finished",
                    [
                        {
                            "run_id": str(op.run_id),
                            "run_target_id": str(op.run_target_id),
                            "target_id": str(op.target_id),
                            "target_name": op.target_name,
                            "status": op.status,
                            "exit_code": op.exit_code,
                            "reason": op.reason,
                        }
                        for op in finished
                    ],
                    using=DB,
                )
                done_runs = {op.run_id for op in finished}
        for op in live:
            if isinstance(op, Output):
                log(op, [output_entry(op.run_target_id, c) for c in op.chunks])
            elif isinstance(op, StepStart):
                log(op, [state_entry(type="step", run_target_id=op.run_target_id, step=op.index,
                                     name=op.name, status=StepStatus.RUNNING)])  # fmt: skip
            elif isinstance(op, StepEnd):
                entries = [output_entry(op.run_target_id, c) for c in op.chunks]
                entries.append(
                    state_entry(
                        type="step",
                        run_target_id=op.run_target_id,
                        step=op.index,
                        status=op.status,
                        exit_code=op.exit_code,
                        reason=op.reason,
                        duration_ms=op.duration_ms,
                    )
                )
                log(op, entries)
            elif isinstance(op, TargetDone):
                if op.run_target_id in running:
                    entry = state_entry(type="target", run_target_id=op.run_target_id,
                                        name=op.target_name, status=op.status,
                                        exit_code=op.exit_code, reason=op.reason)  # fmt: skip
                else:  # the reaper declared it lost meanwhile: its verdict stands
                    entry = state_entry(
                        type="note", run_target_id=op.run_target_id, name=op.target_name,
                        message=f"a late result ({op.status}) was discarded: the target had "
                        "been declared lost",
                    )  # fmt: skip
                log(op, [entry])
        if events:
            RunEvent.objects.using(DB).bulk_create(events)
    return done_runs


__all__ = ["TargetDone", "WriteFailed", "Writer", "output_entry", "write_batch"]
