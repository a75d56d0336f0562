"""Celery tasks of the audit app (queue ``audit``)."""

from __future__ import annotations

from celery import shared_task

from apps.audit import services


@shared_task(name="apps.audit.tasks.purge_expired")
def purge_expired() -> dict:
    """Retention (beat, daily): remove records older than ``AUDIT_RETENTION_DAYS``."""
    return services.audit_purge()
