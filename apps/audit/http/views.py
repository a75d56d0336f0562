from rest_framework import viewsets

from apps.audit import selectors
from apps.audit.http.filters import AuditRecordFilter
from apps.audit.http.serializers import AuditRecordSerializer
from opsconductor.api.permissions import CanReadAudit


class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail: every event of every app, newest first. Admins and auditors only."""

    serializer_class = AuditRecordSerializer
    permission_classes = (CanReadAudit,)
    filterset_class = AuditRecordFilter
    ordering_fields = ("occurred_at", "action")
    search_fields = ("action", "actor_name", "request_id")

    def get_queryset(self):
        return selectors.audit_records()
