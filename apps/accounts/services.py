"""Writes of the accounts context."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import ApiToken

TOKEN_PREFIX = "oct"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token ``raw`` names, or None. Records its last use (at most once a minute)."""
    parts = raw.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, prefix, secret = parts
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    now = timezone.now()
    if token.revoked_at or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def new_token_value() -> tuple[str, str, str]:
    """(full value, prefix, digest) of a fresh token: ``oct_<prefix>_<secret>``."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    return f"{TOKEN_PREFIX}_{prefix}_{secret}", prefix, _digest(secret)
