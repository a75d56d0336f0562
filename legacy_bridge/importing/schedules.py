"""job_schedules -> schedules of the new scheduler, each one proved before it is created.

The row is converted by ``schedule_conversion.convert`` with the legacy semantics: by default
(``--schedule-zones effective``) ``cron`` and ``recurring`` schedules in UTC, where the legacy
scheduler evaluated them whatever their declared ``timezone``, so they fire at the same
instants as before; with ``--schedule-zones declared`` in their declared zone instead (the same
wall-clock times there, which moves them). Before anything is created, the next 20 fire times of
the legacy rule (computed by separate code) are compared with those of the converted schedule
(computed by the new scheduler), and the schedule read in UTC must fire at the row's stored
``next_run``: any difference is a failure with the differing times in the report, and the
schedule is not created.

The report lists every imported schedule whose declared zone is not UTC (with what the other
option would do, or did: by how much its firings move), and every one whose legacy rule is
not what its row seems to say (a weekly interval ignored, a monthly rule that stops, a row
with no next run, imported paused); the same sentences go into the schedule's description.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
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


def _described(description: str, notes: list[str]) -> str:
    if not notes:
        return description
    note = "Legacy import: " + " ".join(notes)
    return f"{description}\n\n{note}" if description else note


def run(ctx: Context) -> None:
    from apps.scheduling.interface import schedule_import
    from legacy_bridge.importing.schedule_conversion import (
        DECLARED,
        ConversionError,
        convert,
        is_dormant,
        rule_notes,
        verify,
        with_planned_run,
        zone_move,
    )
    from legacy_bridge.legacy_schedules import remember

    zones = ctx.options.schedule_zones
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

            made: dict[str, Any] = {}

            def create(new_id, row=row, job=job, made=made):
                nonlocal compared
                job_id = ctx.mapping.new_id(JOBS, row["job_id"])
                if job_id is None:
                    raise RecordProblem(
                        f"its job {row['job_id']} is not imported (import jobs first, or see the "
                        "jobs' failures)"
                    )
                creator = job.get("created_by") if job else None
                dormant = is_dormant(row)
                try:
                    # a row the legacy scheduler planned nothing for gets the run its rule
                    # would plan now, and is imported paused (it did not fire)
                    planned = with_planned_run(row, now)
                    spec = convert(
                        planned,
                        job_id=job_id,
                        created_by_user_id=ctx.mapping.new_id(USERS, creator) if creator else None,
                        zones=zones,
                    )
                    notes = rule_notes(planned, spec, dormant=dormant)
                    move = zone_move(planned, now)
                    note = move.note(zones) if move else None
                except ConversionError as exc:
                    raise RecordProblem(f"cannot be converted: {exc}") from None
                spec = replace(
                    spec,
                    enabled=spec.enabled and not dormant,
                    description=_described(spec.description, ([note] if note else []) + notes),
                )
                problems = verify(planned, spec, now, PROOF_COUNT)
                compared += 1
                if problems:
                    raise RecordProblem(
                        "fire times differ between legacy and imported definition: "
                        + "; ".join(problems[:5])
                    )
                schedule_import(spec=spec, actor=ctx.actor, schedule_id=new_id, now=now)
                # the legacy routes answer the schedule as it was defined (declared zone too)
                remember(new_id, row)
                made.update(move=move, notes=notes, dormant=dormant)
                return True

            if (
                import_record(
                    ctx,
                    table,
                    legacy_table=SCHEDULES,
                    legacy_id=row["id"],
                    digest=digest,
                    new_id=schedule_id_for(row),
                    create=create,
                )
                is not None
                and made
            ):
                _remark(table, row["id"], zones, made)
    if compared:
        table.note(
            f"proof: for each imported schedule the next {PROOF_COUNT} fire times after "
            f"{now.isoformat()} of the legacy rule and of the imported schedule are equal, and "
            "the imported schedule read in UTC fires at the legacy next_run"
        )
    moved = table.counts.get(ZONE_COUNT[zones], 0)
    if moved and zones == DECLARED:
        table.note(
            f"--schedule-zones=declared: {moved} schedule(s) imported in their declared zone, "
            "not in UTC where the legacy scheduler fired them: their firing times moved (each "
            "one is listed with by how much)"
        )
    elif moved:
        table.note(
            f"{moved} schedule(s) declare a time zone the legacy scheduler ignored: imported "
            "in UTC, they fire when they fired before (each one is listed); "
            "--schedule-zones=declared would import them in their declared zone instead"
        )
    if moved or table.present:
        table.note(
            f"zones: {zones}; schedules imported by an earlier run keep the zone they were "
            "imported with (change it in the new system)"
        )


ZONE_COUNT = {
    "effective": "declared zone ignored by legacy (imported in UTC)",
    "declared": "declared zone ignored by legacy (imported in it: moved)",
}


def _remark(table, legacy_id, zones: str, made: dict[str, Any]) -> None:
    """List one imported schedule in the report when there is something to say about it."""
    move, notes = made["move"], made["notes"]
    if move is None and not notes:
        return
    remark: dict[str, Any] = {"id": str(legacy_id)}
    lines = []
    if move is not None:
        table.count(ZONE_COUNT[zones])
        lines.append(move.describe(zones) + ".")
        remark.update(
            declared_zone=move.declared,
            effective_zone="UTC",
            imported_zone=move.declared if zones == "declared" and move.valid else "UTC",
            moves=move.summary() if move.valid else None,
            move_hours=[
                {"hours": delta.total_seconds() / 3600, "zone": abbreviation}
                for delta, abbreviation in move.moves
            ],
            next_legacy=move.next_legacy.isoformat() if move.next_legacy else None,
            next_declared=move.next_declared.isoformat() if move.next_declared else None,
        )
    if made["dormant"]:
        table.count("paused: no legacy next run")
    lines += notes
    remark["text"] = " ".join(lines)
    table.remark(remark)


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
