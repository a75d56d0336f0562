"""``/api/v3/auth``: the legacy UI's sign-in and session calls (A1-A7), served by the new system.

Sign-in checks the password with the accounts app exactly as ``POST /api/v1/auth/token/`` does
(throttling, lockout, ``accounts.login.*`` audit events, channel ``legacy``) and hands out a
legacy-format token (``legacy_bridge.sessions``), so the legacy backend accepts it too on the
prefixes it still serves. docs/adr/0020-legacy-sign-in.md.
"""

from __future__ import annotations

from django.conf import settings

from apps.accounts.interface import SignInFailed, SignInThrottled, sign_in
from legacy_bridge import legacy_ids, sessions
from legacy_bridge.adapters.common import (
    answer,
    body,
    caller_legacy_id,
    detail,
    endpoint,
    fields,
    object_body,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.responses import field_error, legacy_validation_error
from opsconductor.observability.middleware import client_ip
from opsconductor.roles import Role

BAD_CREDENTIALS = "Incorrect username or password"
INVALID_REFRESH = "Invalid refresh token"

area = Area(
    "legacy-auth",
    "/api/v3/auth: sign-in (our password check, throttling, lockout and audit; a legacy-format "
    "token), /me, logout, session status, activity, extend and refresh, in the legacy shapes.",
    root="/api/v3/auth",
)


def legacy_role(role: str) -> str:
    return sessions.LEGACY_ROLES.get(role, "guest")


@area.endpoint("POST", r"/login", calls="A1", example="/login", public=True)
@endpoint
def login(request):
    data = fields(object_body(request), {"username": (str, True), "password": (str, True)})
    if not settings.LEGACY_JWT_SECRET_KEY:
        return detail(503, "Legacy sign-in is not configured (LEGACY_JWT_SECRET_KEY).")
    try:
        signed_in = sign_in(
            username=data["username"],
            password=data["password"],
            ip=client_ip(request) or None,
            channel="legacy",
        )
    except SignInThrottled as exc:
        return detail(429, "Too many failed sign-in attempts.", Retry_After=str(exc.retry_after))
    except SignInFailed:
        return detail(401, BAD_CREDENTIALS, WWW_Authenticate="Bearer")
    user = signed_in.user
    # the sign-in may have upgraded the stored hash (same password): open sessions stay open
    sessions.remark_sessions(user.id, before=signed_in.marker_before, after=signed_in.marker)
    legacy_id = legacy_ids.legacy_id_for("users", user.id)
    token, session = sessions.open_session(
        user_id=user.id, legacy_user_id=legacy_id, username=user.username, role=user.role
    )
    return answer({"access_token": token, "session_id": session.session_id, "token_type": "bearer"})


@area.endpoint("GET", r"/me", calls="A2", example="/me", role=Role.VIEWER)
@endpoint
def me(request):
    from apps.accounts.interface import user_summary

    user = user_summary(request.user.pk)
    auth = request.auth if isinstance(request.auth, sessions.SessionAuth) else None
    return answer(
        {
            "id": caller_legacy_id(request),
            "username": user.username,
            "email": user.email,
            "role": legacy_role(user.role),
            "is_active": user.is_active,
            "session_id": auth.session_id if auth else None,
        }
    )


@area.endpoint("POST", r"/logout", calls="A3", example="/logout", role=Role.VIEWER)
@endpoint
def logout(request):
    auth = request.auth
    if isinstance(auth, sessions.SessionAuth):
        from legacy_bridge.auth import bearer_token

        sessions.end_session(auth.session_id, token=bearer_token(request))
    return answer({"message": "Successfully logged out"})


def _status(request) -> dict:
    auth = request.auth
    remaining = (
        sessions.time_remaining(auth)
        if isinstance(auth, sessions.SessionAuth)
        else settings.LEGACY_SESSION_SECONDS
    )
    threshold = settings.LEGACY_SESSION_WARNING_SECONDS
    return {
        "valid": True,
        "expired": False,
        "time_remaining": remaining,
        "warning": remaining <= threshold,
        "warning_threshold": threshold,
    }


@area.endpoint("GET", r"/session/status", calls="A4", example="/session/status", role=Role.VIEWER)
@endpoint
def session_status(request):
    # authenticating slid the session already, as the legacy backend does
    return answer(_status(request))


@area.endpoint(
    "POST", r"/session/activity", calls="A5", example="/session/activity", role=Role.VIEWER
)
@endpoint
def session_activity(request):
    return answer({"message": "Activity logged successfully"})


@area.endpoint("POST", r"/session/extend", calls="A6", example="/session/extend", role=Role.VIEWER)
@endpoint
def session_extend(request):
    """The legacy UI sends no body: the caller's own session is extended (it was, by
    authenticating). A body naming another session is refused, as the legacy backend meant."""
    data = body(request, required=False)
    auth = request.auth
    if isinstance(data, dict) and data.get("session_id") not in (None, ""):
        own = auth.session_id if isinstance(auth, sessions.SessionAuth) else None
        if data["session_id"] != own:
            return detail(403, "Cannot extend another user's session")
    return answer({"message": "Session extended successfully", **_status(request)})


@area.endpoint("POST", r"/refresh", calls="A7", example="/refresh", public=True)
@endpoint
def refresh(request):
    """A fresh token of the same session (slid). The token comes in the body
    (``refresh_token``), or, as the legacy UI's dormant interceptor sends it, in the
    ``Authorization`` header with an empty body."""
    from legacy_bridge.auth import bearer_token

    data = body(request, required=False)
    if isinstance(data, dict) and isinstance(data.get("refresh_token"), str):
        token = data["refresh_token"]
    else:
        token = bearer_token(request)
    if not token:
        return legacy_validation_error(
            [
                field_error(
                    ("body", "refresh_token"),
                    "Field required",
                    "missing",
                    input=data if isinstance(data, dict) else None,
                )
            ]
        )
    if not settings.LEGACY_JWT_SECRET_KEY or not sessions.looks_legacy(token):
        return detail(401, INVALID_REFRESH)
    try:
        _, auth = sessions.authenticate(token)
    except sessions.InvalidSession:
        return detail(401, INVALID_REFRESH)
    new_token = sessions.mint(legacy_user_id=auth.legacy_user_id, session_id=auth.session_id)
    return answer(
        {
            "access_token": new_token,
            "refresh_token": new_token,
            "session_id": auth.session_id,
            "token_type": "bearer",
        }
    )


area.register()
