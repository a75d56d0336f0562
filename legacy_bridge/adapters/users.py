"""``/api/v3/users``: the legacy UI's user management page (U1-U4), served by the accounts app.

Our roles apply: users are an admin's business here as in ``/api/v1/users/`` (the legacy
backend let anyone list them). Legacy role names map to ours both ways (``administrator`` =
admin, ``manager``, ``user`` = operator, ``guest`` = viewer). ``DELETE`` deactivates, as the
legacy backend's soft delete did.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from apps.accounts.interface import (
    UserDetails,
    user_create_as,
    user_details,
    user_update_as,
    users_page,
)
from legacy_bridge import legacy_ids, sessions
from legacy_bridge.adapters.common import (
    actor,
    answer,
    detail,
    endpoint,
    fields,
    from_validation,
    invalid,
    new_id,
    object_body,
    path_int,
    query_int,
    when,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.responses import field_error
from opsconductor.api.errors import Conflict
from opsconductor.roles import Role

OUR_ROLES = {legacy: ours for ours, legacy in sessions.LEGACY_ROLES.items()}
NOT_FOUND = "User not found"
TAKEN = "Username or email already exists"
# what the legacy backend's EmailStr accepted, roughly: one @, a dotted domain
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

area = Area(
    "legacy-users",
    "/api/v3/users: list, create, update and deactivate users (admins only), in the legacy "
    "shapes, through the accounts app.",
    root="/api/v3/users",
)


def shape(user: UserDetails, legacy_id: int) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "role": sessions.LEGACY_ROLES.get(user.role, "guest"),
        "id": legacy_id,
        "is_active": user.is_active,
        "last_login": when(user.last_login),
        "created_at": when(user.created_at),
        "updated_at": when(user.updated_at),
    }


def _email_error(value: str) -> dict | None:
    if "@" not in value or value.count("@") != 1:
        reason = "The email address is not valid. It must have exactly one @-sign."
    elif not _EMAIL.match(value):
        reason = "The part after the @-sign is not valid."
    else:
        return None
    return field_error(
        ("body", "email"),
        f"value is not a valid email address: {reason}",
        input=value,
        ctx={"reason": reason},
    )


def _checked(request) -> dict:
    data = fields(
        object_body(request),
        {
            "username": (str, True),
            "email": (str, True),
            "password": (str, False),
            "role": (str, False),
        },
    )
    errors = []
    email_error = _email_error(data["email"])
    if email_error:
        errors.append(email_error)
    if "role" in data and data["role"] not in OUR_ROLES:
        errors.append(
            field_error(
                ("body", "role"),
                f"Input should be {', '.join(repr(r) for r in OUR_ROLES)}",
                "enum",
                input=data["role"],
            )
        )
    if errors:
        raise invalid(*errors)
    return data


def _user_or_404(user_id: str):
    number = path_int(user_id, "user_id")
    found = new_id("users", number)
    user = user_details(found) if found else None
    return number, user


def _write_failed(exc: ValidationError):
    messages = exc.message_dict if hasattr(exc, "error_dict") else {}
    taken = [
        key
        for key, msgs in messages.items()
        if key in ("username", "email") and any("already exists" in m for m in msgs)
    ]
    if taken:
        return detail(400, TAKEN)
    return from_validation(exc).response


@area.endpoint("GET", r"/", calls="U1", example="/?skip=0&limit=100", role=Role.ADMIN)
@endpoint
def user_list(request):
    skip = query_int(request, "skip", 0, ge=0)
    limit = query_int(request, "limit", 100, ge=1, le=1000)
    users, _ = users_page(skip=skip, limit=limit)
    ids = legacy_ids.legacy_ids_for("users", [u.id for u in users])
    return answer([shape(u, ids[u.id]) for u in users])


@area.endpoint("POST", r"/", calls="U2", example="/", role=Role.ADMIN)
@endpoint
def user_create(request):
    data = _checked(request)
    if not data.get("password"):
        raise invalid(field_error(("body", "password"), "Field required", "missing", input=data))
    try:
        user = user_create_as(
            actor=actor(request),
            username=data["username"],
            email=data["email"],
            password=data["password"],
            role=OUR_ROLES[data.get("role") or "user"],
        )
    except ValidationError as exc:
        return _write_failed(exc)
    return answer(shape(user, legacy_ids.legacy_id_for("users", user.id)))


@area.endpoint("GET", r"/(?P<user_id>[^/]+)", calls="-", example="/1", role=Role.ADMIN)
@endpoint
def user_detail(request, user_id):
    number, user = _user_or_404(user_id)
    if user is None:
        return detail(404, NOT_FOUND)
    return answer(shape(user, number))


@area.endpoint("PUT", r"/(?P<user_id>[^/]+)", calls="U3", example="/1", role=Role.ADMIN)
@endpoint
def user_update(request, user_id):
    data = _checked(request)  # FastAPI validates the body before the handler looks anything up
    number, user = _user_or_404(user_id)
    if user is None:
        return detail(404, NOT_FOUND)
    changes = {"username": data["username"], "email": data["email"]}
    if data.get("role"):
        changes["role"] = OUR_ROLES[data["role"]]
    try:
        updated = user_update_as(
            actor=actor(request),
            user_id=user.id,
            data=changes,
            # the edit dialog sends "" unless a new password was typed
            password=data.get("password") or None,
        )
    except ValidationError as exc:
        return _write_failed(exc)
    except Conflict as exc:
        return detail(409, str(exc.detail))
    if updated is None:
        return detail(404, NOT_FOUND)
    return answer(shape(updated, number))


@area.endpoint("DELETE", r"/(?P<user_id>[^/]+)", calls="U4", example="/1", role=Role.ADMIN)
@endpoint
def user_deactivate(request, user_id):
    _, user = _user_or_404(user_id)
    if user is None:
        return detail(404, NOT_FOUND)
    try:
        user_update_as(actor=actor(request), user_id=user.id, data={"is_active": False})
    except Conflict as exc:
        return detail(409, str(exc.detail))
    return answer({"message": "User deactivated successfully"})


area.register()
