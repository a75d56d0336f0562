"""Carries the request id from the code that sends a Celery task into the task's logs."""

from __future__ import annotations

import contextvars

from celery.signals import before_task_publish, task_postrun, task_prerun

from opsconductor.observability.context import _request_id, get_request_id

_tokens: dict[str, contextvars.Token[str]] = {}


@before_task_publish.connect
def _stamp_request_id(headers=None, **kwargs):
    if headers is not None and get_request_id() != "-":
        headers.setdefault("request_id", get_request_id())


@task_prerun.connect
def _bind_request_id(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, "request_id", None) if task else None
    _tokens[task_id] = _request_id.set(request_id or f"task-{task_id}")


@task_postrun.connect
def _unbind_request_id(task_id=None, **kwargs):
    token = _tokens.pop(task_id, None)
    if token is not None:
        _request_id.reset(token)
