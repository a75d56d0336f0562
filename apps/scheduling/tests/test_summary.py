"""GET /api/v1/schedules/summary/ and the list's ``last_outcome`` filter: schedules whose
latest firing failed or was missed, the next firings, failed notification deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.scheduling.models import Firing, NotificationDelivery, Schedule
from apps.scheduling.tests.conftest import ok

DB = "scheduling"
pytestmark = pytest.mark.django_db(databases="__all__")


def schedule(name: str, *, outcomes=(), enabled=True, next_in: timedelta | None = None):
    made = Schedule.objects.using(DB).create(
        name=name, job_id=uuid.uuid4(), job_name=f"job-{name}", kind="cron", cron="* * * * *",
        timezone="Europe/Berlin", enabled=enabled,
        next_fire_at=timezone.now() + next_in if next_in else None,
    )  # fmt: skip
    now = timezone.now()
    # oldest first: the last one is the schedule's latest firing
    for i, outcome in enumerate(outcomes):
        outcome, _, run_status = outcome.partition(":")
        Firing.objects.using(DB).create(
            schedule=made, scheduled_for=now - timedelta(hours=len(outcomes) - i),
            outcome=outcome, run_status=run_status, revision=1,
        )  # fmt: skip
    return made


def test_summary_counts_the_latest_firings_and_matches_the_lists_filter(viewer_api, client):
    schedule(
        "cant-start", outcomes=["fired:succeeded", "failed_to_start"], next_in=timedelta(hours=2)
    )
    schedule("run-failed", outcomes=["fired:failed"], next_in=timedelta(minutes=5))
    schedule("timed-out", outcomes=["fired:timed_out"], enabled=False)
    schedule("missed", outcomes=["failed_to_start", "missed"], next_in=timedelta(hours=1))
    schedule("recovered", outcomes=["missed", "fired:succeeded"], next_in=timedelta(days=1))
    schedule("never", next_in=timedelta(minutes=1), enabled=False)
    channel_delivery = {"channel_name": "ops", "event": "failed", "subject": "job:x", "payload": {}}
    NotificationDelivery.objects.using(DB).create(status="failed", **channel_delivery)
    NotificationDelivery.objects.using(DB).create(status="delivered", **channel_delivery)

    summary = ok(viewer_api.get("/api/v1/schedules/summary/"))

    assert (summary["total"], summary["enabled"], summary["paused"]) == (6, 4, 2)
    assert (summary["last_failed"], summary["last_missed"]) == (3, 1)
    assert summary["failed_deliveries"] == 1
    # the soonest enabled firings first; paused schedules do not fire
    assert [f["name"] for f in summary["next_firings"]] == [
        "run-failed", "missed", "cant-start", "recovered",
    ]  # fmt: skip
    assert summary["next_firings"][0]["timezone"] == "Europe/Berlin"

    def listed(**params) -> list[str]:
        return sorted(
            row["name"] for row in ok(viewer_api.get("/api/v1/schedules/", params))["results"]
        )

    assert listed(last_outcome="failed") == ["cant-start", "run-failed", "timed-out"]
    assert listed(last_outcome="missed") == ["missed"]
    assert listed(last_outcome=["failed", "missed"]) == [
        "cant-start",
        "missed",
        "run-failed",
        "timed-out",
    ]
    bad = viewer_api.get("/api/v1/schedules/", {"last_outcome": "exploded"})
    assert bad.status_code == 400 and "last_outcome" in bad.json()["error"]["fields"]
    assert client.get("/api/v1/schedules/summary/").status_code == 401


def test_the_summary_takes_the_same_queries_for_many_schedules(viewer_api):
    def queries() -> int:
        with CaptureQueriesContext(connections[DB]) as captured:
            ok(viewer_api.get("/api/v1/schedules/summary/"))
        return len(captured)

    schedule("one", outcomes=["missed"], next_in=timedelta(hours=1))
    few = queries()
    for i in range(40):
        schedule(
            f"s{i}", outcomes=["fired:failed", "missed"][: 1 + i % 2], next_in=timedelta(minutes=i)
        )
    assert queries() == few
