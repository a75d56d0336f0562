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
