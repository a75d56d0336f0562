"""What every legacy area needs: the legacy answers (FastAPI's shapes), body and parameter
parsing with FastAPI's 422s, dates as the legacy backend writes them, and who is calling."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from apps.accounts.interface import actor_for_request
from legacy_bridge import legacy_ids
from legacy_bridge.responses import field_error, legacy_error, legacy_validation_error
from opsconductor.events import Actor

INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


class Refused(Exception):
    """An answer an endpoint gives up with: raised from helpers, returned by ``endpoint``."""

    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def answer(body, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False)


def detail(status: int, message: str, **headers) -> JsonResponse:
    """``{"detail": message}`` (plus the bridge's request id and error object)."""
    return legacy_error(
        status, message, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def invalid(*errors: dict) -> Refused:
    return Refused(legacy_validation_error(list(errors)))


def actor(request) -> Actor:
    return actor_for_request(request)


def caller_legacy_id(request) -> int:
    user = request.user
    legacy_id = getattr(user, "legacy_id", None)
    return legacy_id if legacy_id is not None else legacy_ids.legacy_id_for("users", user.pk)


def when(value: datetime | None) -> str | None:
    """A time as the legacy backend writes an aware one: ISO-8601 in UTC with ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def empty_as_null(value: str | None) -> str | None:
    return value or None


def path_int(value: str, name: str) -> int:
    """A path parameter that must be an integer (FastAPI's 422 ``int_parsing`` otherwise)."""
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not value.lstrip("-").isdigit():
        raise invalid(field_error(("path", name), INT_PARSING, "int_parsing", input=value))
    return number


def query_int(request, name: str, default: int, *, ge: int | None = None, le: int | None = None):
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise invalid(field_error(("query", name), INT_PARSING, "int_parsing", input=raw)) from None
    if ge is not None and number < ge:
        raise invalid(
            field_error(
                ("query", name),
                f"Input should be greater than or equal to {ge}",
                "greater_than_equal",
                input=raw,
                ctx={"ge": ge},
            )
        )
    if le is not None and number > le:
        raise invalid(
            field_error(
                ("query", name),
                f"Input should be less than or equal to {le}",
                "less_than_equal",
                input=raw,
                ctx={"le": le},
            )
        )
    return number


NO_BODY = object()


def body(request, *, required: bool = True):
    """The JSON body; FastAPI's 422 for a missing (when ``required``) or unreadable one.
    ``NO_BODY`` when there is none and none is required."""
    raw = request.body
    if not raw.strip():
        if required:
            raise invalid(field_error(("body",), "Field required", "missing", input=None))
        return NO_BODY
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(
            field_error(
                ("body", 0),
                "JSON decode error",
                "json_invalid",
                input={},
                ctx={"error": str(exc)[:200]},
            )
        ) from None


def object_body(request) -> dict:
    data = body(request)
    if not isinstance(data, dict):
        raise invalid(
            field_error(
                ("body",),
                "Input should be a valid dictionary or object to extract fields from",
                "model_attributes_type",
                input=data,
            )
        )
    return data


# FastAPI's check and 422 wording for each kind of field (a bool is not an integer there)
_FIELD_TYPES = {
    str: (lambda v: isinstance(v, str), "Input should be a valid string", "string_type"),
    bool: (lambda v: isinstance(v, bool), "Input should be a valid boolean", "bool_type"),
    int: (
        lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Input should be a valid integer",
        "int_type",
    ),
    list: (lambda v: isinstance(v, list), "Input should be a valid list", "list_type"),
    dict: (lambda v: isinstance(v, dict), "Input should be a valid dictionary", "dict_type"),
}


def fields(data: dict, spec: dict[str, tuple[type, bool]]) -> dict:
    """Check ``data``'s fields against ``{name: (type, required)}``: FastAPI's 422 naming every
    missing field and every value of the wrong type, at once."""
    errors = []
    out = {}
    for name, (kind, required) in spec.items():
        if name not in data or data[name] is None:
            if required:
                errors.append(field_error(("body", name), "Field required", "missing", input=data))
            continue
        value = data[name]
        accepts, message, error_type = _FIELD_TYPES[kind]
        if not accepts(value):
            errors.append(field_error(("body", name), message, error_type, input=value))
            continue
        out[name] = value
    if errors:
        raise invalid(*errors)
    return out


def from_validation(exc: ValidationError, rename: dict[str, str] | None = None) -> Refused:
    """The new system's ``ValidationError`` (keyed by its field names) as the legacy 422, each
    field renamed to what the legacy client sent (``rename``; dotted paths become ``loc``)."""
    rename = rename or {}
    errors = []
    messages = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for key, msgs in messages.items():
        name = rename.get(key, key)
        loc = (
            ("body", *[int(p) if p.isdigit() else p for p in name.split(".")])
            if key != "__all__"
            else ("body",)
        )
        for msg in msgs:
            errors.append(field_error(loc, str(msg)))
    return invalid(*errors)


def endpoint(function):
    """Lets an endpoint raise ``Refused`` from anywhere (parsing, lookups)."""

    def run(request, **kwargs):
        try:
            return function(request, **kwargs)
        except Refused as refused:
            return refused.response

    run.__name__ = function.__name__
    run.__doc__ = function.__doc__
    return run


def new_id(kind: str, legacy_id: int) -> uuid.UUID | None:
    return legacy_ids.new_id_for(kind, legacy_id)
