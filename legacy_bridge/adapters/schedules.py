"""Schedules (S1-S3): the legacy UI's job dialogs list, delete and create a job's schedules,
served by the scheduling app.

The UI sends them under ``/api/v3/schedules`` (without a trailing slash), where the legacy
backend had no route (404); the legacy backend served ``/api/schedules/``. Both are answered
here, by two areas with the same endpoints: ``legacy-schedules`` (root ``/api/v3/schedules``,
the root itself served, as the UI calls it) and ``legacy-api-schedules`` (root
``/api/schedules``, the root without its slash the legacy ``307``, as recorded).

Semantics are the legacy scheduler's, as the importer keeps them
(``legacy_bridge/importing/schedule_conversion.py``): ``cron`` and ``recurring`` schedules are
evaluated in UTC whatever their declared ``timezone`` (which the UI fills with the browser's
zone): a schedule is created in UTC, so ``next_run`` and the firings are the ones the legacy
scheduler planned, and the declared zone is kept beside it (``legacy_schedules``) and answered
back. ``once`` schedules fire at ``execute_at`` (the legacy backend failed every one of them).
Writes go through the scheduling app as the caller: its validation, ``scheduling.schedule.*``
events and audit; our roles (viewer reads, manager writes).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from rest_framework.exceptions import ValidationError as ApiValidationError

from apps.scheduling.interface import (
    ScheduleDetails,
    schedule_create_as,
    schedule_delete_as,
    schedule_details,
    schedule_ids,
    schedule_update_as,
)
from legacy_bridge import legacy_ids, legacy_schedules
from legacy_bridge.adapters.common import (
    INT_PARSING,
    Refused,
    actor,
    answer,
    detail,
    endpoint,
    invalid,
    new_id,
    object_body,
    path_int,
    when,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.importing.schedule_conversion import (
    EFFECTIVE,
    ConversionError,
    conversion_notes,
    convert,
    declared_zone,
    legacy_next_run,
    verify,
    with_planned_run,
)
from legacy_bridge.responses import field_error
from opsconductor.roles import Role

NOT_FOUND = "Schedule not found"
KINDS = ("once", "recurring", "cron")
RECURRING = ("daily", "weekly", "monthly")
# what the UI sends (camelCase, S3) -> the legacy column (what the real routes accept)
CAMEL = {
    "scheduleType": "schedule_type",
    "recurringType": "recurring_type",
    "daysOfWeek": "days_of_week",
    "dayOfMonth": "day_of_month",
    "maxExecutions": "max_executions",
    "endDate": "end_date",
    "executeAt": "execute_at",
    "cronExpression": "cron_expression",
    "jobId": "job_id",
}
# column -> the type it must have (None: text or null)
TYPES = {
    "job_id": int,
    "schedule_type": str,
    "enabled": bool,
    "timezone": str,
    "description": str,
    "execute_at": "datetime",
    "recurring_type": str,
    "interval": int,
    "time": str,
    "days_of_week": "days",
    "day_of_month": int,
    "cron_expression": str,
    "max_executions": int,
    "end_date": "datetime",
}
# a field of the scheduling app's error -> the legacy column it comes from
OURS_TO_LEGACY = {
    "job": "job_id",
    "job_version": "job_id",
    "selector": "job_id",
    "cron": "cron_expression",
    "time_of_day": "time",
    "run_at": "execute_at",
    "end_at": "end_date",
    "start_at": "execute_at",
    "max_firings": "max_executions",
    "every": "interval",
    "frequency": "recurring_type",
    "days_of_week": "days_of_week",
    "day_of_month": "day_of_month",
    "timezone": "timezone",
    "name": "description",
}

v3 = Area(
    "legacy-schedules",
    "/api/v3/schedules (where the legacy UI sends its schedule calls; no legacy route): list a "
    "job's schedules, create, show, change and delete them, with the legacy semantics (UTC), "
    "through the scheduling app.",
    root="/api/v3/schedules",
)
api = Area(
    "legacy-api-schedules",
    "/api/schedules/ (the legacy backend's schedule routes): list, create, show, change and "
    "delete schedules, with the legacy semantics (UTC), through the scheduling app.",
    root="/api/schedules",
)


# --- the legacy shape ----------------------------------------------------------------------------


def _derived(details: ScheduleDetails) -> dict[str, Any]:
    """A schedule made in the new system (no legacy definition) in the legacy columns."""
    values: dict[str, Any] = dict.fromkeys(legacy_schedules.COLUMNS)
    values.update(timezone=details.timezone, description=details.description, interval=1)
    if details.kind == "cron":
        values.update(schedule_type="cron", cron_expression=details.cron)
    elif details.kind == "once":
        values.update(schedule_type="once", execute_at=when(details.run_at))
    elif details.kind == "calendar":
        values.update(
            schedule_type="recurring",
            recurring_type=details.frequency,
            interval=details.every or 1,
            time=details.time_of_day.strftime("%H:%M") if details.time_of_day else None,
            days_of_week=",".join(str(d) for d in details.days_of_week) or None,
            day_of_month=details.day_of_month,
        )
    else:  # an interval: the legacy system has no such kind
        values.update(schedule_type="interval", interval=details.interval_every)
    values.update(max_executions=details.max_firings, end_date=when(details.end_at))
    return values


def _instant_text(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return when(parsed)


def shape(details: ScheduleDetails, definition: dict | None, legacy_id: int, job: int) -> dict:
    values = definition if definition is not None else _derived(details)
    return {
        "id": legacy_id,
        "job_id": job,
        "schedule_type": values.get("schedule_type"),
        "enabled": details.enabled,
        "timezone": values.get("timezone") or "UTC",
        "description": values.get("description"),
        "execute_at": _instant_text(values.get("execute_at")),
        "recurring_type": values.get("recurring_type"),
        "interval": values.get("interval") if values.get("interval") is not None else 1,
        "time": values.get("time"),
        "days_of_week": values.get("days_of_week"),
        "day_of_month": values.get("day_of_month"),
        "cron_expression": values.get("cron_expression"),
        "max_executions": values.get("max_executions"),
        "execution_count": details.fired_count,
        "end_date": _instant_text(values.get("end_date")),
        # the next due time of the schedule (in UTC, as the legacy scheduler planned it); none
        # while paused or when nothing is left to fire
        "next_run": when(details.next_fire_at) if details.enabled else None,
        "last_run": when(details.last_fired_at),
        "created_at": when(details.created_at),
        "updated_at": when(details.updated_at),
    }


def shaped(ids: list[uuid.UUID]) -> list[dict]:
    """The schedules ``ids`` in the legacy shape, newest legacy id first (the legacy order)."""
    details = schedule_details(ids)
    found = [i for i in ids if i in details]
    legacy = legacy_ids.legacy_ids_for("schedules", found)
    jobs = legacy_ids.legacy_ids_for("jobs", {details[i].job_id for i in found})
    definitions = legacy_schedules.definitions(found)
    rows = [
        shape(details[i], definitions.get(i), legacy[i], jobs[details[i].job_id]) for i in found
    ]
    return sorted(rows, key=lambda row: row["id"], reverse=True)


def _visible(schedule_id: str) -> tuple[int, uuid.UUID | None]:
    number = path_int(schedule_id, "schedule_id")
    found = new_id("schedules", number)
    if found is not None and not schedule_details([found]):
        found = None
    return number, found


# --- reading a legacy body -----------------------------------------------------------------------


def _type_error(where: str, name: str, kind, value) -> dict:
    loc = ("body", where)
    if kind is int:
        return field_error(loc, INT_PARSING, "int_parsing", input=value)
    if kind is bool:
        return field_error(loc, "Input should be a valid boolean", "bool_parsing", input=value)
    if kind == "datetime":
        return field_error(
            loc, "Input should be a valid datetime", "datetime_from_date_parsing", input=value
        )
    return field_error(loc, "Input should be a valid string", "string_type", input=value)


def _coerce(kind, value):
    """``value`` as ``kind`` (pydantic's lax mode: "3" is 3), or raise ValueError."""
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    if kind == "days":
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        if isinstance(value, str):
            return value
        raise ValueError
    if not isinstance(value, str):
        raise ValueError
    return value


def read_body(request, *, creating: bool) -> tuple[dict, dict[str, str]]:
    """The legacy columns a body sets (camelCase or snake_case: what the UI and the real
    routes accept), and for each the name the caller used (for the 422's ``loc``)."""
    data = object_body(request)
    values: dict[str, Any] = {}
    sent_as: dict[str, str] = {}
    for key, value in data.items():
        column = CAMEL.get(key, key)
        if column not in TYPES or (column in values and key != column):
            continue  # unknown fields are ignored (pydantic's default); snake_case wins
        values[column], sent_as[column] = value, key
    errors = []
    if creating and values.get("job_id") is None:
        errors.append(field_error(("body", "job_id"), "Field required", "missing", input=data))
    if creating and values.get("schedule_type") is None:
        errors.append(
            field_error(("body", "schedule_type"), "Field required", "missing", input=data)
        )
    for column, value in list(values.items()):
        try:
            values[column] = _coerce(TYPES[column], value)
        except ValueError:
            errors.append(_type_error(sent_as[column], column, TYPES[column], value))
    if errors:
        raise invalid(*errors)
    kind = values.get("schedule_type")
    if kind is not None and kind not in KINDS:
        raise invalid(
            field_error(
                ("body", sent_as["schedule_type"]),
                "Input should be 'once', 'recurring' or 'cron'",
                "enum",
                input=kind,
                ctx={"expected": "'once', 'recurring' or 'cron'"},
            )
        )
    return values, sent_as


def _job(values: dict) -> uuid.UUID:
    number = values["job_id"]
    found = new_id("jobs", number)
    if found is None:
        raise Refused(detail(400, f"Job {number} not found"))
    return found


def _conversion_refusal(exc: ConversionError, sent_as: dict[str, str]) -> Refused:
    name = sent_as.get(exc.field, exc.field)
    return invalid(field_error(("body", name), exc.message, input=None))


def _api_refusal(exc: ApiValidationError, sent_as: dict[str, str], job_number) -> Refused:
    details = exc.detail if isinstance(exc.detail, dict) else {"__all__": exc.detail}
    if "job" in details and any("No such job" in str(m) for m in details["job"]):
        return Refused(detail(400, f"Job {job_number} not found"))
    errors = []
    for key, messages in details.items():
        column = OURS_TO_LEGACY.get(str(key).split(".")[0], "")
        loc = ("body", sent_as.get(column, column)) if column else ("body",)
        for message in messages if isinstance(messages, list) else [messages]:
            errors.append(field_error(loc, str(message)))
    return invalid(*errors)


def _row(values: dict, legacy_id: int, now: datetime) -> dict:
    """A legacy ``job_schedules`` row of the definition, saved at ``now`` (the legacy
    scheduler plans its ``next_run`` from then on)."""
    row = {column: values.get(column) for column in legacy_schedules.COLUMNS}
    row.update(
        id=legacy_id,
        enabled=values.get("enabled", True),
        interval=1 if values.get("interval") is None else values["interval"],
        timezone=values.get("timezone") or "UTC",
        execution_count=0,
        last_run=None,
        created_at=now,
    )
    if row["schedule_type"] == "recurring" and row.get("recurring_type") not in RECURRING:
        raise Refused(detail(400, f"Invalid recurring type: {row.get('recurring_type')}"))
    row["next_run"] = legacy_next_run(row, now)
    return with_planned_run(row, now)


def _spec(values: dict, job_id: uuid.UUID, legacy_id: int, now: datetime, sent_as):
    """The schedule that fires when the legacy scheduler would have fired the row, proved
    (its next fire times are the legacy rule's), with the importer's notes in its
    description; and the row."""
    try:
        row = _row(values, legacy_id, now)
        declared_zone(row)  # a zone the legacy scheduler ignored, but a zone all the same
        spec = convert(row, job_id=job_id, zones=EFFECTIVE)
        notes = conversion_notes(row, spec, EFFECTIVE, now)
        problems = verify(row, spec, now, 20)
    except ConversionError as exc:
        raise _conversion_refusal(exc, sent_as) from None
    if problems:
        raise invalid(
            field_error(
                ("body",),
                "This schedule cannot fire here when the legacy scheduler would have fired it: "
                + "; ".join(problems[:3]),
            )
        )
    if notes:
        text = "Legacy route: " + " ".join(notes)
        spec = replace(
            spec, description=f"{spec.description}\n\n{text}" if spec.description else text
        )
    return row, spec


# --- endpoints -----------------------------------------------------------------------------------


@endpoint
def schedule_list(request):
    raw = request.GET.get("job_id")
    if raw is None or raw == "":
        return answer(shaped(schedule_ids()))
    if not raw.strip().lstrip("-").isdigit():
        raise invalid(field_error(("query", "job_id"), INT_PARSING, "int_parsing", input=raw))
    job = new_id("jobs", int(raw))
    return answer(shaped(schedule_ids(job_ids=[job])) if job is not None else [])


@endpoint
def schedule_create(request):
    values, sent_as = read_body(request, creating=True)
    job_id = _job(values)
    now = timezone.now()
    schedule_id = uuid.uuid4()
    # its legacy id first: the schedule is named after it, as the importer names them
    legacy_id = legacy_ids.legacy_id_for("schedules", schedule_id)
    row, spec = _spec(values, job_id, legacy_id, now, sent_as)
    try:
        schedule_create_as(spec=spec, actor=actor(request), schedule_id=schedule_id, now=now)
    except ApiValidationError as exc:
        raise _api_refusal(exc, sent_as, values["job_id"]) from None
    legacy_schedules.remember(schedule_id, row)
    (created,) = shaped([schedule_id])
    return answer(created)


@endpoint
def schedule_get(request, schedule_id):
    _, found = _visible(schedule_id)
    if found is None:
        return detail(404, NOT_FOUND)
    (one,) = shaped([found])
    return answer(one)


@endpoint
def schedule_update(request, schedule_id):
    """The fields sent replace those of the schedule (the others are kept)."""
    values, sent_as = read_body(request, creating=False)
    number, found = _visible(schedule_id)
    if found is None:
        return detail(404, NOT_FOUND)
    current = shaped([found])[0]
    merged = {column: current.get(column) for column in legacy_schedules.COLUMNS}
    merged.update(enabled=current["enabled"], job_id=current["job_id"])
    if merged["schedule_type"] not in KINDS:
        merged["schedule_type"] = None  # made in the new system as an interval: say what
    merged.update(values)
    if merged["schedule_type"] is None:
        raise invalid(
            field_error(("body", "schedule_type"), "Field required", "missing", input=values)
        )
    for column in ("execute_at", "end_date"):
        if isinstance(merged.get(column), str):
            merged[column] = _coerce("datetime", merged[column])
    job_id = _job(merged)
    now = timezone.now()
    row, spec = _spec(merged, job_id, number, now, sent_as)
    name = schedule_details([found])[found].name
    try:
        schedule_update_as(
            schedule_id=found, spec=replace(spec, name=name), actor=actor(request), now=now
        )
    except ApiValidationError as exc:
        raise _api_refusal(exc, sent_as, merged["job_id"]) from None
    legacy_schedules.remember(found, row)
    (one,) = shaped([found])
    return answer(one)


@endpoint
def schedule_delete(request, schedule_id):
    """Deletes the schedule with its firing history (the runs it started stay); the legacy
    backend answered 500 for a schedule with history."""
    _, found = _visible(schedule_id)
    if found is None or not schedule_delete_as(schedule_id=found, actor=actor(request)):
        return detail(404, NOT_FOUND)
    legacy_schedules.forget(found)
    return answer({"message": "Schedule deleted successfully"})


def _register(area: Area, root: str) -> None:
    """The same endpoints on both roots; ``root`` is the pattern of the list itself."""
    area.endpoint("GET", root, calls="S1", example="/", role=Role.VIEWER)(schedule_list)
    area.endpoint("POST", root, calls="S3", example="/", role=Role.MANAGER)(schedule_create)
    item = r"/(?P<schedule_id>[^/]+)"
    area.endpoint("GET", item, calls="-", example="/1", role=Role.VIEWER)(schedule_get)
    area.endpoint("PUT", item, calls="-", example="/1", role=Role.MANAGER)(schedule_update)
    area.endpoint("DELETE", item, calls="S2", example="/1", role=Role.MANAGER)(schedule_delete)
    area.register()


# the UI calls /api/v3/schedules without the slash: the root itself is served
_register(v3, r"/?")
# the legacy backend's own routes: the root without the slash is its 307, as recorded
_register(api, r"/")
