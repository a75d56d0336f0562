"""job_schedules -> schedules of the new scheduler, each one proved before it is created.

The row is converted by ``schedule_conversion.convert`` (cron as is, once at ``execute_at``,
recurring daily/weekly/monthly as a calendar schedule; enabled, zone, end date, max executions
and the executions already made carried). Before anything is created, the next 20 fire times
of the legacy definition (computed from the legacy semantics by separate code) are compared
with those of the converted schedule (computed by the new scheduler): any difference is a
failure with the differing times in the report, and the schedule is not created.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from legacy_bridge.importing.engine import (
    Context,
    RecordProblem,
    batched,
    derived_id,
    fingerprint,
    import_record,
)
from legacy_bridge.importing.jobs import JOBS
from legacy_bridge.importing.users import LEGACY_TABLE as USERS

SCHEDULES = "job_schedules"
PROOF_COUNT = 20
COLUMNS = (
    "id, schedule_uuid, job_id, schedule_type, enabled, execute_at, recurring_type, interval, "
    "time, days_of_week, day_of_month, cron_expression, timezone, max_executions, "
    "execution_count, end_date, description, next_run, last_run, created_at"
)


def schedule_id_for(row: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(row["schedule_uuid"]))
    except (TypeError, ValueError):
        return derived_id(SCHEDULES, row["id"])


def run(ctx: Context) -> None:
    from apps.scheduling.interface import schedule_import
    from legacy_bridge.importing.schedule_conversion import ConversionError, convert, verify

    table = ctx.report.table(SCHEDULES)
    job_rows = {
        r["id"]: r
        for r in ctx.legacy.all(
            "SELECT id, created_by, is_deleted, status::text AS status FROM jobs"
        )
    }
    now = timezone.now().replace(microsecond=0)
    ctx.facts["schedules_proved_at"] = now
    compared = 0
    sql = f"SELECT {COLUMNS} FROM job_schedules ORDER BY id"  # noqa: S608
    with batched(ctx, "scheduling") as tick:
        for row in ctx.legacy.stream(sql):
            tick()
            table.read += 1
            digest = fingerprint(
                {k: v for k, v in row.items() if k not in ("next_run", "last_run")}
            )
            job = job_rows.get(row["job_id"])
            if (
                ctx.mapping.get(SCHEDULES, row["id"]) is None
                and job is not None
                and (job["is_deleted"] or job["status"] == "deleted")
            ):
                table.skip(row["id"], "its job is deleted in legacy (archived here): not scheduled")
                continue
            table.count(
                f"kind {row['schedule_type']}"
                + (f" {row['recurring_type']}" if row["schedule_type"] == "recurring" else "")
            )

            def create(new_id, row=row, job=job):
                nonlocal compared
                job_id = ctx.mapping.new_id(JOBS, row["job_id"])
                if job_id is None:
                    raise RecordProblem(
                        f"its job {row['job_id']} is not imported (import jobs first, or see the "
                        "jobs' failures)"
                    )
                creator = job.get("created_by") if job else None
                try:
                    spec = convert(
                        row,
                        job_id=job_id,
                        created_by_user_id=ctx.mapping.new_id(USERS, creator) if creator else None,
                    )
                except ConversionError as exc:
                    raise RecordProblem(f"cannot be converted: {exc}") from None
                problems = verify(row, spec, now, PROOF_COUNT)
                compared += 1
                if problems:
                    raise RecordProblem(
                        "fire times differ between legacy and imported definition: "
                        + "; ".join(problems[:5])
                    )
                schedule_import(spec=spec, actor=ctx.actor, schedule_id=new_id, now=now)
                return True

            import_record(
                ctx,
                table,
                legacy_table=SCHEDULES,
                legacy_id=row["id"],
                digest=digest,
                new_id=schedule_id_for(row),
                create=create,
            )
    if compared:
        table.note(
            f"proof: for each imported schedule the next {PROOF_COUNT} fire times after "
            f"{now.isoformat()} of the legacy definition and of the imported schedule are equal"
        )


def verify(ctx: Context) -> None:
    """Every imported schedule exists, under its job (counts and a checksum of the pairs)."""
    from apps.scheduling.interface import schedules_of_job
    from legacy_bridge.importing.verify import compare

    by_job: dict[uuid.UUID, set[uuid.UUID]] = {}

    def expected(row):
        return {"job": str(ctx.mapping.new_id(JOBS, row["job_id"]))}

    def actual(ids):
        found = {}
        wanted = set(ids)
        for job_id in {ctx.mapping.new_id(JOBS, r) for r in pending_jobs}:
            if job_id is None:
                continue
            if job_id not in by_job:
                by_job[job_id] = set(schedules_of_job(job_id))
            for schedule_id in by_job[job_id] & wanted:
                found[schedule_id] = {"job": str(job_id)}
        return found

    pending_jobs: set[int] = set()

    def rows():
        sql = f"SELECT {COLUMNS} FROM job_schedules ORDER BY id"  # noqa: S608
        for row in ctx.legacy.stream(sql):
            pending_jobs.add(row["job_id"])
            yield row

    compare(ctx, SCHEDULES, SCHEDULES, rows(), expected, actual)
