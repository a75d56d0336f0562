"""The jobs API: definitions, versions, validation plans, import/export, archive, clone."""

from __future__ import annotations

import json

import django_filters
import yaml
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.interface import actor_for_request
from apps.jobs import selectors, services
from apps.jobs.http import serializers as s
from apps.jobs.http.parsers import YamlParser
from apps.jobs.models import Job
from opsconductor.api.filters import StrictBooleanFilter
from opsconductor.api.parsers import JSONParser
from opsconductor.api.permissions import ViewerReadManagerWrite, ViewerReadOperatorWrite

DEFINITION = {"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR}
EXPORT_FORMATS = ("yaml", "json")
ARCHIVED = OpenApiResponse(description="The job is archived: unarchive it before changing it.")


class JobFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    owner = django_filters.UUIDFilter(field_name="owner_id")
    label = django_filters.CharFilter(method="filter_label", help_text="`key` or `key=value`")
    archived = StrictBooleanFilter(method="filter_archived")

    class Meta:
        model = Job
        fields = ()

    def filter_label(self, queryset, name, value):
        key, has_value, wanted = value.partition("=")
        if has_value:
            return queryset.filter(**{f"labels__{key.strip()}": wanted.strip()})
        return queryset.filter(labels__has_key=key.strip())

    def filter_archived(self, queryset, name, value):
        return queryset.filter(archived_at__isnull=not value)


@extend_schema_view(
    partial_update=extend_schema(
        request=DEFINITION, responses={200: s.JobSerializer, 409: ARCHIVED}
    ),
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                description="The job has runs (archive it instead) or schedules (delete "
                "them first)."
            ),
        }
    ),
)
class JobViewSet(viewsets.ModelViewSet):
    """Jobs. Viewers and operators read (operators also validate plans); managers write."""

    serializer_class = s.JobSerializer
    filterset_class = JobFilter
    search_fields = ("name", "description")
    ordering_fields = ("name", "created_at", "updated_at")
    permission_classes = (ViewerReadManagerWrite,)
    parser_classes = (JSONParser, YamlParser)
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        return selectors.jobs()

    def get_permissions(self):
        if self.action == "validate":
            return [ViewerReadOperatorWrite()]
        return super().get_permissions()

    def _respond(self, job: Job, code=status.HTTP_200_OK) -> Response:
        return Response(s.JobSerializer(job, context={}).data, status=code)

    @extend_schema(request=DEFINITION, responses={201: s.JobSerializer})
    def create(self, request: Request) -> Response:
        job = services.job_create(
            data=request.data, actor=actor_for_request(request), message=_message(request)
        )
        return self._respond(job, status.HTTP_201_CREATED)

    @extend_schema(request=DEFINITION, responses={200: s.JobSerializer, 409: ARCHIVED})
    def update(self, request: Request, pk=None, partial=False) -> Response:
        job = self.get_object()
        data = request.data
        if partial:
            if not isinstance(data, dict):
                raise ValidationError(
                    {"non_field_errors": ["Send an object with the fields to change."]}
                )
            data = {**services.current_definition(job), **data}
        job, _ = services.job_update(
            job=job, data=data, actor=actor_for_request(request), message=_message(request)
        )
        return self._respond(job)

    def perform_destroy(self, instance: Job) -> None:
        services.job_delete(job=instance, actor=actor_for_request(self.request))

    @extend_schema(responses=s.JobVersionSerializer(many=True), summary="Versions, newest first")
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk=None) -> Response:
        page = self.paginate_queryset(selectors.job_versions(job=self.get_object()))
        return self.get_paginated_response(s.JobVersionSerializer(page, many=True).data)

    @extend_schema(responses=s.JobVersionDetailSerializer, summary="One version, whole")
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request: Request, pk=None, number=None) -> Response:
        version = get_object_or_404(selectors.job_versions(job=self.get_object()), number=number)
        return Response(s.JobVersionDetailSerializer(version).data)

    @extend_schema(request=s.RevertSerializer, responses={200: s.JobSerializer, 409: ARCHIVED})
    @action(detail=True, methods=["post"])
    def revert(self, request: Request, pk=None) -> Response:
        body = s.RevertSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.job_revert(
            job=self.get_object(), number=body.validated_data["version"],
            actor=actor_for_request(request),
        )  # fmt: skip
        return self._respond(job)

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk=None) -> Response:
        job = services.job_set_archived(
            job=self.get_object(), archived=True, actor=actor_for_request(request)
        )
        return self._respond(job)

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def unarchive(self, request: Request, pk=None) -> Response:
        job = services.job_set_archived(
            job=self.get_object(), archived=False, actor=actor_for_request(request)
        )
        return self._respond(job)

    @extend_schema(request=s.CloneSerializer, responses={201: s.JobSerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request: Request, pk=None) -> Response:
        body = s.CloneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.job_clone(
            job=self.get_object(), name=body.validated_data["name"],
            actor=actor_for_request(request),
        )  # fmt: skip
        return self._respond(job, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as",
                str,
                enum=list(EXPORT_FORMATS),
                description="`yaml` (the default) or `json`; anything else is a 400",
            )
        ],
        # the same definition (an object) in the format asked for
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,
        },
        summary="The job's definition, to import elsewhere (secret defaults stay sealed)",
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk=None) -> HttpResponse:
        wanted = request.query_params.get("as", "yaml")
        if wanted not in EXPORT_FORMATS:
            raise ValidationError({"as": [f"Must be one of: {', '.join(EXPORT_FORMATS)}."]})
        job = self.get_object()
        definition = services.current_definition(job)
        if wanted == "json":
            body, content_type = json.dumps(definition, indent=2), "application/json"
        else:
            body = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
            content_type = "application/yaml"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{job.name}.{content_type[12:]}"'
        return response

    @extend_schema(request=DEFINITION, responses={201: s.JobSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_job(self, request: Request) -> Response:
        """Create a job from an exported definition (YAML or JSON)."""
        job = services.job_create(
            data=request.data, actor=actor_for_request(request), message="Imported"
        )
        return self._respond(job, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ValidateRequestSerializer,
        responses=OpenApiTypes.OBJECT,
        summary="What a run would do: targets, rendered steps (secrets masked), problems",
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def validate(self, request: Request, pk=None) -> Response:
        body = s.ValidateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = selectors.job_plan(
            job=self.get_object(),
            values=body.validated_data["parameters"],
            selector=body.validated_data.get("selector") or None,
        )
        return Response(plan)


def _message(request: Request) -> str:
    return request.headers.get("X-Change-Message", "")[:500]
