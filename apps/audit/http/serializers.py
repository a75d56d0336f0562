from rest_framework import serializers

from apps.audit.models import AuditRecord


class AuditRecordSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditRecord
        fields = (
            "id", "action", "occurred_at", "recorded_at", "actor", "source_ip", "user_agent",
            "request_id", "details",
        )  # fmt: skip
        read_only_fields = fields

    def get_actor(self, record: AuditRecord) -> dict:
        return {"kind": record.actor_kind, "id": record.actor_id or None, "name": record.actor_name}
