from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.interface import actor_for_request
from apps.audit import export, selectors, services, tasks
from apps.audit.http.filters import AuditRecordFilter
from apps.audit.http.pagination import AuditCursorPagination
from apps.audit.http.serializers import (
    AuditRecordSerializer,
    ReportQuerySerializer,
    VerificationStatusSerializer,
)
from opsconductor.api.permissions import CanReadAudit
from opsconductor.roles import Role, can_read_audit, has_role


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


class CanVerifyAudit(BasePermission):
    """Reading the verification's result: as the trail (admins and auditors); running one now:
    admins."""

    message = "Reading the audit trail's verification needs the auditor capability."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return can_read_audit(request.user)
        if not has_role(request.user, Role.ADMIN):
            self.message = "Running the verification is for admins only."
            return False
        return True


class VerificationView(APIView):
    """The hash chain's verification: when it last ran and whether the chain was intact
    (``GET``), and running it now (``POST``, admins; it runs on a worker: poll ``GET``)."""

    permission_classes = (CanVerifyAudit,)

    def _status(self) -> dict:
        return VerificationStatusSerializer(
            {
                "last": services.verification_last(),
                "pending": services.verification_pending(),
                "interval_seconds": settings.AUDIT_VERIFY_SECONDS,
            }
        ).data

    @extend_schema(responses=VerificationStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._status())

    @extend_schema(request=None, responses={202: VerificationStatusSerializer})
    def post(self, request: Request) -> Response:
        """Queue a verification (or answer the one already queued or running)."""
        actor = actor_for_request(request)
        verification, made = services.verification_request(trigger="manual", actor=actor)
        if made:
            tasks.verify_chain.delay(verification_id=verification.pk, actor=actor.as_dict())
        return Response(self._status(), status=status.HTTP_202_ACCEPTED)
