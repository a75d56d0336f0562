"""``GET /metrics``: the Prometheus exposition, for scrapers that present the metrics token or
come from an allowed network (docs/operations.md, "Metrics")."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from opsconductor.api.errors import error_body
from opsconductor.observability.metrics import exposition
from opsconductor.observability.middleware import client_ip


def _bearer_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def _refusal(status: int, message: str) -> JsonResponse:
    code = "not_authenticated" if status == 401 else "permission_denied"
    response = JsonResponse(error_body(status, message, code=code), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_safe
def metrics(request):
    """Either rule lets a scraper in: the right ``Authorization: Bearer <METRICS_TOKEN>`` (when
    a token is configured) or a client address in ``METRICS_ALLOWED_NETWORKS``."""
    expected = settings.METRICS_TOKEN
    given = _bearer_token(request)
    token_ok = (
        bool(expected)
        and given is not None
        and hmac.compare_digest(given.encode(), expected.encode())
    )
    if not token_ok and not _from_allowed_network(request):
        if expected and given is None:
            return _refusal(401, "A metrics token is required: Authorization: Bearer <token>.")
        return _refusal(403, "Metrics are not available to this client.")
    body, content_type = exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
