"""Celery tasks of the targets app (queue ``targets``): thin wrappers around the services."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apps.targets.models import HealthCheck, Target
from apps.targets.services import health
from opsconductor.events import SYSTEM, Actor

logger = logging.getLogger(__name__)


@shared_task(name="apps.targets.tasks.check_target_health")
def check_target_health(check_id: str, actor: dict | None = None) -> str | None:
    """Run one queued health check (a row made by ``targets_check_health``); its status."""
    check = HealthCheck.objects.using("targets").filter(pk=check_id).first()
    if check is None:  # its target was deleted meanwhile
        return None
    if check.finished_at is not None:  # redelivered after it ran
        return check.status
    try:
        done = health.target_check_health(
            target_id=check.target_id,
            batch_id=check.batch_id,
            check_id=check.id,
            actor=Actor.from_dict(actor),
        )
    except (Target.DoesNotExist, HealthCheck.DoesNotExist):
        return None
    return done.status


@shared_task(name="apps.targets.tasks.check_all_targets")
def check_all_targets() -> str | None:
    """Periodic (Celery beat): queue a check of every active target; the batch id."""
    schedule = settings.CELERY_BEAT_SCHEDULE.get("targets-health-check", {}).get("schedule")
    interval = float(schedule) if isinstance(schedule, int | float) else 900.0
    expired = health.health_checks_expire(older_than=timedelta(seconds=max(600.0, 2 * interval)))
    if expired:
        logger.warning("%s queued health checks never ran; marked as errors", expired)
    ids = list(
        Target.objects.using("targets")
        .filter(status=Target.Status.ACTIVE)
        .values_list("id", flat=True)
    )
    if not ids:
        return None
    batch_id: uuid.UUID = health.targets_check_health(target_ids=ids, actor=SYSTEM)
    return str(batch_id)
