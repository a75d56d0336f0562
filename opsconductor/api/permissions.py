"""DRF permission classes for every app, built on the role model in ``opsconductor.roles``.

Unauthenticated requests get 401 (DRF does this when ``has_permission`` is false for an
anonymous user and an authenticator offers a challenge); authenticated ones lacking the role 403.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from opsconductor.roles import Role, can_read_audit, has_role, role_of


class _RolePermission(BasePermission):
    read_role: Role = Role.VIEWER
    write_role: Role = Role.MANAGER
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        if role_of(request.user) is None:
            return False
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        return has_role(request.user, needed)


def role_permission(*, read: Role, write: Role, name: str) -> type[BasePermission]:
    """A permission class: safe methods need ``read``, anything else ``write`` (or above)."""
    return type(name, (_RolePermission,), {"read_role": read, "write_role": write})


IsAuthenticatedUser = role_permission(
    read=Role.VIEWER, write=Role.VIEWER, name="IsAuthenticatedUser"
)
ViewerReadManagerWrite = role_permission(
    read=Role.VIEWER, write=Role.MANAGER, name="ViewerReadManagerWrite"
)
ViewerReadOperatorWrite = role_permission(
    read=Role.VIEWER, write=Role.OPERATOR, name="ViewerReadOperatorWrite"
)
ViewerReadAdminWrite = role_permission(
    read=Role.VIEWER, write=Role.ADMIN, name="ViewerReadAdminWrite"
)
AdminOnly = role_permission(read=Role.ADMIN, write=Role.ADMIN, name="AdminOnly")


class CanReadAudit(BasePermission):
    """Admins, and users of any role holding the auditor capability; read only."""

    message = "Reading the audit trail needs the auditor capability."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS and can_read_audit(request.user)
