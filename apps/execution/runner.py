"""Running one target of a run, in a worker: the unit of work behind ``tasks.execute_target``.

1. **Claim** the target (``queued`` → ``running``, conditional: only one worker can), so a
   redelivered or duplicated unit does nothing.
2. Unseal the run's parameter values and the target's credential (in memory only), render the
   steps for the target's OS family, collect every secret to mask.
3. **Connect** through the worker's pool (SSH) or a fresh WS-Management shell (WinRM), retrying
   an unreachable host as the run's policy says.
4. For each step: record that it **started** (from then on it is never run again by anyone),
   run it with its timeout and the run's cancel event, stream output through ``TargetOutput``
   (masked, capped) into the run's log, record the result.
5. **Finish** the target, publish its outcome, and let ``services`` advance the run.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.execution import services
from apps.execution.models import Run, RunStep, RunTarget, StepStatus, TargetStatus
from apps.execution.output import Chunk, TargetOutput
from apps.execution.services import DB, LogEntry, log_append, reserve_seq, state_entry
from apps.execution.transports.ssh import (
    AuthFailed,
    ConnectionLost,
    HostKeyRefused,
    TransportError,
    Unreachable,
)
from apps.execution.worker import Holding, WorkerRuntime
from apps.jobs.interface import MASK, JobSnapshot, mask, render_steps, secret_values
from apps.targets.interface import (
    ConnectionParams,
    HostKeyVerdict,
    connection_for_target,
    record_host_key_seen,
    report_connection_outcome,
)
from opsconductor.events import Actor, publish
from opsconductor.sealing import SealError, unseal

logger = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[^A-Za-z0-9_]")


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


def execute(run_target_id: uuid.UUID, runtime: WorkerRuntime) -> str | None:
    """Run every step of one target of a run; its final status (None if not claimed)."""
    claimed = _claim(run_target_id, runtime.id)
    if claimed is None:
        return None
    holding = runtime.hold(claimed.id, claimed.run_id)
    try:
        outcome = _execute_claimed(claimed, runtime, holding)
    except Exception as exc:  # a bug must not leave the target running
        logger.exception("run target %s failed unexpectedly", run_target_id)
        outcome = Outcome(
            TargetStatus.FAILED, f"internal error in the worker ({type(exc).__name__})"
        )
    finally:
        runtime.release(claimed.id)
    _finish(claimed, outcome, holding.output)
    runtime.events_to_relay()
    services.run_target_finished(claimed.run_id)
    return outcome.status


def _claim(run_target_id: uuid.UUID, worker_id: str) -> RunTarget | None:
    now = timezone.now()
    claimed = (
        RunTarget.objects.using(DB)
        .filter(pk=run_target_id, status=TargetStatus.QUEUED)
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
        return None
    # the stream learns the target runs from its first step's start (one write less per target)
    return RunTarget.objects.using(DB).get(pk=run_target_id)


def _execute_claimed(row: RunTarget, runtime: WorkerRuntime, holding: Holding) -> Outcome:
    try:
        context = _run_context(row.run_id)
    except SealError:
        return Outcome(
            TargetStatus.FAILED,
            "the run's parameter values cannot be unsealed with the configured keys",
        )
    steps = render_steps(context.snapshot, context.values, os_family=row.os_family)
    try:
        params = connection_for_target(row.target_id)
    except SealError:
        return Outcome(
            TargetStatus.FAILED,
            "the target's credential cannot be unsealed with the configured keys "
            "(OPSCONDUCTOR_SEAL_KEYS)",
        )
    _create_steps(row, steps)
    if params is None:
        return Outcome(TargetStatus.FAILED, "the target or its connection method no longer exists")
    secrets = secret_values(context.snapshot, context.values)
    secrets += [s for s in (params.password.reveal(), params.passphrase.reveal()) if s]
    holding.output = TargetOutput(
        secrets=secrets,
        sink=functools.partial(_store_output, row.run_id, row.id),
        limit_bytes=settings.EXECUTION_OUTPUT_LIMIT_BYTES,
        flush_interval=settings.EXECUTION_OUTPUT_FLUSH_SECONDS,
    )
    runnable = [(i, s) for i, s in enumerate(steps) if not s["skipped"]]
    if not runnable:
        return Outcome(TargetStatus.SKIPPED, f"no step is for {row.os_family} targets")
    try:
        with _session(params, runtime, context.policy, holding) as session:
            return _run_steps(row, context, steps, runnable, session, holding, secrets)
    except _Stopped as stopped:
        return Outcome(str(stopped.args[0]), str(stopped.args[1]))
    except TransportError as exc:
        return _connection_failure(row, params, exc, secrets)


def _create_steps(row: RunTarget, steps: list[dict]) -> None:
    RunStep.objects.using(DB).bulk_create(
        [
            RunStep(
                run_target_id=row.id,
                index=index,
                name=step["name"],
                kind=step["kind"],
                status=StepStatus.SKIPPED if step["skipped"] else StepStatus.PENDING,
                reason=step.get("reason", ""),
            )
            for index, step in enumerate(steps)
        ],
        ignore_conflicts=True,  # a takeover after a requeue finds them made
    )


def _stop_status(run_id: uuid.UUID) -> tuple[str, str] | None:
    run = Run.objects.using(DB).filter(pk=run_id).values("cancel_requested_at", "canceled_by",
                                                          "status_reason").first()  # fmt: skip
    if not run or run["cancel_requested_at"] is None:
        return None
    timed_out = (run["canceled_by"] or {}).get("kind") == "timeout"
    return (
        TargetStatus.TIMED_OUT if timed_out else TargetStatus.CANCELED,
        run["status_reason"] or "the run was stopped",
    )


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
                    _report_fresh(params, None)
                    yield session
                return
            with runtime.pool.acquire(params) as session:
                if session.last_used == session.opened_at:  # not used before: just opened
                    _report_fresh(params, session)
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
                stop = _stop_status(holding.run_id) or (TargetStatus.CANCELED, "canceled")
                raise _Stopped(*stop) from None


def _report_fresh(params: ConnectionParams, session) -> None:
    """A connection just opened: record a first-use host key, tell targets it is healthy."""
    if session is not None and session.host_key_verdict == HostKeyVerdict.TRUST_ON_FIRST_USE:
        record_host_key_seen(
            method_id=params.method_id,
            algorithm=session.host_key.algorithm,
            public_key=session.host_key.public_key,
            fingerprint=session.host_key.fingerprint,
            trusted=True,
        )
    report_connection_outcome(target_id=params.target_id, status="healthy")


def _connection_failure(
    row: RunTarget, params: ConnectionParams, exc: TransportError, secrets: list[str]
) -> Outcome:
    message = mask(str(exc), secrets)
    if isinstance(exc, HostKeyRefused):
        if exc.verdict in (HostKeyVerdict.UNKNOWN, HostKeyVerdict.CHANGED):
            record_host_key_seen(
                method_id=params.method_id,
                algorithm=exc.host_key.algorithm,
                public_key=exc.host_key.public_key,
                fingerprint=exc.host_key.fingerprint,
                trusted=False,
            )
        health = (
            "host_key_unknown" if exc.verdict == HostKeyVerdict.UNKNOWN else "host_key_mismatch"
        )
        report_connection_outcome(target_id=row.target_id, status=health, message=message)
        return Outcome(TargetStatus.FAILED, f"host key refused: {message}")
    if isinstance(exc, AuthFailed):
        report_connection_outcome(target_id=row.target_id, status="auth_failed", message=message)
        return Outcome(TargetStatus.FAILED, f"authentication failed: {message}")
    if isinstance(exc, Unreachable | ConnectionLost):
        report_connection_outcome(target_id=row.target_id, status="unreachable", message=message)
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
    steps: list[dict],
    runnable: list[tuple[int, dict]],
    session,
    holding: Holding,
    secrets: list[str],
) -> Outcome:
    output = holding.output
    assert output is not None
    last_exit: int | None = None
    tolerated = 0
    for position, (index, step) in enumerate(runnable):
        if holding.cancel.is_set():
            stop = _stop_status(row.run_id) or (TargetStatus.CANCELED, "canceled")
            _skip_rest(row, [i for i, _ in runnable[position:]], f"not started: {stop[1]}")
            return Outcome(stop[0], stop[1], last_exit)
        _start_step(row, index, step)
        started = time.monotonic()
        step_status, reason, exit_code = StepStatus.FAILED, "", None
        try:
            result = _run_one(session, row, context, step, index, holding)
        except ConnectionLost as exc:
            output.end_step(index)
            reason = (
                f"connection lost during step {index + 1} ({step['name']}): "
                f"{mask(str(exc), secrets)}"
            )
            _end_step(row, index, StepStatus.FAILED, reason, None, started)
            _skip_rest(
                row, [i for i, _ in runnable[position + 1 :]], "not started: connection lost"
            )
            report_connection_outcome(target_id=row.target_id, status="unreachable", message=reason)
            return Outcome(TargetStatus.UNREACHABLE, reason, last_exit)
        except TransportError as exc:
            output.end_step(index)
            reason = mask(str(exc), secrets)
            result = None
        if result is not None:
            exit_code = result.exit_code
            if result.canceled:
                stop = _stop_status(row.run_id) or (TargetStatus.CANCELED, "canceled")
                step_status, reason = stop[0], stop[1]
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
        _end_step(row, index, step_status, reason, exit_code, started, output)
        if exit_code is not None:
            last_exit = exit_code
        if step_status == StepStatus.SUCCEEDED:
            continue
        if (
            step_status in (StepStatus.CANCELED, StepStatus.TIMED_OUT)
            and result
            and result.canceled
        ):
            _skip_rest(row, [i for i, _ in runnable[position + 1 :]], f"not started: {reason}")
            return Outcome(step_status, reason, last_exit)
        if step["continue_on_error"]:
            tolerated += 1
            continue
        _skip_rest(
            row,
            [i for i, _ in runnable[position + 1 :]],
            f"not started: step {index + 1} ({step['name']}) did not succeed",
        )
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


def _start_step(row: RunTarget, index: int, step: dict) -> None:
    seq = reserve_seq(row.run_id)
    now = timezone.now()
    with transaction.atomic(using=DB):
        RunTarget.objects.using(DB).filter(pk=row.id).update(
            step_started=index, heartbeat_at=now, updated_at=now
        )
        RunStep.objects.using(DB).filter(run_target_id=row.id, index=index).update(
            status=StepStatus.RUNNING, started_at=now, updated_at=now
        )
        log_append(
            row.run_id,
            [
                state_entry(
                    type="step",
                    run_target_id=row.id,
                    step=index,
                    name=step["name"],
                    status=StepStatus.RUNNING,
                )
            ],
            first_seq=seq,
        )


def _end_step(
    row: RunTarget,
    index: int,
    status: str,
    reason: str,
    exit_code: int | None,
    started: float,
    output: TargetOutput | None = None,
) -> None:
    """Record a step's result, with the output it still had buffered, in one transaction."""
    chunks = output.end_step(index, flush=False) if output is not None else []
    entries = [_output_entry(row.id, chunk) for chunk in chunks]
    now = timezone.now()
    duration = round((time.monotonic() - started) * 1000)
    entries.append(
        state_entry(
            type="step",
            run_target_id=row.id,
            step=index,
            status=status,
            exit_code=exit_code,
            reason=reason,
            duration_ms=duration,
        )
    )
    seq = reserve_seq(row.run_id, len(entries))
    with transaction.atomic(using=DB):
        RunStep.objects.using(DB).filter(run_target_id=row.id, index=index).update(
            status=status,
            reason=reason[:1000],
            exit_code=exit_code,
            finished_at=now,
            duration_ms=duration,
            updated_at=now,
        )
        log_append(row.run_id, entries, first_seq=seq)


def _output_entry(run_target_id: uuid.UUID, chunk: Chunk) -> LogEntry:
    return LogEntry(
        kind="output",
        data=chunk.text,
        run_target_id=run_target_id,
        step_index=chunk.step_index if chunk.step_index >= 0 else None,
        stream=chunk.stream,
    )


def _skip_rest(row: RunTarget, indexes: list[int], reason: str) -> None:
    if indexes:
        RunStep.objects.using(DB).filter(
            run_target_id=row.id, index__in=indexes, status=StepStatus.PENDING
        ).update(status=StepStatus.SKIPPED, reason=reason[:1000], updated_at=timezone.now())


def _store_output(run_id: uuid.UUID, run_target_id: uuid.UUID, chunks: list[Chunk]) -> None:
    seq = reserve_seq(run_id, len(chunks))
    with transaction.atomic(using=DB):
        log_append(run_id, [_output_entry(run_target_id, c) for c in chunks], first_seq=seq)


def _finish(row: RunTarget, outcome: Outcome, output: TargetOutput | None) -> None:
    if output is not None:
        output.close()
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": outcome.status,
        "reason": outcome.reason[:1000],
        "exit_code": outcome.exit_code,
        "finished_at": now,
        "updated_at": now,
    }
    if output is not None:
        fields.update(
            output_bytes=output.stored_bytes + output.dropped_bytes,
            output_truncated=output.truncated,
            output_digest=output.digest,
            output_sample=(
                output.sample_of_step(outcome.step_index) if outcome.step_index is not None else ""
            )
            or output.sample,
        )
    seq = reserve_seq(row.run_id)
    with transaction.atomic(using=DB):
        updated = (
            RunTarget.objects.using(DB)
            .filter(pk=row.id, status=TargetStatus.RUNNING)
            .update(**fields)
        )
        if not updated:  # the reaper declared it lost meanwhile: its verdict stands
            log_append(
                row.run_id,
                [
                    state_entry(
                        type="note",
                        run_target_id=row.id,
                        name=row.target_name,
                        message=f"a late result ({outcome.status}) was discarded: the "
                        "target had been declared lost",
                    )
                ],
                first_seq=seq,
            )
            return
        RunStep.objects.using(DB).filter(
            run_target_id=row.id, status__in=(StepStatus.PENDING, StepStatus.RUNNING)
        ).update(
            status=StepStatus.SKIPPED, reason=outcome.reason[:1000] or "not run", updated_at=now
        )
        log_append(
            row.run_id,
            [
                state_entry(
                    type="target",
                    run_target_id=row.id,
                    name=row.target_name,
                    status=outcome.status,
                    exit_code=outcome.exit_code,
                    reason=outcome.reason,
                )
            ],
            first_seq=seq,
        )
        # one event per target of a run: relayed in batches by the worker (worker.py)
        publish(
            "execution.target.finished",
            {
                "run_id": str(row.run_id),
                "run_target_id": str(row.id),
                "target_id": str(row.target_id),
                "target_name": row.target_name,
                "status": outcome.status,
                "exit_code": outcome.exit_code,
                "reason": outcome.reason,
            },
            relay=False,
        )


__all__ = ["MASK", "execute"]
