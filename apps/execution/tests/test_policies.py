"""Run policies on real runs: parallelism, rolling batches, failure threshold, overlap, run
timeout, step timeout, and what a pending run or target says about why it waits."""

from __future__ import annotations

import itertools

import pytest

from apps.execution.tests.conftest import ok, targets_of, wait_run
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _run(client, job, **body):
    return ok(client.post("/api/v1/runs/", {"job": job["id"], **body}, format="json"), 201)


def _intervals(client, run_id):
    rows = sorted(targets_of(client, run_id).values(), key=lambda t: t["position"])
    return [(t["started_at"], t["finished_at"]) for t in rows]


def test_max_parallel_one_runs_targets_one_after_another(admin_api, make_fleet, make_job,
                                                         celery_worker):  # fmt: skip
    make_fleet(3, tag="serial")
    job = make_job([{"name": "s", "kind": "command", "command": "sleep 0.3"}],
                   selector="tag:serial", policy={"max_parallel": 1})  # fmt: skip
    run = _run(admin_api, job)
    queued = targets_of(admin_api, run["id"])
    waiting = [t for t in queued.values() if t["status"] == "pending"]
    assert waiting and all(
        t["pending_reason"] == "parallelism limit: 1 targets at a time" for t in waiting
    )
    assert wait_run(admin_api, run["id"])["status"] == "succeeded"
    spans = _intervals(admin_api, run["id"])
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # never two at once


def test_rolling_batches_start_the_next_batch_when_the_previous_has_finished(
    admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(4, tag="batch")
    job = make_job([{"name": "s", "kind": "command", "command": "sleep 0.5"}],
                   selector="tag:batch", policy={"batch_size": 2, "max_parallel": 10})  # fmt: skip
    run = _run(admin_api, job)
    later = [t for t in targets_of(admin_api, run["id"]).values() if t["batch"] == 1]
    assert {t["pending_reason"] for t in later} == {"batch 2 starts when batch 1 has finished"}
    wait_run(admin_api, run["id"])
    rows = sorted(targets_of(admin_api, run["id"]).values(), key=lambda t: t["position"])
    first_end = max(t["finished_at"] for t in rows[:2])
    assert all(t["started_at"] >= first_end for t in rows[2:])


def test_failure_threshold_skips_the_targets_not_started(admin_api, make_fleet, make_job,
                                                         celery_worker):  # fmt: skip
    make_fleet(4, tag="thresh")
    job = make_job([{"name": "f", "kind": "command", "command": "exit 4"}],
                   selector="tag:thresh",
                   policy={"max_parallel": 1, "failure_threshold": 1})  # fmt: skip
    run = _run(admin_api, job)
    done = wait_run(admin_api, run["id"])
    assert done["status"] == "failed"
    assert done["counts"] == {"failed": 2, "skipped": 2}
    skipped = [t for t in targets_of(admin_api, run["id"]).values() if t["status"] == "skipped"]
    assert {t["reason"] for t in skipped} == {
        "not started: the run's failure threshold was reached"
    }


def test_a_run_waits_for_the_previous_run_of_its_job_unless_overlap_is_allowed(
    admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(1, tag="overlap")
    job = make_job([{"name": "s", "kind": "command", "command": "sleep 1.5"}],
                   selector="tag:overlap")  # fmt: skip
    first = _run(admin_api, job)
    second = _run(admin_api, job)
    assert second["status"] == "pending"
    assert first["id"] in second["pending_reason"]
    assert "another run of this job is still going" in second["pending_reason"]
    wait_run(admin_api, first["id"])
    # the first run's end starts the waiting one (no reaper needed)
    assert wait_run(admin_api, second["id"])["status"] == "succeeded"
    assert (
        ok(admin_api.get(f"/api/v1/runs/{second['id']}/"))["started_at"]
        >= ok(admin_api.get(f"/api/v1/runs/{first['id']}/"))["finished_at"]
    )
    # allowed by a policy override: both run at once
    third = _run(admin_api, job)
    fourth = _run(admin_api, job, policy={"allow_overlap": True})
    assert fourth["status"] == "running"
    wait_run(admin_api, third["id"])
    wait_run(admin_api, fourth["id"])


def test_step_timeout_kills_the_step_and_run_timeout_stops_the_run(
    admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(1, tag="slowpoke")
    job = make_job([{"name": "s", "kind": "command", "command": "sleep 30",
                     "timeout_seconds": 1}], selector="tag:slowpoke")  # fmt: skip
    done = wait_run(admin_api, _run(admin_api, job)["id"], timeout=15)
    (target,) = targets_of(admin_api, done["id"]).values()
    assert done["status"] == "failed"
    assert target["status"] == "timed_out"
    assert "timeout of 1 s" in target["steps"][0]["reason"]

    run = _run(admin_api, job, policy={"run_timeout_seconds": 1}, version=None)
    from apps.execution.services import run_reap  # the reaper notices run deadlines

    wait_for(lambda: run_reap() is not None and ok(admin_api.get(
        f"/api/v1/runs/{run['id']}/"))["status"] == "timed_out", timeout=15,
        interval=0.5, what="the run to time out")  # fmt: skip
    (target,) = targets_of(admin_api, run["id"]).values()
    assert target["status"] == "timed_out"


def test_bad_requests_get_field_errors_and_create_nothing(admin_api, operator_api, make_job,
                                                          make_fleet, django_user_model):  # fmt: skip
    make_fleet(1, tag="bad")
    job = make_job([{"name": "s", "kind": "command", "command": "echo {{ n }}"}],
                   parameters=[{"name": "n", "type": "integer", "required": True}])  # fmt: skip
    cases = [
        ({"job": job["id"], "parameters": {"n": 1}}, "selector"),
        ({"job": job["id"], "parameters": {"n": "x"}, "selector": "tag:bad"}, "parameters.n"),
        ({"job": job["id"], "parameters": {"n": 1}, "selector": "tag:("}, "selector"),
        ({"job": job["id"], "parameters": {"n": 1}, "selector": "tag:nothing"}, "selector"),
        ({"job": job["id"], "parameters": {"n": 1}, "selector": "tag:bad",
          "policy": {"max_parallel": 0}}, "policy.max_parallel"),
        ({"job": job["id"], "parameters": {"n": 1}, "selector": "tag:bad",
          "policy": {"nope": 1}}, "policy.nope"),
        ({"job": job["id"], "version": 9, "parameters": {"n": 1}, "selector": "tag:bad"},
         "version"),
        ({"job": "00000000-0000-0000-0000-000000000000"}, "job"),
        ({"job": job["id"], "surprise": 1}, "surprise"),
    ]  # fmt: skip
    for body, field in cases:
        response = operator_api.post("/api/v1/runs/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (body, response.json())
    assert ok(admin_api.get("/api/v1/runs/"))["count"] == 0
    viewer = django_user_model.objects.create_user(username="v", password="x", role="viewer")
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(viewer)
    denied = client.post("/api/v1/runs/", {"job": job["id"]}, format="json")
    assert denied.status_code == 403
    assert APIClient().get("/api/v1/runs/").status_code == 401
