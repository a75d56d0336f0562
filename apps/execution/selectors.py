"""Reads of the execution context: run summaries, output (the live stream: ``streaming``)."""

from __future__ import annotations

from django.db.models import Count, Min

from apps.execution.models import Run, RunEvent, RunStatus, RunTarget, TargetStatus

DB = "execution"
SUMMARY_GROUPS = 50
NAMES_PER_GROUP = 10
# Outcomes in the order a reader should see them: the ones that need attention first.
_ATTENTION = {
    TargetStatus.LOST: 0,
    TargetStatus.UNREACHABLE: 1,
    TargetStatus.FAILED: 2,
    TargetStatus.TIMED_OUT: 3,
    TargetStatus.CANCELED: 4,
    TargetStatus.RUNNING: 5,
    TargetStatus.QUEUED: 6,
    TargetStatus.PENDING: 7,
    TargetStatus.SKIPPED: 8,
    TargetStatus.SUCCEEDED: 9,
}


def run_summary(*, run: Run) -> dict:
    """Targets grouped by outcome and identical output, the smallest and most alarming groups
    first: "197 targets exit 0 with the same output, 3 exit 1 with 'No such file...'"."""
    rows = list(
        RunTarget.objects.using(DB)
        .filter(run=run)
        .values("status", "exit_code", "output_digest", "reason")
        .annotate(count=Count("id"), first=Min("position"))
    )
    counts: dict[str, int] = {}
    for row in rows:  # the groups already hold the counts by status: no second query
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
    rows.sort(key=lambda r: (r["count"], _ATTENTION.get(r["status"], 99), r["first"]))
    groups = []
    for row in rows[:SUMMARY_GROUPS]:
        members = (
            RunTarget.objects.using(DB)
            .filter(
                run=run,
                status=row["status"],
                exit_code=row["exit_code"],
                output_digest=row["output_digest"],
                reason=row["reason"],
            )
            .order_by("position")
        )
        names = list(members.values_list("target_name", flat=True)[:NAMES_PER_GROUP])
        sample = members.values_list("output_sample", flat=True).first() or ""
        groups.append(
            {
                "status": row["status"],
                "exit_code": row["exit_code"],
                "count": row["count"],
                "reason": row["reason"],
                "output_sample": sample,
                "same_output": bool(row["output_digest"]),
                "targets": names,
                "more_targets": max(row["count"] - len(names), 0),
                "description": _describe(row, sample),
            }
        )
    return {
        "total": run.target_count,
        "counts": counts,
        "groups": groups,
        "more_groups": max(len(rows) - SUMMARY_GROUPS, 0),
    }


def target_counts(run: Run) -> dict[str, int]:
    """How many of the run's targets are in each status."""
    rows = RunTarget.objects.using(DB).filter(run=run).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def _describe(row: dict, sample: str) -> str:
    count = row["count"]
    noun = "target" if count == 1 else "targets"
    what = row["status"]
    if row["exit_code"] is not None:
        what = f"{what}, exit {row['exit_code']}"
    text = f"{count} {noun} {what}"
    if row["reason"] and row["status"] != TargetStatus.SUCCEEDED:
        text += f": {row['reason']}"
    first_line = next((line for line in sample.splitlines() if line.strip()), "")
    if first_line:
        more = " same output" if count > 1 else " output"
        text += f" —{more} {first_line[:120]!r}"
    return text


def output_chunks(*, run_target: RunTarget, after: int = 0, limit: int = 1000) -> list[RunEvent]:
    return list(
        RunEvent.objects.using(DB)
        .filter(run_target=run_target, kind=RunEvent.Kind.OUTPUT, seq__gt=after)
        .order_by("seq")[:limit]
    )


STATS_MAX_DAYS = 31


def run_stats(*, since, until) -> dict:
    """Runs created in [since, until) counted by status, in total and per hour (every hour of
    the window, empty ones too), plus the runs going on now whatever their age: what the
    console's dashboard charts. Two queries, whatever the number of runs (the window is read
    through the index on ``created_at``)."""
    from datetime import timedelta

    from django.db.models.functions import TruncHour

    statuses = [choice.value for choice in RunStatus]
    rows = (
        Run.objects.using(DB)
        .filter(created_at__gte=since, created_at__lt=until, imported=False)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    start = since.replace(minute=0, second=0, microsecond=0)
    buckets: dict = {}
    moment = start
    while moment < until:
        buckets[moment] = dict.fromkeys(statuses, 0)
        moment += timedelta(hours=1)
    totals = dict.fromkeys(statuses, 0)
    for row in rows:
        hour = row["hour"].astimezone(since.tzinfo)
        buckets.setdefault(hour, dict.fromkeys(statuses, 0))[row["status"]] += row["n"]
        totals[row["status"]] += row["n"]
    active = dict(
        Run.objects.using(DB)
        .filter(status__in=(RunStatus.PENDING, RunStatus.RUNNING))
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "since": since,
        "until": until,
        "total": sum(totals.values()),
        "totals": totals,
        "buckets": [{"start": hour, "counts": counts} for hour, counts in sorted(buckets.items())],
        "active": {
            "pending": active.get(RunStatus.PENDING, 0),
            "running": active.get(RunStatus.RUNNING, 0),
        },
    }
