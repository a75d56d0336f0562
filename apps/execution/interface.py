"""The only module of the execution app other apps may import.

The execution context owns runs: per-target and per-step results, live output, SSH/WinRM
transports, the pool. Functions here take and return ids and frozen dataclasses, never model
instances (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsconductor.events import Actor


@dataclass(frozen=True)
class RunRef:
    """A run as other apps see it."""

    id: uuid.UUID
    job_id: uuid.UUID
    status: str
    pending_reason: str
    target_count: int


def _ref(run: Any) -> RunRef:
    return RunRef(
        id=run.id,
        job_id=run.job_id,
        status=run.status,
        pending_reason=run.pending_reason,
        target_count=run.target_count,
    )


def start_run(
    *,
    job_id: uuid.UUID,
    version: int | None = None,
    parameters: dict[str, Any] | None = None,
    selector: str | None = None,
    policy: dict[str, Any] | None = None,
    actor: Actor,
    schedule_id: uuid.UUID | None = None,
    schedule_firing_id: uuid.UUID | None = None,
) -> RunRef:
    """Start a run of a job (``trigger`` ``schedule`` when ``schedule_id`` is given, else
    ``manual``). Raises ``rest_framework.exceptions.ValidationError`` keyed by field when the
    job, version, parameters, selector or policy are not usable.

    ``schedule_firing_id`` makes it idempotent per firing: if a run of that firing exists
    (a retried or redelivered firing), it is returned and nothing new starts."""
    from django.db import IntegrityError

    from apps.execution.models import Trigger
    from apps.execution.services import run_create

    if schedule_firing_id is not None:
        existing = run_for_firing(schedule_firing_id)
        if existing is not None:
            return existing
    try:
        run = run_create(
            job_id=job_id,
            version=version,
            parameters=parameters,
            selector=selector,
            policy=policy,
            trigger=Trigger.SCHEDULE if schedule_id else Trigger.MANUAL,
            actor=actor,
            schedule_id=schedule_id,
            schedule_firing_id=schedule_firing_id,
        )
    except IntegrityError:  # the same firing started concurrently: that run is the one
        existing = run_for_firing(schedule_firing_id) if schedule_firing_id else None
        if existing is None:
            raise
        return existing
    return _ref(run)


@dataclass(frozen=True)
class RunStart:
    """One run to start with ``start_runs`` (the arguments of ``start_run``, as data)."""

    job_id: uuid.UUID
    actor: Actor
    version: int | None = None
    parameters: dict[str, Any] | None = None
    selector: str | None = None
    policy: dict[str, Any] | None = None
    schedule_id: uuid.UUID | None = None
    schedule_firing_id: uuid.UUID | None = None


def start_runs(starts: list[RunStart]) -> list[RunRef | Exception]:
    """``start_run`` for many runs at once (a scheduler's burst of due times): each job
    version and selector is looked up once and the runs are created in one transaction. A
    result per start, in order: the run, or the exception (usually a
    ``rest_framework.exceptions.ValidationError`` keyed by field) that refused it. Idempotent
    per ``schedule_firing_id`` like ``start_run``."""
    from django.db import IntegrityError

    from apps.execution.models import Run, Trigger
    from apps.execution.services import RunRequest, runs_create

    firing_ids = [s.schedule_firing_id for s in starts if s.schedule_firing_id]
    existing = {
        run.schedule_firing_id: _ref(run)
        for run in Run.objects.using("execution").filter(schedule_firing_id__in=firing_ids)
    }
    todo = [s for s in starts if s.schedule_firing_id not in existing or not s.schedule_firing_id]
    requests = [
        RunRequest(
            job_id=s.job_id,
            version=s.version,
            parameters=s.parameters,
            selector=s.selector,
            policy=s.policy,
            trigger=Trigger.SCHEDULE if s.schedule_id else Trigger.MANUAL,
            actor=s.actor,
            schedule_id=s.schedule_id,
            schedule_firing_id=s.schedule_firing_id,
        )
        for s in todo
    ]
    made: Iterator[Any]
    try:
        made = iter(runs_create(requests))
    except IntegrityError:  # one of them was started concurrently: go one by one
        made = iter([_one(s) for s in todo])
    results: list[RunRef | Exception] = []
    for start in starts:
        if start.schedule_firing_id and start.schedule_firing_id in existing:
            results.append(existing[start.schedule_firing_id])
            continue
        result = next(made)
        results.append(_ref(result) if not isinstance(result, Exception | RunRef) else result)
    return results


def _one(start: RunStart) -> RunRef | Exception:
    try:
        return start_run(
            job_id=start.job_id, version=start.version, parameters=start.parameters,
            selector=start.selector, policy=start.policy, actor=start.actor,
            schedule_id=start.schedule_id, schedule_firing_id=start.schedule_firing_id,
        )  # fmt: skip
    except Exception as exc:
        return exc


def run_for_firing(schedule_firing_id: uuid.UUID) -> RunRef | None:
    """The run a schedule firing started, or None."""
    from apps.execution.models import Run

    run = Run.objects.using("execution").filter(schedule_firing_id=schedule_firing_id).first()
    return _ref(run) if run else None


def run_ref(run_id: uuid.UUID) -> RunRef | None:
    """The run ``run_id`` as it is now, or None."""
    from apps.execution.models import Run

    run = Run.objects.using("execution").filter(pk=run_id).first()
    return _ref(run) if run else None


def job_has_runs(job_id: uuid.UUID) -> bool:
    """Whether any run of the job exists (its history would lose its definition)."""
    from apps.execution.models import Run

    return Run.objects.using("execution").filter(job_id=job_id).exists()


def active_runs_of_job(job_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the job's runs that are pending or running, oldest first."""
    from apps.execution.models import Run, RunStatus

    return list(
        Run.objects.using("execution")
        .filter(job_id=job_id, status__in=(RunStatus.PENDING, RunStatus.RUNNING))
        .order_by("created_at")
        .values_list("id", flat=True)
    )


# -- imported history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedStep:
    """One step's result on one target, as the other system recorded it.

    ``order`` is 1-based and unique per target; ``status`` a final step status (``succeeded``,
    ``failed``, ``unreachable``, ``canceled``, ``timed_out``, ``skipped``);
    ``output`` and ``error`` become the step's stdout and stderr (readable through the run's
    output endpoints; ``error`` is also the step's reason); ``command`` the text it ran.
    Date-times must be aware."""

    order: int
    name: str
    kind: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    exit_code: int | None = None
    command: str = ""
    output: str = ""
    error: str = ""


@dataclass(frozen=True)
class ImportedTarget:
    """One target's result in an imported run. ``target_id`` is the target's id here (None if
    it was not brought over: a placeholder id derived from the run and the target's position is
    stored, naming no target); ``target_name`` is kept as it was. Times and the exit code default to
    those of the steps (earliest start, latest end, last exit code)."""

    target_id: uuid.UUID | None
    target_name: str
    status: str
    steps: tuple[ImportedStep, ...] = ()
    os_family: str = ""
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class ImportedRun:
    """A run of the other system: ``legacy_ref`` (like ``EXEC-00000001``) identifies it;
    ``status`` is a final run status (``succeeded``, ``failed``, ``canceled``, ``timed_out``:
    a run still going there cannot go on here, so map it, e.g. to ``canceled`` with a
    ``status_reason``). The target counts are kept as given (``total_targets`` defaults to
    the number of ``targets``)."""

    legacy_ref: str
    job_id: uuid.UUID
    job_name: str
    status: str
    targets: tuple[ImportedTarget, ...] = ()
    job_version: int | None = None  # None: 1
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    total_targets: int | None = None
    succeeded_targets: int | None = None
    failed_targets: int | None = None
    requested_by_user_id: uuid.UUID | None = None
    requested_by_name: str = ""
    status_reason: str = ""


@dataclass(frozen=True)
class ImportedRunResult:
    run_id: uuid.UUID
    created: bool  # False: a run with this legacy_ref existed and was left as it is
    # each stored step's id (the results API's ``id`` of a step result), as (the target's
    # position in ``ImportedRun.targets``, the step's ``order``, the id); empty when not created
    steps: tuple[tuple[int, int, uuid.UUID], ...] = ()


def run_import_history(*, run: ImportedRun, actor: Actor) -> ImportedRunResult:
    """Store one historical run of another system, read-only, in one transaction (bulk
    inserts of its targets, steps and output).

    The run is marked ``imported`` (the runs API shows the flag and ``legacy_ref``; filter
    ``?imported=true``), keeps the given status, times, counts, per-target and per-step
    results and who asked (``requested_by_user_id``), and its output is read through the usual
    output endpoints (the per-target output limit applies). It is never dispatched, advanced,
    reaped or recovered; canceling or retrying it answers 409. No per-run event is published
    (so nothing reacts as to a run that just ended): the importer publishes one summary event
    per table.

    Idempotent on ``run.legacy_ref``: if that run exists, its id is returned with
    ``created=False`` and nothing changes. Raises ``rest_framework.exceptions.ValidationError``
    keyed by field (``status``, ``targets.0.steps.1.order``, ``legacy_ref``, ...) when the data
    cannot be stored; nothing is saved then. ``actor``: who imports (kept for the caller's
    summary event; the run's ``requested_by`` is the original requester)."""
    from apps.execution.services import run_import

    run_id, created, steps = run_import(spec=run, actor=actor)
    return ImportedRunResult(run_id=run_id, created=created, steps=steps)


# -- runs as other callers show them (the legacy bridge) -------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """A run's state for display: ``counts`` is target status -> how many; ``started_any``
    says whether any target has left the queue (a worker took it); ``target_names`` in the
    run's order."""

    id: uuid.UUID
    job_id: uuid.UUID
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    target_count: int
    counts: dict[str, int]
    started_any: bool
    target_names: tuple[str, ...]
    imported: bool
    legacy_ref: str


def run_ids_of_jobs(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each job's runs (ids), oldest first, in one query; a job without runs is left out."""
    from apps.execution.models import Run

    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    rows = (
        Run.objects.using("execution")
        .filter(job_id__in=list(job_ids))
        .order_by("created_at", "id")
        .values_list("job_id", "id")
    )
    for job_id, run_id in rows:
        found.setdefault(job_id, []).append(run_id)
    return found


def run_infos(run_ids: list[uuid.UUID]) -> dict[uuid.UUID, RunInfo]:
    """The runs among ``run_ids`` that exist, keyed by id, in two queries."""
    from apps.execution.models import Run, RunTarget, TargetStatus

    runs = {run.id: run for run in Run.objects.using("execution").filter(pk__in=list(run_ids))}
    names: dict[uuid.UUID, list[str]] = {}
    started: set[uuid.UUID] = set()
    waiting = (TargetStatus.PENDING, TargetStatus.QUEUED)
    for run_id, name, status in (
        RunTarget.objects.using("execution")
        .filter(run_id__in=list(runs))
        .order_by("run_id", "position")
        .values_list("run_id", "target_name", "status")
    ):
        names.setdefault(run_id, []).append(name)
        if status not in waiting:
            started.add(run_id)
    return {
        run.id: RunInfo(
            id=run.id,
            job_id=run.job_id,
            status=run.status,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            target_count=run.target_count,
            counts=dict(run.counts or {}),
            started_any=run.id in started,
            target_names=tuple(names.get(run.id, ())),
            imported=run.imported,
            legacy_ref=run.legacy_ref or "",
        )
        for run in runs.values()
    }


@dataclass(frozen=True)
class StepResult:
    """One step on one target of a run: ``index`` 0-based in the job, ``position`` the target's
    place in the run; ``output`` and ``error`` its stdout and stderr (masked as stored, within
    the run's output limit); ``reason`` why it failed or was skipped."""

    id: uuid.UUID
    target_id: uuid.UUID
    target_name: str
    position: int
    index: int
    name: str
    kind: str
    status: str
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    command: str
    output: str
    error: str
    reason: str


def run_step_results(run_id: uuid.UUID) -> list[StepResult]:
    """Every step of every target of the run that has begun (not ``pending``), by step then
    target order, with its output, in three queries."""
    from apps.execution.models import RunEvent, RunStep, StepStatus

    steps = list(
        RunStep.objects.using("execution")
        .filter(run_target__run_id=run_id)
        .exclude(status=StepStatus.PENDING)
        .select_related("run_target")
        .order_by("index", "run_target__position")
    )
    text: dict[tuple[uuid.UUID, int | None, str], list[str]] = {}
    for target_id, index, stream, data in (
        RunEvent.objects.using("execution")
        .filter(run_id=run_id, kind=RunEvent.Kind.OUTPUT, step_index__isnull=False)
        .order_by("seq")
        .values_list("run_target_id", "step_index", "stream", "data")
    ):
        text.setdefault((target_id, index, stream), []).append(data)
    return [
        StepResult(
            id=step.id,
            target_id=step.run_target.target_id,
            target_name=step.run_target.target_name,
            position=step.run_target.position,
            index=step.index,
            name=step.name,
            kind=step.kind,
            status=step.status,
            exit_code=step.exit_code,
            started_at=step.started_at,
            finished_at=step.finished_at,
            duration_ms=step.duration_ms,
            command=step.command,
            output="".join(text.get((step.run_target_id, step.index, "stdout"), ())),
            error="".join(text.get((step.run_target_id, step.index, "stderr"), ())),
            reason=step.reason,
        )
        for step in steps
    ]


def run_start_as(*, job_id: uuid.UUID, actor: Actor, selector: str | None = None) -> RunRef:
    """Start a run of the job's latest version as ``actor`` (a person, or an API token), as
    ``POST /api/v1/runs/`` does: on ``selector`` (None: the job's default). Raises
    ``rest_framework.exceptions.ValidationError`` keyed by field (``job``, ``selector``,
    ``parameters.<name>``)."""
    from apps.execution.models import Trigger
    from apps.execution.services import run_create

    run = run_create(
        job_id=job_id,
        selector=selector,
        trigger=Trigger.API_TOKEN if actor.kind == "token" else Trigger.MANUAL,
        actor=actor,
        requested_by_user_id=actor.user_id,
    )
    return _ref(run)


def run_cancel_as(*, run_id: uuid.UUID, actor: Actor, reason: str = "") -> bool:
    """Cancel the run as ``actor`` (``execution.run.cancel_requested``; idempotent), with
    ``reason`` in its status reason. False when there is nothing to cancel: no such run,
    finished, or imported history."""
    from apps.execution.models import Run
    from apps.execution.services import run_cancel

    run = Run.objects.using("execution").filter(pk=run_id).first()
    if run is None or run.imported or run.is_finished:
        return False
    run_cancel(run=run, actor=actor, reason=reason)
    return True


@dataclass(frozen=True)
class ExecutionHealth:
    """What the reaper watches, now: runs going and waiting, targets running without a
    heartbeat for longer than ``lost_after_seconds`` (the reaper marks them lost or queues
    them again) and queued longer than ``requeue_after_seconds`` (sent again)."""

    runs_running: int
    runs_pending: int
    targets_running: int
    targets_queued: int
    stale_running_targets: int
    long_queued_targets: int
    runs_past_deadline: int
    oldest_running_run_started_at: datetime | None
    lost_after_seconds: int
    requeue_after_seconds: int


def execution_health() -> ExecutionHealth:
    """The reaper's facts (a few counting queries)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Min
    from django.utils import timezone

    from apps.execution.models import Run, RunStatus, RunTarget, TargetStatus

    now = timezone.now()
    lost = settings.EXECUTION_LOST_AFTER_SECONDS
    requeue = settings.EXECUTION_REQUEUE_AFTER_SECONDS
    runs = Run.objects.using("execution")
    targets = RunTarget.objects.using("execution")
    running = runs.filter(status=RunStatus.RUNNING)
    return ExecutionHealth(
        runs_running=running.count(),
        runs_pending=runs.filter(status=RunStatus.PENDING).count(),
        targets_running=targets.filter(status=TargetStatus.RUNNING).count(),
        targets_queued=targets.filter(status=TargetStatus.QUEUED).count(),
        stale_running_targets=targets.filter(
            status=TargetStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=lost)
        ).count(),
        long_queued_targets=targets.filter(
            status=TargetStatus.QUEUED, queued_at__lt=now - timedelta(seconds=requeue)
        ).count(),
        runs_past_deadline=running.filter(
            deadline_at__lte=now, cancel_requested_at__isnull=True
        ).count(),
        oldest_running_run_started_at=running.aggregate(first=Min("started_at"))["first"],
        lost_after_seconds=int(lost),
        requeue_after_seconds=int(requeue),
    )


def reap_now() -> dict[str, int]:
    """Run the reaper once, now (what the periodic task does): targets whose worker vanished
    marked ``lost`` or queued again, long-queued ones sent again, runs past their deadline or
    with nothing left advanced. What it did, counted (``lost``, ``requeued``, ``resent``,
    ``advanced``, ``held``)."""
    from apps.execution.services import run_reap

    return run_reap()
