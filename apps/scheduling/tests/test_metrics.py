"""The scheduling metrics of GET /metrics: enabled schedules, firings by outcome (misfires are
the missed ones) and the scheduler's lag behind the most overdue due time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.scheduling.models import Firing, FiringOutcome, Schedule
from apps.scheduling.tests.conftest import ok

pytestmark = pytest.mark.django_db(databases="__all__")
DB = "scheduling"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_schedules_firings_and_lag(client, manager_api, make_job):
    job = make_job()
    body = {"name": "metered", "job": job["id"], "kind": "cron", "cron": "0 2 * * *"}
    made = ok(manager_api.post("/api/v1/schedules/", body, format="json"), 201)
    samples = scrape(client)
    assert value(samples, "opsconductor_metrics_collector_up", collector="scheduling") == 1.0
    assert value(samples, "opsconductor_schedules_enabled") == 1
    assert value(samples, "opsconductor_scheduler_lag_seconds") == 0  # next due at 02:00
    for outcome in ("fired", "skipped", "missed", "failed_to_start"):
        assert value(samples, "opsconductor_schedule_firings_total", outcome=outcome) == 0

    # the scheduler fell behind: its due time passed 90 s ago; two due times were missed
    schedule = Schedule.objects.using(DB).get(pk=made["id"])
    now = timezone.now()
    Schedule.objects.using(DB).filter(pk=schedule.pk).update(
        next_fire_at=now - timedelta(seconds=90)
    )
    outcomes = [*[FiringOutcome.MISSED] * 2, FiringOutcome.FIRED, FiringOutcome.STARTING]
    for days, outcome in enumerate(outcomes):
        Firing.objects.using(DB).create(
            schedule=schedule,
            scheduled_for=now - timedelta(days=days + 1),
            outcome=outcome,
            revision=schedule.revision,
        )
    samples = scrape(client)
    assert 90 <= value(samples, "opsconductor_scheduler_lag_seconds") < 120
    assert value(samples, "opsconductor_schedule_firings_total", outcome="missed") == 2
    assert value(samples, "opsconductor_schedule_firings_total", outcome="fired") == 1
    assert value(samples, "opsconductor_schedule_firings_starting") == 1

    # a paused schedule is neither enabled nor late
    ok(manager_api.post(f"/api/v1/schedules/{made['id']}/pause/", format="json"))
    samples = scrape(client)
    assert value(samples, "opsconductor_schedules_enabled") == 0
    assert value(samples, "opsconductor_scheduler_lag_seconds") == 0
