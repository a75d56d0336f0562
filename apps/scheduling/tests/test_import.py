"""Schedules imported from another system through the interface: validated like any other,
keeping the firings already made, idempotent by id, quiet unless asked to publish."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest
from rest_framework.exceptions import ValidationError

from apps.scheduling.interface import ScheduleSpec, schedule_import, schedule_spec_fire_times
from apps.scheduling.models import Schedule
from apps.scheduling.tests.test_schedules import run_clock
from opsconductor.events import SYSTEM, Actor
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

IMPORTER = Actor(kind="system", id=None, name="legacy import")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(job, **overrides) -> ScheduleSpec:
    values = {"name": "legacy schedule #7", "kind": "calendar", "job_id": uuid.UUID(job["id"]),
              "timezone": "America/New_York", "frequency": "weekly", "every": 1,
              "time_of_day": time(1, 30), "days_of_week": (6, 2), "description": "backups"}  # fmt: skip
    values.update(overrides)
    return ScheduleSpec(**values)


def test_an_imported_schedule_keeps_counting_its_firings_towards_the_maximum(make_job):
    job = make_job()
    spec = weekly(job, max_firings=5, firings_made=3, last_fired_at=utc(2026, 10, 28, 5, 30))

    made = schedule_import(spec=spec, actor=IMPORTER, now=utc(2026, 10, 29))
    schedule = Schedule.objects.get(pk=made)

    assert (schedule.fired_count, schedule.max_firings, schedule.description) == (3, 5, "backups")
    assert schedule.next_fire_at == utc(2026, 11, 1, 5, 30)  # Sunday 01:30 EDT, the first one
    fired = run_clock(schedule, utc(2026, 12, 1))
    assert [f.scheduled_for for f in fired] == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 4, 6, 30)]
    schedule.refresh_from_db()
    assert schedule.next_fire_at is None and "maximum of 5" in schedule.finished_reason
    assert schedule_spec_fire_times(spec=spec, after=utc(2026, 10, 29), count=20) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 4, 6, 30),
    ]  # the preview leaves out what the maximum would not fire too


def test_a_schedule_already_at_its_maximum_or_disabled_has_nothing_due(make_job):
    job = make_job()
    done = schedule_import(
        spec=weekly(job, max_firings=2, firings_made=2), actor=IMPORTER, now=utc(2026, 6, 1)
    )
    paused = schedule_import(
        spec=weekly(job, name="paused", enabled=False), actor=IMPORTER, now=utc(2026, 6, 1)
    )

    assert Schedule.objects.get(pk=done).next_fire_at is None
    assert Schedule.objects.get(pk=paused).enabled is False
    assert Schedule.objects.get(pk=paused).next_fire_at is None


def test_importing_twice_with_the_same_id_creates_one_schedule_and_is_quiet(make_job, admin_api):
    job = make_job()
    schedule_id = uuid.uuid4()
    creator = admin_api.user.pk

    first = schedule_import(
        spec=weekly(job, created_by_user_id=creator), actor=IMPORTER, schedule_id=schedule_id
    )
    again = schedule_import(spec=weekly(job, description="changed"), actor=IMPORTER,
                            schedule_id=schedule_id)  # fmt: skip

    assert first == again == schedule_id
    schedule = Schedule.objects.get()
    assert schedule.description == "backups"
    assert schedule.created_by == {"kind": "user", "id": str(creator), "name": "sched-admin"}
    assert schedule.updated_by["name"] == "legacy import"
    created = OutboxEvent.objects.using("scheduling").filter(
        event_type="scheduling.schedule.created"
    )
    assert not created.exists()  # an import publishes one summary per table, not one per row
    schedule_import(spec=weekly(job, name="loud"), actor=IMPORTER, publish_event=True)
    assert created.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"days_of_week": ()}, "days_of_week"),
        ({"frequency": "monthly", "days_of_week": (), "day_of_month": 32}, "day_of_month"),
        (
            {
                "kind": "cron",
                "frequency": "",
                "time_of_day": None,
                "days_of_week": (),
                "cron": "0 25 * * *",
                "every": None,
            },
            "cron",
        ),
        ({"job_id": None}, "job"),
        ({"job_id": uuid.uuid4()}, "job"),
        ({"max_firings": 0}, "max_firings"),
        ({"firings_made": -1}, "firings_made"),
        ({"name": ""}, "name"),
        ({"misfire_policy": "whenever"}, "misfire_policy"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field_and_nothing_is_saved(make_job, overrides, field):
    job = make_job()
    with pytest.raises(ValidationError) as caught:
        schedule_import(spec=weekly(job, **overrides), actor=SYSTEM)

    assert field in caught.value.detail
    assert not Schedule.objects.exists()


def test_a_taken_name_is_refused(make_job):
    job = make_job()
    schedule_import(spec=weekly(job), actor=IMPORTER)
    with pytest.raises(ValidationError) as caught:
        schedule_import(spec=weekly(job), actor=IMPORTER)
    assert "name" in caught.value.detail and Schedule.objects.count() == 1
