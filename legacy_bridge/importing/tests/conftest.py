"""Fixtures of the import tests: a legacy database on the real PostgreSQL (its own database,
created and dropped around each test), and running the import against it."""

from __future__ import annotations

import pytest

from legacy_bridge.importing.tests.legacydb import create_legacy_db, drop_legacy_db


@pytest.fixture
def legacy(settings):
    db = create_legacy_db()
    settings.LEGACY_DATABASE_URL = db.url
    settings.LEGACY_SECRET_KEY = db.secret_key
    yield db
    drop_legacy_db(db)


@pytest.fixture
def run_import(legacy):
    """``run_import(only=..., dry_run=..., host_key_policy=..., schedule_zones=...)`` -> the
    report."""
    from legacy_bridge.importing.engine import TABLES, Options
    from legacy_bridge.importing.engine import run_import as run

    def go(*, only=TABLES, dry_run=False, host_key_policy="accept-new", schedule_zones="effective"):
        return run(
            legacy_url=legacy.url,
            secret_key=legacy.secret_key,
            options=Options(
                only=tuple(only),
                dry_run=dry_run,
                host_key_policy=host_key_policy,
                schedule_zones=schedule_zones,
            ),
        )

    return go


@pytest.fixture
def admin_api(django_user_model):
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_user(
        username="import-admin",
        password="x",
        role="admin",
    )
    client = APIClient()
    client.force_authenticate(user)
    return client
