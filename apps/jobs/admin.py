"""Django admin for jobs: steps and parameters inline, read only. Changes go through the API
(or import), so every change makes a version with its diff; the admin shows them all."""

from __future__ import annotations

from django.contrib import admin

from apps.jobs.models import Job, JobParameter, JobStep, JobVersion


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # shown as text, never as form fields: some (created_at) are not editable at all
        return self.fields


class JobStepInline(_ReadOnlyInline):
    model = JobStep
    fields = ("position", "name", "kind", "os_family", "command", "interpreter", "timeout_seconds")


class JobParameterInline(_ReadOnlyInline):
    model = JobParameter
    fields = ("position", "name", "spec")


class JobVersionInline(_ReadOnlyInline):
    model = JobVersion
    fields = ("number", "created_at", "created_by_name", "message", "diff")
    ordering = ("-number",)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("name", "latest_version", "owner_name", "archived_at", "updated_at")
    list_filter = ("archived_at",)
    search_fields = ("name", "description")
    readonly_fields = (
        "name", "description", "labels", "default_selector", "policy", "owner_id",
        "owner_name", "archived_at", "latest_version", "created_at", "updated_at",
    )  # fmt: skip
    inlines = (JobStepInline, JobParameterInline, JobVersionInline)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)
