"""The rules that keep every app liftable into a service of its own (docs/architecture.md, "Boundary rules")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.test.utils import isolate_apps

from opsconductor.conf import APP_ALIASES
from opsconductor.db.router import AppDatabaseRouter, alias_for_app

# the router and the layout themselves: make test-split always runs these (docs/testing.md)
pytestmark = pytest.mark.layout

ROOT = Path(__file__).resolve().parents[2]
# Django's own auth tables live with accounts, on the same alias; accounts may point at them.
FRAMEWORK_LABELS_OF = {"accounts": {"auth", "contenttypes"}}


def cross_app_relations(model_list) -> list[str]:
    """Every relation from one of our apps to another app, or between different aliases."""
    problems = []
    for model in model_list:
        own = model._meta.app_label
        for field in model._meta.get_fields(include_hidden=True):
            if not field.is_relation or field.related_model is None or field.auto_created:
                continue
            other = field.related_model._meta.app_label
            if other == own:
                continue
            crosses_app = own in APP_ALIASES and other not in FRAMEWORK_LABELS_OF.get(own, set())
            crosses_alias = alias_for_app(own) != alias_for_app(other)
            if crosses_app or crosses_alias:
                problems.append(
                    f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
                )
    return problems


def test_no_model_relation_crosses_apps_or_aliases():
    assert cross_app_relations(apps.get_models(include_auto_created=True)) == []


@isolate_apps("apps.targets", "apps.jobs")
def test_a_cross_app_foreign_key_is_detected():
    class Box(models.Model):
        class Meta:
            app_label = "targets"

    class Item(models.Model):
        box = models.ForeignKey(Box, on_delete=models.CASCADE)

        class Meta:
            app_label = "jobs"

    assert cross_app_relations([Box, Item]) == ["jobs.Item.box -> targets.Box"]


@pytest.mark.parametrize(
    ("app_label", "alias"),
    [
        ("accounts", "default"),
        ("auth", "default"),
        ("sessions", "default"),
        ("targets", "targets"),
        ("jobs", "jobs"),
        ("execution", "execution"),
        ("scheduling", "scheduling"),
        ("django_celery_beat", "scheduling"),
        ("audit", "audit"),
    ],
)
def test_router_sends_each_app_to_its_alias(app_label, alias):
    model = (
        next(m for m in apps.get_models() if m._meta.app_label == app_label)
        if app_label in {"accounts", "auth", "sessions", "django_celery_beat"}
        else None
    )
    assert alias_for_app(app_label) == alias
    if model is not None:
        assert AppDatabaseRouter().db_for_write(model) == alias


def test_migrations_run_only_where_the_app_lives(settings):
    router = AppDatabaseRouter()
    settings.DATABASE_STORES = {alias: f"db-{alias}" for alias in settings.DATABASES}  # split
    assert router.allow_migrate("targets", "targets") is True
    assert router.allow_migrate("default", "targets") is False
    assert router.allow_migrate("targets", "accounts") is False
    assert router.allow_migrate("scheduling", "django_celery_beat") is True
    # The kernel's outbox tables live on every alias.
    assert all(router.allow_migrate(alias, "opsconductor") for alias in settings.DATABASES)

    settings.DATABASE_STORES = {alias: "one-db" for alias in settings.DATABASES}  # single
    assert router.allow_migrate("default", "targets") is True


def test_relations_across_aliases_are_refused():
    from apps.accounts.models import User

    router = AppDatabaseRouter()
    user = User(username="u")

    class Fake:
        class _meta:
            app_label = "targets"

    assert router.allow_relation(user, User(username="v")) is True
    assert router.allow_relation(user, Fake()) is False


def test_every_app_has_the_standard_rooms():
    for label in APP_ALIASES:
        app_dir = ROOT / "apps" / label
        for room in ("interface.py", "models.py", "http/urls.py", "migrations", "tests"):
            assert (app_dir / room).exists(), f"apps/{label}/{room} is missing"


def test_every_app_is_installed_and_has_an_alias():
    installed = {config.label for config in apps.get_app_configs()}
    for label, alias in APP_ALIASES.items():
        assert label in installed
        assert alias in settings.DATABASES


def test_import_contracts_hold():
    """import-linter: apps meet only through interface.py; the kernel imports no app."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "lint-imports is not installed (pip install -r requirements-dev.txt)"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
