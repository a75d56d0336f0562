"""Legacy ``job_schedules`` rows into schedules of the new scheduler, and the proof that they
fire when they fired before.

What the legacy scheduler did (its ``job_scheduling_service``; docs/migration.md,
"Schedules"): it evaluates ``cron`` and ``recurring`` schedules **in UTC** and never reads the
``timezone`` column (which its UI fills with the browser's zone). It stores, per row, the next
run it planned (``next_run``) and computes each following one from the moment the previous one
fired:

- ``cron``: the next match of the five-field expression, in UTC (0 and 7 are Sunday, names
  allowed; when both day fields are restricted a day matches either);
- ``recurring daily``: ``time`` (UTC) today, or ``interval`` days later if that has passed;
- ``recurring weekly``: the next day of ``days_of_week`` (0 = Monday) at ``time`` within the
  coming week; only when that is today's weekday alone, and its time has passed, the same
  weekday ``interval`` weeks later. So ``interval`` counts only for a weekly schedule on a
  single day: one on several days fires every week, whatever its ``interval``;
- ``recurring monthly``: ``day_of_month`` at ``time`` this month, else ``interval`` months
  later, except that December is always followed by January; a month without that day, or a
  month past December, leaves **no next run**: the schedule stops firing for good;
- ``once``: at ``execute_at``, an absolute instant, once;
- a row fires while it is enabled, below ``max_executions`` (counting ``execution_count``)
  and strictly before ``end_date``; one without a ``next_run`` never fires.

The conversion reproduces that by default (``zones="effective"``): a ``cron`` or
``recurring`` schedule is imported in UTC, so it fires at the same instants as before, DST or
not. ``zones="declared"`` imports it in its declared zone instead, at the same wall-clock times
there: the fix some teams want, which moves every firing by the zone's offset
(:func:`zone_move` says by how much).

Functions (pure: no database):

- :func:`convert`: a legacy row (a mapping of its columns) -> an
  ``apps.scheduling.interface.ScheduleSpec`` with the legacy semantics (``cron`` as is,
  ``once`` at ``execute_at``, ``recurring`` as a ``calendar`` schedule); a row that cannot be
  converted raises :class:`ConversionError` naming the column.
- :func:`legacy_next_run`: the legacy rule itself: the next run the legacy scheduler plans for
  a row at a given moment.
- :func:`legacy_fire_times`: when the legacy row fires (from its ``next_run`` on, by the legacy
  rule), with code written separately from ``apps/scheduling/timing.py`` (its own cron parser
  and wall-clock resolution), so that comparing the two is a real check.
- :func:`verify`: compares the next fire times of the row and of its spec, and checks that the
  imported schedule fires at the row's ``next_run``; lists every difference.
- :func:`zone_move`, :func:`conversion_notes`, :func:`is_dormant`: what the importer reports
  and writes into the imported schedule's description.

A wall-clock time that does not exist in the declared zone (spring forward) fires at the moment
of the change; one that happens twice fires at its first occurrence (the product's rules).
"""

from __future__ import annotations

import calendar
import functools
import itertools
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from apps.scheduling.interface import ScheduleSpec, schedule_spec_fire_times

__all__ = [
    "DECLARED",
    "EFFECTIVE",
    "LEGACY_ZONE",
    "ZONE_MODES",
    "ConversionError",
    "ZoneMove",
    "conversion_notes",
    "convert",
    "declared_zone",
    "is_dormant",
    "legacy_fire_times",
    "legacy_next_run",
    "rule_notes",
    "schedule_zone",
    "verify",
    "with_planned_run",
    "zone_move",
    "zone_note",
]

LEGACY_ZONE = "UTC"  # where the legacy scheduler evaluated every cron and recurring schedule
EFFECTIVE = "effective"  # import in the zone the legacy scheduler used (UTC): same instants
DECLARED = "declared"  # import in the row's declared zone: same wall-clock times there
ZONE_MODES = (EFFECTIVE, DECLARED)

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SCAN_YEARS = 30  # the legacy rule is followed this long at most
_MONTHLY_PLAN = 60  # firings of a monthly rule looked at to know whether and where it stops


class ConversionError(ValueError):
    """A legacy row that cannot become a schedule; ``field`` names the legacy column."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- reading a row ---------------------------------------------------------------------------------


def _text(row: Mapping, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def declared_zone(row: Mapping) -> str:
    """The row's ``timezone`` column (``UTC`` when empty): the zone its user chose, which the
    legacy scheduler ignored. Raises :class:`ConversionError` when it is not an IANA zone."""
    name = _text(row, "timezone") or LEGACY_ZONE
    if name not in _zones():
        raise ConversionError("timezone", f"{name!r} is not an IANA time zone")
    return name


def schedule_zone(row: Mapping, zones: str = EFFECTIVE) -> str:
    """The zone of the imported schedule. ``cron`` and ``recurring``: UTC (``effective``, the
    zone the legacy scheduler used) or the declared zone (``declared``; an unknown one raises
    :class:`ConversionError`). ``once``: the declared zone, or UTC when it is unknown (a
    one-off fires at an absolute instant: the zone only shows it)."""
    if zones not in ZONE_MODES:
        raise ValueError(f"zones must be one of {', '.join(ZONE_MODES)}, not {zones!r}")
    if _kind(row) == "once":
        try:
            return declared_zone(row)
        except ConversionError:
            return LEGACY_ZONE
    return declared_zone(row) if zones == DECLARED else LEGACY_ZONE


def _instant(row: Mapping, column: str) -> datetime | None:
    """A timestamptz column: aware datetimes as they are (naive ones are UTC), ISO text parsed."""
    value = row.get(column)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConversionError(column, f"{value!r} is not a date and time") from None
    if not isinstance(value, datetime):
        raise ConversionError(column, f"{value!r} is not a date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _whole(row: Mapping, column: str, *, default: int | None, low: int, high: int | None = None):
    value = row.get(column)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConversionError(column, f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConversionError(column, f"{value!r} is not a whole number") from None
    if number != value and str(number) != str(value).strip():
        raise ConversionError(column, f"{value!r} is not a whole number")
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConversionError(column, f"must be {bound}, got {number}")
    return number


def _time_of_day(row: Mapping) -> time:
    """``time`` as the legacy scheduler read it: hours, then minutes (0 when absent); seconds,
    if any, are ignored (it fired on the whole minute)."""
    text = _text(row, "time")
    if not text:
        raise ConversionError("time", "a recurring schedule needs a time (HH:MM)")
    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ConversionError("time", f"{text!r} is not a time of day (HH:MM)")
    hour, minute = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    second = int(parts[2]) if len(parts) > 2 else 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        raise ConversionError("time", f"{text!r} is not a time of day (HH:MM, 00:00-23:59)")
    return time(hour, minute)


def _days_of_week(row: Mapping) -> tuple[int, ...]:
    raw = row.get("days_of_week")
    items = raw if isinstance(raw, list | tuple) else _text(row, "days_of_week").split(",")
    days = set()
    for item in items:
        token = str(item).strip()
        if token == "":
            continue
        if not (token.isascii() and token.isdigit()) or not 0 <= int(token) <= 6:
            raise ConversionError(
                "days_of_week", f"{token!r} is not a day of the week (0 = Monday ... 6 = Sunday)"
            )
        days.add(int(token))
    if not days:
        raise ConversionError("days_of_week", "a weekly schedule needs at least one day")
    return tuple(sorted(days))


def _kind(row: Mapping) -> str:
    kind = _text(row, "schedule_type").lower()
    if kind not in ("cron", "once", "recurring"):
        raise ConversionError(
            "schedule_type", f"{kind or None!r} is not a schedule type (cron, once, recurring)"
        )
    return kind


def _frequency(row: Mapping) -> str:
    frequency = _text(row, "recurring_type").lower()
    if frequency not in FREQUENCIES:
        raise ConversionError(
            "recurring_type", f"{frequency or None!r} is not daily, weekly or monthly"
        )
    return frequency


def _interval(row: Mapping) -> int:
    return _whole(row, "interval", default=1, low=1, high=1000)


def _day_of_month(row: Mapping) -> int:
    day = _whole(row, "day_of_month", default=None, low=1, high=31)
    if day is None:
        raise ConversionError("day_of_month", "a monthly schedule needs a day of the month (1-31)")
    return day


def _enabled(row: Mapping) -> bool:
    enabled = row.get("enabled")
    return True if enabled is None else bool(enabled)


def _name(row: Mapping) -> str:
    ident = row.get("id")
    base = f"Legacy schedule #{ident}" if ident is not None else "Legacy schedule"
    description = " ".join(_text(row, "description").split())
    name = f"{base}: {description}" if description else base
    return name if len(name) <= 100 else name[:99] + "…"


# -- wall-clock times ------------------------------------------------------------------------------


def _wall(instant: datetime) -> datetime:
    """The UTC wall-clock time of an instant (naive): what the legacy scheduler worked with."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def _wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time stands for: the earliest instant showing it; if none does
    (clocks jumped over it), the first instant whose wall clock is past it."""
    guess = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if guess.astimezone(zone).replace(tzinfo=None) == wall:
        return guess  # fold=0 is the earlier of two readings, and this one exists
    probe = wall.replace(tzinfo=UTC)
    offsets = {(probe + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-36, 37, 6)}
    showing = sorted(
        probe - offset
        for offset in offsets
        if offset is not None and (probe - offset).astimezone(zone).replace(tzinfo=None) == wall
    )
    if showing:
        return showing[0]
    # in a gap: walk forward from well before it, an hour and then a minute at a time
    instant = probe - timedelta(hours=30)
    while instant.astimezone(zone).replace(tzinfo=None) <= wall:
        instant += timedelta(hours=1)
    instant -= timedelta(hours=1)
    while instant.astimezone(zone).replace(tzinfo=None) <= wall:
        instant += timedelta(minutes=1)
    # the clocks change on a whole minute: step back to the change itself
    while (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) > wall:
        instant -= timedelta(seconds=1)
    return instant


def _resolve(wall: datetime, zone: str) -> datetime:
    if zone == LEGACY_ZONE:
        return wall.replace(tzinfo=UTC)
    return _wall_to_instant(wall, ZoneInfo(zone))


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = (
    {},
    {},
    {},
    {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m},
    {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6},
)
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def _cron_number(token: str, index: int) -> int:
    names = _CRON_NAMES[index]
    if token.upper() in names:
        return names[token.upper()]
    if not (token.isascii() and token.isdigit()):
        raise ConversionError("cron_expression", f"{_CRON_FIELDS[index]}: {token!r} is not valid")
    low, high = _CRON_RANGES[index]
    number = int(token)
    if not low <= number <= high:
        raise ConversionError(
            "cron_expression", f"{_CRON_FIELDS[index]}: {number} is not in {low}-{high}"
        )
    return number


def _parse_cron(expression: str) -> tuple[list[set[int]], bool, bool]:
    fields = expression.split()
    if len(fields) != 5:
        raise ConversionError(
            "cron_expression", f"{expression!r}: expected 5 fields, got {len(fields)}"
        )
    sets: list[set[int]] = []
    for index, text in enumerate(fields):
        low, high = _CRON_RANGES[index]
        values: set[int] = set()
        for part in text.split(","):
            head, _, step_text = part.partition("/")
            step = 1
            if step_text:
                if not step_text.isdigit() or int(step_text) < 1:
                    raise ConversionError(
                        "cron_expression", f"{_CRON_FIELDS[index]}: bad step in {part!r}"
                    )
                step = int(step_text)
            if head == "*":
                first, last = low, high
            elif "-" in head:
                a, _, b = head.partition("-")
                first, last = _cron_number(a, index), _cron_number(b, index)
                if first > last:
                    raise ConversionError(
                        "cron_expression", f"{_CRON_FIELDS[index]}: range {head!r} is reversed"
                    )
            else:
                first = _cron_number(head, index)
                last = high if step_text else first
            values.update(range(first, last + 1, step))
        if index == 4:
            values = {v % 7 for v in values}
        sets.append(values)
    return sets, not fields[2].startswith("*"), not fields[4].startswith("*")


def _cron_walls(row: Mapping, start: date) -> Iterator[datetime]:
    """Every wall-clock time the row's cron expression matches, from the day ``start`` on."""
    (minutes, hours, doms, months, dows), dom_set, dow_set = _parse_cron(
        " ".join(_text(row, "cron_expression").split())
    )
    day = start
    for _ in range(366 * _SCAN_YEARS):
        cron_dow = (day.weekday() + 1) % 7
        if dom_set and dow_set:
            day_ok = day.day in doms or cron_dow in dows
        else:
            day_ok = day.day in doms and cron_dow in dows
        if day.month in months and day_ok:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    yield datetime.combine(day, time(hour, minute))
        day += timedelta(days=1)


# -- the legacy rule -------------------------------------------------------------------------------


def _legacy_step(row: Mapping, now: datetime) -> datetime | None:
    """The legacy rule on wall-clock times (naive): the run the legacy scheduler plans at
    ``now`` (when a row is saved, or right after it fired); None when it plans none."""
    kind = _kind(row)
    if kind == "cron":
        return next((wall for wall in _cron_walls(row, now.date()) if wall > now), None)
    if kind != "recurring":
        return None
    frequency = _frequency(row)
    every = _interval(row)
    today = datetime.combine(now.date(), _time_of_day(row))
    if frequency == "daily":
        return today if today > now else today + timedelta(days=every)
    if frequency == "weekly":
        days = set(_days_of_week(row))
        for ahead in range(7):
            candidate = today + timedelta(days=ahead)
            if candidate.weekday() in days and candidate > now:
                return candidate
        # only today's weekday, and its time has passed: ``interval`` weeks later
        return today + timedelta(weeks=every)
    try:
        candidate = today.replace(day=_day_of_month(row))
    except ValueError:  # this month has no such day: nothing planned
        return None
    if candidate > now:
        return candidate
    if candidate.month == 12:
        return candidate.replace(year=candidate.year + 1, month=1)
    if candidate.month + every > 12:  # no month 13: nothing planned
        return None
    try:
        return candidate.replace(month=candidate.month + every)
    except ValueError:  # that month has no such day: nothing planned
        return None


def legacy_next_run(row: Mapping, now: datetime) -> datetime | None:
    """The ``next_run`` the legacy scheduler stores for ``row`` when it saves it (or has just
    fired it) at ``now``: aware, UTC; None when the rule plans nothing (the row then never
    fires). ``once``: its ``execute_at``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if _kind(row) == "once":
        return _instant(row, "execute_at")
    wall = _legacy_step(row, _wall(now))
    return None if wall is None else wall.replace(tzinfo=UTC)


def _first_wall(row: Mapping) -> datetime | None:
    """The first legacy firing still to come, as UTC wall-clock time: the stored ``next_run``;
    without one, what the rule plans from ``last_run`` (else ``created_at``)."""
    planned = _instant(row, "next_run")
    if planned is not None:
        return _wall(planned)
    for column in ("last_run", "created_at"):
        value = _instant(row, column)
        if value is not None:
            return _legacy_step(row, _wall(value))
    return None


def _recurring_walls(row: Mapping) -> Iterator[datetime]:
    wall = _first_wall(row)
    for _ in range(366 * _SCAN_YEARS):
        if wall is None:
            return
        yield wall
        wall = _legacy_step(row, wall)


def _legacy_walls(row: Mapping, after: datetime) -> Iterator[datetime]:
    """The legacy firings as UTC wall-clock times, ascending, from the next run on: ``cron``
    from two days before ``after`` (any zone's reading of a wall time is within a day of UTC),
    ``recurring`` step by step."""
    if _kind(row) == "cron":
        first = _first_wall(row)
        walls = _cron_walls(row, (after - timedelta(days=2)).date())
        return walls if first is None else (wall for wall in walls if wall >= first)
    return _recurring_walls(row)


def _fire_walls(
    row: Mapping, after: datetime, count: int, zone: str, *, bounded: bool = True
) -> list[tuple[datetime, datetime]]:
    """The next ``count`` firings strictly after ``after`` of the legacy rule with its wall
    times read in ``zone``, as (wall time, instant UTC) pairs. ``bounded``: stop at
    ``end_date`` (exclusive, as the legacy scheduler did) and after ``max_executions``."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)
    kind = _kind(row)
    end = _instant(row, "end_date") if bounded else None
    left = count
    if bounded:
        cap = 1 if kind == "once" else _whole(row, "max_executions", default=None, low=1)
        done = _whole(row, "execution_count", default=0, low=0)
        if cap is not None:
            left = min(left, max(cap - done, 0))
    if left <= 0:
        return []
    if kind == "once":
        at = _instant(row, "execute_at")
        if at is None:
            raise ConversionError("execute_at", "a once schedule needs execute_at")
        return [(_wall(at), at)] if at > after and (end is None or at < end) else []
    result: list[tuple[datetime, datetime]] = []
    for wall in _legacy_walls(row, after):
        instant = _resolve(wall, zone)
        if end is not None and instant >= end:
            break
        if instant <= after or (result and instant <= result[-1][1]):
            continue
        result.append((wall, instant))
        if len(result) >= left:
            break
    return result


def legacy_fire_times(
    row: Mapping, after: datetime, count: int, *, zone: str = LEGACY_ZONE
) -> list[datetime]:
    """The next ``count`` times (aware, UTC, ascending) the legacy row fires strictly after
    ``after``: from its ``next_run`` on, by the legacy rule (module docstring), independently
    of the new scheduler's code. Fewer when it stops (``end_date``, ``max_executions``, a past
    ``once``, a monthly rule that plans no more). Disabled rows are evaluated as if enabled
    (the definition is what is compared).

    ``zone``: where the rule's wall-clock times are read: UTC, as the legacy scheduler did; a
    declared zone gives the same wall-clock times there (what ``zones="declared"`` imports)."""
    return [instant for _, instant in _fire_walls(row, after, count, zone)]


def _months(wall: datetime) -> int:
    return wall.year * 12 + wall.month - 1


def _monthly_plan(row: Mapping, zone: str) -> tuple[list[datetime], bool]:
    """The legacy firings of a monthly row from its next run on (wall times, at most
    ``_MONTHLY_PLAN``), cut by its end and maximum, and whether the legacy rule itself stops
    after the last of them (a month without the day, or a month past December)."""
    walls: list[datetime] = []
    wall = _first_wall(row)
    while wall is not None and len(walls) < _MONTHLY_PLAN:
        walls.append(wall)
        wall = _legacy_step(row, wall)
    stops = wall is None and bool(walls)
    end = _instant(row, "end_date")
    cap = _whole(row, "max_executions", default=None, low=1)
    done = _whole(row, "execution_count", default=0, low=0)
    happening = [w for w in walls if end is None or _resolve(w, zone) < end]
    if cap is not None:
        happening = happening[: max(cap - done, 0)]
    return happening, stops and len(happening) == len(walls)


# -- convert ---------------------------------------------------------------------------------------


def _end_at(row: Mapping, zone: str) -> datetime | None:
    """The imported schedule's (inclusive) end: ``end_date``, or a second before it when the
    legacy rule has a firing exactly then (the legacy scheduler fired only strictly before)."""
    end = _instant(row, "end_date")
    if end is None:
        return None
    hit = _fire_walls(row, end - timedelta(microseconds=1), 1, zone, bounded=False)
    return end - timedelta(seconds=1) if hit and hit[0][1] == end else end


def _monthly_shape(row: Mapping, zone: str, every: int) -> tuple[str, datetime | None]:
    """How a monthly row's legacy firings can be repeated here: ``("", stop)`` when they
    follow one "every ``interval`` months" pattern (a calendar schedule), or ``(months,
    stop)`` when they do not (the legacy step from December to January, whatever the interval)
    but are exactly the days of the cron month list ``months`` from the first on. ``stop``:
    where the legacy rule stops them (the midnight after the last one, in ``zone``), None when
    it does not (or the end date or maximum comes first). Raises :class:`ConversionError` when
    neither fits."""
    happening, stops = _monthly_plan(row, zone)
    at, day = _time_of_day(row), _day_of_month(row)
    if happening and (happening[0].day != day or happening[0].time() != at):
        return "", None  # a next_run off the rule: verify() says so, with the times
    stop = None
    if stops:
        stop = _resolve(datetime.combine(happening[-1].date() + timedelta(days=1), time()), zone)
    steps = [_months(b) - _months(a) for a, b in itertools.pairwise(happening)]
    if all(step == every for step in steps):
        return "", stop
    months = sorted({wall.month for wall in happening})
    covered = [
        index
        for index in range(_months(happening[0]), _months(happening[-1]) + 1)
        if index % 12 + 1 in months
    ]
    if covered != [_months(wall) for wall in happening]:
        shown = ", ".join(f"{w:%Y-%m-%d}" for w in happening[:8])
        raise ConversionError(
            "interval",
            f"every {every} months: the legacy scheduler fires it on {shown}"
            f"{', ...' if len(happening) > 8 else ''} (after December it goes to January "
            "whatever the interval), which no schedule here can repeat; recreate it by hand",
        )
    return ",".join(map(str, months)), stop


def _start(first: datetime, zone: str, end_at: datetime | None) -> datetime:
    """``start_at`` of an imported schedule: its legacy next run (wall-clock time ``first``)
    read in ``zone``. It is where an ``interval`` counts from; a monthly rule never fires
    before it (a day 29-31 would otherwise fire on a shorter month's last day the legacy rule
    skips); and in a declared zone that is ahead of UTC no occurrence the legacy scheduler
    already fired comes again a few hours later. A finished schedule (its next run not before
    its end) starts just before its end: nothing is left to fire."""
    start = _resolve(first, zone)
    if end_at is not None and start >= end_at:
        return end_at - timedelta(seconds=1)
    return start


def convert(
    row: Mapping,
    *,
    job_id: uuid.UUID | None = None,
    created_by_user_id: uuid.UUID | None = None,
    name: str | None = None,
    zones: str = EFFECTIVE,
) -> ScheduleSpec:
    """The schedule spec of a legacy ``job_schedules`` row, firing when the legacy scheduler
    fires it (``zones="effective"``, the default: ``cron`` and ``recurring`` in UTC) or at the
    same wall-clock times in the row's declared zone (``zones="declared"``).

    ``job_id`` and ``created_by_user_id`` are the new ids of the row's job and creator (the
    importer's mapping knows them); ``name`` defaults to "Legacy schedule #<id>:
    <description>". ``cron`` keeps its expression; ``once`` fires at ``execute_at``;
    ``recurring`` becomes a ``calendar`` schedule: its ``interval`` counted from the legacy
    ``next_run`` (``start_at``) where it matters, none for a weekly row on several days (the
    legacy scheduler ignored it there); a monthly one starts at the legacy ``next_run`` and
    ends where the legacy rule stops (one whose legacy firings step from December to January
    whatever the interval becomes a cron schedule on exactly those months). Imported in a
    declared zone, a ``cron`` or ``recurring`` schedule starts at its legacy ``next_run``'s
    wall-clock time there (see :func:`_start`). A row without a
    ``next_run`` is read from what the rule plans after its ``last_run`` or ``created_at``
    (the importer gives a dormant row the run it would plan now: :func:`with_planned_run`).
    ``enabled``, ``end_date`` (the legacy scheduler fired strictly before it),
    ``max_executions``, ``execution_count``, ``last_run`` and ``description`` are carried as
    they are; the description is not annotated here (see :func:`conversion_notes`).

    Raises :class:`ConversionError` naming the legacy column when the row cannot be converted.
    """
    kind = _kind(row)
    zone = schedule_zone(row, zones)
    max_executions = _whole(row, "max_executions", default=None, low=1)
    execution_count = _whole(row, "execution_count", default=0, low=0)
    end_at = _end_at(row, zone)
    common = {
        "name": name or _name(row),
        "job_id": job_id,
        "timezone": zone,
        "enabled": _enabled(row),
        "max_firings": max_executions,
        "firings_made": execution_count,
        "last_fired_at": _instant(row, "last_run"),
        "description": _text(row, "description"),
        "created_by_user_id": created_by_user_id,
    }
    if kind == "cron":
        expression = " ".join(_text(row, "cron_expression").split())
        _parse_cron(expression)  # a clear error for a bad expression, before anything is made
        first = _first_wall(row) if zone != LEGACY_ZONE else None
        return ScheduleSpec(
            kind="cron",
            cron=expression,
            start_at=None if first is None else _start(first, zone, end_at),
            end_at=end_at,
            **common,
        )
    if kind == "once":
        run_at = _instant(row, "execute_at")
        if run_at is None:
            raise ConversionError("execute_at", "a once schedule needs execute_at")
        # a one-off fires at most once: one that fired already has nothing left to do
        common["max_firings"] = min(max_executions or 1, 1)
        return ScheduleSpec(kind="once", run_at=run_at, end_at=end_at, **common)
    frequency = _frequency(row)
    every = _interval(row)
    at = _time_of_day(row)
    days = _days_of_week(row) if frequency == "weekly" else ()
    day_of_month = _day_of_month(row) if frequency == "monthly" else None
    if frequency == "weekly" and len(days) > 1:
        every = 1  # the legacy scheduler moves on to the next listed day, every week
    months = ""
    if frequency == "monthly":
        months, stop = _monthly_shape(row, zone, every)
        if stop is not None:
            end_at = stop if end_at is None else min(end_at, stop)
    start_at = None
    needs_start = every > 1 or frequency == "monthly" or zone != LEGACY_ZONE
    first = _first_wall(row) if needs_start else None
    if every > 1 and first is None:
        raise ConversionError(
            "interval", f"every {every}: no next_run, last_run or created_at to count from"
        )
    if first is not None:
        start_at = _start(first, zone, end_at)
    if months:  # the legacy December-to-January step: those months, from the next run on
        expression = f"{at.minute} {at.hour} {day_of_month} {months} *"
        return ScheduleSpec(
            kind="cron", cron=expression, start_at=start_at, end_at=end_at, **common
        )
    return ScheduleSpec(
        kind="calendar",
        frequency=frequency,
        every=every,
        time_of_day=at,
        days_of_week=days,
        day_of_month=day_of_month,
        start_at=start_at,
        end_at=end_at,
        **common,
    )


def is_dormant(row: Mapping) -> bool:
    """An enabled ``cron`` or ``recurring`` row without a ``next_run``: the legacy scheduler
    had nothing planned for it (its rule planned no run, e.g. a monthly day the month lacks),
    so it did not fire, and would not until someone edited it."""
    return _kind(row) != "once" and _enabled(row) and _instant(row, "next_run") is None


def with_planned_run(row: Mapping, now: datetime) -> Mapping:
    """A dormant row (:func:`is_dormant`) with the ``next_run`` the legacy scheduler would plan
    if the row were saved at ``now``, or at the start (00:00 UTC) of the first of the coming 12
    months in which its rule plans one (a monthly day this month lacks); any other row as it is. The
    importer converts a dormant row so (and imports it paused): its rule is then complete.
    Raises :class:`ConversionError` when the rule plans no run within a year."""
    if not is_dormant(row):
        return row
    moments = [now.astimezone(UTC)]
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    for _ in range(12):
        month = (month + timedelta(days=32)).replace(day=1)
        moments.append(month)
    for moment in moments:
        planned = legacy_next_run(row, moment)
        if planned is not None:
            return {**row, "next_run": planned}
    raise ConversionError(
        "next_run", "empty, and the legacy rule plans no run within a year: it never fires"
    )


# -- what moves, and what to say about it ----------------------------------------------------------


def _hours(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    sign = "+" if minutes > 0 else "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours} h" + (f" {rest:02d} min" if rest else "")


def _stamp(instant: datetime, zone: str) -> str:
    local = instant.astimezone(ZoneInfo(zone))
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    return text if zone == LEGACY_ZONE else f"{text} = {instant.astimezone(UTC):%H:%M} UTC"


@dataclass(frozen=True)
class ZoneMove:
    """A ``cron`` or ``recurring`` row whose declared zone is not the zone the legacy
    scheduler used (UTC), and what importing it in its declared zone would change.

    ``moves``: (declared minus legacy instant, the declared zone's abbreviation then) for each
    offset the zone has while the row fires in the coming year, in order: ``+5 h (EST)`` means
    a firing comes 5 hours later than before. ``next_wall``: the wall-clock time of the next
    legacy firing after ``now``; ``next_legacy``: its instant (UTC, as before);
    ``next_declared``: the same wall-clock time in the declared zone. ``valid`` is False for a
    declared zone that is not an IANA zone (nothing can move then)."""

    declared: str
    valid: bool
    moves: tuple[tuple[timedelta, str], ...] = ()
    next_wall: datetime | None = None
    next_legacy: datetime | None = None
    next_declared: datetime | None = None

    def summary(self) -> str:
        """``+5 h (EST) / +4 h (EDT)``; ``does not move`` when every offset is 0."""
        if not self.moves:
            return "no firing left to move"
        if all(delta == timedelta(0) for delta, _ in self.moves):
            return "does not move"
        return " / ".join(f"{_hours(delta)} ({abbr})" for delta, abbr in self.moves)

    def note(self, zones: str) -> str:
        """The sentence for the imported schedule's description, imported with ``zones``."""
        if not self.valid:
            return (
                f"Declared time zone {self.declared!r} is not a time zone; the legacy scheduler "
                "ignored it and fired this schedule in UTC, as it still does."
            )
        if zones == DECLARED:
            return (
                f"The legacy scheduler fired this schedule in UTC, ignoring its declared time "
                f"zone {self.declared}; it was imported in {self.declared}, so it fires at the "
                f"same wall-clock time there ({self.summary()} compared with before)."
            )
        return (
            f"Declared time zone {self.declared}; the legacy scheduler ignored it and fired "
            "this schedule in UTC, as it still does."
        )

    def describe(self, zones: str) -> str:
        """One line of the import report for this row, imported with ``zones``."""
        if not self.valid:
            return (
                f"declared {self.declared!r}, which is not a time zone: fires in UTC as before "
                "(--schedule-zones=declared cannot import it)"
            )
        example = ""
        if self.next_legacy is not None and self.next_declared is not None:
            example = (
                f"{_stamp(self.next_legacy, LEGACY_ZONE)} ->"
                f" {_stamp(self.next_declared, self.declared)}"
            )
        if zones == DECLARED:
            return (
                f"declared {self.declared}, imported in it: fired in UTC before, now at the same "
                f"wall-clock time in {self.declared}: {self.summary()}"
                + (f" (next firing {example})" if example else "")
            )
        return (
            f"declared {self.declared}, fires in UTC as before"
            + (f" (next {_stamp(self.next_legacy, LEGACY_ZONE)})" if self.next_legacy else "")
            + f"; --schedule-zones=declared would move it to {self.declared} wall-clock time: "
            + self.summary()
            + (f" ({example})" if example else "")
        )


def zone_move(row: Mapping, now: datetime) -> ZoneMove | None:
    """What importing ``row`` in its declared zone changes compared with the legacy scheduler
    (UTC), from ``now`` on; None for a ``once`` row (an absolute instant) and for a row
    declared in UTC."""
    if _kind(row) == "once":
        return None
    name = _text(row, "timezone") or LEGACY_ZONE
    if name == LEGACY_ZONE:
        return None
    if name not in _zones():
        return ZoneMove(declared=name, valid=False)
    zone = ZoneInfo(name)
    upcoming = _fire_walls(row, now, 1, LEGACY_ZONE)
    next_wall, next_legacy = upcoming[0] if upcoming else (None, None)
    next_declared = None if next_wall is None else _resolve(next_wall, name)
    # the zone's offset changes in the coming year (found to the day), and the first declared
    # firing after each change: its offset is what the firings move by in that period
    horizon = now + timedelta(days=366)
    starts, offset = [now], now.astimezone(zone).utcoffset()
    for day in range(1, 367):
        probe = now + timedelta(days=day)
        if probe.astimezone(zone).utcoffset() != offset:
            starts.append(probe - timedelta(days=1))
            offset = probe.astimezone(zone).utcoffset()
    moves: list[tuple[timedelta, str]] = []
    for start in starts:
        hit = _fire_walls(row, start, 1, name)
        if not hit or hit[0][1] > horizon:
            continue
        wall, instant = hit[0]
        move = (instant - wall.replace(tzinfo=UTC), instant.astimezone(zone).tzname() or name)
        if move not in moves:
            moves.append(move)
    return ZoneMove(
        declared=name,
        valid=True,
        moves=tuple(moves),
        next_wall=next_wall,
        next_legacy=next_legacy,
        next_declared=next_declared,
    )


def zone_note(row: Mapping, zones: str, now: datetime) -> str | None:
    """The sentence for the imported schedule's description about its zone (None for a
    ``once`` row and one declared in UTC)."""
    move = zone_move(row, now)
    return None if move is None else move.note(zones)


def rule_notes(row: Mapping, spec: ScheduleSpec, *, dormant: bool = False) -> list[str]:
    """Sentences for the imported schedule's description where the legacy rule is not what the
    row seems to say: a weekly interval the legacy scheduler ignored, a monthly rule that stops
    or steps from December to January, and (``dormant``) a row the legacy scheduler had
    nothing planned for, imported paused."""
    notes: list[str] = []
    if dormant:
        notes.append(
            "The legacy scheduler had no next run planned for it, so it did not fire; it was "
            "imported paused: resume it to have it fire by its rule."
        )
    if _kind(row) != "recurring":
        return notes
    frequency = _frequency(row)
    interval = _interval(row)
    if frequency == "weekly" and interval > 1 and len(_days_of_week(row)) > 1:
        notes.append(
            f"The legacy scheduler ignored the interval ({interval}) of a weekly schedule on "
            "several days and fired it every week, as it still does."
        )
    if frequency != "monthly":
        return notes
    if spec.kind == "cron":
        notes.append(
            f"The legacy scheduler goes from December to January whatever the interval "
            f"({interval} months): this schedule fires on the months it fired on, "
            f"{spec.cron.split()[3]} (a cron schedule)."
        )
    happening, stops = _monthly_plan(row, spec.timezone)
    if stops:
        last = happening[-1]
        if last.month != 12 and last.month + interval > 12:
            reason = "it finds no month after December"
        else:
            month = 1 if last.month == 12 else last.month + interval
            year = last.year + 1 if last.month == 12 else last.year
            reason = f"there is no {calendar.month_name[month]} {_day_of_month(row)}, {year}"
        notes.append(
            f"The legacy scheduler stops this schedule after its firing of "
            f"{_stamp(_resolve(last, spec.timezone), spec.timezone)} ({reason}): it ends there."
        )
    return notes


def conversion_notes(
    row: Mapping, spec: ScheduleSpec, zones: str, now: datetime, *, dormant: bool = False
) -> list[str]:
    """Every sentence for the imported schedule's description (:func:`zone_note`, then
    :func:`rule_notes`); empty when the schedule is what the legacy row says."""
    note = zone_note(row, zones, now)
    return ([note] if note else []) + rule_notes(row, spec, dormant=dormant)


# -- verify ----------------------------------------------------------------------------------------


def _show(instant: datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)).isoformat()} ({instant:%Y-%m-%d %H:%M} UTC)"


def _next_run_problem(row: Mapping, spec: ScheduleSpec) -> str | None:
    """Whether the schedule, read in the zone the legacy scheduler used, fires at the row's
    stored ``next_run``: the legacy scheduler's own answer, the proof that the rule assumed
    here is the one it followed (checked for enabled rows whose next run lies before their
    end and is not beyond their maximum)."""
    next_run = _instant(row, "next_run")
    end = _instant(row, "end_date")
    if next_run is None or not _enabled(row) or (end is not None and next_run >= end):
        return None
    effective = spec if _kind(row) == "once" or spec.timezone == LEGACY_ZONE else convert(row)
    firing = schedule_spec_fire_times(
        spec=effective, after=next_run - timedelta(microseconds=1), count=1
    )
    if not firing or firing[0] == next_run:
        return None
    return (
        f"the legacy next_run {_show(next_run, LEGACY_ZONE)} is not a firing of the legacy "
        f"rule read in UTC (from then on the imported schedule fires first at "
        f"{_show(firing[0], LEGACY_ZONE)}): "
        "the legacy scheduler followed another rule than the one assumed"
    )


def verify(
    row: Mapping,
    spec: ScheduleSpec,
    after: datetime,
    count: int = 20,
    *,
    check_next_run: bool = True,
) -> list[str]:
    """Differences between when the legacy row and the imported ``spec`` fire, one message per
    mismatch; empty when they agree.

    The next ``count`` fire times after ``after`` of the legacy rule (:func:`legacy_fire_times`,
    its wall-clock times read in the spec's zone: UTC, or the declared zone of a
    ``zones="declared"`` import) and of the new scheduler (``schedule_spec_fire_times``) must
    be equal. With ``check_next_run`` the schedule read in UTC must also fire at the row's
    stored ``next_run`` (when the row is enabled and the next run lies before its end): if not,
    the legacy scheduler followed another rule than the one assumed here."""
    problems: list[str] = []
    zone = spec.timezone
    try:
        legacy = legacy_fire_times(row, after, count, zone=zone)
    except ConversionError as exc:
        return [f"the legacy definition cannot be evaluated: {exc}"]
    try:
        new = schedule_spec_fire_times(spec=spec, after=after, count=count)
    except Exception as exc:  # the scheduler's ValidationError, keyed by field
        detail = getattr(exc, "detail", exc)
        return [f"the imported definition is refused: {detail}"]
    for index, (old, now) in enumerate(zip(legacy, new, strict=False), start=1):
        if old != now:
            problems.append(
                f"fire time {index}: legacy {_show(old, zone)}, imported {_show(now, zone)}"
            )
    if len(legacy) != len(new):
        problems.append(
            f"legacy fires {len(legacy)} time(s) after {after.isoformat()}, the imported "
            f"schedule {len(new)} (of the {count} compared)"
        )
    if check_next_run:
        try:
            problem = _next_run_problem(row, spec)
        except ConversionError as exc:
            problem = f"the legacy definition cannot be evaluated: {exc}"
        if problem:
            problems.append(problem)
    return problems
