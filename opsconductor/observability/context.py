"""Per-request (or per-task) context: request id, client address, user agent, actor.

Set by the request middleware and by Celery task hooks; read by logging and by ``publish``.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

from django.utils.functional import SimpleLazyObject, empty

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_client: contextvars.ContextVar[dict | None] = contextvars.ContextVar("client", default=None)
# The HTTP request being answered (its user, once authenticated, is the actor of log lines),
# or the actor a task acts for (``actor_bound``).
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("request", default=None)
_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("actor", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _request_id.get()


def current_context() -> dict:
    """The context to attach to an event: request id, IP and user agent where known."""
    context = dict(_client.get() or {})
    request_id = _request_id.get()
    if request_id != "-":
        context["request_id"] = request_id
    return context


@contextlib.contextmanager
def bound(*, request_id: str | None = None, **client: str | None) -> Iterator[None]:
    """Bind a request id (and client details such as ``ip``, ``user_agent``) for a block."""
    token_id = _request_id.set(request_id or new_request_id())
    token_client = _client.set({k: v for k, v in client.items() if v})
    try:
        yield
    finally:
        _request_id.reset(token_id)
        _client.reset(token_client)


def current_actor() -> str:
    """Who the current request or task acts for, as in ``Actor.label`` (``user:alice``), for
    log lines; ``-`` when not known (yet).

    Read from the request's user only once authentication has resolved it: a log line never
    triggers a database query of its own.
    """
    bound_actor = _actor.get()
    if bound_actor:
        return bound_actor
    request = _request.get()
    if request is None:
        return "-"
    # set on the request by AuthenticationMiddleware (lazily) and by DRF once it authenticated
    user = getattr(request, "__dict__", {}).get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is None:
        return "-"
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    return f"user:{user.get_username() or user.pk}"


@contextlib.contextmanager
def request_bound(request) -> Iterator[None]:
    """Make ``request`` the one whose user log lines name as the actor, for a block."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


@contextlib.contextmanager
def actor_bound(actor: str | None) -> Iterator[None]:
    """Name ``actor`` (an ``Actor.label``) as the actor of log lines, for a block."""
    token = _actor.set(actor or None)
    try:
        yield
    finally:
        _actor.reset(token)
