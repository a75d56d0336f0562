import ipaddress

import django_filters
from django.db.models import Q, TextField
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ValidationError

from apps.audit.models import SEARCH_TEXT_SQL, AuditRecord
from opsconductor.api.datetimes import IsoDateTimeFilter


class AuditRecordFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(help_text="Exact action, e.g. accounts.login.failed")
    action_prefix = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="e.g. accounts.login."
    )
    actor = django_filters.CharFilter(field_name="actor_name", help_text="Actor's name")
    actor_id = django_filters.CharFilter()
    actor_kind = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    object = django_filters.CharFilter(
        method="filter_object", help_text="`<type>:<id>` (e.g. target:6f1c…) or an object name"
    )
    outcome = django_filters.CharFilter(
        help_text="success, failure, denied, missed, or a run status"
    )
    since = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    request_id = django_filters.CharFilter()
    source_ip = django_filters.CharFilter(method="filter_source_ip")
    q = django_filters.CharFilter(
        method="filter_text",
        help_text="Free text: in the action, actor, object name, request id or user agent",
    )

    class Meta:
        model = AuditRecord
        fields = ()

    def filter_source_ip(self, queryset, name, value):
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError as exc:
            raise ValidationError({"source_ip": ["Enter a valid IPv4 or IPv6 address."]}) from exc
        return queryset.filter(source_ip=str(address))

    def filter_object(self, queryset, name, value):
        kind, sep, ident = value.partition(":")
        if sep:
            return queryset.filter(object_type=kind.strip(), object_id=ident.strip())
        return queryset.filter(object_name=value.strip())

    def filter_text(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        # the expression of the trigram index (migration 0003): on PostgreSQL a rare word is
        # found through the index instead of by reading every record
        return queryset.alias(
            search_text=RawSQL(SEARCH_TEXT_SQL, (), output_field=TextField())  # noqa: S611 (a constant)
        ).filter(Q(search_text__contains=text.upper()) | Q(request_id=text))
