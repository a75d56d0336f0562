"""Liveness (/healthz) and readiness (/readyz) probes. No authentication: they reveal only
which dependency is down, never a connection string or credential."""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database(alias: str) -> str | None:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        logger.warning("readiness: database %s unreachable: %s", alias, type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_broker() -> str | None:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        logger.warning("readiness: broker unreachable: %s", type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_cache() -> str | None:
    try:
        cache.set("opsconductor:readyz", "1", timeout=5)
        if cache.get("opsconductor:readyz") != "1":
            return "not storing values"
    except Exception as exc:
        logger.warning("readiness: cache unreachable: %s", type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


@never_cache
@require_safe
def readyz(request):
    checks: dict[str, str] = {}
    for alias in settings.DATABASES:
        checks[f"database:{alias}"] = _check_database(alias) or "ok"
    checks["broker"] = _check_broker() or "ok"
    if "locmem" not in settings.CACHES["default"]["BACKEND"]:
        checks["cache"] = _check_cache() or "ok"
    down = sorted(name for name, result in checks.items() if result != "ok")
    if down:
        return JsonResponse({"status": "unavailable", "down": down, "checks": checks}, status=503)
    return JsonResponse({"status": "ok", "checks": checks})
