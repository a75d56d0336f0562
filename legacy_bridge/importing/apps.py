from django.apps import AppConfig


class LegacyImportConfig(AppConfig):
    """The importers that move the legacy backend's data in (``manage.py import_legacy``)."""

    name = "legacy_bridge.importing"
    label = "legacy_import"
    verbose_name = "Legacy import"
    default_auto_field = "django.db.models.BigAutoField"
