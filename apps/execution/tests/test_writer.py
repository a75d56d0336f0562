"""The workers' group-commit writer (writer.py) on the real database: what targets report is
written in batches, in order, and one bad report cannot take the others with it."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from apps.execution.models import (
    Run,
    RunEvent,
    RunStatus,
    RunStep,
    RunTarget,
    StepStatus,
    TargetStatus,
)
from apps.execution.output import Chunk
from apps.execution.writer import TargetDone, Writer, write_batch
from opsconductor.events.models import OutboxEvent

DB = "execution"
pytestmark = pytest.mark.django_db(databases=[DB], transaction=True)


def make_run(targets: int = 3, steps: int = 2) -> tuple[Run, list[RunTarget]]:
    run = Run.objects.using(DB).create(
        job_id=uuid.uuid4(), job_name="job", job_version=1, definition={}, parameters={},
        sealed_parameters="", policy={"max_parallel": 100}, trigger="manual",
        requested_by={"kind": "system"}, status=RunStatus.RUNNING, target_count=targets,
    )  # fmt: skip
    rows = [
        RunTarget.objects.using(DB).create(
            run=run,
            target_id=uuid.uuid4(),
            target_name=f"t{i}",
            os_family="linux",
            position=i,
            status=TargetStatus.RUNNING,
            worker="w",
        )
        for i in range(targets)
    ]
    RunStep.objects.using(DB).bulk_create(
        RunStep(run_target=row, index=i, name=f"s{i}", kind="command")
        for row in rows
        for i in range(steps)
    )
    return run, rows


class Recorder:
    def __init__(self):
        self.health: list[tuple] = []
        self.done_runs: list[set] = []

    def writer(self) -> Writer:
        return Writer(report_health=self.health.extend, on_targets_done=self.done_runs.append)


def log_of(run: Run) -> list[dict]:
    return [
        {"seq": e.seq, "kind": e.kind, "target": e.run_target_id, "data": e.data}
        for e in RunEvent.objects.using(DB).filter(run=run).order_by("seq")
    ]


def test_a_targets_whole_life_is_written_in_order_in_few_batches():
    run, rows = make_run(targets=3)
    recorder = Recorder()
    writer = recorder.writer()
    for row in rows:
        writer.step_started(run.id, row.id, 0, "s0")  # synchronous: committed on return
        assert RunStep.objects.using(DB).get(run_target=row, index=0).status == "running"
        writer.output(run.id, row.id, [Chunk(0, "stdout", f"hello from {row.target_name}\n")])
        writer.step_ended(run.id, row.id, 0, status=StepStatus.SUCCEEDED, reason="",
                          exit_code=0, duration_ms=5,
                          chunks=[Chunk(0, "stderr", "warn\n")])  # fmt: skip
        writer.steps_skipped(row.id, [1], "not started: because")
        writer.health(row.target_id, "healthy")
        writer.target_done(
            TargetDone(
                run_id=run.id,
                run_target_id=row.id,
                target_id=row.target_id,
                target_name=row.target_name,
                status=TargetStatus.SUCCEEDED,
                exit_code=0,
                output={"output_bytes": 20, "output_digest": "d" * 64, "output_sample": "hello"},
            )
        )
    assert writer.barrier(timeout=10)
    writer.stop()

    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.exit_code, row.output_bytes, row.output_sample) == (
            "succeeded", 0, 20, "hello"
        )  # fmt: skip
        assert row.step_started == 0 and row.finished_at is not None
        steps = {s.index: s for s in RunStep.objects.using(DB).filter(run_target=row)}
        assert (steps[0].status, steps[0].exit_code, steps[0].duration_ms) == ("succeeded", 0, 5)
        assert (steps[1].status, steps[1].reason) == ("skipped", "not started: because")
    log = log_of(run)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))  # no gaps, no duplicates
    for row in rows:  # each target's entries in the order it reported them
        mine = [e for e in log if e["target"] == row.id]
        kinds = [
            (e["kind"], json.loads(e["data"]).get("status") if e["kind"] == "state" else e["data"])
            for e in mine
        ]
        assert kinds == [
            ("state", "running"),
            ("output", f"hello from {row.target_name}\n"),
            ("output", "warn\n"),
            ("state", "succeeded"),  # the step
            ("state", "succeeded"),  # the target
        ]
    assert {e.payload["run_target_id"] for e in OutboxEvent.objects.using(DB).filter(
        event_type="execution.target.finished")} == {str(r.id) for r in rows}  # fmt: skip
    assert [t for t, _, _ in recorder.health] == [r.target_id for r in rows]
    assert set().union(*recorder.done_runs) == {run.id}


def test_what_queues_while_a_batch_is_written_is_written_together():
    run, rows = make_run(targets=50, steps=1)
    writer = Recorder().writer()
    gate = threading.Event()
    writer.after_commit(gate.wait)  # the writer is busy with this batch meanwhile
    for row in rows:
        writer.output(run.id, row.id, [Chunk(0, "stdout", "x\n")])
        writer.target_done(
            TargetDone(
                run_id=run.id,
                run_target_id=row.id,
                target_id=row.target_id,
                target_name=row.target_name,
                status=TargetStatus.SUCCEEDED,
            )
        )
    gate.set()
    assert writer.barrier(timeout=20)
    writer.stop()

    assert writer.operations == 1 + 100 + 1
    assert writer.batches <= 3  # the gate's, the 100 reports' (and perhaps the barrier's)
    assert RunTarget.objects.using(DB).filter(run=run, status="succeeded").count() == 50
    assert len(log_of(run)) == 100


def test_a_result_after_the_reaper_declared_the_target_lost_does_not_overwrite_it():
    run, (row,) = make_run(targets=1)
    RunTarget.objects.using(DB).filter(pk=row.pk).update(status=TargetStatus.LOST, reason="lost")

    done = write_batch(
        [
            TargetDone(
                run_id=run.id,
                run_target_id=row.id,
                target_id=row.target_id,
                target_name="t0",
                status=TargetStatus.SUCCEEDED,
            )
        ]
    )

    row.refresh_from_db()
    assert (row.status, row.reason) == ("lost", "lost")
    assert done == set()
    (note,) = log_of(run)
    assert "a late result (succeeded) was discarded" in note["data"]


def test_one_bad_report_does_not_lose_the_others():
    run, rows = make_run(targets=2)
    recorder = Recorder()
    writer = recorder.writer()
    gate = threading.Event()
    writer.after_commit(gate.wait)  # holds the writer so that what follows forms one batch
    writer.output(run.id, rows[0].id, [Chunk(0, "stdout", "kept\n")])
    writer.output(run.id, uuid.uuid4(), [Chunk(0, "stdout", "of no target\n")])  # foreign key
    writer.output(run.id, rows[1].id, [Chunk(0, "stdout", "kept too\n")])
    gate.set()
    assert writer.barrier(timeout=20)
    writer.stop()

    assert [e["data"] for e in log_of(run)] == ["kept\n", "kept too\n"]


def test_a_step_start_that_cannot_be_recorded_raises_in_the_targets_thread():
    from apps.execution.writer import WriteFailed

    run, _rows = make_run(targets=1)
    writer = Recorder().writer()
    with pytest.raises(WriteFailed):
        writer.step_started(run.id, uuid.uuid4(), 0, "s0")  # no such target: nothing to start
    writer.stop()


def test_reports_queued_while_the_writer_stops_are_still_written():
    run, (row,) = make_run(targets=1)
    writer = Recorder().writer()
    writer.output(run.id, row.id, [Chunk(0, "stdout", "before\n")])
    writer._queue.put(None)  # the worker is shutting down (what stop() queues)
    writer.output(run.id, row.id, [Chunk(0, "stdout", "after\n")])
    assert writer.barrier(timeout=10)  # answered, not left waiting forever
    writer.stop()
    writer.output(run.id, row.id, [Chunk(0, "stdout", "later\n")])  # starts it again
    assert writer.barrier(timeout=10)
    writer.stop()

    assert [e["data"] for e in log_of(run)] == ["before\n", "after\n", "later\n"]
