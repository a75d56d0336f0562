"""What one worker process keeps between units of work, and its housekeeping thread.

- ``WorkerRuntime.id``: how this process names itself on the targets it holds
  (``<celery hostname or host>:<pid>:<boot id>``).
- the SSH connection pool (``transports.pool.SshPool``), shared by every unit in the process;
- the writer (``writer.Writer``): one thread that commits, in batches, what every target the
  process runs reports (the targets' own threads never touch the database);
- the targets it is running, each with a cancel ``threading.Event``;
- one housekeeping thread that, while the process lives:
  * every ``EXECUTION_CANCEL_POLL_SECONDS`` asks the database which of the runs it works on were
    asked to stop (cancel or run timeout), notes how their targets end and sets their cancel
    events;
  * flushes buffered output that has waited ``EXECUTION_OUTPUT_FLUSH_SECONDS``;
  * every ``EXECUTION_HEARTBEAT_SECONDS`` stamps ``heartbeat_at`` on the targets it holds (one
    UPDATE, written by the writer), which is how the reaper tells a busy worker from a dead one;
  * every ``EXECUTION_REAP_SECONDS`` runs the reaper (``services.run_reap``, through a
    ``ReapGate``: after a database outage it judges no heartbeat until the database has been
    reachable for ``EXECUTION_LOST_AFTER_SECONDS``): any live worker accounts for the targets of
    a dead one;
  * every ``RELAY_SECONDS`` relays, in one batch, the events of targets finished meanwhile;
  * every minute closes pooled sessions idle for longer than ``EXECUTION_POOL_IDLE_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from apps.execution.output import TargetOutput
from apps.execution.transports.pool import SshPool
from apps.execution.writer import Writer, spill_path
from opsconductor.db.reconnect import db_unit, describe, is_connection_error
from opsconductor.events.outbox import relay_pending

logger = logging.getLogger(__name__)

RELAY_SECONDS = 0.5  # how often the events of finished targets are relayed, in batches


@dataclass
class Holding:
    run_id: uuid.UUID
    cancel: threading.Event = field(default_factory=threading.Event)
    output: TargetOutput | None = None
    stop: tuple[str, str] | None = None  # (target status, reason) once the run is stopping


class WorkerRuntime:
    def __init__(self, name: str | None = None):
        self.id = f"{name or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.pool = SshPool(
            connect_timeout=settings.EXECUTION_CONNECT_TIMEOUT_SECONDS,
            auth_timeout=settings.EXECUTION_CONNECT_TIMEOUT_SECONDS,
            idle_timeout=settings.EXECUTION_POOL_IDLE_SECONDS,
            max_per_key=settings.EXECUTION_POOL_MAX_PER_TARGET,
        )
        self.writer = Writer(
            report_health=_report_health,
            on_targets_done=self._targets_done,
            spill_path=spill_path(name or socket.gethostname()),
        )
        # what an earlier process of this worker could not write (a database outage) first
        self.writer.recover()
        from apps.execution.services import ReapGate

        self._reap_gate = ReapGate()
        self._held: dict[uuid.UUID, Holding] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._relay_due = threading.Event()
        self._stop = threading.Event()

    # -- targets held -----------------------------------------------------------------------

    def hold(self, run_target_id: uuid.UUID, run_id: uuid.UUID) -> Holding:
        self.ensure_started()
        holding = Holding(run_id=run_id)
        with self._lock:
            self._held[run_target_id] = holding
        return holding

    def release(self, run_target_id: uuid.UUID) -> None:
        with self._lock:
            self._held.pop(run_target_id, None)

    def held(self) -> dict[uuid.UUID, Holding]:
        with self._lock:
            return dict(self._held)

    def events_to_relay(self) -> None:
        """Events were published with ``relay=False``: relay them with the next batch."""
        self._relay_due.set()

    def _targets_done(self, run_ids: set[uuid.UUID]) -> None:
        """The writer committed targets' results: advance their runs, relay their events."""
        from apps.execution.services import run_target_finished

        self.events_to_relay()
        for run_id in run_ids:
            try:
                run_target_finished(run_id)
            except Exception:  # the reaper advances it later
                logger.exception("could not advance run %s", run_id)

    # -- housekeeping -----------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="execution-housekeeping", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.writer.stop()
        self.pool.close_all()

    def _loop(self) -> None:
        last = {"cancel": 0.0, "heartbeat": 0.0, "reap": time.monotonic(), "prune": 0.0,
                "relay": 0.0}  # fmt: skip
        tick = min(0.2, settings.EXECUTION_OUTPUT_FLUSH_SECONDS)
        while not self._stop.wait(tick):
            now = time.monotonic()
            try:
                # one unit of database work per tick: connections checked before it (a dead
                # one, e.g. after a database restart, is replaced), broken ones closed after it
                with db_unit():
                    self._tick(now, last)
            except Exception as exc:
                if is_connection_error(exc):  # the driver's message names the host: not logged
                    logger.warning("execution housekeeping: the database is unreachable (%s); "
                                   "again at the next tick", describe(exc))  # fmt: skip
                else:
                    logger.exception("execution housekeeping failed; continuing")

    def _tick(self, now: float, last: dict[str, float]) -> None:
        for holding in self.held().values():
            if holding.output is not None:
                holding.output.flush_if_due()
        if now - last["cancel"] >= settings.EXECUTION_CANCEL_POLL_SECONDS:
            last["cancel"] = now
            self._check_cancels()
        if self._relay_due.is_set() and now - last["relay"] >= RELAY_SECONDS:
            last["relay"] = now
            self._relay_due.clear()
            try:
                if relay_pending(using="execution", limit=500) >= 500:
                    self._relay_due.set()  # more where those came from
            except Exception:
                self._relay_due.set()  # e.g. the database is away: again at the next tick
                raise
        if now - last["heartbeat"] >= settings.EXECUTION_HEARTBEAT_SECONDS:
            last["heartbeat"] = now
            self._heartbeat()
        if (
            settings.EXECUTION_WORKER_REAPS
            and now - last["reap"] >= settings.EXECUTION_REAP_SECONDS
        ):
            last["reap"] = now
            self._reap()
        if now - last["prune"] >= 60:
            last["prune"] = now
            self.pool.prune()

    def _check_cancels(self) -> bool:
        held = self.held()
        if not held:
            return False
        from apps.execution.models import Run, TargetStatus

        run_ids = {h.run_id for h in held.values()}
        stopping = {
            run["id"]: (
                TargetStatus.TIMED_OUT
                if (run["canceled_by"] or {}).get("kind") == "timeout"
                else TargetStatus.CANCELED,
                run["status_reason"] or "the run was stopped",
            )
            for run in Run.objects.using("execution")
            .filter(pk__in=run_ids, cancel_requested_at__isnull=False)
            .values("id", "canceled_by", "status_reason")
        }
        for holding in held.values():
            if holding.run_id in stopping and not holding.cancel.is_set():
                holding.stop = stopping[holding.run_id]
                holding.cancel.set()
        return True

    def _heartbeat(self) -> bool:
        """Stamp the targets this process holds, through the writer: every write this process
        makes to its targets' rows goes through that one thread, so they cannot deadlock
        with each other."""
        held = self.held()
        if held:
            self.writer.heartbeat(list(held), self.id)
        return False

    def _reap(self) -> None:
        done = self._reap_gate.run()
        if any(done.get(key) for key in ("lost", "requeued", "resent")):
            logger.warning("execution reaper: %s", done)


def _report_health(outcomes: list[tuple[uuid.UUID, str, str]]) -> None:
    from apps.targets.interface import report_connection_outcomes

    report_connection_outcomes(outcomes)


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def runtime(name: str | None = None) -> WorkerRuntime:
    """This process's ``WorkerRuntime``, made on first use (``name``: the Celery worker's
    hostname, else ``OPSCONDUCTOR_WORKER_NAME``, else the host name)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = WorkerRuntime(name=name or os.environ.get("OPSCONDUCTOR_WORKER_NAME"))
    return _runtime


def shutdown() -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.stop()
            _runtime = None
