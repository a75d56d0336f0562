"""When a schedule fires: cron, interval and one-off timings in the schedule's own time zone.

This module is pure Python (``datetime`` and ``zoneinfo`` only): no models, no database. Every
instant it returns is an aware ``datetime`` in UTC.

Kinds of timing
===============

``cron``
    A standard five-field cron expression, evaluated in wall-clock time in the schedule's IANA
    time zone (see *Cron expressions* and *Daylight saving time* below).

``interval``
    Every N ``seconds``, ``minutes``, ``hours`` or ``days``, counted from an anchor instant (the
    schedule's start, or the moment it was created). Firings happen at ``anchor``,
    ``anchor + 1 * interval``, ``anchor + 2 * interval``, ... and never before the anchor.

    * ``seconds``, ``minutes`` and ``hours`` are *elapsed* time: "every 6 hours" means exactly
      6 * 3600 seconds apart, whatever the clocks do. Across a DST change the local wall-clock
      time of the firings therefore shifts by the size of the change.
    * ``days`` are *calendar* days in the schedule's zone, at the anchor's wall-clock time:
      "every 2 days" from 02:30 Europe/Berlin fires at 02:30 Berlin time every other day, in
      summer and in winter alike (the elapsed time between two firings is then 23, 24 or 25
      hours). A wall-clock time that does not exist or happens twice on a given day follows the
      same rules as cron (below).

``calendar``
    A wall-clock ``time`` of day in the schedule's zone on a calendar pattern, every ``every``
    days, weeks or months (``frequency`` ``daily``, ``weekly`` or ``monthly``):

    * ``daily``: at ``time`` on every ``every``-th day;
    * ``weekly``: at ``time`` on each of ``weekdays`` (0 = Monday ... 6 = Sunday) of every
      ``every``-th week (weeks start on Monday);
    * ``monthly``: at ``time`` on day ``day_of_month`` (1-31) of every ``every``-th month. In a
      month that has fewer days the schedule fires on the month's *last* day instead (day 31
      fires on 30 April and on 28 or 29 February), so it fires once in every selected month.

    Days, weeks and months are counted from the **anchor** (the schedule's start, or the moment
    it was created): the anchor's day, its week (Monday to Sunday) or its month is the first of
    the pattern, then every ``every``-th one after it. With ``every`` 1 the anchor only bounds
    the firings (nothing fires before it). The time of day follows the DST rules below, like
    cron.

``once``
    A single instant, ``run_at``. Once it is in the past the schedule never fires again.

Bounds
======

``start_at`` and ``end_at`` bound every kind and are inclusive: nothing fires before
``start_at`` and nothing fires after ``end_at``; a firing exactly at either bound does happen.
``end_at`` must be after ``start_at``.

Date-times given without a time zone (naive) for the anchor, ``run_at``, ``start_at`` or
``end_at`` are read as wall-clock times in the schedule's zone, with the DST rules below.

Cron expressions
================

Five fields separated by spaces::

    minute  hour  day-of-month  month  day-of-week
    0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
                                JAN-DEC  SUN-SAT (names in any letter case)

Each field is a comma-separated list of items; an item is one of

* ``*``: every value;
* ``a``: one value;
* ``a-b``: every value from a to b inclusive (a must not be greater than b);
* ``*/n``, ``a-b/n``: every n-th value of the whole range or of a to b, starting at the first;
* ``a/n``: every n-th value from a to the end of the field's range.

A step must be at least 1. Names can be used wherever a number can (``MON-FRI``, ``JAN/3``).

Day-of-month and day-of-week combine as in Vixie cron: when *both* are restricted (neither field
starts with ``*``) a day matches if it matches *either* of them, so ``0 0 13 * FRI`` fires on
every 13th and on every Friday. When one of them starts with ``*``, a day must match both (which
amounts to the other field alone when the ``*`` field is just ``*``).

Aliases: ``@yearly`` and ``@annually`` (``0 0 1 1 *``), ``@monthly`` (``0 0 1 * *``),
``@weekly`` (``0 0 * * 0``), ``@daily`` and ``@midnight`` (``0 0 * * *``), ``@hourly``
(``0 * * * *``). ``@reboot`` is not supported: a schedule fires at times, not at events.

An expression that can never match a date (such as ``0 0 31 2 *``, February the 31st) is
rejected. When looking for the next firing, the search gives up after 10 years without one.

Daylight saving time
====================

Cron times (and calendar-day intervals and calendar schedules) are wall-clock times in the
schedule's zone. Each matching wall-clock time is turned into an instant like this:

* it exists exactly once: it fires at that instant;
* it does not exist, because the clocks jump forward over it (for example 02:30 on
  2026-03-29 in Europe/Berlin, where 02:00 CET is followed by 03:00 CEST): it fires at the first
  instant after the gap, i.e. the moment of the change (03:00 CEST, 01:00 UTC). If several
  matching times fall into the same gap, or a matching time falls into it and the time right
  after the gap matches too (an hourly schedule: 02:00 does not exist, 03:00 does), the schedule
  fires only *once* at that instant;
* it happens twice, because the clocks go back (02:30 on 2026-10-25 in Europe/Berlin, first at
  02:30 CEST and an hour later at 02:30 CET): it fires once, at the first occurrence.

So a daily schedule fires exactly once every day, also on the days the clocks change, and an
hourly schedule fires once per wall-clock hour: 23 times on the day that is an hour short and 24
times (not 25) on the day that is an hour long.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "CronSpec",
    "PreviewItem",
    "ScheduleDefinitionError",
    "Timing",
    "due_times",
    "fire_times",
    "make_timing",
    "next_fire",
    "parse_cron",
    "preview",
]

KINDS = ("cron", "interval", "calendar", "once")
UNITS = ("seconds", "minutes", "hours", "days")
FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # index: 0 = Monday
_MAX_CALENDAR_EVERY = 1000
HORIZON_YEARS = 10
_MAX_YEAR = 9998  # keep clear of datetime.max when converting between zones
_ONE_MICROSECOND = timedelta(microseconds=1)
_MAX_INTERVAL = timedelta(days=366 * 100)
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class ScheduleDefinitionError(ValueError):
    """A schedule definition that cannot be used; ``field`` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.field, self.message))


# --------------------------------------------------------------------------------------------
# Cron parsing
# --------------------------------------------------------------------------------------------

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_DOW_NAMES = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
}

# (name, lowest, highest, names, how to spell a value)
_FIELDS: tuple[tuple[str, int, int, dict[str, int] | None, str], ...] = (
    ("minute", 0, 59, None, "0-59"),
    ("hour", 0, 23, None, "0-23"),
    ("day-of-month", 1, 31, None, "1-31"),
    ("month", 1, 12, _MONTH_NAMES, "1-12 or JAN-DEC"),
    ("day-of-week", 0, 7, _DOW_NAMES, "0-7 or SUN-SAT"),
)

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ALIAS_LIST = "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
_FIELD_COUNT_MESSAGE = (
    "expected 5 fields (minute hour day-of-month month day-of-week) or an alias like @daily, got {}"
)
# The longest each month can be (February in leap years).
_MAX_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron expression.

    ``days_of_week`` uses 0 for Sunday to 6 for Saturday (7 is folded into 0). The ``*_restricted``
    flags say whether the day fields were written without a leading ``*`` (the Vixie rule).
    """

    text: str
    fields: tuple[str, str, str, str, str]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool

    def matches_day(self, day: date) -> bool:
        """Whether the calendar day matches the day-of-month, month and day-of-week fields."""
        return day.month in self.months and self._day_matches(day.day, (day.weekday() + 1) % 7)

    def matches(self, wall: datetime) -> bool:
        """Whether the wall-clock time (its minute) matches the expression."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and self.matches_day(wall.date())
        )

    def _day_matches(self, day_of_month: int, day_of_week: int) -> bool:
        if self.dom_restricted and self.dow_restricted:
            return day_of_month in self.days_of_month or day_of_week in self.days_of_week
        return day_of_month in self.days_of_month and day_of_week in self.days_of_week


def _field_error(name: str, text: str, detail: str) -> ScheduleDefinitionError:
    return ScheduleDefinitionError("cron", f"{name} field {text!r}: {detail}")


def _parse_value(
    token: str, name: str, text: str, low: int, high: int, names: dict[str, int] | None, spell: str
) -> int:
    if token == "":
        raise _field_error(name, text, "a value is missing")
    if token.isascii() and token.isdigit():
        value = int(token)
        if not low <= value <= high:
            raise _field_error(name, text, f"{value} is out of range {low}-{high}")
        return value
    if names is not None and token.upper() in names:
        return names[token.upper()]
    raise _field_error(name, text, f"{token!r} is not a valid {name} (use {spell})")


def _parse_field(
    text: str, name: str, low: int, high: int, names: dict[str, int] | None, spell: str
) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        if item == "":
            raise _field_error(name, text, "empty item in the list")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()):
                raise _field_error(name, text, f"step {step_text!r} is not a whole number")
            step = int(step_text)
            if step == 0:
                raise _field_error(name, text, "a step must be at least 1, got 0")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _parse_value(first, name, text, low, high, names, spell)
            end = _parse_value(last, name, text, low, high, names, spell)
            if start > end:
                raise _field_error(
                    name, text, f"range {base!r} is reversed ({start} is after {end})"
                )
        else:
            start = _parse_value(base, name, text, low, high, names, spell)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return values


@functools.lru_cache(maxsize=512)
def _compile_cron(text: str) -> CronSpec:
    """Parse without the "can it ever fire" check (used when evaluating stored timings)."""
    if not isinstance(text, str):
        raise ScheduleDefinitionError("cron", "a cron expression must be text")
    tokens = text.split()
    if tokens and tokens[0].startswith("@"):
        alias = tokens[0].lower()
        if alias == "@reboot":
            raise ScheduleDefinitionError(
                "cron",
                "@reboot is not supported: a schedule fires at times, not when something starts; "
                f"use five fields or one of {_ALIAS_LIST}",
            )
        if alias not in _ALIASES:
            raise ScheduleDefinitionError("cron", f"unknown alias {tokens[0]!r}: use {_ALIAS_LIST}")
        if len(tokens) != 1:
            raise ScheduleDefinitionError(
                "cron", f"an alias stands alone, got {len(tokens) - 1} more word(s) after it"
            )
        spec = _compile_cron(_ALIASES[alias])
        return CronSpec(
            text=text,
            fields=spec.fields,
            minutes=spec.minutes,
            hours=spec.hours,
            days_of_month=spec.days_of_month,
            months=spec.months,
            days_of_week=spec.days_of_week,
            dom_restricted=spec.dom_restricted,
            dow_restricted=spec.dow_restricted,
        )
    if len(tokens) != 5:
        raise ScheduleDefinitionError("cron", _FIELD_COUNT_MESSAGE.format(len(tokens)))
    parsed = [
        _parse_field(token, name, low, high, names, spell)
        for token, (name, low, high, names, spell) in zip(tokens, _FIELDS, strict=True)
    ]
    minutes, hours, doms, months, dows = parsed
    return CronSpec(
        text=text,
        fields=(tokens[0], tokens[1], tokens[2], tokens[3], tokens[4]),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days_of_month=frozenset(doms),
        months=frozenset(months),
        days_of_week=frozenset(d % 7 for d in dows),
        dom_restricted=not tokens[2].startswith("*"),
        dow_restricted=not tokens[4].startswith("*"),
    )


def parse_cron(text: str) -> CronSpec:
    """Parse and validate a cron expression; raises ``ScheduleDefinitionError("cron", ...)``.

    Besides syntax and ranges, an expression that can never fire (``0 0 31 2 *``) is rejected.
    """
    spec = _compile_cron(text)
    # Unless the Vixie "either" rule applies, day-of-month and day-of-week must both match: some
    # selected month must then have one of the selected days (every date falls on every weekday
    # over the years, so day-of-week cannot make it impossible).
    either_day_rule = spec.dom_restricted and spec.dow_restricted
    if not either_day_rule and not any(
        day <= _MAX_MONTH_DAYS[month - 1] for month in spec.months for day in spec.days_of_month
    ):
        raise ScheduleDefinitionError(
            "cron",
            f"never fires (day-of-month {spec.fields[2]!r} never occurs in month "
            f"{spec.fields[3]!r})",
        )
    return spec


# --------------------------------------------------------------------------------------------
# Zones and wall-clock resolution
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or name not in _zone_names():
        raise ScheduleDefinitionError("timezone", f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleDefinitionError("timezone", f"{name!r} is not an IANA time zone") from exc


_EXISTS, _GAP, _AMBIGUOUS = "exists", "gap", "ambiguous"


def _resolve(wall: datetime, zone: tzinfo) -> tuple[datetime, str]:
    """The instant (UTC) a naive wall-clock time in ``zone`` stands for, and how it was found."""
    before = zone.utcoffset(wall.replace(fold=0))
    after = zone.utcoffset(wall.replace(fold=1))
    assert before is not None and after is not None
    if before == after:
        return (wall - before).replace(tzinfo=UTC, fold=0), _EXISTS
    if before > after:  # clocks went back: fold=0 is the first (earlier) occurrence
        return (wall - before).replace(tzinfo=UTC, fold=0), _AMBIGUOUS
    return _gap_end(wall.replace(fold=0), zone), _GAP


@functools.lru_cache(maxsize=1024)
def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The instant the clocks jumped over the non-existent wall time ``wall``."""
    offset_before = zone.utcoffset(wall.replace(fold=0))
    offset_after = zone.utcoffset(wall.replace(fold=1))
    assert offset_before is not None and offset_after is not None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    # Before the change the wall clock reads less than `wall`, after it more: bisect on seconds.
    low = (wall - offset_after).replace(tzinfo=UTC)
    high = (wall - offset_before).replace(tzinfo=UTC)
    lo = (low - epoch) // timedelta(seconds=1)
    hi = -((epoch - high) // timedelta(seconds=1))  # ceiling
    while hi - lo > 1:
        mid = (lo + hi) // 2
        instant = epoch + timedelta(seconds=mid)
        if instant.astimezone(zone).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return epoch + timedelta(seconds=hi)


def _to_instant(value: datetime, zone: tzinfo) -> datetime:
    """An aware datetime as UTC; a naive one read as wall-clock time in ``zone``."""
    if value.tzinfo is None or value.utcoffset() is None:
        return _resolve(value.replace(tzinfo=None), zone)[0]
    return value.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """A validated schedule timing; build it with :func:`make_timing`. Datetimes are aware (UTC)."""

    kind: str
    zone: str
    cron: str = ""
    every: int | None = None
    unit: str = ""
    frequency: str = ""  # calendar: daily | weekly | monthly
    time_of_day: time | None = None  # calendar: wall-clock time in the zone
    weekdays: tuple[int, ...] = ()  # calendar weekly: 0 = Monday ... 6 = Sunday, ascending
    day_of_month: int | None = None  # calendar monthly: 1-31
    anchor: datetime | None = None
    run_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None


def _check_datetime(field: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ScheduleDefinitionError(field, "must be a date and time")
    return value


def make_timing(
    *,
    kind: str,
    zone: str,
    cron: str = "",
    every: int | None = None,
    unit: str = "",
    frequency: str = "",
    time_of_day: time | None = None,
    weekdays: tuple[int, ...] | list[int] | None = None,
    day_of_month: int | None = None,
    anchor: datetime | None = None,
    run_at: datetime | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Timing:
    """Validate a schedule definition and return its :class:`Timing`.

    Raises :class:`ScheduleDefinitionError` naming the offending field. Fields that do not
    belong to ``kind`` are ignored (and left empty in the result). For an interval or a calendar
    schedule without an ``anchor`` the ``start_at`` is used as the anchor. A calendar schedule
    (``frequency``, ``every``, ``time_of_day``, ``weekdays`` or ``day_of_month``) needs an anchor
    only when ``every`` is more than 1.
    """
    if kind not in KINDS:
        raise ScheduleDefinitionError(
            "kind", f"unknown kind {kind!r}: use cron, interval, calendar or once"
        )
    tz = _zone(zone)
    checked = {
        field: _check_datetime(field, value)
        for field, value in (
            ("anchor", anchor),
            ("run_at", run_at),
            ("start_at", start_at),
            ("end_at", end_at),
        )
    }
    instants = {
        field: None if value is None else _to_instant(value, tz) for field, value in checked.items()
    }
    start, end = instants["start_at"], instants["end_at"]
    if start is not None and end is not None and end <= start:
        raise ScheduleDefinitionError("end_at", "must be after start_at")

    if kind == "cron":
        parse_cron(cron)
        return Timing(kind="cron", zone=zone, cron=cron, start_at=start, end_at=end)

    if kind == "interval":
        if every is None:
            raise ScheduleDefinitionError("interval_every", "an interval needs a number of units")
        if isinstance(every, bool) or not isinstance(every, int):
            raise ScheduleDefinitionError("interval_every", "must be a whole number")
        if every < 1:
            raise ScheduleDefinitionError("interval_every", f"must be at least 1, got {every}")
        if unit not in UNITS:
            raise ScheduleDefinitionError(
                "interval_unit", f"{unit!r} is not a unit: use seconds, minutes, hours or days"
            )
        if every * _UNIT_SECONDS[unit] > _MAX_INTERVAL.total_seconds():
            raise ScheduleDefinitionError("interval_every", "is too long (at most 100 years)")
        anchor_at = instants["anchor"] if instants["anchor"] is not None else start
        if anchor_at is None:
            raise ScheduleDefinitionError(
                "start_at", "an interval needs a start time to count from"
            )
        return Timing(
            kind="interval",
            zone=zone,
            every=every,
            unit=unit,
            anchor=anchor_at,
            start_at=start,
            end_at=end,
        )

    if kind == "calendar":
        return _calendar_timing(
            zone=zone,
            frequency=frequency,
            every=1 if every is None else every,
            time_of_day=time_of_day,
            weekdays=weekdays,
            day_of_month=day_of_month,
            anchor=instants["anchor"] if instants["anchor"] is not None else start,
            start=start,
            end=end,
        )

    if instants["run_at"] is None:
        raise ScheduleDefinitionError("run_at", "a one-off schedule needs a date and time")
    return Timing(kind="once", zone=zone, run_at=instants["run_at"], start_at=start, end_at=end)


def _calendar_timing(
    *,
    zone: str,
    frequency: str,
    every: object,
    time_of_day: object,
    weekdays: object,
    day_of_month: object,
    anchor: datetime | None,
    start: datetime | None,
    end: datetime | None,
) -> Timing:
    if frequency not in FREQUENCIES:
        raise ScheduleDefinitionError(
            "frequency", f"{frequency!r} is not a frequency: use daily, weekly or monthly"
        )
    if isinstance(every, bool) or not isinstance(every, int):
        raise ScheduleDefinitionError("every", "must be a whole number")
    if not 1 <= every <= _MAX_CALENDAR_EVERY:
        raise ScheduleDefinitionError(
            "every", f"must be between 1 and {_MAX_CALENDAR_EVERY}, got {every}"
        )
    if time_of_day is None:
        raise ScheduleDefinitionError("time_of_day", "a calendar schedule needs a time of day")
    if not isinstance(time_of_day, time) or time_of_day.tzinfo is not None:
        raise ScheduleDefinitionError(
            "time_of_day", "must be a wall-clock time of day (HH:MM) without a time zone"
        )
    days: tuple[int, ...] = ()
    if frequency == "weekly":
        if not weekdays:
            raise ScheduleDefinitionError(
                "days_of_week", "a weekly schedule needs at least one day (0 = Monday ... 6)"
            )
        if isinstance(weekdays, str | bytes) or not isinstance(weekdays, list | tuple):
            raise ScheduleDefinitionError("days_of_week", "must be a list of days")
        for day in weekdays:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ScheduleDefinitionError(
                    "days_of_week", f"{day!r} is not a day of the week (0 = Monday ... 6 = Sunday)"
                )
        days = tuple(sorted(set(weekdays)))
    elif weekdays:
        raise ScheduleDefinitionError(
            "days_of_week", f"only a weekly schedule has days of the week, not a {frequency} one"
        )
    month_day: int | None = None
    if frequency == "monthly":
        if day_of_month is None:
            raise ScheduleDefinitionError("day_of_month", "a monthly schedule needs a day (1-31)")
        if isinstance(day_of_month, bool) or not isinstance(day_of_month, int):
            raise ScheduleDefinitionError("day_of_month", "must be a whole number")
        if not 1 <= day_of_month <= 31:
            raise ScheduleDefinitionError(
                "day_of_month", f"must be between 1 and 31, got {day_of_month}"
            )
        month_day = day_of_month
    elif day_of_month is not None:
        raise ScheduleDefinitionError(
            "day_of_month", f"only a monthly schedule has a day of the month, not a {frequency} one"
        )
    if every > 1 and anchor is None:
        raise ScheduleDefinitionError(
            "start_at", f"every {every} {_CALENDAR_UNITS[frequency]} needs a start to count from"
        )
    return Timing(
        kind="calendar",
        zone=zone,
        every=every,
        frequency=frequency,
        time_of_day=time_of_day.replace(fold=0),
        weekdays=days,
        day_of_month=month_day,
        anchor=anchor,
        start_at=start,
        end_at=end,
    )


_CALENDAR_UNITS = {"daily": "days", "weekly": "weeks", "monthly": "months"}


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Occurrence:
    at: datetime  # UTC
    wall: datetime | None  # the matching wall-clock time (cron, interval days), naive
    status: str  # _EXISTS, _GAP or _AMBIGUOUS


def _add_years(day: date, years: int) -> date:
    if day.year + years > date.max.year:  # a horizon past year 9999: the end of time
        return date.max
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _cron_occurrences(spec: CronSpec, zone: tzinfo, after: datetime) -> Iterator[_Occurrence]:
    """Matching wall times from the wall time of ``after`` on, as instants > ``after``.

    The instants are non-decreasing; several wall times can yield the same instant (a gap).
    """
    start = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    first_day = start.date()
    last_hit = first_day
    horizon = _add_years(last_hit, HORIZON_YEARS)
    year, month, day_from = first_day.year, first_day.month, first_day.day
    hours, minutes = spec.hours, spec.minutes
    while year <= _MAX_YEAR and (year, month) <= (horizon.year, horizon.month):
        if month in spec.months:
            month_days = calendar.monthrange(year, month)[1]
            first_dow = (date(year, month, 1).weekday() + 1) % 7  # cron weekday of the 1st
            for day in range(day_from, month_days + 1):
                if not spec._day_matches(day, (first_dow + day - 1) % 7):
                    continue
                current = date(year, month, day)
                if current > horizon:
                    return
                is_first = current == first_day
                for hour in hours:
                    if is_first and hour < start.hour:
                        continue
                    for minute in minutes:
                        if is_first and hour == start.hour and minute < start.minute:
                            continue
                        wall = datetime(year, month, day, hour, minute)
                        instant, status = _resolve(wall, zone)
                        if instant > after:
                            if current != last_hit:
                                last_hit = current
                                horizon = _add_years(last_hit, HORIZON_YEARS)
                            yield _Occurrence(instant, wall, status)
        day_from = 1
        month += 1
        if month == 13:
            month, year = 1, year + 1


def _day_interval_occurrences(
    anchor: datetime, every: int, zone: tzinfo, after: datetime
) -> Iterator[_Occurrence]:
    local = anchor.astimezone(zone)
    anchor_day = local.date()
    time_of_day = local.time().replace(tzinfo=None, fold=0)
    days_to_after = (after.astimezone(zone).date() - anchor_day).days
    k = max(0, (days_to_after - 1) // every)
    while True:
        try:
            day = anchor_day + timedelta(days=k * every)
        except OverflowError:
            return
        if day.year > _MAX_YEAR:
            return
        wall = datetime.combine(day, time_of_day)
        instant, status = _resolve(wall, zone)
        if instant > after:
            yield _Occurrence(instant, wall, status)
        k += 1


def _calendar_days(timing: Timing, zone: tzinfo, after: datetime) -> Iterator[date]:
    """The days a calendar timing fires on, ascending, from the period holding ``after`` on."""
    every = timing.every or 1
    from_day = after.astimezone(zone).date()
    anchor_day = timing.anchor.astimezone(zone).date() if timing.anchor is not None else from_day
    if timing.frequency == "daily":
        # the first selected day not before the day before ``after`` (its time may still come)
        k = max(0, -(-((from_day - anchor_day).days - 1) // every))
        while True:
            try:
                yield anchor_day + timedelta(days=k * every)
            except OverflowError:
                return
            k += 1
    elif timing.frequency == "weekly":
        anchor_week = anchor_day - timedelta(days=anchor_day.weekday())
        from_week = from_day - timedelta(days=from_day.weekday() + 7)  # a week of slack
        k = max(0, ((from_week - anchor_week).days // 7) // every)
        while True:
            try:
                week = anchor_week + timedelta(weeks=k * every)
            except OverflowError:
                return
            for weekday in timing.weekdays:
                yield week + timedelta(days=weekday)
            k += 1
    elif timing.frequency == "monthly":
        anchor_month = anchor_day.year * 12 + anchor_day.month - 1
        from_month = from_day.year * 12 + from_day.month - 2  # a month of slack
        k = max(0, (from_month - anchor_month) // every)
        wanted = timing.day_of_month or 1
        while True:
            year, month0 = divmod(anchor_month + k * every, 12)
            if year > _MAX_YEAR:
                return
            last = calendar.monthrange(year, month0 + 1)[1]
            yield date(year, month0 + 1, min(wanted, last))
            k += 1
    else:
        raise ValueError(f"unknown calendar frequency {timing.frequency!r}")


def _calendar_occurrences(timing: Timing, zone: tzinfo, after: datetime) -> Iterator[_Occurrence]:
    if timing.time_of_day is None:
        raise ValueError("a calendar timing needs a time of day")
    for day in _calendar_days(timing, zone, after):
        if day.year > _MAX_YEAR:
            return
        wall = datetime.combine(day, timing.time_of_day)
        instant, status = _resolve(wall, zone)
        if instant > after:
            yield _Occurrence(instant, wall, status)


def _fixed_interval_occurrences(
    anchor: datetime, delta: timedelta, after: datetime
) -> Iterator[_Occurrence]:
    k = 0 if after < anchor else (after - anchor) // delta + 1
    while True:
        try:
            instant = anchor + k * delta
        except OverflowError:
            return
        if instant.year > _MAX_YEAR:
            return
        yield _Occurrence(instant, None, _EXISTS)
        k += 1


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone)")
    return value.astimezone(UTC)


def _occurrences(timing: Timing, after: datetime) -> Iterator[_Occurrence]:
    """Firings strictly after ``after`` within start_at/end_at, non-decreasing, maybe repeated."""
    zone = _zone(timing.zone)
    lower = _aware(after, "after")
    if timing.start_at is not None:
        lower = max(lower, timing.start_at.astimezone(UTC) - _ONE_MICROSECOND)
    end = timing.end_at.astimezone(UTC) if timing.end_at is not None else None

    source: Iterator[_Occurrence]
    if timing.kind == "cron":
        source = _cron_occurrences(_compile_cron(timing.cron), zone, lower)
    elif timing.kind == "interval":
        if timing.anchor is None or timing.every is None or timing.every < 1:
            raise ValueError("an interval timing needs an anchor and every >= 1")
        anchor = timing.anchor.astimezone(UTC)
        lower = max(lower, anchor - _ONE_MICROSECOND)
        if timing.unit == "days":
            source = _day_interval_occurrences(anchor, timing.every, zone, lower)
        elif timing.unit in UNITS:
            delta = timedelta(**{timing.unit: timing.every})
            source = _fixed_interval_occurrences(anchor, delta, lower)
        else:
            raise ValueError(f"unknown interval unit {timing.unit!r}")
    elif timing.kind == "calendar":
        if timing.anchor is not None:
            lower = max(lower, timing.anchor.astimezone(UTC) - _ONE_MICROSECOND)
        source = _calendar_occurrences(timing, zone, lower)
    elif timing.kind == "once":
        run_at = timing.run_at.astimezone(UTC) if timing.run_at is not None else None
        once = [] if run_at is None or run_at <= lower else [_Occurrence(run_at, None, _EXISTS)]
        source = iter(once)
    else:
        raise ValueError(f"unknown timing kind {timing.kind!r}")

    for occurrence in source:
        if end is not None and occurrence.at > end:
            return
        yield occurrence


def _distinct(timing: Timing, after: datetime) -> Iterator[datetime]:
    previous = None
    for occurrence in _occurrences(timing, after):
        if occurrence.at != previous:
            previous = occurrence.at
            yield occurrence.at


def next_fire(timing: Timing, after: datetime) -> datetime | None:
    """The first firing strictly after ``after`` (aware), in UTC; None if there is none."""
    return next(_distinct(timing, after), None)


def fire_times(timing: Timing, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` firings strictly after ``after``, ascending, in UTC."""
    result: list[datetime] = []
    if count <= 0:
        return result
    for instant in _distinct(timing, after):
        result.append(instant)
        if len(result) >= count:
            break
    return result


def due_times(timing: Timing, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """Firings in ``(after, until]``, ascending, at most ``limit`` of them, in UTC."""
    until_utc = _aware(until, "until")
    result: list[datetime] = []
    if limit <= 0:
        return result
    for instant in _distinct(timing, after):
        if instant > until_utc:
            break
        result.append(instant)
        if len(result) >= limit:
            break
    return result


# --------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewItem:
    """One upcoming firing as a person would want to see it."""

    at: datetime  # UTC
    local: datetime  # the same instant in the schedule's zone
    utc_offset: str  # "+02:00"
    abbreviation: str  # "CEST"
    note: str  # "" unless daylight saving time affected this firing
    # which DST rule applied, as a fact a program can use: "" (none), "gap" (the wall-clock
    # time does not exist: fires at the change), "repeated" (it happens twice: fires at the
    # first) or "offset_changed" (the zone's offset differs from the previous firing's)
    dst_rule: str = ""
    wall_time: str = ""  # "2026-03-29T02:30": the wall-clock time asked for ("gap"/"repeated")


def _format_offset(offset: timedelta | None) -> str:
    if offset is None:
        return "+00:00"
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{secs:02d}" if secs else text


def _clock(value: datetime) -> str:
    if value.second or value.microsecond:
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return f"{value.hour:02d}:{value.minute:02d}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _note(
    group: list[_Occurrence], local: datetime, zone_name: str, previous_offset: str | None
) -> tuple[str, str, str]:
    """(note, rule, wall-clock time asked for): the DST rule that applied to a firing."""
    abbreviation = local.tzname() or ""
    gaps = [o.wall for o in group if o.status == _GAP and o.wall is not None]
    if gaps:
        verb = "does" if len(gaps) == 1 else "do"
        once = "once " if len(group) > 1 else ""
        return (
            f"{_join([_clock(wall) for wall in gaps])} {verb} not exist on "
            f"{gaps[0].date().isoformat()} in {zone_name} (clocks go forward): "
            f"fires {once}at {_clock(local)} {abbreviation}",
            "gap",
            gaps[0].isoformat(timespec="minutes"),
        )
    doubled = [o.wall for o in group if o.status == _AMBIGUOUS and o.wall is not None]
    if doubled:
        wall = doubled[0]
        return (
            f"{_clock(wall)} happens twice on {wall.date().isoformat()} in {zone_name} "
            f"(clocks go back): fires at the first, {_clock(local)} {abbreviation}",
            "repeated",
            wall.isoformat(timespec="minutes"),
        )
    offset = _format_offset(local.utcoffset())
    if previous_offset is not None and previous_offset != offset:
        return (
            f"the UTC offset changed from {previous_offset} to {offset} since the previous firing",
            "offset_changed",
            "",
        )
    return "", "", ""


def preview(timing: Timing, after: datetime, count: int) -> list[PreviewItem]:
    """The next ``count`` firings with local time, offset, abbreviation and DST notes."""
    zone = _zone(timing.zone)
    items: list[PreviewItem] = []
    if count <= 0:
        return items
    occurrences = _occurrences(timing, after)
    pending = next(occurrences, None)
    previous_offset: str | None = None
    while pending is not None and len(items) < count:
        group = [pending]
        pending = next(occurrences, None)
        while pending is not None and pending.at == group[0].at:
            group.append(pending)
            pending = next(occurrences, None)
        at = group[0].at
        local = at.astimezone(zone)
        offset = _format_offset(local.utcoffset())
        note, rule, wall = _note(
            group, local, timing.zone, previous_offset if timing.kind != "once" else None
        )
        items.append(PreviewItem(at, local, offset, local.tzname() or "", note, rule, wall))
        previous_offset = offset
        if len(items) >= count:
            break
    return items
