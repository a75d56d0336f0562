"""Running the targets of a run in a worker: the unit of work behind ``tasks.execute_targets``.

A unit is a *slice*: some targets of a run (``EXECUTION_SLICE_SIZE`` at most), queued together.
The slice's own thread does the database work of all its targets at once, then each target runs
in a thread of its own that never touches the database (what it reports goes through the
process's ``writer.Writer``, which commits in batches):

1. **Claim** the targets (``queued`` → ``running``, conditional: only one worker can), so a
   redelivered or duplicated unit does nothing; one UPDATE for the slice.
2. Unseal the run's parameter values (once per run per worker) and the targets' credentials
   (one lookup for the slice), render the steps for each OS family, create the step rows (one
   insert), collect every secret to mask.
3. Per target, in its thread: **connect** through the worker's pool (SSH) or a fresh
   WS-Management shell (WinRM), retrying an unreachable host as the run's policy says.
4. For each step: record that it **started** (committed before it runs: from then on it is never
   run again by anyone), run it with its timeout and the run's cancel event, stream output
   through ``TargetOutput`` (masked, capped) into the run's log, record the result.
5. **Finish** the target; the writer publishes its outcome and lets ``services`` advance the
   run. The unit returns when everything its targets reported is committed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import F
from django.utils import timezone

from apps.execution.models import Run, RunStep, RunTarget, StepStatus, TargetStatus
from apps.execution.output import TargetOutput
from apps.execution.services import DB
from apps.execution.transports.ssh import (
    AuthFailed,
    ConnectionLost,
    HostKeyRefused,
    ScopeRefused,
    TransportError,
    Unreachable,
)
from apps.execution.worker import Holding, WorkerRuntime
from apps.execution.writer import TargetDone, WriteFailed, Writer
from apps.jobs.interface import MASK, JobSnapshot, mask, render_steps, secret_values
from apps.targets.interface import (
    ConnectionParams,
    HostKeyVerdict,
    connections_for_targets,
    record_host_key_seen,
    report_host_key_refused,
    report_scope_refusal,
)
from opsconductor.db.reconnect import call_with_retry, release_connections
from opsconductor.events import Actor
from opsconductor.sealing import SealError, unseal

logger = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[^A-Za-z0-9_]")
BARRIER_TIMEOUT_SECONDS = 120  # a unit of work waits this long at most for its writes


@dataclass(frozen=True)
class RunContext:
    """What every target of a run needs, unsealed once per run per worker."""

    run_id: uuid.UUID
    snapshot: JobSnapshot
    values: dict[str, Any]
    policy: dict[str, Any]
    actor: Actor


@functools.lru_cache(maxsize=64)
def _run_context(run_id: uuid.UUID) -> RunContext:
    run = Run.objects.using(DB).get(pk=run_id)
    return RunContext(
        run_id=run.id,
        snapshot=JobSnapshot(
            job_id=run.job_id,
            name=run.job_name,
            version=run.job_version,
            definition=run.definition,
            archived=False,
        ),
        values=unseal(run.sealed_parameters)["values"],
        policy=run.policy,
        actor=Actor.from_dict(run.requested_by),
    )


@dataclass
class Outcome:
    status: str
    reason: str = ""
    exit_code: int | None = None
    step_index: int | None = None  # the step that decided a failure


class _Stopped(Exception):
    """The run was asked to stop before the next step could start."""


@dataclass
class _Prepared:
    """One claimed target, ready for its thread: everything from the database is in here."""

    row: RunTarget
    holding: Holding
    context: RunContext | None = None
    steps: list[dict] | None = None
    params: ConnectionParams | None = None
    failure: Outcome | None = None  # decided before connecting (nothing to run)


def execute(run_target_ids: list[uuid.UUID], runtime: WorkerRuntime) -> dict[str, str]:
    """Run every step of the given targets (of one run or several); their final statuses by
    run target id (targets another worker had claimed, or that had finished, are left out)."""
    rows = _claim(run_target_ids, runtime.id)
    if not rows:
        return {}
    prepared = [_Prepared(row=row, holding=runtime.hold(row.id, row.run_id)) for row in rows]
    statuses: dict[str, str] = {}
    try:
        # reads and an idempotent insert: run again if the database connection is lost
        call_with_retry(_prepare, prepared, what="preparing run targets")
    except Exception as exc:  # a bug (or the database) must not leave the targets running
        logger.exception("preparing %d run targets failed", len(prepared))
        for item in prepared:
            item.failure = item.failure or Outcome(
                TargetStatus.FAILED, f"internal error in the worker ({type(exc).__name__})"
            )
    # the database work of the slice is done: its connections go back to the pools before it
    # waits for its targets (minutes, maybe), whose step starts the writer must write, on a
    # connection of the same pool (ADR 0018)
    release_connections()
    threads = []
    for item in prepared:
        if item.failure is not None:
            _finish(item.row, item.failure, None, runtime.writer)
            runtime.release(item.row.id)
            statuses[str(item.row.id)] = item.failure.status
            continue
        thread = threading.Thread(
            target=_target_thread, args=(item, runtime, statuses),
            name=f"run-target-{item.row.target_name}"[:60], daemon=True,
        )  # fmt: skip
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if not runtime.writer.barrier(timeout=BARRIER_TIMEOUT_SECONDS):
        logger.error("the results of %d targets were not written within %d s; the reaper "
                     "accounts for them", len(prepared), BARRIER_TIMEOUT_SECONDS)  # fmt: skip
    return statuses


def _target_thread(item: _Prepared, runtime: WorkerRuntime, statuses: dict[str, str]) -> None:
    try:
        outcome = _execute_prepared(item, runtime)
    except Exception as exc:  # a bug must not leave the target running
        logger.exception("run target %s failed unexpectedly", item.row.id)
        outcome = Outcome(
            TargetStatus.FAILED, f"internal error in the worker ({type(exc).__name__})"
        )
    finally:
        runtime.release(item.row.id)
        # nothing here should have opened a database connection; if something did, close it
        connections.close_all()
    _finish(item.row, outcome, item.holding.output, runtime.writer)
    statuses[str(item.row.id)] = outcome.status


def _claim(run_target_ids: list[uuid.UUID], worker_id: str) -> list[RunTarget]:
    now = timezone.now()
    claimed = (
        RunTarget.objects.using(DB)
        .filter(pk__in=run_target_ids, status=TargetStatus.QUEUED)
        .update(
            status=TargetStatus.RUNNING,
            worker=worker_id,
            heartbeat_at=now,
            started_at=now,
            pending_reason="",
            attempt=F("attempt") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return []
    # the stream learns a target runs from its first step's start (one write less per target)
    return list(
        RunTarget.objects.using(DB)
        .filter(
            pk__in=run_target_ids, status=TargetStatus.RUNNING, worker=worker_id, started_at=now
        )
        .order_by("position")
    )


def _prepare(prepared: list[_Prepared]) -> None:
    """The database work of a slice, for all its targets at once (see the module docstring)."""
    contexts: dict[uuid.UUID, RunContext | None] = {}
    for run_id in {item.row.run_id for item in prepared}:
        try:
            contexts[run_id] = _run_context(run_id)
        except SealError:
            contexts[run_id] = None
    params, unsealable = connections_for_targets([item.row.target_id for item in prepared])
    rendered: dict[tuple[uuid.UUID, str], list[dict] | str] = {}  # the steps, or why not
    step_rows: list[RunStep] = []
    for item in prepared:
        context = contexts[item.row.run_id]
        if context is None:
            item.failure = Outcome(
                TargetStatus.FAILED,
                "the run's parameter values cannot be unsealed with the configured keys",
            )
            continue
        if item.row.target_id in unsealable:
            item.failure = Outcome(
                TargetStatus.FAILED,
                "the target's credential cannot be unsealed with the configured keys "
                "(OPSCONDUCTOR_SEAL_KEYS)",
            )
            continue
        key = (item.row.run_id, item.row.os_family)
        if key not in rendered:
            try:
                rendered[key] = render_steps(context.snapshot, context.values, os_family=key[1])
            except ValueError as exc:  # e.g. a value taking an upload path out of its directory
                rendered[key] = mask(str(exc), secret_values(context.snapshot, context.values))
        steps = rendered[key]
        if isinstance(steps, str):
            item.failure = Outcome(TargetStatus.FAILED, f"the steps cannot be rendered: {steps}")
            continue
        item.context, item.steps = context, steps
        item.params = params.get(item.row.target_id)
        step_rows += _step_rows(item.row, item.steps)
        if item.params is None:
            item.failure = Outcome(
                TargetStatus.FAILED, "the target or its connection method no longer exists"
            )
    # a takeover after a requeue finds them made
    RunStep.objects.using(DB).bulk_create(step_rows, ignore_conflicts=True)


def _step_rows(row: RunTarget, steps: list[dict]) -> list[RunStep]:
    return [
        RunStep(
            run_target_id=row.id,
            index=index,
            name=step["name"],
            kind=step["kind"],
            status=StepStatus.SKIPPED if step["skipped"] else StepStatus.PENDING,
            reason=step.get("reason", ""),
        )
        for index, step in enumerate(steps)
    ]


def _execute_prepared(item: _Prepared, runtime: WorkerRuntime) -> Outcome:
    row, holding, context, steps, params = (
        item.row, item.holding, item.context, item.steps, item.params
    )  # fmt: skip
    assert context is not None and steps is not None and params is not None
    writer = runtime.writer
    secrets = secret_values(context.snapshot, context.values)
    secrets += [s for s in (params.password.reveal(), params.passphrase.reveal()) if s]
    holding.output = TargetOutput(
        secrets=secrets,
        sink=functools.partial(writer.output, row.run_id, row.id),
        limit_bytes=settings.EXECUTION_OUTPUT_LIMIT_BYTES,
        flush_interval=settings.EXECUTION_OUTPUT_FLUSH_SECONDS,
    )
    runnable = [(i, s) for i, s in enumerate(steps) if not s["skipped"]]
    if not runnable:
        return Outcome(TargetStatus.SKIPPED, f"no step is for {row.os_family} targets")
    try:
        with _session(params, runtime, context.policy, holding) as session:
            return _run_steps(row, context, runnable, session, holding, secrets, writer)
    except _Stopped as stopped:
        return Outcome(str(stopped.args[0]), str(stopped.args[1]))
    except ScopeRefused as exc:
        return _scope_refused(row, exc, context.actor, writer)
    except TransportError as exc:
        return _connection_failure(row, params, exc, secrets, writer)


def _stop_status(holding: Holding) -> tuple[str, str]:
    """How a target ends when its run was asked to stop (set by the housekeeping thread when
    it saw the request: a cancel, or the run's timeout)."""
    return holding.stop or (TargetStatus.CANCELED, "canceled")


# -- sessions ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _session(
    params: ConnectionParams, runtime: WorkerRuntime, policy: dict, holding: Holding
) -> Iterator[Any]:
    attempts = policy.get("connection_retries", 0) + 1
    backoff = policy.get("retry_backoff_seconds", 5)
    for attempt in range(attempts):
        try:
            if params.protocol == "winrm":
                from apps.execution.transports.winrm import open_winrm_session

                session = open_winrm_session(
                    params, connect_timeout=settings.EXECUTION_CONNECT_TIMEOUT_SECONDS
                )
                with contextlib.closing(session):
                    _report_fresh(params, None, runtime.writer)
                    yield session
                return
            with runtime.pool.acquire(params) as session:
                if session.last_used == session.opened_at:  # not used before: just opened
                    _report_fresh(params, session, runtime.writer)
                yield session
            return
        except Unreachable:
            if attempt + 1 >= attempts:
                raise
            delay = backoff * (2**attempt)
            holding.output and holding.output.note(
                -1,
                f"[could not connect (attempt {attempt + 1} of {attempts}); retrying in "
                f"{delay} s]\n",
            )
            if holding.cancel.wait(delay):
                raise _Stopped(*_stop_status(holding)) from None


def _report_fresh(params: ConnectionParams, session, writer: Writer) -> None:
    """A connection just opened: record a first-use host key, tell targets it is healthy
    (both through the writer, after its next commit)."""
    if session is not None and session.host_key_verdict == HostKeyVerdict.TRUST_ON_FIRST_USE:
        writer.after_commit(
            functools.partial(
                record_host_key_seen,
                method_id=params.method_id,
                algorithm=session.host_key.algorithm,
                public_key=session.host_key.public_key,
                fingerprint=session.host_key.fingerprint,
                trusted=True,
            )
        )
    writer.health(params.target_id, "healthy")


def _scope_refused(row: RunTarget, exc: ScopeRefused, actor: Actor, writer: Writer) -> Outcome:
    """The target's credential may not be used where the connection would go: nothing was
    sent. The target's health says so, and the refusal is audited (by the targets app)."""
    writer.health(row.target_id, "scope_refused", str(exc))
    writer.after_commit(
        functools.partial(
            report_scope_refusal, target_id=row.target_id, refusal=exc.refusal, actor=actor
        )
    )
    return Outcome(TargetStatus.FAILED, str(exc))


def _connection_failure(
    row: RunTarget, params: ConnectionParams, exc: TransportError, secrets: list[str],
    writer: Writer,
) -> Outcome:  # fmt: skip
    message = mask(str(exc), secrets)
    if isinstance(exc, HostKeyRefused):
        # as a health check would: the key recorded for an admin, the target's health, and
        # targets.host_key.changed_refused for a changed key (all by the targets app)
        writer.after_commit(
            functools.partial(
                report_host_key_refused,
                target_id=row.target_id,
                method_id=params.method_id,
                verdict=str(exc.verdict),
                algorithm=exc.host_key.algorithm,
                public_key=exc.host_key.public_key,
                fingerprint=exc.host_key.fingerprint,
                message=message,
            )
        )
        return Outcome(TargetStatus.FAILED, f"host key refused: {message}")
    if isinstance(exc, AuthFailed):
        writer.health(row.target_id, "auth_failed", message)
        return Outcome(TargetStatus.FAILED, f"authentication failed: {message}")
    if isinstance(exc, Unreachable | ConnectionLost):
        writer.health(row.target_id, "unreachable", message)
        return Outcome(TargetStatus.UNREACHABLE, message)
    return Outcome(TargetStatus.FAILED, message)


# -- steps -------------------------------------------------------------------------------------


def _env(row: RunTarget, context: RunContext, step: dict, index: int) -> dict[str, str]:
    env = {
        "OPSCONDUCTOR_RUN_ID": str(row.run_id),
        "OPSCONDUCTOR_JOB": context.snapshot.name,
        "OPSCONDUCTOR_TARGET": row.target_name,
        "OPSCONDUCTOR_TARGET_ID": str(row.target_id),
        "OPSCONDUCTOR_STEP": step["name"],
        "OPSCONDUCTOR_STEP_INDEX": str(index + 1),
    }
    for name, value in context.values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else _plain(value)
        env[f"OPSCONDUCTOR_PARAM_{_ENV_NAME.sub('_', name).upper()}"] = text
    env.update(step.get("env") or {})
    return env


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _run_steps(
    row: RunTarget,
    context: RunContext,
    runnable: list[tuple[int, dict]],
    session,
    holding: Holding,
    secrets: list[str],
    writer: Writer,
) -> Outcome:
    output = holding.output
    assert output is not None
    last_exit: int | None = None
    tolerated = 0

    def skip_rest(position: int, reason: str) -> None:
        writer.steps_skipped(row.id, [i for i, _ in runnable[position:]], reason)

    for position, (index, step) in enumerate(runnable):
        if holding.cancel.is_set():
            stop = _stop_status(holding)
            skip_rest(position, f"not started: {stop[1]}")
            return Outcome(stop[0], stop[1], last_exit)
        try:
            writer.step_started(row.run_id, row.id, index, step["name"])
        except WriteFailed as exc:
            # not on record, so not run: a step that might run twice must never run unrecorded
            logger.error("could not record the start of step %d of %s: %s", index, row.id, exc)
            skip_rest(position, "not started: its start could not be recorded")
            return Outcome(
                TargetStatus.FAILED,
                f"step {index + 1} ({step['name']}) was not started: its start could not be "
                "recorded in the database",
                last_exit,
            )
        started = time.monotonic()
        step_status, reason, exit_code = StepStatus.FAILED, "", None
        try:
            result = _run_one(session, row, context, step, index, holding)
        except HostKeyRefused as exc:
            # a stale session reconnected and met another key: not started; the target fails
            # as a refused connection does (_connection_failure, in _execute_prepared)
            reason = f"not started: host key refused: {mask(str(exc), secrets)}"
            _end_step(writer, row, index, StepStatus.FAILED, reason, None, started, output)
            skip_rest(position + 1, "not started: host key refused")
            raise
        except ConnectionLost as exc:
            reason = (
                f"connection lost during step {index + 1} ({step['name']}): "
                f"{mask(str(exc), secrets)}"
            )
            _end_step(writer, row, index, StepStatus.FAILED, reason, None, started, output)
            skip_rest(position + 1, "not started: connection lost")
            writer.health(row.target_id, "unreachable", reason)
            return Outcome(TargetStatus.UNREACHABLE, reason, last_exit)
        except TransportError as exc:
            reason = mask(str(exc), secrets)
            result = None
        if result is not None:
            exit_code = result.exit_code
            if result.canceled:
                step_status, reason = _stop_status(holding)
            elif result.timed_out:
                step_status = StepStatus.TIMED_OUT
                reason = (
                    f"the step ran longer than its timeout of {step['timeout_seconds']} s "
                    "and was killed"
                )
            elif exit_code == 0:
                step_status = StepStatus.SUCCEEDED
            elif exit_code is None:
                reason = "the command was killed by a signal"
            else:
                reason = f"exit code {exit_code}"
        _end_step(writer, row, index, step_status, reason, exit_code, started, output)
        if exit_code is not None:
            last_exit = exit_code
        if step_status == StepStatus.SUCCEEDED:
            continue
        if (
            step_status in (StepStatus.CANCELED, StepStatus.TIMED_OUT)
            and result
            and result.canceled
        ):
            skip_rest(position + 1, f"not started: {reason}")
            return Outcome(step_status, reason, last_exit)
        if step["continue_on_error"]:
            tolerated += 1
            continue
        skip_rest(position + 1, f"not started: step {index + 1} ({step['name']}) did not succeed")
        status = (
            TargetStatus.TIMED_OUT if step_status == StepStatus.TIMED_OUT else TargetStatus.FAILED
        )
        return Outcome(status, f"step {index + 1} ({step['name']}): {reason}", last_exit, index)
    reason = f"{tolerated} step(s) failed with continue_on_error" if tolerated else ""
    return Outcome(TargetStatus.SUCCEEDED, reason, last_exit)


def _run_one(
    session, row: RunTarget, context: RunContext, step: dict, index: int, holding: Holding
):
    output = holding.output
    assert output is not None
    timeout = step["timeout_seconds"]
    env = _env(row, context, step, index)

    def on_output(stream: str, chunk: bytes) -> None:
        output.write(index, stream, chunk)

    windows = row.os_family == "windows"
    if step["kind"] == "command":
        if windows:
            command = step["command"]
            if step.get("workdir"):
                command = f"Set-Location -LiteralPath {_ps_quote(step['workdir'])}; {command}"
            # a remote PowerShell, not a local shell
            return session.run_command(  # noqa: S604
                command, shell="powershell", timeout=timeout, env=env,
                on_output=on_output, cancel=holding.cancel,
            )  # fmt: skip
        return session.run_command(
            step["command"], timeout=timeout, env=env, workdir=step.get("workdir", ""),
            on_output=on_output, cancel=holding.cancel,
        )  # fmt: skip
    if step["kind"] == "script":
        if windows:
            body = step["script"]
            if step.get("workdir"):
                body = f"Set-Location -LiteralPath {_ps_quote(step['workdir'])}\n{body}"
            return session.run_script(
                body, step["interpreter"], timeout=timeout, env=env,
                on_output=on_output, cancel=holding.cancel,
            )  # fmt: skip
        return session.run_script(
            step["script"], step["interpreter"], timeout=timeout, env=env,
            workdir=step.get("workdir", ""), on_output=on_output, cancel=holding.cancel,
        )  # fmt: skip
    return _upload(session, step, index, output, windows)


def _upload(session, step: dict, index: int, output: TargetOutput, windows: bool):
    from apps.execution.transports.ssh import CommandResult

    if windows:
        raise TransportError("upload steps are not supported on Windows (WinRM) targets yet")
    content = step["content"].encode()
    mode = int(step["mode"] or "644", 8)
    started = time.monotonic()
    session.upload(content, step["path"], mode)
    output.note(index, f"[uploaded {len(content):,} bytes to {step['path']}]\n")
    return CommandResult(
        exit_code=0, timed_out=False, canceled=False,
        duration_ms=round((time.monotonic() - started) * 1000),
    )  # fmt: skip


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _end_step(
    writer: Writer,
    row: RunTarget,
    index: int,
    status: str,
    reason: str,
    exit_code: int | None,
    started: float,
    output: TargetOutput,
) -> None:
    """Queue a step's result, with the output it still had buffered (one write together)."""
    writer.step_ended(
        row.run_id, row.id, index, status=status, reason=reason, exit_code=exit_code,
        duration_ms=round((time.monotonic() - started) * 1000),
        chunks=output.end_step(index, flush=False),
    )  # fmt: skip


def _finish(row: RunTarget, outcome: Outcome, output: TargetOutput | None, writer: Writer) -> None:
    fields: dict[str, Any] = {}
    if output is not None:
        output.close()
        fields = {
            "output_bytes": output.stored_bytes + output.dropped_bytes,
            "output_truncated": output.truncated,
            "output_digest": output.digest,
            "output_sample": (
                output.sample_of_step(outcome.step_index) if outcome.step_index is not None else ""
            )
            or output.sample,
        }
    writer.target_done(
        TargetDone(
            run_id=row.run_id,
            run_target_id=row.id,
            target_id=row.target_id,
            target_name=row.target_name,
            status=outcome.status,
            reason=outcome.reason,
            exit_code=outcome.exit_code,
            output=fields,
        )
    )


__all__ = ["MASK", "execute"]
