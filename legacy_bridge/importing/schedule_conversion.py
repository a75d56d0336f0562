"""Legacy ``job_schedules`` rows into schedules of the new scheduler, and the proof that they
fire at the same times.

Three pure functions (no database):

- :func:`convert` turns a legacy row (a mapping of its columns) into an
  ``apps.scheduling.interface.ScheduleSpec``: ``cron`` as is, ``once`` at its ``execute_at``,
  ``recurring`` daily / weekly / monthly into a ``calendar`` schedule; ``enabled``,
  ``timezone``, ``max_executions``, ``execution_count``, ``end_date``, ``description`` carried.
  A row that cannot be converted raises :class:`ConversionError` naming the column.
- :func:`legacy_fire_times` computes when the legacy row fires, from the legacy semantics,
  with code written separately from ``apps/scheduling/timing.py`` (day by day, its own cron
  parser, its own wall-clock resolution), so that comparing the two is a real check.
- :func:`verify` compares the next fire times of the row and of its spec (and the row's
  stored ``next_run`` with the first of them) and lists every difference.

The legacy semantics assumed (LEGACY.md is silent on details; docs/scheduling.md,
"Imported legacy schedules", says why):

- ``recurring`` fires at ``time`` (wall clock in ``timezone``) on every ``interval``-th day
  (``daily``), on ``days_of_week`` (0 = Monday) of every ``interval``-th week (``weekly``,
  weeks from Monday), or on ``day_of_month`` of every ``interval``-th month (``monthly``; the
  last day of a shorter month). The phase of an interval above 1 is the one of the row's
  ``next_run`` (else ``last_run``, else ``created_at``), and it never fires before that
  instant.
- ``cron`` is standard five-field cron in ``timezone`` (0 and 7 are Sunday, names allowed;
  when both day fields are restricted a day matches either).
- A wall-clock time that does not exist (spring forward) fires at the moment of the change; one
  that happens twice fires at its first occurrence.
- ``once`` fires at ``execute_at`` unless it has fired already (``execution_count`` >= 1).
- Nothing fires after ``end_date``; at most ``max_executions`` firings in all, counting
  ``execution_count``.
"""

from __future__ import annotations

import calendar
import functools
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from apps.scheduling.interface import ScheduleSpec, schedule_spec_fire_times

__all__ = ["ConversionError", "convert", "legacy_fire_times", "verify"]

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SCAN_YEARS = 30  # legacy_fire_times gives up after this long without a firing


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


def _zone_name(row: Mapping) -> str:
    name = _text(row, "timezone") or "UTC"
    if name not in _zones():
        raise ConversionError("timezone", f"{name!r} is not an IANA time zone")
    return name


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


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
    text = _text(row, "time")
    if not text:
        raise ConversionError("time", "a recurring schedule needs a time (HH:MM)")
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        raise ConversionError("time", f"{text!r} is not a time of day (HH:MM)")
    hour, minute = int(parts[0]), int(parts[1])
    second = int(parts[2]) if len(parts) == 3 else 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        raise ConversionError("time", f"{text!r} is not a time of day (HH:MM, 00:00-23:59)")
    return time(hour, minute, second)


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


def _phase_anchor(row: Mapping) -> datetime | None:
    """Which day/week/month is "on" for an interval above 1: the one of the next run the legacy
    system planned (on the pattern by construction), else of the last run, else of creation.
    With an ``end_date``, only an instant before it counts (a finished schedule's next run may
    lie after its end); if none does, the end itself (nothing is left to fire)."""
    end = _instant(row, "end_date")
    for column in ("next_run", "last_run", "created_at"):
        value = _instant(row, column)
        if value is not None and (end is None or value < end):
            return value
    return None if end is None else end - timedelta(microseconds=1)


def _name(row: Mapping) -> str:
    ident = row.get("id")
    base = f"Legacy schedule #{ident}" if ident is not None else "Legacy schedule"
    description = " ".join(_text(row, "description").split())
    name = f"{base}: {description}" if description else base
    return name if len(name) <= 100 else name[:99] + "…"


# -- convert ---------------------------------------------------------------------------------------


def convert(
    row: Mapping,
    *,
    job_id: uuid.UUID | None = None,
    created_by_user_id: uuid.UUID | None = None,
    name: str | None = None,
) -> ScheduleSpec:
    """The schedule spec of a legacy ``job_schedules`` row. ``job_id`` and
    ``created_by_user_id`` are the new ids of the row's job and creator (the importer's mapping
    knows them); ``name`` defaults to "Legacy schedule #<id>: <description>". Raises
    :class:`ConversionError` naming the legacy column when the row cannot be converted."""
    kind = _kind(row)
    zone = _zone_name(row)
    max_executions = _whole(row, "max_executions", default=None, low=1)
    execution_count = _whole(row, "execution_count", default=0, low=0)
    enabled = row.get("enabled")
    common = {
        "name": name or _name(row),
        "job_id": job_id,
        "timezone": zone,
        "enabled": True if enabled is None else bool(enabled),
        "end_at": _instant(row, "end_date"),
        "max_firings": max_executions,
        "firings_made": execution_count,
        "last_fired_at": _instant(row, "last_run"),
        "description": _text(row, "description"),
        "created_by_user_id": created_by_user_id,
    }
    if kind == "cron":
        expression = " ".join(_text(row, "cron_expression").split())
        _parse_cron(expression)  # a clear error for a bad expression, before anything is made
        return ScheduleSpec(kind="cron", cron=expression, **common)
    if kind == "once":
        run_at = _instant(row, "execute_at")
        if run_at is None:
            raise ConversionError("execute_at", "a once schedule needs execute_at")
        # a one-off fires at most once: one that fired already has nothing left to do
        common["max_firings"] = min(max_executions or 1, 1)
        return ScheduleSpec(kind="once", run_at=run_at, **common)
    frequency = _frequency(row)
    every = _whole(row, "interval", default=1, low=1, high=1000)
    at = _time_of_day(row)
    days = _days_of_week(row) if frequency == "weekly" else ()
    day_of_month = (
        _whole(row, "day_of_month", default=None, low=1, high=31)
        if frequency == "monthly"
        else None
    )
    if frequency == "monthly" and day_of_month is None:
        raise ConversionError("day_of_month", "a monthly schedule needs a day of the month (1-31)")
    start_at = _phase_anchor(row) if every > 1 else None
    if every > 1 and start_at is None:
        raise ConversionError("interval", f"every {every}: no next_run, last_run or created_at")
    return ScheduleSpec(
        kind="calendar",
        frequency=frequency,
        every=every,
        time_of_day=at,
        days_of_week=days,
        day_of_month=day_of_month,
        start_at=start_at,
        **common,
    )


# -- the legacy semantics, on their own ------------------------------------------------------------


def _wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time stands for: the earliest instant showing it; if none does
    (clocks jumped over it), the first instant whose wall clock is past it."""
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


def _recurring_days(row: Mapping, zone: ZoneInfo, start: date) -> Iterator[date]:
    frequency = _frequency(row)
    every = _whole(row, "interval", default=1, low=1, high=1000)
    anchor_at = _phase_anchor(row) if every > 1 else None
    anchor = anchor_at.astimezone(zone).date() if anchor_at else start
    anchor_monday = anchor - timedelta(days=anchor.weekday())
    days = set(_days_of_week(row)) if frequency == "weekly" else set()
    wanted = _whole(row, "day_of_month", default=None, low=1, high=31)
    day = start
    for _ in range(366 * _SCAN_YEARS):
        if frequency == "daily":
            on = (day - anchor).days % every == 0
        elif frequency == "weekly":
            on = day.weekday() in days and ((day - anchor_monday).days // 7) % every == 0
        else:
            if wanted is None:
                raise ConversionError("day_of_month", "a monthly schedule needs a day")
            months = (day.year - anchor.year) * 12 + day.month - anchor.month
            last = calendar.monthrange(day.year, day.month)[1]
            on = months % every == 0 and day.day == min(wanted, last)
        if on:
            yield day
        day += timedelta(days=1)


def _cron_walls(row: Mapping, start: date) -> Iterator[datetime]:
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


def legacy_fire_times(row: Mapping, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` times (aware, UTC, ascending) the legacy row fires strictly after
    ``after``, from the legacy semantics (see the module docstring), independently of the new
    scheduler's code. Fewer when it stops (``end_date``, ``max_executions``, a past ``once``).
    Disabled rows are evaluated as if enabled (the definition is what is compared)."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)
    kind = _kind(row)
    zone = ZoneInfo(_zone_name(row))
    end = _instant(row, "end_date")
    left = count
    max_executions = _whole(row, "max_executions", default=None, low=1)
    done = _whole(row, "execution_count", default=0, low=0)
    if kind == "once":
        max_executions = 1
    if max_executions is not None:
        left = min(left, max(max_executions - done, 0))
    if left <= 0:
        return []
    if kind == "once":
        at = _instant(row, "execute_at")
        if at is None:
            raise ConversionError("execute_at", "a once schedule needs execute_at")
        return [at] if at > after and (end is None or at <= end) else []

    not_before = None
    if kind == "recurring" and _whole(row, "interval", default=1, low=1, high=1000) > 1:
        not_before = _phase_anchor(row)
    lower = after if not_before is None else max(after, not_before - timedelta(microseconds=1))
    start_day = lower.astimezone(zone).date() - timedelta(days=1)
    if kind == "recurring":
        at = _time_of_day(row)
        walls: Iterator[datetime] = (
            datetime.combine(day, at) for day in _recurring_days(row, zone, start_day)
        )
    else:
        walls = _cron_walls(row, start_day)
    result: list[datetime] = []
    for wall in walls:
        instant = _wall_to_instant(wall, zone)
        if instant <= lower or (result and instant <= result[-1]):
            continue
        if end is not None and instant > end:
            break
        result.append(instant)
        if len(result) >= left:
            break
    return result


# -- verify ----------------------------------------------------------------------------------------


def _show(instant: datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)).isoformat()} ({instant:%Y-%m-%d %H:%M} UTC)"


def verify(
    row: Mapping,
    spec: ScheduleSpec,
    after: datetime,
    count: int = 20,
    *,
    check_next_run: bool = True,
) -> list[str]:
    """Differences between when the legacy row and the imported ``spec`` fire: the next
    ``count`` fire times after ``after`` from :func:`legacy_fire_times` and from the new
    scheduler (``schedule_spec_fire_times``), one message per mismatch; empty when they agree.

    With ``check_next_run`` the row's stored ``next_run`` (when the row is enabled and it lies
    after ``after`` and not after the row's end) must also be the first legacy fire time: if it
    is not, the legacy system fired on a different pattern than the one assumed here, and that
    is reported too."""
    problems: list[str] = []
    try:
        legacy = legacy_fire_times(row, after, count)
    except ConversionError as exc:
        return [f"the legacy definition cannot be evaluated: {exc}"]
    try:
        new = schedule_spec_fire_times(spec=spec, after=after, count=count)
    except Exception as exc:  # the scheduler's ValidationError, keyed by field
        detail = getattr(exc, "detail", exc)
        return [f"the imported definition is refused: {detail}"]
    zone = spec.timezone
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
    next_run = _instant(row, "next_run")
    end = _instant(row, "end_date")
    enabled = row.get("enabled")
    if (
        check_next_run
        and next_run is not None
        and next_run > after
        and (end is None or next_run <= end)  # planned past its end: it does not fire
        and (enabled is None or bool(enabled))
        and legacy
        and legacy[0] != next_run
    ):
        problems.append(
            f"the legacy next_run {_show(next_run, zone)} is not the first fire time its "
            f"definition gives ({_show(legacy[0], zone)}): the legacy scheduler follows another "
            "rule than the one assumed"
        )
    return problems
