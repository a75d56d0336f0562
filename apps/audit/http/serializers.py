from rest_framework import serializers

from apps.audit.models import AuditRecord, AuditVerification
from opsconductor.api.datetimes import DateTimeField


class AuditRecordSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()

    class Meta:
        model = AuditRecord
        fields = (
            "id", "sequence", "action", "occurred_at", "recorded_at", "actor", "source_ip",
            "user_agent", "request_id", "object", "outcome", "details", "changes", "prev_hash",
            "hash",
        )  # fmt: skip
        read_only_fields = fields

    def get_actor(self, record: AuditRecord) -> dict:
        return {"kind": record.actor_kind, "id": record.actor_id or None, "name": record.actor_name}

    def get_object(self, record: AuditRecord) -> dict:
        return {"type": record.object_type, "id": record.object_id, "name": record.object_name}


class ReportQuerySerializer(serializers.Serializer):
    since = DateTimeField()
    until = DateTimeField()

    def validate(self, attrs):
        if attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


class VerificationSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(
        choices=["queued", "running", "passed", "failed"], read_only=True,
        help_text="queued or running: not finished yet; passed: the chain is intact; failed: "
        "`problem` names the first record altered, inserted or removed",
    )  # fmt: skip
    trigger = serializers.ChoiceField(choices=["schedule", "manual", "command"], read_only=True)
    requested_at = DateTimeField(read_only=True)
    started_at = DateTimeField(read_only=True, allow_null=True)
    finished_at = DateTimeField(read_only=True, allow_null=True)
    broken_sequence = serializers.SerializerMethodField(
        help_text="The chain position where a failed verification stopped (null when it passed)"
    )

    class Meta:
        model = AuditVerification
        fields = (
            "id", "state", "trigger", "requested_by", "requested_at", "started_at",
            "finished_at", "checked", "first_sequence", "last_sequence", "broken_sequence",
            "problem", "record_id",
        )  # fmt: skip
        read_only_fields = fields

    def get_broken_sequence(self, verification: AuditVerification) -> int | None:
        if verification.state != "failed":
            return None
        return verification.last_sequence


class VerificationStatusSerializer(serializers.Serializer):
    last = VerificationSerializer(
        allow_null=True, help_text="The latest verification that finished (null: none yet)"
    )
    pending = VerificationSerializer(
        allow_null=True, help_text="The verification queued or running now, if any"
    )
    interval_seconds = serializers.FloatField(
        help_text="How often the schedule verifies the chain (AUDIT_VERIFY_SECONDS)"
    )
