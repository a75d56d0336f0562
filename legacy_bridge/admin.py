"""The route table in the Django admin. Changes go through the services (version bump, audit
event), like the API; only admins (the role, not merely staff) may change routes."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm

from apps.accounts.interface import actor_for_request
from legacy_bridge import services
from legacy_bridge.models import Route, TrafficBucket
from opsconductor.roles import Role, has_role


class RouteForm(ModelForm):
    class Meta:
        model = Route
        fields = ("prefix", "mode", "new_url", "adapter", "message", "note")

    def _post_clean(self):
        # validation (and normalization) is the service's; errors land on their fields
        super()._post_clean()
        try:
            cleaned = services._clean(self.cleaned_data, existing=None)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.cleaned_data.update(cleaned)


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    form = RouteForm
    list_display = ("prefix", "mode", "new_url", "adapter", "updated_at")
    list_filter = ("mode",)
    search_fields = ("prefix", "new_url", "note")

    def has_add_permission(self, request):
        return has_role(request.user, Role.ADMIN)

    def has_change_permission(self, request, obj=None):
        return has_role(request.user, Role.ADMIN)

    def has_delete_permission(self, request, obj=None):
        return has_role(request.user, Role.ADMIN)

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data.get(field, "") for field in services.FIELDS}
        if change:
            services.route_update(route_id=obj.pk, actor=actor_for_request(request), **values)
        else:
            obj.pk = services.route_create(actor=actor_for_request(request), **values)
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.route_delete(route_id=obj.pk, actor=actor_for_request(request))

    def delete_queryset(self, request, queryset):
        for route in queryset:
            services.route_delete(route_id=route.pk, actor=actor_for_request(request))


@admin.register(TrafficBucket)
class TrafficBucketAdmin(admin.ModelAdmin):
    """Read-only: counted by the bridge."""

    list_display = ("hour", "prefix", "method", "status_class", "count")
    list_filter = ("status_class", "method")
    search_fields = ("prefix",)
    date_hierarchy = "hour"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
