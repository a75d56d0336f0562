"""Celery routing: every task goes to the queue of the app that defines it
(docs/architecture.md, "Celery")."""

from __future__ import annotations

from django.conf import settings


def queue_for(app_label: str) -> str:
    """The Celery queue of an app (``kernel`` for the kernel's own tasks)."""
    return settings.CELERY_QUEUE_PREFIX + app_label


def route_task(name, args, kwargs, options, task=None, **kw):
    if options.get("queue"):
        return None
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "apps":
        return {"queue": queue_for(parts[1])}
    return {"queue": queue_for("kernel")}
