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

    run_id, created = run_import(spec=run, actor=actor)
    return ImportedRunResult(run_id=run_id, created=created)
