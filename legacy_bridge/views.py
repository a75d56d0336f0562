"""The one view behind the legacy URL space (/api/v3 and /api/schedules, with and without a
trailing slash): look the path up in the route table and proxy it, answer it from the new
system, or say where it went.

A plain Django view, not DRF: the legacy backend authenticates its own tokens, so a proxied
request is neither authenticated nor checked for CSRF; ``Authorization`` goes through
untouched. A request an adapter answers is the new system's to authenticate: ``_migrated``
checks it (``legacy_bridge.auth``) before calling any adapter.
"""

from __future__ import annotations

import logging
import time

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from legacy_bridge import auth, metrics, proxy, routing, traffic
from legacy_bridge.adapters import Match, get_adapter
from legacy_bridge.models import Mode
from legacy_bridge.responses import legacy_error
from legacy_bridge.services import forwarded_request_record
from opsconductor.observability.middleware import client_ip

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
UNROUTED = "(none)"
# Set by the gateway (deploy/nginx) on the subrequest that asks whether a WebSocket upgrade may
# go to the legacy backend; the gateway removes it from every request of a client.
UPGRADE_CHECK_META = "HTTP_X_LEGACY_BRIDGE_CHECK"
WEBSOCKET_STATUS = 101  # what a WebSocket let through is counted as
NOT_CARRIED = (
    "WebSocket connections cannot pass through the legacy bridge: it runs inside the WSGI web "
    "process, which cannot hand a connection over after the upgrade. The gateway carries them "
    "to the legacy backend when OC_LEGACY_BACKEND is set; without a gateway, connect to the "
    "legacy backend directly (docs/legacy-bridge.md, WebSockets)."
)


def _table() -> routing.RouteTable:
    try:
        return routing.current_table()
    except Exception:
        # the database is unreachable: keep serving with the table this process knows
        logger.exception("legacy bridge: route table unavailable; using the last one known")
        return routing.last_known_table()


def _migrated(request, rule: routing.RouteRule) -> HttpResponse:
    adapter = get_adapter(rule.adapter) if rule.adapter else None
    if adapter is not None:
        try:
            if adapter.is_area:
                # routed first, as FastAPI does: a path or method of the area no endpoint
                # serves is the legacy 404/405 (no data), then the endpoint's declared access
                match = adapter.match(request)
                if isinstance(match, Match):
                    response = auth.refusal(request, match.endpoint) or match.endpoint.function(
                        request, **match.kwargs
                    )
                else:
                    response = match
            else:
                response = auth.refusal(request, adapter) or adapter.function(request, rule)
        except Exception:
            logger.exception("legacy bridge: adapter %s failed on %s", adapter.name, rule.prefix)
            return legacy_error(
                500, "Internal server error. Quote the request id when reporting it."
            )
        if response is not None:
            response["X-Legacy-Bridge"] = "adapter"
            if rule.new_url:
                response["Link"] = f'<{rule.new_url}>; rel="successor-version"'
            response["Deprecation"] = "true"
            return response
    if not rule.new_url:
        return legacy_error(
            410,
            rule.message or "This legacy endpoint has been migrated and is no longer served here.",
            extra={"mode": Mode.MIGRATED.value},
        )
    message = rule.message or (
        f"This legacy endpoint has moved to the new API: {rule.new_url} "
        "(authenticate there with a token of the new system)."
    )
    return legacy_error(
        410,
        message,
        extra={"mode": Mode.MIGRATED.value, "new_url": rule.new_url},
        headers={"Location": rule.new_url, "Link": f'<{rule.new_url}>; rel="successor-version"'},
    )


def _dotted(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def is_websocket(request) -> bool:
    """A WebSocket opening handshake (RFC 6455 4.1), also when a proxy in front dropped the
    hop-by-hop ``Upgrade`` and ``Connection`` headers: ``Sec-WebSocket-Key`` is end-to-end."""
    meta = request.META
    return request.method == "GET" and (
        "websocket" in meta.get("HTTP_UPGRADE", "").lower()
        or bool(meta.get("HTTP_SEC_WEBSOCKET_KEY"))
    )


def _upgrade_check(request, rule: routing.RouteRule | None) -> tuple[HttpResponse, int]:
    """The gateway asks whether a WebSocket may go to the legacy backend: 204 yes (a GET under
    a proxied prefix; counted as a connection let through), 403 no (the gateway then sends the
    request here itself and the route's own answer, 410, is counted then). Nothing is
    forwarded, whatever the method."""
    if (
        request.method == "GET"
        and rule is not None
        and rule.mode == Mode.PROXY
        and not _dotted(request.path_info)
    ):
        response = HttpResponse(status=204)
        response["X-Legacy-Bridge"] = rule.mode
        return response, WEBSOCKET_STATUS
    response = HttpResponse(status=403)
    response["X-Legacy-Bridge"] = rule.mode if rule else "none"
    response._has_been_logged = True  # type: ignore[attr-defined]  # an answer, not an error
    return response, 0


def _retired(rule: routing.RouteRule) -> HttpResponse:
    return legacy_error(
        410,
        rule.message or "This legacy endpoint has been retired and is no longer available.",
        extra={"mode": Mode.RETIRED.value},
    )


@csrf_exempt
def bridge(request, rest: str = "") -> HttpResponse:
    started = time.perf_counter()
    table = _table()
    path = request.path_info
    rule = table.match(path)
    prefix = rule.prefix if rule else UNROUTED
    mode = rule.mode if rule else "none"
    status = 0
    if request.META.get(UPGRADE_CHECK_META) == "websocket":
        response, counted = _upgrade_check(request, rule)
        if counted:
            _account(request, prefix=prefix, mode=mode, status=counted, started=started)
        return response
    try:
        if _dotted(path):
            # a backend that resolves dot segments would serve another prefix than the one
            # routed on (a retired prefix reached through a proxied one)
            response: HttpResponse = legacy_error(
                400, "The path must not contain . or .. segments."
            )
        elif rule is None:
            response = legacy_error(404, "Not Found")
        elif rule.mode == Mode.RETIRED:
            response = _retired(rule)
        elif rule.mode == Mode.MIGRATED:
            response = _migrated(request, rule)
        elif is_websocket(request):
            response = legacy_error(501, NOT_CARRIED)
        else:
            try:
                forwarded = proxy.forward(request)
            except proxy.BackendUnavailable as exc:
                logger.warning("legacy bridge: %s %s: %s", request.method, path, exc.message)
                headers = {}
                if exc.retry_after is not None:
                    headers["Retry-After"] = str(exc.retry_after)
                response = legacy_error(exc.status, exc.message, headers=headers)
            except proxy.ClientBodyError:
                response = legacy_error(400, "The request body ended before its announced length.")
            else:
                metrics.BACKEND_SECONDS.labels(prefix=prefix).observe(forwarded.backend_seconds)
                response = forwarded.response
        response["X-Legacy-Bridge"] = response.get("X-Legacy-Bridge", mode)
        # Django would log every 4xx/5xx as a warning: the backend's answers are not the
        # bridge's errors, and the bridge logs its own failures itself
        response._has_been_logged = True  # type: ignore[attr-defined]
        status = response.status_code
        return response
    finally:
        if status:
            _account(request, prefix=prefix, mode=mode, status=status, started=started)


def _account(request, *, prefix: str, mode: str, status: int, started: float) -> None:
    """Count the request (metrics, traffic table) and audit a state-changing one. Failures
    here are logged, never turned into the client's answer."""
    method = request.method
    metrics.observe(prefix=prefix, mode=mode, method=method, status=status)
    try:
        traffic.record(prefix=prefix, method=method, status=status)
    except Exception:
        logger.exception("legacy bridge: could not count traffic")
    if method in SAFE_METHODS:
        return
    try:
        forwarded_request_record(
            method=method,
            path=request.path_info,
            query=request.META.get("QUERY_STRING", ""),
            status=status,
            prefix=prefix,
            mode=mode,
            source_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:400],
            request_id=getattr(request, "request_id", ""),
            duration_ms=round((time.perf_counter() - started) * 1000),
            actor=getattr(request, auth.ACTOR_ATTRIBUTE, None),
        )
    except Exception:
        logger.exception("legacy bridge: could not record the audit event of %s", method)
