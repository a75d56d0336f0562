"""users -> accounts users, keeping the bcrypt password hash (no password reset)."""

from __future__ import annotations

from typing import Any

from legacy_bridge.importing.engine import Context, RecordProblem, batched, derived_id, fingerprint
from legacy_bridge.importing.engine import import_record as _import_record

LEGACY_TABLE = "users"
ROLES = {"administrator": "admin", "manager": "manager", "user": "operator", "guest": "viewer"}
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")

COLUMNS = "id, username, email, password_hash, role, is_active, last_login, created_at"


def django_password_hash(legacy_hash: str | None) -> str:
    """The legacy bcrypt hash in Django's encoded form (``bcrypt$`` + the hash as it is)."""
    value = (legacy_hash or "").strip()
    if not value.startswith(BCRYPT_PREFIXES) or len(value) != 60:
        raise RecordProblem("the password hash is not a bcrypt hash ($2b$...)")
    return "bcrypt$" + value


def mapped_role(legacy_role: str | None) -> str:
    role = ROLES.get((legacy_role or "").strip().lower())
    if role is None:
        raise RecordProblem(
            f"unknown role {legacy_role!r} (expected one of {', '.join(sorted(ROLES))})"
        )
    return role


def normalise_email(value: str | None) -> str:
    """As Django stores it: the domain part in lower case."""
    email = (value or "").strip()
    name, at, domain = email.rpartition("@")
    return f"{name}@{domain.lower()}" if at else email


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """What the new system should hold for a legacy user (also what verification compares)."""
    return {
        "username": row["username"],
        "email": normalise_email(row["email"]),
        "role": ROLES.get((row["role"] or "").strip().lower(), "?"),
        "is_active": bool(row["is_active"]),
    }


def run(ctx: Context) -> None:
    from apps.accounts.interface import user_import

    table = ctx.report.table("users")
    with batched(ctx) as tick:
        for row in ctx.legacy.stream(f"SELECT {COLUMNS} FROM users ORDER BY id"):  # noqa: S608
            tick()
            table.read += 1
            digest = fingerprint(
                {k: row[k] for k in ("username", "email", "password_hash", "role", "is_active")}
            )

            def create(new_id, row=row):
                fields = expected(row)
                return user_import(
                    user_id=new_id,
                    username=fields["username"],
                    email=fields["email"],
                    role=mapped_role(row["role"]),
                    is_active=fields["is_active"],
                    password_hash=django_password_hash(row["password_hash"]),
                    last_login=row["last_login"],
                    date_joined=row["created_at"],
                    actor=ctx.actor,
                )

            _import_record(
                ctx,
                table,
                legacy_table=LEGACY_TABLE,
                legacy_id=row["id"],
                digest=digest,
                new_id=derived_id(LEGACY_TABLE, row["id"]),
                create=create,
            )
    table.note("passwords kept as bcrypt hashes: users sign in with their legacy password")
