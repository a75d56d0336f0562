"""The bridge's part of /readyz: a soft check (a dead legacy backend makes the service
``degraded``, never unready: everything migrated keeps working)."""

from __future__ import annotations

import urllib3
from django.conf import settings

from legacy_bridge.breaker import CLOSED, breaker_for
from legacy_bridge.proxy import pool_manager

PROBE_TIMEOUT = urllib3.Timeout(connect=1.0, read=2.0)


def readiness() -> str | None:
    """``None`` when the backend answers (or none is configured), else why it is degraded.

    While this process's breaker is open the backend is not probed (that is the breaker's
    point); otherwise its health endpoint is asked, with a 2 s limit."""
    url = settings.LEGACY_BACKEND_URL
    if not url:
        return None
    snapshot = breaker_for(url).snapshot()
    if snapshot.state != CLOSED:
        return (
            f"degraded: circuit {snapshot.state.replace('_', '-')} after "
            f"{snapshot.consecutive_failures} consecutive failures of the legacy backend "
            f"(next trial in {snapshot.retry_in_seconds:.0f} s)"
        )
    try:
        response = pool_manager().request(
            "GET",
            url + settings.LEGACY_BACKEND_HEALTH_PATH,
            retries=False,
            redirect=False,
            timeout=PROBE_TIMEOUT,
        )
    except Exception as exc:
        return f"degraded: legacy backend unreachable ({type(exc).__name__})"
    if response.status >= 500:
        return f"degraded: legacy backend health answered {response.status}"
    return None
