"""Celery tasks of the audit app (queue ``audit``)."""

from __future__ import annotations

from celery import shared_task

from apps.audit import services
from opsconductor.events import Actor


@shared_task(name="apps.audit.tasks.purge_expired")
def purge_expired() -> dict:
    """Retention (beat, daily): remove records older than ``AUDIT_RETENTION_DAYS``."""
    return services.audit_purge()


@shared_task(name="apps.audit.tasks.verify_chain")
def verify_chain(verification_id: int | None = None, actor: dict | None = None) -> dict:
    """Walk the hash chain and store the result (beat, every ``AUDIT_VERIFY_SECONDS``; or a
    verification an admin requested, ``verification_id``)."""
    verification = services.verification_run(
        verification_id=verification_id,
        trigger="manual" if verification_id is not None else "schedule",
        actor=Actor.from_dict(actor),
    )
    return {"id": verification.pk, "state": verification.state, "checked": verification.checked}
