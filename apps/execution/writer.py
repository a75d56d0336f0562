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

A batch that fails while the database answers is written one operation at a time, so one bad
operation cannot take the others with it.

When the database does not answer (an outage), nothing is dropped: the batch stays at the head of
a **backlog**, everything reported afterwards queues behind it, and the head is retried every
``EXECUTION_WRITER_RETRY_SECONDS``. The backlog is kept in memory up to
``EXECUTION_WRITER_MEMORY_BYTES``; beyond that it is appended, fsync'd, to a spill file of the
worker under the var dir (``spill_path``), at most ``EXECUTION_WRITER_SPILL_BYTES``. When the
database is back it is written oldest first (the head, the spill file, memory), each report once:

- a report's log numbers are reserved on its first attempt and kept with it (in memory and in
  the spill file); a batch that may have committed although its attempt failed (the commit's
  acknowledgement lost) is checked before it is written again, and a report whose first log
  number is already in the run's log (the log's unique ``(run, seq)``) is not written twice.
  Reports without log entries (heartbeats, skipped steps) are idempotent updates;
- before the first batch after an outage, and every heartbeat interval while a backlog is
  replayed, the running targets the backlog holds results of get a heartbeat, so the reaper
  does not declare them lost meanwhile (the reaper also waits after an outage: ``ReapGate``);
- a spill file left by an earlier process of the same worker name is replayed when the worker
  starts (``recover``).

What cannot be spilled: a step's start (its target's thread waits for it: it fails, the step is
not run), after-commit calls (kept in memory, run once the backlog is written) and barriers
(answered once what precedes them is written or safely on disk). docs/execution.md,
"Database outages", states the bound.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from apps.execution.models import RunEvent, RunStep, RunTarget, StepStatus, TargetStatus
from apps.execution.output import Chunk
from apps.execution.services import DB, LogEntry, reserve_seq, state_entry
from opsconductor.db.reconnect import close_broken_connections
from opsconductor.events.models import ConsumedEvent
from opsconductor.events.outbox import publish_many

logger = logging.getLogger(__name__)

MAX_BATCH = 2000  # operations written in one transaction at most
START_TIMEOUT_SECONDS = 60  # a step whose start cannot be recorded by then is not run
IDLE_CLOSE_SECONDS = 2.0  # an idle writer gives its database connection back after this long


class WriteFailed(Exception):
    """A synchronous write (a step's start) could not be committed."""


# -- what the targets' threads queue ----------------------------------------------------------


@dataclass
class _Op:
    run_id: uuid.UUID | None = None
    done: threading.Event | None = None
    error: BaseException | None = None
    seq: int | None = None  # its first log number: reserved on the first attempt, then kept
    key: uuid.UUID | None = None  # given when spilled: how a replay knows it was written
    state: str = "queued"  # "writing" while an attempt holds it; "abandoned" if its waiter left

    def entries(self) -> int:
        return 0

    def size(self) -> int:
        """Roughly what it holds in memory, in bytes (for the backlog's bound)."""
        return 200


@dataclass
class Output(_Op):
    run_target_id: uuid.UUID | None = None
    chunks: list[Chunk] = field(default_factory=list)

    def entries(self) -> int:
        return len(self.chunks)

    def size(self) -> int:
        return 200 + sum(80 + len(c.text) for c in self.chunks)


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

    def size(self) -> int:
        return 300 + len(self.reason) + sum(80 + len(c.text) for c in self.chunks)


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

    def size(self) -> int:
        return 400 + len(self.reason) + len(str(self.output.get("output_sample", "")))


@dataclass
class Heartbeat(_Op):
    run_target_ids: list[uuid.UUID] = field(default_factory=list)
    worker: str = ""

    def size(self) -> int:
        return 200 + 50 * len(self.run_target_ids)


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


# -- the backlog's spill file ------------------------------------------------------------------

_SPILLED = {
    cls.__name__: cls for cls in (Output, StepEnd, StepsSkipped, TargetDone, Heartbeat, Health)
}
_UUIDS = ("run_id", "run_target_id", "target_id", "key")
SPILL_LEDGER = "execution.writer.spill"  # the kernel's consumed-event ledger, for spilled reports
_SKIP = ("done", "error", "state")


def encode_op(op: _Op) -> dict[str, Any]:
    """A report as JSON-able data (the spill file's form). Output is masked before it reaches
    the writer (output.TargetOutput, runner's ``mask``), so no secret is written in clear."""
    data: dict[str, Any] = {"kind": type(op).__name__}
    for f in fields(op):
        if f.name in _SKIP:
            continue
        value = getattr(op, f.name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif f.name == "chunks":
            value = [[c.step_index, c.stream, c.text] for c in value]
        elif f.name == "run_target_ids":
            value = [str(v) for v in value]
        data[f.name] = value
    return data


def decode_op(data: dict[str, Any]) -> _Op:
    data = dict(data)
    cls = _SPILLED[data.pop("kind")]
    for name in _UUIDS:
        if data.get(name) is not None:
            data[name] = uuid.UUID(data[name])
    if "chunks" in data:
        data["chunks"] = [Chunk(step_index=i, stream=s, text=t) for i, s, t in data["chunks"]]
    if "run_target_ids" in data:
        data["run_target_ids"] = [uuid.UUID(v) for v in data["run_target_ids"]]
    return cls(**data)


def spill_path(worker_name: str | None) -> Path:
    """Where the writer of the worker called ``worker_name`` spills its backlog: one file per
    worker name under the var dir, so a restarted worker finds what its predecessor left."""
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", worker_name or "worker")[:120]
    return Path(settings.VAR_DIR) / "execution-spill" / f"{safe}.jsonl"


class SpillFull(Exception):
    pass


class Spill:
    """An append-only file of batches (one JSON line each, fsync'd per append), read oldest
    first while the backlog is written. It is emptied (truncated) once all of it is written; a
    crash leaves it whole, and a later process replays it (``attempted``: checked, not written
    twice). Locked (``flock``) by the process using it, mode 0600."""

    def __init__(self, path: Path, limit: int):
        self.path = path
        self.limit = limit
        self._fd: int | None = None
        self._read_at = 0
        self.size = 0

    def open(self) -> bool:
        """Open and lock it; False if another live process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        self.size = os.fstat(fd).st_size
        self._read_at = 0
        return True

    def append(self, batches: list[_Batch]) -> None:
        lines = b"".join(
            json.dumps({"ops": [encode_op(op) for op in b.ops]}, separators=(",", ":")).encode()
            + b"\n"
            for b in batches
        )
        if self.size + len(lines) > self.limit:
            raise SpillFull(f"the spill file would exceed {self.limit} bytes")
        if self._fd is None and not self.open():
            raise SpillFull(f"{self.path.name} is held by another process")
        os.write(self._fd, lines)
        os.fsync(self._fd)
        self.size += len(lines)

    def pending(self) -> bool:
        return self._fd is not None and self._read_at < self.size

    def read(self) -> _Batch | None:
        """The next batch not yet read (marked attempted: it may have been written before a
        crash); None at the end. A torn last line (a crash mid-append) is cut off."""
        if not self.pending():
            return None
        with self.path.open("rb") as handle:
            handle.seek(self._read_at)
            line = handle.readline()
        try:
            if not line.endswith(b"\n"):
                raise ValueError("torn line")
            ops = [decode_op(data) for data in json.loads(line)["ops"]]
        except (ValueError, KeyError, TypeError):
            logger.error("execution writer: %s is damaged at byte %d; the rest of it is dropped",
                         self.path.name, self._read_at)  # fmt: skip
            os.ftruncate(self._fd, self._read_at)
            self.size = self._read_at
            return None
        self._read_at += len(line)
        return _Batch(ops=ops, attempted=True, from_disk=True)

    def rewind(self) -> None:
        self._read_at = 0

    def drained(self) -> None:
        """Everything read was written: empty the file."""
        if self._fd is not None and self._read_at >= self.size:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self._read_at = self.size = 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


# -- the writer --------------------------------------------------------------------------------


@dataclass
class _Batch:
    ops: list[_Op]
    attempted: bool = False  # an earlier attempt may have committed it: check before writing
    from_disk: bool = False

    def size(self) -> int:
        return sum(op.size() for op in self.ops)


def _targets_of(batches: list[_Batch]) -> set[uuid.UUID]:
    ids: set[uuid.UUID] = set()
    for batch in batches:
        for op in batch.ops:
            if getattr(op, "run_target_id", None) is not None:
                ids.add(op.run_target_id)
            elif isinstance(op, Heartbeat):
                ids.update(op.run_target_ids)
    return ids


class _Unreachable(Exception):
    """The database does not answer: keep the batch, try again later."""


def database_answers() -> bool:
    """Whether the execution database answers now (a failed statement was the database's
    refusal, not an outage)."""
    connection = connections[DB]
    try:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        connection.close()
        return False


class Writer:
    def __init__(
        self,
        *,
        report_health: Callable[[list[tuple[uuid.UUID, str, str]]], None],
        on_targets_done: Callable[[set[uuid.UUID]], None],
        spill_path: Path | None = None,
        memory_limit: int | None = None,
        spill_limit: int | None = None,
    ):
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._report_health = report_health
        self._on_targets_done = on_targets_done
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()  # ops' ``state`` (a waiter leaving vs. an attempt)
        self.batches = 0  # written so far (for the benchmark's and the tests' curiosity)
        self.operations = 0
        # the backlog, oldest first: _head (being written), the spill file, _pending (memory)
        self._head: _Batch | None = None
        self._pending: deque[_Batch] = deque()
        self._pending_bytes = 0
        self._memory_limit = (
            settings.EXECUTION_WRITER_MEMORY_BYTES if memory_limit is None else memory_limit
        )
        self._spill = (
            Spill(
                spill_path,
                settings.EXECUTION_WRITER_SPILL_BYTES if spill_limit is None else spill_limit,
            )
            if spill_path is not None
            else None
        )
        self._deferred: list[Callable[[], None]] = []  # after-commit calls of spilled batches
        self._disk_targets: set[uuid.UUID] = set()  # run targets with reports in the spill file
        self._retry_at = 0.0
        self._outage_since: float | None = None
        self._stamped_at = 0.0
        self._logged_at = 0.0
        self.spilled = 0  # batches spilled to disk so far
        self.dropped = 0  # reports dropped (the spill file full or unwritable)

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
        """Wait until everything queued before now is written, has failed or is safely in the
        spill file; False on timeout."""
        return self._wait(Barrier(), timeout=timeout, raise_error=False)

    def recover(self) -> bool:
        """Replay what an earlier process of this worker left in the spill file (at start).
        False if there is nothing, or another live process holds the file."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False  # running: it has the file already
            if not self._load_spill():
                return False
        self._put(Barrier())  # starts the thread, which writes the backlog first
        return True

    def _load_spill(self) -> bool:
        """Open a spill file with something in it (left by an earlier process, or by this
        writer's thread when it stopped during an outage), to be written first."""
        spill = self._spill
        if spill is None or spill.pending():
            return False
        if not spill.path.exists() or spill.path.stat().st_size == 0 or not spill.open():
            return False
        if spill.size == 0:
            return False
        logger.warning("execution writer: replaying %d bytes of reports left in %s",
                       spill.size, spill.path.name)  # fmt: skip
        batches = []
        while (batch := spill.read()) is not None:
            batches.append(batch)
        self._disk_targets |= _targets_of(batches)
        spill.rewind()
        self._outage_since = time.monotonic()  # stamp the targets it holds before writing
        return True

    def backlog(self) -> dict[str, int]:
        """What waits for the database: batches and bytes in memory, bytes in the spill file."""
        return {
            "batches": len(self._pending) + (self._head is not None),
            "memory_bytes": self._pending_bytes,
            "spill_bytes": self._spill.size if self._spill is not None else 0,
        }

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
            with self._state_lock:
                if op.state == "queued":  # never attempted: it will never be written now
                    op.state = "abandoned"
                    return False
            if not op.done.wait(START_TIMEOUT_SECONDS):  # an attempt holds it: its outcome
                return False
        if op.error is not None and raise_error:
            raise WriteFailed(str(op.error)) from op.error
        return True

    # -- the thread -----------------------------------------------------------------------------

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="execution-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Write what is queued (or spill it if the database is away), then end the thread (a
        later report starts it again)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _has_backlog(self) -> bool:
        return (
            self._head is not None
            or bool(self._pending)
            or (self._spill is not None and self._spill.pending())
        )

    def _loop(self) -> None:
        stopping = False
        self._load_spill()
        while True:
            backlog = self._has_backlog()
            if stopping:
                wait = 0.0
            elif backlog:
                wait = max(0.0, self._retry_at - time.monotonic())
            else:
                wait = IDLE_CLOSE_SECONDS
            try:
                first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                if backlog:
                    self._flush(force=stopping)
                    if stopping and self._has_backlog():
                        self._spill_all()  # the database is away: keep it for the next process
                        backlog = False
                    else:
                        continue
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
            self._enqueue(_Batch(ops=ops))
            self._flush(force=stopping)
        if self._spill is not None:
            self._spill.close()  # what it holds is on disk; the next thread (or process) reads it
        connections.close_all()

    def _enqueue(self, batch: _Batch) -> None:
        self._pending.append(batch)
        self._pending_bytes += batch.size()
        if self._pending_bytes > self._memory_limit and self._outage_since is not None:
            self._spill_pending()

    def _spill_pending(self) -> None:
        """The backlog outgrew memory: move what is in memory (newer than anything on disk) to
        the end of the spill file."""
        batches = list(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._to_disk(batches)

    def _spill_all(self) -> None:
        batches = list(self._pending)
        if self._head is not None and not self._head.from_disk:
            batches.insert(0, self._head)  # a disk head is still in the file
        self._head = None
        self._pending.clear()
        self._pending_bytes = 0
        self._to_disk(batches)

    def _to_disk(self, batches: list[_Batch]) -> None:
        keep: list[_Batch] = []
        answered: list[_Op] = []
        with self._state_lock:
            for batch in batches:
                ops = []
                for op in batch.ops:
                    if isinstance(op, AfterCommit):
                        if op.call is not None:
                            self._deferred.append(op.call)
                        answered.append(op)
                    elif isinstance(op, Barrier):
                        answered.append(op)
                    elif isinstance(op, StepStart):  # its thread waits: the step is not run
                        if op.state != "abandoned":
                            op.state = "abandoned"
                            op.error = WriteFailed("the database is unreachable")
                        answered.append(op)
                    else:
                        ops.append(op)
                for op in ops:
                    op.key = op.key or uuid.uuid4()
                if ops:
                    keep.append(_Batch(ops=ops, attempted=batch.attempted))
        try:
            if keep:
                if self._spill is None:
                    raise SpillFull("this writer has no spill file")
                self._spill.append(keep)
                self.spilled += len(keep)
                self._disk_targets |= _targets_of(keep)
                logger.warning(
                    "execution writer: the database is unreachable; %d batches spilled to %s "
                    "(%d bytes)", len(keep), self._spill.path.name, self._spill.size,
                )  # fmt: skip
        except (SpillFull, OSError) as exc:
            dropped = [op for b in keep for op in b.ops]
            self.dropped += len(dropped)
            logger.error("execution writer: %d reports dropped, the database being unreachable "
                         "and the spill file unusable (%s)", len(dropped), exc)  # fmt: skip
            for op in dropped:
                op.error = exc
            answered.extend(dropped)
        for op in answered:
            if op.done is not None:
                op.done.set()

    def _next(self) -> _Batch | None:
        if self._head is None:
            if self._spill is not None and self._spill.pending():
                try:
                    self._head = self._spill.read()
                except OSError:
                    logger.exception("execution writer: the spill file cannot be read; what "
                                     "is left in it is not written")  # fmt: skip
                    self._spill.close()
            if self._head is None and self._pending:
                self._head = self._pending.popleft()
                self._pending_bytes -= self._head.size()
        return self._head

    def _flush(self, *, force: bool = False) -> None:
        """Write the backlog oldest first; stop at an outage (``_retry_at`` says when again)."""
        if not force and time.monotonic() < self._retry_at:
            return
        while (batch := self._next()) is not None:
            try:
                # a connection that died meanwhile (a database restart: this one, or another
                # alias's used by the after-commit work) is replaced before the batch
                close_broken_connections()
                if self._outage_since is not None or batch.from_disk:
                    self._stamp_holding()
                done_runs = self._write(batch)
            except _Unreachable as exc:
                self._unreachable(exc)
                return
            except BaseException as exc:  # never let the thread die: the process would stop
                logger.exception("the execution writer failed on a batch of %d", len(batch.ops))
                for op in batch.ops:  # and never leave a waiting target behind
                    if op.done is not None and not op.done.is_set():
                        op.error = op.error or exc
                        op.done.set()
                done_runs = set()
            self._head = None
            self.batches += 1
            self.operations += len(batch.ops)
            self._after(batch.ops, done_runs)
        if self._spill is not None:
            self._spill.drained()
            self._disk_targets.clear()
        if self._outage_since is not None:
            logger.warning("execution writer: the database is back after %.0f s; the backlog "
                           "is written", time.monotonic() - self._outage_since)  # fmt: skip
            self._outage_since = None
            self._retry_at = 0.0
        deferred, self._deferred = self._deferred, []
        for call in deferred:
            try:
                call()
            except Exception:
                logger.exception("execution writer: after-commit work failed")

    def _unreachable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._stamped_at = 0.0
        self._retry_at = now + settings.EXECUTION_WRITER_RETRY_SECONDS
        if now - self._logged_at >= 30:
            self._logged_at = now
            logger.warning("execution writer: the database is unreachable (%s); holding %s",
                           exc, self.backlog())  # fmt: skip

    def _stamp_holding(self) -> None:
        """After an outage, and every heartbeat interval while a backlog is written: a
        heartbeat on the running targets whose reports wait in memory (a spilled batch being
        replayed brings its own), so the reaper does not declare them lost before their
        results are written."""
        now = time.monotonic()
        if now - self._stamped_at < settings.EXECUTION_HEARTBEAT_SECONDS:
            return
        ids = self._disk_targets | _targets_of([b for b in [self._head, *self._pending] if b])
        try:
            ids_list = sorted(ids)
            for start in range(0, len(ids_list), 1000):
                RunTarget.objects.using(DB).filter(
                    pk__in=ids_list[start : start + 1000], status=TargetStatus.RUNNING
                ).update(heartbeat_at=timezone.now())
        except (OperationalError, InterfaceError) as exc:
            connections[DB].close()
            raise _Unreachable(str(exc)) from exc
        self._stamped_at = now

    def _take(self, batch: _Batch) -> list[_Op]:
        with self._state_lock:
            live = []
            for op in batch.ops:
                if op.state == "abandoned":
                    if op.done is not None:
                        op.done.set()
                    continue
                op.state = "writing"
                live.append(op)
            batch.ops = live
        return live

    def _release(self, ops: list[_Op]) -> None:
        with self._state_lock:
            for op in ops:
                op.state = "queued"

    def _write(self, batch: _Batch) -> set[uuid.UUID]:
        ops = self._take(batch)
        try:
            return write_batch(ops, check_applied=batch.attempted)
        except (OperationalError, InterfaceError) as exc:
            connections[DB].close()
            batch.attempted = True  # the commit may have happened and its answer been lost
            if not database_answers():
                self._release(ops)
                raise _Unreachable(str(exc)) from exc
            logger.exception("execution writer: a batch failed; writing it one by one")
        except DatabaseError:
            logger.exception("execution writer: a batch failed; writing it one by one")
            connections[DB].close()
        return self._one_by_one(batch)

    def _one_by_one(self, batch: _Batch) -> set[uuid.UUID]:
        done_runs: set[uuid.UUID] = set()
        ops = list(batch.ops)
        for position, op in enumerate(ops):
            try:
                done_runs |= write_batch([op], check_applied=batch.attempted)
            except Exception as exc:
                if isinstance(exc, OperationalError | InterfaceError):
                    connections[DB].close()
                    if not database_answers():  # an outage meanwhile: keep the rest
                        batch.ops = ops[position:]
                        batch.attempted = True
                        self._release(batch.ops)
                        self._after(ops[:position], done_runs)
                        raise _Unreachable(str(exc)) from exc
                op.error = exc
                logger.exception("execution writer: could not write %s", type(op).__name__)
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


def write_batch(ops: list[_Op], *, check_applied: bool = False) -> set[uuid.UUID]:
    """Write ``ops`` (see the module's docstring); the runs that had targets finish.

    ``check_applied``: an earlier attempt may have committed some of them; those whose first log
    number is already in the run's log are left out (each op keeps the numbers reserved on its
    first attempt, so that is how a written one is recognised)."""
    connection = connections[DB]
    # log numbers, in queue order, reserved per run (autocommitted: see reserve_seq), once
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    for op in ops:
        if op.run_id is not None and op.entries() and op.seq is None:
            wanted[op.run_id] += op.entries()
    next_seq: dict[uuid.UUID, int] = {}
    gone: set[uuid.UUID] = set()
    from apps.execution.models import Run

    for run_id, count in wanted.items():
        try:
            next_seq[run_id] = reserve_seq(run_id, count)
        except Run.DoesNotExist:
            gone.add(run_id)  # deleted meanwhile: nothing of it to write
    for op in ops:
        if op.run_id in next_seq and op.entries() and op.seq is None:
            op.seq = next_seq[op.run_id]
            next_seq[op.run_id] += op.entries()

    now = timezone.now()
    uuid_prep = RunTarget._meta.pk.get_db_prep_value
    at = connection.ops.adapt_datetimefield_value(now)
    sql = _statements(connection.vendor)

    def u(value):
        return uuid_prep(value, connection)

    events: list[RunEvent] = []

    def log(op: _Op, entries: list[LogEntry]) -> None:
        first = op.seq
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

    live = [op for op in ops if op.run_id not in gone and (op.seq is not None or not op.entries())]
    done_runs: set[uuid.UUID] = set()
    with transaction.atomic(using=DB), connection.cursor() as cursor:
        applied: list[_Op] = []
        if check_applied:
            numbered = [op for op in live if op.seq is not None]
            written = set(
                RunEvent.objects.using(DB)
                .filter(
                    run_id__in={op.run_id for op in numbered},
                    seq__in={op.seq for op in numbered},
                )
                .values_list("run_id", "seq")
            )
            applied += [op for op in numbered if (op.run_id, op.seq) in written]
        keyed = [op for op in live if op.key is not None]
        if keyed:  # spilled: a replay after a crash recognises them by their key
            seen = set(
                ConsumedEvent.objects.using(DB)
                .filter(subscriber=SPILL_LEDGER, event_id__in=[op.key for op in keyed])
                .values_list("event_id", flat=True)
            )
            applied += [op for op in keyed if op.key in seen]
            ConsumedEvent.objects.using(DB).bulk_create(
                ConsumedEvent(subscriber=SPILL_LEDGER, event_id=op.key)
                for op in keyed
                if op.key not in seen
            )
        if applied:
            applied_ids = {id(op) for op in applied}
            live = [op for op in live if id(op) not in applied_ids]
            # their runs may not have been advanced: doing it again is harmless
            done_runs |= {op.run_id for op in applied if isinstance(op, TargetDone)}
        starts = [op for op in live if isinstance(op, StepStart)]
        ends = [op for op in live if isinstance(op, StepEnd)]
        skips = [op for op in live if isinstance(op, StepsSkipped)]
        dones = [op for op in live if isinstance(op, TargetDone)]
        beats = [op for op in live if isinstance(op, Heartbeat)]
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
                done_runs |= {op.run_id for op in finished}
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
