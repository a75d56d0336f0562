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
    """For loggers of libraries that log database errors as they come (the connection pool's
    ``psycopg.pool``, django-celery-beat's scheduler): the driver's messages ("connection to
    server at <host>, port <port> failed: ... database <name> ...") and connections' reprs
    (host, user, database) are never shown in the logs (ADR 0016). A record keeps what happened,
    with the error's class and SQLSTATE; a database error's traceback (whose last line is the
    driver's message) is left out, the one line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_driver_detail(arg) for arg in record.args)
        elif record.args:
            record.args = _without_driver_detail(record.args)
        if record.exc_info and _is_database_error(record.exc_info[1]):
            error = record.exc_info[1]
            if not any(isinstance(arg, _Redacted) for arg in _args(record)):
                record.msg = f"{record.msg} ({_without_driver_detail(error)})"
            record.exc_info = None
            record.exc_text = None
        return True


def _is_database_error(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 10:
        if type(error).__module__.startswith(("psycopg", "django.db")):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class _Redacted(str):
    """What stands for an error or a connection in a record: the same with %s and %r."""

    def __repr__(self) -> str:
        return str(self)


def _args(record: logging.LogRecord) -> tuple:
    if isinstance(record.args, tuple):
        return record.args
    return (record.args,) if record.args else ()


def _without_driver_detail(value):
    if isinstance(value, BaseException):
        sqlstate = getattr(value, "sqlstate", None)
        return _Redacted(f"{type(value).__name__}{f' {sqlstate}' if sqlstate else ''}")
    if type(value).__module__.startswith(("psycopg", "psycopg_pool")):
        # a connection: its repr names host, user and database
        return _Redacted(type(value).__name__)
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
