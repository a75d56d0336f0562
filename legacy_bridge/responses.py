"""The bridge's own answers, in the legacy error shape ``{"detail": ...}`` (what legacy clients
parse) with the request id, and the project's ``error`` object beside it (docs/api.md)."""

from __future__ import annotations

from django.http import JsonResponse

from opsconductor.api.errors import error_body
from opsconductor.observability.context import get_request_id


def legacy_error(
    status: int, message: str, *, extra: dict | None = None, headers: dict | None = None
) -> JsonResponse:
    body = {"detail": message, "request_id": get_request_id(), **(extra or {})}
    body.update(error_body(status, message))
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
