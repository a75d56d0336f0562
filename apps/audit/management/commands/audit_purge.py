"""``manage.py audit_purge [--older-than-days N] [--export-dir DIR]``: retention by hand (the
same as the daily beat task): remove records older than the period, oldest first, leaving a
signed checkpoint; optionally export them first as JSON Lines."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.audit.services import audit_purge


class Command(BaseCommand):
    help = "Purge audit records older than the retention period (keeps the chain verifiable)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)
        parser.add_argument("--export-dir", default=None)

    def handle(self, *args, older_than_days, export_dir, **options):
        done = audit_purge(
            older_than=timedelta(days=older_than_days) if older_than_days is not None else None,
            export_dir=export_dir,
        )
        self.stdout.write(f"removed {done['removed']} records" + (
            f", exported to {done['export_path']}" if done.get("export_path") else ""))  # fmt: skip
