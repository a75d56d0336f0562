"""``/api/v3/system/health``: the new system's health in the legacy shape (public, as the legacy
backend serves it without a token)."""

from __future__ import annotations

from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from legacy_bridge.adapters.registry import register_adapter


@register_adapter(
    "system-health",
    "GET /api/v3/system/health: the new system's health in the legacy shape "
    '({"status": "healthy"|"unhealthy", "services": {...}}; 503 when unhealthy).',
    # the legacy backend answers /api/v3/system/health* without a token, and ignores a bad one
    public=True,
)
def system_health(request, rule) -> HttpResponse | None:
    if request.method not in ("GET", "HEAD"):
        return None
    # the route is /api/v3/system/health itself, or a prefix above it (/api/v3/system)
    if not request.path_info.rstrip("/").endswith("/health"):
        return None
    services = {}
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            services[f"database:{alias}"] = "healthy"
        except Exception:
            services[f"database:{alias}"] = "unhealthy"
    healthy = all(state == "healthy" for state in services.values())
    return JsonResponse(
        {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": timezone.now().isoformat(),
            "service": "opsconductor",
            "services": services,
        },
        status=200 if healthy else 503,
    )
