"""Who may call an adapter: the one check the bridge makes before any adapter runs.

The caller is authenticated here and nowhere else, with either

- a **legacy session token** (what the legacy UI holds: an HS256 JWT with ``token_type:
  "session"``; ``legacy_bridge.sessions`` checks its signature with ``LEGACY_JWT_SECRET_KEY``
  and that its session is alive, whichever system signed the user in; docs/adr/0020), or
- the new system's authentication, the very classes the API uses
  (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``: JWT, API tokens, the session),

and must hold the minimum role the endpoint (or adapter) declared when it was registered,
unless it is public. Refusals are in the legacy backend's shape (FastAPI's ``HTTPBearer``, as
recorded):

- no ``Authorization`` header, or an empty one: 403 ``Not authenticated``;
- a scheme no authentication class takes (e.g. ``Basic``): 403 ``Invalid authentication
  credentials``;
- a token that does not authenticate (malformed, expired, revoked; an inactive user): 401
  ``Invalid or expired session`` with ``WWW-Authenticate: Bearer``;
- an authenticated user below the declared role (an endpoint declared ``auditor=True`` also
  lets auditors in: the audit trail's readers): 403 (``Administrator access required`` where
  the role is admin, as the legacy backend words it), recorded for the audit trail as a 403 of
  the API is.

Proxied requests never come here: the legacy backend authenticates its own tokens.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from apps.accounts.interface import actor_for_request
from legacy_bridge import sessions
from legacy_bridge.responses import legacy_error
from opsconductor.api.errors import record_denial
from opsconductor.roles import Role, can_read_audit, has_role, role_of

logger = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Not authenticated"
BAD_SCHEME = "Invalid authentication credentials"
INVALID_SESSION = "Invalid or expired session"
ROLE_TOO_LOW = "Your role does not allow this action."
ADMIN_REQUIRED = "Administrator access required"
# where the authenticated caller's Actor is kept on the request (for the bridge's audit event)
ACTOR_ATTRIBUTE = "legacy_bridge_actor"


def bearer_token(request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _authenticate(request) -> exceptions.APIException | None:
    """Authenticate ``request``; the user (``AnonymousUser`` when nobody) and the token end up
    on ``request.user`` and ``request.auth``, where log lines and audit events find them.
    Returns the authentication error, if any."""
    token = bearer_token(request)
    if token is not None and sessions.looks_legacy(token):
        # a legacy session token: the legacy rules decide, never another scheme
        try:
            request.user, request.auth = sessions.authenticate(token)
        except sessions.InvalidSession as exc:
            logger.info("legacy bridge: legacy token refused: %s", exc)
            from django.contrib.auth.models import AnonymousUser

            request.user, request.auth = AnonymousUser(), None
            return exceptions.AuthenticationFailed(INVALID_SESSION)
        setattr(request, ACTOR_ATTRIBUTE, actor_for_request(request))
        return None
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


def refusal(request, adapter) -> HttpResponse | None:
    """``None`` when ``request`` may be answered by ``adapter`` (an ``Adapter`` or an area's
    ``Endpoint``: what declared ``role``/``public``), otherwise the answer."""
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
    auditors = getattr(adapter, "auditor", False) and can_read_audit(request.user)
    if adapter.role is None or not (has_role(request.user, adapter.role) or auditors):
        detail = ADMIN_REQUIRED if adapter.role == Role.ADMIN else ROLE_TOO_LOW
        record_denial(request, detail)
        return legacy_error(403, detail)
    return None
