"""Django admin for schedules: they are shown with their firing history and can be paused,
resumed or deleted here; their definitions change through the API (``/api/v1/schedules/``),
which validates the definition and recomputes the next due time."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.contrib import admin, messages

from apps.scheduling import services
from apps.scheduling.models import Firing, NotificationChannel, NotificationDelivery, Schedule
from opsconductor.events import Actor

# django-celery-beat's periodic tasks and their schedules are the clock's own bookkeeping
# (the tick and the kernel's periodic tasks, from the settings; ADR 0010), not OpsConductor's
# schedules: a periodic task added there would run outside every rule of the scheduler.
for _model in django_apps.get_app_config("django_celery_beat").get_models():
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


def _actor(request) -> Actor:
    return Actor(kind="user", id=str(request.user.pk), name=request.user.get_username())


class FiringInline(admin.TabularInline):
    model = Firing
    extra = 0
    can_delete = False
    fields = ("scheduled_for", "fired_at", "outcome", "reason", "run_id", "run_status",
              "catch_up", "revision")  # fmt: skip
    readonly_fields = fields
    ordering = ("-scheduled_for",)
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-scheduled_for")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "job_name", "kind", "cron", "timezone", "enabled", "next_fire_at",
                    "fired_count", "last_fired_at")  # fmt: skip
    list_filter = ("kind", "frequency", "enabled", "misfire_policy", "overlap_policy", "timezone")
    search_fields = ("name", "job_name", "id")
    exclude = ("sealed_parameters",)
    inlines = (FiringInline,)
    actions = ("pause", "resume", "delete_schedules")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Schedule._meta.fields if f.name != "sealed_parameters"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through services (events)
        return actions

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Pause the selected schedules")
    def pause(self, request, queryset):
        for schedule in queryset:
            services.schedule_set_enabled(schedule=schedule, enabled=False, actor=_actor(request))
        messages.success(request, f"Paused {queryset.count()} schedule(s).")

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        for schedule in queryset:
            services.schedule_set_enabled(schedule=schedule, enabled=True, actor=_actor(request))
        messages.success(request, f"Resumed {queryset.count()} schedule(s).")

    @admin.action(description="Delete the selected schedules (and their history)")
    def delete_schedules(self, request, queryset):
        count = queryset.count()
        for schedule in queryset:
            services.schedule_delete(schedule=schedule, actor=_actor(request))
        messages.success(request, f"Deleted {count} schedule(s).")


@admin.register(NotificationChannel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "url", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    exclude = ("sealed_secret",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in NotificationChannel._meta.fields if f.name != "sealed_secret"]

    def has_add_permission(self, request):
        return False


@admin.register(NotificationDelivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel_name", "event", "subject", "status", "attempts",
                    "response_status", "delivered_at")  # fmt: skip
    list_filter = ("status", "event")
    search_fields = ("channel_name", "subject")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in NotificationDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
