from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from opsconductor import health, system
from opsconductor.console import views as console
from opsconductor.observability.views import metrics

api_v1 = [
    path("", include("apps.accounts.http.urls")),
    path("", include("apps.targets.http.urls")),
    path("", include("apps.jobs.http.urls")),
    path("", include("apps.execution.http.urls")),
    path("", include("apps.scheduling.http.urls")),
    path("", include("apps.audit.http.urls")),
    path("", include("legacy_bridge.http.urls")),
    path("system/status/", system.SystemStatusView.as_view(), name="system-status"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its start-up script as a file: no inline script, so the gateway's
    # Content-Security-Policy (script-src 'self') lets the page run
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(api_v1)),
    # The legacy backend's URL space, forwarded by the strangler-fig bridge, with and without a
    # trailing slash: /api/schedules reaches the bridge (and the legacy backend) as the client
    # sent it, for every method; APPEND_SLASH never redirects it (docs/legacy-bridge.md).
    re_path(r"^api/(?:v3|schedules)(?:/|$)", include("legacy_bridge.urls")),
    # The web console (docs/console.md): every other path is one of its pages, routed in the
    # browser. Anything under api/, admin/ or static/ is never the console: unknown API paths
    # keep their 404 in the API's shape.
    re_path(
        r"^(?!api(?:/|$)|admin(?:/|$)|static/|healthz$|readyz$|metrics$)",
        console.index,
        name="console",
    ),
]

handler400 = "opsconductor.api.errors.handler400"
handler403 = "opsconductor.api.errors.handler403"
handler404 = "opsconductor.api.errors.handler404"
handler500 = "opsconductor.api.errors.handler500"
