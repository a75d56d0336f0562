from django.apps import AppConfig


class LegacyBridgeConfig(AppConfig):
    name = "legacy_bridge"
    label = "legacy_bridge"
    verbose_name = "Legacy bridge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from legacy_bridge.health import readiness
        from opsconductor.health import register_soft_check

        register_soft_check("legacy_bridge", readiness)
