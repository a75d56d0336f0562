import ipaddress

import django_filters
from rest_framework.exceptions import ValidationError

from apps.audit.models import AuditRecord


class AuditRecordFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(help_text="Exact action, e.g. accounts.login.failed")
    action_prefix = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="e.g. accounts.login."
    )
    actor = django_filters.CharFilter(field_name="actor_name", help_text="Actor's name")
    actor_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    request_id = django_filters.CharFilter()
    source_ip = django_filters.CharFilter(method="filter_source_ip")

    class Meta:
        model = AuditRecord
        fields = ()

    def filter_source_ip(self, queryset, name, value):
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError as exc:
            raise ValidationError({"source_ip": ["Enter a valid IPv4 or IPv6 address."]}) from exc
        return queryset.filter(source_ip=str(address))
