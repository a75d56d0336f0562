"""The only module of the execution app other apps may import.

The execution context owns runs: per-target and per-step results, live output, SSH/WinRM
transports, the pool. Functions here take and return ids and frozen dataclasses, never model
instances (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
