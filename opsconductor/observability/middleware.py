from __future__ import annotations

import re

from opsconductor.observability.context import bound, new_request_id

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def client_ip(request) -> str:
    # REMOTE_ADDR is the only address we can trust without a known proxy in front; deployments
    # behind the gateway set it from X-Forwarded-For there (docs/deploy.md).
    return request.META.get("REMOTE_ADDR", "")


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when well-formed) and echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        with bound(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:400],
        ):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
