from django.contrib import admin

from apps.audit.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the trail is never edited by hand."""

    list_display = ("occurred_at", "action", "actor_name", "source_ip", "request_id")
    list_filter = ("action", "actor_kind")
    search_fields = ("action", "actor_name", "request_id")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
