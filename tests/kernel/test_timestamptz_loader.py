"""Date-times read through psycopg's C loader are the values Django's own loader gives."""

from __future__ import annotations

import datetime

import pytest
from django.db import connections
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from opsconductor.db.loaders import FAST_LOADER, TIMESTAMPTZ_OID, use_fast_timestamptz

pytestmark = pytest.mark.django_db(databases="__all__")

TEXTS = [
    "2026-03-29 02:30:00+02",
    "2026-10-25 02:30:00.5+01",
    "2026-12-07 23:59:59.999999+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59+00",
    "2026-06-30 12:00:00-09:30",
]


class DjangoLoader(BaseTzLoader):
    timezone = datetime.UTC


def test_every_postgresql_connection_reads_date_times_with_the_fast_loader():
    assert FAST_LOADER is not None, (
        "psycopg's C extension is installed (requirements: psycopg[binary])"
    )
    for alias in connections:
        connection = connections[alias]
        connection.ensure_connection()
        assert (
            connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is FAST_LOADER
        ), alias


def test_values_are_those_of_djangos_loader():
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["%s::timestamptz"] * len(TEXTS)), TEXTS)
        fast = cursor.fetchone()
    reference = DjangoLoader(TIMESTAMPTZ_OID, connection.connection)
    with connection.connection.cursor() as raw:
        raw.execute("SELECT " + ", ".join(f"'{text}'::timestamptz::text" for text in TEXTS))
        texts = raw.fetchone()
    expected = tuple(reference.load(text.encode()) for text in texts)
    assert fast == expected
    assert all(value.tzinfo is datetime.UTC for value in fast)


def test_a_connection_not_in_utc_keeps_djangos_loader():
    class Raw:
        class info:
            timezone = datetime.timezone(datetime.timedelta(hours=1))

        adapters = None  # registering would fail: it must not be reached

    class Connection:
        vendor = "postgresql"
        timezone = datetime.UTC
        connection = Raw()

    use_fast_timestamptz(sender=None, connection=Connection())
