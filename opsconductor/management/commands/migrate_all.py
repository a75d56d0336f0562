"""Migrate every database alias (each app's tables land on its own alias)."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run `migrate` on every database alias, default first."

    def handle(self, *args, **options):
        verbosity = options.get("verbosity", 1)
        for alias in settings.DATABASES:
            if verbosity:
                self.stdout.write(f"Migrating database alias '{alias}'")
            call_command(
                "migrate", database=alias, interactive=False, verbosity=max(verbosity - 1, 0)
            )
