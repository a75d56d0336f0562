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
        # PostgreSQL date-times through psycopg's C loader (opsconductor/db/loaders.py)
        from django.db.backends.signals import connection_created

        from opsconductor.db.loaders import use_fast_timestamptz

        connection_created.connect(use_fast_timestamptz, dispatch_uid="oc-fast-timestamptz")
        from opsconductor.observability import celery_context  # noqa: F401  (signal hooks)
