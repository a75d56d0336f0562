"""When schedules fire: cron parsing, DST rules, intervals, bounds and previews (no database).

Reference transitions (2026):
  Europe/Berlin     spring 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
                    fall   2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
  America/New_York  spring 2026-03-08 07:00 UTC (02:00 EST -> 03:00 EDT)
                    fall   2026-11-01 06:00 UTC (02:00 EDT -> 01:00 EST)
"""

from __future__ import annotations

import pickle
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.scheduling.timing import (
    PreviewItem,
    ScheduleDefinitionError,
    Timing,
    due_times,
    fire_times,
    make_timing,
    next_fire,
    parse_cron,
    preview,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    """'2026-03-29 01:00' -> that instant in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utc_list(text: str) -> list[datetime]:
    """Lines of 'YYYY-MM-DD HH:MM HH:MM ...' (a line may also continue the previous date)."""
    result, day = [], None
    for token in text.split():
        if "-" in token:
            day = token
        else:
            result.append(utc(f"{day} {token}"))
    return result


def cron(expression: str, zone: str = "UTC", **kwargs) -> Timing:
    return make_timing(kind="cron", zone=zone, cron=expression, **kwargs)


def interval(every: int, unit: str, zone: str, anchor: datetime, **kwargs) -> Timing:
    return make_timing(kind="interval", zone=zone, every=every, unit=unit, anchor=anchor, **kwargs)


# --------------------------------------------------------------------------------------------
# Daily schedules on the transition days
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expression", "after", "expected"),
    [
        # Berlin: 02:00-02:59 does not exist on 03-29; it fires at the change, 03:00 CEST = 01:00 UTC.
        (
            BERLIN,
            "0 2 * * *",
            "2026-03-27 12:00",
            ["2026-03-28 01:00", "2026-03-29 01:00", "2026-03-30 00:00", "2026-03-31 00:00"],
        ),
        (
            BERLIN,
            "30 2 * * *",
            "2026-03-27 12:00",
            ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30", "2026-03-31 00:30"],
        ),
        # New York: 02:00-02:59 does not exist on 03-08; the change is 03:00 EDT = 07:00 UTC.
        (
            NEW_YORK,
            "0 2 * * *",
            "2026-03-06 12:00",
            ["2026-03-07 07:00", "2026-03-08 07:00", "2026-03-09 06:00", "2026-03-10 06:00"],
        ),
        (
            NEW_YORK,
            "30 2 * * *",
            "2026-03-06 12:00",
            ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30", "2026-03-10 06:30"],
        ),
    ],
)
def test_daily_at_a_missing_time_fires_once_at_the_transition(zone, expression, after, expected):
    timing = cron(expression, zone)
    assert fire_times(timing, utc(after), 4) == [utc(text) for text in expected]


@pytest.mark.parametrize(
    ("zone", "expression", "after", "expected"),
    [
        # Berlin 02:00 happens at 00:00 UTC (CEST) and 01:00 UTC (CET) on 10-25: only the first.
        (
            BERLIN,
            "0 2 * * *",
            "2026-10-23 12:00",
            ["2026-10-24 00:00", "2026-10-25 00:00", "2026-10-26 01:00", "2026-10-27 01:00"],
        ),
        # New York 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST) on 11-01: only the first.
        (
            NEW_YORK,
            "30 1 * * *",
            "2026-10-30 12:00",
            ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30", "2026-11-03 06:30"],
        ),
    ],
)
def test_daily_at_a_doubled_time_fires_once_at_the_first_occurrence(
    zone, expression, after, expected
):
    timing = cron(expression, zone)
    assert fire_times(timing, utc(after), 4) == [utc(text) for text in expected]


def test_doubled_time_does_not_fire_again_from_inside_the_repeated_hour():
    timing = cron("0 2 * * *", BERLIN)
    for after in ("2026-10-25 00:00", "2026-10-25 00:30", "2026-10-25 01:00", "2026-10-25 01:30"):
        assert next_fire(timing, utc(after)) == utc("2026-10-26 01:00"), after
    new_york = cron("30 1 * * *", NEW_YORK)
    assert next_fire(new_york, utc("2026-11-01 05:30")) == utc("2026-11-02 06:30")
    assert next_fire(new_york, utc("2026-11-01 06:00")) == utc("2026-11-02 06:30")


def test_missing_time_next_fire_is_the_transition_and_only_once():
    timing = cron("30 2 * * *", BERLIN)
    assert next_fire(timing, utc("2026-03-29 00:59:59")) == utc("2026-03-29 01:00")
    assert next_fire(timing, utc("2026-03-29 01:00")) == utc("2026-03-30 00:30")


# --------------------------------------------------------------------------------------------
# Hourly and half-hourly over the whole transition days
# --------------------------------------------------------------------------------------------

# Local day 2026-03-29 in Berlin (23 hours): 02:00 and 02:30 do not exist and fire once, at
# 03:00 CEST (01:00 UTC), together with 03:00 itself.
BERLIN_SPRING_HOURLY = utc_list("""
    2026-03-28 23:00
    2026-03-29 00:00 01:00 02:00 03:00 04:00 05:00 06:00 07:00 08:00 09:00 10:00
               11:00 12:00 13:00 14:00 15:00 16:00 17:00 18:00 19:00 20:00 21:00
""")
BERLIN_SPRING_HALF_HOURLY = utc_list("""
    2026-03-28 23:00 23:30
    2026-03-29 00:00 00:30 01:00 01:30 02:00 02:30 03:00 03:30 04:00 04:30 05:00 05:30
               06:00 06:30 07:00 07:30 08:00 08:30 09:00 09:30 10:00 10:30 11:00 11:30
               12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30 16:00 16:30 17:00 17:30
               18:00 18:30 19:00 19:30 20:00 20:30 21:00 21:30
""")
# Local day 2026-10-25 in Berlin (25 hours): 02:00 and 02:30 fire at their first occurrence
# (00:00 and 00:30 UTC), not again at 01:00 and 01:30 UTC.
BERLIN_FALL_HOURLY = utc_list("""
    2026-10-24 22:00 23:00
    2026-10-25 00:00       02:00 03:00 04:00 05:00 06:00 07:00 08:00 09:00 10:00 11:00
               12:00 13:00 14:00 15:00 16:00 17:00 18:00 19:00 20:00 21:00 22:00
""")
BERLIN_FALL_HALF_HOURLY = utc_list("""
    2026-10-24 22:00 22:30 23:00 23:30
    2026-10-25 00:00 00:30             02:00 02:30 03:00 03:30 04:00 04:30 05:00 05:30
               06:00 06:30 07:00 07:30 08:00 08:30 09:00 09:30 10:00 10:30 11:00 11:30
               12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30 16:00 16:30 17:00 17:30
               18:00 18:30 19:00 19:30 20:00 20:30 21:00 21:30 22:00 22:30
""")
# Local day 2026-03-08 in New York (23 hours): 02:00/02:30 fire once at 03:00 EDT (07:00 UTC).
NEW_YORK_SPRING_HOURLY = utc_list("""
    2026-03-08 05:00 06:00 07:00 08:00 09:00 10:00 11:00 12:00 13:00 14:00 15:00 16:00
               17:00 18:00 19:00 20:00 21:00 22:00 23:00
    2026-03-09 00:00 01:00 02:00 03:00
""")
NEW_YORK_SPRING_HALF_HOURLY = utc_list("""
    2026-03-08 05:00 05:30 06:00 06:30 07:00 07:30 08:00 08:30 09:00 09:30 10:00 10:30
               11:00 11:30 12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30 16:00 16:30
               17:00 17:30 18:00 18:30 19:00 19:30 20:00 20:30 21:00 21:30 22:00 22:30
               23:00 23:30
    2026-03-09 00:00 00:30 01:00 01:30 02:00 02:30 03:00 03:30
""")
# Local day 2026-11-01 in New York (25 hours): 01:00/01:30 fire at the first occurrence (EDT,
# 05:00/05:30 UTC), not again at 06:00/06:30 UTC (EST).
NEW_YORK_FALL_HOURLY = utc_list("""
    2026-11-01 04:00 05:00       07:00 08:00 09:00 10:00 11:00 12:00 13:00 14:00 15:00
               16:00 17:00 18:00 19:00 20:00 21:00 22:00 23:00
    2026-11-02 00:00 01:00 02:00 03:00 04:00
""")
NEW_YORK_FALL_HALF_HOURLY = utc_list("""
    2026-11-01 04:00 04:30 05:00 05:30             07:00 07:30 08:00 08:30 09:00 09:30
               10:00 10:30 11:00 11:30 12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30
               16:00 16:30 17:00 17:30 18:00 18:30 19:00 19:30 20:00 20:30 21:00 21:30
               22:00 22:30 23:00 23:30
    2026-11-02 00:00 00:30 01:00 01:30 02:00 02:30 03:00 03:30 04:00 04:30
""")


@pytest.mark.parametrize(
    ("zone", "expression", "after", "until", "expected", "count"),
    [
        # after = 23:59 local on the day before, until = 23:59 local on the transition day
        (BERLIN, "0 * * * *", "2026-03-28 22:59", "2026-03-29 21:59", BERLIN_SPRING_HOURLY, 23),
        (
            BERLIN,
            "*/30 * * * *",
            "2026-03-28 22:59",
            "2026-03-29 21:59",
            BERLIN_SPRING_HALF_HOURLY,
            46,
        ),
        (BERLIN, "0 * * * *", "2026-10-24 21:59", "2026-10-25 22:59", BERLIN_FALL_HOURLY, 24),
        (
            BERLIN,
            "*/30 * * * *",
            "2026-10-24 21:59",
            "2026-10-25 22:59",
            BERLIN_FALL_HALF_HOURLY,
            48,
        ),
        (NEW_YORK, "0 * * * *", "2026-03-08 04:59", "2026-03-09 03:59", NEW_YORK_SPRING_HOURLY, 23),
        (
            NEW_YORK,
            "*/30 * * * *",
            "2026-03-08 04:59",
            "2026-03-09 03:59",
            NEW_YORK_SPRING_HALF_HOURLY,
            46,
        ),
        (NEW_YORK, "0 * * * *", "2026-11-01 03:59", "2026-11-02 04:59", NEW_YORK_FALL_HOURLY, 24),
        (
            NEW_YORK,
            "*/30 * * * *",
            "2026-11-01 03:59",
            "2026-11-02 04:59",
            NEW_YORK_FALL_HALF_HOURLY,
            48,
        ),
    ],
)
def test_sub_daily_cron_over_a_transition_day(zone, expression, after, until, expected, count):
    assert len(expected) == count
    timing = cron(expression, zone)
    due = due_times(timing, utc(after), utc(until), limit=1000)
    assert due == expected
    assert len(set(due)) == len(due)  # none twice
    assert due == sorted(due)
    assert fire_times(timing, utc(after), count) == expected
    # nothing else in the window: the next firing is the first one of the next local day
    assert next_fire(timing, expected[-1]) > utc(until)
    # chaining next_fire gives the same list
    chained, at = [], utc(after)
    for _ in range(count):
        at = next_fire(timing, at)
        chained.append(at)
    assert chained == expected


def test_hourly_next_fire_from_inside_the_repeated_hour_skips_to_after_it():
    timing = cron("0 * * * *", BERLIN)
    # 01:00 UTC is 02:00 CET, the second 02:00; it is not a firing, 03:00 CET (02:00 UTC) is next.
    assert next_fire(timing, utc("2026-10-25 00:00")) == utc("2026-10-25 02:00")
    assert next_fire(timing, utc("2026-10-25 01:00")) == utc("2026-10-25 02:00")
    assert next_fire(timing, utc("2026-10-25 00:59:59")) == utc("2026-10-25 02:00")


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------


def test_interval_days_keep_the_wall_clock_time_across_spring_forward():
    # 02:30 Berlin every other day from 2026-03-27 (naive anchor = wall time in the zone)
    timing = interval(2, "days", BERLIN, datetime(2026, 3, 27, 2, 30))
    assert timing.anchor == utc("2026-03-27 01:30")
    assert fire_times(timing, utc("2026-03-20 00:00"), 4) == [
        utc("2026-03-27 01:30"),  # 02:30 CET
        utc("2026-03-29 01:00"),  # 02:30 does not exist: 03:00 CEST
        utc("2026-03-31 00:30"),  # 02:30 CEST
        utc("2026-04-02 00:30"),
    ]
    daily = interval(1, "days", BERLIN, datetime(2026, 3, 27, 9, 0))
    assert fire_times(daily, utc("2026-03-27 00:00"), 4) == [
        utc("2026-03-27 08:00"),
        utc("2026-03-28 08:00"),
        utc("2026-03-29 07:00"),  # 09:00 CEST, only 23 hours after the previous firing
        utc("2026-03-30 07:00"),
    ]


def test_interval_days_keep_the_wall_clock_time_across_fall_back():
    timing = interval(1, "days", BERLIN, datetime(2026, 10, 23, 2, 30))
    assert fire_times(timing, utc("2026-10-23 00:00"), 4) == [
        utc("2026-10-23 00:30"),
        utc("2026-10-24 00:30"),
        utc("2026-10-25 00:30"),  # first 02:30 (CEST)
        utc("2026-10-26 01:30"),  # 02:30 CET
    ]
    new_york = interval(1, "days", NEW_YORK, utc("2026-10-31 05:30"))  # 01:30 EDT
    assert fire_times(new_york, utc("2026-10-31 05:30"), 2) == [
        utc("2026-11-01 05:30"),
        utc("2026-11-02 06:30"),
    ]


def test_interval_hours_keep_elapsed_time_across_dst():
    timing = interval(24, "hours", BERLIN, utc("2026-03-28 11:00"))  # 12:00 CET
    times = fire_times(timing, utc("2026-03-28 00:00"), 3)
    assert times == [utc("2026-03-28 11:00"), utc("2026-03-29 11:00"), utc("2026-03-30 11:00")]
    assert [item.local.hour for item in preview(timing, utc("2026-03-28 00:00"), 3)] == [12, 13, 13]

    hourly = interval(1, "hours", NEW_YORK, utc("2026-11-01 04:00"))  # 00:00 EDT
    items = preview(hourly, utc("2026-11-01 03:00"), 4)
    assert [item.at for item in items] == [
        utc("2026-11-01 04:00"),
        utc("2026-11-01 05:00"),  # 01:00 EDT
        utc("2026-11-01 06:00"),  # 01:00 EST: elapsed time, so both 01:00s fire
        utc("2026-11-01 07:00"),
    ]
    assert [(item.local.hour, item.abbreviation) for item in items] == [
        (0, "EDT"),
        (1, "EDT"),
        (1, "EST"),
        (2, "EST"),
    ]


def test_interval_seconds_and_minutes_count_from_the_anchor():
    anchor = utc("2026-01-01 10:00")
    every_90_minutes = interval(90, "minutes", BERLIN, anchor)
    assert next_fire(every_90_minutes, utc("2026-01-01 10:00")) == utc("2026-01-01 11:30")
    assert next_fire(every_90_minutes, utc("2026-01-01 11:29:59")) == utc("2026-01-01 11:30")
    assert next_fire(every_90_minutes, utc("2026-01-02 00:00")) == utc("2026-01-02 01:00")
    every_45_seconds = interval(45, "seconds", "UTC", anchor)
    assert fire_times(every_45_seconds, utc("2026-01-01 10:01"), 2) == [
        utc("2026-01-01 10:01:30"),
        utc("2026-01-01 10:02:15"),
    ]


def test_interval_never_fires_before_its_anchor():
    timing = interval(1, "hours", "UTC", utc("2026-05-01 10:15"))
    assert next_fire(timing, utc("2020-01-01 00:00")) == utc("2026-05-01 10:15")
    assert next_fire(timing, utc("2026-05-01 10:14:59")) == utc("2026-05-01 10:15")
    days = interval(3, "days", BERLIN, utc("2026-05-01 10:15"))
    assert next_fire(days, utc("2020-01-01 00:00")) == utc("2026-05-01 10:15")


def test_interval_anchor_defaults_to_start_at():
    timing = make_timing(
        kind="interval", zone="UTC", every=2, unit="hours", start_at=utc("2026-05-01 10:00")
    )
    assert timing.anchor == utc("2026-05-01 10:00")
    assert fire_times(timing, utc("2026-05-01 00:00"), 2) == [
        utc("2026-05-01 10:00"),
        utc("2026-05-01 12:00"),
    ]


def test_interval_anchor_before_start_at_keeps_its_phase():
    timing = interval(2, "hours", "UTC", utc("2026-05-01 09:00"), start_at=utc("2026-05-01 10:00"))
    assert next_fire(timing, utc("2026-05-01 00:00")) == utc("2026-05-01 11:00")


# --------------------------------------------------------------------------------------------
# Once and bounds
# --------------------------------------------------------------------------------------------


def test_once_fires_at_run_at_and_never_again():
    timing = make_timing(kind="once", zone=BERLIN, run_at=utc("2026-06-01 12:00"))
    assert next_fire(timing, utc("2026-05-01 00:00")) == utc("2026-06-01 12:00")
    assert next_fire(timing, utc("2026-06-01 12:00")) is None  # strictly after
    assert next_fire(timing, utc("2026-07-01 00:00")) is None  # in the past
    assert fire_times(timing, utc("2026-05-01 00:00"), 5) == [utc("2026-06-01 12:00")]


def test_once_outside_the_bounds_never_fires():
    after_end = make_timing(
        kind="once", zone="UTC", run_at=utc("2026-06-02 00:00"), end_at=utc("2026-06-01 00:00")
    )
    assert next_fire(after_end, utc("2026-01-01 00:00")) is None
    before_start = make_timing(
        kind="once", zone="UTC", run_at=utc("2026-05-01 00:00"), start_at=utc("2026-06-01 00:00")
    )
    assert next_fire(before_start, utc("2026-01-01 00:00")) is None


def test_naive_datetimes_are_wall_clock_times_in_the_zone():
    missing = make_timing(kind="once", zone=BERLIN, run_at=datetime(2026, 3, 29, 2, 30))
    assert missing.run_at == utc("2026-03-29 01:00")  # 03:00 CEST
    doubled = make_timing(kind="once", zone=BERLIN, run_at=datetime(2026, 10, 25, 2, 30))
    assert doubled.run_at == utc("2026-10-25 00:30")  # first 02:30, CEST
    normal = make_timing(kind="once", zone=NEW_YORK, run_at=datetime(2026, 7, 4, 9, 0))
    assert normal.run_at == utc("2026-07-04 13:00")
    aware = datetime(2026, 7, 4, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    timing = make_timing(kind="once", zone=NEW_YORK, run_at=aware, start_at=aware)
    assert timing.run_at == utc("2026-07-04 00:00")
    assert timing.run_at.tzinfo is UTC
    assert timing.start_at == utc("2026-07-04 00:00")


def test_start_and_end_are_inclusive():
    timing = cron(
        "0 * * * *", "UTC", start_at=utc("2026-01-01 10:00"), end_at=utc("2026-01-01 12:00")
    )
    assert next_fire(timing, utc("2026-01-01 00:00")) == utc("2026-01-01 10:00")
    assert fire_times(timing, utc("2026-01-01 00:00"), 10) == [
        utc("2026-01-01 10:00"),
        utc("2026-01-01 11:00"),
        utc("2026-01-01 12:00"),
    ]
    assert next_fire(timing, utc("2026-01-01 12:00")) is None
    assert due_times(timing, utc("2026-01-01 00:00"), utc("2026-02-01 00:00"), 100) == [
        utc("2026-01-01 10:00"),
        utc("2026-01-01 11:00"),
        utc("2026-01-01 12:00"),
    ]


def test_start_at_between_firings():
    timing = cron("0 * * * *", "UTC", start_at=utc("2026-01-01 10:00:01"))
    assert next_fire(timing, utc("2026-01-01 00:00")) == utc("2026-01-01 11:00")


def test_results_are_utc():
    timing = cron("0 9 * * *", NEW_YORK)
    # 2026-07-01 00:00 in Tokyo is 2026-06-30 15:00 UTC, 11:00 EDT: the next 09:00 EDT is July 1.
    result = next_fire(timing, datetime(2026, 7, 1, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert result == utc("2026-07-01 13:00")
    assert result.tzinfo is UTC


def test_naive_after_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_fire(cron("0 * * * *"), datetime(2026, 1, 1))


def test_due_times_window_and_limit():
    timing = cron("*/10 * * * *")
    after, until = utc("2026-01-01 00:00"), utc("2026-01-01 01:00")
    assert due_times(timing, after, until, 100) == [
        utc("2026-01-01 00:10"),
        utc("2026-01-01 00:20"),
        utc("2026-01-01 00:30"),
        utc("2026-01-01 00:40"),
        utc("2026-01-01 00:50"),
        utc("2026-01-01 01:00"),
    ]
    assert due_times(timing, after, until, 2) == [utc("2026-01-01 00:10"), utc("2026-01-01 00:20")]
    assert due_times(timing, until, after, 100) == []
    assert due_times(timing, after, until, 0) == []
    assert fire_times(timing, after, 0) == []


# --------------------------------------------------------------------------------------------
# Cron parsing
# --------------------------------------------------------------------------------------------


def test_parse_cron_fields_names_steps_and_lists():
    spec = parse_cron("*/15 9-17 * JAN,jul mon-FRI")
    assert spec.minutes == (0, 15, 30, 45)
    assert spec.hours == tuple(range(9, 18))
    assert spec.days_of_month == frozenset(range(1, 32))
    assert spec.months == frozenset({1, 7})
    assert spec.days_of_week == frozenset({1, 2, 3, 4, 5})
    assert parse_cron("5/20 * * * *").minutes == (5, 25, 45)
    assert parse_cron("10-50/20 * * * *").minutes == (10, 30, 50)
    assert parse_cron("0,30,15 * * * *").minutes == (0, 15, 30)
    assert parse_cron("0 0 1,15 */3 *").months == frozenset({1, 4, 7, 10})
    assert parse_cron("0 0 * FEB/5 *").months == frozenset({2, 7, 12})
    assert parse_cron("0 0 * * 7").days_of_week == frozenset({0})
    assert parse_cron("0 0 * * sun").days_of_week == frozenset({0})
    assert parse_cron("0 0 * * 5-7").days_of_week == frozenset({5, 6, 0})
    assert parse_cron("0 0 * * 0-7").days_of_week == frozenset(range(7))
    assert parse_cron("0 0 * * SAT,Sun").days_of_week == frozenset({0, 6})
    assert parse_cron("  0   0  *  *  *  ").minutes == (0,)


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_cron_aliases(alias, equivalent):
    spec, expected = parse_cron(alias), parse_cron(equivalent)
    assert (spec.minutes, spec.hours, spec.days_of_month, spec.months, spec.days_of_week) == (
        expected.minutes,
        expected.hours,
        expected.days_of_month,
        expected.months,
        expected.days_of_week,
    )
    after = utc("2026-04-15 12:34")
    assert fire_times(cron(alias, BERLIN), after, 3) == fire_times(
        cron(equivalent, BERLIN), after, 3
    )


def test_alias_firings():
    after = utc("2026-04-15 12:34")
    assert next_fire(cron("@hourly"), after) == utc("2026-04-15 13:00")
    assert next_fire(cron("@daily"), after) == utc("2026-04-16 00:00")
    assert next_fire(cron("@weekly"), after) == utc("2026-04-19 00:00")  # a Sunday
    assert next_fire(cron("@monthly"), after) == utc("2026-05-01 00:00")
    assert next_fire(cron("@yearly"), after) == utc("2027-01-01 00:00")


def test_vixie_rule_day_of_month_or_day_of_week_when_both_restricted():
    # April 2026: Fridays are 3, 10, 17, 24; the 13th is a Monday.
    timing = cron("0 0 13 * FRI")
    assert fire_times(timing, utc("2026-03-31 12:00"), 5) == [
        utc("2026-04-03 00:00"),
        utc("2026-04-10 00:00"),
        utc("2026-04-13 00:00"),
        utc("2026-04-17 00:00"),
        utc("2026-04-24 00:00"),
    ]
    spec = parse_cron("0 0 13 * FRI")
    assert spec.matches_day(date(2026, 4, 13))  # Monday the 13th
    assert spec.matches_day(date(2026, 4, 3))  # Friday the 3rd
    assert not spec.matches_day(date(2026, 4, 14))


def test_day_fields_both_must_match_when_one_starts_with_a_star():
    # odd days of the month AND Friday: 2026-04-03, 2026-04-17, 2026-05-01
    timing = cron("0 0 */2 * FRI")
    assert fire_times(timing, utc("2026-03-31 12:00"), 3) == [
        utc("2026-04-03 00:00"),
        utc("2026-04-17 00:00"),
        utc("2026-05-01 00:00"),
    ]
    assert next_fire(cron("0 0 13 * *"), utc("2026-04-01 00:00")) == utc("2026-04-13 00:00")
    assert next_fire(cron("0 0 * * FRI"), utc("2026-04-01 00:00")) == utc("2026-04-03 00:00")


def test_leap_day_and_rare_schedules():
    assert next_fire(cron("0 0 29 2 *", BERLIN), utc("2026-03-01 00:00")) == utc("2028-02-28 23:00")
    assert next_fire(cron("0 0 29 2 *"), utc("2028-02-29 00:00")) == utc("2032-02-29 00:00")
    # February the 31st can never happen, or the Vixie rule makes it "February or Monday"
    assert next_fire(cron("0 0 31 2 MON"), utc("2026-01-31 00:00")) == utc("2026-02-02 00:00")


def test_stored_timing_that_never_fires_gives_none():
    # make_timing refuses it; a Timing built by hand gives up after the 10-year horizon.
    timing = Timing(kind="cron", zone="UTC", cron="0 0 31 2 *")
    assert next_fire(timing, utc("2026-01-01 00:00")) is None
    assert fire_times(timing, utc("2026-01-01 00:00"), 3) == []
    assert preview(timing, utc("2026-01-01 00:00"), 3) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute field '61': 61 is out of range 0-59"),
        ("5,61 * * * *", "minute field '5,61': 61 is out of range 0-59"),
        ("* 24 * * *", "hour field '24': 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
        ("* * 32 * *", "day-of-month field '32': 32 is out of range 1-31"),
        ("* * * 13 *", "month field '13': 13 is out of range 1-12"),
        ("* * * FOO *", "month field 'FOO': 'FOO' is not a valid month (use 1-12 or JAN-DEC)"),
        (
            "* * * * FOO",
            "day-of-week field 'FOO': 'FOO' is not a valid day-of-week (use 0-7 or SUN-SAT)",
        ),
        ("* * * * 8", "day-of-week field '8': 8 is out of range 0-7"),
        ("* * * * MONDAY", "day-of-week field 'MONDAY': 'MONDAY' is not a valid day-of-week"),
        ("*/0 * * * *", "minute field '*/0': a step must be at least 1, got 0"),
        ("* 1-5/0 * * *", "hour field '1-5/0': a step must be at least 1, got 0"),
        ("* */x * * *", "hour field '*/x': step 'x' is not a whole number"),
        ("* * * */ *", "month field '*/': step '' is not a whole number"),
        ("30-10 * * * *", "minute field '30-10': range '30-10' is reversed (30 is after 10)"),
        (
            "* * * * FRI-MON",
            "day-of-week field 'FRI-MON': range 'FRI-MON' is reversed (5 is after 1)",
        ),
        ("1,,2 * * * *", "minute field '1,,2': empty item in the list"),
        ("* * * * MON,", "day-of-week field 'MON,': empty item in the list"),
        ("* * -1 * *", "day-of-month field '-1': a value is missing"),
        ("* 1- * * *", "hour field '1-': a value is missing"),
        ("1.5 * * * *", "minute field '1.5': '1.5' is not a valid minute (use 0-59)"),
        (
            "1 2 3 4 5 6",
            "expected 5 fields (minute hour day-of-month month day-of-week) or an alias like @daily, got 6",
        ),
        (
            "1 2 3",
            "expected 5 fields (minute hour day-of-month month day-of-week) or an alias like @daily, got 3",
        ),
        (
            "",
            "expected 5 fields (minute hour day-of-month month day-of-week) or an alias like @daily, got 0",
        ),
        ("@reboot", "@reboot is not supported"),
        ("@fortnightly", "unknown alias '@fortnightly'"),
        ("@daily 5", "an alias stands alone"),
        ("0 0 31 2 *", "never fires (day-of-month '31' never occurs in month '2')"),
        ("0 0 30,31 FEB *", "never fires (day-of-month '30,31' never occurs in month 'FEB')"),
        ("0 0 31 4,6,9,11 *", "never fires ("),
        ("0 0 31 2 */2", "never fires ("),
    ],
)
def test_cron_errors_name_the_field(expression, message):
    with pytest.raises(ScheduleDefinitionError) as caught:
        parse_cron(expression)
    assert caught.value.field == "cron"
    assert str(caught.value).startswith(message)
    assert caught.value.message == str(caught.value)
    with pytest.raises(ScheduleDefinitionError) as via_make:
        make_timing(kind="cron", zone=BERLIN, cron=expression)
    assert via_make.value.field == "cron"
    assert str(via_make.value) == str(caught.value)


def test_cron_that_fires_rarely_is_accepted():
    parse_cron("0 0 29 2 *")
    parse_cron("0 0 31 2 MON")  # Vixie rule: any Monday in February
    parse_cron("0 0 31 * *")


# --------------------------------------------------------------------------------------------
# Definition errors
# --------------------------------------------------------------------------------------------


def test_schedule_definition_error_shape():
    exc = ScheduleDefinitionError("timezone", "'Mars/Base' is not an IANA time zone")
    assert isinstance(exc, ValueError)
    assert (exc.field, exc.message, str(exc)) == (
        "timezone",
        "'Mars/Base' is not an IANA time zone",
        "'Mars/Base' is not an IANA time zone",
    )
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.field, copy.message) == (exc.field, exc.message)


@pytest.mark.parametrize(
    "zone", ["Mars/Base", "", "europe/berlin", "../etc/passwd", "/etc/localtime"]
)
def test_unknown_zone(zone):
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="cron", zone=zone, cron="0 * * * *")
    assert caught.value.field == "timezone"
    assert str(caught.value) == f"{zone!r} is not an IANA time zone"


def test_end_must_be_after_start():
    for end in (utc("2026-01-01 00:00"), utc("2025-12-31 00:00")):
        with pytest.raises(ScheduleDefinitionError) as caught:
            cron("0 * * * *", "UTC", start_at=utc("2026-01-01 00:00"), end_at=end)
        assert (caught.value.field, str(caught.value)) == ("end_at", "must be after start_at")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"every": 0, "unit": "hours"}, "interval_every", "must be at least 1, got 0"),
        ({"every": -5, "unit": "hours"}, "interval_every", "must be at least 1, got -5"),
        ({"every": None, "unit": "hours"}, "interval_every", "an interval needs"),
        ({"every": "5", "unit": "hours"}, "interval_every", "must be a whole number"),
        ({"every": True, "unit": "hours"}, "interval_every", "must be a whole number"),
        ({"every": 10**12, "unit": "days"}, "interval_every", "is too long"),
        ({"every": 5, "unit": "weeks"}, "interval_unit", "'weeks' is not a unit"),
        ({"every": 5, "unit": ""}, "interval_unit", "'' is not a unit"),
    ],
)
def test_interval_errors(kwargs, field, message):
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="interval", zone="UTC", anchor=utc("2026-01-01 00:00"), **kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_interval_needs_an_anchor():
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="interval", zone="UTC", every=1, unit="hours")
    assert caught.value.field == "start_at"


def test_once_needs_run_at():
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="once", zone="UTC")
    assert caught.value.field == "run_at"
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="once", zone="UTC", run_at="2026-01-01")
    assert caught.value.field == "run_at"


def test_unknown_kind():
    with pytest.raises(ScheduleDefinitionError) as caught:
        make_timing(kind="sometimes", zone="UTC")
    assert caught.value.field == "kind"


def test_fields_of_other_kinds_are_dropped():
    timing = make_timing(
        kind="cron",
        zone="UTC",
        cron="0 * * * *",
        every=5,
        unit="days",
        run_at=utc("2026-01-01 00:00"),
    )
    assert timing == Timing(kind="cron", zone="UTC", cron="0 * * * *")


# --------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------


def test_preview_spring_forward_berlin():
    items = preview(cron("30 2 * * *", BERLIN), utc("2026-03-27 12:00"), 3)
    assert items[0] == PreviewItem(
        at=utc("2026-03-28 01:30"),
        local=datetime(2026, 3, 28, 2, 30, tzinfo=ZoneInfo(BERLIN)),
        utc_offset="+01:00",
        abbreviation="CET",
        note="",
    )
    assert items[1].at == utc("2026-03-29 01:00")
    assert items[1].local.replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)
    assert (items[1].utc_offset, items[1].abbreviation) == ("+02:00", "CEST")
    assert items[1].note == (
        "02:30 does not exist on 2026-03-29 in Europe/Berlin (clocks go forward): "
        "fires at 03:00 CEST"
    )
    assert (items[1].dst_rule, items[1].wall_time) == ("gap", "2026-03-29T02:30")
    assert items[2].at == utc("2026-03-30 00:30")
    assert items[2].note == ""  # same offset as the previous firing
    assert (items[2].dst_rule, items[2].wall_time) == ("", "")
    assert all(item.at.tzinfo is UTC for item in items)


def test_preview_fall_back_berlin():
    items = preview(cron("0 2 * * *", BERLIN), utc("2026-10-24 12:00"), 2)
    assert [item.at for item in items] == [utc("2026-10-25 00:00"), utc("2026-10-26 01:00")]
    assert items[0].note == (
        "02:00 happens twice on 2026-10-25 in Europe/Berlin (clocks go back): "
        "fires at the first, 02:00 CEST"
    )
    assert (items[0].utc_offset, items[0].abbreviation) == ("+02:00", "CEST")
    assert (items[1].utc_offset, items[1].abbreviation) == ("+01:00", "CET")
    assert items[1].note == "the UTC offset changed from +02:00 to +01:00 since the previous firing"
    assert [(i.dst_rule, i.wall_time) for i in items] == [
        ("repeated", "2026-10-25T02:00"),
        ("offset_changed", ""),
    ]


def test_preview_spring_forward_new_york():
    items = preview(cron("30 2 * * *", NEW_YORK), utc("2026-03-07 00:00"), 3)
    assert [item.at for item in items] == [
        utc("2026-03-07 07:30"),
        utc("2026-03-08 07:00"),
        utc("2026-03-09 06:30"),
    ]
    assert [item.note for item in items] == [
        "",
        "02:30 does not exist on 2026-03-08 in America/New_York (clocks go forward): "
        "fires at 03:00 EDT",
        "",
    ]
    assert [(item.utc_offset, item.abbreviation) for item in items] == [
        ("-05:00", "EST"),
        ("-04:00", "EDT"),
        ("-04:00", "EDT"),
    ]


def test_preview_fall_back_new_york():
    items = preview(cron("30 1 * * *", NEW_YORK), utc("2026-10-31 12:00"), 2)
    assert [item.at for item in items] == [utc("2026-11-01 05:30"), utc("2026-11-02 06:30")]
    assert [item.note for item in items] == [
        "01:30 happens twice on 2026-11-01 in America/New_York (clocks go back): "
        "fires at the first, 01:30 EDT",
        "the UTC offset changed from -04:00 to -05:00 since the previous firing",
    ]


def test_preview_hourly_merges_the_missing_hour():
    items = preview(cron("0 * * * *", BERLIN), utc("2026-03-28 23:30"), 3)
    assert [(item.at, item.note) for item in items] == [
        (utc("2026-03-29 00:00"), ""),
        (
            utc("2026-03-29 01:00"),
            "02:00 does not exist on 2026-03-29 in Europe/Berlin (clocks go forward): "
            "fires once at 03:00 CEST",
        ),
        (utc("2026-03-29 02:00"), ""),
    ]
    half_hourly = preview(cron("*/30 * * * *", NEW_YORK), utc("2026-03-08 06:45"), 2)
    assert [(item.at, item.note) for item in half_hourly] == [
        (
            utc("2026-03-08 07:00"),
            "02:00 and 02:30 do not exist on 2026-03-08 in America/New_York "
            "(clocks go forward): fires once at 03:00 EDT",
        ),
        (utc("2026-03-08 07:30"), ""),
    ]


def test_preview_hourly_fall_back_notes():
    items = preview(cron("0 * * * *", NEW_YORK), utc("2026-11-01 04:30"), 3)
    assert [(item.at, item.local.hour, item.abbreviation, item.note) for item in items] == [
        (
            utc("2026-11-01 05:00"),
            1,
            "EDT",
            "01:00 happens twice on 2026-11-01 in America/New_York (clocks go back): "
            "fires at the first, 01:00 EDT",
        ),
        (
            utc("2026-11-01 07:00"),
            2,
            "EST",
            "the UTC offset changed from -04:00 to -05:00 since the previous firing",
        ),
        (utc("2026-11-01 08:00"), 3, "EST", ""),
    ]


def test_preview_offset_change_between_daily_firings():
    items = preview(cron("0 3 * * *", BERLIN), utc("2026-03-27 12:00"), 3)
    assert [(item.at, item.note) for item in items] == [
        (utc("2026-03-28 02:00"), ""),
        (
            utc("2026-03-29 01:00"),
            "the UTC offset changed from +01:00 to +02:00 since the previous firing",
        ),
        (utc("2026-03-30 01:00"), ""),
    ]


def test_preview_intervals():
    hourly = interval(1, "hours", BERLIN, utc("2026-10-24 23:00"))
    notes = [item.note for item in preview(hourly, utc("2026-10-24 22:00"), 4)]
    assert notes == [
        "",
        "",  # 02:00 CEST: elapsed time, nothing to say but the offset (unchanged so far)
        "the UTC offset changed from +02:00 to +01:00 since the previous firing",  # 02:00 CET
        "",
    ]
    days = interval(1, "days", BERLIN, datetime(2026, 3, 28, 2, 30))
    items = preview(days, utc("2026-03-28 00:00"), 3)
    assert [item.note for item in items] == [
        "",
        "02:30 does not exist on 2026-03-29 in Europe/Berlin (clocks go forward): "
        "fires at 03:00 CEST",
        "",
    ]


def test_preview_once():
    timing = make_timing(kind="once", zone=BERLIN, run_at=datetime(2026, 7, 1, 9, 0))
    assert preview(timing, utc("2026-01-01 00:00"), 5) == [
        PreviewItem(
            at=utc("2026-07-01 07:00"),
            local=datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo(BERLIN)),
            utc_offset="+02:00",
            abbreviation="CEST",
            note="",
        )
    ]
    assert preview(timing, utc("2026-08-01 00:00"), 5) == []


def test_preview_other_offsets():
    items = preview(cron("0 12 * * *", "Asia/Kolkata"), utc("2026-01-01 00:00"), 1)
    assert (items[0].at, items[0].utc_offset, items[0].abbreviation) == (
        utc("2026-01-01 06:30"),
        "+05:30",
        "IST",
    )


# --------------------------------------------------------------------------------------------
# Speed (printed, not asserted)
# --------------------------------------------------------------------------------------------


def test_speed_is_reasonable_printed_only():
    after = utc("2026-03-01 00:00")
    timings = [
        cron("0 0 29 2 *", BERLIN),
        cron("* * * * *", BERLIN),
        cron("30 9 * * MON-FRI", NEW_YORK),
        cron("*/5 * * * *", "UTC"),
        cron("0 0 13 * FRI", BERLIN),
    ]
    for timing in timings:
        start = time.perf_counter()
        for i in range(2000):
            next_fire(timing, after + timedelta(minutes=i))
        elapsed = (time.perf_counter() - start) / 2000
        print(f"next_fire {timing.cron!r}: {elapsed * 1e6:.1f} us per call")
    start = time.perf_counter()
    for i in range(10_000):
        next_fire(timings[i % 5], after + timedelta(minutes=i))
    print(f"10,000 next_fire calls: {time.perf_counter() - start:.3f} s")


# --------------------------------------------------------------------------------------------
# Cross-check against a minute-by-minute reference in unusual zones
# --------------------------------------------------------------------------------------------


def _reference_due_times(expression: str, zone: str, after: datetime, until: datetime):
    """Slow and obvious: walk every wall-clock minute and apply the three DST rules."""
    spec, tz = parse_cron(expression), ZoneInfo(zone)
    wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    last = until.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    found = set()
    while wall <= last:
        if spec.matches(wall):
            first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
            second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
            if first <= second:  # exists once, or twice (take the first)
                instant = first
            else:  # in a gap: the first minute whose wall clock is past it
                instant = second
                while instant.astimezone(tz).replace(tzinfo=None) < wall:
                    instant += timedelta(minutes=1)
            if after < instant <= until:
                found.add(instant)
        wall += timedelta(minutes=1)
    return sorted(found)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Australia/Lord_Howe", "2026-04-04 14:00"),  # clocks go back 30 minutes
        ("Australia/Lord_Howe", "2026-10-03 14:00"),  # clocks go forward 30 minutes
        ("Pacific/Apia", "2011-12-29 00:00"),  # 2011-12-30 was skipped entirely
        ("America/Santiago", "2026-04-04 00:00"),  # changes at local midnight
        ("America/Santiago", "2026-09-05 00:00"),
        ("Europe/Dublin", "2026-10-24 00:00"),  # negative DST in the tz database
    ],
)
@pytest.mark.parametrize(
    "expression", ["*/15 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * *", "*/7 0-3 * * *"]
)
def test_cron_matches_a_minute_by_minute_reference(zone, start, expression):
    after = utc(start)
    until = after + timedelta(days=3)
    timing = cron(expression, zone)
    assert due_times(timing, after, until, 10_000) == _reference_due_times(
        expression, zone, after, until
    )


@pytest.mark.parametrize("expression", ["0 0 1 1 *", "0 3 * * *", "0 0 29 2 *"])
def test_a_cron_search_near_year_9999_ends_without_an_error(expression):
    # the ten-year horizon after the last hit would be past year 9999 (was: "year 10009 is out
    # of range")
    timing = cron(expression, zone="UTC", start_at=utc("9999-06-01 00:00"))
    after = utc("9998-12-31 12:00")
    found = next_fire(timing, after)
    assert found is None or found.year == 9999
    assert all(item.at.year == 9999 for item in preview(timing, after, 3))
