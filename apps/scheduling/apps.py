from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "apps.scheduling"
    label = "scheduling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.scheduling.selectors import scheduler_status
        from opsconductor.system import register_status_section

        # the System page's scheduler part (GET /api/v1/system/status/)
        register_status_section("scheduler", scheduler_status)
