"""``manage.py audit_verify [--from-checkpoint]``: walk the audit hash chain and name the first
record that was altered, inserted or removed. Exit status 0 when the chain is intact, 1 when
not (so it can run from cron or a monitoring check). The result is stored as the schedule's
is (``GET /api/v1/audit/verification/``) and recorded in the trail."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from apps.audit.services import verification_run
from opsconductor.events import Actor


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; name the first bad record."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-checkpoint",
            action="store_true",
            help="start at the latest checkpoint instead of the start of the trail",
        )

    def handle(self, *args, from_checkpoint: bool, **options):
        verdict = verification_run(
            trigger="command",
            actor=Actor(kind="system", name="manage.py audit_verify"),
            from_checkpoint=from_checkpoint,
        )
        span = (
            f"records {verdict.first_sequence}..{verdict.last_sequence}"
            if verdict.first_sequence
            else "no records"
        )
        if verdict.ok:
            self.stdout.write(f"OK: the audit chain is intact ({verdict.checked} {span})")
            return
        self.stderr.write(f"FAILED after {verdict.checked} good records: {verdict.problem}")
        sys.exit(1)
