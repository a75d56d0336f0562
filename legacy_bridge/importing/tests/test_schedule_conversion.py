"""Legacy job_schedules rows into schedules: conversion, the legacy rule computed on its own,
and the verification that both fire at the same instants (no database needed).

The legacy rows are built the way the legacy backend left them: ``legacy_rule`` (written for
the tests from what the legacy scheduler does: everything in UTC, ``timezone`` ignored)
plans their ``next_run`` at creation and runs them until the moment of the import.

Reference transitions (2026):
  Europe/Berlin     spring 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
                    fall   2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
  America/New_York  spring 2026-03-08 07:00 UTC (02:00 EST -> 03:00 EDT)
                    fall   2026-11-01 06:00 UTC (02:00 EDT -> 01:00 EST)
  Asia/Kolkata      +05:30 all year
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from legacy_bridge.importing.schedule_conversion import (
    DECLARED,
    EFFECTIVE,
    ConversionError,
    conversion_notes,
    convert,
    is_dormant,
    legacy_fire_times,
    legacy_next_run,
    rule_notes,
    verify,
    with_planned_run,
    zone_move,
)
from legacy_bridge.importing.tests import legacy_rule

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
KOLKATA = "Asia/Kolkata"
RECORDINGS = Path(__file__).parent / "recordings" / "schedules"
HOUR = timedelta(hours=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


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


def legacy(created: datetime, until: datetime, **columns) -> dict:
    """A row created at ``created`` whose legacy scheduler ran on time until ``until``."""
    return legacy_rule.run_until(row(**columns), created, until)


def cron(expression: str, **columns) -> dict:
    return {"schedule_type": "cron", "cron_expression": expression, "recurring_type": None,
            "time": None, **columns}  # fmt: skip


def local(instants: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z") for t in instants]


def agree(legacy_row: dict, spec, after: datetime, count: int = 20) -> list[datetime]:
    """Check that the legacy rule and the spec agree, return the fire times."""
    assert verify(legacy_row, spec, after, count) == []
    return legacy_fire_times(legacy_row, after, count, zone=spec.timezone)


# -- the legacy rule: what the legacy backend recorded ------------------------------------------


def test_the_rule_gives_the_next_runs_the_legacy_backend_recorded_in_utc():
    for name in ("create_cron_200", "create_daily_200", "create_weekly_200", "create_monthly_200"):
        body = json.loads((RECORDINGS / f"{name}.json").read_text())["response"]["body"]
        created = parse(body["created_at"])
        assert legacy_rule.next_run(body, created) == parse(body["next_run"]), name
        assert legacy_next_run(body, created) == parse(body["next_run"]), name
    # 15 3 * * 1-5 "in New York" had its next run at 03:15Z, not at 03:15 New York time
    cron_body = json.loads((RECORDINGS / "create_cron_200.json").read_text())["response"]["body"]
    assert (cron_body["timezone"], cron_body["next_run"]) == (NEW_YORK, "2026-12-07T03:15:00Z")

    listed = json.loads((RECORDINGS / "list_200.json").read_text())["response"]["body"]
    planned_at = utc(2025, 9, 1, 12, 30)  # when the fixture's schedules were planned
    for body in listed:
        next_run = parse(body["next_run"])
        if body["schedule_type"] == "once":
            assert parse(body["execute_at"]) == next_run
            continue
        assert legacy_next_run(body, planned_at) == next_run, body["description"]
        # the importer proves each one, and its schedule fires at the recorded next run
        spec = convert(body)
        assert spec.timezone == "UTC"
        assert agree(body, spec, planned_at, 5)[0] == next_run, body["description"]


# -- effective (the default): the instants of before ------------------------------------------


def test_cron_declared_in_new_york_fires_at_0315_utc_across_the_dst_change():
    weekdays = legacy(utc(2026, 3, 2, 12), utc(2026, 3, 4, 12), timezone=NEW_YORK,
                      **cron("15 3 * * 1-5"), description="weekday backups")  # fmt: skip
    assert weekdays["next_run"] == utc(2026, 3, 5, 3, 15) and weekdays["execution_count"] == 2
    spec = convert(weekdays, job_id=uuid.UUID(int=5))

    assert (spec.kind, spec.cron, spec.timezone, spec.job_id) == (
        "cron",
        "15 3 * * 1-5",
        "UTC",
        uuid.UUID(int=5),
    )
    assert spec.name == "Legacy schedule #12: weekday backups"
    fired = agree(weekdays, spec, utc(2026, 3, 4, 12), 6)
    assert fired == legacy_rule.firings(weekdays, 6)  # from the legacy next_run on
    assert local(fired, "UTC") == [
        "Thu 2026-03-05 03:15 UTC",
        "Fri 2026-03-06 03:15 UTC",
        "Mon 2026-03-09 03:15 UTC",  # New York changed its clocks on the 8th: nothing moves
        "Tue 2026-03-10 03:15 UTC",
        "Wed 2026-03-11 03:15 UTC",
        "Thu 2026-03-12 03:15 UTC",
    ]
    assert conversion_notes(weekdays, spec, EFFECTIVE, utc(2026, 3, 4, 12)) == [
        "Declared time zone America/New_York; the legacy scheduler ignored it and fired this "
        "schedule in UTC, as it still does."
    ]


def test_daily_declared_in_berlin_fires_at_0630_utc_in_winter_and_in_summer():
    daily = legacy(utc(2026, 3, 20, 10), utc(2026, 3, 26, 12), timezone=BERLIN, time="06:30")
    spec = convert(daily)

    assert (spec.kind, spec.frequency, spec.every, spec.time_of_day, spec.timezone) == (
        "calendar",
        "daily",
        1,
        time(6, 30),
        "UTC",
    )
    assert spec.start_at is None  # every day: no phase to keep
    fired = agree(daily, spec, utc(2026, 3, 26, 12), 5)
    assert fired == legacy_rule.firings(daily, 5)
    assert fired == [utc(2026, 3, day, 6, 30) for day in range(27, 32)]  # Berlin: 29 March


def test_weekly_in_kolkata_keeps_the_legacy_phase_and_the_legacy_interval_rule():
    # one day: the legacy scheduler waits ``interval`` weeks after each firing
    fortnightly = legacy(utc(2026, 1, 5, 9), utc(2026, 1, 20), timezone=KOLKATA,
                         recurring_type="weekly", interval=2, days_of_week="2",
                         time="23:45")  # fmt: skip
    assert fortnightly["next_run"] == utc(2026, 1, 21, 23, 45)
    spec = convert(fortnightly)
    assert (spec.every, spec.start_at, spec.days_of_week) == (2, utc(2026, 1, 21, 23, 45), (2,))
    fired = agree(fortnightly, spec, utc(2026, 1, 20))
    assert fired == legacy_rule.firings(fortnightly, 20)
    assert {b - a for a, b in itertools.pairwise(fired)} == {timedelta(weeks=2)}

    # several days: the legacy scheduler goes on to the next listed day, every week
    several = legacy(utc(2026, 1, 5, 9), utc(2026, 1, 20), timezone=KOLKATA,
                     recurring_type="weekly", interval=2, days_of_week="0,3",
                     time="23:45")  # fmt: skip
    spec = convert(several)
    assert spec.every == 1
    fired = agree(several, spec, utc(2026, 1, 20))
    assert fired == legacy_rule.firings(several, 20)
    assert local(fired[:4], "UTC") == [
        "Thu 2026-01-22 23:45 UTC",
        "Mon 2026-01-26 23:45 UTC",
        "Thu 2026-01-29 23:45 UTC",
        "Mon 2026-02-02 23:45 UTC",
    ]
    assert "ignored the interval (2) of a weekly schedule on several days" in " ".join(
        rule_notes(several, spec)
    )


def test_once_fires_at_execute_at_in_either_mode_unless_it_fired_already():
    at = utc(2026, 12, 24, 17)
    pending = row(schedule_type="once", execute_at=at, next_run=at, timezone=NEW_YORK,
                  recurring_type=None, time=None)  # fmt: skip
    done = {**pending, "execution_count": 1, "last_run": at, "enabled": False, "next_run": None}

    for zones in (EFFECTIVE, DECLARED):
        spec = convert(pending, zones=zones)
        assert (spec.kind, spec.run_at, spec.max_firings, spec.timezone) == (
            "once",
            at,
            1,
            NEW_YORK,
        )
        assert agree(pending, spec, utc(2026, 12, 1)) == [at]
        assert agree(done, convert(done, zones=zones), utc(2026, 12, 1)) == []
    assert zone_move(pending, utc(2026, 12, 1)) is None  # an instant: nothing to move


def test_monthly_on_the_31st_stops_where_the_legacy_rule_stops():
    # fired on 31 January; 31 February does not exist: the legacy scheduler plans nothing more
    monthly = legacy(utc(2026, 1, 5), utc(2026, 1, 20), recurring_type="monthly",
                     time="23:00", day_of_month=31)  # fmt: skip
    assert monthly["next_run"] == utc(2026, 1, 31, 23)
    spec = convert(monthly)

    assert (spec.kind, spec.day_of_month, spec.end_at) == ("calendar", 31, utc(2026, 2, 1))
    assert agree(monthly, spec, utc(2026, 1, 20)) == [utc(2026, 1, 31, 23)]
    assert legacy_rule.firings(monthly, 20) == [utc(2026, 1, 31, 23)]
    assert rule_notes(monthly, spec) == [
        "The legacy scheduler stops this schedule after its firing of 2026-01-31 23:00 UTC "
        "(there is no February 31, 2026): it ends there."
    ]
    # a day every month has: no end
    fifteenth = legacy(utc(2026, 1, 5), utc(2026, 1, 20), recurring_type="monthly",
                       time="09:00", day_of_month=15)  # fmt: skip
    spec = convert(fifteenth)
    assert spec.end_at is None and rule_notes(fifteenth, spec) == []
    assert agree(fifteenth, spec, utc(2026, 1, 20)) == legacy_rule.firings(fifteenth, 20)


def test_monthly_every_two_months_across_december_becomes_a_cron_on_those_months():
    # planned in December: December -> January (whatever the interval), then every two
    # months until November, where no month 13 exists
    bimonthly = legacy(utc(2026, 12, 1), utc(2026, 12, 2), recurring_type="monthly",
                       interval=2, time="09:00", day_of_month=10)  # fmt: skip
    expected = legacy_rule.firings(bimonthly, 20)
    assert [t.strftime("%Y-%m") for t in expected] == [
        "2026-12", "2027-01", "2027-03", "2027-05", "2027-07", "2027-09", "2027-11",
    ]  # fmt: skip
    spec = convert(bimonthly)

    assert (spec.kind, spec.cron, spec.start_at, spec.end_at) == (
        "cron",
        "0 9 10 1,3,5,7,9,11,12 *",
        utc(2026, 12, 10, 9),
        utc(2027, 11, 11),
    )
    assert agree(bimonthly, spec, utc(2026, 12, 2)) == expected
    notes = " ".join(rule_notes(bimonthly, spec))
    assert "goes from December to January" in notes and "no month after December" in notes


def test_monthly_firings_no_schedule_can_repeat_fail_the_row_with_the_dates():
    # October, December, January, March, ... November: every month list would add November
    # of the first year
    odd = legacy(utc(2026, 10, 1), utc(2026, 10, 2), recurring_type="monthly", interval=2,
                 time="09:00", day_of_month=10)  # fmt: skip

    with pytest.raises(ConversionError) as caught:
        convert(odd)
    assert caught.value.field == "interval"
    assert "2026-10-10, 2026-12-10, 2027-01-10" in caught.value.message


def test_the_legacy_end_date_is_exclusive_and_the_maximum_keeps_counting():
    # the legacy scheduler fires only strictly before end_date
    ending = legacy(utc(2026, 5, 1, 12), utc(2026, 5, 5, 12), time="00:00",
                    end_date=utc(2026, 5, 10))  # fmt: skip
    spec = convert(ending)
    assert spec.end_at == utc(2026, 5, 9, 23, 59, 59)
    assert agree(ending, spec, utc(2026, 5, 5, 12)) == legacy_rule.firings(ending, 20)
    assert legacy_rule.firings(ending, 20)[-1] == utc(2026, 5, 9)

    capped = legacy(utc(2026, 5, 1, 12), utc(2026, 5, 5, 12), time="08:00", max_executions=10,
                    description="  old\n job ")  # fmt: skip
    capped["enabled"] = False
    spec = convert(capped)
    assert (spec.max_firings, spec.firings_made, spec.enabled) == (10, 4, False)
    assert spec.description == "old\n job" and spec.name == "Legacy schedule #12: old job"
    assert len(agree(capped, spec, utc(2026, 5, 5, 12))) == 6


def test_a_finished_schedule_whose_next_run_lies_after_its_end_fires_no_more():
    ended = legacy(utc(2026, 1, 5, 9), utc(2026, 2, 1), recurring_type="weekly", interval=2,
                   days_of_week="2", time="01:30", end_date=utc(2026, 1, 15))  # fmt: skip
    assert (ended["last_run"], ended["next_run"]) == (
        utc(2026, 1, 7, 1, 30),
        utc(2026, 1, 21, 1, 30),
    )
    spec = convert(ended)

    assert spec.end_at == utc(2026, 1, 15) and spec.start_at < spec.end_at
    assert agree(ended, spec, utc(2026, 1, 8)) == []


def test_a_row_the_legacy_scheduler_planned_nothing_for_is_planned_now_and_said_so():
    # created in April: there is no 31 April, so the legacy scheduler stored no next run
    dormant = legacy(utc(2026, 4, 5), utc(2026, 4, 10), recurring_type="monthly", time="23:00",
                     day_of_month=31)  # fmt: skip
    assert dormant["next_run"] is None and is_dormant(dormant)

    planned = with_planned_run(dormant, utc(2026, 4, 10))
    assert planned["next_run"] == utc(2026, 5, 31, 23)  # what saving it now would plan
    spec = convert(planned)
    assert agree(planned, spec, utc(2026, 4, 10)) == [utc(2026, 5, 31, 23)]
    assert "imported paused" in " ".join(rule_notes(planned, spec, dormant=True))
    assert not is_dormant({**dormant, "enabled": False})
    assert with_planned_run(planned, utc(2026, 4, 10)) is planned


# -- declared: the same wall-clock times in the declared zone ---------------------------------


def test_declared_moves_new_york_by_five_hours_in_winter_and_four_in_summer():
    weekdays = legacy(utc(2026, 3, 2, 12), utc(2026, 3, 4, 12), timezone=NEW_YORK,
                      **cron("15 3 * * 1-5"))  # fmt: skip
    after = utc(2026, 3, 4, 12)
    before = legacy_fire_times(weekdays, after, 6)
    spec = convert(weekdays, zones=DECLARED)

    assert (spec.kind, spec.cron, spec.timezone) == ("cron", "15 3 * * 1-5", NEW_YORK)
    moved = agree(weekdays, spec, after, 6)
    assert local(moved, NEW_YORK) == [
        "Thu 2026-03-05 03:15 EST",
        "Fri 2026-03-06 03:15 EST",
        "Mon 2026-03-09 03:15 EDT",
        "Tue 2026-03-10 03:15 EDT",
        "Wed 2026-03-11 03:15 EDT",
        "Thu 2026-03-12 03:15 EDT",
    ]
    assert [b - a for a, b in zip(before, moved, strict=True)] == [5 * HOUR] * 2 + [4 * HOUR] * 4
    move = zone_move(weekdays, after)
    assert move.summary() == "+5 h (EST) / +4 h (EDT)"
    assert move.describe(DECLARED) == (
        "declared America/New_York, imported in it: fired in UTC before, now at the same "
        "wall-clock time in America/New_York: +5 h (EST) / +4 h (EDT) (next firing "
        "2026-03-05 03:15 UTC -> 2026-03-05 03:15 EST = 08:15 UTC)"
    )
    assert move.describe(EFFECTIVE) == (
        "declared America/New_York, fires in UTC as before (next 2026-03-05 03:15 UTC); "
        "--schedule-zones=declared would move it to America/New_York wall-clock time: "
        "+5 h (EST) / +4 h (EDT) (2026-03-05 03:15 UTC -> 2026-03-05 03:15 EST = 08:15 UTC)"
    )


def test_declared_moves_berlin_and_kolkata_by_their_offsets():
    daily = legacy(utc(2026, 3, 20, 10), utc(2026, 3, 26, 12), timezone=BERLIN, time="06:30")
    moved = agree(daily, convert(daily, zones=DECLARED), utc(2026, 3, 26, 12), 4)
    assert moved == [utc(2026, 3, 27, 5, 30), utc(2026, 3, 28, 5, 30), utc(2026, 3, 29, 4, 30),
                     utc(2026, 3, 30, 4, 30)]  # fmt: skip
    assert zone_move(daily, utc(2026, 3, 26, 12)).summary() == "-1 h (CET) / -2 h (CEST)"

    weekly = legacy(utc(2026, 1, 5, 9), utc(2026, 1, 20), timezone=KOLKATA,
                    recurring_type="weekly", interval=2, days_of_week="2",
                    time="23:45")  # fmt: skip
    spec = convert(weekly, zones=DECLARED)
    assert (spec.every, spec.timezone) == (2, KOLKATA)
    moved = agree(weekly, spec, utc(2026, 1, 20))
    assert local(moved[:2], KOLKATA) == ["Wed 2026-01-21 23:45 IST", "Wed 2026-02-04 23:45 IST"]
    assert [b - a for a, b in zip(legacy_rule.firings(weekly, 20), moved, strict=True)] == [
        -timedelta(hours=5, minutes=30)
    ] * 20
    move = zone_move(weekly, utc(2026, 1, 20))
    assert move.summary() == "-5 h 30 min (IST)"
    assert "2026-01-21 23:45 UTC -> 2026-01-21 23:45 IST = 18:15 UTC" in move.describe(DECLARED)
    assert conversion_notes(weekly, spec, DECLARED, utc(2026, 1, 20)) == [
        "The legacy scheduler fired this schedule in UTC, ignoring its declared time zone "
        "Asia/Kolkata; it was imported in Asia/Kolkata, so it fires at the same wall-clock "
        "time there (-5 h 30 min (IST) compared with before)."
    ]


def test_declared_daily_in_the_gap_and_in_the_doubled_hour_in_berlin():
    spring = legacy(utc(2026, 3, 20), utc(2026, 3, 27, 12), timezone=BERLIN, time="02:30")
    assert agree(spring, convert(spring, zones=DECLARED), utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1),  # 02:30 does not exist: 03:00 CEST
        utc(2026, 3, 30, 0, 30),
    ]
    fall = legacy(utc(2026, 10, 20), utc(2026, 10, 24, 12), timezone=BERLIN, time="02:30")
    assert agree(fall, convert(fall, zones=DECLARED), utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 twice: the first, CEST
        utc(2026, 10, 26, 1, 30),
    ]


def test_a_declared_zone_that_is_not_a_zone_imports_in_utc_only():
    martian = legacy(utc(2026, 3, 2), utc(2026, 3, 4), timezone="Mars/Olympus",
                     **cron("0 0 * * *"))  # fmt: skip

    spec = convert(martian)
    assert spec.timezone == "UTC"
    assert agree(martian, spec, utc(2026, 3, 4)) == legacy_rule.firings(martian, 20)
    move = zone_move(martian, utc(2026, 3, 4))
    assert not move.valid and "'Mars/Olympus', which is not a time zone" in move.describe(EFFECTIVE)
    with pytest.raises(ConversionError) as caught:
        convert(martian, zones=DECLARED)
    assert caught.value.field == "timezone"


def test_every_shape_in_many_zones_agrees_with_the_legacy_rule_in_both_modes():
    """A sweep: for rows the legacy rule planned, both computations give the same 20 fire
    times, which (read in UTC) are the legacy rule's own (the test helper's)."""
    zones = [BERLIN, NEW_YORK, "Australia/Lord_Howe", KOLKATA, "UTC"]
    times = ["00:00", "02:30", "03:00", "23:59"]
    shapes = [
        {"recurring_type": "daily", "interval": 1},
        {"recurring_type": "daily", "interval": 3},
        {"recurring_type": "weekly", "days_of_week": "0,6"},
        {"recurring_type": "weekly", "interval": 2, "days_of_week": "1,3,5"},
        {"recurring_type": "weekly", "interval": 3, "days_of_week": "4"},
        {"recurring_type": "monthly", "day_of_month": 29},
        {"recurring_type": "monthly", "day_of_month": 15},
        {"recurring_type": "monthly", "interval": 2, "day_of_month": 31},
        cron("*/20 1-3 * * *"),
        cron("0 2 13 * FRI"),
    ]
    periods = [(utc(2026, 2, 20, 7), utc(2026, 3, 1)), (utc(2026, 9, 25, 7), utc(2026, 10, 1))]
    for zone, at, shape, (created, after) in itertools.product(zones, times, shapes, periods):
        columns = {"timezone": zone, "time": at, **shape}
        planned = with_planned_run(legacy(created, after, **columns), after)
        expected = legacy_rule.firings(planned, 20)
        for zones_mode in (EFFECTIVE, DECLARED):
            spec = convert(planned, zones=zones_mode)
            case = (zone, at, shape, created, zones_mode)
            assert verify(planned, spec, after, 20) == [], case
        assert legacy_fire_times(planned, after, 20) == expected, (zone, at, shape, created)


# -- verification finds differences ------------------------------------------------------------


def test_verify_reports_a_spec_that_fires_at_other_times():
    weekly = legacy(utc(2026, 4, 20), utc(2026, 5, 1), recurring_type="weekly", days_of_week="1")
    wrong = dataclasses.replace(convert(weekly), time_of_day=time(3, 30))

    problems = verify(weekly, wrong, utc(2026, 5, 1), 5)
    assert problems[0].startswith("fire time 1: legacy 2026-05-05T02:30:00+00:00")
    assert "imported 2026-05-05T03:30:00+00:00" in problems[0]
    capped = dataclasses.replace(convert(weekly), max_firings=2)
    assert "legacy fires 5 time(s)" in verify(weekly, capped, utc(2026, 5, 1), 5)[-1]


def test_verify_reports_a_next_run_the_legacy_rule_in_utc_does_not_give():
    # a legacy scheduler that had used the declared zone would have planned 03:15 New York
    in_new_york = row(timezone=NEW_YORK, next_run=utc(2026, 3, 5, 8, 15), **cron("15 3 * * 1-5"))
    after = utc(2026, 3, 4, 12)

    problems = verify(in_new_york, convert(in_new_york), after)
    assert "next_run 2026-03-05T08:15:00+00:00" in problems[-1]
    assert "the imported schedule fires first at 2026-03-06T03:15:00+00:00" in problems[-1]
    assert "another rule than the one assumed" in problems[-1]
    # and the firings differ from the first: the legacy one would have been at 08:15
    assert problems[0].startswith("fire time 1: legacy 2026-03-06T03:15:00+00:00")
    assert "imported 2026-03-05T03:15:00+00:00" in problems[0]
    unchecked = verify(in_new_york, convert(in_new_york), after, check_next_run=False)
    assert unchecked == problems[:-1]
    # the declared import is checked against the UTC reading of the row too
    declared = verify(in_new_york, convert(in_new_york, zones=DECLARED), after)
    assert "another rule than the one assumed" in declared[-1]


# -- rows that cannot be converted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "field", "words"),
    [
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


def test_the_time_is_read_as_the_legacy_scheduler_read_it():
    assert convert(row(time="9")).time_of_day == time(9)
    assert convert(row(time="07:05:30")).time_of_day == time(7, 5)  # it fired on the minute
