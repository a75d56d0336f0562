"""The runs API: start, list, inspect, cancel, retry; per-target results, output, live stream."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.interface import actor_for_request
from apps.execution import selectors, services, streaming
from apps.execution.http import serializers as s
from apps.execution.models import (
    TARGET_TERMINAL,
    Run,
    RunStatus,
    RunStep,
    RunTarget,
    TargetStatus,
    Trigger,
)
from opsconductor.api.datetimes import IsoDateTimeFilter
from opsconductor.api.filters import StrictBooleanFilter
from opsconductor.api.permissions import ViewerReadOperatorWrite

# What the live stream sends: the schema's description of its text/event-stream answer.
STREAM_EVENTS = """Server-Sent Events, one per entry of the run's log, in order, until the run
has ended and everything was sent. Each event has `id` (the log's sequence number: send it back
as `Last-Event-ID` or `?after=` to resume), `event` (its type) and `data` (one JSON object).
The stream starts with `retry: 2000`; lines starting with `:` are keep-alive comments
(after 15 s of silence). Errors before the stream starts (400, 401, 403, 404) are JSON.

Event types and their `data`:

- `output`: `run_target_id` (uuid), `target` (name), `step` (number from 1, or null),
  `stream` (`stdout`, `stderr`, or `marker` for OpsConductor's own notes), `text` (secrets
  masked).
- `state`: `type` and the fields of that type:
  - `run`: `status`; `targets` (a count, when created); `stopping` and `reason` (cancel
    asked); `counts` (targets per status, when finished); `imported` and `reason` (imported
    runs).
  - `target`: `run_target_id`, `target`, `name`, `status`; `reason` and `exit_code` when it
    finished.
  - `step`: `run_target_id`, `target`, `step` (from 1), `status`; `name` when it starts;
    `exit_code`, `reason`, `duration_ms` when it ends.
  - `note`: `run_target_id`, `target`, `name`, `message` (e.g. a late result discarded).
- `end`: `status`, the run's final status (null if the run was deleted meanwhile); the last
  event.
"""
IMPORTED = OpenApiResponse(description="The run was imported from the legacy system: read only.")
# One event of the stream, as an SSE client parses it (its `data` is JSON, described above).
STREAM_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the log's sequence number"},
        "event": {"type": "string", "enum": ["output", "state", "end"]},
        "data": {"type": "string", "description": "a JSON object, by `event` (above)"},
        "retry": {"type": "integer", "description": "reconnect after this many ms"},
    },
}
STREAM_EXAMPLE = (
    "retry: 2000\n\n"
    "id: 42\nevent: output\n"
    'data: {"run_target_id": "2b0c3c9e-8f7e-4a55-9f0e-1f6a1d2b3c4d", "target": "web-01", '
    '"step": 1, "stream": "stdout", "text": "ok\\n"}\n\n'
    "id: 43\nevent: state\n"
    'data: {"type": "step", "run_target_id": "2b0c3c9e-8f7e-4a55-9f0e-1f6a1d2b3c4d", '
    '"target": "web-01", "step": 1, "status": "succeeded", "exit_code": 0, "reason": "", '
    '"duration_ms": 31}\n\n'
    'id: 57\nevent: end\ndata: {"status": "succeeded"}\n\n'
)


class RunFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")
    status = django_filters.MultipleChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.MultipleChoiceFilter(choices=Trigger.choices)
    requested_by = django_filters.UUIDFilter(field_name="requested_by_user_id")
    schedule = django_filters.UUIDFilter(field_name="schedule_id")
    target = django_filters.UUIDFilter(method="filter_target", help_text="a target's id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    imported = StrictBooleanFilter(help_text="true: only history imported from the legacy system")

    class Meta:
        model = Run
        fields = ()

    def filter_target(self, queryset, name, value):
        return queryset.filter(targets__target_id=value).distinct()


class RunTargetFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=TargetStatus.choices)
    name = django_filters.CharFilter(field_name="target_name", lookup_expr="icontains")

    class Meta:
        model = RunTarget
        fields = ()


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Runs of jobs. Everyone reads; operators and above start, cancel and retry."""

    serializer_class = s.RunSerializer
    filterset_class = RunFilter
    search_fields = ("job_name",)
    ordering_fields = ("created_at", "started_at", "finished_at", "job_name", "status")
    permission_classes = (ViewerReadOperatorWrite,)
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        return Run.objects.using("execution").all()

    def perform_content_negotiation(self, request, force=False):
        if self.action == "stream":
            # the stream is a StreamingHttpResponse of its own; errors before it starts (401,
            # 403, 404) are JSON even for an EventSource's "Accept: text/event-stream"
            return (JSONRenderer(), JSONRenderer.media_type)
        return super().perform_content_negotiation(request, force)

    def filter_queryset(self, queryset):
        # the run filters apply to the list; a run's own pages have filters of their own
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        data = s.RunSerializer(run).data
        data["summary"] = selectors.run_summary(run=run)
        if data["summary"]["counts"] or not run.imported:  # imported without results: as stored
            data["counts"] = data["summary"]["counts"]  # live (the list shows the last stored)
        return Response(data)

    @extend_schema(request=s.RunCreateSerializer, responses={201: s.RunSerializer})
    def create(self, request: Request) -> Response:
        body = s.RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        actor = actor_for_request(request)
        run = services.run_create(
            job_id=data["job"],
            version=data["version"],
            parameters=data["parameters"],
            selector=data["selector"],
            policy=data["policy"] or None,
            trigger=Trigger.API_TOKEN if actor.kind == "token" else Trigger.MANUAL,
            actor=actor,
            requested_by_user_id=request.user.pk,
        )
        return Response(s.RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: s.RunSerializer, 409: IMPORTED},
        summary="Cancel (idempotent)",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        run = services.run_cancel(run=self.get_object(), actor=actor_for_request(request))
        return Response(s.RunSerializer(run).data)

    @extend_schema(
        request=s.RunRetrySerializer,
        responses={201: s.RunSerializer, 409: IMPORTED},
        summary="A new run of the same snapshot on the failed (or all) targets",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk=None) -> Response:
        body = s.RunRetrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.run_retry(
            run=self.get_object(),
            only=body.validated_data["only"],
            actor=actor_for_request(request),
            requested_by_user_id=request.user.pk,
        )
        return Response(s.RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[s.RunStatsQuerySerializer],
        responses=s.RunStatsSerializer,
        summary="Runs of a recent window by status, per hour, and the runs going on now",
    )
    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        """What the console's dashboard charts: runs created since ``since`` (default: the last
        24 hours) counted by status, in total and per hour, and how many are pending or running
        now. Imported history is left out. The numbers match the list's filters
        (``?created_after=<since>&status=<status>``)."""
        query = s.RunStatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = timezone.now()
        since = query.validated_data.get("since") or until - timedelta(hours=24)
        if since >= until:
            raise ValidationError({"since": ["Must be in the past."]})
        if since < until - timedelta(days=selectors.STATS_MAX_DAYS):
            raise ValidationError(
                {"since": [f"Must be at most {selectors.STATS_MAX_DAYS} days back."]}
            )
        return Response(s.RunStatsSerializer(selectors.run_stats(since=since, until=until)).data)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Targets grouped by outcome and output")
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk=None) -> Response:
        return Response(selectors.run_summary(run=self.get_object()))

    @extend_schema(
        responses=s.RunTargetSerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, many=True, enum=TargetStatus.values),
            OpenApiParameter("name", str),
        ],
        summary="Per-target results with their steps",
    )
    @action(detail=True, methods=["get"])
    def targets(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        queryset = (
            RunTarget.objects.using("execution")
            .filter(run=run)
            .prefetch_related(Prefetch("steps", RunStep.objects.using("execution")))
            .order_by("position")
        )
        queryset = RunTargetFilter(request.query_params, queryset=queryset, request=request)
        if not queryset.is_valid():
            raise ValidationError(queryset.errors)
        page = self.paginate_queryset(queryset.qs)
        return self.get_paginated_response(s.RunTargetSerializer(page, many=True).data)

    @extend_schema(responses=s.RunTargetSerializer, summary="One target's result")
    @action(detail=True, methods=["get"], url_path=r"targets/(?P<target_id>[0-9a-fA-F-]{36})")
    def target(self, request: Request, pk=None, target_id=None) -> Response:
        return Response(s.RunTargetSerializer(self._run_target(target_id)).data)

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("after", int, description="only chunks after this sequence number"),
            OpenApiParameter("limit", int, description="at most this many chunks (max 1000)"),
        ],
        summary="A target's output chunks in order (stdout/stderr tagged, per step)",
    )
    @action(
        detail=True, methods=["get"], url_path=r"targets/(?P<target_id>[0-9a-fA-F-]{36})/output"
    )
    def output(self, request: Request, pk=None, target_id=None) -> Response:
        run_target = self._run_target(target_id)
        after = _int_param(request, "after", 0, minimum=0)
        limit = _int_param(request, "limit", 1000, minimum=1, maximum=1000)
        chunks = selectors.output_chunks(run_target=run_target, after=after, limit=limit)
        return Response(
            {
                "target": run_target.target_name,
                "status": run_target.status,
                "truncated": run_target.output_truncated,
                "chunks": s.OutputChunkSerializer(chunks, many=True).data,
                "next_after": chunks[-1].seq if chunks else after,
                "complete": run_target.status in TARGET_TERMINAL and len(chunks) < limit,
            }
        )

    @extend_schema(
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=STREAM_EVENT,
                description=STREAM_EVENTS,
                examples=[OpenApiExample("A short run", value=STREAM_EXAMPLE)],
            )
        },
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                int,
                OpenApiParameter.HEADER,
                description="resume after this event (sent by EventSource on reconnect)",
            ),
            OpenApiParameter("after", int, description="start after this event"),
        ],
        summary="Live stream of the run (Server-Sent Events): state changes and output",
    )
    @action(detail=True, methods=["get"])
    def stream(self, request: Request, pk=None) -> StreamingHttpResponse:
        run = self.get_object()
        header = request.headers.get("Last-Event-ID", "")
        if header:
            if not header.isdigit():
                raise ValidationError({"Last-Event-ID": ["Must be an event id (a number)."]})
            after = int(header)
        else:
            after = _int_param(request, "after", 0, minimum=0)
        if isinstance(request._request, ASGIRequest):
            # the streams process (ASGI): the stream is a coroutine of its event loop
            lines = streaming.stream_lines_async(run_id=run.id, after=after)
        else:
            # a request thread (WSGI) waits for the stream's end; it needs no connection
            # meanwhile: the process's stream hub reads the run's log for every stream
            connections.close_all()
            lines = streaming.stream_lines(run_id=run.id, after=after)
        response = StreamingHttpResponse(lines, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
        return response

    def _run_target(self, target_id) -> RunTarget:
        run = self.get_object()
        return get_object_or_404(
            RunTarget.objects.using("execution").prefetch_related("steps"),
            run=run,
            target_id=target_id,
        )


def _int_param(request: Request, name: str, default: int, *, minimum: int, maximum=None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["Must be a whole number."]}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValidationError({name: [f"Must be {bound}."]})
    return value
