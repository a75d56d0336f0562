"""Django admin for the legacy import: the runs with their reports, and the mapping table.
Both are read only here: only ``manage.py import_legacy`` writes them."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from legacy_bridge.importing.models import ImportedRecord, ImportRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "finished_at", "status", "only", "result")
    list_filter = ("status",)
    readonly_fields = (
        "id",
        "started_at",
        "finished_at",
        "status",
        "only",
        "options",
        "report_text",
    )
    exclude = ("report",)

    @admin.display(description="result")
    def result(self, run: ImportRun) -> str:
        if not run.report:
            return "-"
        return "OK" if run.report.get("ok") else "problems"

    @admin.display(description="report")
    def report_text(self, run: ImportRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(run.report, indent=2))


@admin.register(ImportedRecord)
class ImportedRecordAdmin(ReadOnlyAdmin):
    list_display = ("legacy_table", "legacy_id", "new_id", "created_at", "run_id")
    list_filter = ("legacy_table",)
    search_fields = ("=legacy_id",)
