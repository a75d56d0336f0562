from rest_framework import serializers

from apps.audit.models import AuditRecord
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
