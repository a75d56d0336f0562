"""Serializers of the scheduling API: shapes and types here, meaning in ``services``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.scheduling.models import (
    AlertEvent,
    AlertRule,
    Firing,
    FiringOutcome,
    Frequency,
    IntervalUnit,
    Kind,
    MisfirePolicy,
    NotificationChannel,
    NotificationDelivery,
    OverlapPolicy,
    Schedule,
)
from apps.scheduling.timing import WEEKDAY_NAMES
from opsconductor.api.datetimes import DateTimeField
from opsconductor.api.serializers import StrictFieldsMixin
from opsconductor.roles import Role, has_role


class WallClockDateTimeField(DateTimeField):
    """A date-time that may be given without an offset: then it is a wall-clock time in the
    schedule's own time zone (services convert it with the DST rules), not in the server's."""

    def enforce_timezone(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 0, "maximum": 6},
            {"type": "string", "enum": list(WEEKDAY_NAMES)},
        ],
        "description": "0 = Monday ... 6 = Sunday, or MON ... SUN (answers give the number).",
    }
)
class WeekdayField(serializers.Field):
    """A day of the week: 0 (Monday) to 6 (Sunday), or its name (MON ... SUN, any case)."""

    default_error_messages = {
        "invalid": "{value!r} is not a day of the week: use 0 (Monday) to 6 (Sunday) or MON-SUN."
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().upper() in WEEKDAY_NAMES:
            return WEEKDAY_NAMES.index(data.strip().upper())
        if isinstance(data, str) and data.strip().isdigit():
            data = int(data.strip())
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data <= 6:
            self.fail("invalid", value=data)
        return data

    def to_representation(self, value):
        return value


class CalendarFields(serializers.Serializer):
    """The fields of a calendar schedule (the schedule and the preview share them)."""

    frequency = serializers.ChoiceField(choices=Frequency.choices, required=False, allow_blank=True)
    every = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        allow_null=True,
        help_text="Calendar: every N days, weeks or months (default 1), counted from start_at.",
    )
    time_of_day = serializers.TimeField(
        required=False,
        allow_null=True,
        format="%H:%M",
        input_formats=["%H:%M", "%H:%M:%S"],
        help_text="Calendar: wall-clock time (HH:MM) in the schedule's time zone.",
    )
    days_of_week = serializers.ListField(
        child=WeekdayField(),
        required=False,
        allow_empty=True,
        max_length=7,
        help_text="Calendar weekly: days, 0 = Monday ... 6 = Sunday (or MON ... SUN).",
    )
    day_of_month = serializers.IntegerField(
        min_value=1,
        max_value=31,
        required=False,
        allow_null=True,
        help_text="Calendar monthly: 1-31; a shorter month fires on its last day.",
    )


class NotifySerializer(serializers.Serializer):
    channel = serializers.CharField(max_length=100, help_text="A notification channel's name.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=AlertEvent.choices), allow_empty=False
    )


class LastFiringSerializer(serializers.Serializer):
    scheduled_for = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=FiringOutcome.choices)
    reason = serializers.CharField()
    run_id = serializers.UUIDField(allow_null=True)


class ScheduleSerializer(StrictFieldsMixin, CalendarFields, serializers.ModelSerializer):
    strict_accepts = ("notify",)  # read as input by to_internal_value

    job = serializers.UUIDField(source="job_id")
    parameters = serializers.JSONField(
        required=False, help_text="Parameter values; secret ones are shown as ********."
    )
    kind = serializers.ChoiceField(choices=Kind.choices)
    interval_unit = serializers.ChoiceField(
        choices=IntervalUnit.choices, required=False, allow_blank=True
    )
    timezone = serializers.CharField(
        max_length=64, required=False, help_text="IANA time zone, e.g. Europe/Berlin."
    )
    run_at = WallClockDateTimeField(required=False, allow_null=True)
    start_at = WallClockDateTimeField(
        required=False,
        allow_null=True,
        help_text="Also the anchor of an interval or calendar schedule.",
    )
    end_at = WallClockDateTimeField(required=False, allow_null=True)
    misfire_policy = serializers.ChoiceField(choices=MisfirePolicy.choices, required=False)
    overlap_policy = serializers.ChoiceField(choices=OverlapPolicy.choices, required=False)
    notify = serializers.SerializerMethodField()
    next_fire_local = serializers.SerializerMethodField()
    last_firing = serializers.SerializerMethodField(
        help_text="The latest due time's firing (outcome, reason, run), or null if none yet."
    )

    class Meta:
        model = Schedule
        fields = (
            "id", "name", "description", "job", "job_name", "job_version", "parameters",
            "selector", "kind", "cron", "interval_every", "interval_unit", "run_at", "frequency",
            "every", "time_of_day", "days_of_week", "day_of_month", "timezone", "start_at",
            "end_at", "max_firings", "enabled", "misfire_policy",
            "misfire_grace_seconds", "overlap_policy", "notify", "next_fire_at",
            "next_fire_local", "revision", "fired_count", "last_fired_at", "last_firing",
            "finished_reason", "created_by", "updated_by", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = (
            "id", "job_name", "next_fire_at", "revision", "fired_count", "last_fired_at",
            "finished_reason", "created_by", "updated_by", "created_at", "updated_at",
        )  # fmt: skip
        extra_kwargs = {
            "interval_every": {"min_value": 1},
            "misfire_grace_seconds": {"min_value": 0},
        }

    def get_notify(self, schedule: Schedule) -> list[dict]:
        return [
            {"channel": rule.channel.name, "events": rule.events}
            for rule in schedule.alert_rules.all()
        ]

    @extend_schema_field(LastFiringSerializer(allow_null=True))
    def get_last_firing(self, schedule: Schedule) -> dict | None:
        when = getattr(schedule, "last_firing_for", None)
        if when is None:
            return None
        return LastFiringSerializer(
            {
                "scheduled_for": when,
                "outcome": schedule.last_firing_outcome,
                "reason": schedule.last_firing_reason,
                "run_id": schedule.last_firing_run,
            }
        ).data

    def get_next_fire_local(self, schedule: Schedule) -> str | None:
        if schedule.next_fire_at is None:
            return None
        return schedule.next_fire_at.astimezone(ZoneInfo(schedule.timezone)).isoformat()

    def to_internal_value(self, data):
        notify = data.get("notify") if hasattr(data, "get") else None
        values = super().to_internal_value(data)
        if notify is not None:
            items = NotifySerializer(data=notify, many=True)
            if not items.is_valid():
                raise serializers.ValidationError({"notify": items.errors})
            values["notify"] = [dict(item) for item in items.validated_data]
        if "job_id" in values:
            values["job"] = values.pop("job_id")
        return values


class PreviewSerializer(StrictFieldsMixin, CalendarFields):
    kind = serializers.ChoiceField(choices=Kind.choices)
    cron = serializers.CharField(max_length=200, required=False, allow_blank=True)
    interval_every = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    interval_unit = serializers.ChoiceField(
        choices=IntervalUnit.choices, required=False, allow_blank=True
    )
    run_at = WallClockDateTimeField(required=False, allow_null=True)
    timezone = serializers.CharField(max_length=64, required=False)
    start_at = WallClockDateTimeField(required=False, allow_null=True)
    end_at = WallClockDateTimeField(required=False, allow_null=True)
    after = DateTimeField(required=False, help_text="Fire times after this instant (default: now).")
    start = DateTimeField(
        required=False,
        help_text="Fire times at or after this instant (default: now); or give after.",
    )
    count = serializers.IntegerField(min_value=1, max_value=500, default=10)

    def validate(self, attrs):
        if "start" in attrs and "after" in attrs:
            raise serializers.ValidationError({"start": ["Give start or after, not both."]})
        return attrs


class PreviewItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The instant, in UTC.")
    local = serializers.CharField(help_text="The same instant in the schedule's time zone.")
    utc_offset = serializers.CharField()
    abbreviation = serializers.CharField()
    note = serializers.CharField(help_text="Set when a DST change affects this firing.")
    dst_rule = serializers.ChoiceField(
        choices=["", "gap", "repeated", "offset_changed"],
        help_text=(
            "The DST rule that applied: gap (the wall-clock time does not exist: fires at the "
            "change), repeated (it happens twice: fires at the first), offset_changed (the "
            "zone's UTC offset differs from the previous firing's), or empty."
        ),
    )
    wall_time = serializers.CharField(
        help_text="gap and repeated: the wall-clock time asked for (YYYY-MM-DDTHH:MM), else empty."
    )


class PreviewResponseSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    items = PreviewItemSerializer(many=True)


class FiringSerializer(serializers.ModelSerializer):
    schedule = serializers.UUIDField(source="schedule_id", read_only=True)

    class Meta:
        model = Firing
        fields = (
            "id", "schedule", "scheduled_for", "fired_at", "outcome", "reason", "catch_up",
            "revision", "run_id", "run_status", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


def redacted_url(url: str) -> str:
    """``scheme://host[:port]/…``: the address without what may be a token in it."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    rest = (parts.path not in ("", "/")) or parts.query or parts.fragment
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{'…' if rest else ''}"


class ChannelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=False, max_length=500,
        help_text="Webhook only: the HMAC-SHA256 key the body is signed with. Never shown again.",
    )  # fmt: skip
    secret_set = serializers.SerializerMethodField()
    recipients = serializers.ListField(child=serializers.EmailField(), required=False)

    class Meta:
        model = NotificationChannel
        fields = (
            "id", "name", "description", "kind", "url", "secret", "secret_set", "recipients",
            "enabled", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("id", "created_at", "updated_at")

    def get_secret_set(self, channel: NotificationChannel) -> bool:
        return bool(channel.sealed_secret)

    def to_representation(self, channel: NotificationChannel) -> dict:
        """A webhook's address often carries a token in its path or query (Slack, Teams,
        chat bots): only those who may change channels (managers and up) read it whole; the
        others get its scheme and host (``https://hooks.example.com/…``)."""
        data = super().to_representation(channel)
        request = self.context.get("request")
        if data.get("url") and not (request and has_role(request.user, Role.MANAGER)):
            data["url"] = redacted_url(data["url"])
        return data


class AlertRuleSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    job = serializers.UUIDField(
        source="job_id", required=False, allow_null=True,
        help_text="Every run of this job, however it was started (give a job or a schedule).",
    )  # fmt: skip
    schedule = serializers.PrimaryKeyRelatedField(
        queryset=Schedule.objects.using("scheduling").all(), required=False, allow_null=True,
        help_text="The runs and missed due times of this schedule (give a job or a schedule).",
    )  # fmt: skip
    channel = serializers.SlugRelatedField(
        slug_field="name", queryset=NotificationChannel.objects.using("scheduling").all()
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(
            choices=[c for c in AlertEvent.choices if c[0] != AlertEvent.TEST]
        ),
        allow_empty=False,
    )
    subject_name = serializers.SerializerMethodField(
        help_text="The job's or the schedule's name (empty if it is gone)."
    )

    class Meta:
        model = AlertRule
        fields = ("id", "job", "schedule", "subject_name", "channel", "events", "created_at",
                  "updated_at")  # fmt: skip
        read_only_fields = ("id", "created_at", "updated_at")

    def get_subject_name(self, rule: AlertRule) -> str:
        if rule.schedule_id:
            return rule.schedule.name if rule.schedule else ""
        return self.context.get("job_names", {}).get(rule.job_id, "")

    def validate(self, attrs):
        if self.instance is not None:
            for name, source in (("job", "job_id"), ("schedule", "schedule")):
                if source in attrs and attrs[source] != getattr(self.instance, source):
                    raise serializers.ValidationError(
                        {name: ["A rule's job or schedule cannot change: make a new rule."]}
                    )
            return attrs
        if (attrs.get("job_id") is None) == (attrs.get("schedule") is None):
            raise serializers.ValidationError(
                {"job": ["Give a job or a schedule (one of the two)."]}
            )
        return attrs


JobAlertRuleSerializer = AlertRuleSerializer


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=["delivered", "failed"])
    response_status = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField(help_text="The error, or the start of the receiver's answer.")


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.UUIDField(source="channel_id", read_only=True, allow_null=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = NotificationDelivery
        fields = (
            "id", "channel", "channel_name", "event", "subject", "payload", "status", "attempts",
            "last_error", "response_status", "response_excerpt", "attempt_log", "delivered_at",
            "next_attempt_at", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class ChannelTestSerializer(serializers.Serializer):
    delivered = serializers.BooleanField(help_text="Whether the receiver took the test notice.")
    delivery = DeliverySerializer()


class NextFiringSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    job_id = serializers.UUIDField()
    job_name = serializers.CharField()
    next_fire_at = serializers.DateTimeField()
    timezone = serializers.CharField(help_text="The schedule's own IANA zone.")


class ScheduleSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    enabled = serializers.IntegerField()
    paused = serializers.IntegerField()
    last_failed = serializers.IntegerField(
        help_text="Schedules whose latest firing failed to start or whose run failed or timed out."
    )
    last_missed = serializers.IntegerField(help_text="Schedules whose latest firing was missed.")
    next_firings = NextFiringSerializer(many=True, help_text="The soonest firings, soonest first.")
    failed_deliveries = serializers.IntegerField(
        help_text="Notification deliveries that failed with no retry left."
    )
