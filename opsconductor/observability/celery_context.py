"""Carries the request id (and the actor) from the code that sends a Celery task into the
task's logs."""

from __future__ import annotations

import contextvars

from celery.signals import before_task_publish, task_postrun, task_prerun

from opsconductor.observability.context import _actor, _request_id, current_actor, get_request_id

_tokens: dict[str, tuple[contextvars.Token[str], contextvars.Token[str | None]]] = {}


@before_task_publish.connect
def _stamp_request_id(headers=None, **kwargs):
    if headers is None:
        return
    if get_request_id() != "-":
        headers.setdefault("request_id", get_request_id())
    if current_actor() != "-":
        headers.setdefault("actor", current_actor())


@task_prerun.connect
def _bind_request_id(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, "request_id", None) if task else None
    actor = getattr(task.request, "actor", None) if task else None
    _tokens[task_id] = (
        _request_id.set(request_id or f"task-{task_id}"),
        _actor.set(actor if isinstance(actor, str) else None),
    )


@task_postrun.connect
def _unbind_request_id(task_id=None, **kwargs):
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        _request_id.reset(tokens[0])
        _actor.reset(tokens[1])
