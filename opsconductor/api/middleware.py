"""Limits every request meets before any view runs, answered in the API's error shape.

- the URL (path and query string, as sent) is at most ``API_MAX_URL_BYTES`` bytes, else 414;
- the query string has at most ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` parameters, else 400 naming
  ``query``;
- no NUL character in the path (400 naming ``path``) or in a query parameter's name or value
  (400 naming the parameter).

``DatabaseUnavailableMiddleware`` turns a lost database connection into a 503 (docs/operations.md,
"Database restarts and outages").

Bodies are not read here: the API's parsers bound what they parse (``opsconductor.api.parsers``)
and the legacy bridge streams bodies through unread.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from rest_framework.exceptions import ValidationError

from opsconductor.api.errors import (
    api_exception_response,
    database_unavailable,
    database_unavailable_response,
    json_error,
)
from opsconductor.api.parsers import NUL, NUL_REASON, check_query_dict


def url_length(request) -> int:
    raw = request.META.get("RAW_URI")  # gunicorn: the request target exactly as sent
    if raw:
        return len(raw.encode("latin-1", "replace"))
    return len(request.get_full_path().encode())


class RequestLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.API_MAX_URL_BYTES
        if url_length(request) > limit:
            return json_error(414, f"The URL is longer than {limit} bytes.", code="uri_too_long")
        if NUL in request.path:
            return api_exception_response(ValidationError({"path": [NUL_REASON]}))
        try:
            check_query_dict(request.GET)
        except TooManyFieldsSent:
            reason = f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters."
            return api_exception_response(ValidationError({"query": [reason]}))
        except ValidationError as exc:
            return api_exception_response(exc)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view (DRF or plain Django) that loses its database connection, or cannot get one
    (a restart, a failover), answers 503 with ``Retry-After`` in the error shape, not 500.
    The next request reconnects by itself (Django checks the connections between requests,
    ``CONN_HEALTH_CHECKS`` before reusing one). Last in ``MIDDLEWARE``: it sees the view's
    exception first; one raised by a middleware reaches ``handler500``, which answers alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if database_unavailable(exception):
            return database_unavailable_response(exception)
        return None
