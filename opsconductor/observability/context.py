"""Per-request (or per-task) context: request id, client address, user agent.

Set by the request middleware and by Celery task hooks; read by logging and by ``publish``.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_client: contextvars.ContextVar[dict | None] = contextvars.ContextVar("client", default=None)


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
