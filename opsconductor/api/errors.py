"""One JSON error shape for every 4xx/5xx response of the API.

    {"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]},
               "request_id": "..."}}

``fields`` is present for validation errors and maps each field (dotted for nested ones) to
its reasons. ``positions`` (only with ``fields``, when known) maps a field whose text is
wrong at a given place (a selector) to that 0-based character offset. The shape is documented
in docs/api.md.
"""

from __future__ import annotations

import json
import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from opsconductor.observability.context import get_request_id

logger = logging.getLogger("opsconductor.api")

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "request_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class RequestTooLarge(exceptions.APIException):
    """413: a body larger than the limit (``DATA_UPLOAD_MAX_MEMORY_SIZE``), refused before it
    is parsed."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts."
    default_code = "request_too_large"


def _too_many(exc: SuspiciousOperation) -> str:
    from django.conf import settings

    if isinstance(exc, TooManyFilesSent):
        return f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
    return f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields."


def translate_django_exception(exc: Exception) -> exceptions.APIException | None:
    """What Django raises while reading a request (before or inside a view), as the API's own
    exception: a body over the limit is a 413, too many fields a 400 naming the body, any other
    suspicious request a plain 400. None for anything else."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return exceptions.ValidationError({"body": [_too_many(exc)]})
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request is malformed.")
    return None


class PositionedValidationError(exceptions.ValidationError):
    """A validation error in a field's text at a known place: ``positions`` maps the field
    (dotted) to the 0-based character offset, sent as ``error.positions`` so a client can
    point at it."""

    def __init__(self, detail, positions: dict[str, int]):
        super().__init__(detail)
        self.positions = dict(positions)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


DATABASE_UNAVAILABLE = "The service cannot reach its database right now; retry shortly."


def database_unavailable(exc: BaseException | None) -> bool:
    """``exc`` is the database connection being lost or refused (a restart, a failover)."""
    from django.db import InterfaceError, OperationalError

    from opsconductor.db.reconnect import is_connection_error

    return isinstance(exc, (OperationalError, InterfaceError)) and is_connection_error(exc)


def _retry_after() -> str:
    from django.conf import settings

    return str(getattr(settings, "DATABASE_OUTAGE_RETRY_AFTER_SECONDS", 5))


def database_unavailable_response(exc: BaseException) -> JsonResponse:
    """503 with ``Retry-After``, in the shape. The driver's message is never shown nor logged:
    a refused connection names the host and the database."""
    from opsconductor.db.reconnect import close_broken_connections, describe

    logger.warning("database unavailable, answering 503: %s", describe(exc))
    close_broken_connections()
    response = json_error(503, DATABASE_UNAVAILABLE)
    response["Retry-After"] = _retry_after()
    return response


def error_body(status_code: int, message: str, *, code: str | None = None, fields=None) -> dict:
    error = {"code": code or CODES.get(status_code, "error"), "message": message}
    if fields:
        error["fields"] = fields
    error["request_id"] = get_request_id()
    return {"error": error}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"field.sub": ["reason", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                name = f"{prefix}.{index}" if prefix else str(index)
                for k, v in _flatten(item, name).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return {k: v for k, v in out.items() if v}


def _summary(fields: dict[str, list[str]]) -> str:
    first_field, reasons = next(iter(fields.items()))
    if first_field == "non_field_errors":
        return reasons[0]
    more = f" (and {len(fields) - 1} more field(s))" if len(fields) > 1 else ""
    return f"{first_field}: {reasons[0]}{more}"


def exception_handler(exc, context):
    # Imported here: rest_framework.views loads the authentication classes, which may import
    # modules that import this one (e.g. for Conflict).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif database_unavailable(exc):
        unavailable = database_unavailable_response(exc)
        return Response(json.loads(unavailable.content), status=503,
                        headers={"Retry-After": unavailable["Retry-After"]})  # fmt: skip
    else:
        exc = translate_django_exception(exc) or exc

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        return Response(
            error_body(500, "Internal server error. Quote the request id when reporting it."),
            status=500,
        )

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = error_body(
            400,
            _summary(fields) if fields else "Invalid input.",
            code="validation_error",
            fields=fields,
        )
        positions = getattr(exc, "positions", None)
        if positions:
            body["error"]["positions"] = positions
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        raw_code: object
        if isinstance(detail, dict):  # e.g. simplejwt: {"detail", "code", "messages"}
            message, raw_code = str(detail.get("detail", "Request failed.")), detail.get("code")
        elif isinstance(detail, list):
            message, raw_code = "; ".join(str(item) for item in detail), None
        else:
            message, raw_code = str(detail), getattr(detail, "code", None)
        code = str(raw_code) if raw_code else None
        if response.status_code == 401 and code is None:
            code = "not_authenticated"
        body = error_body(response.status_code, message, code=code)
        if response.status_code == 403:
            record_denial(context.get("request"), message)
    response.data = body
    return response


def record_denial(request, message: str) -> None:
    """A 403 is an event of the audit trail: ``API_DENIAL_RECORDER`` (a dotted path, the
    accounts app's by default: the kernel imports no app) records it. Never fails the
    response."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "API_DENIAL_RECORDER", "")
    if not path or request is None:
        return
    try:
        import_string(path)(request=request, reason=message)
    except Exception:
        logger.exception("could not record a permission denial")


def json_error(status_code: int, message: str, **kwargs) -> JsonResponse:
    return JsonResponse(error_body(status_code, message, **kwargs), status=status_code)


def api_exception_response(exc: exceptions.APIException) -> JsonResponse:
    """An API exception raised outside DRF (middleware, Django's own handlers) in the shape."""
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return json_error(400, _summary(fields), code="validation_error", fields=fields)
    return json_error(exc.status_code, str(exc.detail), code=str(exc.default_code))


# Django-level handlers (config/urls.py) so even non-DRF 404/500s keep the shape under /api/.
def handler404(request, exception=None):
    return json_error(404, "Not found.")


def handler500(request):
    # called while Django handles the exception: a lost database connection raised outside a
    # view (a middleware, e.g. saving the session) is a 503 too
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return database_unavailable_response(exc)
    return json_error(500, "Internal server error. Quote the request id when reporting it.")


def handler403(request, exception=None):
    return json_error(403, "Forbidden.")


def handler400(request, exception=None):
    # Django calls this for what it raises itself while reading a request (a body over
    # DATA_UPLOAD_MAX_MEMORY_SIZE, more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields, ...) in a
    # middleware or a non-DRF view: the same answers as inside the API.
    translated = translate_django_exception(exception) if exception is not None else None
    if translated is not None and not isinstance(translated, exceptions.ParseError):
        return api_exception_response(translated)
    return json_error(400, "Bad request.")
