from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class KernelConfig(AppConfig):
    name = "opsconductor"
    label = "opsconductor"
    verbose_name = "OpsConductor kernel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Each app declares its event subscribers in apps/<app>/subscribers.py.
        autodiscover_modules("subscribers")
        # ... and its Prometheus collectors in apps/<app>/metrics.py (GET /metrics).
        from opsconductor.observability import metrics

        metrics.autodiscover()
        from opsconductor.observability import celery_context  # noqa: F401  (signal hooks)
