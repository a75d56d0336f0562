"""The URLs the streams process answers (opsconductor/asgi.py): the live streams of runs and
the process's health, readiness and metrics. Anything else is a 404 there: the gateway sends
it to the web processes."""

from django.urls import include, path

from opsconductor import health
from opsconductor.observability.views import metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("apps.execution.http.stream_urls")),
]

handler400 = "opsconductor.api.errors.handler400"
handler403 = "opsconductor.api.errors.handler403"
handler404 = "opsconductor.api.errors.handler404"
handler500 = "opsconductor.api.errors.handler500"
