"""Date-times read from PostgreSQL by psycopg's C loader instead of Django's Python one.

Django registers a Python subclass of psycopg's ``TimestamptzLoader`` on every connection so
that values come back in the connection's time zone (``BaseTzLoader.load`` calls the Python
parser, then ``replace(tzinfo=...)``). Our connections always run in UTC (``USE_TZ``, the
database session in UTC), where psycopg's own C loader returns exactly the same values, with
``datetime.timezone.utc``, about ten times faster. Every list of the API reads several
date-times per row (a page of 100 targets about 500): this takes ~2 ms off such a page
(docs/benchmarks.md, "Targets list").

The C loader is used only when both sides agree on UTC; otherwise Django's loader stays.
Django's cursor factory compares its time zone with the loader's ``timezone`` attribute and
re-registers its own loader on a mismatch, so the class carries that attribute. psycopg's C
classes cannot be subclassed, so a thin Python loader hands each value to the C one.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import adapters as psycopg_adapters
from psycopg.pq import Format

TIMESTAMPTZ_OID = psycopg_adapters.types["timestamptz"].oid


def _fast_loader() -> type | None:
    c_loader: Any = psycopg_adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if c_loader is None or c_loader.__module__.startswith("psycopg."):
        return None  # the pure-Python psycopg: nothing faster to use

    class UtcTimestamptzLoader(BaseTzLoader):
        timezone = datetime.UTC

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self.load = c_loader(oid, context).load

    return UtcTimestamptzLoader


FAST_LOADER = _fast_loader()


def use_fast_timestamptz(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: switch a UTC PostgreSQL connection to the C loader."""
    if FAST_LOADER is None or connection.vendor != "postgresql":
        return
    raw = connection.connection
    if connection.timezone != datetime.UTC or raw.info.timezone != datetime.UTC:
        return
    raw.adapters.register_loader(TIMESTAMPTZ_OID, FAST_LOADER)
