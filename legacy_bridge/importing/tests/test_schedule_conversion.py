"""Legacy job_schedules rows into schedules: conversion, the legacy semantics computed on their
own, and the verification that both fire at the same instants (no database needed).

Reference transitions (2026):
  Europe/Berlin     spring 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
                    fall   2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
  America/New_York  spring 2026-03-08 07:00 UTC (02:00 EST -> 03:00 EDT)
                    fall   2026-11-01 06:00 UTC (02:00 EDT -> 01:00 EST)
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from legacy_bridge.importing.schedule_conversion import (
    ConversionError,
    convert,
    legacy_fire_times,
    verify,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def row(**columns) -> dict:
    """A job_schedules row with the legacy defaults."""
    values = {"id": 12, "schedule_uuid": uuid.uuid4(), "job_id": 3, "schedule_type": "recurring",
              "enabled": True, "execute_at": None, "recurring_type": "daily", "interval": 1,
              "time": "02:30", "days_of_week": None, "day_of_month": None,
              "cron_expression": None, "timezone": "UTC", "max_executions": None,
              "execution_count": 0, "end_date": None, "description": None, "next_run": None,
              "last_run": None, "created_at": utc(2025, 1, 6, 10)}  # fmt: skip
    values.update(columns)
    return values


def local(instants: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z") for t in instants]


def agree(legacy_row: dict, after: datetime, count: int = 20) -> list[datetime]:
    """Convert, check both computations agree, return the legacy fire times."""
    spec = convert(legacy_row)
    assert verify(legacy_row, spec, after, count) == []
    return legacy_fire_times(legacy_row, after, count)


# -- every kind --------------------------------------------------------------------------------


def test_cron_is_carried_as_is_and_fires_in_its_zone_across_the_dst_changes():
    legacy = row(schedule_type="cron", cron_expression="30 2 * * 1-5", timezone=BERLIN,
                 recurring_type=None, time=None, description="weekday backups")  # fmt: skip
    spec = convert(legacy, job_id=uuid.UUID(int=5))

    assert (spec.kind, spec.cron, spec.timezone, spec.job_id) == ("cron", "30 2 * * 1-5", BERLIN,
                                                                  uuid.UUID(int=5))  # fmt: skip
    assert spec.name == "Legacy schedule #12: weekday backups"
    spring = agree(legacy, utc(2026, 3, 26), 4)
    assert local(spring, BERLIN) == [
        "Thu 2026-03-26 02:30 CET",
        "Fri 2026-03-27 02:30 CET",
        "Mon 2026-03-30 02:30 CEST",
        "Tue 2026-03-31 02:30 CEST",
    ]
    agree(legacy, utc(2026, 10, 20))
    sunday = row(schedule_type="cron", cron_expression="30 2 * * 0", timezone=BERLIN)
    assert agree(sunday, utc(2026, 3, 27), 1) == [utc(2026, 3, 29, 1)]  # 03:00 CEST, the change


def test_once_fires_at_execute_at_unless_it_fired_already():
    at = utc(2026, 12, 24, 17)
    pending = row(schedule_type="once", execute_at=at, recurring_type=None, time=None)
    done = row(schedule_type="once", execute_at=at, execution_count=1, last_run=at)

    spec = convert(pending)
    assert (spec.kind, spec.run_at, spec.max_firings) == ("once", at, 1)
    assert agree(pending, utc(2026, 12, 1)) == [at]
    assert agree(done, utc(2026, 12, 1)) == []  # no second firing, whatever the date says


def test_daily_at_a_time_in_the_gap_and_in_the_doubled_hour_in_berlin():
    daily = row(timezone=BERLIN, time="02:30")
    spec = convert(daily)

    assert (spec.kind, spec.frequency, spec.every, spec.time_of_day) == (
        "calendar",
        "daily",
        1,
        time(2, 30),
    )
    assert spec.start_at is None  # every day: no phase to keep
    assert agree(daily, utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1),  # 02:30 does not exist: 03:00 CEST
        utc(2026, 3, 30, 0, 30),
    ]
    assert agree(daily, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 twice: the first, CEST
        utc(2026, 10, 26, 1, 30),
    ]


def test_weekly_on_several_days_in_new_york_across_the_fall_change():
    weekly = row(timezone=NEW_YORK, recurring_type="weekly", time="01:30",
                 days_of_week="6, 0,3")  # fmt: skip
    spec = convert(weekly)

    assert spec.days_of_week == (0, 3, 6)
    assert local(agree(weekly, utc(2026, 10, 28)), NEW_YORK)[:5] == [
        "Thu 2026-10-29 01:30 EDT",
        "Sun 2026-11-01 01:30 EDT",  # the first of the two 01:30s
        "Mon 2026-11-02 01:30 EST",
        "Thu 2026-11-05 01:30 EST",
        "Sun 2026-11-08 01:30 EST",
    ]


def test_weekly_every_two_weeks_keeps_the_phase_of_the_legacy_next_run():
    # the legacy scheduler planned Wednesday 11 March 2026, 09:00 New York (its week is "on")
    weekly = row(timezone=NEW_YORK, recurring_type="weekly", interval=2, time="09:00",
                 days_of_week="0,2", next_run=utc(2026, 3, 11, 13),
                 last_run=utc(2026, 3, 9, 13))  # fmt: skip
    spec = convert(weekly)

    assert spec.every == 2 and spec.start_at == utc(2026, 3, 11, 13)
    assert local(agree(weekly, utc(2026, 3, 10)), NEW_YORK)[:5] == [
        "Wed 2026-03-11 09:00 EDT",
        "Mon 2026-03-23 09:00 EDT",
        "Wed 2026-03-25 09:00 EDT",
        "Mon 2026-04-06 09:00 EDT",
        "Wed 2026-04-08 09:00 EDT",
    ]


def test_monthly_on_the_31st_fires_on_the_last_day_of_shorter_months():
    monthly = row(timezone=BERLIN, recurring_type="monthly", time="23:15", day_of_month=31)

    days = [t.astimezone(ZoneInfo(BERLIN)).date() for t in agree(monthly, utc(2026, 1, 5), 12)]
    assert days[:4] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert len(days) == 12 and len({(d.year, d.month) for d in days}) == 12


def test_monthly_every_three_months_from_the_legacy_next_run_until_the_end_date():
    quarterly = row(timezone=NEW_YORK, recurring_type="monthly", interval=3, time="06:00",
                    day_of_month=15, next_run=utc(2026, 2, 15, 11),
                    end_date=utc(2026, 12, 31))  # fmt: skip

    assert local(agree(quarterly, utc(2026, 1, 1)), NEW_YORK) == [
        "Sun 2026-02-15 06:00 EST",
        "Fri 2026-05-15 06:00 EDT",
        "Sat 2026-08-15 06:00 EDT",
        "Sun 2026-11-15 06:00 EST",
    ]  # and nothing after the end date


def test_a_finished_schedule_whose_next_run_lies_after_its_end_converts_and_fires_no_more():
    ended = row(timezone=BERLIN, recurring_type="weekly", interval=2, days_of_week="2",
                last_run=utc(2026, 1, 7, 1, 30), next_run=utc(2026, 1, 21, 1, 30),
                end_date=utc(2026, 1, 15))  # fmt: skip
    spec = convert(ended)

    assert spec.start_at == utc(2026, 1, 7, 1, 30) and spec.end_at == utc(2026, 1, 15)
    assert agree(ended, utc(2026, 1, 1)) == [utc(2026, 1, 7, 1, 30)]
    assert agree(ended, utc(2026, 3, 1)) == []
    never = {**ended, "last_run": None, "created_at": utc(2026, 2, 1)}
    assert agree(never, utc(2025, 12, 1)) == []


def test_the_maximum_keeps_counting_from_the_legacy_execution_count():
    capped = row(timezone=BERLIN, max_executions=10, execution_count=7, enabled=False,
                 description="  old\n job ")  # fmt: skip
    spec = convert(capped)

    assert (spec.max_firings, spec.firings_made, spec.enabled) == (10, 7, False)
    assert spec.description == "old\n job" and spec.name == "Legacy schedule #12: old job"
    assert len(agree(capped, utc(2026, 6, 1))) == 3


def test_every_kind_in_many_zones_and_times_agrees_with_the_legacy_semantics():
    """A sweep: both computations must give the same 20 fire times around the 2026 changes."""
    zones = [BERLIN, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
    times = ["00:00", "01:30", "02:00", "02:30", "03:00", "23:59"]
    shapes = [
        {"recurring_type": "daily", "interval": 1},
        {"recurring_type": "daily", "interval": 3, "next_run": utc(2026, 2, 27, 8)},
        {"recurring_type": "weekly", "days_of_week": "0,6"},
        {"recurring_type": "weekly", "interval": 2, "days_of_week": "1,3,5",
         "last_run": utc(2026, 2, 3, 4)},
        {"recurring_type": "monthly", "day_of_month": 29},
        {"recurring_type": "monthly", "interval": 2, "day_of_month": 31},
        {"schedule_type": "cron", "cron_expression": "*/20 1-3 * * *"},
        {"schedule_type": "cron", "cron_expression": "0 2 13 * FRI"},
    ]  # fmt: skip
    afters = [utc(2026, 3, 1), utc(2026, 10, 1)]
    for zone, at, shape, after in itertools.product(zones, times, shapes, afters):
        legacy = row(timezone=zone, time=at, **shape)
        assert verify(legacy, convert(legacy), after, 20) == [], (zone, at, shape, after)


# -- verification finds differences ------------------------------------------------------------


def test_verify_reports_a_spec_that_fires_at_other_times():
    legacy = row(timezone=BERLIN, recurring_type="weekly", days_of_week="1")
    wrong = dataclasses.replace(convert(legacy), time_of_day=time(3, 30))

    problems = verify(legacy, wrong, utc(2026, 5, 1), 5)
    assert len(problems) == 5
    assert problems[0].startswith("fire time 1: legacy 2026-05-05T02:30:00+02:00")
    assert "imported 2026-05-05T03:30:00+02:00" in problems[0]
    capped = dataclasses.replace(convert(legacy), max_firings=2)
    assert "legacy fires 5 time(s)" in verify(legacy, capped, utc(2026, 5, 1), 5)[-1]


def test_verify_reports_a_legacy_next_run_the_assumed_semantics_do_not_give():
    # a legacy system that skipped short months would have planned 31 May, not 30 April
    legacy = row(timezone=BERLIN, recurring_type="monthly", day_of_month=31, time="08:00",
                 next_run=utc(2026, 5, 31, 6))  # fmt: skip

    problems = verify(legacy, convert(legacy), utc(2026, 4, 10))
    assert len(problems) == 1 and "next_run 2026-05-31T08:00:00+02:00" in problems[0]
    assert verify(legacy, convert(legacy), utc(2026, 4, 10), check_next_run=False) == []
    consistent = {**legacy, "next_run": utc(2026, 4, 30, 6)}
    assert verify(consistent, convert(consistent), utc(2026, 4, 10)) == []


# -- rows that cannot be converted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "field", "words"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone", "not an IANA time zone"),
        ({"time": "25:00"}, "time", "not a time of day"),
        ({"time": "9.30"}, "time", "not a time of day"),
        ({"time": None}, "time", "needs a time"),
        ({"recurring_type": "hourly"}, "recurring_type", "not daily, weekly or monthly"),
        ({"recurring_type": "weekly", "days_of_week": ""}, "days_of_week", "at least one day"),
        ({"recurring_type": "weekly", "days_of_week": "1,7"}, "days_of_week", "'7'"),
        ({"recurring_type": "monthly"}, "day_of_month", "needs a day"),
        ({"recurring_type": "monthly", "day_of_month": 32}, "day_of_month", "between 1 and 31"),
        ({"interval": 0}, "interval", "between 1 and 1000"),
        ({"schedule_type": "cron", "cron_expression": "61 * * * *"}, "cron_expression", "61"),
        ({"schedule_type": "cron", "cron_expression": "* * *"}, "cron_expression", "5 fields"),
        ({"schedule_type": "cron", "cron_expression": None}, "cron_expression", "5 fields"),
        (
            {"schedule_type": "cron", "cron_expression": "0 0 * * FUNDAY"},
            "cron_expression",
            "FUNDAY",
        ),
        ({"schedule_type": "once"}, "execute_at", "needs execute_at"),
        ({"schedule_type": "sometimes"}, "schedule_type", "not a schedule type"),
        ({"max_executions": 0}, "max_executions", "at least 1"),
        ({"execution_count": -2}, "execution_count", "at least 0"),
        ({"end_date": "soon"}, "end_date", "not a date and time"),
    ],
)
def test_a_row_that_cannot_be_converted_says_which_column_and_why(columns, field, words):
    with pytest.raises(ConversionError) as caught:
        convert(row(**columns))

    assert caught.value.field == field
    assert words in str(caught.value)
