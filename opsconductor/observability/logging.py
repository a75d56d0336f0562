from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from opsconductor.observability.context import current_actor, get_request_id, request_bound

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "actor",
    "request",  # django.request's HttpRequest: not serialisable, and its id is already there
}


class RequestContextFilter(logging.Filter):
    """Stamps every log record with the current request (or task) id and its actor."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs 4xx/5xx after the middleware returned, outside the request's
        # context, but hands over the request itself.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or get_request_id()
        if hasattr(request, "META"):  # an HttpRequest (django.server hands over a socket)
            with request_bound(request):
                record.actor = current_actor()
        else:
            record.actor = current_actor()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the production log format."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", get_request_id()),
            "actor": getattr(record, "actor", None) or current_actor(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
