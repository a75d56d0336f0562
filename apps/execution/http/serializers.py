"""Serializers of the runs API."""

from __future__ import annotations

from rest_framework import serializers

from apps.execution.models import Run, RunStep, RunTarget, Trigger
from opsconductor.api.datetimes import DateTimeField
from opsconductor.api.serializers import StrictFieldsMixin


class RunCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    job = serializers.UUIDField()
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    parameters = serializers.DictField(required=False, default=dict)
    selector = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=4000, default=None,
        help_text="Which targets (the selector language); default: the job's default selector.",
    )  # fmt: skip
    policy = serializers.DictField(
        required=False, default=dict, help_text="Overrides of the job's run policy fields."
    )


class RunRetrySerializer(StrictFieldsMixin, serializers.Serializer):
    only = serializers.ChoiceField(("failed", "all"), default="failed")


class RunSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)
    retry_of = serializers.UUIDField(source="retry_of_id", read_only=True, allow_null=True)
    duration_ms = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    legacy_counts = serializers.SerializerMethodField(
        help_text="Imported runs: the target counts the legacy system recorded (total, succeeded, "
        "failed), which may count targets whose results it did not keep."
    )

    class Meta:
        model = Run
        fields = (
            "id", "job", "job_name", "job_version", "status", "pending_reason", "status_reason",
            "trigger", "requested_by", "requested_by_user_id", "retry_of", "schedule_id",
            "selector", "parameters", "policy", "steps", "target_count", "counts",
            "created_at", "started_at", "finished_at", "deadline_at", "cancel_requested_at",
            "canceled_by", "duration_ms", "imported", "legacy_ref", "legacy_counts",
        )  # fmt: skip
        read_only_fields = fields

    def get_duration_ms(self, run: Run) -> int | None:
        if run.started_at and run.finished_at:
            return int((run.finished_at - run.started_at).total_seconds() * 1000)
        return None

    def get_legacy_counts(self, run: Run) -> dict | None:
        if not run.imported:
            return None
        recorded = run.definition.get("imported", {})
        return {
            "total": recorded.get("total_targets"),
            "succeeded": recorded.get("succeeded_targets"),
            "failed": recorded.get("failed_targets"),
        }

    def get_steps(self, run: Run) -> list[dict]:
        return [
            {"index": i + 1, "name": s["name"], "kind": s["kind"], "os_family": s["os_family"]}
            for i, s in enumerate(run.definition.get("steps", []))
        ]


class RunStepSerializer(serializers.ModelSerializer):
    index = serializers.SerializerMethodField()

    class Meta:
        model = RunStep
        fields = (
            "index", "name", "kind", "status", "exit_code", "reason", "started_at",
            "finished_at", "duration_ms", "command",
        )  # fmt: skip
        read_only_fields = fields

    def get_index(self, step: RunStep) -> int:
        return step.index + 1


class RunTargetSerializer(serializers.ModelSerializer):
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta:
        model = RunTarget
        fields = (
            "id", "target_id", "target_name", "os_family", "position", "batch", "status",
            "pending_reason", "reason", "exit_code", "attempt", "worker", "queued_at",
            "started_at", "finished_at", "duration_ms", "output_bytes", "output_truncated",
            "output_sample", "steps",
        )  # fmt: skip
        read_only_fields = fields


class OutputChunkSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    step = serializers.SerializerMethodField()
    stream = serializers.CharField()
    text = serializers.CharField(source="data")
    created_at = serializers.DateTimeField()

    def get_step(self, event) -> int | None:
        return None if event.step_index is None else event.step_index + 1


TRIGGERS = Trigger.values


class RunStatsQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    since = DateTimeField(
        required=False,
        help_text="Count runs created from this moment on (default: 24 hours ago; at most 31 "
        "days back).",
    )


def _status_counts(help_text: str):
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


class RunStatsBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The hour's start.")
    counts = _status_counts("Runs created in this hour, by status (every status, zeros too).")


class RunStatsActiveSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    running = serializers.IntegerField()


class RunStatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    total = serializers.IntegerField(help_text="Runs created in the window.")
    totals = _status_counts("Runs created in the window, by status (every status, zeros too).")
    buckets = RunStatsBucketSerializer(
        many=True, help_text="One per hour of the window, oldest first."
    )
    active = RunStatsActiveSerializer(help_text="Runs pending or running now, whatever their age.")
