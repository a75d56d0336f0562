from __future__ import annotations

import django_filters

from apps.targets.models import Credential, Group, HostKey, Target, TargetLabel
from opsconductor.api.errors import PositionedValidationError
from opsconductor.api.filters import StrictBooleanFilter


def selector_invalid(exc, field: str = "selector") -> PositionedValidationError:
    """A 400 for a selector error: its message under ``field``, and where it is in the text
    (``error.positions``) for a client to point at."""
    return PositionedValidationError({field: [str(exc)]}, positions={field: exc.position})


class TargetFilter(django_filters.FilterSet):
    environment = django_filters.ChoiceFilter(choices=Target.Environment.choices)
    os_family = django_filters.ChoiceFilter(choices=Target.OsFamily.choices)
    status = django_filters.ChoiceFilter(choices=Target.Status.choices)
    health_status = django_filters.MultipleChoiceFilter(
        choices=Target.Health.choices, help_text="Any of these (repeat the parameter)"
    )
    host_key_pending = StrictBooleanFilter(
        method="filter_host_key_pending",
        help_text="true: only targets with a host key waiting for an admin's decision",
    )
    tag = django_filters.CharFilter(field_name="tags__name", help_text="Has this tag")
    label = django_filters.CharFilter(method="filter_label", help_text="`key` or `key=value`")
    group = django_filters.CharFilter(method="filter_group", help_text="Member of this group")
    selector = django_filters.CharFilter(
        method="filter_selector", help_text="A selector, e.g. `env=production and tag:web`"
    )

    class Meta:
        model = Target
        fields = ()

    def filter_label(self, queryset, name, value):
        key, _, label_value = value.partition("=")
        labels = TargetLabel.objects.filter(key=key.strip())
        if "=" in value:
            labels = labels.filter(value=label_value.strip())
        return queryset.filter(id__in=labels.values("target_id"))

    def filter_host_key_pending(self, queryset, name, value):
        pending = HostKey.objects.filter(state=HostKey.State.PENDING).values("method__target_id")
        return queryset.filter(id__in=pending) if value else queryset.exclude(id__in=pending)

    def filter_group(self, queryset, name, value):
        return self._select(queryset, f'group:"{value}"', field="group")

    def filter_selector(self, queryset, name, value):
        return self._select(queryset, value, field="selector")

    @staticmethod
    def _select(queryset, text, *, field):
        from apps.targets.selection import SelectorError, select

        try:
            return select(text, queryset=queryset)
        except SelectorError as exc:
            raise selector_invalid(exc, field) from exc


class CredentialFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Credential.Kind.choices)

    class Meta:
        model = Credential
        fields = ()


class GroupFilter(django_filters.FilterSet):
    class Meta:
        model = Group
        fields = ()
