"""The alias guard (tests/alias_guard.py, docs/testing.md): a query through the wrong alias fails
the test in single mode too, where every alias shares one database and the query works."""

from __future__ import annotations

from contextlib import suppress

import pytest
from django.db import DatabaseError, connections, transaction

from apps.targets.models import Target
from opsconductor.events.models import OutboxEvent
from tests import alias_guard as guard

pytestmark = [pytest.mark.layout, pytest.mark.django_db(databases=["default", "targets"])]


def wrong_alias_query() -> None:
    """Targets live on the targets alias; ask the default alias for them. In single mode this
    works (one database); in split mode the table is not there."""
    with suppress(DatabaseError), transaction.atomic(using="default"):
        Target.objects.using("default").count()


def test_a_model_queried_through_the_wrong_alias_is_caught(alias_guard):
    with alias_guard.expect_violation() as caught:
        wrong_alias_query()
    assert len(caught) == 1
    assert "alias 'default' names tables of alias 'targets'" in caught[0]
    assert '"targets_target"' in caught[0]


def test_raw_sql_naming_another_alias_table_is_caught(alias_guard):
    with (
        alias_guard.expect_violation() as caught,
        suppress(DatabaseError),
        transaction.atomic(using="default"),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM targets_target")
    assert len(caught) == 1 and "alias 'targets'" in caught[0]


def test_queries_through_the_right_alias_and_kernel_tables_anywhere_are_not(alias_guard):
    with alias_guard.expect_violation() as caught:
        Target.objects.count()  # the router sends it to targets
        OutboxEvent.objects.using("targets").count()  # the outbox is on every alias
        OutboxEvent.objects.using("default").count()
    assert caught == []


@pytest.mark.xfail(
    strict=True,
    raises=pytest.fail.Exception,
    reason="proves the guard fails a test that queries through the wrong alias: if this "
    "test ever passes (XPASS, strict), the guard no longer fires",
)
def test_the_guard_fails_a_test_with_a_wrong_alias_query():
    wrong_alias_query()


def test_what_the_record_sends_to_the_split_pass():
    one = guard.Record("t", aliases={"targets"})
    assert one.needs_split() == []
    assert guard.Record("t").needs_split() == []  # no query at all
    assert guard.Record("t", aliases={"default", "targets"}).needs_split() == [
        "aliases default,targets"
    ]
    assert guard.Record("t", database_wide={"pg_advisory_lock"}).needs_split() == [
        "database-wide pg_advisory_lock"
    ]
    assert guard.Record("t", layout_read="x.py:1").needs_split() == ["reads the layout (x.py:1)"]
    assert guard.Record("t", guard_off=True).needs_split() == ["guard off"]
    assert guard.Record("t", outcome="skipped").needs_split() == ["skipped"]


def test_database_wide_statements_are_recognised():
    for sql in (
        "SELECT pg_try_advisory_lock(%s)",
        "LISTEN run_output",
        "SELECT pg_notify('x', 'y')",
        "SELECT tablename FROM pg_tables",
        "SELECT * FROM information_schema.tables",
        'SELECT "app" FROM "django_migrations"',
    ):
        assert guard.classify(sql)[2], sql
    owners, kernel, wide = guard.classify('SELECT 1 FROM "targets_target"')
    assert owners == {"targets"} and not kernel and not wide
