"""Django admin for runs: read only, with an action to cancel. Runs start through the API (or a
schedule) so that each is a validated snapshot; the admin shows them and their targets."""

from __future__ import annotations

from django.contrib import admin, messages

from apps.execution import services
from apps.execution.models import Run, RunTarget
from opsconductor.events import Actor


class RunTargetInline(admin.TabularInline):
    model = RunTarget
    extra = 0
    can_delete = False
    fields = ("position", "target_name", "status", "exit_code", "reason", "worker",
              "started_at", "finished_at")  # fmt: skip
    readonly_fields = fields
    ordering = ("position",)
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("job_name", "job_version", "status", "trigger", "target_count",
                    "created_at", "finished_at")  # fmt: skip
    list_filter = ("status", "trigger", "imported")
    search_fields = ("job_name", "id", "legacy_ref")
    date_hierarchy = "created_at"
    exclude = ("sealed_parameters",)
    inlines = (RunTargetInline,)
    actions = ("cancel_runs",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Run._meta.fields if f.name != "sealed_parameters"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        actor = Actor(kind="user", id=str(request.user.pk), name=request.user.get_username())
        history = queryset.filter(imported=True).count()
        live = queryset.filter(imported=False)
        for run in live:
            services.run_cancel(run=run, actor=actor)
        messages.success(request, f"Cancel requested for {live.count()} run(s).")
        if history:
            messages.warning(request, f"{history} imported run(s) left alone: they are history.")
