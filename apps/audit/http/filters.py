import django_filters

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
    source_ip = django_filters.CharFilter()

    class Meta:
        model = AuditRecord
        fields = ()
