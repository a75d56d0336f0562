"""GET /api/v1/runs/stats/: the dashboard's runs of the last day by status, per hour, and the
runs going on now; the same numbers as the list's filters, in constant queries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.execution.models import Run
from apps.execution.tests.conftest import ok

pytestmark = pytest.mark.django_db(databases="__all__")


def make_run(status: str, *, age: timedelta = timedelta(minutes=5), imported: bool = False):
    run = Run.objects.using("execution").create(
        job_id=uuid.uuid4(),
        job_name="backup",
        job_version=1,
        definition={"steps": []},
        sealed_parameters="",
        policy={},
        trigger="imported" if imported else "manual",
        requested_by={},
        status=status,
        imported=imported,
    )
    Run.objects.using("execution").filter(pk=run.pk).update(created_at=timezone.now() - age)
    return run


def test_runs_of_the_last_day_by_status_per_hour_and_the_runs_going_on_now(admin_api):
    for status in ("failed", "failed", "succeeded", "running", "pending"):
        make_run(status)
    make_run("succeeded", age=timedelta(hours=3))
    make_run("failed", age=timedelta(hours=30))  # before the window
    make_run("running", age=timedelta(hours=30))  # before the window, but still going
    make_run("failed", imported=True)  # imported history is not today's work

    stats = ok(admin_api.get("/api/v1/runs/stats/"))

    assert stats["total"] == 6
    assert stats["totals"] == {
        "pending": 1, "running": 1, "succeeded": 2, "failed": 2, "canceled": 0, "timed_out": 0,
    }  # fmt: skip
    assert stats["active"] == {"pending": 1, "running": 2}
    assert len(stats["buckets"]) in (24, 25)  # every hour of the window, the current one too
    last, three_hours_ago = stats["buckets"][-1], stats["buckets"][-4]
    assert last["counts"]["failed"] == 2 and last["counts"]["running"] == 1
    assert three_hours_ago["counts"]["succeeded"] == 1
    assert sum(sum(b["counts"].values()) for b in stats["buckets"]) == 6

    # the numbers are the list's: ?created_after=<since>&status=failed
    listed = ok(
        admin_api.get("/api/v1/runs/", {"created_after": stats["since"], "status": "failed",
                                        "imported": "false"})
    )  # fmt: skip
    assert listed["count"] == stats["totals"]["failed"]


def test_a_given_window_and_bad_windows_are_refused_naming_since(admin_api, client):
    make_run("failed", age=timedelta(hours=30))
    since = (timezone.now() - timedelta(hours=48)).isoformat()
    stats = ok(admin_api.get("/api/v1/runs/stats/", {"since": since}))
    assert stats["totals"]["failed"] == 1 and len(stats["buckets"]) in (48, 49)

    for bad in ("yesterday", (timezone.now() + timedelta(hours=1)).isoformat(),
                (timezone.now() - timedelta(days=40)).isoformat()):  # fmt: skip
        response = admin_api.get("/api/v1/runs/stats/", {"since": bad})
        assert response.status_code == 400, (bad, response.content)
        assert "since" in response.json()["error"]["fields"]
    assert client.get("/api/v1/runs/stats/").status_code == 401


def test_the_stats_take_the_same_queries_for_ten_runs_as_for_a_hundred(admin_api):
    def queries() -> int:
        with CaptureQueriesContext(connections["execution"]) as captured:
            ok(admin_api.get("/api/v1/runs/stats/"))
        return len(captured)

    for _ in range(10):
        make_run("succeeded")
    few = queries()
    for i in range(90):
        make_run("failed", age=timedelta(minutes=i * 10))
    assert queries() == few
