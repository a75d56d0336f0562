"""Serializer helpers shared by every app's API."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers
from rest_framework.fields import SkipField

from opsconductor.api.datetimes import DateTimeField


class StrictFieldsMixin:
    """Rejects what would otherwise be silently ignored: unknown fields (typos) and read-only
    fields on a create (``prefix``, ``last_used_at``) or changed on an update. Read-only fields
    sent back unchanged (a GET body edited and PUT back) pass. ``strict_accepts`` names
    read-only fields the serializer reads from the input itself.

    A ModelSerializer with it maps date-time columns to the API's DateTimeField (offsets and
    years in range, opsconductor.api.datetimes)."""

    strict_accepts: tuple[str, ...] = ()
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for key in data:
                field = fields.get(key)
                if field is None:
                    errors[str(key)] = ["Unknown field."]
                elif key in self.strict_accepts:
                    continue
                elif field.read_only and self._changes_read_only(field, data[key]):
                    creating = getattr(self.root, "instance", None) is None  # type: ignore[attr-defined]
                    errors[str(key)] = [
                        "This field is read-only."
                        if creating
                        else "This field cannot be changed here."
                    ]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]

    def _changes_read_only(self, field, value) -> bool:
        instance = getattr(self, "instance", None)
        if instance is None:
            # a create: nothing to send back unchanged (items nested in an update stay lenient)
            return getattr(self.root, "instance", None) is None  # type: ignore[attr-defined]
        if isinstance(instance, list):
            return False
        try:
            current = field.to_representation(field.get_attribute(instance))
        except (SkipField, AttributeError, KeyError):
            return False
        return current != value and str(current) != str(value)
