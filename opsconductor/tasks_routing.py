"""Celery routing: every task goes to the queue of the app that defines it (DESIGN.md, rule 5)."""

from __future__ import annotations


def route_task(name, args, kwargs, options, task=None, **kw):
    if options.get("queue"):
        return None
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "apps":
        return {"queue": parts[1]}
    return {"queue": "kernel"}
