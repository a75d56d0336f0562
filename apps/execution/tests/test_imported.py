"""Imported history: runs of the legacy system stored read-only through the interface, shown by
the runs API with their targets, steps and output, never canceled, retried, advanced or reaped,
and imported once per legacy reference."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.exceptions import ValidationError

from apps.execution import services
from apps.execution.interface import (
    ImportedRun,
    ImportedStep,
    ImportedTarget,
    run_import_history,
)
from apps.execution.models import Run, RunEvent, RunStep, RunTarget
from apps.execution.tests.conftest import ok
from opsconductor.events import Actor
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")

IMPORTER = Actor(kind="system", id=None, name="legacy import")
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
JOB = uuid.UUID("00000000-0000-4000-8000-000000000001")


def step(order, status="succeeded", *, exit_code=0, output="", error="", start=0, **kw):
    return ImportedStep(
        order=order, name=f"step {order}", kind="command", status=status,
        started_at=T0 + timedelta(seconds=start), finished_at=T0 + timedelta(seconds=start + 2),
        exit_code=exit_code, command=f"echo step{order}", output=output, error=error, **kw,
    )  # fmt: skip


def legacy_run(ref="EXEC-00000001", *, user=None, targets=None, **overrides) -> ImportedRun:
    web = ImportedTarget(
        target_id=uuid.uuid4(), target_name="web-01", status="succeeded",
        steps=(step(1, output="hello from web-01\n"), step(2, output="disk ok\n", start=3)),
    )  # fmt: skip
    db = ImportedTarget(
        target_id=uuid.uuid4(), target_name="db-01", status="failed",
        steps=(step(2, "failed", exit_code=2, error="df: /data: No such file\n", start=3),
               step(1, output="hello from db-01\n")),
    )  # fmt: skip
    values = {"legacy_ref": ref, "job_id": JOB, "job_name": "disk check", "status": "failed",
              "targets": (web, db) if targets is None else targets, "created_at": T0,
              "started_at": T0, "finished_at": T0 + timedelta(seconds=6), "total_targets": 2,
              "succeeded_targets": 1, "failed_targets": 1, "requested_by_user_id": user,
              "requested_by_name": "alice"}  # fmt: skip
    values.update(overrides)
    return ImportedRun(**values)


def test_an_imported_run_reads_like_any_run_with_its_targets_steps_and_output(admin_api):
    made = run_import_history(run=legacy_run(user=admin_api.user.pk), actor=IMPORTER)
    assert made.created

    listed = ok(admin_api.get("/api/v1/runs/?imported=true"))["results"]
    assert [r["id"] for r in listed] == [str(made.run_id)]
    assert ok(admin_api.get("/api/v1/runs/?imported=false"))["results"] == []
    run = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/"))
    assert (run["imported"], run["legacy_ref"], run["trigger"]) == (True, "EXEC-00000001",
                                                                    "imported")  # fmt: skip
    assert (run["status"], run["target_count"], run["job_name"]) == ("failed", 2, "disk check")
    assert run["created_at"].startswith("2025-03-04T10:00:00")
    assert run["duration_ms"] == 6000
    assert run["requested_by"] == {"kind": "user", "id": str(admin_api.user.pk), "name": "alice"}
    assert run["requested_by_user_id"] == str(admin_api.user.pk)
    assert run["counts"] == {"succeeded": 1, "failed": 1}
    assert run["legacy_counts"] == {"total": 2, "succeeded": 1, "failed": 1}
    assert [s["name"] for s in run["steps"]] == ["step 1", "step 2"]
    assert "1 target failed, exit 2" in run["summary"]["groups"][0]["description"]

    targets = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/targets/"))["results"]
    assert [t["target_name"] for t in targets] == ["web-01", "db-01"]
    db = targets[1]
    assert (db["status"], db["exit_code"]) == ("failed", 2)
    assert [(s["index"], s["status"], s["exit_code"], s["command"]) for s in db["steps"]] == [
        (1, "succeeded", 0, "echo step1"),
        (2, "failed", 2, "echo step2"),
    ]
    assert db["steps"][1]["reason"] == "df: /data: No such file\n"
    assert db["steps"][1]["duration_ms"] == 2000

    output = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/targets/{db['target_id']}/output/"))
    assert [(c["step"], c["stream"], c["text"]) for c in output["chunks"]] == [
        (1, "stdout", "hello from db-01\n"),
        (2, "stderr", "df: /data: No such file\n"),
    ]
    assert output["complete"] is True and output["status"] == "failed"


def test_importing_the_same_legacy_run_twice_changes_nothing_and_publishes_nothing(admin_api):
    before = OutboxEvent.objects.using("execution").count()
    first = run_import_history(run=legacy_run(), actor=IMPORTER)
    rows = (Run.objects.count(), RunTarget.objects.count(), RunStep.objects.count(),
            RunEvent.objects.count())  # fmt: skip

    again = run_import_history(run=legacy_run(status="succeeded"), actor=IMPORTER)

    assert (again.run_id, again.created) == (first.run_id, False)
    assert rows == (1, 2, 4, 5) == (Run.objects.count(), RunTarget.objects.count(),
                                    RunStep.objects.count(), RunEvent.objects.count())  # fmt: skip
    assert Run.objects.get().status == "failed"
    # no run.finished (or any per-run event) that alerts or subscribers would react to
    assert OutboxEvent.objects.using("execution").count() == before


def test_an_imported_run_cannot_be_canceled_or_retried(admin_api, operator_api):
    made = run_import_history(run=legacy_run(), actor=IMPORTER)

    for path in ("cancel", "retry"):
        response = operator_api.post(f"/api/v1/runs/{made.run_id}/{path}/", {}, format="json")
        assert response.status_code == 409, response.content
        error = response.json()["error"]
        assert error["code"] == "conflict" and "EXEC-00000001" in error["message"]
        assert "read-only history" in error["message"]
    assert Run.objects.count() == 1 and Run.objects.get().cancel_requested_at is None


def test_a_legacy_run_without_kept_results_shows_the_counts_it_recorded(admin_api):
    made = run_import_history(
        run=legacy_run(targets=(), total_targets=40, succeeded_targets=38, failed_targets=2),
        actor=IMPORTER,
    )

    run = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/"))
    assert (run["target_count"], run["counts"]) == (40, {"succeeded": 38, "failed": 2})
    assert run["legacy_counts"] == {"total": 40, "succeeded": 38, "failed": 2}
    assert ok(admin_api.get(f"/api/v1/runs/{made.run_id}/targets/"))["results"] == []


def test_imported_history_stays_out_of_the_run_metrics(client):
    from apps.execution.tests.test_metrics import scrape, value

    before = scrape(client)
    recent = datetime.now(UTC) - timedelta(seconds=30)  # finished in the legacy system just now
    run_import_history(run=legacy_run(started_at=recent, finished_at=recent), actor=IMPORTER)
    after = scrape(client)

    for status in ("failed", "succeeded"):
        assert value(after, "opsconductor_runs_finished_total", status=status) == value(
            before, "opsconductor_runs_finished_total", status=status
        )
    assert value(after, "opsconductor_runs", status="failed") == value(
        before, "opsconductor_runs", status="failed"
    )
    assert value(after, "opsconductor_run_duration_seconds_gcount") == value(
        before, "opsconductor_run_duration_seconds_gcount"
    )
    assert (
        value(after, "opsconductor_runs_imported")
        == value(before, "opsconductor_runs_imported") + 1
    )


def test_the_reaper_and_run_advance_leave_imported_runs_alone():
    canceled = ImportedTarget(target_id=uuid.uuid4(), target_name="app-01", status="canceled",
                              steps=(step(1, "canceled", exit_code=None),))  # fmt: skip
    made = run_import_history(
        run=legacy_run(
            targets=(canceled,),
            status="canceled",
            status_reason="was still running in the legacy system when it was imported",
            finished_at=None,
        ),
        actor=IMPORTER,
    )
    far_later = datetime.now(UTC) + timedelta(days=30)

    done = services.run_reap(now=far_later)
    services.run_advance(made.run_id, now=far_later)

    assert done.get("advanced", 0) == done.get("lost", 0) == 0
    run = Run.objects.get()
    assert (run.status, run.finished_at, run.status_reason) == (
        "canceled",
        None,
        "was still running in the legacy system when it was imported",
    )
    assert RunTarget.objects.get().status == "canceled"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "running"}, "status"),
        ({"legacy_ref": ""}, "legacy_ref"),
        ({"started_at": datetime(2025, 3, 4, 10)}, "started_at"),
        (
            {"targets": (ImportedTarget(target_id=None, target_name="x", status="queued"),)},
            "targets.0.status",
        ),
        (
            {
                "targets": (
                    ImportedTarget(
                        target_id=None, target_name="x", status="failed", steps=(step(1), step(1))
                    ),
                )
            },
            "targets.0.steps.1.order",
        ),
        (
            {
                "targets": (
                    ImportedTarget(
                        target_id=None, target_name="x", status="failed", steps=(step(0),)
                    ),
                )
            },
            "targets.0.steps.0.order",
        ),
        (
            {
                "targets": (
                    ImportedTarget(
                        target_id=None,
                        target_name="x",
                        status="failed",
                        steps=(step(1, "pending"),),
                    ),
                )
            },
            "targets.0.steps.0.status",
        ),
    ],
)
def test_data_that_cannot_be_history_is_refused_naming_the_field_and_nothing_is_saved(
    overrides, field
):
    with pytest.raises(ValidationError) as caught:
        run_import_history(run=legacy_run(**overrides), actor=IMPORTER)

    assert field in caught.value.detail
    assert not Run.objects.exists() and not RunTarget.objects.exists()


def test_a_target_that_was_not_imported_keeps_its_name_and_output_over_the_limit_is_cut(
    admin_api, settings
):
    settings.EXECUTION_OUTPUT_LIMIT_BYTES = 1000
    gone = ImportedTarget(target_id=None, target_name="decommissioned-07", status="succeeded",
                          steps=(step(1, output="x" * 5000),))  # fmt: skip
    twin = ImportedTarget(target_id=None, target_name="decommissioned-07", status="succeeded")
    made = run_import_history(
        run=legacy_run(targets=(gone, twin), status="succeeded"), actor=IMPORTER
    )  # legacy target names are not unique: two gone targets of one name stay two

    listed = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/targets/"))["results"]
    assert [t["target_name"] for t in listed] == ["decommissioned-07"] * 2
    target = listed[0]
    assert target["output_truncated"] is True and target["output_bytes"] == 1000
    output = ok(admin_api.get(f"/api/v1/runs/{made.run_id}/targets/{target['target_id']}/output/"))
    assert "output truncated" in output["chunks"][-1]["text"]


def test_import_throughput(capsys):
    """Many runs one call each (the importer's way): measured, and every row stored."""
    runs = 300
    started = time.perf_counter()
    for number in range(runs):
        run_import_history(run=legacy_run(f"EXEC-{number:08d}"), actor=IMPORTER)
    elapsed = time.perf_counter() - started

    rows = (Run.objects.count() + RunTarget.objects.count() + RunStep.objects.count()
            + RunEvent.objects.count())  # fmt: skip
    assert rows == runs * (1 + 2 + 4 + 5)
    with capsys.disabled():
        print(
            f"\nimported {runs} runs ({rows} rows) in {elapsed:.2f} s: {runs / elapsed:.0f} runs/s, "
            f"{rows / elapsed:.0f} rows/s; results (targets x steps) "
            f"{runs * 4 / elapsed:.0f}/s"
        )
