from django.apps import AppConfig


class LegacyBridgeConfig(AppConfig):
    name = "legacy_bridge"
    label = "legacy_bridge"
    verbose_name = "Legacy bridge"
