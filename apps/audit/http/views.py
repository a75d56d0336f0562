from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.audit import export, selectors
from apps.audit.http.filters import AuditRecordFilter
from apps.audit.http.pagination import AuditCursorPagination
from apps.audit.http.serializers import AuditRecordSerializer, ReportQuerySerializer
from opsconductor.api.permissions import CanReadAudit


class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail: every event of every app, newest first. Admins and auditors only;
    nobody can write."""

    serializer_class = AuditRecordSerializer
    permission_classes = (CanReadAudit,)
    filterset_class = AuditRecordFilter
    pagination_class = AuditCursorPagination
    ordering_fields = ()  # the cursor orders

    def get_queryset(self):
        return selectors.audit_records()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as", str, enum=["jsonl", "csv"], description="JSON Lines (default) or CSV"
            )
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        """Every record matching the filters, streamed (newest first; any size)."""
        kind = request.query_params.get("as", "jsonl")
        if kind not in ("jsonl", "csv"):
            raise ValidationError({"as": ['Must be "jsonl" or "csv".']})
        records = self.filter_queryset(self.get_queryset())
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        if kind == "csv":
            response = StreamingHttpResponse(export.csv_lines(records), content_type="text/csv")
        else:
            response = StreamingHttpResponse(
                export.jsonl_lines(records), content_type="application/x-ndjson"
            )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
        return response

    @extend_schema(parameters=[ReportQuerySerializer], responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def report(self, request: Request) -> Response:
        """Compliance report for a time range: who ran what on which targets with outcomes,
        and every change to credentials, users, roles and API tokens."""
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.compliance_report(**query.validated_data))
