"""The targets API: targets, connection methods, host keys, health, groups, credentials."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.interface import actor_for_request
from apps.targets import selectors
from apps.targets.http import serializers as s
from apps.targets.http.filters import (
    CredentialFilter,
    GroupFilter,
    TargetFilter,
    selector_invalid,
)
from apps.targets.http.parsers import CsvParser
from apps.targets.models import ConnectionMethod, Credential, Group, HostKey, Target
from apps.targets.services import credentials as credential_services
from apps.targets.services import inventory
from opsconductor.api.parsers import JSONParser
from opsconductor.api.permissions import (
    AdminOnly,
    IsAuthenticatedUser,
    ViewerReadAdminWrite,
    ViewerReadManagerWrite,
    ViewerReadOperatorWrite,
)

MAX_IMPORT_ROWS = 5000
UUID_PATTERN = "[0-9a-fA-F-]{36}"


def _health():
    from apps.targets.services import health

    return health


def _hostkeys():
    from apps.targets.services import hostkeys

    return hostkeys


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


def _select_or_400(text: str, queryset=None):
    from apps.targets.selection import SelectorError, select

    try:
        return select(text, queryset=queryset)
    except SelectorError as exc:
        raise selector_invalid(exc) from exc


class TargetViewSet(viewsets.ModelViewSet):
    """Targets: the machines jobs run on. Viewers and operators read; managers write."""

    lookup_value_regex = UUID_PATTERN

    serializer_class = s.TargetSerializer
    filterset_class = TargetFilter
    search_fields = ("name", "description", "location", "region", "data_center")
    ordering_fields = ("name", "environment", "status", "health_status", "created_at")
    ordering = ("name",)
    permission_classes = (ViewerReadManagerWrite,)

    def get_queryset(self):
        if self.action in ("list", "select"):
            # TargetListSerializer loads a page's tags, labels and methods itself, in bulk
            return selectors.targets_for_list()
        return selectors.targets_with_details()

    def get_permissions(self):
        if self.action in ("check", "check_many"):
            return [ViewerReadOperatorWrite()]
        return super().get_permissions()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = inventory.target_create(
                data=data,
                tags=data.pop("tags", []),
                labels=data.pop("labels", {}),
                connection_methods=data.pop("connection_methods", []),
                actor=actor_for_request(self.request),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = inventory.target_update(
                target=serializer.instance,
                data=data,
                tags=data.pop("tags", None),
                labels=data.pop("labels", None),
                actor=actor_for_request(self.request),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_destroy(self, instance):
        inventory.target_delete(target=instance, actor=actor_for_request(self.request))

    @extend_schema(
        request=s.SelectorSerializer,
        responses=s.TargetSerializer(many=True),
        summary="Preview which targets a selector matches",
    )
    # a read sent as POST (the selector is a body): every role may preview, as it may list
    @action(
        detail=False,
        methods=["post"],
        url_path="select",
        permission_classes=(IsAuthenticatedUser,),
    )
    def select(self, request: Request) -> Response:
        body = s.SelectorSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queryset = _select_or_400(body.validated_data["selector"], self.get_queryset())
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(s.TargetSerializer(page, many=True).data)

    @extend_schema(
        responses=s.HealthSummarySerializer,
        summary="Targets counted by health, and host keys waiting for a decision",
    )
    @action(detail=False, methods=["get"], url_path="health-summary")
    def health_summary(self, request: Request) -> Response:
        """Every target counted by its current health (the list's ``?health_status=`` filter
        gives the same numbers), and the host keys waiting for an admin's decision (the list's
        ``?host_key_pending=true``). Constant work per request whatever the fleet's size."""
        return Response(s.HealthSummarySerializer(selectors.health_summary()).data)

    @extend_schema(request=None, responses=s.HealthCheckSerializer, summary="Check one target now")
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk=None) -> Response:
        target = self.get_object()
        result = _health().target_check_health(
            target_id=target.pk, actor=actor_for_request(request)
        )
        return Response(s.HealthCheckSerializer(result).data)

    @extend_schema(
        request=s.CheckRequestSerializer,
        responses={202: OpenApiTypes.OBJECT},
        summary="Check many targets in parallel on the workers",
        operation_id="targets_check_many",
    )
    @action(detail=False, methods=["post"], url_path="check")
    def check_many(self, request: Request) -> Response:
        body = s.CheckRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("selector"):
            ids = list(_select_or_400(body.validated_data["selector"]).values_list("id", flat=True))
        else:
            wanted = body.validated_data["target_ids"]
            ids = list(Target.objects.filter(id__in=wanted).values_list("id", flat=True))
            missing = sorted(str(i) for i in set(wanted) - set(ids))
            if missing:
                raise ValidationError({"target_ids": [f"No such target: {', '.join(missing)}"]})
        batch_id = _health().targets_check_health(target_ids=ids, actor=actor_for_request(request))
        url = request.build_absolute_uri(f"/api/v1/targets/checks/{batch_id}/")
        return Response(
            {"batch_id": str(batch_id), "targets": len(ids), "results": url},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(responses=s.HealthCheckSerializer(many=True), summary="Results of a batch")
    @action(detail=False, methods=["get"], url_path=r"checks/(?P<batch_id>[0-9a-fA-F-]{36})")
    def check_results(self, request: Request, batch_id: str) -> Response:
        checks = selectors.health_batch(batch_id=batch_id)
        if not checks.exists():
            raise NotFound("No such batch.")
        page = self.paginate_queryset(checks)
        return self.get_paginated_response(s.HealthCheckSerializer(page, many=True).data)

    @extend_schema(responses=s.HealthCheckSerializer(many=True), summary="Health-check history")
    @action(detail=True, methods=["get"], url_path="health-checks")
    def health_checks(self, request: Request, pk=None) -> Response:
        target = self.get_object()
        page = self.paginate_queryset(target.health_checks.select_related("target"))
        return self.get_paginated_response(s.HealthCheckSerializer(page, many=True).data)

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "text/csv": OpenApiTypes.STR},
        parameters=[OpenApiParameter("dry_run", bool, description="Validate only; write nothing")],
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
            # the shared error shape (config/openapi.py), with `rows` for invalid rows
            400: OpenApiResponse(
                description="Invalid input; for invalid rows `error.rows` lists each row's "
                "number and errors, and nothing was imported."
            ),
        },
        summary="Import targets from a JSON list or CSV (all or nothing)",
    )
    @action(
        detail=False, methods=["post"], url_path="import", parser_classes=[JSONParser, CsvParser]
    )
    def import_targets(self, request: Request) -> Response:
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        rows = request.data
        is_csv = isinstance(rows, CsvParser.Rows)
        if not isinstance(rows, list):
            raise ValidationError({"non_field_errors": ["Send a JSON list of targets or CSV."]})
        if not rows:
            raise ValidationError({"non_field_errors": ["Nothing to import: no rows."]})
        if len(rows) > MAX_IMPORT_ROWS:
            raise ValidationError({"non_field_errors": [f"At most {MAX_IMPORT_ROWS} rows."]})
        actor = actor_for_request(request)
        errors: list[dict] = []
        created = []
        try:
            with transaction.atomic(using="targets"):
                for index, row in enumerate(rows, start=1):
                    data = row
                    if is_csv:
                        flat = s.TargetCsvRowSerializer(data=row)
                        if not flat.is_valid():
                            errors.append({"row": index, "errors": flat.errors})
                            continue
                        data = flat.to_target_data()
                    serializer = s.TargetSerializer(data=data)
                    if not serializer.is_valid():
                        errors.append({"row": index, "errors": serializer.errors})
                        continue
                    values = dict(serializer.validated_data)
                    try:
                        with transaction.atomic(using="targets"):
                            created.append(
                                inventory.target_create(
                                    data=values,
                                    tags=values.pop("tags", []),
                                    labels=values.pop("labels", {}),
                                    connection_methods=values.pop("connection_methods", []),
                                    actor=actor,
                                )
                            )
                    except DjangoValidationError as exc:
                        errors.append({"row": index, "errors": _django_errors(exc).detail})
                if errors or dry_run:
                    raise _Abort
        except _Abort:
            pass
        if errors:
            return Response(
                {
                    "error": {
                        "code": "import_failed",
                        "message": f"{len(errors)} of {len(rows)} rows are invalid; "
                        "nothing was imported.",
                        "rows": errors,
                        "request_id": getattr(request, "request_id", ""),
                    }
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        if dry_run:
            return Response({"dry_run": True, "valid_rows": len(rows), "imported": 0})
        return Response(
            {"imported": len(created), "ids": [str(t.pk) for t in created]},
            status=status.HTTP_201_CREATED,
        )


class _Abort(Exception):
    """Rolls back an import that is invalid or a dry run."""


class _TargetChildMixin:
    def get_target(self) -> Target:
        return get_object_or_404(Target, pk=self.kwargs["target_pk"])


class ConnectionMethodViewSet(_TargetChildMixin, viewsets.ModelViewSet):
    """A target's connection methods (SSH, WinRM)."""

    lookup_value_regex = UUID_PATTERN

    serializer_class = s.ConnectionMethodSerializer
    permission_classes = (ViewerReadManagerWrite,)
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ConnectionMethod.objects.none()
        return ConnectionMethod.objects.filter(target_id=self.kwargs["target_pk"]).select_related(
            "credential"
        )

    def perform_create(self, serializer):
        try:
            serializer.instance = inventory.connection_method_create(
                target=self.get_target(),
                data=serializer.validated_data,
                actor=actor_for_request(self.request),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_update(self, serializer):
        try:
            serializer.instance = inventory.connection_method_update(
                method=serializer.instance,
                data=serializer.validated_data,
                actor=actor_for_request(self.request),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_destroy(self, instance):
        inventory.connection_method_delete(method=instance, actor=actor_for_request(self.request))


class HostKeyViewSet(_TargetChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """SSH host keys of a target: scan, add, approve, reject. Admins decide trust."""

    lookup_value_regex = UUID_PATTERN

    serializer_class = s.HostKeySerializer
    permission_classes = (ViewerReadAdminWrite,)
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return HostKey.objects.none()
        return HostKey.objects.filter(method__target_id=self.kwargs["target_pk"]).select_related(
            "method"
        )

    def get_permissions(self):
        if self.action == "scan":
            return [ViewerReadManagerWrite()]
        return super().get_permissions()

    def _ssh_method(self, method_id=None) -> ConnectionMethod:
        methods = ConnectionMethod.objects.filter(
            target_id=self.kwargs["target_pk"], protocol=ConnectionMethod.Protocol.SSH
        )
        if method_id:
            methods = methods.filter(pk=method_id)
        method = methods.order_by("-is_primary", "priority").first()
        if method is None:
            self.get_target()  # 404 for an unknown target
            raise ValidationError({"method_id": ["The target has no such SSH connection method."]})
        return method

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "method_id", OpenApiTypes.UUID, description="the SSH method (default: primary)"
            )
        ],
        responses={
            200: s.HostKeySerializer,
            # the host is the upstream here: unreachable or not speaking SSH
            502: OpenApiResponse(description="The host could not be scanned; the reason says why."),
        },
    )
    @action(detail=False, methods=["post"])
    def scan(self, request: Request, target_pk=None) -> Response:
        """Fetch the key the host presents now (no login) and record it as pending."""
        method = self._ssh_method(request.query_params.get("method_id"))
        key = _hostkeys().host_key_scan(method=method, actor=actor_for_request(request))
        return Response(s.HostKeySerializer(key).data)

    @extend_schema(request=s.HostKeyAddSerializer, responses={201: s.HostKeySerializer})
    def create(self, request: Request, target_pk=None) -> Response:
        """Trust a key given as in known_hosts (``<algorithm> <base64>``)."""
        body = s.HostKeyAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        method = self._ssh_method(body.validated_data.get("method_id"))
        try:
            key = _hostkeys().host_key_add(
                method=method, line=body.validated_data["key"], actor=actor_for_request(request)
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(s.HostKeySerializer(key).data, status=status.HTTP_201_CREATED)

    def _key(self, key_pk) -> HostKey:
        return get_object_or_404(self.get_queryset(), pk=key_pk)

    @extend_schema(request=None, responses=s.HostKeySerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, target_pk=None, pk=None) -> Response:
        key = _hostkeys().host_key_approve(host_key=self._key(pk), actor=actor_for_request(request))
        return Response(s.HostKeySerializer(key).data)

    @extend_schema(request=None, responses=s.HostKeySerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, target_pk=None, pk=None) -> Response:
        key = _hostkeys().host_key_reject(host_key=self._key(pk), actor=actor_for_request(request))
        return Response(s.HostKeySerializer(key).data)


class GroupViewSet(viewsets.ModelViewSet):
    lookup_value_regex = UUID_PATTERN
    serializer_class = s.GroupSerializer
    filterset_class = GroupFilter
    search_fields = ("name", "description")
    ordering_fields = ("name", "created_at")
    permission_classes = (ViewerReadManagerWrite,)

    def get_queryset(self):
        return Group.objects.prefetch_related("members")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        members = data.pop("members", [])
        try:
            serializer.instance = inventory.group_create(
                data=data, member_ids=[t.pk for t in members], actor=actor_for_request(self.request)
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        members = data.pop("members", None)
        try:
            serializer.instance = inventory.group_update(
                group=serializer.instance,
                data=data,
                member_ids=None if members is None else [t.pk for t in members],
                actor=actor_for_request(self.request),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_destroy(self, instance):
        inventory.group_delete(group=instance, actor=actor_for_request(self.request))

    @extend_schema(responses=s.TargetSerializer(many=True), summary="The group's targets now")
    @action(detail=True, methods=["get"])
    def targets(self, request: Request, pk=None) -> Response:
        group = self.get_object()
        queryset = _select_or_400(f'group:"{group.name}"', selectors.targets_for_list())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.TargetSerializer(page, many=True).data)


@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="Connection methods still use the credential."),
        }
    )
)
class CredentialViewSet(viewsets.ModelViewSet):
    """Credentials (admins only). Secrets are write-only: never returned, never logged."""

    lookup_value_regex = UUID_PATTERN

    serializer_class = s.CredentialSerializer
    filterset_class = CredentialFilter
    search_fields = ("name", "description", "username")
    ordering_fields = ("name", "created_at", "secret_set_at")
    permission_classes = (AdminOnly,)

    def get_queryset(self):
        return Credential.objects.annotate(used_by=Count("methods")).order_by("name")

    def perform_create(self, serializer):
        try:
            serializer.instance = credential_services.credential_create(
                **serializer.validated_data, actor=actor_for_request(self.request)
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = credential_services.credential_update(
                credential=serializer.instance, **data, actor=actor_for_request(self.request)
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def perform_destroy(self, instance):
        credential_services.credential_delete(
            credential=instance, actor=actor_for_request(self.request)
        )
