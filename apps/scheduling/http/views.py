"""The scheduling API: schedules (CRUD, pause/resume, preview, next, firings), notification
channels (with a test send), alert rules on jobs and schedules, and the delivery log. Viewers
read; managers and admins write."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.interface import actor_for_request
from apps.jobs.interface import job_snapshots
from apps.scheduling import selectors, services, timing
from apps.scheduling.http import serializers as s
from apps.scheduling.models import (
    AlertRule,
    DeliveryStatus,
    Firing,
    FiringOutcome,
    Kind,
    NotificationDelivery,
    Schedule,
)
from opsconductor.api.datetimes import IsoDateTimeFilter
from opsconductor.api.filters import StrictBooleanFilter
from opsconductor.api.permissions import ViewerReadManagerWrite

UUID = "[0-9a-fA-F-]{36}"
MICROSECOND = timedelta(microseconds=1)


class ScheduleFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    job = django_filters.UUIDFilter(field_name="job_id")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    enabled = StrictBooleanFilter()
    timezone = django_filters.CharFilter()
    due_before = IsoDateTimeFilter(field_name="next_fire_at", lookup_expr="lte")
    last_outcome = django_filters.MultipleChoiceFilter(
        choices=[(value, value) for value in selectors.LAST_OUTCOMES],
        method="filter_last_outcome",
        help_text="What the latest firing came to: failed (failed to start, or its run failed "
        "or timed out), missed, skipped, fired or starting. Repeat for any of several.",
    )

    class Meta:
        model = Schedule
        fields = ()

    def filter_last_outcome(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.annotate(last_outcome=selectors.last_outcome_expression()).filter(
            last_outcome__in=value
        )


class FiringFilter(django_filters.FilterSet):
    outcome = django_filters.MultipleChoiceFilter(choices=FiringOutcome.choices)
    since = IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="lte")
    run = django_filters.UUIDFilter(field_name="run_id")

    class Meta:
        model = Firing
        fields = ()


def _preview(definition: timing.Timing, after, count: int) -> dict:
    items = timing.preview(definition, after, count)
    return {
        "timezone": definition.zone,
        "items": [
            {
                "at": item.at,
                "local": item.local.isoformat(),
                "utc_offset": item.utc_offset,
                "abbreviation": item.abbreviation,
                "note": item.note,
                "dst_rule": item.dst_rule,
                "wall_time": item.wall_time,
            }
            for item in items
        ],
    }


class ScheduleViewSet(viewsets.ModelViewSet):
    """Schedules of jobs: cron, interval or once, each in its own IANA time zone."""

    serializer_class = s.ScheduleSerializer
    filterset_class = ScheduleFilter
    search_fields = ("name", "description", "job_name")
    ordering_fields = ("name", "next_fire_at", "created_at", "updated_at")
    permission_classes = (ViewerReadManagerWrite,)
    lookup_value_regex = UUID

    def get_queryset(self):
        return selectors.schedules()

    def _respond(self, schedule: Schedule, code=status.HTTP_200_OK) -> Response:
        schedule = selectors.schedules().get(pk=schedule.pk)
        return Response(s.ScheduleSerializer(schedule).data, status=code)

    def create(self, request: Request) -> Response:
        serializer = s.ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = services.schedule_create(
            data=serializer.validated_data, actor=actor_for_request(request)
        )
        return self._respond(schedule, status.HTTP_201_CREATED)

    def update(self, request: Request, pk=None, partial=False) -> Response:
        schedule = self.get_object()
        serializer = s.ScheduleSerializer(schedule, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        schedule = services.schedule_update(
            schedule=schedule, data=serializer.validated_data, actor=actor_for_request(request)
        )
        return self._respond(schedule)

    def destroy(self, request: Request, pk=None) -> Response:
        services.schedule_delete(schedule=self.get_object(), actor=actor_for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.ScheduleSummarySerializer, summary="Schedules at a glance")
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        """How many schedules are enabled and paused, how many whose latest firing failed or was
        missed (the list's ``?last_outcome=failed`` and ``?last_outcome=missed`` give the same
        schedules), the next firings, and the notification deliveries that failed for good
        (``/notification-deliveries/?status=failed``). Constant queries per request."""
        return Response(s.ScheduleSummarySerializer(selectors.schedules_summary()).data)

    @extend_schema(request=None, responses=s.ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None) -> Response:
        """Nothing fires until it is resumed (idempotent)."""
        schedule = services.schedule_set_enabled(
            schedule=self.get_object(), enabled=False, actor=actor_for_request(request)
        )
        return self._respond(schedule)

    @extend_schema(request=None, responses=s.ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        """Fires again from the next due time after now (idempotent)."""
        schedule = services.schedule_set_enabled(
            schedule=self.get_object(), enabled=True, actor=actor_for_request(request)
        )
        return self._respond(schedule)

    @extend_schema(request=s.PreviewSerializer, responses=s.PreviewResponseSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """The next fire times of a definition, in its zone and in UTC, DST changes noted."""
        serializer = s.PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        values.setdefault("timezone", services.default_timezone())
        start = values.pop("start", None)
        # start is inclusive, after exclusive: a firing exactly at start is listed
        after = values.pop("after", None) or (start - MICROSECOND if start else timezone.now())
        count = values.pop("count")
        definition = services.check_timing(values, anchor=after)
        return Response(_preview(definition, after, count))

    @extend_schema(
        parameters=[OpenApiParameter("count", int, description="How many (1-500, default 10).")],
        responses=s.PreviewResponseSerializer,
    )
    @action(detail=True, methods=["get"])
    def next(self, request: Request, pk=None) -> Response:
        """The schedule's next fire times (as if enabled, from now or its next due time)."""
        schedule = self.get_object()
        try:
            count = int(request.query_params.get("count", 10))
        except ValueError:
            raise ValidationError({"count": ["A whole number."]}) from None
        if not 1 <= count <= 500:
            raise ValidationError({"count": ["Between 1 and 500."]})
        data = _preview(services.timing_of(schedule), timezone.now(), count)
        remaining = (
            None if schedule.max_firings is None else schedule.max_firings - schedule.fired_count
        )
        if remaining is not None:
            data["items"] = data["items"][: max(remaining, 0)]
        data.update(enabled=schedule.enabled, next_fire_at=schedule.next_fire_at)
        return Response(data)

    @extend_schema(
        parameters=[
            OpenApiParameter("outcome", str, many=True),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
            OpenApiParameter("run", str),
        ],
        responses=s.FiringSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def firings(self, request: Request, pk=None) -> Response:
        """Every due time of the schedule and what became of it, newest first."""
        schedule = self.get_object()
        rows = FiringFilter(
            request.query_params, queryset=selectors.firings(schedule_id=schedule.id)
        )
        if not rows.is_valid():
            raise ValidationError(rows.errors)
        page = self.paginate_queryset(rows.qs)
        return self.get_paginated_response(s.FiringSerializer(page, many=True).data)


class ChannelViewSet(viewsets.ModelViewSet):
    """Notification channels (a signed webhook or an email list), referenced by alert rules."""

    serializer_class = s.ChannelSerializer
    permission_classes = (ViewerReadManagerWrite,)
    search_fields = ("name", "description")
    lookup_value_regex = UUID

    def get_queryset(self):
        return selectors.channels()

    def perform_create(self, serializer) -> None:
        serializer.instance = services.channel_save(
            channel=None,
            data=dict(serializer.validated_data),
            actor=actor_for_request(self.request),
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.channel_save(
            channel=serializer.instance,
            data=dict(serializer.validated_data),
            actor=actor_for_request(self.request),
        )

    def perform_destroy(self, instance) -> None:
        services.channel_delete(channel=instance, actor=actor_for_request(self.request))

    @extend_schema(request=None, responses=s.ChannelTestSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> Response:
        """Send the channel a test notice now, through the real delivery path (a webhook's
        signed POST, with event ``test``; an email), one attempt, not retried. Recorded in the
        delivery log and audited; answers with the outcome (200 whether or not it arrived)."""
        delivery = services.channel_test(
            channel=self.get_object(), actor=actor_for_request(request)
        )
        return Response(
            {
                "delivered": delivery.status == DeliveryStatus.DELIVERED,
                "delivery": s.DeliverySerializer(delivery).data,
            }
        )


class AlertRuleFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")
    job_id = django_filters.UUIDFilter(field_name="job_id")  # (the older name of ``job``)
    schedule = django_filters.UUIDFilter(field_name="schedule_id")
    channel = django_filters.CharFilter(field_name="channel__name")
    on = django_filters.ChoiceFilter(
        choices=(("job", "job"), ("schedule", "schedule")),
        method="filter_on",
        label="Rules on jobs or on schedules only.",
    )

    class Meta:
        model = AlertRule
        fields = ()

    def filter_on(self, queryset, name, value):
        return queryset.filter(job_id__isnull=value != "job")


class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules: a channel told when a job's runs (every run of it, however started) or a
    schedule's runs fail, succeed or recover, or the schedule misses a due time. A schedule's
    rules are also its ``notify`` field."""

    serializer_class = s.AlertRuleSerializer
    permission_classes = (ViewerReadManagerWrite,)
    filterset_class = AlertRuleFilter
    lookup_value_regex = UUID

    def get_queryset(self):
        return selectors.alert_rules()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["job_names"] = getattr(self, "_job_names", {})
        return context

    def _name_jobs(self, rules) -> None:
        ids = {rule.job_id for rule in rules if rule.job_id}
        self._job_names = {job_id: snap.name for job_id, snap in job_snapshots(list(ids)).items()}

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rules = page if page is not None else list(queryset)
        self._name_jobs(rules)
        data = self.get_serializer(rules, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        rule = self.get_object()
        self._name_jobs([rule])
        return Response(self.get_serializer(rule).data)

    def _respond(self, rule, code=status.HTTP_200_OK) -> Response:
        rule = selectors.alert_rules().get(pk=rule.pk)
        self._name_jobs([rule])
        return Response(self.get_serializer(rule).data, status=code)

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        schedule = data.get("schedule")
        rule = services.alert_rule_create(
            job_id=data.get("job_id"), schedule_id=schedule.id if schedule else None,
            channel=data["channel"], events=data["events"], actor=actor_for_request(request),
        )  # fmt: skip
        return self._respond(rule, status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        rule = self.get_object()
        serializer = self.get_serializer(rule, data=request.data, partial=kwargs.get("partial"))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rule = services.alert_rule_update(
            rule=rule, channel=data.get("channel"), events=data.get("events"),
            actor=actor_for_request(request),
        )  # fmt: skip
        return self._respond(rule)

    def perform_destroy(self, instance) -> None:
        services.alert_rule_delete(rule=instance, actor=actor_for_request(self.request))


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=DeliveryStatus.choices, help_text="The outcome: pending, delivered or failed."
    )
    event = django_filters.CharFilter()
    channel = django_filters.CharFilter(field_name="channel_name", help_text="A channel's name.")
    channel_id = django_filters.UUIDFilter(field_name="channel_id")
    subject = django_filters.CharFilter()
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = NotificationDelivery
        fields = ()


class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log of alerts: every notification, its attempts and their outcome."""

    serializer_class = s.DeliverySerializer
    permission_classes = (ViewerReadManagerWrite,)
    filterset_class = DeliveryFilter
    lookup_value_regex = UUID

    def get_queryset(self):
        return selectors.deliveries()
