"""Adapters: a migrated legacy route answered by the new system in the legacy JSON shape.

An adapter is a function ``(request, rule) -> HttpResponse | None`` registered under a name;
a route in ``migrated`` mode naming it (``Route.adapter``) is answered by it. ``None`` means
"not this request" (another method or sub-path): the caller then gets the pointer to the new
endpoint instead. Adapters read the new system through the apps' interfaces only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from legacy_bridge.responses import legacy_error

AdapterFunction = Callable[..., HttpResponse | None]


@dataclass(frozen=True)
class Adapter:
    name: str
    description: str
    function: AdapterFunction


_adapters: dict[str, Adapter] = {}


def register_adapter(name: str, description: str):
    def decorate(function: AdapterFunction) -> AdapterFunction:
        _adapters[name] = Adapter(name=name, description=description, function=function)
        return function

    return decorate


def adapter_names() -> list[str]:
    return sorted(_adapters)


def get_adapter(name: str) -> Adapter | None:
    return _adapters.get(name)


def _relative(request, rule) -> str:
    return request.path_info[len(rule.prefix) :].strip("/")


@register_adapter(
    "system-health",
    "GET /api/v3/system/health: the new system's health in the legacy shape "
    '({"status": "healthy"|"unhealthy", "services": {...}}; 503 when unhealthy).',
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


@register_adapter(
    "targets-list",
    "GET <prefix> (e.g. /api/v3/targets): every target of the new system in the legacy "
    'listing shape ({"targets": [...], "total", "skip", "limit"}; ?skip= & ?limit=).',
)
def targets_list(request, rule) -> HttpResponse | None:
    from apps.targets.interface import resolve_selector, target_summaries

    if request.method not in ("GET", "HEAD") or _relative(request, rule):
        return None
    try:
        skip = int(request.GET.get("skip", 0))
        limit = int(request.GET.get("limit", 100))
    except ValueError:
        return legacy_error(400, "skip and limit must be integers.")
    if skip < 0 or not 1 <= limit <= 1000:
        return legacy_error(400, "skip must be >= 0 and limit between 1 and 1000.")
    ids = resolve_selector("all", active_only=False)
    page = ids[skip : skip + limit]
    summaries = target_summaries(page)
    targets = []
    for target_id in page:
        summary = summaries.get(target_id)
        if summary is None:
            continue
        targets.append(
            {
                "id": str(summary.id),
                "target_uuid": str(summary.id),
                "name": summary.name,
                "os_type": summary.os_family,
                "environment": summary.environment,
                "status": summary.status,
                "is_active": summary.status == "active",
                "health_status": summary.health_status,
            }
        )
    return JsonResponse({"targets": targets, "total": len(ids), "skip": skip, "limit": limit})
