"""The API's request body parsers: every parsed body is bounded and checked the same way.

- size: at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, else 413 (``request_too_large``); the
  limit applies to bodies the API parses, not to bodies the legacy bridge streams through;
- nesting: at most ``API_MAX_NESTING_DEPTH`` levels of objects/arrays, else 400 naming ``body``;
- size of the tree: at most ``API_MAX_BODY_VALUES`` values (YAML aliases cannot blow it up);
- NUL: no ``\\x00`` in any string or key, else 400 naming the field (``steps.0.command``):
  PostgreSQL cannot store it, and no field of this product has a use for it;
- form bodies: at most ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields, else 400 naming ``body``.

Every parser of the API derives from :class:`CheckedParser` (tests/architecture walks the views);
a parser of an app (YAML, CSV) reads with :func:`read_body` and returns :func:`check_tree`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import json

from opsconductor.api.errors import RequestTooLarge

NUL = "\x00"
NUL_REASON = "NUL characters (\\u0000) are not allowed."
MAX_NUL_ERRORS = 20


def max_depth() -> int:
    return settings.API_MAX_NESTING_DEPTH


def too_deep() -> ValidationError:
    return ValidationError({"body": [f"Nested deeper than {max_depth()} levels."]})


def read_body(stream, parser_context=None, *, limit: int | None = None) -> bytes:
    """The body, refused with a 413 when it is longer than ``limit`` (default
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``): the declared length is checked before reading, and no more
    than ``limit + 1`` bytes are ever read."""
    if limit is None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    request = (parser_context or {}).get("request")
    if limit is not None and request is not None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            declared = 0
        if declared > limit:
            raise RequestTooLarge()
    if stream is None:
        return b""
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestTooLarge()
    return raw


def _name(path: str, key) -> str:
    key = str(key).replace(NUL, "\\u0000")
    return f"{path}.{key}" if path else key


def check_tree(data, *, limit: int | None = None):
    """``data`` (a parsed body) if it is within the limits; else a ValidationError naming the
    body (too deep, too many values) or every field holding a NUL character."""
    limit = max_depth() if limit is None else limit
    budget = settings.API_MAX_BODY_VALUES
    errors: dict[str, list[str]] = {}
    stack = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ValidationError({"body": [f"More than {settings.API_MAX_BODY_VALUES} values."]})
        if isinstance(value, (dict, list, tuple)):
            if depth >= limit:
                raise too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = _name(path, key)
                if isinstance(key, str) and NUL in key and len(errors) < MAX_NUL_ERRORS:
                    errors[name] = [NUL_REASON]
                stack.append((item, name, depth + 1))
        elif isinstance(value, str) and NUL in value and len(errors) < MAX_NUL_ERRORS:
            errors[path or "body"] = [NUL_REASON]
    if errors:
        raise ValidationError(errors)
    return data


def check_query_dict(data: QueryDict, *, root: str = "") -> QueryDict:
    """A form body or query string: a ValidationError naming each field holding a NUL."""
    errors: dict[str, list[str]] = {}
    for key, values in data.lists():
        if NUL in key or any(NUL in value for value in values if isinstance(value, str)):
            errors[_name(root, key)] = [NUL_REASON]
    if errors:
        raise ValidationError(errors)
    return data


class CheckedParser(parsers.BaseParser):
    """Marks a parser that bounds and checks what it parses (see the module)."""


class JSONParser(CheckedParser, parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = read_body(stream, parser_context)
        try:
            text = raw.decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise too_deep() from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return check_tree(data)


class FormParser(CheckedParser, parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = read_body(stream, parser_context)
        # QueryDict raises TooManyFieldsSent past DATA_UPLOAD_MAX_NUMBER_FIELDS: a 400.
        return check_query_dict(QueryDict(raw, encoding=encoding))


class MultiPartParser(CheckedParser, parsers.MultiPartParser):
    # Django's multipart parser bounds the non-file fields by DATA_UPLOAD_MAX_MEMORY_SIZE and
    # their number by DATA_UPLOAD_MAX_NUMBER_FIELDS itself (RequestDataTooBig: 413).
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        check_query_dict(result.data)
        return result
