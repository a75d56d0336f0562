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


class DriverDetailFilter(logging.Filter):
    """For the connection pool's logger (``psycopg.pool``): its warnings carry the driver's
    messages ("connection to server at <host>, port <port> failed: ... database <name> ...")
    and connections' reprs (host, user, database), which the logs never show (ADR 0016). They
    keep what happened, with the error's class and SQLSTATE."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_driver_detail(arg) for arg in record.args)
        elif record.args:
            record.args = _without_driver_detail(record.args)
        return True


def _without_driver_detail(value):
    if isinstance(value, BaseException):
        sqlstate = getattr(value, "sqlstate", None)
        return f"{type(value).__name__}{f' {sqlstate}' if sqlstate else ''}"
    if type(value).__module__.startswith(("psycopg", "psycopg_pool")):
        return type(value).__name__  # a connection: its repr names host, user and database
    return value


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
