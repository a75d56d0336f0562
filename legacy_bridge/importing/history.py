"""job_executions and job_execution_results -> read-only historical runs, marked as imported.

One legacy execution is one record: the run with its per-target and per-action results (status,
times, exit codes, output, error text, the command that ran) is stored in one transaction by
the execution app (``run_import_history``). Executions are streamed in batches and each batch's
results are read with one query, so memory holds one batch, never the whole table.

The legacy UI names an execution by its job and ``execution_number``: the number is kept with
the run (``legacy_bridge.execution_numbers``), so the jobs adapter shows it unchanged.

Who: the legacy database records no requester per execution. A run started by a legacy
schedule (``schedule_executions``) shows that schedule; any other shows the job's creator,
which is what the legacy UI showed. A legacy execution still ``scheduled`` or ``running`` can
never finish here: it is imported as ``canceled`` with the reason.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.db import transaction

from legacy_bridge import execution_numbers
from legacy_bridge.importing.engine import (
    DB,
    Context,
    RecordProblem,
    batched,
    describe_error,
    fingerprint,
)
from legacy_bridge.importing.jobs import JOBS
from legacy_bridge.importing.targets import TARGETS
from legacy_bridge.importing.users import LEGACY_TABLE as USERS

EXECUTIONS = "job_executions"
RESULTS = "job_execution_results"
BATCH = 500
RUN_STATUS = {"completed": "succeeded", "failed": "failed", "cancelled": "canceled"}
STEP_STATUS = {
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
    "scheduled": "skipped",
    "running": "canceled",
}
COLUMNS = (
    "id, job_id, execution_uuid, execution_serial, execution_number, status::text AS status, "
    "scheduled_at, started_at, completed_at, total_targets, successful_targets, failed_targets, "
    "created_at"
)
RESULT_COLUMNS = (
    "id, execution_id, target_id, target_name, action_order, action_name, "
    "action_type::text AS action_type, status::text AS status, started_at, completed_at, "
    "execution_time_ms, output_text, error_text, exit_code, command_executed"
)


def legacy_ref(row: dict[str, Any]) -> str:
    return (row["execution_serial"] or "").strip() or f"legacy-execution-{row['id']}"


def run_status(row: dict[str, Any]) -> tuple[str, str]:
    """(status here, reason) of a legacy execution."""
    status = RUN_STATUS.get(row["status"])
    if status is not None:
        return status, ""
    return "canceled", f"still {row['status']} in the legacy system when it was imported"


def target_status(step_statuses: list[str]) -> str:
    if "failed" in step_statuses:
        return "failed"
    if "canceled" in step_statuses:
        return "canceled"
    if step_statuses and all(s == "skipped" for s in step_statuses):
        return "skipped"
    return "succeeded"


def build_run(ctx: Context, row, results, *, job_id, job_name, requester, interface):
    """The ``ImportedRun`` of one legacy execution and its result rows, and where each result
    row went: {(target position, step order): the result row}."""
    by_target: OrderedDict[tuple, list[dict]] = OrderedDict()
    for result in results:
        key = (result["target_id"], result["target_name"] or f"target {result['target_id']}")
        by_target.setdefault(key, []).append(result)
    targets = []
    placed: dict[tuple[int, int], dict] = {}
    for position, ((legacy_target, name), rows) in enumerate(by_target.items()):
        rows.sort(key=lambda r: (r["action_order"] or 0, r["id"]))
        steps = []
        for order, result in enumerate(rows, start=1):
            placed[(position, order)] = result
            steps.append(
                interface.ImportedStep(
                    order=order,
                    name=(result["action_name"] or f"step {result['action_order'] or order}")[:100],
                    kind=result["action_type"] or "command",
                    status=STEP_STATUS.get(result["status"], "canceled"),
                    started_at=result["started_at"],
                    finished_at=result["completed_at"],
                    duration_ms=result["execution_time_ms"],
                    exit_code=result["exit_code"],
                    command=result["command_executed"] or "",
                    output=result["output_text"] or "",
                    error=result["error_text"] or "",
                )
            )
        targets.append(
            interface.ImportedTarget(
                target_id=ctx.mapping.new_id(TARGETS, legacy_target) if legacy_target else None,
                target_name=name,
                status=target_status([s.status for s in steps]),
                steps=tuple(steps),
            )
        )
    status, reason = run_status(row)
    spec = interface.ImportedRun(
        legacy_ref=legacy_ref(row),
        job_id=job_id,
        job_name=job_name,
        status=status,
        status_reason=reason,
        targets=tuple(targets),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["completed_at"],
        total_targets=row["total_targets"] if row["total_targets"] else None,
        succeeded_targets=row["successful_targets"],
        failed_targets=row["failed_targets"],
        requested_by_user_id=requester[0],
        requested_by_name=requester[1],
    )
    return spec, placed


def run(ctx: Context) -> None:
    from apps.execution import interface
    from apps.jobs.interface import job_snapshots

    executions = ctx.report.table(EXECUTIONS)
    results_table = ctx.report.table(RESULTS)
    jobs = {
        r["id"]: r
        for r in ctx.legacy.all(
            "SELECT j.id, j.name, j.created_by, u.username FROM jobs j "
            "LEFT JOIN users u ON u.id = j.created_by"
        )
    }
    job_names: dict[Any, str] = {}
    sql = f"SELECT {COLUMNS} FROM job_executions ORDER BY id"  # noqa: S608
    for batch in ctx.legacy.batches(sql, size=ctx.options.history_batch):
        ids = [row["id"] for row in batch]
        results: dict[int, list[dict]] = {}
        for result in ctx.legacy.all(
            f"SELECT {RESULT_COLUMNS} FROM job_execution_results "  # noqa: S608
            "WHERE execution_id = ANY(%s) ORDER BY execution_id, id",
            (ids,),
        ):
            results.setdefault(result["execution_id"], []).append(result)
        scheduled = {
            r["job_execution_id"]: r["job_schedule_id"]
            for r in ctx.legacy.all(
                "SELECT job_execution_id, job_schedule_id FROM schedule_executions "
                "WHERE job_execution_id = ANY(%s)",
                (ids,),
            )
        }
        new_jobs = {ctx.mapping.new_id(JOBS, row["job_id"]) for row in batch} - {None}
        missing = [job for job in new_jobs if job not in job_names]
        if missing:
            job_names.update({k: v.name for k, v in job_snapshots(missing).items()})
        with batched(ctx, "execution") as tick:
            for row in batch:
                tick()
                rows = results.get(row["id"], [])
                executions.read += 1
                results_table.read += len(rows)
                _import_execution(ctx, row, rows, jobs, job_names, scheduled, interface)
    executions.note(
        "imported runs are read-only history, marked imported (runs API ?imported=true)"
    )


def _requester(ctx: Context, job: dict, schedule: Any) -> tuple[Any, str]:
    if schedule is not None:
        return None, f"legacy schedule #{schedule}"
    creator = job.get("created_by")
    return (ctx.mapping.new_id(USERS, creator) if creator else None), job.get("username") or ""


def _import_execution(ctx, row, rows, jobs, job_names, scheduled, interface) -> None:
    """One execution with its results, in one transaction. The run's id is the execution
    app's (it is idempotent on the legacy reference, which covers an interrupted run)."""
    executions = ctx.report.table(EXECUTIONS)
    results_table = ctx.report.table(RESULTS)
    digest = fingerprint({"row": row, "results": rows})
    mapped = ctx.mapping.get(EXECUTIONS, row["id"])
    if mapped is not None:
        executions.present_one(row["id"], changed=mapped.fingerprint != digest)
        results_table.present += len(rows)
        return
    try:
        with transaction.atomic(using=DB):
            job_id = ctx.mapping.new_id(JOBS, row["job_id"])
            if job_id is None:
                raise RecordProblem(
                    f"its job {row['job_id']} is not imported (import jobs first, or see the "
                    "jobs' failures)"
                )
            job = jobs.get(row["job_id"]) or {}
            spec, placed = build_run(
                ctx,
                row,
                rows,
                job_id=job_id,
                job_name=job_names.get(job_id) or job.get("name") or "",
                requester=_requester(ctx, job, scheduled.get(row["id"])),
                interface=interface,
            )
            result = interface.run_import_history(run=spec, actor=ctx.actor)
            ctx.mapping.write(EXECUTIONS, row["id"], result.run_id, digest)
            # each result keeps its legacy id too: the legacy UI's result rows show it
            ctx.mapping.write_many(
                [
                    (
                        RESULTS,
                        placed[(position, order)]["id"],
                        step_id,
                        fingerprint(placed[(position, order)]),
                    )
                    for position, order, step_id in result.steps
                ]
            )
            # the legacy UI names it by its job and number: it keeps its legacy number
            execution_numbers.record_imported(job_id, result.run_id, row["execution_number"])
    except Exception as exc:
        executions.fail(row["id"], describe_error(exc))
        if rows:
            results_table.skipped += len(rows)
            results_table.skipped_reasons["its execution failed to import"] += len(rows)
        return
    ctx.mapping.remember(EXECUTIONS, row["id"], result.run_id, digest)
    if result.created:
        executions.imported_one()
        results_table.imported += len(rows)
    else:
        executions.present_one(row["id"])
        results_table.present += len(rows)
        executions.note("some runs existed without a mapping row (an interrupted run): adopted")


def verify(ctx: Context) -> None:
    """Every imported execution exists as a run of its job with the mapped status."""
    from apps.execution.interface import run_ref
    from legacy_bridge.importing.verify import compare

    def expected(row):
        return {"job": str(ctx.mapping.new_id(JOBS, row["job_id"])), "status": run_status(row)[0]}

    def actual(ids):
        found = {}
        for run_id in ids:
            ref = run_ref(run_id)
            if ref is not None:
                found[run_id] = {"job": str(ref.job_id), "status": ref.status}
        return found

    sql = f"SELECT {COLUMNS} FROM job_executions ORDER BY id"  # noqa: S608
    compare(ctx, EXECUTIONS, EXECUTIONS, ctx.legacy.stream(sql), expected, actual)
