"""``manage.py import_legacy``: move the legacy backend's data in (docs/migration.md)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from legacy_bridge.importing.engine import TABLES, ImportBusy, Options, run_import
from legacy_bridge.importing.legacy import LegacyUnavailable


class Command(BaseCommand):
    help = (
        "Import users, targets, jobs, schedules and execution history from the legacy "
        "database at LEGACY_DATABASE_URL (read only), unsealing credentials with "
        "LEGACY_SECRET_KEY (both from the environment). Idempotent: a second run changes "
        "nothing. Prints the report and writes it as JSON (--report)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            default="",
            help=f"Comma-separated subset of {','.join(TABLES)} (default: all, in that order).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Do everything and report it, then roll every write back.",
        )
        parser.add_argument(
            "--report",
            default="",
            help="Where to write the JSON report (default: "
            "var/legacy-import/report-<time>[-dry-run].json).",
        )
        parser.add_argument(
            "--host-key-policy",
            choices=["accept-new", "strict"],
            default="accept-new",
            help="Host-key policy of imported targets (default accept-new: the first key seen "
            "is trusted, a changed one refused; strict: an admin approves each key).",
        )

        parser.add_argument(
            "--schedule-zones",
            choices=["effective", "declared"],
            default="effective",
            help="Zone of imported cron and recurring schedules. effective (default): UTC, "
            "where the legacy scheduler evaluated them whatever their declared timezone, so "
            "they fire when they fired before. declared: their declared timezone, at the same "
            "wall-clock times there, which moves every firing by the zone's offset (the report "
            "says by how much). Applies to schedules imported by this run.",
        )

    def handle(self, *args, **options):
        only = tuple(t.strip() for t in options["only"].split(",") if t.strip()) or TABLES
        unknown = sorted(set(only) - set(TABLES))
        if unknown:
            raise CommandError(
                f"--only: unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}"
            )
        url = getattr(settings, "LEGACY_DATABASE_URL", "")
        if not url:
            raise CommandError("LEGACY_DATABASE_URL is not set (environment; see .env.example).")
        secret_key = getattr(settings, "LEGACY_SECRET_KEY", "")
        if "targets" in only and not secret_key:
            raise CommandError(
                "LEGACY_SECRET_KEY is not set (environment only): the legacy credentials "
                "cannot be unsealed. Set it, or leave targets out with --only."
            )
        try:
            report = run_import(
                legacy_url=url,
                secret_key=secret_key,
                options=Options(
                    only=only,
                    dry_run=options["dry_run"],
                    host_key_policy=options["host_key_policy"],
                    schedule_zones=options["schedule_zones"],
                ),
            )
        except (LegacyUnavailable, ImportBusy) as exc:
            raise CommandError(str(exc)) from None
        path = Path(options["report"]) if options["report"] else self._default_path(report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json())
        self.stdout.write(report.to_text())
        self.stdout.write(f"JSON report: {path}\n")
        if report.error:
            raise CommandError(f"the import stopped: {report.error}")
        if not report.ok:
            failed = sum(table.failed for table in report.tables.values())
            mismatched = [
                name
                for name, table in report.tables.items()
                if table.verification and not table.verification.get("ok")
            ]
            raise CommandError(
                f"the import finished with problems: {failed} row(s) failed"
                + (f", verification differs for {', '.join(mismatched)}" if mismatched else "")
                + " (see the report; run it again once they are fixed)",
                returncode=2,
            )

    @staticmethod
    def _default_path(report) -> Path:
        stamp = report.started_at.replace(":", "").replace("-", "").replace("+0000", "Z")
        suffix = "-dry-run" if report.dry_run else ""
        return Path(settings.VAR_DIR) / "legacy-import" / f"report-{stamp}{suffix}.json"
