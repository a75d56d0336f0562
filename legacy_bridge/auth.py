"""Who may call an adapter: the one check the bridge makes before any adapter runs.

The caller is authenticated with the new system's authentication, the very classes the API
uses (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``: JWT, API tokens, the session), and
must hold the minimum role the adapter declared when it was registered, unless the adapter is
public. Refusals are in the legacy backend's shape (FastAPI's ``HTTPBearer``, as recorded):

- no ``Authorization`` header, or an empty one: 403 ``Not authenticated``;
- a scheme no authentication class takes (e.g. ``Basic``): 403 ``Invalid authentication
  credentials``;
- a token that does not authenticate (malformed, expired, revoked; an inactive user): 401
  ``Invalid or expired session`` with ``WWW-Authenticate: Bearer``;
- an authenticated user below the adapter's role: 403, recorded for the audit trail as a 403
  of the API is.

Proxied requests never come here: the legacy backend authenticates its own tokens.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from apps.accounts.interface import actor_for_request
from legacy_bridge.adapters import Adapter
from legacy_bridge.responses import legacy_error
from opsconductor.api.errors import record_denial
from opsconductor.roles import has_role, role_of

logger = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Not authenticated"
BAD_SCHEME = "Invalid authentication credentials"
INVALID_SESSION = "Invalid or expired session"
ROLE_TOO_LOW = "Your role does not allow this action."
# where the authenticated caller's Actor is kept on the request (for the bridge's audit event)
ACTOR_ATTRIBUTE = "legacy_bridge_actor"


def _authenticate(request) -> exceptions.APIException | None:
    """Authenticate ``request`` as the API would; the user (``AnonymousUser`` when nobody) and
    the token end up on ``request.user`` and ``request.auth``, where log lines and audit events
    find them. Returns the authentication error, if any."""
    authenticators = [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    drf_request = Request(request, authenticators=authenticators)
    error = None
    try:
        drf_request.user  # noqa: B018  (authenticates; DRF sets request.user as well)
    except exceptions.APIException as exc:
        error = exc
    request.user = drf_request.user
    request.auth = drf_request.auth
    if getattr(request.user, "is_authenticated", False):
        setattr(request, ACTOR_ATTRIBUTE, actor_for_request(request))
    return error


def refusal(request, adapter: Adapter) -> HttpResponse | None:
    """``None`` when ``request`` may be answered by ``adapter``, otherwise the answer."""
    error = _authenticate(request)
    if adapter.public:
        # the legacy backend ignores the token on its public routes, even a bad one
        return None
    if isinstance(error, exceptions.AuthenticationFailed):
        return legacy_error(401, INVALID_SESSION, headers={"WWW-Authenticate": "Bearer"})
    if error is not None:  # e.g. a session without its CSRF token on a POST
        return legacy_error(403, str(error.detail))
    if not getattr(request.user, "is_authenticated", False):
        if request.META.get("HTTP_AUTHORIZATION", "").strip():
            return legacy_error(403, BAD_SCHEME)
        return legacy_error(403, NOT_AUTHENTICATED)
    if role_of(request.user) is None:  # inactive, or no role the system knows
        return legacy_error(401, INVALID_SESSION, headers={"WWW-Authenticate": "Bearer"})
    # an Adapter is public or has a role (Adapter.__post_init__); None here refuses anyway
    if adapter.role is None or not has_role(request.user, adapter.role):
        record_denial(request, ROLE_TOO_LOW)
        return legacy_error(403, ROLE_TOO_LOW)
    return None
