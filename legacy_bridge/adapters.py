"""Adapters: a migrated legacy route answered by the new system in the legacy JSON shape.

An adapter is a function ``(request, rule) -> HttpResponse | None`` registered under a name;
a route in ``migrated`` mode naming it (``Route.adapter``) is answered by it. ``None`` means
"not this request" (another method or sub-path): the caller then gets the pointer to the new
endpoint instead. Adapters read the new system through the apps' interfaces only.

Who may call an adapter is declared when it is registered, and checked in one place
(``legacy_bridge.auth``) before the adapter runs: ``role=`` (the minimum role of
``opsconductor.roles``, for every method) or ``public=True`` (only for what the legacy backend
itself serves without a token). There is no default: registering without either is an error.
An adapter never authenticates by itself; it finds the caller in ``request.user``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from legacy_bridge.responses import legacy_error
from opsconductor.roles import Role

AdapterFunction = Callable[..., HttpResponse | None]


@dataclass(frozen=True)
class Adapter:
    name: str
    description: str
    function: AdapterFunction
    # the minimum role of the caller (authenticated with the new system's tokens), or None
    # when the route is public
    role: Role | None
    public: bool = False

    def __post_init__(self) -> None:
        if self.public == (self.role is not None):
            raise TypeError(
                f"adapter {self.name!r}: declare who may call it, either role=<minimum Role> "
                "or public=True (only for what the legacy backend serves without a token)"
            )
        if self.role is not None and not isinstance(self.role, Role):
            raise TypeError(f"adapter {self.name!r}: role must be an opsconductor.roles.Role")

    @property
    def access(self) -> str:
        """``public`` or the minimum role's name (the adapters API shows it)."""
        return "public" if self.public else str(self.role.value if self.role else "")


_adapters: dict[str, Adapter] = {}


def register_adapter(
    name: str, description: str, *, role: Role | None = None, public: bool = False
):
    """Register ``function`` as the adapter ``name``. Exactly one of ``role`` (the minimum
    role, checked by the bridge before the adapter runs) and ``public=True`` is required."""
    # validated here, at import time, not at the first request
    Adapter(name=name, description=description, function=_unset, role=role, public=public)

    def decorate(function: AdapterFunction) -> AdapterFunction:
        _adapters[name] = Adapter(
            name=name, description=description, function=function, role=role, public=public
        )
        return function

    return decorate


def _unset(request, rule) -> None:
    return None


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


@register_adapter(
    "targets-list",
    "GET <prefix> (e.g. /api/v3/targets): every target of the new system in the legacy "
    'listing shape ({"targets": [...], "total", "skip", "limit"}; ?skip= & ?limit=).',
    role=Role.VIEWER,
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
