"""The legacy UI's sessions, whichever system signed the user in (docs/adr/0020-legacy-sign-in.md).

The legacy UI keeps one thing: a legacy-format token (an HS256 JWT with ``user_id``,
``session_id``, ``token_type: "session"`` and ``issued_at``, signed with the legacy backend's
``JWT_SECRET_KEY``). It stays that format in every mode, so the same token works on the
prefixes the legacy backend still serves and on those the bridge's adapters serve:

- signed in **at the legacy backend** (``/api/v3/auth`` proxied): an adapter accepts the token
  when its signature verifies with ``LEGACY_JWT_SECRET_KEY`` and the legacy backend holds the
  session (its Redis key ``user_session:<session_id>`` when ``LEGACY_REDIS_URL`` is set, else
  the legacy backend's own ``GET /api/v3/auth/me``, trusted for ``LEGACY_SESSION_CHECK_SECONDS``).
  The session is then **adopted** (a ``LegacySession`` row), so it outlives the legacy backend;
- signed in **at the bridge** (``/api/v3/auth`` migrated): the login adapter checks the
  password with the accounts app (throttling, lockout, audit), mints a token of the same
  format, records a ``LegacySession`` and, with ``LEGACY_REDIS_URL``, writes the legacy
  backend's two Redis keys, so the legacy backend accepts the token too.

A session is alive while its row is (not revoked, not expired: 8 h sliding), its user is
active with the same password, and, where the legacy backend's store is known, the legacy
backend still holds it (a logout at the legacy backend ends it here as well).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from legacy_bridge.models import LegacySession

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
TOKEN_TYPE = "session"  # noqa: S105  (a claim value, not a secret)
SESSION_PREFIX = "user_session:"
ACTIVITY_PREFIX = "user_activity:"
DB = "default"

# Our roles and the legacy role names the legacy UI knows (the importer maps them back).
LEGACY_ROLES = {
    "admin": "administrator",
    "manager": "manager",
    "operator": "user",
    "viewer": "guest",
}


class InvalidSession(Exception):
    """The token is not a live legacy session (the legacy 401 ``Invalid or expired session``)."""


@dataclass(frozen=True)
class Claims:
    user_id: int
    session_id: str
    issued_at: str


@dataclass(frozen=True)
class Caller:
    """Who a legacy token authenticates, as ``request.user``: the attributes the role checks,
    the actor and the log lines read (never a model instance of accounts)."""

    pk: uuid.UUID
    username: str
    role: str
    is_auditor: bool
    is_active: bool
    legacy_id: int
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def id(self) -> uuid.UUID:
        return self.pk

    def get_username(self) -> str:
        return self.username


@dataclass(frozen=True)
class SessionAuth:
    """``request.auth`` of a request authenticated with a legacy token."""

    session_id: str
    legacy_user_id: int
    expires_at: datetime


# --- tokens --------------------------------------------------------------------------------------


def _secret() -> str:
    return settings.LEGACY_JWT_SECRET_KEY


def looks_legacy(token: str) -> bool:
    """Whether ``token`` claims to be a legacy session token (its signature unchecked): then
    the legacy rules decide, and a forged one is the legacy 401, never another check."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and claims.get("token_type") == TOKEN_TYPE


def decode(token: str) -> Claims:
    """The verified claims of a legacy token; ``InvalidSession`` for a bad signature, another
    algorithm (``none`` included), or claims of another shape."""
    secret = _secret()
    if not secret:
        raise InvalidSession("LEGACY_JWT_SECRET_KEY is not set")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": []})
    except jwt.PyJWTError as exc:
        raise InvalidSession(type(exc).__name__) from exc
    user_id, session_id = claims.get("user_id"), claims.get("session_id")
    if (
        claims.get("token_type") != TOKEN_TYPE
        or not isinstance(user_id, int)
        or isinstance(user_id, bool)
        or not isinstance(session_id, str)
        or not session_id
        or len(session_id) > 64
    ):
        raise InvalidSession("claims of another shape")
    return Claims(user_id=user_id, session_id=session_id, issued_at=str(claims.get("issued_at")))


def mint(*, legacy_user_id: int, session_id: str) -> str:
    now = datetime.utcnow()
    return jwt.encode(
        {
            "user_id": legacy_user_id,
            "session_id": session_id,
            "token_type": TOKEN_TYPE,
            "issued_at": now.isoformat(),
        },
        _secret(),
        algorithm=ALGORITHM,
    )


# --- the legacy backend's session store -----------------------------------------------------------

_redis_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def _redis():
    url = settings.LEGACY_REDIS_URL
    if not url:
        return None
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = _redis_clients[url] = redis.Redis.from_url(
                url, socket_timeout=2, socket_connect_timeout=2
            )
        return client


def _legacy_json(value) -> object:
    """A value the legacy backend stored: JSON, and its session JSON encoded once more."""
    try:
        data = json.loads(value)
        return json.loads(data) if isinstance(data, str) else data
    except (TypeError, ValueError):
        return None


class StoreUnavailable(Exception):
    """The legacy backend's session store cannot be asked (down, or none configured)."""


def _legacy_store_alive(claims: Claims, token: str) -> bool:
    """Whether the legacy backend holds the session. Raises ``StoreUnavailable``."""
    client = _redis()
    if client is not None:
        try:
            raw = client.get(SESSION_PREFIX + claims.session_id)
        except Exception as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        data = _legacy_json(raw) if raw is not None else None
        return isinstance(data, dict) and data.get("user_id") == claims.user_id
    return _legacy_backend_says_alive(claims, token)


def _legacy_backend_says_alive(claims: Claims, token: str) -> bool:
    """Ask the legacy backend (``GET /api/v3/auth/me`` with the token; it slides the session
    as any request does), trusting its answer for ``LEGACY_SESSION_CHECK_SECONDS``."""
    url = settings.LEGACY_BACKEND_URL
    if not url:
        raise StoreUnavailable("no legacy backend")
    key = "legacy-bridge:session-check:" + hashlib.sha256(token.encode()).hexdigest()
    known = cache.get(key)
    if known is not None:
        return known
    from legacy_bridge.proxy import pool_manager

    try:
        response = pool_manager().request(
            "GET",
            url + "/api/v3/auth/me",
            headers={"Authorization": f"Bearer {token}"},
            retries=False,
            redirect=False,
            timeout=2.0,
        )
    except Exception as exc:
        raise StoreUnavailable(type(exc).__name__) from exc
    if response.status == 200:
        body = _legacy_json(response.data)
        alive = isinstance(body, dict) and body.get("id") == claims.user_id
    elif response.status in (401, 403, 404):
        alive = False
    else:
        raise StoreUnavailable(f"legacy backend answered {response.status}")
    ttl = settings.LEGACY_SESSION_CHECK_SECONDS
    if ttl > 0:
        cache.set(key, alive, timeout=ttl)
    return alive


def _write_store(session: LegacySession, *, username: str, role: str) -> None:
    """The legacy backend's two keys for a session the bridge opened (as its login writes
    them), so that the legacy backend accepts the token on the prefixes it still serves."""
    client = _redis()
    if client is None:
        return
    now = datetime.utcnow().isoformat()
    data = {
        "user_id": session.legacy_user_id,
        "user_data": {"username": username, "role": LEGACY_ROLES.get(role, "guest")},
        "created_at": now,
        "last_activity": now,
        "session_id": session.session_id,
    }
    ttl = settings.LEGACY_SESSION_SECONDS
    try:
        pipe = client.pipeline()
        pipe.set(SESSION_PREFIX + session.session_id, json.dumps(json.dumps(data)), ex=ttl)
        pipe.set(ACTIVITY_PREFIX + session.session_id, json.dumps(now), ex=ttl)
        pipe.execute()
    except Exception:
        logger.warning("legacy bridge: could not write the legacy session store", exc_info=True)


def _slide_store(session_id: str) -> None:
    client = _redis()
    if client is None:
        return
    ttl = settings.LEGACY_SESSION_SECONDS
    try:
        pipe = client.pipeline()
        pipe.expire(SESSION_PREFIX + session_id, ttl)
        pipe.expire(ACTIVITY_PREFIX + session_id, ttl)
        pipe.execute()
    except Exception:
        logger.warning("legacy bridge: could not slide the legacy session", exc_info=True)


def _drop_store(session_id: str, token: str | None) -> None:
    """End the session at the legacy backend too: its Redis keys, and (best effort) its own
    logout, which also clears the session from the legacy process's memory cache."""
    client = _redis()
    if client is not None:
        try:
            client.delete(SESSION_PREFIX + session_id, ACTIVITY_PREFIX + session_id)
        except Exception:
            logger.warning("legacy bridge: could not end the legacy session", exc_info=True)
    url = settings.LEGACY_BACKEND_URL
    if url and token:
        cache.delete("legacy-bridge:session-check:" + hashlib.sha256(token.encode()).hexdigest())
        from legacy_bridge.proxy import pool_manager

        try:
            pool_manager().request(
                "POST",
                url + "/api/v3/auth/logout",
                headers={"Authorization": f"Bearer {token}"},
                retries=False,
                redirect=False,
                timeout=2.0,
            )
        except Exception:
            logger.info("legacy bridge: the legacy backend's logout was not reached")


# --- sessions ------------------------------------------------------------------------------------


def _expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.LEGACY_SESSION_SECONDS)


def _revoke(session: LegacySession, reason: str) -> None:
    if session.revoked_at is None:
        LegacySession.objects.using(DB).filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason[:40]
        )


def open_session(*, user_id: uuid.UUID, legacy_user_id: int, username: str, role: str) -> tuple:
    """A new bridge session for a user who just signed in: (token, session)."""
    from apps.accounts.interface import session_marker

    marker = session_marker(user_id) or ""
    now = timezone.now()
    second = int(time.time())
    for _ in range(100):
        # the legacy format: "<legacy user id>_<unix seconds>"; two sign-ins in one second
        # would share a session at the legacy backend, here the second takes the next second
        session_id = f"{legacy_user_id}_{second}"
        try:
            with transaction.atomic(using=DB):
                session = LegacySession.objects.using(DB).create(
                    session_id=session_id,
                    user_id=user_id,
                    legacy_user_id=legacy_user_id,
                    origin=LegacySession.Origin.BRIDGE,
                    marker=marker,
                    last_activity_at=now,
                    expires_at=_expiry(now),
                )
            break
        except IntegrityError:
            second += 1
    else:  # pragma: no cover  (100 sign-ins of one user within a second)
        raise RuntimeError("no free session id")
    _write_store(session, username=username, role=role)
    return mint(legacy_user_id=legacy_user_id, session_id=session_id), session


def authenticate(token: str) -> tuple[Caller, SessionAuth]:
    """The caller a legacy token authenticates now (and the session slid), or
    ``InvalidSession``."""
    from apps.accounts.interface import session_marker, user_summary
    from legacy_bridge.legacy_ids import new_id_for

    claims = decode(token)
    session = LegacySession.objects.using(DB).filter(session_id=claims.session_id).first()
    if session is not None:
        if session.legacy_user_id != claims.user_id:
            raise InvalidSession("the session is another user's")
        if session.revoked_at is not None:
            raise InvalidSession("logged out")
        now = timezone.now()
        if session.expires_at <= now:
            _revoke(session, "expired")
            raise InvalidSession("expired")
        user_id = session.user_id
        check_store = session.origin == LegacySession.Origin.LEGACY or _redis() is not None
    else:
        user_id = new_id_for("users", claims.user_id)
        if user_id is None:
            raise InvalidSession("the legacy user is not imported")
        check_store = True
    if check_store:
        try:
            alive = _legacy_store_alive(claims, token)
        except StoreUnavailable as exc:
            if session is None:  # nothing of ours vouches for it
                raise InvalidSession(f"legacy session store unavailable ({exc})") from exc
            alive = True  # the legacy backend is off: our table decides
        if not alive:
            if session is not None:
                _revoke(session, "ended at the legacy backend")
            raise InvalidSession("not a session of the legacy backend")
    user = user_summary(user_id)
    marker = session_marker(user_id)
    if user is None or not user.is_active or marker is None:
        if session is not None:
            _revoke(session, "user inactive")
        raise InvalidSession("user inactive or gone")
    now = timezone.now()
    if session is None:
        with transaction.atomic(using=DB):
            session, _ = LegacySession.objects.using(DB).get_or_create(
                session_id=claims.session_id,
                defaults={
                    "user_id": user_id,
                    "legacy_user_id": claims.user_id,
                    "origin": LegacySession.Origin.LEGACY,
                    "marker": marker,
                    "last_activity_at": now,
                    "expires_at": _expiry(now),
                },
            )
        if session.user_id != user_id or session.revoked_at is not None:
            raise InvalidSession("session taken")
    elif session.marker and session.marker != marker:
        _revoke(session, "password changed")
        raise InvalidSession("password changed")
    expires_at = _expiry(now)
    LegacySession.objects.using(DB).filter(pk=session.pk).update(
        last_activity_at=now, expires_at=expires_at
    )
    _slide_store(session.session_id)
    caller = Caller(
        pk=user.id,
        username=user.username,
        role=user.role,
        is_auditor=user.is_auditor,
        is_active=user.is_active,
        legacy_id=claims.user_id,
    )
    return caller, SessionAuth(
        session_id=session.session_id, legacy_user_id=claims.user_id, expires_at=expires_at
    )


def end_session(session_id: str, *, token: str | None, reason: str = "logged out") -> None:
    """Log a session out here and at the legacy backend."""
    LegacySession.objects.using(DB).filter(session_id=session_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason[:40]
    )
    _drop_store(session_id, token)


def remark_sessions(user_id: uuid.UUID, *, before: str | None, after: str | None) -> None:
    """A sign-in upgraded the user's stored password hash (same password, new hash): their
    open sessions stay open."""
    if before and after and before != after:
        LegacySession.objects.using(DB).filter(
            user_id=user_id, marker=before, revoked_at__isnull=True
        ).update(marker=after)


def time_remaining(auth: SessionAuth) -> int:
    return max(0, int((auth.expires_at - timezone.now()).total_seconds()))
