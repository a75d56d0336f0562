from __future__ import annotations

from rest_framework import serializers

from apps.jobs.models import Job, JobVersion
from apps.jobs.services import current_definition, masked
from opsconductor.api.serializers import StrictFieldsMixin


class JobSerializer(serializers.ModelSerializer):
    """A job: its current definition (secret defaults masked) and what is known about it."""

    version = serializers.IntegerField(source="latest_version", read_only=True)
    owner = serializers.SerializerMethodField()
    archived = serializers.BooleanField(source="is_archived", read_only=True)
    parameters = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id", "name", "description", "labels", "default_selector", "policy", "parameters",
            "steps", "version", "owner", "archived", "archived_at", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    def _definition(self, job: Job) -> dict:
        cache = self.context.setdefault("_definitions", {})
        if job.pk not in cache:
            cache[job.pk] = masked(current_definition(job))
        return cache[job.pk]

    def get_owner(self, job: Job) -> dict:
        return {"id": job.owner_id, "name": job.owner_name}

    def get_parameters(self, job: Job) -> list[dict]:
        return self._definition(job).get("parameters", [])

    def get_steps(self, job: Job) -> list[dict]:
        return self._definition(job).get("steps", [])


class JobVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = JobVersion
        fields = ("number", "message", "diff", "created_at", "created_by")
        read_only_fields = fields

    def get_created_by(self, version: JobVersion) -> dict:
        return {"id": version.created_by_id, "name": version.created_by_name}


class JobVersionDetailSerializer(JobVersionSerializer):
    definition = serializers.SerializerMethodField()

    class Meta(JobVersionSerializer.Meta):
        fields = (*JobVersionSerializer.Meta.fields, "definition")
        read_only_fields = fields

    def get_definition(self, version: JobVersion) -> dict:
        return masked(version.definition)


class RevertSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class CloneSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ValidateRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    parameters = serializers.DictField(required=False, default=dict)
    selector = serializers.CharField(required=False, allow_blank=True, max_length=4000)
