"""The writer through a database outage (writer.py, "backlog"): what targets report while the
database is away is kept (in memory, then in the spill file), written when it is back, in order
and once, also after a restart of the worker; and the reaper does not call those targets lost.

The outage is real: the test database refuses connections and its backends are ended
(``tests/db_outage.py``); the server itself is not touched."""

from __future__ import annotations

import json
import shutil
import stat
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from apps.execution import writer as writer_module
from apps.execution.models import RunStep, RunTarget, StepStatus, TargetStatus
from apps.execution.output import Chunk
from apps.execution.services import ReapGate
from apps.execution.tests.test_writer import DB, Recorder, log_of, make_run
from apps.execution.writer import TargetDone, WriteFailed, Writer, write_batch
from opsconductor.events.models import OutboxEvent
from tests.db_outage import DatabaseCut, database_cut
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(databases=[DB], transaction=True)


@pytest.fixture(autouse=True)
def quick_retry(settings):
    settings.EXECUTION_WRITER_RETRY_SECONDS = 0.2


def writer_for(recorder: Recorder, tmp_path=None, **limits) -> Writer:
    return Writer(
        report_health=recorder.health.extend,
        on_targets_done=recorder.done_runs.append,
        spill_path=None if tmp_path is None else tmp_path / "spill" / "w1.jsonl",
        **limits,
    )


def report_life(writer: Writer, run, row, lines: int = 3) -> None:
    """What a target reports after its step started: output, the step's end, its result."""
    for n in range(lines):
        writer.output(run.id, row.id, [Chunk(0, "stdout", f"{row.target_name} line {n}\n")])
    writer.step_ended(run.id, row.id, 0, status=StepStatus.SUCCEEDED, reason="", exit_code=0,
                      duration_ms=5, chunks=[Chunk(0, "stdout", "done\n")])  # fmt: skip
    writer.health(row.target_id, "healthy")
    writer.target_done(
        TargetDone(
            run_id=run.id,
            run_target_id=row.id,
            target_id=row.target_id,
            target_name=row.target_name,
            status=TargetStatus.SUCCEEDED,
            exit_code=0,
            output={"output_bytes": 30, "output_sample": "done"},
        )
    )


def expected_log(row, lines: int = 3) -> list[tuple[str, str]]:
    return [
        ("state", "running"),
        *[("output", f"{row.target_name} line {n}\n") for n in range(lines)],
        ("output", "done\n"),
        ("state", "succeeded"),  # the step
        ("state", "succeeded"),  # the target
    ]


def assert_written_once_in_order(run, rows, lines: int = 3) -> None:
    log = log_of(run)
    seqs = [e["seq"] for e in log]
    assert len(seqs) == len(set(seqs))
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.exit_code, row.output_sample) == ("succeeded", 0, "done")
        mine = [
            (e["kind"], json.loads(e["data"]).get("status") if e["kind"] == "state" else e["data"])
            for e in log
            if e["target"] == row.id
        ]
        assert mine == expected_log(row, lines)  # everything, once, in the order reported
        step = RunStep.objects.using(DB).get(run_target=row, index=0)
        assert (step.status, step.exit_code) == ("succeeded", 0)
    events = OutboxEvent.objects.using(DB).filter(event_type="execution.target.finished")
    assert sorted(e.payload["run_target_id"] for e in events) == sorted(str(r.id) for r in rows)


def start_steps(writer, run, rows) -> None:
    for row in rows:
        writer.step_started(run.id, row.id, 0, "s0")


def test_reports_made_during_an_outage_are_written_when_the_database_is_back(tmp_path):
    run, rows = make_run(targets=3, steps=1)
    recorder = Recorder()
    writer = writer_for(recorder, tmp_path)
    start_steps(writer, run, rows)
    with database_cut():
        for row in rows:
            report_life(writer, run, row)
        assert not writer.barrier(timeout=1.5)  # held, not written, not dropped
        assert writer.backlog()["batches"] >= 1 and writer.dropped == 0
    assert writer.barrier(timeout=20)
    writer.stop()

    assert_written_once_in_order(run, rows)
    assert [t for t, _, _ in recorder.health] == [r.target_id for r in rows]
    assert set().union(*recorder.done_runs) == {run.id}
    assert writer.spilled == 0  # it fitted in memory


def test_a_batch_whose_commit_answer_was_lost_is_not_written_twice(monkeypatch, tmp_path):
    run, rows = make_run(targets=2, steps=1)
    writer = writer_for(Recorder(), tmp_path)
    start_steps(writer, run, rows)
    lost_answers = []

    def commits_then_loses_the_answer(ops, **kwargs):
        result = write_batch(ops, **kwargs)
        if not lost_answers and any(isinstance(op, TargetDone) for op in ops):
            lost_answers.append(len(ops))
            connections[DB].close()
            raise OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(writer_module, "write_batch", commits_then_loses_the_answer)
    for row in rows:
        report_life(writer, run, row)
    assert writer.barrier(timeout=20)
    writer.stop()

    assert lost_answers, "the batch with the results was committed and its answer lost"
    assert_written_once_in_order(run, rows)
    assert "late result" not in json.dumps([e["data"] for e in log_of(run)])


def test_a_long_outage_spills_to_disk_within_the_memory_bound_and_replays_in_order(tmp_path):
    run, rows = make_run(targets=4, steps=1)
    writer = writer_for(Recorder(), tmp_path, memory_limit=2000)
    start_steps(writer, run, rows)
    path = tmp_path / "spill" / "w1.jsonl"
    with database_cut():
        for row in rows:
            report_life(writer, run, row, lines=20)
            time.sleep(0.05)  # several batches
        wait_for(lambda: writer.spilled >= 3, timeout=5, what="the backlog to spill")
        assert writer.spilled >= 1 and path.stat().st_size > 0
        assert writer.backlog()["memory_bytes"] <= 2000 + 5000  # the bound, plus one batch
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "line 0" in path.read_text()  # output, as it was (masked before the writer)
    assert writer.barrier(timeout=30)
    writer.stop()

    assert_written_once_in_order(run, rows, lines=20)
    assert path.stat().st_size == 0  # emptied once written


def test_a_spill_file_left_by_a_stopped_worker_is_replayed_once_by_the_next(tmp_path):
    run, rows = make_run(targets=3, steps=1)
    first = writer_for(Recorder(), tmp_path)
    start_steps(first, run, rows)
    path = tmp_path / "spill" / "w1.jsonl"
    with database_cut():
        for row in rows:
            report_life(first, run, row)
        first.stop(timeout=20)  # the worker stops while the database is away: it spills
        assert path.stat().st_size > 0
    shutil.copy(path, tmp_path / "copy.jsonl")

    second = writer_for(Recorder(), tmp_path)
    assert second.recover()
    assert second.barrier(timeout=20)
    second.stop()
    assert_written_once_in_order(run, rows)

    # a crash after writing but before emptying the file: the next replay writes nothing twice
    shutil.copy(tmp_path / "copy.jsonl", path)
    third = writer_for(Recorder(), tmp_path)
    assert third.recover()
    assert third.barrier(timeout=20)
    third.stop()
    assert_written_once_in_order(run, rows)


def test_beyond_the_spill_bound_reports_are_dropped_and_counted(tmp_path):
    run, (row,) = make_run(targets=1, steps=1)
    writer = writer_for(Recorder(), tmp_path, memory_limit=100, spill_limit=100)
    writer.step_started(run.id, row.id, 0, "s0")
    with database_cut():
        report_life(writer, run, row, lines=10)
        time.sleep(0.5)
        report_life(writer, run, row, lines=10)
        assert writer.barrier(timeout=5)  # answered: what could not be kept has failed
        assert writer.dropped > 0
    writer.stop()


def test_a_step_start_during_an_outage_fails_and_is_never_written_late(monkeypatch, tmp_path):
    monkeypatch.setattr(writer_module, "START_TIMEOUT_SECONDS", 1)
    run, (row,) = make_run(targets=1, steps=1)
    writer = writer_for(Recorder(), tmp_path)
    with database_cut(), pytest.raises(WriteFailed):
        writer.step_started(run.id, row.id, 0, "s0")  # so the step is not run
    assert writer.barrier(timeout=20)
    writer.stop()
    assert RunStep.objects.using(DB).get(run_target=row, index=0).status == StepStatus.PENDING
    assert log_of(run) == []


def test_the_reaper_judges_no_heartbeat_until_the_database_has_been_back_long_enough(settings):
    settings.EXECUTION_LOST_AFTER_SECONDS = 2
    settings.EXECUTION_HEARTBEAT_SECONDS = 0.5
    _run, (row,) = make_run(targets=1, steps=1)
    RunTarget.objects.using(DB).filter(pk=row.pk).update(
        step_started=0, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    gate = ReapGate()
    cut = DatabaseCut()
    cut.cut()
    try:
        with pytest.raises(OperationalError):
            gate.run()  # the reaper's own pass fails: it saw the outage
    finally:
        cut.restore()
    back = time.monotonic()
    assert gate.run().get("held") == 1  # back, but not for long enough: no verdict yet
    row.refresh_from_db()
    assert row.status == TargetStatus.RUNNING
    # passes every 0.5 s, as the reaper runs: once reachable for LOST_AFTER (2 s), judged
    while not gate.run().get("lost"):
        assert time.monotonic() - back < 5
        time.sleep(0.5)
    assert time.monotonic() - back >= 2
    row.refresh_from_db()
    assert row.status == TargetStatus.LOST


def test_a_reaper_that_saw_no_outage_judges_at_once(monkeypatch):
    # a process that never lost the database (the earlier tests' outages were this process's)
    monkeypatch.setattr("opsconductor.db.reconnect._last_loss", None)
    _run, (row,) = make_run(targets=1, steps=1)
    RunTarget.objects.using(DB).filter(pk=row.pk).update(
        step_started=0, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert ReapGate().run().get("lost") == 1
