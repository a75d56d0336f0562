"""The role model every app's permissions are written against (docs/adr/0005-role-model.md).

Roles are ordered: each includes everything the ones below it may do.
``auditor`` is a capability, not a role: it lets a user of any role read the audit trail.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer: read only"
    OPERATOR = "operator", "Operator: run jobs, cancel runs, read the rest"
    MANAGER = "manager", "Manager: targets, jobs, schedules and runs"
    ADMIN = "admin", "Admin: everything, including users and credentials"


RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def role_of(user) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", False):
        return None
    try:
        return Role(getattr(user, "role", ""))
    except ValueError:
        return None


def has_role(user, minimum: Role) -> bool:
    role = role_of(user)
    return role is not None and RANK[role] >= RANK[minimum]


def can_read_audit(user) -> bool:
    return has_role(user, Role.ADMIN) or (
        role_of(user) is not None and bool(getattr(user, "is_auditor", False))
    )
