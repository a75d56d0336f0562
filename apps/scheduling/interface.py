"""The only module of the scheduling app other apps may import.

The scheduling context owns schedules (cron, interval, calendar, once, each in its own time
zone), their firing history and the alerts of schedules and jobs; Celery beat is its clock
(ADR 0010).

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from opsconductor.events import Actor


def schedules_of_job(job_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the schedules that run the job (enabled or paused)."""
    from apps.scheduling.models import Schedule

    return list(
        Schedule.objects.using("scheduling").filter(job_id=job_id).values_list("id", flat=True)
    )


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule definition as data (what ``schedule_import`` creates and
    ``schedule_spec_fire_times`` evaluates); the fields are those of the schedules API
    (docs/scheduling.md).

    ``kind`` is ``cron`` (``cron``), ``interval`` (``interval_every``, ``interval_unit``),
    ``calendar`` (``frequency`` daily/weekly/monthly, ``every``, ``time_of_day``,
    ``days_of_week`` 0 = Monday, ``day_of_month``) or ``once`` (``run_at``); fields of another
    kind must stay empty. Naive date-times are wall-clock times in ``timezone``. ``start_at`` is
    also the anchor of an interval and of a calendar schedule (which day, week or month is the
    first). ``firings_made`` counts the firings already made elsewhere: ``max_firings`` keeps
    counting from there.
    """

    name: str
    kind: str
    job_id: uuid.UUID | None = None
    timezone: str = "UTC"
    cron: str = ""
    interval_every: int | None = None
    interval_unit: str = ""
    frequency: str = ""
    every: int | None = None
    time_of_day: time | None = None
    days_of_week: tuple[int, ...] = ()
    day_of_month: int | None = None
    run_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_firings: int | None = None
    firings_made: int = 0
    last_fired_at: datetime | None = None
    enabled: bool = True
    description: str = ""
    created_by_user_id: uuid.UUID | None = None
    misfire_policy: str = "skip"
    selector: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)


def _definition(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "timezone": spec.timezone,
        "cron": spec.cron,
        "interval_every": spec.interval_every,
        "interval_unit": spec.interval_unit,
        "frequency": spec.frequency,
        "every": spec.every,
        "time_of_day": spec.time_of_day,
        "days_of_week": list(spec.days_of_week),
        "day_of_month": spec.day_of_month,
        "run_at": spec.run_at,
        "start_at": spec.start_at,
        "end_at": spec.end_at,
    }


def schedule_import(
    *,
    spec: ScheduleSpec,
    actor: Actor,
    schedule_id: uuid.UUID | None = None,
    publish_event: bool = False,
    now: datetime | None = None,
) -> uuid.UUID:
    """Create a schedule brought over from another system (the legacy importer) and return
    its id.

    It is validated like a schedule made through the API (job exists and is not archived,
    parameters, selector or the job's default selector, timing, zone, policy, unique name) and
    its next due time is planned from ``now``; ``spec.firings_made`` becomes its firing count,
    so ``max_firings`` keeps counting from there (a schedule already at its maximum is created
    with nothing due). Its creator is ``spec.created_by_user_id`` when given (else ``actor``);
    ``actor`` is who imports it. With ``schedule_id`` the call is idempotent: if that schedule
    exists, its id is returned and nothing changes.

    Raises ``rest_framework.exceptions.ValidationError`` whose detail is keyed by field
    (``job``, ``cron``, ``timezone``, ``time_of_day``, ``days_of_week``, ``day_of_month``,
    ``name``, ...); nothing is saved then. ``publish_event=False`` (the default for imports,
    which publish one summary event per table) leaves out ``scheduling.schedule.created``.
    """
    from apps.accounts.interface import user_summary
    from apps.scheduling import services

    if spec.job_id is None:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"job": ["Required: the job this schedule runs."]})
    created_by = None
    if spec.created_by_user_id is not None:
        user = user_summary(spec.created_by_user_id)
        created_by = Actor(
            kind="user", id=str(spec.created_by_user_id), name=user.username if user else ""
        )
    values = {
        **_definition(spec),
        "name": spec.name,
        "description": spec.description,
        "enabled": spec.enabled,
        "job": spec.job_id,
        "max_firings": spec.max_firings,
        "misfire_policy": spec.misfire_policy,
        "selector": spec.selector,
        "parameters": dict(spec.parameters),
    }
    made, _ = services.schedule_import(
        values=values,
        actor=actor,
        created_by=created_by,
        fired_count=spec.firings_made,
        last_fired_at=spec.last_fired_at,
        schedule_id=schedule_id,
        publish_event=publish_event,
        now=now,
    )
    return made


def schedule_spec_fire_times(
    *, spec: ScheduleSpec, after: datetime, count: int = 20
) -> list[datetime]:
    """The next ``count`` fire times (aware, UTC, ascending) of ``spec`` strictly after
    ``after``, without saving anything: the times the scheduler would fire it at if it were
    enabled, with the product's DST rules (``apps/scheduling/timing.py``). Firings beyond
    ``max_firings`` (counting ``firings_made``) are left out, so the list may be shorter. An
    interval or calendar schedule without ``start_at`` is anchored at ``after``.

    Raises ``rest_framework.exceptions.ValidationError`` keyed by field when the definition
    is not usable (the same checks and messages as the API)."""
    from apps.scheduling import services, timing

    definition = services.check_timing(_definition(spec), anchor=after)
    if spec.max_firings is not None:
        count = min(count, max(spec.max_firings - spec.firings_made, 0))
    return timing.fire_times(definition, after, count)


def schedules_info_of_jobs(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ScheduleDetails]]:
    """The schedules of each job among ``job_ids`` (enabled or paused), oldest first, in one
    query; a job without schedules is left out."""
    from apps.scheduling import selectors

    found: dict[uuid.UUID, list[ScheduleDetails]] = {}
    rows = selectors.schedules().filter(job_id__in=list(job_ids)).order_by("created_at", "id")
    for schedule in rows:
        found.setdefault(schedule.job_id, []).append(_details(schedule))
    return found


def schedule_once_as(
    *, job_id: uuid.UUID, run_at: datetime, actor: Actor, description: str = ""
) -> tuple[uuid.UUID, bool]:
    """A one-time schedule of the job at ``run_at`` (aware), created as ``actor`` through the
    API's service (validation, ``scheduling.schedule.created``), on the job's default
    selector. Idempotent: when the job already has a one-time schedule at that instant, that
    one is returned. Returns (id, created). Raises
    ``rest_framework.exceptions.ValidationError`` keyed by field (``job``, ``run_at``,
    ``selector``)."""
    from apps.jobs.interface import job_snapshot
    from apps.scheduling import services
    from apps.scheduling.models import Kind, Schedule

    existing = (
        Schedule.objects.using("scheduling")
        .filter(job_id=job_id, kind=Kind.ONCE, run_at=run_at)
        .values_list("id", flat=True)
        .first()
    )
    if existing is not None:
        return existing, False
    snapshot = job_snapshot(job_id)
    job_name = snapshot.name if snapshot else str(job_id)
    name = f"{job_name[:50]} once at {run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if Schedule.objects.using("scheduling").filter(name=name).exists():
        name = f"{name[:88]} {uuid.uuid4().hex[:8]}"
    made = services.schedule_create(
        data={
            "name": name,
            "description": description,
            "enabled": True,
            "job": job_id,
            "kind": Kind.ONCE,
            "run_at": run_at,
            "timezone": "UTC",
        },
        actor=actor,
    )
    return made.id, True


def schedules_pause_of_job(*, job_id: uuid.UUID, actor: Actor) -> int:
    """Pause every enabled schedule of the job as ``actor`` (``scheduling.schedule.paused``
    each); how many were paused."""
    from apps.scheduling import services
    from apps.scheduling.models import Schedule

    paused = 0
    for schedule in Schedule.objects.using("scheduling").filter(job_id=job_id, enabled=True):
        services.schedule_set_enabled(schedule=schedule, enabled=False, actor=actor)
        paused += 1
    return paused


# -- schedules for the legacy bridge (reads and writes as the caller) ------------------------------


@dataclass(frozen=True)
class ScheduleDetails:
    """A schedule as data: its definition (the fields of ``ScheduleSpec``) and its state
    (``next_fire_at``: the next due time, None when nothing is due; ``fired_count``)."""

    id: uuid.UUID
    name: str
    description: str
    job_id: uuid.UUID
    kind: str
    timezone: str
    cron: str
    interval_every: int | None
    interval_unit: str
    frequency: str
    every: int | None
    time_of_day: time | None
    days_of_week: tuple[int, ...]
    day_of_month: int | None
    run_at: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    max_firings: int | None
    enabled: bool
    next_fire_at: datetime | None
    fired_count: int
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime


def schedule_ids(*, job_ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Ids of every schedule (of the jobs ``job_ids`` when given), oldest first."""
    from apps.scheduling import selectors

    rows = selectors.schedules()
    if job_ids is not None:
        rows = rows.filter(job_id__in=list(job_ids))
    return list(rows.order_by("created_at", "id").values_list("id", flat=True))


def schedule_details(schedule_ids: list[uuid.UUID]) -> dict[uuid.UUID, ScheduleDetails]:
    """The schedules among ``schedule_ids`` that exist, by id (one query)."""
    from apps.scheduling import selectors

    return {
        schedule.id: _details(schedule)
        for schedule in selectors.schedules().filter(pk__in=list(schedule_ids))
    }


def _details(s) -> ScheduleDetails:
    return ScheduleDetails(
        id=s.id,
        name=s.name,
        description=s.description,
        job_id=s.job_id,
        kind=s.kind,
        timezone=s.timezone,
        cron=s.cron,
        interval_every=s.interval_every,
        interval_unit=s.interval_unit,
        frequency=s.frequency,
        every=s.every,
        time_of_day=s.time_of_day,
        days_of_week=tuple(s.days_of_week or ()),
        day_of_month=s.day_of_month,
        run_at=s.run_at,
        start_at=s.start_at,
        end_at=s.end_at,
        max_firings=s.max_firings,
        enabled=s.enabled,
        next_fire_at=s.next_fire_at,
        fired_count=s.fired_count,
        last_fired_at=s.last_fired_at,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


def _values_of_spec(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        **_definition(spec),
        "name": spec.name,
        "description": spec.description,
        "enabled": spec.enabled,
        "job": spec.job_id,
        "max_firings": spec.max_firings,
        "misfire_policy": spec.misfire_policy,
        "selector": spec.selector,
        "parameters": dict(spec.parameters),
    }


def schedule_create_as(
    *,
    spec: ScheduleSpec,
    actor: Actor,
    schedule_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Create a schedule for ``actor`` (its creator), validated as the API does, with
    ``scheduling.schedule.created``; ``schedule_id`` chooses its id. Raises
    ``rest_framework.exceptions.ValidationError`` keyed by field (``job``, ``cron``, ...)."""
    from apps.scheduling import services

    if spec.job_id is None:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"job": ["Required: the job this schedule runs."]})
    made, _ = services.schedule_import(
        values=_values_of_spec(spec),
        actor=actor,
        schedule_id=schedule_id,
        publish_event=True,
        now=now,
    )
    return made


def schedule_update_as(
    *, schedule_id: uuid.UUID, spec: ScheduleSpec, actor: Actor, now: datetime | None = None
) -> bool:
    """Replace when a schedule fires (its timing), its name, description, ``enabled``,
    ``max_firings`` and, when ``spec.job_id`` is given, its job, by those of ``spec`` (as
    ``PATCH /api/v1/schedules/{id}/`` does: ``scheduling.schedule.updated``, the next due time
    recomputed); its parameters, selector and policies stay. False when it does not exist.
    Raises ``ValidationError`` keyed by field."""
    from apps.scheduling import services
    from apps.scheduling.models import Schedule

    schedule = Schedule.objects.using("scheduling").filter(pk=schedule_id).first()
    if schedule is None:
        return False
    values = {
        **_definition(spec),
        "name": spec.name,
        "description": spec.description,
        "enabled": spec.enabled,
        "max_firings": spec.max_firings,
    }
    if spec.job_id is not None:
        values["job"] = spec.job_id
    services.schedule_update(schedule=schedule, data=values, actor=actor, now=now)
    return True


def schedule_delete_as(*, schedule_id: uuid.UUID, actor: Actor) -> bool:
    """Delete a schedule and its firing history (its runs stay), with
    ``scheduling.schedule.deleted``. False when it does not exist."""
    from apps.scheduling import services
    from apps.scheduling.models import Schedule

    schedule = Schedule.objects.using("scheduling").filter(pk=schedule_id).first()
    if schedule is None:
        return False
    services.schedule_delete(schedule=schedule, actor=actor)
    return True
