"""What the legacy import remembers: which legacy row became which new object, and each run.

``ImportedRecord`` is the mapping table that makes the import idempotent and resumable: a legacy
row (table + id) that has a record was imported, as ``new_id``, from a row whose content had
``fingerprint``. ``ImportRun`` keeps each run's report.
"""

from __future__ import annotations

from django.db import models

from opsconductor.db.models import BaseModel


class ImportRun(BaseModel):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Stopped by an error"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    only = models.JSONField(default=list, blank=True)  # the tables asked for (empty: all)
    options = models.JSONField(default=dict, blank=True)
    # The end report (docs/migration.md): per table read/imported/present/skipped/failed.
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"import {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class ImportedRecord(models.Model):
    """One legacy row (or one de-duplicated legacy credential) and the object it became."""

    id = models.BigAutoField(primary_key=True)
    legacy_table = models.CharField(max_length=64)
    # The legacy primary key as text (credentials are keyed by a keyed digest of their content).
    legacy_id = models.CharField(max_length=128)
    new_id = models.UUIDField(db_index=True)
    # SHA-256 of the legacy row's imported fields when it was imported: a later run sees whether
    # the legacy row changed since.
    fingerprint = models.CharField(max_length=64)
    run_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("legacy_table", "legacy_id")
        constraints = [
            models.UniqueConstraint(
                fields=["legacy_table", "legacy_id"], name="legacy_import_record_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.legacy_table}#{self.legacy_id} -> {self.new_id}"
