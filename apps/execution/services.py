"""Writes of the execution context: create, advance, cancel, retry and reap runs.

``run_advance`` is the one place that moves a run forward: it starts a pending run (or says
why it waits), applies the failure threshold, the run timeout and rolling batches, hands
pending targets to workers up to the parallelism limit, and derives the run's final state from
its targets. Everything else (the API, workers finishing a target, the reaper) calls it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from apps.execution.models import (
    TARGET_ACTIVE,
    TARGET_FAILURES,
    TARGET_TERMINAL,
    Run,
    RunEvent,
    RunStatus,
    RunStep,
    RunTarget,
    StepStatus,
    TargetStatus,
    Trigger,
)
from apps.execution.output import Chunk, TargetOutput
from apps.execution.selectors import target_counts
from apps.jobs.interface import MASK, JobSnapshot, job_snapshot, resolve_parameters, run_policy
from apps.targets.interface import SelectorError, resolve_selector, target_summaries
from opsconductor.api.errors import Conflict
from opsconductor.db.reconnect import note_connection_loss, seconds_since_connection_loss
from opsconductor.events import SYSTEM, Actor, publish
from opsconductor.sealing import seal

DB = "execution"
logger = logging.getLogger(__name__)

IMPORTED_READ_ONLY = (
    "Run {ref} was imported from the legacy system: it is read-only history and cannot be "
    "{what}. Start a new run of the job instead."
)
STOP_CANCEL = "cancel"
STOP_TIMEOUT = "timeout"


# -- the run's event log -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    kind: str
    data: str
    run_target_id: uuid.UUID | None = None
    step_index: int | None = None
    stream: str = ""


def reserve_seq(run_id: uuid.UUID, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of the run's log; the first one.

    Called outside a transaction (the hot path: workers writing output and results), the
    increment commits at once and the run's row is locked only for that one statement, so
    hundreds of targets writing at the same time do not queue behind each other. The entries
    are then written in the caller's own transaction; a reader may briefly see a later number
    before an earlier one commits, and waits for the gap (``streaming``). Inside a
    transaction (run state changes, rare) the row stays locked until it ends.
    """
    connection = connections[DB]
    table = connection.ops.quote_name(Run._meta.db_table)
    pk = Run._meta.pk.get_db_prep_value(run_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_seq = event_seq + %s WHERE id = %s RETURNING event_seq",  # noqa: S608
            [count, pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Run.DoesNotExist(run_id)
    return int(row[0]) - count + 1


def log_append(run_id: uuid.UUID, entries: list[LogEntry], *, first_seq: int | None = None) -> None:
    """Append ``entries`` to the run's log, in the caller's transaction on ``execution``,
    numbered from ``first_seq`` (reserved beforehand with ``reserve_seq``) or from numbers
    reserved now."""
    if not entries:
        return
    first = first_seq if first_seq is not None else reserve_seq(run_id, len(entries))
    RunEvent.objects.using(DB).bulk_create(_log_rows(run_id, entries, first=first))


def _log_rows(run_id: uuid.UUID, entries: list[LogEntry], *, first: int) -> list[RunEvent]:
    return [
        RunEvent(
            run_id=run_id,
            seq=first + offset,
            kind=entry.kind,
            run_target_id=entry.run_target_id,
            step_index=entry.step_index,
            stream=entry.stream,
            data=entry.data,
        )
        for offset, entry in enumerate(entries)
    ]


def state_entry(**data: Any) -> LogEntry:
    target = data.get("run_target_id")
    return LogEntry(
        kind=RunEvent.Kind.STATE,
        data=json.dumps(data, default=str),
        run_target_id=uuid.UUID(str(target)) if target else None,
        step_index=data.get("step"),
    )


# -- creating runs -----------------------------------------------------------------------------


def _snapshot_of(run: Run) -> JobSnapshot:
    return JobSnapshot(
        job_id=run.job_id,
        name=run.job_name,
        version=run.job_version,
        definition=run.definition,
        archived=False,
    )


def _masked_values(snapshot: JobSnapshot, values: dict[str, Any]) -> dict[str, Any]:
    secret = {p["name"] for p in snapshot.definition["parameters"] if p["type"] == "secret"}
    return {k: (MASK if k in secret and v not in (None, "") else v) for k, v in values.items()}


def _batches(count: int, batch_size: int | None) -> list[int]:
    if not batch_size:
        return [0] * count
    return [position // batch_size for position in range(count)]


@dataclass(frozen=True)
class RunRequest:
    """One run to start (``runs_create``): what ``run_create`` takes, as data."""

    job_id: uuid.UUID
    version: int | None = None
    parameters: dict[str, Any] | None = None
    selector: str | None = None
    policy: dict[str, Any] | None = None
    trigger: str = Trigger.MANUAL
    actor: Actor = SYSTEM
    requested_by_user_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None
    schedule_firing_id: uuid.UUID | None = None


def run_create(
    *,
    job_id: uuid.UUID,
    version: int | None = None,
    parameters: dict[str, Any] | None = None,
    selector: str | None = None,
    policy: dict[str, Any] | None = None,
    trigger: str = Trigger.MANUAL,
    actor: Actor = SYSTEM,
    requested_by_user_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    schedule_firing_id: uuid.UUID | None = None,
) -> Run:
    """Snapshot a job version with ``parameters`` on the targets ``selector`` picks (default:
    the job's default selector) and start it. Raises ``ValidationError`` keyed by field."""
    request = RunRequest(
        job_id=job_id,
        version=version,
        parameters=parameters,
        selector=selector,
        policy=policy,
        trigger=trigger,
        actor=actor,
        requested_by_user_id=requested_by_user_id,
        schedule_id=schedule_id,
        schedule_firing_id=schedule_firing_id,
    )
    (result,) = runs_create([request])
    if isinstance(result, ValidationError):
        raise result
    return result


def runs_create(requests: list[RunRequest]) -> list[Run | ValidationError]:
    """``run_create`` for many runs at once (a scheduler's burst of due times): each job
    version, selector and set of targets is looked up once, and the runs are created and
    started in one transaction. A result per request, in order: the run, or the
    ``ValidationError`` that refused it (the others are created all the same)."""
    snapshots: dict[tuple[uuid.UUID, int | None], JobSnapshot | None] = {}
    selected: dict[str, list[uuid.UUID] | SelectorError] = {}
    results: list[Run | ValidationError | _NewRun] = []
    for request in requests:
        try:
            results.append(_new_run(request, snapshots, selected))
        except ValidationError as exc:
            results.append(exc)
    created = iter(_create_many([r for r in results if isinstance(r, _NewRun)]))
    return [next(created) if isinstance(r, _NewRun) else r for r in results]


def _new_run(request: RunRequest, snapshots: dict, selected: dict) -> _NewRun:
    key = (request.job_id, request.version)
    if key not in snapshots:
        snapshots[key] = job_snapshot(request.job_id, request.version)
    snapshot = snapshots[key]
    if snapshot is None:
        field = "version" if request.version and job_snapshot(request.job_id) else "job"
        raise ValidationError({field: ["No such job or version."]})
    if snapshot.archived:
        raise ValidationError({"job": ["The job is archived; restore it to run it."]})
    try:
        values = resolve_parameters(snapshot, request.parameters or {})
    except DjangoValidationError as exc:
        raise ValidationError(
            {f"parameters.{name}": messages for name, messages in exc.message_dict.items()}
        ) from exc
    effective_policy = _policy(snapshot, request.policy)
    default = snapshot.definition["default_selector"]
    text = (request.selector if request.selector is not None else default).strip()
    if not text:
        raise ValidationError(
            {"selector": ["The job has no default selector: say which targets to run on."]}
        )
    if text not in selected:
        try:
            selected[text] = resolve_selector(text)
        except SelectorError as exc:
            selected[text] = exc
    if isinstance(selected[text], SelectorError):
        raise ValidationError({"selector": [str(selected[text])]})
    return _NewRun(
        snapshot=snapshot,
        masked=_masked_values(snapshot, values),
        sealed=seal({"values": values}),
        selector=text,
        policy=effective_policy,
        target_ids=list(selected[text]),
        trigger=request.trigger,
        actor=request.actor,
        requested_by_user_id=request.requested_by_user_id,
        schedule_id=request.schedule_id,
        schedule_firing_id=request.schedule_firing_id,
    )


def _policy(snapshot: JobSnapshot, overrides: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return run_policy(snapshot, overrides)
    except ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        raise ValidationError(
            {f"policy.{k}" if k != "policy" else k: v for k, v in detail.items()}
        ) from exc


@dataclass
class _NewRun:
    snapshot: JobSnapshot
    masked: dict[str, Any]
    sealed: str
    selector: str
    policy: dict[str, Any]
    target_ids: list[uuid.UUID]
    trigger: str
    actor: Actor
    requested_by_user_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None
    schedule_firing_id: uuid.UUID | None = None
    retry_of: Run | None = None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _limit_reason(policy: dict) -> str:
    return f"parallelism limit: {policy['max_parallel']} targets at a time"


def _batch_reason(later: int, current: int) -> str:
    return f"batch {later + 1} starts when batch {current + 1} has finished"


def _overlap_reason(blocker: uuid.UUID) -> str:
    return (
        f"another run of this job is still going (run {blocker}); this one starts when it "
        "ends (the job does not allow overlapping runs)"
    )


def _requested_event(run: Run, item: _NewRun) -> dict[str, Any]:
    return {
        "run_id": str(run.id),
        "job_id": str(run.job_id),
        "job_name": run.job_name,
        "job_version": run.job_version,
        "trigger": run.trigger,
        "selector": run.selector,
        "targets": run.target_count,
        "parameters": run.parameters,
        "retry_of": str(item.retry_of.id) if item.retry_of else None,
        "schedule_id": str(run.schedule_id) if run.schedule_id else None,
    }


def _start_new(run: Run, targets: list[RunTarget], now) -> list[uuid.UUID]:
    """Start a run being created: what ``run_advance`` does to a pending run with no failure
    and no blocker (queue its first batch up to the parallelism limit, say why the rest
    waits). The targets queued."""
    run.status, run.started_at, run.pending_reason = RunStatus.RUNNING, now, ""
    run.deadline_at = now + timedelta(seconds=run.policy["run_timeout_seconds"])
    room = run.policy["max_parallel"]
    queued = []
    for target in targets:
        if target.batch == 0 and room > 0:
            target.status, target.queued_at = TargetStatus.QUEUED, now
            target.pending_reason = "waiting for a worker"
            queued.append(target.id)
            room -= 1
        elif target.batch == 0:
            target.pending_reason = _limit_reason(run.policy)
        else:
            target.pending_reason = _batch_reason(target.batch, 0)
    return queued


def _create_many(new: list[_NewRun]) -> list[Run | ValidationError]:
    """Create and start runs in one transaction (see ``runs_create``). Each run is stored with
    its targets and, unless an earlier run of its job that does not allow overlap is still
    going, started at once as ``run_advance`` would have (``_start_new``); from then on
    ``run_advance`` moves it as before."""
    if not new:
        return []
    now = timezone.now()
    summaries = target_summaries(list({t for item in new for t in item.target_ids}))
    exclusive = {item.snapshot.job_id for item in new if not item.policy.get("allow_overlap")}
    going: dict[uuid.UUID, uuid.UUID] = dict(  # job -> its oldest active run
        Run.objects.using(DB)
        .filter(job_id__in=exclusive, status__in=(RunStatus.PENDING, RunStatus.RUNNING))
        .order_by("-created_at")
        .values_list("job_id", "id")
    )
    results: list[Run | ValidationError] = []
    rows: list[RunTarget] = []
    logs: list[tuple[Run, list[LogEntry]]] = []
    events: list[tuple[str, dict[str, Any], Actor]] = []
    queued: list[uuid.UUID] = []
    for item in new:
        ordered = [summaries[t] for t in item.target_ids if t in summaries]
        if not ordered:
            results.append(ValidationError({"selector": ["Selects no active target."]}))
            continue
        run = Run(
            id=uuid.uuid4(),
            job_id=item.snapshot.job_id,
            job_name=item.snapshot.name,
            job_version=item.snapshot.version,
            definition=item.snapshot.definition,
            parameters=item.masked,
            sealed_parameters=item.sealed,
            selector=item.selector,
            policy=item.policy,
            trigger=item.trigger,
            requested_by=item.actor.as_dict(),
            requested_by_user_id=item.requested_by_user_id,
            schedule_id=item.schedule_id,
            schedule_firing_id=item.schedule_firing_id,
            retry_of=item.retry_of,
            target_count=len(ordered),
            pending_reason="waiting to be started",
        )
        batches = _batches(len(ordered), item.policy.get("batch_size"))
        targets = [
            RunTarget(
                id=uuid.uuid4(),
                run=run,
                target_id=summary.id,
                target_name=summary.name,
                os_family=summary.os_family,
                position=position,
                batch=batches[position],
                pending_reason="run not started",
            )
            for position, summary in enumerate(ordered)
        ]
        entries = [state_entry(type="run", status=RunStatus.PENDING, targets=len(ordered))]
        events.append(("execution.run.requested", _requested_event(run, item), item.actor))
        blocker = None if item.policy.get("allow_overlap") else going.get(run.job_id)
        if blocker is None:
            queued += _start_new(run, targets, now)
            entries.append(state_entry(type="run", status=RunStatus.RUNNING))
            started = {"run_id": str(run.id), "job_id": str(run.job_id), "job_name": run.job_name,
                       "schedule_firing_id": _str_or_none(run.schedule_firing_id)}  # fmt: skip
            events.append(("execution.run.started", started, item.actor))
        else:
            run.pending_reason = _overlap_reason(blocker)
        if not item.policy.get("allow_overlap"):
            going.setdefault(run.job_id, run.id)
        run.counts = dict(Counter(t.status for t in targets))
        run.event_seq = len(entries)  # a new run's log starts at 1: nothing to reserve
        rows += targets
        logs.append((run, entries))
        results.append(run)
    with transaction.atomic(using=DB):
        Run.objects.using(DB).bulk_create([run for run, _ in logs])
        RunTarget.objects.using(DB).bulk_create(rows)
        RunEvent.objects.using(DB).bulk_create(
            row for run, entries in logs for row in _log_rows(run.id, entries, first=1)
        )
        for event_type, payload, actor in events:  # one relay after commit for all of them
            publish(event_type, payload, actor=actor)
        if queued:
            transaction.on_commit(lambda: _send(queued), using=DB)
    return results


def _create(
    *,
    snapshot: JobSnapshot,
    sealed: str,
    selector: str,
    policy: dict[str, Any],
    target_ids: list[uuid.UUID],
    trigger: str,
    actor: Actor,
    requested_by_user_id: uuid.UUID | None,
    retry_of: Run | None,
    masked_parameters: dict[str, Any],
) -> Run:
    item = _NewRun(
        snapshot=snapshot,
        masked=masked_parameters,
        sealed=sealed,
        selector=selector,
        policy=policy,
        target_ids=target_ids,
        trigger=trigger,
        actor=actor,
        requested_by_user_id=requested_by_user_id,
        retry_of=retry_of,
    )
    (result,) = _create_many([item])
    if isinstance(result, ValidationError):
        raise result
    return result


def run_retry(
    *, run: Run, only: str = "failed", actor: Actor = SYSTEM, requested_by_user_id=None
) -> Run:
    """A new run of ``run``'s snapshot (same job version, values, selector and policy) on its
    targets that did not succeed (``only="failed"``) or on all of them (``only="all"``)."""
    if run.imported:
        raise Conflict(IMPORTED_READ_ONLY.format(ref=run.legacy_ref, what="retried"))
    if only not in ("failed", "all"):
        raise ValidationError({"only": ['Must be "failed" or "all".']})
    if not run.is_finished:
        raise ValidationError({"run": ["The run is still going; retry it when it has ended."]})
    rows = RunTarget.objects.using(DB).filter(run=run).order_by("position")
    if only == "failed":
        rows = rows.exclude(status=TargetStatus.SUCCEEDED)
    target_ids = list(rows.values_list("target_id", flat=True))
    if not target_ids:
        raise ValidationError({"only": ["Every target of this run succeeded: nothing to retry."]})
    return _create(
        snapshot=_snapshot_of(run),
        sealed=run.sealed_parameters,
        selector=run.selector,
        policy=run.policy,
        target_ids=target_ids,
        trigger=Trigger.RETRY,
        actor=actor,
        requested_by_user_id=requested_by_user_id,
        retry_of=run,
        masked_parameters=run.parameters,
    )


# -- moving runs forward -----------------------------------------------------------------------


def derive_run_status(counts: dict[str, int], stop: str) -> str:
    """A finished run's status from its targets' (the only place this is decided)."""
    if stop == STOP_TIMEOUT:
        return RunStatus.TIMED_OUT
    if stop == STOP_CANCEL:
        return RunStatus.CANCELED
    if any(counts.get(status) for status in TARGET_FAILURES):
        return RunStatus.FAILED
    if counts.get(TargetStatus.CANCELED):
        return RunStatus.CANCELED
    return RunStatus.SUCCEEDED


def _stop_kind(run: Run) -> str:
    if run.cancel_requested_at is None:
        return ""
    return STOP_TIMEOUT if (run.canceled_by or {}).get("kind") == "timeout" else STOP_CANCEL


def _threshold_reached(policy: dict, counts: dict[str, int], total: int) -> bool:
    failures = sum(counts.get(s, 0) for s in TARGET_FAILURES)
    if not failures:
        return False
    limit = policy.get("failure_threshold")
    if limit is not None and failures > limit:
        return True
    percent = policy.get("failure_threshold_percent")
    return percent is not None and failures * 100 > percent * total


def run_advance_safely(run_id: uuid.UUID) -> None:
    """``run_advance``, logging instead of raising (the reaper tries again later)."""
    try:
        run_advance(run_id)
    except Exception:
        logger.exception("could not advance run %s; the reaper will try again", run_id)


def run_advance(run_id: uuid.UUID, *, now=None) -> None:
    """Move the run forward as far as it can go now (idempotent, safe to call any time)."""
    now = now or timezone.now()
    to_dispatch: list[uuid.UUID] = []
    with transaction.atomic(using=DB):
        # NO KEY UPDATE: workers inserting log entries (foreign keys to the run take KEY
        # SHARE on its row) are not blocked while the run advances
        run = Run.objects.using(DB).select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.is_finished:
            return
        entries: list[LogEntry] = []
        if run.status == RunStatus.PENDING and run.cancel_requested_at is None:
            blocker = _overlapping_run(run)
            if blocker is not None:
                reason = _overlap_reason(blocker)
                if run.pending_reason != reason:
                    run.pending_reason = reason
                    run.save(update_fields=["pending_reason", "updated_at"], using=DB)
                return
            run.status = RunStatus.RUNNING
            run.started_at = now
            run.pending_reason = ""
            run.deadline_at = now + timedelta(seconds=run.policy["run_timeout_seconds"])
            entries.append(state_entry(type="run", status=run.status))
            publish(
                "execution.run.started",
                {
                    "run_id": str(run.id),
                    "job_id": str(run.job_id),
                    "job_name": run.job_name,
                    "schedule_firing_id": _str_or_none(run.schedule_firing_id),
                },
                actor=Actor.from_dict(run.requested_by),
            )
        if (
            run.status == RunStatus.RUNNING
            and run.cancel_requested_at is None
            and run.deadline_at
            and now >= run.deadline_at
        ):
            _request_stop(run, kind="timeout", actor_dict={"kind": "timeout", "name": "timeout"},
                          reason=f"the run timed out after {run.policy['run_timeout_seconds']} s",
                          entries=entries, now=now)  # fmt: skip
        counts = target_counts(run)
        pending = counts.get(TargetStatus.PENDING, 0)
        if pending and run.cancel_requested_at is None:
            if _threshold_reached(run.policy, counts, run.target_count):
                skipped = _finish_pending(
                    run,
                    TargetStatus.SKIPPED,
                    "not started: the run's failure threshold was reached",
                    now,
                )
                entries.extend(skipped)
            else:
                to_dispatch = _dispatch(run, counts, now)
            counts = target_counts(run)
        run.counts = counts
        if not any(counts.get(s) for s in (TargetStatus.PENDING, *TARGET_ACTIVE)):
            _finalize(run, counts, now, entries)
            transaction.on_commit(lambda: _start_waiting_run(run.job_id), using=DB)
        run.save(using=DB)
        log_append(run.id, entries)
        if to_dispatch:
            transaction.on_commit(lambda: _send(to_dispatch), using=DB)


def _start_waiting_run(job_id: uuid.UUID) -> None:
    """A run of ``job_id`` ended: the oldest run of that job waiting for it may start."""
    waiting = (
        Run.objects.using(DB)
        .filter(job_id=job_id, status=RunStatus.PENDING)
        .order_by("created_at")
        .values_list("id", flat=True)
        .first()
    )
    if waiting is not None:
        run_advance_safely(waiting)


def _overlapping_run(run: Run) -> uuid.UUID | None:
    if run.policy.get("allow_overlap"):
        return None
    return (
        Run.objects.using(DB)
        .filter(job_id=run.job_id, status__in=(RunStatus.RUNNING, RunStatus.PENDING))
        .filter(Q(status=RunStatus.RUNNING) | Q(created_at__lt=run.created_at))
        .exclude(pk=run.pk)
        .order_by("created_at")
        .values_list("id", flat=True)
        .first()
    )


def _dispatch(run: Run, counts: dict[str, int], now) -> list[uuid.UUID]:
    """Queue pending targets of the current batch up to the parallelism limit; say why the
    others wait. The ids queued."""
    active = sum(counts.get(s, 0) for s in TARGET_ACTIVE)
    room = run.policy["max_parallel"] - active
    open_rows = RunTarget.objects.using(DB).filter(
        run=run, status__in=(TargetStatus.PENDING, *TARGET_ACTIVE)
    )
    batch = open_rows.order_by("batch").values_list("batch", flat=True).first()
    if batch is None:
        return []
    chosen: list[uuid.UUID] = []
    if room > 0:
        chosen = list(
            RunTarget.objects.using(DB)
            .filter(run=run, status=TargetStatus.PENDING, batch=batch)
            .order_by("position")
            .values_list("id", flat=True)[:room]
        )
        if chosen:
            RunTarget.objects.using(DB).filter(pk__in=chosen).update(
                status=TargetStatus.QUEUED,
                queued_at=now,
                pending_reason="waiting for a worker",
                updated_at=now,
            )
    limit_reason = _limit_reason(run.policy)
    waiting = RunTarget.objects.using(DB).filter(run=run, status=TargetStatus.PENDING)
    waiting.filter(batch=batch).exclude(pending_reason=limit_reason).update(
        pending_reason=limit_reason, updated_at=now
    )
    for later in (
        waiting.filter(batch__gt=batch).values_list("batch", flat=True).distinct().order_by()
    ):
        reason = _batch_reason(later, batch)
        waiting.filter(batch=later).exclude(pending_reason=reason).update(
            pending_reason=reason, updated_at=now
        )
    return chosen


def _send(run_target_ids: list[uuid.UUID]) -> None:
    """Queue the targets for workers, in slices of ``EXECUTION_SLICE_SIZE`` (one message each:
    a worker claims, prepares and reports a slice's targets together; see runner.py)."""
    from apps.execution.tasks import execute_targets

    size = max(1, settings.EXECUTION_SLICE_SIZE)
    for start in range(0, len(run_target_ids), size):
        piece = [str(run_target_id) for run_target_id in run_target_ids[start : start + size]]
        try:
            execute_targets.delay(piece)
        except Exception:
            # the broker is away: the reaper sends them again (see run_reap)
            logger.exception("could not queue %d run targets; the reaper will", len(piece))


def _finish_pending(run: Run, status: str, reason: str, now) -> list[LogEntry]:
    rows = list(
        RunTarget.objects.using(DB)
        .filter(run=run, status__in=(TargetStatus.PENDING, TargetStatus.QUEUED))
        .values_list("id", "target_name")
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    RunTarget.objects.using(DB).filter(pk__in=ids).update(
        status=status, reason=reason, pending_reason="", finished_at=now, updated_at=now
    )
    RunStep.objects.using(DB).filter(run_target_id__in=ids, status=StepStatus.PENDING).update(
        status=StepStatus.SKIPPED, reason=reason, updated_at=now
    )
    return [
        state_entry(type="target", run_target_id=pk, name=name, status=status, reason=reason)
        for pk, name in rows
    ]


def _request_stop(
    run: Run, *, kind: str, actor_dict: dict, reason: str, entries: list[LogEntry], now
) -> None:
    run.cancel_requested_at = now
    run.canceled_by = actor_dict
    run.status_reason = reason
    status = TargetStatus.CANCELED if kind == STOP_CANCEL else TargetStatus.SKIPPED
    entries.extend(_finish_pending(run, status, f"not started: {reason}", now))
    entries.append(state_entry(type="run", status=run.status, stopping=True, reason=reason))


def _finalize(run: Run, counts: dict[str, int], now, entries: list[LogEntry]) -> None:
    run.status = derive_run_status(counts, _stop_kind(run))
    run.finished_at = now
    run.pending_reason = ""
    if run.started_at is None:
        run.started_at = now
    if not run.status_reason:
        failed = sum(counts.get(s, 0) for s in TARGET_FAILURES)
        run.status_reason = (
            f"{failed} of {run.target_count} targets did not succeed" if failed else ""
        )
    entries.append(state_entry(type="run", status=run.status, counts=counts))
    publish(
        "execution.run.finished",
        {
            "run_id": str(run.id),
            "job_id": str(run.job_id),
            "job_name": run.job_name,
            "trigger": run.trigger,
            "schedule_id": _str_or_none(run.schedule_id),
            "schedule_firing_id": _str_or_none(run.schedule_firing_id),
            "status": run.status,
            "counts": counts,
            "duration_ms": int((now - run.started_at).total_seconds() * 1000),
            "reason": run.status_reason,
        },
        actor=Actor.from_dict(run.requested_by),
    )


def run_target_finished(run_id: uuid.UUID) -> None:
    """A worker finished a target of the run (its result is committed): start the next ones
    or end the run. Cheap when there is nothing to do: most targets of a big run end while
    others still run and none waits."""
    open_statuses = set(
        RunTarget.objects.using(DB)
        .filter(run_id=run_id, status__in=(TargetStatus.PENDING, *TARGET_ACTIVE))
        .values_list("status", flat=True)
        .distinct()
    )
    if TargetStatus.PENDING in open_statuses or not open_statuses:
        run_advance_safely(run_id)


def run_cancel(*, run: Run, actor: Actor = SYSTEM, reason: str = "") -> Run:
    """Stop ``run``: no new target starts, running steps are interrupted by their workers
    (within about a second) and marked ``canceled``. Idempotent. An imported run is history:
    409. ``reason`` (optional, what the person said) is added to the run's status reason."""
    if run.imported:
        raise Conflict(IMPORTED_READ_ONLY.format(ref=run.legacy_ref, what="canceled"))
    with transaction.atomic(using=DB):
        locked = Run.objects.using(DB).select_for_update(no_key=True).get(pk=run.pk)
        if locked.is_finished or locked.cancel_requested_at is not None:
            return locked
        entries: list[LogEntry] = []
        _request_stop(
            locked,
            kind=STOP_CANCEL,
            actor_dict=actor.as_dict(),
            reason=f"canceled by {actor.label}" + (f": {reason[:300]}" if reason else ""),
            entries=entries,
            now=timezone.now(),
        )
        locked.save(using=DB)
        log_append(locked.id, entries)
        publish(
            "execution.run.cancel_requested",
            {"run_id": str(locked.id), "job_id": str(locked.job_id), "job_name": locked.job_name},
            actor=actor,
        )
    run_advance_safely(locked.id)
    locked.refresh_from_db(using=DB)
    return locked


# -- the reaper --------------------------------------------------------------------------------


class ReapGate:
    """Runs the reaper in one process, and tells the process's connection-loss marker
    (``opsconductor.db.reconnect``) what its passes saw, so that ``run_reap`` holds back its
    verdicts on heartbeats after a database outage.

    During an outage no worker can write a heartbeat, and a worker's writer keeps its targets'
    results until the database answers again (writer.py). Were the reaper to judge heartbeats
    as soon as the database is back, it would declare ``lost`` targets whose results are a few
    seconds from being written. ``run_reap`` judges no heartbeat (no ``lost``, no requeue: the
    rest of the reaper runs) until this process has not found the database unreachable for
    ``EXECUTION_LOST_AFTER_SECONDS``. Every lost or refused connection of the process notes
    it; the gate adds what only the reaper's rhythm shows: a pass that failed on the database,
    and a silence longer than the time an outage needs to make a heartbeat stale
    (``EXECUTION_LOST_AFTER_SECONDS`` - ``EXECUTION_HEARTBEAT_SECONDS``, the reaper running
    every ``EXECUTION_REAP_SECONDS``, well below that), which may have hidden one. Meanwhile
    the writers, retrying every ``EXECUTION_WRITER_RETRY_SECONDS``, stamp the targets they hold
    results of and write them. A process that never saw an outage judges at once.
    """

    def __init__(self) -> None:
        self._last_ok: float | None = None

    def run(self, *, now=None) -> dict[str, int]:
        gap = settings.EXECUTION_LOST_AFTER_SECONDS - settings.EXECUTION_HEARTBEAT_SECONDS
        if self._last_ok is not None and time.monotonic() - self._last_ok > gap:
            note_connection_loss()  # silent long enough to hide an outage
        try:
            done = run_reap(now=now)
        except (OperationalError, InterfaceError):
            note_connection_loss()
            raise
        self._last_ok = time.monotonic()
        return done


def run_reap(*, now=None) -> dict[str, int]:
    """Account for work whose worker vanished and runs that need a push. What it did, counted.
    Stale targets not judged because of a recent database outage are counted as ``held``.

    - a target ``running`` whose worker has not sent a heartbeat for
      ``EXECUTION_LOST_AFTER_SECONDS``: ``lost`` if it had started a step (it may have run;
      it is never run twice), else queued again for another worker; not while this process
      found the database unreachable within that window (no heartbeat could be written);
    - a target ``queued`` for longer than ``EXECUTION_REQUEUE_AFTER_SECONDS``: its unit of work is
      sent again (a duplicate is harmless: only one worker can claim a target);
    - runs past their deadline, pending runs and runs with nothing left: advanced.
    """
    now = now or timezone.now()
    done: Counter[str] = Counter()
    stale = now - timedelta(seconds=settings.EXECUTION_LOST_AFTER_SECONDS)
    touched: set[uuid.UUID] = set()
    stale_rows = (
        RunTarget.objects.using(DB)
        .filter(status=TargetStatus.RUNNING, heartbeat_at__lt=stale)
        .values("id", "run_id", "step_started", "worker", "heartbeat_at", "target_name")[:1000]
    )
    # this process found the database unreachable less than a heartbeat window ago (a restart;
    # ReapGate notes what its passes saw too): the workers could not write their heartbeats
    # meanwhile either, so a stale one proves nothing yet
    hold = seconds_since_connection_loss() < settings.EXECUTION_LOST_AFTER_SECONDS
    for row in stale_rows:
        if hold:
            done["held"] += 1
        elif row["step_started"] is None:
            if _requeue(row, stale, now):
                done["requeued"] += 1
                touched.add(row["run_id"])
        elif _mark_lost(row, stale, now):
            done["lost"] += 1
            touched.add(row["run_id"])
    resend = list(
        RunTarget.objects.using(DB)
        .filter(
            status=TargetStatus.QUEUED,
            queued_at__lt=now - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_SECONDS),
        )
        .values_list("id", flat=True)[:1000]
    )
    if resend:
        RunTarget.objects.using(DB).filter(pk__in=resend).update(queued_at=now)
        _send(resend)
        done["resent"] += len(resend)
    due = Run.objects.using(DB).filter(
        Q(status=RunStatus.PENDING)
        | Q(status=RunStatus.RUNNING, deadline_at__lte=now, cancel_requested_at__isnull=True)
        | Q(pk__in=touched)
        | Q(status=RunStatus.RUNNING, updated_at__lt=now - timedelta(seconds=60))
    )
    for run_id in due.values_list("id", flat=True)[:1000]:
        run_advance_safely(run_id)
        done["advanced"] += 1
    return dict(done)


def _requeue(row: dict, stale, now) -> bool:
    with transaction.atomic(using=DB):
        updated = (
            RunTarget.objects.using(DB)
            .filter(
                pk=row["id"],
                status=TargetStatus.RUNNING,
                heartbeat_at__lt=stale,
                step_started__isnull=True,
            )
            .update(
                status=TargetStatus.QUEUED,
                worker="",
                queued_at=now,
                pending_reason=f"waiting for a worker (worker {row['worker']} stopped answering "
                "before starting a step)",
                updated_at=now,
            )
        )
        if updated:
            log_append(
                row["run_id"],
                [
                    state_entry(
                        type="target",
                        run_target_id=row["id"],
                        name=row["target_name"],
                        status=TargetStatus.QUEUED,
                        reason="requeued",
                    )
                ],
            )
            transaction.on_commit(lambda: _send([row["id"]]), using=DB)
    return bool(updated)


def _mark_lost(row: dict, stale, now) -> bool:
    reason = (
        f"lost: worker {row['worker']} stopped answering (last heartbeat "
        f"{row['heartbeat_at']:%Y-%m-%d %H:%M:%S} UTC) while step {row['step_started'] + 1} "
        "was running; it is not run again because it may have had effects"
    )
    with transaction.atomic(using=DB):
        updated = (
            RunTarget.objects.using(DB)
            .filter(pk=row["id"], status=TargetStatus.RUNNING, heartbeat_at__lt=stale)
            .update(status=TargetStatus.LOST, reason=reason, finished_at=now, updated_at=now)
        )
        if not updated:
            return False
        RunStep.objects.using(DB).filter(run_target_id=row["id"], status=StepStatus.RUNNING).update(
            status=StepStatus.LOST, reason=reason, finished_at=now, updated_at=now
        )
        RunStep.objects.using(DB).filter(run_target_id=row["id"], status=StepStatus.PENDING).update(
            status=StepStatus.SKIPPED, reason="not started: the target was lost"
        )
        log_append(
            row["run_id"],
            [
                state_entry(
                    type="target",
                    run_target_id=row["id"],
                    name=row["target_name"],
                    status=TargetStatus.LOST,
                    reason=reason,
                )
            ],
        )
        publish(
            "execution.target.finished",
            {
                "run_id": str(row["run_id"]),
                "run_target_id": str(row["id"]),
                "target_name": row["target_name"],
                "status": TargetStatus.LOST,
                "reason": reason,
            },
        )
    return True


# -- imported history ----------------------------------------------------------------------------

RUN_FINAL = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.TIMED_OUT)
# "lost" is this system's verdict on its own workers: history cannot have it
IMPORTED_FINAL = tuple(sorted(TARGET_TERMINAL - {TargetStatus.LOST}))


def _final(value: str, allowed, field: str) -> str:
    if value not in allowed:
        raise ValidationError(
            {field: [f"{value!r} is not a final status: use one of {', '.join(allowed)}."]}
        )
    return value


def _aware(value, field: str):
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError({field: ["Must be an aware date and time (with a time zone)."]})
    return value


def _cut(text: str | None, length: int) -> str:
    text = text or ""
    return text if len(text) <= length else text[: length - 1] + "…"


def run_import(
    *, spec: Any, actor: Actor
) -> tuple[uuid.UUID, bool, tuple[tuple[int, int, uuid.UUID], ...]]:
    """Store one historical run (``spec``: ``apps.execution.interface.ImportedRun``) with its
    targets, steps and output in one transaction; (its id, whether it was created now, and the
    id of each step stored as (the target's position in ``spec.targets``, the step's ``order``,
    its id)). The run whose ``legacy_ref`` exists is returned as it is, with no steps. Nothing
    is dispatched and no event is published: the run is history. Raises ``ValidationError`` by
    field (nothing saved)."""
    ref = (spec.legacy_ref or "").strip()
    if not ref or len(ref) > 64:
        raise ValidationError({"legacy_ref": ["Required, at most 64 characters."]})
    existing = Run.objects.using(DB).filter(legacy_ref=ref).values_list("id", flat=True).first()
    if existing is not None:
        return existing, False, ()
    status = _final(spec.status, RUN_FINAL, "status")
    step_keys: list[tuple[int, int, uuid.UUID]] = []
    run_id = uuid.uuid4()
    targets: list[RunTarget] = []
    steps: list[RunStep] = []
    events: list[RunEvent] = []
    seen: set[uuid.UUID] = set()
    definition_steps: dict[int, dict[str, Any]] = {}
    limit = settings.EXECUTION_OUTPUT_LIMIT_BYTES
    for position, target in enumerate(spec.targets):
        where = f"targets.{position}"
        target_status = _final(target.status, IMPORTED_FINAL, f"{where}.status")
        target_id = target.target_id or uuid.uuid5(
            uuid.NAMESPACE_URL, f"opsconductor:imported-target:{ref}:{position}"
        )  # deterministic, and distinct for two such targets of one run (names may repeat)
        if target_id in seen:
            raise ValidationError({f"{where}.target_id": ["The same target twice in one run."]})
        seen.add(target_id)
        row = RunTarget(
            id=uuid.uuid4(),
            run_id=run_id,
            target_id=target_id,
            target_name=_cut(target.target_name, 255),
            os_family=_cut(target.os_family, 16),
            position=position,
            status=target_status,
            reason=_cut(target.reason, 1000),
        )
        collected: list[Chunk] = []
        output = TargetOutput(secrets=[], sink=collected.extend, limit_bytes=limit,
                              flush_interval=1e9, flush_bytes=1 << 62)  # fmt: skip
        orders: set[int] = set()
        exit_code = None
        for number, step in enumerate(spec_steps := sorted(target.steps, key=lambda s: s.order)):
            at = f"{where}.steps.{number}"
            if isinstance(step.order, bool) or not isinstance(step.order, int) or step.order < 1:
                raise ValidationError({f"{at}.order": ["Must be a whole number, 1 or more."]})
            if step.order in orders:
                raise ValidationError({f"{at}.order": [f"Step {step.order} appears twice."]})
            orders.add(step.order)
            started = _aware(step.started_at, f"{at}.started_at")
            finished = _aware(step.finished_at, f"{at}.finished_at")
            index = step.order - 1
            steps.append(
                RunStep(
                    run_target_id=row.id,
                    index=index,
                    name=_cut(step.name, 100),
                    kind=_cut(step.kind, 16),
                    status=_final(step.status, IMPORTED_FINAL, f"{at}.status"),
                    exit_code=step.exit_code,
                    reason=_cut(step.error, 1000),
                    started_at=started,
                    finished_at=finished,
                    duration_ms=step.duration_ms
                    if step.duration_ms is not None
                    else (
                        max(int((finished - started).total_seconds() * 1000), 0)
                        if started and finished
                        else None
                    ),
                    command=step.command or "",
                )
            )
            step_keys.append((position, step.order, steps[-1].id))
            definition_steps.setdefault(
                index,
                {"name": _cut(step.name, 100), "kind": _cut(step.kind, 16), "os_family": "",
                 "command": step.command or ""},
            )  # fmt: skip
            if step.output:
                output.write(index, "stdout", step.output.encode())
            if step.error:
                output.write(index, "stderr", step.error.encode())
            output.end_step(index)
            if step.exit_code is not None:
                exit_code = step.exit_code
        output.close()
        starts = [s.started_at for s in spec_steps if s.started_at]
        ends = [s.finished_at for s in spec_steps if s.finished_at]
        row.started_at = _aware(target.started_at, f"{where}.started_at") or (
            min(starts) if starts else None
        )
        row.finished_at = _aware(target.finished_at, f"{where}.finished_at") or (
            max(ends) if ends else None
        )
        row.exit_code = target.exit_code if target.exit_code is not None else exit_code
        row.output_bytes = output.stored_bytes
        row.output_truncated = output.truncated
        row.output_digest = output.digest if output.stored_bytes else ""
        row.output_sample = output.sample
        targets.append(row)
        for chunk in collected:
            events.append(
                RunEvent(
                    run_id=run_id,
                    seq=0,
                    kind=RunEvent.Kind.OUTPUT,
                    run_target_id=row.id,
                    step_index=chunk.step_index,
                    stream=chunk.stream,
                    data=chunk.text,
                )
            )
    requested_by = (
        Actor(kind="user", id=str(spec.requested_by_user_id), name=spec.requested_by_name)
        if spec.requested_by_user_id is not None
        else Actor(kind="system", id=None, name=spec.requested_by_name or "legacy system")
    )
    counts = dict(Counter(t.status for t in targets))
    if not targets:
        counts = {
            k: v
            for k, v in (
                (TargetStatus.SUCCEEDED, spec.succeeded_targets or 0),
                (TargetStatus.FAILED, spec.failed_targets or 0),
            )
            if v
        }
    created = _aware(spec.created_at, "created_at")
    started_at = _aware(spec.started_at, "started_at")
    finished_at = _aware(spec.finished_at, "finished_at")
    state = state_entry(type="run", status=status, imported=ref, reason=spec.status_reason or "")
    log = [
        RunEvent(run_id=run_id, seq=0, kind=state.kind, data=state.data),
        *events,
    ]
    for seq, event in enumerate(log, start=1):
        event.seq = seq
    run = Run(
        id=run_id,
        job_id=spec.job_id,
        job_name=_cut(spec.job_name, 100),
        job_version=spec.job_version or 1,
        definition={
            "steps": [definition_steps[i] for i in sorted(definition_steps)],
            "imported": {
                "legacy_ref": ref,
                "total_targets": spec.total_targets,
                "succeeded_targets": spec.succeeded_targets,
                "failed_targets": spec.failed_targets,
            },
        },
        parameters={},
        sealed_parameters="",
        policy={},
        trigger=Trigger.IMPORTED,
        requested_by=requested_by.as_dict(),
        requested_by_user_id=spec.requested_by_user_id,
        status=status,
        status_reason=_cut(spec.status_reason, 500),
        started_at=started_at,
        finished_at=finished_at,
        target_count=spec.total_targets if spec.total_targets is not None else len(targets),
        counts=counts,
        event_seq=len(log),
        imported=True,
        legacy_ref=ref,
        created_at=created or timezone.now(),
        updated_at=timezone.now(),
    )
    try:
        with transaction.atomic(using=DB):
            # raw: the original creation time is stored as given (auto_now_add would replace it)
            run.save_base(using=DB, raw=True, force_insert=True)
            RunTarget.objects.using(DB).bulk_create(targets)
            RunStep.objects.using(DB).bulk_create(steps)
            RunEvent.objects.using(DB).bulk_create(log)
    except IntegrityError:
        existing = Run.objects.using(DB).filter(legacy_ref=ref).values_list("id", flat=True).first()
        if existing is not None:  # imported concurrently
            return existing, False, ()
        raise
    return run_id, True, tuple(step_keys)
