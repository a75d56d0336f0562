"""Serializer helpers shared by every app's API."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.fields import SkipField


class StrictFieldsMixin:
    """Rejects what would otherwise be silently ignored: unknown fields (typos) and changes to
    read-only fields. Read-only fields sent back unchanged (a GET body edited and PUT back)
    pass."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for key in data:
                field = fields.get(key)
                if field is None:
                    errors[str(key)] = ["Unknown field."]
                elif field.read_only and self._changes_read_only(field, data[key]):
                    errors[str(key)] = ["This field cannot be changed here."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]

    def _changes_read_only(self, field, value) -> bool:
        instance = getattr(self, "instance", None)
        if instance is None or isinstance(instance, list):
            return False
        try:
            current = field.to_representation(field.get_attribute(instance))
        except (SkipField, AttributeError, KeyError):
            return False
        return current != value and str(current) != str(value)
