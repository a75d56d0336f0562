"""Calendar schedules: a time of day every N days, weeks (on weekdays) or months.

The pure timing (DST transitions in Berlin and New York, anchors, short months) and the API
(validation naming the field, preview, next, firing with a controlled clock, editing).

Reference transitions (2026):
  Europe/Berlin     spring 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
                    fall   2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
  America/New_York  spring 2026-03-08 07:00 UTC (02:00 EST -> 03:00 EDT)
                    fall   2026-11-01 06:00 UTC (02:00 EDT -> 01:00 EST)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from apps.scheduling import services
from apps.scheduling.models import Firing, Schedule
from apps.scheduling.tests.conftest import ok
from apps.scheduling.tests.test_schedules import create, run_clock
from apps.scheduling.timing import (
    ScheduleDefinitionError,
    fire_times,
    make_timing,
    preview,
)
from opsconductor.events import SYSTEM
from opsconductor.events.models import OutboxEvent

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


def calendar(zone: str, frequency: str, at: str, **kwargs):
    hour, minute = (int(part) for part in at.split(":"))
    return make_timing(
        kind="calendar", zone=zone, frequency=frequency, time_of_day=time(hour, minute), **kwargs
    )


def walls(times: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z") for t in times]


# -- timing: DST ---------------------------------------------------------------------------------


def test_daily_in_berlin_fires_once_a_day_across_both_transitions():
    daily = calendar(BERLIN, "daily", "02:30")

    spring = fire_times(daily, utc(2026, 3, 27, 12), 3)
    fall = fire_times(daily, utc(2026, 10, 23, 12), 3)

    # 02:30 does not exist on 29 March: the moment of the change, 03:00 CEST
    assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]
    # 02:30 happens twice on 25 October: the first, 02:30 CEST
    assert fall == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_weekly_on_sundays_in_new_york_across_both_transitions():
    sundays = calendar(NEW_YORK, "weekly", "01:30", weekdays=[6])
    gap = calendar(NEW_YORK, "weekly", "02:15", weekdays=[6])

    assert fire_times(sundays, utc(2026, 10, 20), 3) == [
        utc(2026, 10, 25, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 happens twice: the first, still EDT
        utc(2026, 11, 8, 6, 30),  # 01:30 EST
    ]
    assert fire_times(gap, utc(2026, 3, 1, 12), 2) == [
        utc(2026, 3, 8, 7),  # 02:15 does not exist: 03:00 EDT
        utc(2026, 3, 15, 6, 15),
    ]
    notes = [item.note for item in preview(gap, utc(2026, 3, 1, 12), 2)]
    assert "02:15 does not exist on 2026-03-08" in notes[0]


# -- timing: patterns and anchors ---------------------------------------------------------------


def test_every_third_day_counts_from_the_anchor_day():
    every3 = calendar(BERLIN, "daily", "06:00", every=3, anchor=local(BERLIN, 2026, 5, 4, 12))

    # the anchor's own day is past 06:00 when it starts: the next is 3 days later
    assert walls(fire_times(every3, utc(2026, 5, 1), 3), BERLIN) == [
        "Thu 2026-05-07 06:00 CEST",
        "Sun 2026-05-10 06:00 CEST",
        "Wed 2026-05-13 06:00 CEST",
    ]
    # asked from far later, the phase is still the anchor's
    later = fire_times(every3, utc(2027, 1, 1), 2)
    assert [(t.astimezone(ZoneInfo(BERLIN)).date() - date(2026, 5, 4)).days % 3 for t in later] == [
        0,
        0,
    ]


def test_weekly_on_several_days_every_second_week_counts_weeks_from_the_anchor_week():
    timing = calendar(
        BERLIN, "weekly", "09:00", weekdays=[4, 0, 2], every=2, anchor=local(BERLIN, 2026, 1, 7, 10)
    )  # anchored on Wednesday 7 January 10:00: its week (5-11 January) is the first

    assert walls(fire_times(timing, utc(2026, 1, 1), 7), BERLIN) == [
        "Fri 2026-01-09 09:00 CET",  # Monday and Wednesday 09:00 were before the anchor
        "Mon 2026-01-19 09:00 CET",
        "Wed 2026-01-21 09:00 CET",
        "Fri 2026-01-23 09:00 CET",
        "Mon 2026-02-02 09:00 CET",
        "Wed 2026-02-04 09:00 CET",
        "Fri 2026-02-06 09:00 CET",
    ]


def test_monthly_on_the_31st_fires_on_the_last_day_of_shorter_months():
    timing = calendar(NEW_YORK, "monthly", "23:00", day_of_month=31)

    days = [t.astimezone(ZoneInfo(NEW_YORK)).date() for t in fire_times(timing, utc(2026, 1, 2), 6)]
    assert days == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]
    leap = calendar(BERLIN, "monthly", "08:00", day_of_month=30)
    assert fire_times(leap, utc(2028, 2, 1), 1) == [utc(2028, 2, 29, 7)]


def test_every_second_month_from_the_anchor_month_and_within_the_bounds():
    timing = calendar(
        BERLIN,
        "monthly",
        "12:00",
        day_of_month=15,
        every=2,
        start_at=local(BERLIN, 2026, 2, 20),
        end_at=local(BERLIN, 2026, 10, 15, 12),
    )  # February is the first month; its 15th is before the start

    assert [
        t.astimezone(ZoneInfo(BERLIN)).month for t in fire_times(timing, utc(2026, 1, 1), 9)
    ] == [
        4,
        6,
        8,
        10,  # the end is inclusive
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"frequency": "hourly"}, "frequency"),
        ({"frequency": "daily", "time_of_day": None}, "time_of_day"),
        ({"frequency": "weekly"}, "days_of_week"),
        ({"frequency": "weekly", "weekdays": [7]}, "days_of_week"),
        ({"frequency": "daily", "weekdays": [1]}, "days_of_week"),
        ({"frequency": "monthly"}, "day_of_month"),
        ({"frequency": "monthly", "day_of_month": 32}, "day_of_month"),
        ({"frequency": "weekly", "weekdays": [1], "day_of_month": 3}, "day_of_month"),
        ({"frequency": "daily", "every": 0}, "every"),
        ({"frequency": "daily", "every": 2}, "start_at"),
        ({"frequency": "daily", "zone": "Nowhere/Town"}, "timezone"),
    ],
)
def test_bad_calendar_definitions_name_the_field(kwargs, field):
    values = {"kind": "calendar", "zone": BERLIN, "time_of_day": time(9), **kwargs}
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(**values)
    assert caught.value.field == field


# -- the API ---------------------------------------------------------------------------------------

api = pytest.mark.django_db(databases="__all__", transaction=True)


def body(job, **overrides):
    values = {"name": "standup", "job": job["id"], "kind": "calendar", "frequency": "weekly",
              "days_of_week": ["MON", 2, "fri"], "time_of_day": "09:30",
              "timezone": BERLIN}  # fmt: skip
    values.update(overrides)
    return values


@api
def test_a_manager_creates_a_weekly_calendar_schedule(manager_api, viewer_api, make_job):
    job = make_job()
    made = ok(manager_api.post("/api/v1/schedules/", body(job), format="json"), 201)

    assert (made["kind"], made["frequency"], made["days_of_week"]) == (
        "calendar",
        "weekly",
        [0, 2, 4],
    )
    assert (made["time_of_day"], made["every"], made["day_of_month"]) == ("09:30", 1, None)
    due = datetime.fromisoformat(made["next_fire_local"])
    assert (due.weekday(), due.hour, due.minute) in {(0, 9, 30), (2, 9, 30), (4, 9, 30)}
    upcoming = ok(viewer_api.get(f"/api/v1/schedules/{made['id']}/next/?count=6"))["items"]
    assert [datetime.fromisoformat(i["local"]).weekday() for i in upcoming][:3] in (
        [0, 2, 4],
        [2, 4, 0],
        [4, 0, 2],
    )
    event = OutboxEvent.objects.using("scheduling").get(event_type="scheduling.schedule.created")
    assert event.payload["calendar"] == "every week on MON, WED, FRI at 09:30"


@api
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"frequency": "hourly"}, "frequency"),
        ({"frequency": ""}, "frequency"),
        ({"time_of_day": "25:00"}, "time_of_day"),
        ({"time_of_day": None}, "time_of_day"),
        ({"days_of_week": []}, "days_of_week"),
        ({"days_of_week": ["funday"]}, "days_of_week.0"),
        ({"days_of_week": [1, 7]}, "days_of_week.1"),
        ({"frequency": "monthly", "days_of_week": []}, "day_of_month"),
        ({"frequency": "monthly", "days_of_week": [], "day_of_month": 0}, "day_of_month"),
        ({"day_of_month": 5}, "day_of_month"),
        ({"every": 0}, "every"),
        ({"cron": "0 2 * * *"}, "cron"),
        ({"interval_every": 3}, "interval_every"),
        ({"kind": "cron", "cron": "0 2 * * *"}, "frequency"),
        ({"timezone": "Mars/Base"}, "timezone"),
    ],
)
def test_bad_calendar_schedules_are_refused_naming_the_field(
    manager_api, make_job, overrides, field
):
    job = make_job()
    response = manager_api.post("/api/v1/schedules/", body(job, **overrides), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Schedule.objects.exists()


@api
def test_preview_of_a_monthly_schedule_notes_the_dst_change(manager_api):
    request = {"kind": "calendar", "frequency": "monthly", "day_of_month": 31, "time_of_day": "02:30",
               "timezone": BERLIN, "after": "2026-01-01T00:00:00Z", "count": 4}  # fmt: skip
    items = ok(manager_api.post("/api/v1/schedules/preview/", request, format="json"))["items"]

    assert [i["local"] for i in items] == [
        "2026-01-31T02:30:00+01:00",
        "2026-02-28T02:30:00+01:00",
        "2026-03-31T02:30:00+02:00",
        "2026-04-30T02:30:00+02:00",
    ]
    assert "offset changed" in items[2]["note"]
    bad = manager_api.post(
        "/api/v1/schedules/preview/", {**request, "day_of_month": None}, format="json"
    )
    assert bad.status_code == 400 and "day_of_month" in bad.json()["error"]["fields"]


@api
def test_every_second_week_fires_on_its_days_and_an_edit_takes_effect(make_job):
    job = make_job()
    now = utc(2026, 3, 18, 12)  # a Wednesday; its week is the first
    schedule = create(job, now, kind="calendar", cron="", frequency="weekly", every=2,
                      days_of_week=[0, 4], time_of_day="02:30")  # fmt: skip

    assert schedule.start_at == now  # the anchor is kept
    fired = run_clock(schedule, utc(2026, 4, 14))
    assert walls([f.scheduled_for for f in fired], BERLIN) == [
        "Fri 2026-03-20 02:30 CET",
        "Mon 2026-03-30 02:30 CEST",
        "Fri 2026-04-03 02:30 CEST",
        "Mon 2026-04-13 02:30 CEST",
    ]
    assert all(f.outcome == "fired" and f.run_id for f in fired)

    services.schedule_update(
        schedule=schedule,
        data={"frequency": "monthly", "days_of_week": [], "day_of_month": 31, "every": 1},
        actor=SYSTEM,
        now=utc(2026, 4, 14),
    )
    schedule.refresh_from_db()
    assert schedule.next_fire_at == utc(2026, 4, 30, 0, 30)  # 30 April, 02:30 CEST
    assert schedule.revision == 2
    assert Firing.objects.filter(schedule=schedule).count() == 4
