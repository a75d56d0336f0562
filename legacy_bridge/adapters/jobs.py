"""``/api/v3/jobs``: the legacy UI's jobs page (J1-J15), served by the jobs, execution and
scheduling apps.

A legacy job is a job here: its actions are the job's steps (``command`` and ``script``; the
legacy ``action_parameters.command`` is the step's command, kept literally), its
``target_ids`` the job's default selector (``id in (...)`` over the targets' new ids). A legacy
execution is a run, numbered per job (``legacy_bridge.execution_numbers``); its results are
the run's steps on each target, with their output. The legacy soft delete is our archive: an
archived job is left out of the list and answers 404, like a deleted legacy job.

Statuses in the legacy vocabulary, derived from our data:

- an execution: ``scheduled`` (waiting: no worker has taken any of its targets yet),
  ``running``, ``completed`` (succeeded), ``failed`` (failed or timed out), ``cancelled``;
- a job: its last execution's status; without one ``scheduled`` when a schedule of it is due
  to fire, ``paused`` when it has schedules and all are paused, else ``draft``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.utils import timezone
from rest_framework.exceptions import ValidationError as DRFValidationError

from apps.execution.interface import (
    RunInfo,
    active_runs_of_job,
    execution_health,
    reap_now,
    run_cancel_as,
    run_ids_of_jobs,
    run_infos,
    run_start_as,
    run_step_results,
)
from apps.jobs.interface import JobInfo, job_infos, job_remove_as, job_write_as
from apps.scheduling.interface import (
    ScheduleDetails,
    schedule_once_as,
    schedules_info_of_jobs,
    schedules_pause_of_job,
)
from apps.targets.interface import SelectorError, resolve_selector, target_summaries
from legacy_bridge import execution_numbers, legacy_ids
from legacy_bridge.adapters.common import (
    NO_BODY,
    Refused,
    actor,
    answer,
    body,
    detail,
    empty_as_null,
    endpoint,
    invalid,
    new_id,
    object_body,
    path_int,
    when,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.importing.engine import RecordProblem
from legacy_bridge.importing.jobs import MAX_SELECTOR, convert_step, selector_for
from legacy_bridge.responses import field_error
from opsconductor.api.errors import Conflict
from opsconductor.roles import Role

JOB_NOT_FOUND = "Job not found"
EXECUTION_NOT_FOUND = "Execution not found"
RUN_STATUS = {
    "succeeded": "completed",
    "failed": "failed",
    "timed_out": "failed",
    "canceled": "cancelled",
}
STEP_STATUS = {
    "succeeded": "completed",
    "failed": "failed",
    "unreachable": "failed",
    "timed_out": "failed",
    "lost": "failed",
    "canceled": "cancelled",
    "skipped": "cancelled",
    "running": "running",
    "queued": "scheduled",
}
TARGET_FAILURES = ("failed", "unreachable", "timed_out", "lost")
ACTION_TYPES = ("command", "script", "file_transfer")
STEP_KINDS = {"command": "command", "script": "script", "upload": "file_transfer"}

area = Area(
    "legacy-jobs",
    "/api/v3/jobs: list, show, create, edit, delete, run, schedule and stop jobs, their "
    "executions and results, in the legacy shapes, through the jobs, execution and scheduling "
    "apps.",
    root="/api/v3/jobs",
)


# --- reading ----------------------------------------------------------------------------------


def execution_status(run: RunInfo) -> str:
    if run.status in RUN_STATUS:
        return RUN_STATUS[run.status]
    return "running" if run.status == "running" and run.started_any else "scheduled"


def job_status(last: RunInfo | None, schedules: list[ScheduleDetails]) -> str:
    if last is not None:
        return execution_status(last)
    if any(s.enabled and s.next_fire_at for s in schedules):
        return "scheduled"
    if schedules and not any(s.enabled for s in schedules):
        return "paused"
    return "draft"


def scheduled_at(schedules: list[ScheduleDetails]) -> str | None:
    """The next one-time run of the job (a ``once`` schedule still due)."""
    due = [s.next_fire_at for s in schedules if s.kind == "once" and s.enabled and s.next_fire_at]
    return when(min(due)) if due else None


def schedule_config(schedules: list[ScheduleDetails]) -> dict | None:
    """One of the job's schedules (the newest enabled one, else the newest) in the legacy
    UI's camelCase shape."""
    if not schedules:
        return None
    enabled = [s for s in schedules if s.enabled]
    s = (enabled or schedules)[-1]
    config = {
        "scheduleType": "recurring",
        "enabled": s.enabled,
        "executeAt": None,
        "recurringType": None,
        "interval": 1,
        "time": None,
        "daysOfWeek": None,
        "dayOfMonth": None,
        "cronExpression": None,
        "timezone": s.timezone,
        "nextRun": when(s.next_fire_at),
    }
    if s.kind == "once":
        config.update(scheduleType="once", executeAt=when(s.run_at))
    elif s.kind == "cron":
        config.update(scheduleType="cron", cronExpression=s.cron)
    elif s.kind == "calendar":
        config.update(
            recurringType=s.frequency,
            interval=s.every or 1,
            time=s.time_of_day.strftime("%H:%M") if s.time_of_day else None,
            daysOfWeek=",".join(str(d) for d in s.days_of_week) or None,
            dayOfMonth=s.day_of_month,
        )
    else:  # an interval schedule (made in the new system): no legacy equivalent
        config.update(
            scheduleType="interval", recurringType=s.interval_unit, interval=s.interval_every
        )
    return config


class Jobs:
    """What the shapes of some jobs need, read in a few queries: their runs (numbered), the
    last run of each, their schedules, legacy ids."""

    def __init__(self, jobs: list[JobInfo]) -> None:
        self.jobs = jobs
        ids = [job.id for job in jobs]
        self.legacy = legacy_ids.legacy_ids_for("jobs", ids)
        self.runs = run_ids_of_jobs(ids)
        self.schedules = schedules_info_of_jobs(ids)
        last = [runs[-1] for runs in self.runs.values() if runs]
        self.last = run_infos(last)
        self.run_legacy = legacy_ids.legacy_ids_for("executions", last)
        self.numbers = execution_numbers.numbers_of_jobs(self.runs)

    def number(self, job_id: uuid.UUID, run_id: uuid.UUID) -> int:
        return self.numbers[run_id]

    def last_execution(self, job: JobInfo) -> dict | None:
        runs = self.runs.get(job.id)
        run = self.last.get(runs[-1]) if runs else None
        if run is None:
            return None
        status = execution_status(run)
        return {
            "id": self.run_legacy[run.id],
            "execution_number": self.number(job.id, run.id),
            "status": status,
            "started_at": when(run.started_at) if status != "scheduled" else None,
            "completed_at": when(run.finished_at),
            "total_targets": run.target_count,
            "successful_targets": run.counts.get("succeeded", 0),
            "failed_targets": sum(run.counts.get(s, 0) for s in TARGET_FAILURES),
        }

    def shape(self, job: JobInfo, *, full: bool) -> dict:
        schedules = self.schedules.get(job.id, [])
        runs = self.runs.get(job.id)
        last = self.last.get(runs[-1]) if runs else None
        legacy_id = self.legacy[job.id]
        shaped = {
            "id": legacy_id,
            "name": job.name,
            "description": empty_as_null(job.description),
            "status": job_status(last, schedules),
            "created_at": when(job.created_at),
            "scheduled_at": scheduled_at(schedules),
            # the legacy backend never filled these two in; the last execution has the times
            "started_at": None,
            "completed_at": None,
            "last_execution": self.last_execution(job),
            "actions": None,
            "targets": None,
            "schedule_config": None,
            # not in the legacy answers, but the legacy UI shows them
            "job_serial": job.labels.get("legacy.serial") or f"JOB-{legacy_id:06d}",
            "job_type": job.labels.get("legacy.type") or _job_type(job),
        }
        if full:
            shaped["actions"] = [action(step) for step in job.steps]
            shaped["targets"] = [{"id": i, "name": name} for i, name in job_targets(job)]
            shaped["schedule_config"] = schedule_config(schedules)
        return shaped


def _job_type(job: JobInfo) -> str:
    kinds = {STEP_KINDS.get(step.kind, step.kind) for step in job.steps}
    return kinds.pop() if len(kinds) == 1 else "composite"


def unliteral(text: str) -> str:
    """A stored step text as the legacy UI wrote it (the importer's ``literal``, undone)."""
    return text.replace("{{{{", "{{")


def action(step) -> dict:
    if step.kind == "command":
        parameters = {"command": unliteral(step.command), "captureOutput": True}
    elif step.kind == "script":
        parameters = {"script": unliteral(step.script), "interpreter": step.interpreter}
    else:
        parameters = {"path": step.path, "mode": step.mode, "content": step.content}
    return {
        "id": step.position,  # steps have no ids of their own: their place in the job
        "action_order": step.position,
        "action_name": step.name,
        "action_type": STEP_KINDS.get(step.kind, step.kind),
        "action_parameters": parameters,
    }


def job_targets(job: JobInfo) -> list[tuple[int, str]]:
    """(legacy id, name) of the targets the job's selector picks now, by legacy id (the
    legacy soft-deleted ones, our ``inactive``, left out)."""
    if not job.default_selector.strip():
        return []
    try:
        ids = resolve_selector(job.default_selector, active_only=False)
    except SelectorError:
        return []
    summaries = {i: s for i, s in target_summaries(ids).items() if s.status != "inactive"}
    legacy = legacy_ids.legacy_ids_for("targets", list(summaries))
    return sorted((legacy[i], summaries[i].name) for i in summaries)


def visible_job(job_id: str) -> tuple[int, JobInfo | None]:
    number = path_int(job_id, "job_id")
    found = new_id("jobs", number)
    job = job_infos([found]).get(found) if found else None
    if job is not None and job.archived:
        job = None
    return number, job


def job_or_404(job_id: str) -> JobInfo:
    _, job = visible_job(job_id)
    if job is None:
        raise Refused(detail(404, JOB_NOT_FOUND))
    return job


def shaped_job(job_uuid: uuid.UUID, *, full: bool) -> dict:
    job = job_infos([job_uuid])[job_uuid]
    return Jobs([job]).shape(job, full=full)


@area.endpoint("GET", r"/", calls="J1", example="/", role=Role.VIEWER)
@endpoint
def job_list(request):
    jobs = [job for job in job_infos().values() if not job.archived]
    view = Jobs(jobs)
    jobs.sort(key=lambda job: view.legacy[job.id])
    return answer([view.shape(job, full=False) for job in jobs])


@area.endpoint("GET", r"/(?P<job_id>[^/]+)", calls="J6", example="/1", role=Role.VIEWER)
@endpoint
def job_detail(request, job_id):
    job = job_or_404(job_id)
    return answer(Jobs([job]).shape(job, full=True))


@area.endpoint(
    "GET", r"/(?P<job_id>[^/]+)/targets", calls="J7", example="/1/targets", role=Role.VIEWER
)
@endpoint
def job_target_ids(request, job_id):
    job = job_or_404(job_id)
    return answer({"target_ids": [i for i, _ in job_targets(job)]})


# --- executions -------------------------------------------------------------------------------


def execution_item(job_legacy_id: int, run: RunInfo, number: int, legacy_id: int) -> dict:
    status = execution_status(run)
    duration = None
    if run.started_at and run.finished_at:
        duration = (run.finished_at - run.started_at).total_seconds()
    return {
        "id": legacy_id,
        "job_id": job_legacy_id,
        "execution_number": number,
        "status": status,
        "total_targets": run.target_count,
        "successful_targets": run.counts.get("succeeded", 0),
        "failed_targets": sum(run.counts.get(s, 0) for s in TARGET_FAILURES),
        "started_at": when(run.started_at) if status != "scheduled" else None,
        "completed_at": when(run.finished_at),
        "created_at": when(run.created_at),
        "duration_seconds": duration,
        "target_names": list(run.target_names),
    }


def numbered_runs(job: JobInfo) -> dict[uuid.UUID, int]:
    """The job's runs, oldest first, with their execution numbers."""
    runs = run_ids_of_jobs([job.id]).get(job.id, [])
    return execution_numbers.numbers_of_job(job.id, runs)


def find_execution(job: JobInfo, value: str) -> uuid.UUID:
    """The run ``value`` names: the legacy UI sends an ``execution_number`` (the route's
    meaning) from the log viewer, and an execution's ``id`` from the history list. A number
    of the job wins; else an execution id of the job (ids the bridge allocated are far above
    any number, so they never clash)."""
    wanted = path_int(value, "execution_number")
    numbers = numbered_runs(job)
    for run_id, number in numbers.items():
        if number == wanted:
            return run_id
    run_id = new_id("executions", wanted)
    if run_id is not None and run_id in numbers:
        return run_id
    raise Refused(detail(404, EXECUTION_NOT_FOUND))


def one_execution(job: JobInfo, run_id: uuid.UUID, number: int) -> dict:
    run = run_infos([run_id])[run_id]
    return execution_item(
        legacy_ids.legacy_id_for("jobs", job.id),
        run,
        number,
        legacy_ids.legacy_id_for("executions", run_id),
    )


@area.endpoint(
    "GET",
    r"/(?P<job_id>[^/]+)/executions",
    calls="J8",
    example="/1/executions",
    role=Role.VIEWER,
)
@endpoint
def execution_list(request, job_id):
    _, job = visible_job(job_id)
    if job is None:
        return answer([])  # as the legacy backend: no executions of a job it does not know
    numbers = numbered_runs(job)
    infos = run_infos(list(numbers))
    legacy = legacy_ids.legacy_ids_for("executions", list(numbers))
    job_legacy_id = legacy_ids.legacy_id_for("jobs", job.id)
    newest_first = sorted(numbers, key=lambda run_id: -numbers[run_id])
    return answer(
        [
            execution_item(job_legacy_id, infos[r], numbers[r], legacy[r])
            for r in newest_first
            if r in infos
        ]
    )


@area.endpoint(
    "GET",
    r"/(?P<job_id>[^/]+)/executions/(?P<number>[^/]+)",
    calls="J10",
    example="/1/executions/1",
    role=Role.VIEWER,
)
@endpoint
def execution_detail(request, job_id, number):
    job = job_or_404(job_id)
    run_id = find_execution(job, number)
    return answer(one_execution(job, run_id, numbered_runs(job)[run_id]))


@area.endpoint(
    "GET",
    r"/(?P<job_id>[^/]+)/executions/(?P<number>[^/]+)/results",
    calls="J9 J11",
    example="/1/executions/1/results",
    role=Role.VIEWER,
)
@endpoint
def execution_results(request, job_id, number):
    job = job_or_404(job_id)
    run_id = find_execution(job, number)
    results = run_step_results(run_id)
    execution_id = legacy_ids.legacy_id_for("executions", run_id)
    known = target_summaries(list({r.target_id for r in results}))
    targets = legacy_ids.legacy_ids_for("targets", list(known))
    ids = legacy_ids.legacy_ids_for("results", [r.id for r in results])
    return answer(
        [
            {
                "id": ids[r.id],
                "execution_id": execution_id,
                "target_id": targets.get(r.target_id),  # None: a target not brought over
                "target_name": r.target_name,
                "action_name": r.name,
                "action_type": STEP_KINDS.get(r.kind, r.kind),
                "status": STEP_STATUS.get(r.status, r.status),
                "output_text": r.output,
                "error_text": r.error or (r.reason if r.status != "succeeded" else ""),
                "exit_code": r.exit_code,
                "execution_time_ms": r.duration_ms,
                "started_at": when(r.started_at),
                "completed_at": when(r.finished_at),
            }
            for r in results
        ]
    )


# --- writing ----------------------------------------------------------------------------------


def _too_short(where: tuple, value, *, kind: str) -> dict:
    if kind == "string":
        return field_error(
            where,
            "String should have at least 1 character",
            "string_too_short",
            input=value,
            ctx={"min_length": 1},
        )
    return field_error(
        where,
        f"List should have at least 1 item after validation, not {len(value)}",
        "too_short",
        input=value,
        ctx={"field_type": "List", "min_length": 1, "actual_length": len(value)},
    )


def _check_type(errors: list, where: tuple, value, kind: type, label: str, code: str) -> bool:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        errors.append(field_error(where, f"Input should be a valid {label}", code, input=value))
    return ok


def _when(value, where: tuple) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid(
            field_error(where, "Input should be a valid datetime", "datetime_parsing", input=value)
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _selector(numbers: list[int], where: tuple) -> str:
    """The selector of legacy target ids: ``id in (...)`` over our ids."""
    found, missing = {}, []
    for number in dict.fromkeys(numbers):
        target = new_id("targets", number)
        (missing.append(number) if target is None else found.setdefault(number, target))
    summaries = target_summaries(list(found.values()))
    missing += [
        n for n, t in found.items() if t not in summaries or summaries[t].status == "inactive"
    ]
    if missing:
        raise invalid(
            *[
                field_error((*where, numbers.index(n)), f"Target with ID {n} not found", input=n)
                for n in missing
            ]
        )
    text = selector_for([found[n] for n in dict.fromkeys(numbers)])
    if text is None:
        raise invalid(
            field_error(
                where,
                f"Too many targets for one job here (a selector of at most {MAX_SELECTOR} "
                "characters, about 100 targets): select them by a label or a group in the "
                "new console",
                input=numbers,
            )
        )
    return text


def _steps(actions: list, errors: list) -> list[dict]:
    steps, taken = [], set()
    for index, item in enumerate(actions):
        where = ("body", "actions", index)
        if not _check_type(errors, where, item, dict, "dictionary", "dict_type"):
            continue
        kind = item.get("action_type", item.get("type"))
        if kind not in ACTION_TYPES:
            errors.append(
                field_error(
                    (*where, "action_type"),
                    "Input should be 'command', 'script' or 'file_transfer'",
                    "enum",
                    input=kind,
                )
            )
            continue
        parameters = item.get("action_parameters", item.get("parameters")) or {}
        if not _check_type(
            errors, (*where, "action_parameters"), parameters, dict, "dictionary", "dict_type"
        ):
            continue
        name = item.get("action_name", item.get("name")) or ""
        if not isinstance(name, str):
            errors.append(
                field_error(
                    (*where, "action_name"), "Input should be a valid string", "string_type"
                )
            )
            continue
        if kind == "command" and not (
            isinstance(parameters.get("command"), str) and parameters["command"].strip()
        ):
            errors.append(
                field_error((*where, "action_parameters", "command"), "Field required", "missing")
            )
            continue
        try:
            steps.append(
                convert_step(
                    {
                        "id": index + 1,
                        "action_order": index + 1,
                        "action_type": kind,
                        "action_name": name,
                        "action_parameters": parameters,
                        "action_config": item.get("action_config") or {},
                    },
                    None,
                    taken,
                )
            )
        except RecordProblem as exc:
            errors.append(field_error((*where, "action_type"), str(exc), input=kind))
    return steps


def job_fields(request) -> tuple[dict, datetime | None]:
    """The legacy job body (J2, J3) checked as the legacy backend's model did, as the values
    of ``job_write_as``, and the one-time run asked for (``scheduled_at``)."""
    data = object_body(request)
    errors: list[dict] = []
    for name in ("name", "actions", "target_ids"):
        if data.get(name) is None:
            errors.append(field_error(("body", name), "Field required", "missing", input=data))
    name, actions, numbers = data.get("name"), data.get("actions"), data.get("target_ids")
    is_text = name is not None and _check_type(
        errors, ("body", "name"), name, str, "string", "string_type"
    )
    if is_text and not name.strip():
        errors.append(_too_short(("body", "name"), name, kind="string"))
    description = data.get("description")
    if description is not None:
        _check_type(errors, ("body", "description"), description, str, "string", "string_type")
    is_list = actions is not None and _check_type(
        errors, ("body", "actions"), actions, list, "list", "list_type"
    )
    if is_list and not actions:
        errors.append(_too_short(("body", "actions"), actions, kind="list"))
    if numbers is not None and _check_type(
        errors, ("body", "target_ids"), numbers, list, "list", "list_type"
    ):
        if not numbers:
            errors.append(_too_short(("body", "target_ids"), numbers, kind="list"))
        for index, number in enumerate(numbers):
            _check_type(errors, ("body", "target_ids", index), number, int, "integer", "int_type")
    if errors:
        raise invalid(*errors)
    steps = _steps(actions, errors)
    if errors:
        raise invalid(*errors)
    at = _when(data.get("scheduled_at"), ("body", "scheduled_at"))
    if at is not None and at <= timezone.now():
        raise invalid(
            field_error(
                ("body", "scheduled_at"), "Must be in the future", input=data["scheduled_at"]
            )
        )
    values = {
        "name": name.strip(),
        "description": description or "",
        "default_selector": _selector(numbers, ("body", "target_ids")),
        "steps": steps,
    }
    return values, at


def _flat(detail, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(detail, dict):
        return [item for key, value in detail.items() for item in _flat(value, f"{prefix}{key}.")]
    if isinstance(detail, list) and detail and all(isinstance(m, str) for m in detail):
        return [(prefix.rstrip("."), str(m)) for m in detail]
    if isinstance(detail, list):
        return [item for i, value in enumerate(detail) for item in _flat(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), str(detail))]


STEP_FIELDS = {
    "name": ("action_name",),
    "command": ("action_parameters", "command"),
    "script": ("action_parameters", "script"),
    "interpreter": ("action_parameters", "interpreter"),
}


def _legacy_loc(key: str) -> tuple:
    parts = key.split(".") if key else []
    if parts[:1] == ["steps"] and len(parts) >= 2 and parts[1].isdigit():
        rest = STEP_FIELDS.get(parts[2] if len(parts) > 2 else "", ("action_type",))
        return ("body", "actions", int(parts[1]), *rest)
    if parts[:1] == ["default_selector"]:
        return ("body", "target_ids")
    if parts[:1] in (["name"], ["description"]):
        return ("body", parts[0])
    if parts[:1] == ["selector"]:
        return ("body", "target_ids")
    return ("body", *parts) if parts and parts[0] != "non_field_errors" else ("body",)


def refused_by_our_checks(exc: DRFValidationError) -> Refused:
    return invalid(*[field_error(_legacy_loc(key), msg) for key, msg in _flat(exc.detail)])


def _schedule_once(job_uuid: uuid.UUID, at: datetime | None, request) -> None:
    if at is None:
        return
    try:
        schedule_once_as(
            job_id=job_uuid, run_at=at, actor=actor(request), description="Legacy UI: run once"
        )
    except DRFValidationError as exc:
        raise invalid(
            *[field_error(("body", "scheduled_at"), msg) for _, msg in _flat(exc.detail)]
        ) from None


@area.endpoint("POST", r"/", calls="J2", example="/", role=Role.MANAGER)
@endpoint
def job_create(request):
    values, at = job_fields(request)
    try:
        created = job_write_as(actor=actor(request), message="Created in the legacy UI", **values)
    except DRFValidationError as exc:
        raise refused_by_our_checks(exc) from None
    _schedule_once(created, at, request)
    return answer(shaped_job(created, full=False))


@area.endpoint("PUT", r"/(?P<job_id>[^/]+)", calls="J3", example="/1", role=Role.MANAGER)
@endpoint
def job_update(request, job_id):
    job = job_or_404(job_id)
    values, at = job_fields(request)
    try:
        job_write_as(
            actor=actor(request), job_id=job.id, message="Changed in the legacy UI", **values
        )
    except DRFValidationError as exc:
        raise refused_by_our_checks(exc) from None
    except (LookupError, Conflict):
        return detail(404, JOB_NOT_FOUND)
    _schedule_once(job.id, at, request)
    return answer(shaped_job(job.id, full=True))


@area.endpoint("DELETE", r"/(?P<job_id>[^/]+)", calls="J4", example="/1", role=Role.MANAGER)
@endpoint
def job_delete(request, job_id):
    """Deleted when it never ran and has no schedule; else archived (its runs keep their
    history) and its schedules paused, as the legacy soft delete hid it."""
    job = job_or_404(job_id)
    try:
        removed = job_remove_as(job_id=job.id, actor=actor(request))
    except LookupError:
        return detail(404, JOB_NOT_FOUND)
    if removed == "archived":
        schedules_pause_of_job(job_id=job.id, actor=actor(request))
    return answer({"message": "Job deleted successfully"})


@area.endpoint(
    "POST", r"/(?P<job_id>[^/]+)/execute", calls="J5", example="/1/execute", role=Role.OPERATOR
)
@endpoint
def job_execute(request, job_id):
    job = job_or_404(job_id)
    data = body(request, required=False)
    selector = None
    if data is not NO_BODY:
        if not isinstance(data, dict):
            raise invalid(field_error(("body",), "Input should be a valid dictionary", "dict_type"))
        numbers = data.get("target_ids")
        if numbers is not None:
            errors: list[dict] = []
            if _check_type(errors, ("body", "target_ids"), numbers, list, "list", "list_type"):
                for index, number in enumerate(numbers):
                    _check_type(
                        errors, ("body", "target_ids", index), number, int, "integer", "int_type"
                    )
            if errors:
                raise invalid(*errors)
            if numbers:
                selector = _selector(numbers, ("body", "target_ids"))
    try:
        run = run_start_as(job_id=job.id, actor=actor(request), selector=selector)
    except DRFValidationError as exc:
        if "job" in (exc.detail if isinstance(exc.detail, dict) else {}):
            return detail(404, JOB_NOT_FOUND)
        raise refused_by_our_checks(exc) from None
    numbers = numbered_runs(job)
    return answer(one_execution(job, run.id, numbers[run.id]))


@area.endpoint(
    "POST", r"/(?P<job_id>[^/]+)/schedule", calls="J12", example="/1/schedule", role=Role.MANAGER
)
@endpoint
def job_schedule(request, job_id):
    """``{"scheduled_at"}``: run the job once at that time (a one-time schedule)."""
    job = job_or_404(job_id)
    data = object_body(request)
    if data.get("scheduled_at") is None:
        raise invalid(
            field_error(("body", "scheduled_at"), "Field required", "missing", input=data)
        )
    at = _when(data["scheduled_at"], ("body", "scheduled_at"))
    if at <= timezone.now():
        raise invalid(
            field_error(
                ("body", "scheduled_at"), "Must be in the future", input=data["scheduled_at"]
            )
        )
    _schedule_once(job.id, at, request)
    return answer(shaped_job(job.id, full=True))


@area.endpoint(
    "POST",
    r"/(?P<job_id>[^/]+)/terminate",
    calls="J13",
    example="/1/terminate",
    role=Role.OPERATOR,
)
@endpoint
def job_terminate(request, job_id):
    """``{"reason"}``: cancel the job's runs that are waiting or running."""
    job = job_or_404(job_id)
    data = body(request, required=False)
    reason = ""
    if isinstance(data, dict) and data.get("reason") is not None:
        if not isinstance(data["reason"], str):
            raise invalid(
                field_error(("body", "reason"), "Input should be a valid string", "string_type")
            )
        reason = data["reason"].strip()
    stopped = [
        run_id
        for run_id in active_runs_of_job(job.id)
        if run_cancel_as(run_id=run_id, actor=actor(request), reason=reason)
    ]
    if not stopped:
        return detail(409, "The job has no running execution to terminate.")
    legacy = legacy_ids.legacy_ids_for("executions", stopped)
    return answer(
        {
            "message": "Job terminated successfully",
            "terminated_executions": [legacy[r] for r in stopped],
        }
    )


# --- safety (J14, J15) --------------------------------------------------------------------------


@area.endpoint(
    "POST",
    r"/safety/cleanup-stale",
    calls="J14",
    example="/safety/cleanup-stale",
    role=Role.MANAGER,
)
@endpoint
def safety_cleanup(request):
    """The reaper, now: targets whose worker vanished marked lost (or queued again), long
    queued ones sent again, runs past their deadline ended."""
    done = reap_now()
    data = {
        "lost_targets": done.get("lost", 0),
        "requeued_targets": done.get("requeued", 0),
        "resent_targets": done.get("resent", 0),
        "advanced_executions": done.get("advanced", 0),
        "held_targets": done.get("held", 0),
    }
    cleaned = data["lost_targets"] + data["requeued_targets"] + data["resent_targets"]
    return answer(
        {
            "success": True,
            "message": f"Cleaned up {cleaned} stale target(s)",
            "data": data,
        }
    )


@area.endpoint("GET", r"/safety/health", calls="J15", example="/safety/health", role=Role.VIEWER)
@endpoint
def safety_health(request):
    facts = execution_health()
    stale = facts.stale_running_targets + facts.long_queued_targets + facts.runs_past_deadline
    return answer(
        {
            "success": True,
            "data": {
                "status": "healthy" if not stale else "warning",
                "running_executions": facts.runs_running,
                "waiting_executions": facts.runs_pending,
                "running_targets": facts.targets_running,
                "queued_targets": facts.targets_queued,
                "stale_running_targets": facts.stale_running_targets,
                "long_queued_targets": facts.long_queued_targets,
                "executions_past_deadline": facts.runs_past_deadline,
                "oldest_running_started_at": when(facts.oldest_running_run_started_at),
                "lost_after_seconds": facts.lost_after_seconds,
                "requeue_after_seconds": facts.requeue_after_seconds,
                "timestamp": when(timezone.now()),
            },
        }
    )


area.register()
