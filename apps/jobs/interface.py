"""The only module of the jobs app other apps may import.

The jobs context owns job definitions: ordered steps, typed parameters, versions and
validation. Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsconductor.events import Actor


@dataclass(frozen=True)
class JobSnapshot:
    """One version of a job, whole: what a run freezes. Secret defaults stay sealed."""

    job_id: uuid.UUID
    name: str
    version: int
    definition: dict[str, Any]
    archived: bool


def job_snapshot(job_id: uuid.UUID, version: int | None = None) -> JobSnapshot | None:
    """Version ``version`` (default: the latest) of a job, or None if either does not exist."""
    from apps.jobs.models import Job, JobVersion

    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return None
    number = version or job.latest_version
    row = JobVersion.objects.filter(job=job, number=number).first()
    return _snapshot(job, row) if row is not None else None


def _snapshot(job: Any, row: Any) -> JobSnapshot:
    return JobSnapshot(
        job_id=job.pk,
        name=job.name,
        version=row.number,
        definition=row.definition,
        archived=job.is_archived,
    )


def resolve_parameters(snapshot: JobSnapshot, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the snapshot's parameters, defaults applied (secret ones
    unsealed). Raises ``django.core.exceptions.ValidationError`` keyed by parameter name,
    also when a value would take an upload step's path out of the directory its author fixed
    (docs/jobs.md)."""
    from django.core.exceptions import ValidationError

    from apps.jobs.parameters import validate_values
    from apps.jobs.selectors import parameter_specs, path_problems
    from apps.targets.interface import validate_selector

    resolved = validate_values(
        parameter_specs(snapshot.definition), values, selector_validator=validate_selector
    )
    problems = path_problems(snapshot.definition, resolved)
    if problems:
        raise ValidationError(problems)
    return resolved


def render_steps(
    snapshot: JobSnapshot, values: dict[str, Any], *, os_family: str
) -> list[dict[str, Any]]:
    """The snapshot's steps for a target of ``os_family`` with ``values`` quoted for its shell.
    The result holds secret values in plain text: only a worker may hold it. Raises
    ``ValueError`` (its message names the step and parameter, never a value) when the steps
    cannot be rendered with ``values``, e.g. a value that would take an upload path out of
    its directory."""
    from apps.jobs.selectors import render_steps as render

    return render(snapshot.definition, values, os_family=os_family)


def secret_values(snapshot: JobSnapshot, values: dict[str, Any]) -> list[str]:
    """The values of the snapshot's secret parameters, to mask in any output."""
    secret_names = {p["name"] for p in snapshot.definition["parameters"] if p["type"] == "secret"}
    return [str(values[name]) for name in secret_names if values.get(name)]


MASK = "********"


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret (also in the quoted forms a rendered
    command gives it) replaced by ``MASK``; overlapping occurrences become one mask."""
    from apps.jobs.parameters import mask as mask_text

    return mask_text(text, secrets, MASK)


def secret_forms(secrets: list[str]) -> set[str]:
    """Every form ``mask`` looks for: each secret raw and as quoted in a rendered command."""
    from apps.jobs.parameters import _quoted_forms

    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _quoted_forms(secret)
    return forms


def run_policy(snapshot: JobSnapshot, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The snapshot's run policy with ``overrides`` (a subset of its fields) applied and
    checked. Raises ``rest_framework.exceptions.ValidationError`` keyed by policy field."""
    from rest_framework import serializers

    from apps.jobs.definition import PolicySerializer

    if overrides is not None and not isinstance(overrides, dict):
        raise serializers.ValidationError({"policy": ["Expected an object."]})
    serializer = PolicySerializer(data={**snapshot.definition["policy"], **(overrides or {})})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def job_import(
    *,
    job_id: uuid.UUID,
    definition: dict[str, Any],
    actor: Actor,
    archived_at: datetime | None = None,
    message: str = "",
    publish_event: bool = False,
) -> bool:
    """Create the job ``job_id`` from a definition (the format of docs/jobs.md), validated as
    the API does, owned by ``actor``'s user (its name kept as the owner's name); archived at
    ``archived_at`` when given. Returns True when created, False when a job with that id
    already exists (left unchanged: a repeated import call is harmless). Raises
    ``rest_framework.exceptions.ValidationError`` keyed by field (``name`` taken,
    ``steps.0.command``, ...). ``publish_event=False`` leaves out the per-job events (imports
    publish one summary event per table)."""
    from django.db import transaction

    from apps.jobs import services
    from apps.jobs.models import Job

    if Job.objects.using("jobs").filter(pk=job_id).exists():
        return False
    with transaction.atomic(using="jobs"):
        job = services.job_create(
            pk=job_id, data=definition, actor=actor, message=message, publish_event=publish_event
        )
        if archived_at is not None:
            services.job_set_archived(
                job=job, archived=True, actor=actor, at=archived_at, publish_event=publish_event
            )
    return True


def job_name_taken(name: str) -> bool:
    """Whether a job is already named ``name`` (job names are unique)."""
    from apps.jobs.models import Job

    return Job.objects.using("jobs").filter(name=name).exists()


def job_snapshots(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, JobSnapshot]:
    """The latest version of each job among ``job_ids`` that exists, in two queries."""
    from django.db.models import F

    from apps.jobs.models import Job, JobVersion

    jobs = {job.pk: job for job in Job.objects.using("jobs").filter(pk__in=list(job_ids))}
    versions = JobVersion.objects.using("jobs").filter(
        job_id__in=list(jobs), number=F("job__latest_version")
    )
    return {row.job_id: _snapshot(jobs[row.job_id], row) for row in versions}


# -- jobs as other callers show and edit them (the legacy bridge) ----------------------------------


@dataclass(frozen=True)
class JobStepInfo:
    """One step of a job's current definition (1-based ``position``). ``command`` /
    ``script`` / ``path`` / ``content`` are the stored texts (templates as written)."""

    position: int
    name: str
    kind: str
    command: str = ""
    interpreter: str = ""
    script: str = ""
    path: str = ""
    mode: str = ""
    content: str = ""


@dataclass(frozen=True)
class JobInfo:
    """A job as other apps show it: its current definition's display fields and steps."""

    id: uuid.UUID
    name: str
    description: str
    labels: dict[str, str]
    default_selector: str
    steps: tuple[JobStepInfo, ...]
    created_at: datetime
    updated_at: datetime
    archived: bool


def job_infos(job_ids: list[uuid.UUID] | None = None) -> dict[uuid.UUID, JobInfo]:
    """The jobs among ``job_ids`` (None: every job) that exist, archived ones included
    (``archived`` says so), keyed by id, in two queries."""
    from apps.jobs.models import Job, JobStep

    queryset = Job.objects.using("jobs").all()
    if job_ids is not None:
        queryset = queryset.filter(pk__in=list(job_ids))
    jobs = {job.pk: job for job in queryset}
    steps: dict[uuid.UUID, list[JobStepInfo]] = {}
    for step in (
        JobStep.objects.using("jobs").filter(job_id__in=list(jobs)).order_by("job_id", "position")
    ):
        steps.setdefault(step.job_id, []).append(
            JobStepInfo(
                position=step.position + 1,
                name=step.name,
                kind=step.kind,
                command=step.command,
                interpreter=step.interpreter,
                script=step.script,
                path=step.path,
                mode=step.mode,
                content=step.content,
            )
        )
    return {
        job.pk: JobInfo(
            id=job.pk,
            name=job.name,
            description=job.description,
            labels=dict(job.labels or {}),
            default_selector=job.default_selector,
            steps=tuple(steps.get(job.pk, ())),
            created_at=job.created_at,
            updated_at=job.updated_at,
            archived=job.is_archived,
        )
        for job in jobs.values()
    }


def job_write_as(
    *,
    actor: Actor,
    name: str,
    description: str,
    default_selector: str,
    steps: list[dict[str, Any]],
    job_id: uuid.UUID | None = None,
    labels: dict[str, str] | None = None,
    message: str = "",
) -> uuid.UUID:
    """Create (``job_id`` None) or change a job as ``actor``, through the API's services (the
    same validation, a new version for a change, ``jobs.job.created`` / ``.updated``).
    ``steps`` are step definitions (docs/jobs.md). A change keeps the job's labels (``labels``
    set on top), policy and parameters and replaces name, description, default selector and
    steps. Raises ``rest_framework.exceptions.ValidationError`` keyed by field (``name``,
    ``steps.0.command``, ``default_selector``, ...), ``LookupError`` for an unknown job and
    ``opsconductor.api.errors.Conflict`` for an archived one."""
    from apps.jobs import services
    from apps.jobs.models import Job

    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "default_selector": default_selector,
        "steps": steps,
    }
    if job_id is None:
        data["labels"] = dict(labels or {})
        return services.job_create(data=data, actor=actor, message=message).pk
    job = Job.objects.using("jobs").filter(pk=job_id).first()
    if job is None:
        raise LookupError(job_id)
    current = services.current_definition(job)
    data = {
        **current,
        **data,
        "labels": {**current.get("labels", {}), **(labels or {})},
    }
    services.job_update(job=job, data=data, actor=actor, message=message)
    return job.pk


def job_remove_as(*, job_id: uuid.UUID, actor: Actor) -> str:
    """Remove a job as ``actor``: deleted when it never ran and no schedule runs it
    (``jobs.job.deleted``), else archived (``jobs.job.archived``: its runs keep their
    history). Returns ``"deleted"`` or ``"archived"``; raises ``LookupError`` for an unknown
    or already archived job."""
    from apps.execution.interface import job_has_runs
    from apps.jobs import services
    from apps.jobs.models import Job
    from apps.scheduling.interface import schedules_of_job

    job = Job.objects.using("jobs").filter(pk=job_id, archived_at__isnull=True).first()
    if job is None:
        raise LookupError(job_id)
    if not job_has_runs(job.pk) and not schedules_of_job(job.pk):
        services.job_delete(job=job, actor=actor)
        return "deleted"
    services.job_set_archived(job=job, archived=True, actor=actor)
    return "archived"
