"""What other apps (and the settings) may use from accounts.

Everything here takes and returns ids, plain values and frozen dataclasses, never model
instances, so a caller keeps working if accounts moves to a database (or service) of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError

from apps.accounts import selectors
from apps.accounts.models import ApiToken, User
from opsconductor.events import Actor
from opsconductor.events.actor import ANONYMOUS


@dataclass(frozen=True)
class UserSummary:
    """A user as other apps see them: enough to show a name and to check a role."""

    id: uuid.UUID
    username: str
    display_name: str
    email: str
    role: str
    is_auditor: bool
    is_active: bool


def _summary(user: User) -> UserSummary:
    return UserSummary(
        id=user.pk,
        username=user.username,
        display_name=user.get_full_name() or user.username,
        email=user.email,
        role=user.role,
        is_auditor=user.is_auditor,
        is_active=user.is_active,
    )


def user_summary(user_id: uuid.UUID | str) -> UserSummary | None:
    """The user with id ``user_id``, or None if there is none (never was, or was deleted).

    A malformed id also gives None, so a stored reference can be resolved without checks.
    """
    user = selectors.user_by_id(user_id=user_id)
    return _summary(user) if user is not None else None


def user_summaries(user_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, UserSummary]:
    """The users among ``user_ids`` that exist, keyed by id, in one query.

    Ids that name no user (or are malformed) are simply absent from the result.
    """
    return {user.pk: _summary(user) for user in selectors.users_by_ids(user_ids=user_ids)}


def actor_for_request(request) -> Actor:
    """Who is behind an HTTP request, as the ``actor`` of the events it causes.

    A person signed in (JWT or session) is ``Actor(kind="user", id=<user id>,
    name=<username>)``; a request authenticated by an API token is ``Actor(kind="token",
    id=<token id>, name="<username> via <token name>")``; anyone else is the anonymous actor.
    """
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiToken):
        return Actor(kind="token", id=str(auth.pk), name=f"{user.username} via {auth.name}")
    return Actor(kind="user", id=str(user.pk), name=user.username)


def role_for_actor(actor: Actor) -> str | None:
    """The role (``opsconductor.roles.Role`` value) of the person behind ``actor``, now: a
    ``user`` actor's own role, a ``token`` actor's owner's role while the token is usable.
    None for an inactive user, a revoked or expired token, and any other kind of actor
    (schedules, the system, anonymous): the caller decides what those may do."""
    from django.utils import timezone

    if actor.kind == "user" and actor.id:
        user = selectors.user_by_id(user_id=actor.id)
        return user.role if user is not None and user.is_active else None
    if actor.kind == "token" and actor.id:
        try:
            token = ApiToken.objects.select_related("user").filter(pk=actor.id).first()
        except (ValueError, TypeError, ValidationError):
            return None
        if token is None or token.revoked_at is not None or not token.user.is_active:
            return None
        if token.expires_at is not None and token.expires_at <= timezone.now():
            return None
        return token.user.role
    return None


def record_permission_denied(*, request, reason: str) -> None:
    """Publish ``accounts.permission.denied`` for a 403 answered to ``request`` (who, what
    method and path, why), for the audit trail (the kernel's API error handler calls this)."""
    from django.db import transaction

    from opsconductor.events import publish

    actor = actor_for_request(request)
    with transaction.atomic(using="default"):
        publish(
            "accounts.permission.denied",
            {
                "user_id": actor.id if actor.kind == "user" else None,
                "username": getattr(getattr(request, "user", None), "username", "") or "",
                "method": request.method,
                "path": request.path[:500],
                "reason": reason[:500],
            },
            actor=actor,
        )


def user_import(
    *,
    user_id: uuid.UUID,
    username: str,
    password_hash: str,
    role: str,
    actor: Actor,
    email: str = "",
    is_active: bool = True,
    last_login: datetime | None = None,
    date_joined: datetime | None = None,
    publish_event: bool = False,
) -> bool:
    """Create the user ``user_id`` brought over from another system with an existing password
    hash in Django's encoded form (a bcrypt hash ``$2b$...`` is ``bcrypt$$2b$...``): they sign
    in with the password they had, and the hash is upgraded at their first login.

    ``role`` is one of ``opsconductor.roles.Role``. Returns True when the user was created,
    False when a user with that id already exists (it is left unchanged), so an interrupted
    import can simply repeat the call. Raises ``django.core.exceptions.ValidationError`` keyed
    by field (``username`` or ``email`` taken or malformed, ``role``, ``password_hash``); no
    message contains the hash. ``publish_event=False`` (the default for imports, which publish
    one summary event per table) leaves out the per-user ``accounts.user.created``.
    """
    from apps.accounts import services

    _, created = services.user_import(
        user_id=user_id,
        username=username,
        password_hash=password_hash,
        role=role,
        actor=actor,
        email=email,
        is_active=is_active,
        last_login=last_login,
        date_joined=date_joined,
        publish_event=publish_event,
    )
    return created


# --- Sign-in and user management for other front doors (the legacy bridge's adapters) ------------


class SignInFailed(Exception):
    """Wrong username or password, or an inactive account (the caller is not told which)."""


class SignInThrottled(Exception):
    """Too many failed attempts for the username or the client address: ``retry_after``
    seconds to wait (even the right password is refused until then)."""

    def __init__(self, retry_after: int):
        super().__init__(f"locked for {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class UserDetails:
    """A user with the dates a user list shows."""

    id: uuid.UUID
    username: str
    email: str
    role: str
    is_auditor: bool
    is_active: bool
    last_login: datetime | None
    created_at: datetime
    updated_at: datetime


def _details(user: User) -> UserDetails:
    return UserDetails(
        id=user.pk,
        username=user.username,
        email=user.email,
        role=user.role,
        is_auditor=user.is_auditor,
        is_active=user.is_active,
        last_login=user.last_login,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@dataclass(frozen=True)
class SignedIn:
    user: UserSummary
    # ``session_marker`` before and after: they differ when the sign-in upgraded the stored
    # password hash (same password, new hash), which must not end the user's other sessions
    marker_before: str | None
    marker: str | None


def sign_in(*, username: str, password: str, ip: str | None, channel: str) -> SignedIn:
    """Check a username and password exactly as ``POST /api/v1/auth/token/`` does: the same
    throttling and lockout (per username and per client address), the same audit events
    (``accounts.login.succeeded`` / ``accounts.login.failed`` with ``channel``), and the user's
    last login set. Raises ``SignInThrottled`` or ``SignInFailed``."""
    from django.contrib.auth.models import update_last_login

    from apps.accounts import services

    known = User.objects.filter(username=username).only("pk").first()
    before = session_marker(known.pk) if known is not None else None
    try:
        user = services.auth_authenticate(
            username=username, password=password, ip=ip, channel=channel
        )
    except services.LoginThrottled as exc:
        raise SignInThrottled(exc.retry_after) from exc
    except services.LoginFailed as exc:
        raise SignInFailed from exc
    update_last_login(User, user)
    return SignedIn(user=_summary(user), marker_before=before, marker=session_marker(user.pk))


def session_marker(user_id: uuid.UUID | str) -> str | None:
    """A keyed digest of the user's stored credentials, or None when the user is gone or
    inactive. A session of another front door records it when it begins; a different value
    later means the password was changed (or the stored hash upgraded at a sign-in) since."""
    import hashlib
    import hmac

    from django.conf import settings

    user = selectors.user_by_id(user_id=user_id)
    if user is None or not user.is_active:
        return None
    key = hashlib.sha256(b"session-marker:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, user.password.encode(), hashlib.sha256).hexdigest()


def user_details(user_id: uuid.UUID | str) -> UserDetails | None:
    user = selectors.user_by_id(user_id=user_id)
    return _details(user) if user is not None else None


def users_page(*, skip: int, limit: int) -> tuple[list[UserDetails], int]:
    """Every user (active or not) ordered by username, ``limit`` of them from ``skip``; and
    how many there are."""
    users = selectors.users().order_by("username", "pk")
    return [_details(u) for u in users[skip : skip + limit]], users.count()


def user_create_as(
    *, actor: Actor, username: str, email: str, password: str, role: str
) -> UserDetails:
    """Create a user as ``actor`` with the API's rules (unique username and email, password
    validators, a known role); publishes ``accounts.user.created``. Raises
    ``django.core.exceptions.ValidationError`` keyed by field."""
    from apps.accounts import services

    return _details(
        services.user_create(
            username=username, email=email, password=password, role=role, actor=actor
        )
    )


def user_update_as(
    *, actor: Actor, user_id: uuid.UUID | str, data: dict, password: str | None = None
) -> UserDetails | None:
    """Change a user as ``actor`` (``data``: any of ``username``, ``email``, ``role``,
    ``is_active``; ``password`` a new one), with the API's rules and events; a deactivation
    or new password ends the user's sessions. None when there is no such user. Raises
    ``ValidationError`` keyed by field, or ``opsconductor.api.errors.Conflict`` for the last
    active admin."""
    from apps.accounts import services

    user = selectors.user_by_id(user_id=user_id)
    if user is None:
        return None
    allowed = {"username", "email", "role", "is_active"}
    return _details(
        services.user_update(
            user=user,
            data={k: v for k, v in data.items() if k in allowed},
            password=password,
            actor=actor,
        )
    )
