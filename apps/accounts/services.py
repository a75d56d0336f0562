"""Writes of the accounts context: signing in and out, users, API tokens.

Every function that changes state does so inside ``transaction.atomic`` on the accounts alias,
together with the ``publish`` of its event: the event exists if and only if the change does.
Input problems raise Django's ``ValidationError`` keyed by the field the caller sent (the API's
error handler turns it into a 400 naming that field); broken invariants raise ``Conflict`` (409).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, password_validation
from django.contrib.auth.models import update_last_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from apps.accounts.models import ApiToken, User
from opsconductor.api.errors import Conflict
from opsconductor.db.router import alias_for_app
from opsconductor.events import SYSTEM, Actor, publish
from opsconductor.events.actor import ANONYMOUS
from opsconductor.observability.middleware import client_ip
from opsconductor.roles import Role

TOKEN_PREFIX = "oct"  # noqa: S105  (the public marker of a token value, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)

# The user fields an admin may change through ``user_update`` (the password has its own path).
USER_EDITABLE_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "is_auditor",
    "is_active",
)
# What a user may change about themselves.
PROFILE_FIELDS = ("email", "first_name", "last_name")


def _db() -> str:
    return alias_for_app("accounts")


def user_actor(user: User) -> Actor:
    return Actor(kind="user", id=str(user.pk), name=user.username)


# --- Errors -------------------------------------------------------------------------------------


class LoginFailed(Exception):
    """Wrong username or password, or an inactive account: the caller is not told which."""


class LoginThrottled(Exception):
    """Too many failed attempts for this username or client address; retry after a while."""

    def __init__(self, retry_after: int):
        super().__init__(f"locked for {retry_after}s")
        self.retry_after = retry_after


class TokenRejected(Exception):
    """A refresh token that is malformed, expired, blacklisted or not the caller's."""


class LastAdminError(Conflict):
    default_detail = (
        "This is the last active admin: make another user an active admin first, "
        "so that someone can still manage OpsConductor."
    )
    default_code = "last_admin"


# --- Sign-in throttling -------------------------------------------------------------------------
# Failures are counted in the cache per username and per client address. The count lives for
# LOGIN_LOCKOUT_SECONDS from the first failure; reaching the limit locks the key for
# LOGIN_LOCKOUT_SECONDS, during which even the right password is refused (429, Retry-After).


def _username_limit() -> int:
    return settings.LOGIN_FAILURE_LIMIT


def _ip_limit() -> int:
    # Many people may share one address (NAT, a proxy): allow more there than per username.
    return settings.LOGIN_IP_FAILURE_LIMIT


def _throttle_keys(*, username: str, ip: str | None) -> list[tuple[str, int]]:
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    keys = [(f"accounts:login-failures:user:{digest}", _username_limit())]
    if ip:
        keys.append((f"accounts:login-failures:ip:{ip}", _ip_limit()))
    return keys


def _seconds_locked(keys: list[tuple[str, int]]) -> int:
    """Seconds until every lock on ``keys`` lifts; 0 when none is locked."""
    locks = cache.get_many([f"{key}:locked-until" for key, _ in keys])
    now = time.time()
    remaining = [until - now for until in locks.values() if until and until > now]
    return max(1, int(max(remaining) + 0.999)) if remaining else 0


def _begin_attempt(keys: list[tuple[str, int]]) -> int:
    """Count an attempt BEFORE the password is checked, so that guesses sent in parallel are
    all counted; returns the seconds to wait when this attempt is over a limit, else 0."""
    wait = _seconds_locked(keys)
    if wait:
        return wait
    window = settings.LOGIN_LOCKOUT_SECONDS
    for key, limit in keys:
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
        if count > limit:
            cache.set(f"{key}:locked-until", time.time() + window, timeout=window)
            cache.delete(key)
            return window
    return 0


def _attempt_succeeded(keys: list[tuple[str, int]]) -> None:
    """The attempt was counted in advance: take it back (and forget the username's failures)."""
    (user_key, _), *address_keys = keys
    cache.delete(user_key)
    for key, _ in address_keys:
        with contextlib.suppress(ValueError):  # expired meanwhile
            cache.decr(key)


# --- JWT sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def _issue_tokens(user: User) -> TokenPair:
    refresh = RefreshToken.for_user(user)  # recorded as an OutstandingToken
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _login_failed(*, username: str, user: User | None, reason: str, **extra: Any) -> None:
    payload = {
        "username": username[:150],
        "user_id": str(user.pk) if user else None,
        "reason": reason,
        **extra,
    }
    with transaction.atomic(using=_db()):
        publish("accounts.login.failed", payload, actor=ANONYMOUS)


def auth_authenticate(
    *, username: str, password: str, ip: str | None = None, channel: str = "api", request=None
) -> User:
    """Check credentials, throttled: the one way every sign-in (API or admin site) goes.

    Raises ``LoginThrottled`` while the username or the address ``ip`` is locked out (even
    for the right password) and ``LoginFailed`` for wrong credentials or an inactive account.
    Both outcomes publish ``accounts.login.failed`` (with the reason); success publishes
    ``accounts.login.succeeded``. ``channel`` says where (``api``, ``admin``).
    """
    keys = _throttle_keys(username=username, ip=ip)
    wait = _begin_attempt(keys)
    if wait:
        known = User.objects.filter(username=username).first()
        _login_failed(
            username=username, user=known, reason="locked_out", retry_after=wait, channel=channel
        )
        raise LoginThrottled(wait)

    user = authenticate(request, username=username, password=password)
    if user is None:
        known = User.objects.filter(username=username).first()
        if known is None:
            reason = "unknown_user"
        elif not known.is_active:
            reason = "inactive_user"
        else:
            reason = "wrong_password"
        _login_failed(username=username, user=known, reason=reason, channel=channel)
        raise LoginFailed

    _attempt_succeeded(keys)
    with transaction.atomic(using=_db()):
        publish(
            "accounts.login.succeeded",
            {"user_id": str(user.pk), "username": user.username, "channel": channel},
            actor=user_actor(user),
        )
    return user


def auth_login(*, username: str, password: str, ip: str | None = None) -> TokenPair:
    """Check the credentials (``auth_authenticate``) and open an API session: an access and a
    refresh token."""
    user = auth_authenticate(username=username, password=password, ip=ip, channel="api")
    with transaction.atomic(using=_db()):
        tokens = _issue_tokens(user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)
    return tokens


def console_sign_in(*, request, username: str, password: str) -> User:
    """Sign in to the web console: the credentials checked like the API's sign-in
    (``auth_authenticate``: throttled, audited with channel ``console``), then a Django session
    (an HttpOnly cookie) opened on ``request``, with a new session key (no fixation)."""
    user = auth_authenticate(
        username=username,
        password=password,
        ip=client_ip(request) or None,
        channel="console",
        request=request,
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return user


def console_sign_out(*, request, actor: Actor) -> None:
    """End the console session on ``request`` (its row is deleted, the cookie cleared),
    audited as ``accounts.logout`` with channel ``console``."""
    user = request.user
    logout(request)
    with transaction.atomic(using=_db()):
        publish(
            "accounts.logout",
            {"user_id": str(user.pk), "username": user.username, "channel": "console"},
            actor=actor,
        )


def auth_refresh(*, refresh: str) -> TokenPair:
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted.

    The token's row is locked while it is checked and blacklisted, so two concurrent uses of one
    refresh token cannot both succeed. Raises ``TokenRejected``.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise TokenRejected(str(exc)) from exc
    jti = token.get(jwt_settings.JTI_CLAIM)
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    with transaction.atomic(using=_db()):
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",))
            .filter(jti=jti)
            .order_by("pk")  # its default ordering joins the user, which FOR UPDATE refuses
            .first()
        )
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise TokenRejected("Token is blacklisted")
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise TokenRejected("No active account found for the given token.")
        # A password changed since the token was issued (by any path, e.g. changepassword)
        # ends the session; simplejwt checks this claim on access tokens only.
        claim = token.get(jwt_settings.REVOKE_TOKEN_CLAIM)
        if claim is not None and claim != get_md5_hash_password(user.password):
            raise TokenRejected("The password has changed since this session began.")
        BlacklistedToken.objects.create(token=outstanding)
        return _issue_tokens(user)


def auth_logout(*, user: User, refresh: str, actor: Actor) -> bool:
    """Blacklist ``refresh`` (one of ``user``'s sessions). False if it was already logged out.

    Raises ``TokenRejected`` for a token that is invalid, expired or belongs to someone else.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        if _already_blacklisted(user=user, refresh=refresh):
            return False
        raise TokenRejected(str(exc)) from exc
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise TokenRejected("This refresh token belongs to another account.")
    with transaction.atomic(using=_db()):
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=token[jwt_settings.JTI_CLAIM],
            defaults={
                "user": user,
                "token": refresh,
                "created_at": timezone.now(),
                "expires_at": datetime_from_epoch(token["exp"]),
            },
        )
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if created:
            publish(
                "accounts.logout",
                {"user_id": str(user.pk), "username": user.username},
                actor=actor,
            )
    return created


def _already_blacklisted(*, user: User, refresh: str) -> bool:
    try:
        jti = RefreshToken(refresh, verify=False).get(jwt_settings.JTI_CLAIM)
    except TokenError:
        return False
    # The unverified jti only narrows the lookup; the stored token text must match exactly.
    return BlacklistedToken.objects.filter(
        token__jti=jti, token__user=user, token__token=refresh
    ).exists()


def _revoke_sessions(user: User) -> int:
    """Blacklist every unexpired refresh token of ``user``; returns how many."""
    pending = list(
        OutstandingToken.objects.filter(
            user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        )
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(pending)


# --- Users --------------------------------------------------------------------------------------


def _validate_password(password: str, *, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def _check_unique(user: User) -> None:
    """Case-insensitive uniqueness of username and email, reported on the field."""
    others = User.objects.exclude(pk=user.pk)
    errors = {}
    if others.filter(username__iexact=user.username).exists():
        errors["username"] = ["A user with that username already exists."]
    if user.email and others.filter(email__iexact=user.email).exists():
        errors["email"] = ["A user with that email address already exists."]
    if errors:
        raise ValidationError(errors)


def _clean(user: User) -> None:
    _check_unique(user)
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)


def _save(user: User, **kwargs: Any) -> None:
    try:
        with transaction.atomic(using=_db()):
            user.save(**kwargs)
    except IntegrityError as exc:  # a concurrent request took the name first
        raise ValidationError(
            {"username": ["A user with that username or email address already exists."]}
        ) from exc


def _user_payload(user: User) -> dict:
    return {
        "user_id": str(user.pk),
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "is_auditor": user.is_auditor,
        "is_active": user.is_active,
    }


def _is_active_admin(user: User) -> bool:
    return user.is_active and user.role == Role.ADMIN


def _lock_active_admins() -> list:
    """Lock every active admin row (in a fixed order, so concurrent callers cannot deadlock)."""
    return list(
        User.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _require_another_admin(user: User, admin_ids: list) -> None:
    if not any(pk != user.pk for pk in admin_ids):
        raise LastAdminError()


def user_create(
    *,
    username: str,
    password: str | None,
    actor: Actor,
    role: str = Role.VIEWER,
    is_auditor: bool = False,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_active: bool = True,
) -> User:
    """Create a user. ``password=None`` creates one who cannot sign in with a password."""
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        is_auditor=is_auditor,
        is_active=is_active,
    )
    _clean(user)
    if password is None:
        user.set_unusable_password()
    else:
        _validate_password(password, user=user, field="password")
        user.set_password(password)
    with transaction.atomic(using=_db()):
        _save(user, force_insert=True)
        publish("accounts.user.created", _user_payload(user), actor=actor)
    return user


def user_import(
    *,
    user_id: Any,
    username: str,
    password_hash: str,
    role: str,
    actor: Actor,
    email: str = "",
    is_active: bool = True,
    last_login: datetime | None = None,
    date_joined: datetime | None = None,
    publish_event: bool = True,
) -> tuple[User, bool]:
    """Create a user brought over from another system, keeping their password hash (in
    Django's encoded form, e.g. ``bcrypt$$2b$12$...``) so they sign in with the same password;
    the hash is upgraded to the preferred hasher at their first login.

    The id is the caller's (an import derives it from the source row), so a repeated call is
    harmless: if a user with ``user_id`` exists it is returned unchanged with ``False``.
    Raises ``ValidationError`` keyed by field (``password_hash`` when the hash is not one of
    the configured hashers' formats; its value is never echoed).
    """
    from django.contrib.auth.hashers import identify_hasher

    existing = User.objects.filter(pk=user_id).first()
    if existing is not None:
        return existing, False
    user = User(
        id=user_id,
        username=username,
        email=email,
        role=role,
        is_active=is_active,
        last_login=last_login,
        password=password_hash,
    )
    if date_joined is not None:
        user.date_joined = date_joined
    try:
        identify_hasher(password_hash)
    except ValueError:
        raise ValidationError(
            {"password_hash": ["Not a password hash of a supported format."]}
        ) from None
    _clean(user)
    with transaction.atomic(using=_db()):
        _save(user, force_insert=True)
        if publish_event:
            publish("accounts.user.created", {**_user_payload(user), "imported": True}, actor=actor)
    return user, True


def user_update(
    *,
    user: User,
    data: Mapping[str, Any],
    actor: Actor,
    password: str | None = None,
) -> User:
    """Change ``data``'s fields (any of ``USER_EDITABLE_FIELDS``) and, if given, the password.

    Publishes ``accounts.user.updated`` with the ``changes`` (before/after of each changed
    field; a new password shows only as ``password_changed``), plus ``accounts.user.role_changed``
    and ``accounts.user.password_changed`` where they apply. Nothing is published when nothing
    changes. Demoting or deactivating the last active admin raises ``LastAdminError``; a new
    password or a deactivation ends the user's sessions (their refresh tokens are blacklisted).
    """
    unknown = set(data) - set(USER_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"user_update cannot change {sorted(unknown)}")
    with transaction.atomic(using=_db()):
        # Lock the admins before the user (the order every writer uses) when this could be one.
        admin_ids = _lock_active_admins() if _is_active_admin(user) else None
        locked = User.objects.select_for_update().get(pk=user.pk)
        was_active_admin = _is_active_admin(locked)
        before = {field: getattr(locked, field) for field in USER_EDITABLE_FIELDS}
        for field, value in data.items():
            setattr(locked, field, value)
        _clean(locked)  # may normalize values (the email's domain), so compare afterwards
        changes = {
            field: {"before": before[field], "after": getattr(locked, field)}
            for field in USER_EDITABLE_FIELDS
            if getattr(locked, field) != before[field]
        }
        if not changes and password is None:
            return locked
        if was_active_admin and not _is_active_admin(locked):
            if admin_ids is None:  # the caller's copy was stale
                admin_ids = _lock_active_admins()
            _require_another_admin(locked, admin_ids)
        if password is not None:
            _validate_password(password, user=locked, field="password")
            locked.set_password(password)
        _save(locked)

        publish(
            "accounts.user.updated",
            {
                "user_id": str(locked.pk),
                "username": locked.username,
                "changes": changes,
                "password_changed": password is not None,
            },
            actor=actor,
        )
        if "role" in changes:
            publish(
                "accounts.user.role_changed",
                {
                    "user_id": str(locked.pk),
                    "username": locked.username,
                    "before": changes["role"]["before"],
                    "after": changes["role"]["after"],
                },
                actor=actor,
            )
        sessions_revoked = 0
        if password is not None or not locked.is_active:
            sessions_revoked = _revoke_sessions(locked)
        if password is not None:
            publish(
                "accounts.user.password_changed",
                {
                    "user_id": str(locked.pk),
                    "username": locked.username,
                    "self_service": False,
                    "sessions_revoked": sessions_revoked,
                },
                actor=actor,
            )
    _copy_into(user, locked)
    return user


def _copy_into(target: User, source: User) -> None:
    for field in target._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def user_delete(*, user: User, actor: Actor) -> None:
    """Delete ``user`` (their API tokens go with them; their sessions end).

    Raises ``LastAdminError`` for the last active admin. Other apps keep the user's id in their
    rows; ``interface.user_summary`` answers None for it from now on.
    """
    with transaction.atomic(using=_db()):
        admin_ids = _lock_active_admins() if _is_active_admin(user) else None
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            return
        if _is_active_admin(locked):
            _require_another_admin(
                locked, _lock_active_admins() if admin_ids is None else admin_ids
            )
        _revoke_sessions(locked)  # before the delete unlinks the outstanding tokens
        payload = {"user_id": str(locked.pk), "username": locked.username, "role": locked.role}
        locked.delete()
        publish("accounts.user.deleted", payload, actor=actor)


def user_change_password(
    *, user: User, old_password: str, new_password: str, actor: Actor, ip: str | None = None
) -> int:
    """A user changes their own password, proving it with the old one.

    Every refresh token of the user is blacklisted (other sessions end; this one too once its
    access token expires). A wrong old password counts as a failed sign-in for the username, so
    it cannot be guessed faster than a login: ``LoginThrottled`` once locked out.
    Returns how many sessions were ended.
    """
    keys = _throttle_keys(username=user.username, ip=ip)
    wait = _begin_attempt(keys)
    if wait:
        raise LoginThrottled(wait)
    if not user.check_password(old_password):
        raise ValidationError({"old_password": ["Your old password is not correct."]})
    _attempt_succeeded(keys)
    if new_password == old_password:
        raise ValidationError({"new_password": ["The new password must differ from the old one."]})
    _validate_password(new_password, user=user, field="new_password")
    with transaction.atomic(using=_db()):
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password", "updated_at"])
        revoked = _revoke_sessions(locked)
        publish(
            "accounts.user.password_changed",
            {
                "user_id": str(locked.pk),
                "username": locked.username,
                "self_service": True,
                "sessions_revoked": revoked,
            },
            actor=actor,
        )
    user.password = locked.password
    return revoked


def user_password_set_elsewhere(*, user: User, actor: Actor) -> int:
    """Record a password that was already set outside these services (the Django admin's form).

    Ends the user's sessions and publishes ``accounts.user.password_changed``; call it in the
    transaction that saved the password.
    """
    with transaction.atomic(using=_db()):
        revoked = _revoke_sessions(user)
        publish(
            "accounts.user.password_changed",
            {
                "user_id": str(user.pk),
                "username": user.username,
                "self_service": False,
                "sessions_revoked": revoked,
            },
            actor=actor,
        )
    return revoked


def generate_password() -> str:
    """A strong random password (24 URL-safe characters, about 144 bits)."""
    return secrets.token_urlsafe(18)


def admin_ensure(*, username: str = "admin", email: str = "") -> tuple[User, str] | None:
    """Make sure an active admin exists; returns (new admin, generated password) or None.

    None means an active admin already existed and nothing was changed. Raises
    ``ValidationError`` if ``username`` is taken by a user who is not an active admin.
    """
    with transaction.atomic(using=_db()):
        if User.objects.filter(role=Role.ADMIN, is_active=True).exists():
            return None
        password = generate_password()
        user = user_create(
            username=username, password=password, email=email, role=Role.ADMIN, actor=SYSTEM
        )
    return user, password


# --- API tokens ---------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token_value() -> tuple[str, str, str]:
    """(full value, prefix, digest) of a fresh token: ``oct_<prefix>_<secret>``."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    return f"{TOKEN_PREFIX}_{prefix}_{secret}", prefix, _digest(secret)


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


def _token_payload(token: ApiToken) -> dict:
    return {
        "token_id": str(token.pk),
        "user_id": str(token.user_id),
        "username": token.user.username,
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": token.expires_at,
    }


def api_token_create(
    *, user: User, name: str, actor: Actor, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new API token for ``user``; returns it with its full value (not retrievable later)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["This field may not be blank."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["The expiry must be in the future."]})
    duplicate = ValidationError(
        {"name": ["You already have an active token with this name; revoke it or pick another."]}
    )
    if ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).exists():
        raise duplicate
    value, prefix, digest = new_token_value()
    try:
        with transaction.atomic(using=_db()):
            token = ApiToken.objects.create(
                user=user, name=name, prefix=prefix, digest=digest, expires_at=expires_at
            )
            publish("accounts.token.created", _token_payload(token), actor=actor)
    except IntegrityError as exc:
        raise duplicate from exc
    return token, value


def api_token_revoke(*, token: ApiToken, actor: Actor) -> bool:
    """Revoke ``token`` from now on. False (and no event) if it was already revoked."""
    with transaction.atomic(using=_db()):
        now = timezone.now()
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not updated:
            return False
        token.revoked_at = now
        publish("accounts.token.revoked", _token_payload(token), actor=actor)
    return True
