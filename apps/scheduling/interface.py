"""The only module of the scheduling app other apps may import.

The scheduling context owns schedules (cron, interval, once, each in its own time zone), their
firing history and the alerts of schedules and jobs; Celery beat is its clock (ADR 0010).

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""

from __future__ import annotations

import uuid


def schedules_of_job(job_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the schedules that run the job (enabled or paused)."""
    from apps.scheduling.models import Schedule

    return list(
        Schedule.objects.using("scheduling").filter(job_id=job_id).values_list("id", flat=True)
    )
