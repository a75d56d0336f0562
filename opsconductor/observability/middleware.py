from __future__ import annotations

import ipaddress
import re
import time

from django.conf import settings

from opsconductor.observability.context import bound, new_request_id, request_bound
from opsconductor.observability.metrics import observe_request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request) -> str:
    """The address of the client, seen through the proxies listed in TRUSTED_PROXIES.

    Without trusted proxies this is REMOTE_ADDR. When REMOTE_ADDR is a trusted proxy, the
    ``X-Forwarded-For`` chain is read from the right and the first address that is not a trusted
    proxy is the client: entries further left could have been written by the client itself.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    networks = settings.TRUSTED_PROXIES
    if not networks or not _trusted(remote, networks):
        return remote
    chain = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [hop for hop in chain if hop]
    for hop in reversed(chain):
        if not _trusted(hop, networks):
            return hop
    return chain[0] if chain else remote


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when well-formed) and echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else new_request_id()
        request.request_id = request_id
        with (
            bound(
                request_id=request_id,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:400],
            ),
            request_bound(request),
        ):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class HttpMetricsMiddleware:
    """Counts every request this process answers, by route template, method and status, and
    times it (``opsconductor_http_requests_total``, ``..._request_duration_seconds``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response.status_code, time.perf_counter() - started)
        return response
