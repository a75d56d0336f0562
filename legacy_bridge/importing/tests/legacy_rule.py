"""The legacy scheduler's rule, written again for the tests, so that the legacy rows the tests
build carry the ``next_run``, ``last_run`` and ``execution_count`` the legacy backend would
have stored (and the importer is checked against them, not against its own reading).

What the legacy backend does (its ``job_scheduling_service``): everything in **UTC**, the
``timezone`` column never read. When a schedule is created, edited or has just fired, its next
run is computed from the current UTC time ``now``:

- ``cron``: the first match of the five-field expression strictly after ``now``, in UTC;
- ``recurring daily``: today at ``time`` (UTC); if that is not after ``now``, ``interval``
  days later;
- ``recurring weekly``: the first of the next 7 days (today included) at ``time`` whose
  weekday (0 = Monday) is in ``days_of_week`` and that is after ``now``; if there is none
  (only today's weekday, and its time has passed), that weekday ``interval`` weeks later;
- ``recurring monthly``: this month's ``day_of_month`` at ``time``; if not after ``now``: the
  same day next January when this is December, else ``interval`` months later; a day the month
  does not have, or a month past December, leaves no next run at all (None).

The scheduler fires a row when ``next_run`` has passed (enabled, below ``max_executions``,
before ``end_date``), counts it, sets ``last_run`` and computes the next run from then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# -- cron, minute by minute ------------------------------------------------------------------

_NAMES = {
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9,
    "OCT": 10, "NOV": 11, "DEC": 12,
    "SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
}  # fmt: skip


def _field(text: str, low: int, high: int) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-")
            first, last = int(_NAMES.get(a.upper(), a)), int(_NAMES.get(b.upper(), b))
        else:
            first = int(_NAMES.get(base.upper(), base))
            last = high if step else first
        out.update(range(first, last + 1, int(step or 1)))
    return out


def cron_next(expression: str, now: datetime) -> datetime:
    minute, hour, dom, month, dow = expression.split()
    minutes, hours = _field(minute, 0, 59), _field(hour, 0, 23)
    doms, months = _field(dom, 1, 31), _field(month, 1, 12)
    dows = {d % 7 for d in _field(dow, 0, 7)}
    at = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 366 * 5):
        cron_dow = (at.weekday() + 1) % 7
        if dom != "*" and dow != "*":
            day_ok = at.day in doms or cron_dow in dows
        else:
            day_ok = at.day in doms and cron_dow in dows
        if at.minute in minutes and at.hour in hours and at.month in months and day_ok:
            return at
        at += timedelta(minutes=1)
    raise AssertionError(f"{expression!r} does not fire within 5 years")


# -- the legacy rule -------------------------------------------------------------------------


def next_run(row: dict[str, Any], now: datetime) -> datetime | None:
    """When the legacy backend plans the next run of ``row`` at ``now`` (UTC; None: none)."""
    now = now.astimezone(UTC)
    kind = row["schedule_type"]
    if kind == "once":
        return row["execute_at"]
    if kind == "cron":
        return cron_next(row["cron_expression"], now)
    hour, _, minute = row["time"].partition(":")
    base = now.replace(hour=int(hour), minute=int(minute or 0), second=0, microsecond=0)
    interval = row.get("interval") or 1
    frequency = row["recurring_type"]
    if frequency == "daily":
        return base if base > now else base + timedelta(days=interval)
    if frequency == "weekly":
        days = {int(d) for d in str(row["days_of_week"]).split(",")}
        for offset in range(7):
            candidate = base + timedelta(days=offset)
            if candidate.weekday() in days and candidate > now:
                return candidate
        later = base + timedelta(weeks=interval)
        for offset in range(7):
            if (later + timedelta(days=offset)).weekday() in days:
                return later + timedelta(days=offset)
        return None
    try:
        candidate = base.replace(day=row["day_of_month"])
        if candidate <= now:
            if candidate.month == 12:
                candidate = candidate.replace(year=candidate.year + 1, month=1)
            else:
                candidate = candidate.replace(month=candidate.month + interval)
    except ValueError:
        return None
    return candidate


def run_until(row: dict[str, Any], created: datetime, until: datetime) -> dict[str, Any]:
    """``row`` as the legacy backend leaves it when it was created at ``created`` and its
    scheduler ran on time until ``until``: ``next_run``, ``last_run``, ``execution_count`` (and
    ``enabled`` False for a ``once`` that fired)."""
    row = {"interval": 1, "execution_count": 0, "enabled": True, **row, "created_at": created}
    planned = next_run(row, created)
    while planned is not None and planned <= until:
        end = row.get("end_date")
        cap = row.get("max_executions")
        if not row["enabled"] or (end is not None and end <= planned):
            break
        if cap is not None and row["execution_count"] >= cap:
            break
        row["execution_count"] += 1
        row["last_run"] = planned
        if row["schedule_type"] == "once":
            row["enabled"] = False
            planned = None
        else:
            planned = next_run(row, planned)
    row["next_run"] = planned
    return row


def firings(row: dict[str, Any], count: int) -> list[datetime]:
    """The row's next ``count`` firings from its stored ``next_run`` on, by the legacy rule
    (fewer when it stops: no next run, ``end_date``, ``max_executions``)."""
    out: list[datetime] = []
    planned = row.get("next_run")
    done = row.get("execution_count") or 0
    while planned is not None and len(out) < count:
        end, cap = row.get("end_date"), row.get("max_executions")
        if (end is not None and end <= planned) or (cap is not None and done >= cap):
            break
        out.append(planned)
        done += 1
        planned = None if row["schedule_type"] == "once" else next_run(row, planned)
    return out
