"""Reads of the accounts context."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import ApiToken, User
from opsconductor.roles import Role, has_role


def users() -> QuerySet[User]:
    """Every user, for the admin's user list."""
    return User.objects.all()


def users_by_ids(*, user_ids: Iterable[uuid.UUID | str]) -> QuerySet[User]:
    ids = []
    for value in user_ids:
        try:
            ids.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            continue
    return User.objects.filter(pk__in=ids)


def user_by_id(*, user_id: uuid.UUID | str) -> User | None:
    return users_by_ids(user_ids=[user_id]).first()


def active_admin_exists() -> bool:
    return User.objects.filter(role=Role.ADMIN, is_active=True).exists()


def api_tokens_visible_to(*, user: User) -> QuerySet[ApiToken]:
    """Admins see every token; anyone else sees only their own."""
    tokens = ApiToken.objects.select_related("user")
    if has_role(user, Role.ADMIN):
        return tokens
    return tokens.filter(user=user)


def api_tokens_active(*, tokens: QuerySet[ApiToken], active: bool) -> QuerySet[ApiToken]:
    """Narrow ``tokens`` to the usable ones (not revoked, not expired), or to the others."""
    usable = Q(revoked_at__isnull=True) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    return tokens.filter(usable) if active else tokens.exclude(usable)
