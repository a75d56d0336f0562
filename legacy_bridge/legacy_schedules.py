"""Schedules as the legacy UI defined them: the ``job_schedules`` columns a schedule was written
with (through the legacy routes, or by the importer), kept beside the schedule that fires
(``LegacyScheduleDefinition``, keyed by the scheduling app's schedule id).

The legacy scheduler ignored the declared ``timezone`` (it evaluated everything in UTC), and a
schedule of the new system that fires at the same instants is therefore defined in UTC: the zone
the user declared, the legacy ``interval`` of a weekly rule on several days and the like are not
in the new definition, but the legacy routes answer them back as they were sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from legacy_bridge.models import LegacyScheduleDefinition

DB = "default"
# the columns of a legacy row that define it (the rest is state: counts, runs, timestamps)
COLUMNS = (
    "schedule_type",
    "timezone",
    "description",
    "execute_at",
    "recurring_type",
    "interval",
    "time",
    "days_of_week",
    "day_of_month",
    "cron_expression",
    "max_executions",
    "end_date",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def definition_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The defining columns of a legacy row (times as ISO text)."""
    return {column: _plain(row.get(column)) for column in COLUMNS}


def remember(schedule_id: uuid.UUID, row: Mapping[str, Any]) -> None:
    LegacyScheduleDefinition.objects.using(DB).update_or_create(
        schedule_id=schedule_id, defaults={"definition": definition_of(row)}
    )


def definitions(schedule_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    return dict(
        LegacyScheduleDefinition.objects.using(DB)
        .filter(schedule_id__in=list(schedule_ids))
        .values_list("schedule_id", "definition")
    )


def forget(schedule_id: uuid.UUID) -> None:
    LegacyScheduleDefinition.objects.using(DB).filter(schedule_id=schedule_id).delete()
