"""Re-seal every stored secret under the newest key in OPSCONDUCTOR_SEAL_KEYS."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import router, transaction

from opsconductor.sealing import SealedField, SealError, reseal


def sealed_fields():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, SealedField):
                yield model, field


class Command(BaseCommand):
    help = (
        "Re-seal every sealed value under the newest key. Run it after putting a new key first "
        "in OPSCONDUCTOR_SEAL_KEYS; once it reports no failures, the old keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, dry_run=False, batch_size=500, **options):
        total = failed = 0
        for model, field in sealed_fields():
            alias = router.db_for_write(model)
            label = f"{model._meta.label}.{field.name}"
            done = bad = 0
            pks = list(
                model._default_manager.using(alias)
                .exclude(**{field.attname: ""})
                .exclude(**{f"{field.attname}__isnull": True})
                .values_list("pk", flat=True)
            )
            for start in range(0, len(pks), batch_size):
                with transaction.atomic(using=alias):
                    rows = (
                        model._default_manager.using(alias)
                        .select_for_update()
                        .filter(pk__in=pks[start : start + batch_size])
                    )
                    for row in rows:
                        try:
                            value = reseal(getattr(row, field.attname))
                        except SealError:
                            bad += 1
                            self.stderr.write(f"{label} pk={row.pk}: cannot be opened")
                            continue
                        if not dry_run:
                            model._default_manager.using(alias).filter(pk=row.pk).update(
                                **{field.attname: value}
                            )
                        done += 1
            self.stdout.write(f"{label}: {done} re-sealed, {bad} failed")
            total += done
            failed += bad
        verb = "would re-seal" if dry_run else "re-sealed"
        self.stdout.write(f"{verb} {total} value(s); {failed} failed")
        if failed:
            raise CommandError(f"{failed} sealed value(s) could not be opened with any key")
