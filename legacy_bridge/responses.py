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


def legacy_validation_error(errors: list[dict]) -> JsonResponse:
    """422 in FastAPI's shape: ``{"detail": [{"type", "loc", "msg", ...}, ...]}`` (what the
    legacy UI joins into a message from ``loc`` and ``msg``), with the request id and the
    project's ``error`` object (its ``fields`` keyed by the dotted ``loc``)."""
    fields: dict[str, list[str]] = {}
    for item in errors:
        fields.setdefault(".".join(str(p) for p in item["loc"]), []).append(item["msg"])
    body = {"detail": errors, "request_id": get_request_id()}
    body.update(error_body(422, "Invalid input.", code="invalid", fields=fields))
    return JsonResponse(body, status=422)


def field_error(loc: tuple | list, msg: str, kind: str = "value_error", **extra) -> dict:
    """One pydantic-style error (``{"type", "loc", "msg"}`` plus e.g. ``input``, ``ctx``)."""
    return {"type": kind, "loc": list(loc), "msg": msg, **extra}
