"""Liveness (/healthz) and readiness (/readyz) probes. No authentication: they reveal only
which dependency is down, never a connection string or credential.

Besides the databases, the broker and the cache, /readyz runs the *soft checks* other packages
register with ``register_soft_check`` (the kernel imports no app): a soft check that reports a
problem makes the answer ``degraded`` (still 200, so the service stays in rotation) and names
it under ``degraded``; it never makes the service unready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

SoftCheck = Callable[[], "str | None"]
_soft_checks: dict[str, SoftCheck] = {}


def register_soft_check(name: str, check: SoftCheck) -> None:
    """Have /readyz call ``check()``: ``None`` means fine, a short text names what is wrong
    (no secrets, no URLs with credentials). A problem reports the service ``degraded`` without
    failing readiness; a check that raises is reported as ``check failed``. Registering a name
    again replaces the earlier check."""
    _soft_checks[name] = check


def unregister_soft_check(name: str) -> None:
    _soft_checks.pop(name, None)


def _run_soft_check(name: str, check: SoftCheck) -> str:
    try:
        return check() or "ok"
    except Exception:
        logger.exception("readiness: soft check %s failed", name)
        return "check failed"


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


# A probe waits this long at most for a connection from a pool (each alias in turn): it must
# answer before the load balancer gives up, even while the database is unreachable.
READINESS_POOL_TIMEOUT_SECONDS = 2.0


def _check_database(alias: str) -> str | None:
    connection = connections[alias]
    pool = getattr(connection, "pool", None)
    try:
        if pool is not None:
            # a connection of the process's pool (a dead one is replaced), given back at once:
            # a probe holds no alias while it checks the next (ADR 0018)
            pool.open()
            with pool.connection(timeout=min(READINESS_POOL_TIMEOUT_SECONDS, pool.timeout)) as db:
                db.execute("SELECT 1")
        else:
            with connection.cursor() as cursor:
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
    soft = {name: _run_soft_check(name, check) for name, check in sorted(_soft_checks.items())}
    degraded = sorted(name for name, result in soft.items() if result != "ok")
    checks.update(soft)
    if down:
        body = {"status": "unavailable", "down": down, "checks": checks}
        if degraded:
            body["degraded"] = degraded
        return JsonResponse(body, status=503)
    if degraded:
        return JsonResponse({"status": "degraded", "degraded": degraded, "checks": checks})
    return JsonResponse({"status": "ok", "checks": checks})
