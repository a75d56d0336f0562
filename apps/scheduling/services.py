"""Writes of the scheduling context: schedules, and firing them when they are due.

``schedules_fire_due`` is the scheduler: it reads only the schedules whose ``next_fire_at`` has
come (an index range scan, whatever the number of schedules), claims each with ``FOR UPDATE SKIP
LOCKED`` (so several scheduler processes share the work and never take the same schedule),
records one ``Firing`` per due time (unique per schedule and due time: the guard that makes a
due time fire at most once, whatever runs twice), moves ``next_fire_at`` on, commits, and only
then starts the runs (execution's ``start_run``, idempotent per firing). Editing a schedule
recomputes its own ``next_fire_at`` and nothing else. See docs/scheduling.md and ADR 0010.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from apps.execution.interface import RunStart, run_for_firing, run_ref, start_runs
from apps.jobs.interface import MASK, job_snapshot, resolve_parameters
from apps.scheduling import alerts, timing
from apps.scheduling.models import (
    AlertRule,
    Firing,
    FiringOutcome,
    Kind,
    MisfirePolicy,
    NotificationChannel,
    OverlapPolicy,
    Schedule,
)
from apps.targets.interface import SelectorError, validate_selector
from opsconductor.events import SYSTEM, Actor, publish
from opsconductor.events.outbox import publish_many
from opsconductor.sealing import SealError, seal, unseal

DB = "scheduling"
logger = logging.getLogger(__name__)

MISSED_RECORD_LIMIT = 1000  # missed due times recorded per schedule after one downtime
STARTING_STALE_SECONDS = 60  # a firing still "starting" after this long: its scheduler died
ACTIVE_RUN = ("pending", "running")

CALENDAR_FIELDS = ("frequency", "every", "time_of_day", "days_of_week", "day_of_month")
DEFINITION_FIELDS = (
    "kind", "cron", "interval_every", "interval_unit", "run_at", "timezone", "start_at",
    "end_at", "max_firings", *CALENDAR_FIELDS,
)  # fmt: skip
WHAT_FIELDS = ("job", "job_version", "parameters", "selector")
POLICY_FIELDS = ("misfire_policy", "misfire_grace_seconds", "overlap_policy")


# -- definitions ---------------------------------------------------------------------------------


def _fallback_anchor(kind: str, every: int | None, default: datetime) -> datetime | None:
    """The anchor when there is no start: ``default`` (for an interval never used: it always
    has a start), none for a calendar schedule every 1 day/week/month (it has no phase to
    keep, and an anchor would bound it below)."""
    if kind == Kind.CALENDAR and (every or 1) <= 1:
        return None
    return default


def timing_of(schedule: Schedule) -> timing.Timing:
    return timing.make_timing(
        kind=schedule.kind,
        zone=schedule.timezone,
        cron=schedule.cron,
        every=schedule.every if schedule.kind == Kind.CALENDAR else schedule.interval_every,
        unit=schedule.interval_unit,
        frequency=schedule.frequency,
        time_of_day=schedule.time_of_day,
        weekdays=schedule.days_of_week or None,
        day_of_month=schedule.day_of_month,
        anchor=schedule.start_at
        or _fallback_anchor(schedule.kind, schedule.every, schedule.created_at),
        run_at=schedule.run_at,
        start_at=schedule.start_at,
        end_at=schedule.end_at,
    )


def calendar_text(schedule: Schedule) -> str:
    """A calendar schedule in words: "every 2 weeks on MON, FRI at 09:00"."""
    every = schedule.every or 1
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[schedule.frequency]
    text = f"every {unit}" if every == 1 else f"every {every} {unit}s"
    if schedule.frequency == "weekly":
        text += " on " + ", ".join(timing.WEEKDAY_NAMES[d] for d in schedule.days_of_week)
    if schedule.frequency == "monthly":
        text += f" on day {schedule.day_of_month}"
    when = schedule.time_of_day
    return f"{text} at {when:%H:%M}" if when is not None else text


def default_timezone() -> str:
    return settings.SCHEDULING_DEFAULT_TIMEZONE


def check_timing(values: dict[str, Any], anchor: datetime) -> timing.Timing:
    """The timing of a definition (kind, cron/interval/run_at, zone, start/end), checked.
    Raises ``ValidationError`` naming the field."""
    kind = values["kind"]
    if kind not in Kind.values:
        raise ValidationError({"kind": [f"Must be one of {', '.join(Kind.values)}."]})
    # fields of another kind are refused rather than silently ignored
    stray = {
        Kind.CRON: ("interval_every", "interval_unit", "run_at", *CALENDAR_FIELDS),
        Kind.INTERVAL: ("cron", "run_at", *CALENDAR_FIELDS),
        Kind.CALENDAR: ("cron", "interval_every", "interval_unit", "run_at"),
        Kind.ONCE: ("cron", "interval_every", "interval_unit", *CALENDAR_FIELDS),
    }[kind]
    for name in stray:
        if values.get(name) not in (None, "", []):
            raise ValidationError({name: [f"Not used by a {kind} schedule; leave it out."]})
    required = {
        Kind.CRON: ("cron",),
        Kind.INTERVAL: ("interval_every", "interval_unit"),
        Kind.CALENDAR: ("frequency", "time_of_day"),
        Kind.ONCE: ("run_at",),
    }[kind]
    for name in required:
        if values.get(name) in (None, ""):
            raise ValidationError({name: [f"Required for a {kind} schedule."]})
    try:
        return timing.make_timing(
            kind=kind,
            zone=values["timezone"],
            cron=values.get("cron") or "",
            every=values.get("every") if kind == Kind.CALENDAR else values.get("interval_every"),
            unit=values.get("interval_unit") or "",
            frequency=values.get("frequency") or "",
            time_of_day=values.get("time_of_day"),
            weekdays=values.get("days_of_week") or None,
            day_of_month=values.get("day_of_month"),
            anchor=values.get("start_at") or _fallback_anchor(kind, values.get("every"), anchor),
            run_at=values.get("run_at"),
            start_at=values.get("start_at"),
            end_at=values.get("end_at"),
        )
    except timing.ScheduleDefinitionError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None


def _secret_names(definition: dict) -> set[str]:
    return {p["name"] for p in definition.get("parameters", []) if p.get("type") == "secret"}


def _check_what(values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The job (snapshot of the pinned or latest version) and the parameter values, checked."""
    snapshot = job_snapshot(values["job"], values.get("job_version"))
    if snapshot is None:
        field = (
            "job_version" if values.get("job_version") and job_snapshot(values["job"]) else "job"
        )
        raise ValidationError({field: ["No such job or version."]})
    if snapshot.archived:
        raise ValidationError({"job": ["The job is archived; restore it to schedule it."]})
    given = values.get("parameters") or {}
    if not isinstance(given, dict):
        raise ValidationError({"parameters": ["Expected an object of parameter values."]})
    try:
        resolve_parameters(snapshot, given)
    except DjangoValidationError as exc:
        raise ValidationError(
            {f"parameters.{name}": messages for name, messages in exc.message_dict.items()}
        ) from exc
    text = (values.get("selector") or "").strip()
    if text:
        try:
            validate_selector(text)
        except SelectorError as exc:
            raise ValidationError({"selector": [str(exc)]}) from exc
    elif not snapshot.definition.get("default_selector", "").strip():
        raise ValidationError(
            {"selector": ["The job has no default selector: say which targets to run on."]}
        )
    return snapshot, given


def _check_policies(values: dict[str, Any]) -> None:
    if values.get("misfire_policy") not in MisfirePolicy.values:
        raise ValidationError(
            {"misfire_policy": [f"Must be one of {', '.join(MisfirePolicy.values)}."]}
        )
    if values.get("overlap_policy") not in OverlapPolicy.values:
        raise ValidationError(
            {"overlap_policy": [f"Must be one of {', '.join(OverlapPolicy.values)}."]}
        )


def _notify_rules(notify: list[dict] | None) -> list[tuple[NotificationChannel, list[str]]] | None:
    if notify is None:
        return None
    rules = []
    for index, item in enumerate(notify):
        channel = NotificationChannel.objects.using(DB).filter(name=item["channel"]).first()
        if channel is None:
            raise ValidationError({f"notify.{index}.channel": ["No such notification channel."]})
        rules.append((channel, list(dict.fromkeys(item["events"]))))
    return rules


@dataclass(frozen=True)
class _Checked:
    values: dict[str, Any]
    timing: timing.Timing
    snapshot: Any
    parameters: dict[str, Any]
    notify: list[tuple[NotificationChannel, list[str]]] | None


def _check(values: dict[str, Any], anchor: datetime) -> _Checked:
    values.setdefault("timezone", settings.SCHEDULING_DEFAULT_TIMEZONE)
    values.setdefault("misfire_policy", MisfirePolicy.SKIP)
    values.setdefault("overlap_policy", OverlapPolicy.ALLOW)
    checked_timing = check_timing(values, anchor)
    _check_policies(values)
    snapshot, parameters = _check_what(values)
    return _Checked(
        values, checked_timing, snapshot, parameters, _notify_rules(values.get("notify"))
    )


def _apply(schedule: Schedule, checked: _Checked, now: datetime) -> None:
    values = checked.values
    schedule.job_id = checked.snapshot.job_id
    schedule.job_name = checked.snapshot.name
    schedule.job_version = values.get("job_version")
    secret = _secret_names(checked.snapshot.definition)
    schedule.parameters = {
        k: (MASK if k in secret and v not in (None, "") else v)
        for k, v in checked.parameters.items()
    }
    schedule.sealed_parameters = seal({"values": checked.parameters})
    schedule.selector = (values.get("selector") or "").strip()
    for name in ("kind", "timezone", "misfire_policy", "overlap_policy"):
        setattr(schedule, name, values[name])
    schedule.cron = values.get("cron") or ""
    schedule.interval_every = values.get("interval_every")
    schedule.interval_unit = values.get("interval_unit") or ""
    schedule.run_at = checked.timing.run_at
    calendar = values["kind"] == Kind.CALENDAR
    schedule.frequency = checked.timing.frequency if calendar else ""
    schedule.every = checked.timing.every if calendar else None
    schedule.time_of_day = checked.timing.time_of_day if calendar else None
    schedule.days_of_week = list(checked.timing.weekdays) if calendar else []
    schedule.day_of_month = checked.timing.day_of_month if calendar else None
    # an interval (and a calendar schedule every 2 or more days, weeks or months) is anchored
    # at its start: without one, at the moment it was defined
    anchored = values["kind"] == Kind.INTERVAL or (calendar and (schedule.every or 1) > 1)
    schedule.start_at = checked.timing.start_at or (checked.timing.anchor if anchored else None)
    schedule.end_at = checked.timing.end_at
    schedule.max_firings = values.get("max_firings")
    schedule.misfire_grace_seconds = values.get("misfire_grace_seconds", 60)
    for name in ("name", "description", "enabled"):
        if name in values:
            setattr(schedule, name, values[name])


def _plan_next(schedule: Schedule, checked_timing: timing.Timing, after: datetime) -> None:
    """Set ``next_fire_at`` (and why nothing is due, if so) from ``after`` on."""
    if schedule.max_firings is not None and schedule.fired_count >= schedule.max_firings:
        schedule.next_fire_at = None
        schedule.finished_reason = f"fired its maximum of {schedule.max_firings} times"
        return
    schedule.next_fire_at = timing.next_fire(checked_timing, after)
    schedule.finished_reason = "" if schedule.next_fire_at else "no due time left"


def _save_rules(schedule: Schedule, rules) -> None:
    if rules is None:
        return
    AlertRule.objects.using(DB).filter(schedule=schedule).delete()
    AlertRule.objects.using(DB).bulk_create(
        AlertRule(channel=channel, schedule=schedule, events=events) for channel, events in rules
    )


def _summary(schedule: Schedule) -> dict[str, Any]:
    return {
        "schedule_id": str(schedule.id),
        "name": schedule.name,
        "job_id": str(schedule.job_id),
        "job_name": schedule.job_name,
        "kind": schedule.kind,
        "cron": schedule.cron,
        "interval": f"{schedule.interval_every} {schedule.interval_unit}"
        if schedule.kind == Kind.INTERVAL
        else "",
        "run_at": schedule.run_at,
        "calendar": calendar_text(schedule) if schedule.kind == Kind.CALENDAR else "",
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "revision": schedule.revision,
        "parameters": schedule.parameters,  # secrets masked
        "selector": schedule.selector,
        "next_fire_at": schedule.next_fire_at,
    }


def schedule_create(*, data: dict[str, Any], actor: Actor, now: datetime | None = None) -> Schedule:
    """A new schedule from validated serializer data. Raises ``ValidationError`` by field.
    ``now``: the clock (tests pass their own)."""
    now = now or timezone.now()
    # an interval without a start is anchored here, on a whole second
    checked = _check(dict(data), now.replace(microsecond=0))
    schedule = Schedule(created_by=actor.as_dict(), updated_by=actor.as_dict())
    _apply(schedule, checked, now)
    if schedule.enabled:
        _plan_next(schedule, checked.timing, now)
    try:
        with transaction.atomic(using=DB):
            schedule.save(using=DB)
            _save_rules(schedule, checked.notify)
            publish("scheduling.schedule.created", _summary(schedule), actor=actor)
    except IntegrityError:
        raise ValidationError({"name": ["A schedule with this name exists."]}) from None
    return schedule


def schedule_update(
    *, schedule: Schedule, data: dict[str, Any], actor: Actor, now: datetime | None = None
) -> Schedule:
    """Change a schedule (``data``: validated fields, a partial update leaves the rest). A change
    of when or what takes effect from the next due time: ``next_fire_at`` is recomputed from
    now and the revision grows (a firing records the revision it fired)."""
    now = now or timezone.now()
    with transaction.atomic(using=DB):
        current = Schedule.objects.using(DB).select_for_update().get(pk=schedule.pk)
        values = _values_of(current)
        if isinstance(data.get("parameters"), dict):
            data = {**data, "parameters": _keep_secrets(current, values, data["parameters"])}
        values.update(data)
        checked = _check(values, current.created_at)
        before = _summary(current)
        _apply(current, checked, now)
        redefined = any(name in data for name in (*DEFINITION_FIELDS, *WHAT_FIELDS))
        if redefined:
            current.revision += 1
        if redefined or "enabled" in data:
            if current.enabled:
                _plan_next(current, checked.timing, now)
            else:
                current.next_fire_at = None
        current.updated_by = actor.as_dict()
        try:
            with transaction.atomic(using=DB):
                current.save(using=DB)
        except IntegrityError:
            raise ValidationError({"name": ["A schedule with this name exists."]}) from None
        _save_rules(current, checked.notify)
        after = _summary(current)
        publish(
            "scheduling.schedule.updated",
            {
                **after,
                "changes": {
                    k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]
                },
            },
            actor=actor,
        )
    return current


def _keep_secrets(current: Schedule, values: dict[str, Any], given: dict[str, Any]) -> dict:
    """A secret value sent back as it is shown (``********``) keeps the stored one: a client
    that never saw the secret can send the other values without retyping it."""
    stored = values.get("parameters") or {}
    return {
        name: (
            stored[name]
            if value == MASK and (current.parameters or {}).get(name) == MASK and name in stored
            else value
        )
        for name, value in given.items()
    }


def _values_of(schedule: Schedule) -> dict[str, Any]:
    values = {
        name: getattr(schedule, name)
        for name in (
            *DEFINITION_FIELDS,
            *POLICY_FIELDS,
            "name",
            "description",
            "enabled",
            "job_version",
            "selector",
        )
    }
    values["job"] = schedule.job_id
    try:
        values["parameters"] = unseal(schedule.sealed_parameters)["values"]
    except SealError:
        values["parameters"] = {}
    return values


def schedule_set_enabled(
    *, schedule: Schedule, enabled: bool, actor: Actor, now: datetime | None = None
) -> Schedule:
    """Pause (nothing fires until resumed; due times meanwhile are not recorded) or resume (the
    next due time from now on)."""
    now = now or timezone.now()
    with transaction.atomic(using=DB):
        current = Schedule.objects.using(DB).select_for_update().get(pk=schedule.pk)
        if current.enabled == enabled:
            return current
        current.enabled = enabled
        if enabled:
            _plan_next(current, timing_of(current), now)
        else:
            current.next_fire_at = None
        current.updated_by = actor.as_dict()
        current.save(using=DB)
        publish(
            "scheduling.schedule.resumed" if enabled else "scheduling.schedule.paused",
            _summary(current),
            actor=actor,
        )
    return current


def schedule_delete(*, schedule: Schedule, actor: Actor) -> None:
    """Delete a schedule and its history (its runs stay, with their schedule id)."""
    with transaction.atomic(using=DB):
        current = Schedule.objects.using(DB).select_for_update().filter(pk=schedule.pk).first()
        if current is None:
            return
        summary = _summary(current)
        current.delete(using=DB)
        publish("scheduling.schedule.deleted", summary, actor=actor)


# -- firing ---------------------------------------------------------------------------------------


@dataclass
class _ToStart:
    firing_id: uuid.UUID
    schedule_id: uuid.UUID
    scheduled_for: datetime
    revision: int


def schedules_fire_due(
    *, now: datetime | None = None, limit: int = 200, worker: str = ""
) -> Counter:
    """Fire every schedule whose due time has come (see the module docstring); what it did."""
    done: Counter[str] = Counter()
    while True:
        at = now or timezone.now()
        to_start, claimed = _claim_due(at, limit, worker, done)
        _start_many(to_start, done, now=now)
        if claimed < limit:
            break
    _recover_starting(now or timezone.now(), done, clock=now)
    return done


def _claim_due(now: datetime, limit: int, worker: str, done: Counter) -> tuple[list[_ToStart], int]:
    to_start: list[_ToStart] = []
    try:
        with transaction.atomic(using=DB):
            due = list(
                Schedule.objects.using(DB)
                .select_for_update(skip_locked=True)
                .filter(enabled=True, next_fire_at__lte=now)
                .order_by("next_fire_at")[:limit]
            )
            for schedule in due:
                to_start += _fire_schedule(schedule, now, worker, done)
    except IntegrityError:
        # another scheduler recorded one of these due times first (only possible where row
        # locks are not available, e.g. SQLite): the firing row guard held; try again later
        logger.info("a due time was fired by another scheduler; nothing fired twice")
        done["conflicts"] += 1
        return [], 0
    return to_start, len(due)


def _fire_schedule(schedule: Schedule, now: datetime, worker: str, done: Counter) -> list[_ToStart]:
    """Record the firings of one locked, due schedule and move it on; the ones to start."""
    try:
        checked_timing = timing_of(schedule)
    except timing.ScheduleDefinitionError as exc:  # e.g. a time zone the system no longer has
        schedule.next_fire_at = None
        schedule.finished_reason = f"its definition is no longer valid: {exc.message}"
        schedule.save(using=DB, update_fields=["next_fire_at", "finished_reason", "updated_at"])
        done["invalid"] += 1
        return []
    first = schedule.next_fire_at
    times = [first, *timing.due_times(checked_timing, first, now, MISSED_RECORD_LIMIT)]
    grace = timedelta(seconds=schedule.misfire_grace_seconds)
    late = [t for t in times if now - t > grace]
    on_time = [t for t in times if now - t <= grace]
    catch_up = None
    if late and not on_time and schedule.misfire_policy == MisfirePolicy.RUN_ONCE:
        catch_up = late.pop()
    already = set(
        Firing.objects.using(DB)
        .filter(schedule=schedule, scheduled_for__in=times)
        .values_list("scheduled_for", flat=True)
    )
    rows: list[Firing] = []
    for t in late:
        if t not in already:
            rows.append(Firing(schedule=schedule, scheduled_for=t, outcome=FiringOutcome.MISSED,
                               reason=_missed_reason(schedule, now, t), revision=schedule.revision,
                               worker=worker))  # fmt: skip
    to_fire = [t for t in on_time if t not in already]
    if catch_up is not None and catch_up not in already:
        to_fire.append(catch_up)
    previous_active = _previous_run_active(schedule) if schedule.overlap_policy == "skip" else None
    starting: list[Firing] = []
    for t in to_fire:
        if schedule.max_firings is not None and schedule.fired_count >= schedule.max_firings:
            break
        if previous_active:
            rows.append(Firing(schedule=schedule, scheduled_for=t, outcome=FiringOutcome.SKIPPED,
                               reason=f"previous run still active (run {previous_active})",
                               revision=schedule.revision, fired_at=now,
                               worker=worker))  # fmt: skip
            continue
        firing = Firing(schedule=schedule, scheduled_for=t, outcome=FiringOutcome.STARTING,
                        catch_up=t is catch_up, revision=schedule.revision, fired_at=now,
                        worker=worker)  # fmt: skip
        if t is catch_up:
            firing.reason = f"catch-up run for the due time {t.isoformat()} missed by " + (
                f"{_seconds(now - t)}"
            )
        rows.append(firing)
        starting.append(firing)
        schedule.fired_count += 1
        schedule.last_fired_at = now
    Firing.objects.using(DB).bulk_create(rows)  # the unique (schedule, due time) guard
    if times and len(times) > MISSED_RECORD_LIMIT:
        logger.warning(
            "schedule %s missed more than %d due times", schedule.id, MISSED_RECORD_LIMIT
        )
    _plan_next(schedule, checked_timing, max(now, times[-1]))
    schedule.save(
        using=DB,
        update_fields=[
            "next_fire_at",
            "finished_reason",
            "fired_count",
            "last_fired_at",
            "updated_at",
        ],
    )
    for row in rows:
        _publish_firing(schedule, row)
        done[row.outcome] += 1
    missed = [row for row in rows if row.outcome == FiringOutcome.MISSED]
    if missed:
        alerts.notify(
            event="missed", subject=f"schedule:{schedule.id}", schedule_id=schedule.id,
            job_id=schedule.job_id,
            payload={"schedule_id": str(schedule.id), "schedule_name": schedule.name,
                     "job_id": str(schedule.job_id), "job_name": schedule.job_name,
                     "missed": [row.scheduled_for.isoformat() for row in missed],
                     "reason": missed[0].reason},
        )  # fmt: skip
    return [_ToStart(f.id, schedule.id, f.scheduled_for, f.revision) for f in starting]


def _seconds(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _missed_reason(schedule: Schedule, now: datetime, due: datetime) -> str:
    policy = (
        "skip: nothing is run late"
        if schedule.misfire_policy == MisfirePolicy.SKIP
        else "run_once: one catch-up run covers the missed due times"
    )
    return (
        f"the scheduler was not running at the due time; noticed {_seconds(now - due)} late, "
        f"past the grace period of {schedule.misfire_grace_seconds} s ({policy})"
    )


def _previous_run_active(schedule: Schedule) -> uuid.UUID | None:
    last = (
        Firing.objects.using(DB)
        .filter(schedule=schedule, run_id__isnull=False)
        .order_by("-scheduled_for")
        .values_list("run_id", flat=True)
        .first()
    )
    if last is None:
        return None
    ref = run_ref(last)
    return last if ref is not None and ref.status in ACTIVE_RUN else None


_FIRING_EVENTS = {
    FiringOutcome.FIRED: "scheduling.firing.fired",
    FiringOutcome.SKIPPED: "scheduling.firing.skipped",
    FiringOutcome.MISSED: "scheduling.firing.missed",
    FiringOutcome.FAILED_TO_START: "scheduling.firing.failed_to_start",
}


def _schedule_actor(schedule: Schedule) -> Actor:
    return Actor(kind="schedule", id=str(schedule.id), name=schedule.name)


def _firing_payload(schedule: Schedule, firing: Firing) -> dict[str, Any]:
    return {
        "firing_id": str(firing.id),
        "schedule_id": str(schedule.id),
        "schedule_name": schedule.name,
        "job_id": str(schedule.job_id),
        "scheduled_for": firing.scheduled_for,
        "fired_at": firing.fired_at,
        "outcome": firing.outcome,
        "reason": firing.reason,
        "run_id": str(firing.run_id) if firing.run_id else None,
        "catch_up": firing.catch_up,
        "revision": firing.revision,
    }


def _publish_firing(schedule: Schedule, firing: Firing) -> None:
    if firing.outcome == FiringOutcome.STARTING:
        return  # its outcome (fired or failed to start) follows in a moment
    publish(
        _FIRING_EVENTS[firing.outcome],
        _firing_payload(schedule, firing),
        actor=_schedule_actor(schedule),
    )


def _start(item: _ToStart, done: Counter) -> None:
    """Start the run of one claimed firing (see ``_start_many``)."""
    _start_many([item], done)


def _start_many(items: list[_ToStart], done: Counter, *, now: datetime | None = None) -> None:
    """Start the runs of claimed firings (outside the claiming transaction: runs live in
    another app's database), all in one call to execution, and record how each went, all in
    one transaction. A firing whose schedule was changed or paused since it was claimed is
    skipped: the old definition never fires."""
    if not items:
        return
    schedules = Schedule.objects.using(DB).in_bulk({item.schedule_id for item in items})
    outcomes: dict[uuid.UUID, tuple[str, str, Any]] = {}  # firing -> (outcome, reason, run)
    starts: list[tuple[_ToStart, RunStart]] = []
    for item in items:
        schedule = schedules.get(item.schedule_id)
        if schedule is None:
            continue  # deleted meanwhile: its firings went with it
        if schedule.revision != item.revision or not schedule.enabled:
            why = "changed" if schedule.revision != item.revision else "paused"
            outcomes[item.firing_id] = (
                FiringOutcome.SKIPPED, f"the schedule was {why} before this due time started", None
            )  # fmt: skip
            continue
        try:
            values = (
                unseal(schedule.sealed_parameters)["values"] if schedule.sealed_parameters else {}
            )
        except SealError:
            outcomes[item.firing_id] = (
                FiringOutcome.FAILED_TO_START,
                "the schedule's parameter values cannot be unsealed with the configured keys",
                None,
            )
            continue
        starts.append((item, RunStart(
            job_id=schedule.job_id, version=schedule.job_version, parameters=values,
            selector=schedule.selector or None,
            policy={"allow_overlap": schedule.overlap_policy != OverlapPolicy.QUEUE},
            actor=_schedule_actor(schedule),
            schedule_id=schedule.id, schedule_firing_id=item.firing_id,
        )))  # fmt: skip
    try:
        results = start_runs([start for _, start in starts])
    except Exception as exc:  # execution is unreachable: every one of them failed to start
        logger.exception("starting %d scheduled runs failed", len(starts))
        results = [exc] * len(starts)
    for (item, _), result in zip(starts, results, strict=True):
        if isinstance(result, ValidationError):
            outcomes[item.firing_id] = (
                FiringOutcome.FAILED_TO_START,
                _flatten(result.detail),
                None,
            )
        elif isinstance(result, Exception):
            outcomes[item.firing_id] = (
                FiringOutcome.FAILED_TO_START, f"internal error ({type(result).__name__})", None
            )  # fmt: skip
        else:
            outcomes[item.firing_id] = (FiringOutcome.FIRED, "", result)
    _record_starts(schedules, outcomes, now=now)
    for outcome, _, _ in outcomes.values():
        done["started" if outcome == FiringOutcome.FIRED else outcome] += 1


def _record_starts(
    schedules: dict, outcomes: dict[uuid.UUID, tuple[str, str, Any]], *, now=None
) -> None:
    """Record the outcome of firings that were ``starting`` (one transaction): ``fired_at`` is
    when the run was created (``now``: a controlled clock, else the time of recording)."""
    if not outcomes:
        return
    now = now or timezone.now()
    with transaction.atomic(using=DB):
        firings = list(
            Firing.objects.using(DB)
            .select_for_update()
            .filter(pk__in=list(outcomes), outcome=FiringOutcome.STARTING)
        )
        for firing in firings:
            outcome, reason, ref = outcomes[firing.id]
            firing.outcome = outcome
            firing.reason = (reason or firing.reason)[:1000]
            firing.fired_at = now if outcome == FiringOutcome.FIRED else firing.fired_at
            if ref is not None:
                firing.run_id = ref.id
                # the run's events may have told its status already (it can finish before
                # this is recorded): that one is newer
                firing.run_status = firing.run_status or ref.status
            firing.updated_at = now
        Firing.objects.using(DB).bulk_update(
            firings, ["outcome", "reason", "fired_at", "run_id", "run_status", "updated_at"]
        )
        # a due time skipped at the last moment (its schedule changed) did not fire
        for firing in firings:
            if firing.outcome == FiringOutcome.SKIPPED:
                Schedule.objects.using(DB).filter(pk=firing.schedule_id, fired_count__gt=0).update(
                    fired_count=F("fired_count") - 1
                )
        by_outcome: dict[str, list[Firing]] = {}
        for firing in firings:
            by_outcome.setdefault(firing.outcome, []).append(firing)
        for outcome, group in by_outcome.items():
            publish_many(
                _FIRING_EVENTS[outcome],
                [_firing_payload(schedules[f.schedule_id], f) for f in group],
                actor=[_schedule_actor(schedules[f.schedule_id]) for f in group],
                using=DB,
                relay=True,
            )


def _flatten(detail: Any, prefix: str = "") -> str:
    if isinstance(detail, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}: ") for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(v, prefix) for v in detail)
    return f"{prefix}{detail}"


def _recover_starting(now: datetime, done: Counter, *, clock: datetime | None = None) -> None:
    """Firings left ``starting`` by a scheduler that died between claiming and starting: the
    run exists (it is recorded) or it is started now (start_run is idempotent per firing)."""
    stale = Firing.objects.using(DB).filter(
        outcome=FiringOutcome.STARTING,
        created_at__lt=now - timedelta(seconds=STARTING_STALE_SECONDS),
    )
    rows = list(stale.select_related("schedule")[:200])
    linked = {}
    for firing in rows:
        ref = run_for_firing(firing.id)
        if ref is not None:
            linked[firing.id] = (FiringOutcome.FIRED, "", ref)
    _record_starts({f.schedule_id: f.schedule for f in rows}, linked, now=clock)
    _start_many(
        [_ToStart(f.id, f.schedule_id, f.scheduled_for, f.revision) for f in rows
         if f.id not in linked],
        done,
        now=clock,
    )  # fmt: skip
    done["recovered"] += len(rows)


# -- runs finishing -----------------------------------------------------------------------------


def firing_run_status(
    *, run_id: uuid.UUID, status: str, firing_id: uuid.UUID | None = None
) -> None:
    """Keep the run status shown on a firing current (called for run events, which may arrive
    out of order, and even before the scheduler has recorded which run its firing started:
    the firing is then found by its id and linked here). A run shown as finished never goes
    back to running."""
    match = Q(run_id=run_id) | Q(pk=firing_id) if firing_id else Q(run_id=run_id)
    rows = Firing.objects.using(DB).filter(match)
    if status == "running":
        rows = rows.filter(run_status__in=("", "pending"))
    rows.update(run_status=status, run_id=run_id, updated_at=timezone.now())


def run_finished(*, payload: dict[str, Any]) -> None:
    """A run ended: its firing shows the final status; alert rules of its schedule and its job
    are told (failed, succeeded, recovered). Runs inside the subscriber's transaction."""
    run_id = uuid.UUID(payload["run_id"])
    status = payload["status"]
    firing_id = payload.get("schedule_firing_id")
    firing_run_status(
        run_id=run_id, status=status, firing_id=uuid.UUID(firing_id) if firing_id else None
    )
    job_id = uuid.UUID(payload["job_id"])
    schedule_id = uuid.UUID(payload["schedule_id"]) if payload.get("schedule_id") else None
    details = {
        "run_id": str(run_id),
        "job_id": str(job_id),
        "job_name": payload.get("job_name", ""),
        "status": status,
        "counts": payload.get("counts", {}),
        "reason": payload.get("reason", ""),
        "duration_ms": payload.get("duration_ms"),
        "trigger": payload.get("trigger", ""),
    }
    events: dict[str, dict[str, Any]] = {}  # event -> which subjects have it
    if schedule_id:
        schedule = Schedule.objects.using(DB).filter(pk=schedule_id).first()
        if schedule is not None:
            details.update(schedule_id=str(schedule.id), schedule_name=schedule.name)
            for event in alerts.outcome_events(subject=f"schedule:{schedule_id}", status=status):
                events.setdefault(event, {})["schedule_id"] = schedule_id
    for event in alerts.outcome_events(subject=f"job:{job_id}", status=status):
        events.setdefault(event, {})["job_id"] = job_id
    # one notify per event: a channel that both the schedule and the job alert is told once
    for event, subjects in events.items():
        alerts.notify(
            event=event,
            subject=f"schedule:{schedule_id}" if "schedule_id" in subjects else f"job:{job_id}",
            schedule_id=subjects.get("schedule_id"),
            job_id=subjects.get("job_id"),
            payload=details,
        )


# -- notification channels and job alert rules ----------------------------------------------------


def channel_save(
    *, channel: NotificationChannel | None, data: dict[str, Any], actor: Actor = SYSTEM
) -> NotificationChannel:
    """Create or change a notification channel (``data`` validated by the serializer; a webhook
    ``secret`` is sealed and never shown again)."""
    creating = channel is None
    channel = channel or NotificationChannel()
    secret = data.pop("secret", None)
    for name, value in data.items():
        setattr(channel, name, value)
    if secret:
        channel.sealed_secret = seal({"secret": secret})
    if channel.kind == NotificationChannel.ChannelKind.WEBHOOK:
        if not channel.url:
            raise ValidationError({"url": ["Required for a webhook channel."]})
        if not channel.url.lower().startswith(("http://", "https://")):
            raise ValidationError({"url": ["A webhook URL is http:// or https://."]})
        if not channel.sealed_secret:
            raise ValidationError({"secret": ["Required for a webhook channel (the HMAC key)."]})
        channel.recipients = []
    else:
        if not channel.recipients:
            raise ValidationError({"recipients": ["Required for an email channel."]})
        channel.url, channel.sealed_secret = "", ""
    try:
        with transaction.atomic(using=DB):
            channel.save(using=DB)
            publish(
                "scheduling.channel.created" if creating else "scheduling.channel.updated",
                {
                    "channel_id": str(channel.id),
                    "name": channel.name,
                    "kind": channel.kind,
                    "url": channel.url,
                    "recipients": channel.recipients,
                    "enabled": channel.enabled,
                    "secret_changed": bool(secret),
                },
                actor=actor,
            )
    except IntegrityError:
        raise ValidationError({"name": ["A channel with this name exists."]}) from None
    return channel


def channel_delete(*, channel: NotificationChannel, actor: Actor = SYSTEM) -> None:
    with transaction.atomic(using=DB):
        publish("scheduling.channel.deleted", {"channel_id": str(channel.id), "name": channel.name},
                actor=actor)  # fmt: skip
        channel.delete(using=DB)


def channel_test(*, channel: NotificationChannel, actor: Actor = SYSTEM):
    """Send ``channel`` a test notice now (``alerts.send_test``: one attempt, recorded in the
    delivery log) and publish ``scheduling.channel.tested`` with its outcome (audited)."""
    delivery = alerts.send_test(channel, requested_by=actor.name)
    with transaction.atomic(using=DB):
        publish(
            "scheduling.channel.tested",
            {
                "channel_id": str(channel.id),
                "name": channel.name,
                "kind": channel.kind,
                "delivery_id": str(delivery.id),
                "outcome": delivery.status,
                "response_status": delivery.response_status,
                "error": delivery.last_error,
            },
            actor=actor,
        )
    return delivery


def _rule_subject(rule: AlertRule) -> dict[str, str]:
    if rule.schedule_id:
        return {"schedule_id": str(rule.schedule_id)}
    return {"job_id": str(rule.job_id)}


def alert_rule_create(
    *,
    channel: NotificationChannel,
    events: list[str],
    job_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    actor: Actor = SYSTEM,
) -> AlertRule:
    """A rule telling ``channel`` of ``events`` of a job (every run of it, however started)
    or of a schedule (its runs and missed due times): exactly one of the two."""
    if (job_id is None) == (schedule_id is None):
        raise ValidationError({"job": ["Give a job or a schedule (one of the two)."]})
    schedule = None
    if schedule_id is not None:
        schedule = Schedule.objects.using(DB).filter(pk=schedule_id).first()
        if schedule is None:
            raise ValidationError({"schedule": ["No such schedule."]})
    elif job_snapshot(job_id) is None:
        raise ValidationError({"job": ["No such job."]})
    with transaction.atomic(using=DB):
        rule = AlertRule.objects.using(DB).create(
            channel=channel, job_id=job_id, schedule=schedule, events=list(dict.fromkeys(events))
        )
        publish("scheduling.alert_rule.created",
                {"rule_id": str(rule.id), **_rule_subject(rule), "channel": channel.name,
                 "events": rule.events}, actor=actor)  # fmt: skip
    return rule


def alert_rule_update(
    *,
    rule: AlertRule,
    channel: NotificationChannel | None = None,
    events: list[str] | None = None,
    actor: Actor = SYSTEM,
) -> AlertRule:
    """Change which channel a rule tells, or of which events (its job or schedule stays)."""
    with transaction.atomic(using=DB):
        if channel is not None:
            rule.channel = channel
        if events is not None:
            rule.events = list(dict.fromkeys(events))
        rule.save(using=DB, update_fields=["channel", "events", "updated_at"])
        publish("scheduling.alert_rule.updated",
                {"rule_id": str(rule.id), **_rule_subject(rule), "channel": rule.channel.name,
                 "events": rule.events}, actor=actor)  # fmt: skip
    return rule


def job_alert_rule_create(
    *, job_id: uuid.UUID, channel: NotificationChannel, events: list[str], actor: Actor = SYSTEM
) -> AlertRule:
    return alert_rule_create(job_id=job_id, channel=channel, events=events, actor=actor)


def alert_rule_delete(*, rule: AlertRule, actor: Actor = SYSTEM) -> None:
    with transaction.atomic(using=DB):
        publish("scheduling.alert_rule.deleted",
                {"rule_id": str(rule.id), **_rule_subject(rule),
                 "channel": rule.channel.name}, actor=actor)  # fmt: skip
        rule.delete(using=DB)


job_alert_rule_delete = alert_rule_delete


# -- imports from another system -------------------------------------------------------------------


def schedule_import(
    *,
    values: dict[str, Any],
    actor: Actor,
    created_by: Actor | None = None,
    fired_count: int = 0,
    last_fired_at: datetime | None = None,
    schedule_id: uuid.UUID | None = None,
    publish_event: bool = False,
    now: datetime | None = None,
) -> tuple[uuid.UUID, bool]:
    """A schedule brought over from another system: validated like any other (``values`` are
    the fields ``schedule_create`` takes), with ``fired_count`` firings already made (a
    ``max_firings`` keeps counting from there) and its creator kept. With ``schedule_id`` it is
    idempotent: if that schedule exists it is returned unchanged. Returns (id, created).
    Raises ``ValidationError`` by field; ``publish_event=False`` leaves out the per-schedule
    ``scheduling.schedule.created`` (an import publishes one summary event per table)."""
    now = now or timezone.now()
    if schedule_id is not None and Schedule.objects.using(DB).filter(pk=schedule_id).exists():
        return schedule_id, False
    if isinstance(fired_count, bool) or not isinstance(fired_count, int) or fired_count < 0:
        raise ValidationError({"firings_made": ["Must be a whole number, 0 or more."]})
    max_firings = values.get("max_firings")
    if max_firings is not None and (
        isinstance(max_firings, bool) or not isinstance(max_firings, int) or max_firings < 1
    ):
        raise ValidationError({"max_firings": ["Must be a whole number, 1 or more."]})
    if not (values.get("name") or "").strip():
        raise ValidationError({"name": ["Required."]})
    if len(values["name"]) > Schedule._meta.get_field("name").max_length:
        raise ValidationError({"name": ["At most 100 characters."]})
    checked = _check(dict(values), now.replace(microsecond=0))
    schedule = Schedule(
        created_by=(created_by or actor).as_dict(),
        updated_by=actor.as_dict(),
        fired_count=fired_count,
        last_fired_at=last_fired_at,
    )
    if schedule_id is not None:
        schedule.pk = schedule_id
    _apply(schedule, checked, now)
    if schedule.enabled:
        _plan_next(schedule, checked.timing, now)
    else:
        schedule.finished_reason = ""
    try:
        with transaction.atomic(using=DB):
            schedule.save(using=DB, force_insert=True)
            if publish_event:
                publish("scheduling.schedule.created", _summary(schedule), actor=actor)
    except IntegrityError:
        if schedule_id is not None and Schedule.objects.using(DB).filter(pk=schedule_id).exists():
            return schedule_id, False  # imported concurrently
        raise ValidationError({"name": ["A schedule with this name exists."]}) from None
    return schedule.id, True
