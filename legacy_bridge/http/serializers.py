from rest_framework import serializers

from legacy_bridge.models import Mode
from opsconductor.api.serializers import StrictFieldsMixin


class RouteInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """A route to add or change. The service validates the combination (prefix in the legacy
    URL space, a migrated prefix's new endpoint or adapter)."""

    prefix = serializers.CharField(max_length=300)
    mode = serializers.ChoiceField(choices=Mode.choices)
    new_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    adapter = serializers.CharField(max_length=100, required=False, allow_blank=True)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class TrafficSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status_class = serializers.DictField(
        child=serializers.IntegerField(), help_text='Requests per status class ("2xx", ...).'
    )
    by_method = serializers.DictField(child=serializers.IntegerField())


class RouteSerializer(serializers.Serializer):
    id = serializers.UUIDField(
        allow_null=True, help_text="The route row; null for a default from the settings."
    )
    prefix = serializers.CharField()
    mode = serializers.ChoiceField(
        choices=Mode.choices,
        allow_null=True,
        help_text="null: no rule covers this prefix any more, but it got traffic this week.",
    )
    source = serializers.ChoiceField(choices=["settings", "database", "traffic"])
    new_url = serializers.CharField()
    adapter = serializers.CharField()
    message = serializers.CharField()
    note = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)
    last_day = TrafficSerializer(help_text="Requests in the last 24 hours (whole hours).")
    last_week = TrafficSerializer(help_text="Requests in the last 7 days (whole hours).")
    last_seen = serializers.DateTimeField(
        allow_null=True, help_text="Start of the latest hour with traffic for this prefix."
    )


class AdapterSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    access = serializers.CharField(
        help_text="Who may call it through the bridge: 'public', or the minimum role of a "
        "caller authenticated with the new system's tokens (viewer, operator, manager, admin)."
    )
    root = serializers.CharField(
        help_text="The legacy prefix an area adapter serves (a route of that prefix may name "
        "it); empty for an adapter that may serve any prefix."
    )


class ImportRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="running, finished, or failed (stopped by an error)")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    only = serializers.ListField(
        child=serializers.CharField(), help_text="The tables asked for (empty: all)."
    )
    ok = serializers.BooleanField(
        allow_null=True,
        help_text="No failure and every verification matched; null while running.",
    )
    error = serializers.CharField(help_text="What stopped the run, if it was stopped.")
    totals = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows read, imported, already_present, skipped and failed over every table.",
    )


class ImportRunDetailSerializer(ImportRunSerializer):
    report = serializers.DictField(
        help_text="The end report as `manage.py import_legacy --report-json` writes it: per "
        "table what was read, imported, already present, skipped and failed (with reasons), "
        "notes and the verification (docs/migration.md)."
    )
