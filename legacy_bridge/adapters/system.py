"""``/api/v3/system``: the legacy UI's settings and health pages (Y1-Y13), answered by the new
system.

- ``info``, ``time``, ``timezones``: the deployment's time zone (``TIME_ZONE``), with the
  ``timezone.display_name`` and ``current_utc_offset`` the UI reads (the legacy backend never
  returned them);
- ``settings``: the keys the page edits. Those the new system has are its deployment's
  settings, read-only here (a PUT may send their current value, and is refused with 422 naming
  the key for another): ``timezone`` (``TIME_ZONE``), ``session_timeout_minutes`` and
  ``warning_time_minutes`` (``LEGACY_SESSION_SECONDS``, ``LEGACY_SESSION_WARNING_SECONDS``: the
  legacy UI's sessions), ``audit_log_retention_days`` (``AUDIT_RETENTION_DAYS``). The others
  have no counterpart: they are validated and kept for the page (``LegacySetting``), with no
  effect. Writing is an admin's (``legacy_bridge.settings.changed``);
- ``status`` and the health pages: this web process's view of the host (load, memory, disk)
  and of the databases, cache and broker; never an address, a host name or an error text of a
  dependency. The health routes are public, as the legacy backend served them.

``system-health`` (a function adapter, public) still answers the health routes alone for a
route that names it (``/api/v3/system/health`` or ``/api/v3/system``).
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.db import connections, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from legacy_bridge.adapters.common import (
    actor,
    answer,
    endpoint,
    invalid,
    object_body,
)
from legacy_bridge.adapters.registry import Area, register_adapter
from legacy_bridge.models import LegacySetting
from legacy_bridge.responses import field_error
from opsconductor.events import publish
from opsconductor.roles import Role

STARTED = time.time()  # this process's start: its uptime
NOT_ZONES = {"Factory", "localtime"}  # in the zone database, but not time zones

area = Area(
    "legacy-system",
    "/api/v3/system: system info, time and time zones, the settings page (read-only keys the "
    "deployment sets; the others kept for the page), status and health in the legacy shapes.",
    root="/api/v3/system",
)


def _now() -> datetime:
    return timezone.now()


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _offset_text(moment: datetime) -> str:
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _uptime() -> str:
    seconds = int(time.time() - STARTED)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{days}d {hours}h {minutes}m {seconds}s"


def _version() -> str:
    return settings.SPECTACULAR_SETTINGS.get("VERSION", "")


# --- host metrics (this web process's host, from /proc and the file system) --------------------


def _memory() -> dict | None:
    try:
        with Path("/proc/meminfo").open() as meminfo:
            values = {
                line.split(":")[0]: int(line.split()[1]) * 1024 for line in meminfo if ":" in line
            }
        total, available = values["MemTotal"], values["MemAvailable"]
    except (OSError, KeyError, ValueError, IndexError):
        return None
    used = total - available
    return {
        "percent": round(100 * used / total, 1) if total else 0.0,
        "total_gb": round(total / 2**30, 2),
        "used_gb": round(used / 2**30, 2),
        "available_gb": round(available / 2**30, 2),
    }


def _disk() -> dict | None:
    try:
        usage = shutil.disk_usage(settings.BASE_DIR)
    except OSError:
        return None
    return {
        "percent": round(100 * usage.used / usage.total, 1) if usage.total else 0.0,
        "total_gb": round(usage.total / 2**30, 2),
        "used_gb": round(usage.used / 2**30, 2),
        "free_gb": round(usage.free / 2**30, 2),
    }


def _cpu_percent() -> float | None:
    """The one-minute load over the number of cores, in percent (capped at 100)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    return round(min(100.0, 100 * load / (os.cpu_count() or 1)), 1)


# --- dependencies -----------------------------------------------------------------------------


def _databases() -> dict[str, bool]:
    from opsconductor.health import _check_database

    return {alias: _check_database(alias) is None for alias in connections}


def _cache_ok() -> bool:
    from opsconductor.health import _check_cache

    return _check_cache() is None


def _broker_ok() -> bool:
    from opsconductor.health import _check_broker

    return _check_broker() is None


def _states(databases: dict[str, bool]) -> dict[str, str]:
    return {alias: "healthy" if up else "unhealthy" for alias, up in databases.items()}


def _check(healthy: bool, status: str, details=None, *, error: str | None = None) -> dict:
    return {
        "healthy": healthy,
        "status": status,
        "response_time": None,
        "last_check": _now().isoformat(),
        "error": error,
        "details": details,
    }


# --- health (public, as the legacy backend served it) -------------------------------------------


def health_components() -> JsonResponse:
    """Y7: ``{overall_health, components{database, disk, memory}, timestamp}``; 503 when a
    database is down."""
    databases = _databases()
    database_ok = all(databases.values())
    disk, memory = _disk(), _memory()
    components = {
        "database": {
            "status": "healthy" if database_ok else "unhealthy",
            "message": "Database connection is healthy"
            if database_ok
            else "Database unreachable: " + ", ".join(a for a, ok in databases.items() if not ok),
        }
    }
    for name, usage in (("disk", disk), ("memory", memory)):
        if usage is None:
            components[name] = {"status": "unknown", "message": f"{name.title()} usage unknown"}
            continue
        components[name] = {
            "status": "healthy" if usage["percent"] < 90 else "warning",
            "message": f"{name.title()} usage: {usage['percent']}%",
            "usage_percent": usage["percent"],
        }
    return JsonResponse(
        {
            "overall_health": "healthy" if database_ok else "unhealthy",
            "components": components,
            "timestamp": _now().isoformat(),
        },
        status=200 if database_ok else 503,
    )


def health_overview() -> JsonResponse:
    """Y10: the dashboard's overall view."""
    databases = _databases()
    database_ok = all(databases.values())
    cache_ok, broker_ok = _cache_ok(), _broker_ok()
    disk, memory, cpu = _disk(), _memory(), _cpu_percent()
    services = {
        "web": {"healthy": True, "status": "running"},
        "databases": {"healthy": database_ok, "status": "running" if database_ok else "down"},
        "cache": {"healthy": cache_ok, "status": "running" if cache_ok else "down"},
        "broker": {"healthy": broker_ok, "status": "running" if broker_ok else "down"},
    }
    checks = {
        "database": _check(
            database_ok,
            "connected" if database_ok else "error",
            {"databases": _states(databases)},
        ),
        "redis": _check(cache_ok, "connected" if cache_ok else "error"),
        "system": _check(
            True,
            "healthy",
            {
                "cpu_usage": cpu,
                "memory_usage": memory["percent"] if memory else None,
                "disk_usage": disk["percent"] if disk else None,
            },
        ),
        "application": _check(
            True, "running", {"api_server": {"healthy": True, "status": "running"}}
        ),
        "services": _check(
            all(s["healthy"] for s in services.values()), "running", {"services": services}
        ),
        # the new system does not run in containers it manages: nothing to report
        "docker_containers": _check(
            True,
            "not_applicable",
            {"containers": {}, "summary": {"total": 0, "running": 0, "healthy": 0, "unhealthy": 0}},
        ),
        "nginx": _check(True, "not_applicable"),
        "celery": _check(broker_ok, "running" if broker_ok else "error", {"broker": broker_ok}),
        "volumes": _check(True, "not_applicable", {"volumes": {}, "volumes_count": 0}),
    }
    checks["volumes"]["healthy"] = True
    healthy = database_ok and cache_ok and broker_ok
    return JsonResponse(
        {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": _now().isoformat(),
            "health_checks": checks,
            "health_metrics": {},
            "recommendations": [],
            "uptime": _uptime(),
            "version": _version(),
            "environment": settings.OPSCONDUCTOR_ENV,
            "alerts": [
                f"{name} is down" for name, service in services.items() if not service["healthy"]
            ],
            "metadata": {"source": "opsconductor", "version": _version()},
        }
    )


def health_system() -> JsonResponse:
    """Y11: cpu, memory and disk of this web process's host."""
    disk, memory, cpu = _disk(), _memory(), _cpu_percent()
    return JsonResponse(
        {
            "status": "healthy",
            "cpu": {"cores": os.cpu_count(), "usage_percent": cpu},
            "memory": {
                "usage_percent": memory["percent"] if memory else None,
                "used_gb": memory["used_gb"] if memory else None,
                "total_gb": memory["total_gb"] if memory else None,
            },
            "disk": {
                "usage_percent": disk["percent"] if disk else None,
                "used_gb": disk["used_gb"] if disk else None,
                "total_gb": disk["total_gb"] if disk else None,
            },
            "uptime": _uptime(),
        }
    )


def health_database() -> JsonResponse:
    """Y12: the databases, and the connections open to the main one."""
    started = time.monotonic()
    databases = _databases()
    elapsed = round(1000 * (time.monotonic() - started), 1)
    connections_open = None
    if connections["default"].vendor == "postgresql" and databases.get("default"):
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            connections_open = cursor.fetchone()[0]
    ok = all(databases.values())
    return JsonResponse(
        {
            "status": "healthy" if ok else "unhealthy",
            "connections": connections_open,
            "databases": _states(databases),
            "response_time_ms": elapsed,
        },
        status=200 if ok else 503,
    )


def health_application() -> JsonResponse:
    """Y13: this web process, the cache and the broker the workers take their tasks from."""
    started = time.monotonic()
    cache_ok, broker_ok = _cache_ok(), _broker_ok()
    return JsonResponse(
        {
            "status": "healthy" if cache_ok and broker_ok else "unhealthy",
            "response_time_ms": round(1000 * (time.monotonic() - started), 1),
            # the web process does not know the workers; the broker they read from is checked
            "workers": {"broker": "healthy" if broker_ok else "unhealthy"},
            "cache": {"status": "healthy" if cache_ok else "unhealthy", "hit_rate": None},
            "uptime": _uptime(),
        }
    )


HEALTH = {
    "": health_components,
    "/": health_overview,
    "/system": health_system,
    "/database": health_database,
    "/application": health_application,
}


@register_adapter(
    "system-health",
    "GET /api/v3/system/health (and /health/, /health/system, /database, /application): the "
    "new system's health in the legacy shapes; 503 when a database is down.",
    # the legacy backend answers /api/v3/system/health* without a token, and ignores a bad one
    public=True,
)
def system_health(request, rule) -> HttpResponse | None:
    if request.method not in ("GET", "HEAD"):
        return None
    path = request.path_info
    marker = "/api/v3/system/health"
    if not path.startswith(marker):
        return None
    answer_for = HEALTH.get(path[len(marker) :])
    return answer_for() if answer_for else None


@area.endpoint("GET", r"/health", calls="Y7", example="/health", public=True)
def y7(request):
    return health_components()


@area.endpoint("GET", r"/health/", calls="Y10", example="/health/", public=True)
def y10(request):
    return health_overview()


@area.endpoint("GET", r"/health/system", calls="Y11", example="/health/system", public=True)
def y11(request):
    return health_system()


@area.endpoint("GET", r"/health/database", calls="Y12", example="/health/database", public=True)
def y12(request):
    return health_database()


@area.endpoint(
    "GET", r"/health/application", calls="Y13", example="/health/application", public=True
)
def y13(request):
    return health_application()


# --- info, time, status ---------------------------------------------------------------------------


def zone_info() -> dict:
    now = _now().astimezone(_zone())
    abbreviation = now.tzname() or settings.TIME_ZONE
    name = settings.TIME_ZONE
    return {
        "name": name,
        "display_name": name if abbreviation == name else f"{name} ({abbreviation})",
        "abbreviation": abbreviation,
        "current_utc_offset": _offset_text(now),
        "is_dst": bool(now.dst()),
    }


@area.endpoint("GET", r"/info", calls="Y1", example="/info", role=Role.VIEWER)
def info(request):
    return answer(
        {
            "hostname": "opsconductor",  # never this machine's name
            "platform": platform.system(),
            "version": _version(),
            "status": "healthy",
            "timezone": zone_info(),
        }
    )


@functools.cache
def _zones() -> dict[str, str]:
    return {name: name.replace("_", " ") for name in sorted(available_timezones() - NOT_ZONES)}


@area.endpoint("GET", r"/timezones", calls="Y4", example="/timezones", role=Role.VIEWER)
def timezones(request):
    return answer({"timezones": _zones()})


@area.endpoint("GET", r"/time", calls="Y5", example="/time", role=Role.VIEWER)
def system_time(request):
    utc = _now().astimezone(UTC)
    local = utc.astimezone(_zone())
    return answer(
        {
            "utc_time": utc.isoformat(),
            "local_time": local.isoformat(),
            "timestamp": int(utc.timestamp()),
            "timezone": settings.TIME_ZONE,
            "dst_active": bool(local.dst()),
            "utc_offset_hours": local.utcoffset().total_seconds() / 3600,
        }
    )


@area.endpoint("GET", r"/status", calls="Y6", example="/status", role=Role.VIEWER)
def status(request):
    memory, disk = _memory(), _disk()
    return answer(
        {
            "uptime": _uptime(),
            "resource_usage": {"cpu_percent": _cpu_percent(), "memory": memory, "disk": disk},
            "timestamp": _now().isoformat(),
        }
    )


# --- email (Y8, Y9) -------------------------------------------------------------------------------


@area.endpoint(
    "GET", r"/email-targets/eligible", calls="Y8", example="/email-targets/eligible",
    role=Role.VIEWER,
)  # fmt: skip
def email_targets(request):
    """Targets of the legacy type "email" do not exist here: email notifications are the
    scheduling app's notification channels."""
    return answer({"targets": []})


@area.endpoint(
    "GET", r"/email-target/config", calls="Y9", example="/email-target/config", role=Role.VIEWER
)
def email_target_config(request):
    return answer(
        {
            "is_configured": False,
            "target_id": None,
            "message": "No email target configured",
        }
    )


# --- settings (Y2, Y3) ----------------------------------------------------------------------------

# key -> (type, default, lowest, highest); the page's keys and those the legacy backend returned
KEPT = {
    "date_format": (str, "YYYY-MM-DD", None, None),
    "time_format": (str, "24h", None, None),
    "language": (str, "en", None, None),
    "theme": (str, "light", None, None),
    "notifications_enabled": (bool, True, None, None),
    "auto_refresh_interval": (int, 30, 5, 3600),
    "max_concurrent_jobs": (int, 10, 1, 1000),
    "log_retention_days": (int, 30, 1, 3650),
    "job_history_retention_days": (int, 90, 1, 3650),
    "job_result_retention_days": (int, 30, 1, 3650),
    "archive_old_jobs": (bool, False, None, None),
    "max_log_file_size_mb": (int, 100, 1, 10240),
    "log_compression_enabled": (bool, True, None, None),
    "backup_enabled": (bool, False, None, None),
    "backup_retention_days": (int, 7, 1, 3650),
    "maintenance_mode": (bool, False, None, None),
    "debug_mode": (bool, False, None, None),
    "audit_log_export": (str, "monthly", None, None),
}
CHOICES = {
    "audit_log_export": ("never", "daily", "weekly", "monthly"),
    "time_format": ("12h", "24h"),
    "theme": ("light", "dark"),
}
# key -> (the deployment setting it is, a function of the settings giving the value)
DEPLOYMENT = {
    "timezone": ("TIME_ZONE", lambda: settings.TIME_ZONE),
    "session_timeout_minutes": (
        "LEGACY_SESSION_SECONDS",
        lambda: settings.LEGACY_SESSION_SECONDS // 60,
    ),
    "warning_time_minutes": (
        "LEGACY_SESSION_WARNING_SECONDS",
        lambda: settings.LEGACY_SESSION_WARNING_SECONDS // 60,
    ),
    "audit_log_retention_days": ("AUDIT_RETENTION_DAYS", lambda: settings.AUDIT_RETENTION_DAYS),
}


def current_settings() -> dict:
    stored = dict(LegacySetting.objects.values_list("key", "value"))
    values = {key: stored.get(key, spec[1]) for key, spec in KEPT.items()}
    values.update({key: read() for key, (_, read) in DEPLOYMENT.items()})
    return values


@area.endpoint("GET", r"/settings", calls="Y2", example="/settings", role=Role.VIEWER)
def settings_get(request):
    return answer({"settings": current_settings(), "timestamp": _now().isoformat()})


def _checked_value(key: str, value):
    """``value`` for ``key``, or the FastAPI-style error."""
    kind, _, low, high = KEPT[key]
    loc = ("body", key)
    if kind is bool:
        if not isinstance(value, bool):
            return None, field_error(
                loc, "Input should be a valid boolean", "bool_type", input=value
            )
        return value, None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, field_error(
                loc,
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
                input=value,
            )
        if low is not None and value < low:
            return None, field_error(
                loc,
                f"Input should be greater than or equal to {low}",
                "greater_than_equal",
                input=value,
                ctx={"ge": low},
            )
        if high is not None and value > high:
            return None, field_error(
                loc,
                f"Input should be less than or equal to {high}",
                "less_than_equal",
                input=value,
                ctx={"le": high},
            )
        return value, None
    if not isinstance(value, str):
        return None, field_error(loc, "Input should be a valid string", "string_type", input=value)
    if key in CHOICES and value not in CHOICES[key]:
        expected = ", ".join(f"'{c}'" for c in CHOICES[key])
        return None, field_error(
            loc, f"Input should be {expected}", "enum", input=value, ctx={"expected": expected}
        )
    return value, None


@area.endpoint("PUT", r"/settings", calls="Y3", example="/settings", role=Role.ADMIN)
@endpoint
def settings_put(request):
    """Every key checked first (all errors at once, nothing saved on any): a key the new
    system sets in its deployment may only be sent with its current value."""
    data = object_body(request)
    current = current_settings()
    errors, changes = [], {}
    for key, value in data.items():
        if key in DEPLOYMENT:
            name, read = DEPLOYMENT[key]
            number_like = isinstance(read(), int) and not isinstance(value, bool)
            if number_like and not isinstance(value, int):
                errors.append(
                    field_error(
                        ("body", key),
                        "Input should be a valid integer, unable to parse string as an integer",
                        "int_parsing",
                        input=value,
                    )
                )
            elif value != read():
                errors.append(
                    field_error(
                        ("body", key),
                        f"Set by the deployment ({name}: {read()!r}); it cannot be changed here.",
                        "read_only",
                        input=value,
                    )
                )
            continue
        if key not in KEPT:
            continue  # unknown keys are ignored, as the legacy backend's model did
        checked, error = _checked_value(key, value)
        if error:
            errors.append(error)
        elif checked != current[key]:
            changes[key] = checked
    if errors:
        raise invalid(*errors)
    who = actor(request)
    with transaction.atomic(using="default"):
        for key, value in changes.items():
            LegacySetting.objects.update_or_create(
                key=key, defaults={"value": value, "updated_by": who.as_dict()}
            )
        if changes:
            publish(
                "legacy_bridge.settings.changed",
                {
                    "changes": {k: {"from": current[k], "to": v} for k, v in changes.items()},
                    "note": "legacy settings page values; no effect in the new system",
                },
                actor=who,
            )
    return answer(
        {
            "success": True,
            "message": f"Updated {len(changes)} settings",
            "updated_settings": list(changes),
            "timestamp": _now().isoformat(),
        }
    )


area.register()
