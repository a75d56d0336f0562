"""Everything the product names exists: every module imports, every scheduled task is known."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.conf import settings

PACKAGES = ("opsconductor", "apps", "config", "legacy_bridge")


def all_modules() -> list[str]:
    names = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if ".tests" not in info.name and "test_settings" not in info.name:
                names.append(info.name)
    return names


@pytest.mark.parametrize("module", all_modules())
def test_every_module_imports(module):
    importlib.import_module(module)


def test_every_beat_task_is_registered():
    from config.celery import app

    app.loader.import_default_modules()
    for entry, spec in settings.CELERY_BEAT_SCHEDULE.items():
        assert spec["task"] in app.tasks, f"beat entry {entry!r}: no task {spec['task']!r}"
