"""Reads of the execution context: run summaries, output, the live stream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Count, Min

from apps.execution.models import RUN_TERMINAL, Run, RunEvent, RunTarget, TargetStatus

DB = "execution"
SUMMARY_GROUPS = 50
GAP_WAIT_SECONDS = 2.0
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


def _sse(event: RunEvent, names: dict[uuid.UUID, str]) -> str:
    if event.kind == RunEvent.Kind.OUTPUT:
        payload = {
            "run_target_id": str(event.run_target_id),
            "target": names.get(event.run_target_id, ""),
            "step": None if event.step_index is None else event.step_index + 1,
            "stream": event.stream,
            "text": event.data,
        }
    else:
        payload = json.loads(event.data)
        if event.run_target_id:
            payload.setdefault("target", names.get(event.run_target_id, ""))
        if payload.get("step") is not None:
            payload["step"] = payload["step"] + 1
    lines = "\n".join(f"data: {line}" for line in json.dumps(payload).split("\n"))
    return f"id: {event.seq}\nevent: {event.kind}\n{lines}\n\n"


def run_stream(*, run_id: uuid.UUID, after: int = 0, keepalive: float = 15.0) -> Iterator[str]:
    """The run's log as Server-Sent Events from ``seq`` ``after`` on, strictly in order, until
    the run has ended and everything was sent (then an ``end`` event). Steps are numbered
    from 1 here.

    Workers reserve log numbers before their transaction commits (``services.reserve_seq``),
    so number N+1 can become visible before N. The stream never sends past a missing number
    while its writer may still commit it; after ``GAP_WAIT_SECONDS`` (a writer that rolled
    back) or once the run has ended, the gap is skipped. So ``Last-Event-ID`` never hides an
    event that arrives later.
    """
    poll = settings.EXECUTION_STREAM_POLL_SECONDS
    names = dict(RunTarget.objects.using(DB).filter(run_id=run_id).values_list("id", "target_name"))
    yield "retry: 2000\n\n"
    cursor = after
    quiet_since = time.monotonic()
    gap_since: float | None = None
    try:
        while True:
            events = list(
                RunEvent.objects.using(DB)
                .filter(run_id=run_id, seq__gt=cursor)
                .order_by("seq")[:500]
            )
            sent = 0
            for event in events:
                if event.seq != cursor + 1:
                    now = time.monotonic()
                    gap_since = gap_since or now
                    if now - gap_since < GAP_WAIT_SECONDS:
                        break  # an earlier entry may still be committing: wait for it
                gap_since = None
                yield _sse(event, names)
                cursor = event.seq
                sent += 1
            if sent:
                quiet_since = time.monotonic()
                continue
            if events:  # waiting for a gap to fill
                time.sleep(0.02)
                continue
            status = (
                Run.objects.using(DB).filter(pk=run_id).values_list("status", flat=True).first()
            )
            if status is None or status in RUN_TERMINAL:
                # the run has ended: every writer is done, a gap now is for good
                for event in (
                    RunEvent.objects.using(DB).filter(run_id=run_id, seq__gt=cursor).order_by("seq")
                ):
                    yield _sse(event, names)
                    cursor = event.seq
                yield f"id: {cursor}\nevent: end\ndata: {json.dumps({'status': status})}\n\n"
                return
            if time.monotonic() - quiet_since >= keepalive:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            close_old_connections()
            time.sleep(poll)
    finally:
        close_old_connections()
