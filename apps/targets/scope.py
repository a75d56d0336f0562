"""A credential's scope: which targets and addresses it may be sent to, and who may attach it.

The rules (docs/targets.md, "Credential scope"; ADR 0015):

- ``allowed_targets``: a selector (docs/targets-selectors.md); a target must match it when a
  method using the credential is created or changed, when the target itself is changed, and
  when a connection's parameters are built (``selectors.connection_params``). Empty: any.
- ``allowed_hosts``: names (exact, or ``*.suffix``) and addresses/CIDR networks. The host a
  method is configured with must be in it (an address in a network, a name matching a name
  entry; with networks only, any name, whose addresses are then checked). When the scope lists
  networks, every address actually dialled must be in one of them (``ssh_connect``). Empty: any.
- ``attach_roles``: roles besides admin that may attach the credential (default: none).
- ``host_key_policy``: ``strict`` makes every target using the credential strict.

This module holds the checks made on writes; ``connection.CredentialScope`` the ones made when
dialling.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from rest_framework.exceptions import PermissionDenied

from apps.targets.connection import CredentialScope
from opsconductor.events import Actor
from opsconductor.roles import Role

DB = "targets"
MAX_ALLOWED_HOSTS = 500
ATTACH_ROLES = (Role.VIEWER.value, Role.OPERATOR.value, Role.MANAGER.value)


# --- Validation of the scope fields (admins writing a credential) ------------------------------


def normalise_allowed_hosts(entries) -> list[str]:
    """``entries`` as stored: networks in canonical CIDR form (an address becomes a /32 or
    /128), names lower case without a trailing dot, duplicates dropped. Raises
    ``ValidationError`` keyed ``allowed_hosts`` or ``allowed_hosts.<index>``."""
    from apps.targets.services.inventory import validate_host

    if entries is None:
        return []
    if not isinstance(entries, list | tuple):
        raise ValidationError(
            {"allowed_hosts": ["Give a list of host names, addresses or networks."]}
        )
    if len(entries) > MAX_ALLOWED_HOSTS:
        raise ValidationError({"allowed_hosts": [f"At most {MAX_ALLOWED_HOSTS} entries."]})
    errors: dict[str, list[str]] = {}
    result: list[str] = []
    for index, entry in enumerate(entries):
        key = f"allowed_hosts.{index}"
        if not isinstance(entry, str) or not entry.strip():
            errors[key] = ["Enter a host name, a *.domain wildcard, an IP address or a network."]
            continue
        text = entry.strip()
        value = None
        if "/" in text or _is_address(text):
            try:
                value = str(ipaddress.ip_network(text.strip("[]"), strict=False))
            except ValueError:
                errors[key] = [f"{text!r} is not an IP address or a network (e.g. 10.0.0.0/24)."]
                continue
        elif text.startswith("*."):
            try:
                value = "*." + validate_host(text[2:])
            except ValidationError:
                errors[key] = [f"{text!r} is not a valid *.domain wildcard."]
                continue
            if _is_address(value[2:]):
                errors[key] = [f"{text!r}: a wildcard takes a domain, not an address."]
                continue
        else:
            try:
                value = validate_host(text)
            except ValidationError:
                errors[key] = [
                    f"{text!r} is not a host name, a *.domain wildcard, an address or a network."
                ]
                continue
        if value not in result:
            result.append(value)
    if errors:
        raise ValidationError(errors)
    return result


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def validate_allowed_targets(text: str) -> str:
    from apps.targets.selection import SelectorError, validate

    text = (text or "").strip()
    if text:
        try:
            validate(text)
        except SelectorError as exc:
            raise ValidationError({"allowed_targets": [str(exc)]}) from exc
    return text


def validate_attach_roles(roles) -> list[str]:
    if roles is None:
        return []
    if not isinstance(roles, list | tuple):
        raise ValidationError({"attach_roles": ["Give a list of roles."]})
    errors = {}
    for index, role in enumerate(roles):
        if role == Role.ADMIN.value:
            errors[f"attach_roles.{index}"] = ["Admins may always attach: list other roles."]
        elif role not in ATTACH_ROLES:
            errors[f"attach_roles.{index}"] = [
                f"{role!r} is not a role ({', '.join(ATTACH_ROLES)})."
            ]
    if errors:
        raise ValidationError(errors)
    return sorted(set(roles), key=ATTACH_ROLES.index)


# --- The scope of one credential -----------------------------------------------------------------


def split_hosts(entries: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, networks) of stored ``allowed_hosts`` entries."""
    names, networks = [], []
    for entry in entries or ():
        (networks if "/" in entry else names).append(entry)
    return tuple(names), tuple(networks)


def target_selected(selector: str, target_id: uuid.UUID) -> bool:
    """Whether the target ``target_id`` (as stored now) matches ``selector``."""
    from apps.targets.models import Target
    from apps.targets.selection import SelectorError, select

    if not selector:
        return True
    try:
        return select(selector, Target.objects.using(DB).filter(pk=target_id)).exists()
    except SelectorError:  # a selector that broke (e.g. a group cycle made later): refuse
        return False


def scope_for(credential, target) -> CredentialScope | None:
    """The scope a connection to ``target`` with ``credential`` carries (None: unrestricted).

    The selector is evaluated now, against the target as stored now: a target that was edited
    out of ``allowed_targets`` gets a scope whose ``refusal`` says so (nothing is dialled)."""
    if credential is None:
        return None
    names, networks = split_hosts(credential.allowed_hosts)
    refusal = ""
    if credential.allowed_targets and not target_selected(credential.allowed_targets, target.pk):
        refusal = f"target {target.name} does not match the credential's allowed_targets"
    if not names and not networks and not refusal:
        return None
    return CredentialScope(
        credential_name=credential.name, names=names, networks=networks, refusal=refusal
    )


# --- Checks on writes ----------------------------------------------------------------------------


def may_attach(actor: Actor, credential) -> bool:
    """Whether ``actor`` may attach ``credential`` to a connection method: admins, the roles
    the credential lists in ``attach_roles``, and the system itself (imports, migrations)."""
    if actor.kind == "system":
        return True
    from apps.accounts.interface import role_for_actor

    role = role_for_actor(actor)
    if role is None:
        return False
    return role == Role.ADMIN.value or role in (credential.attach_roles or [])


def require_attach(actor: Actor, credential, *, doing: str = "attach") -> None:
    """403 unless ``actor`` may attach ``credential``; the message names only the credential."""
    if not may_attach(actor, credential):
        raise PermissionDenied(
            f"You may not {doing} credential {credential.name}: your role may not attach it to "
            "a connection method (an admin decides who may)."
        )


def check_method_in_scope(
    *, credential, target, host: str, field_prefix: str = "", check_target: bool = True
) -> None:
    """400 (``ValidationError``) when ``target``/``host`` is outside ``credential``'s scope.
    ``check_target=False``: the host only (a target not saved yet, e.g. in the admin)."""
    if credential is None:
        return
    errors: dict[str, list[str]] = {}
    if (
        check_target
        and credential.allowed_targets
        and not target_selected(credential.allowed_targets, target.pk)
    ):
        errors[f"{field_prefix}credential"] = [
            f"Credential {credential.name} may not be used with target {target.name}: the target "
            "is outside the credential's allowed targets."
        ]
    names, networks = split_hosts(credential.allowed_hosts)
    scope = CredentialScope(credential_name=credential.name, names=names, networks=networks)
    if host and scope.host_refusal(host):
        errors[f"{field_prefix}host"] = [
            f"Credential {credential.name} may not be sent to {host}: the host is outside the "
            "credential's allowed hosts."
        ]
    if (
        check_target
        and credential.host_key_policy == credential.HostKeyPolicy.STRICT
        and target.host_key_policy == "accept-new"
    ):
        errors[f"{field_prefix}credential"] = [
            *errors.get(f"{field_prefix}credential", []),
            f"Credential {credential.name} requires a strict host-key policy; the target's is "
            "accept-new.",
        ]
    if errors:
        raise ValidationError(errors)


# --- Refusals at connect time --------------------------------------------------------------------


def publish_scope_refused(
    *,
    target_id: uuid.UUID,
    target_name: str,
    credential_name: str,
    address: str,
    reason: str,
    via: str,
    actor: Actor,
) -> None:
    """Publish ``targets.credential.scope_refused`` (in the caller's transaction on the targets
    alias): a connection was refused because its credential may not be used there; nothing
    was sent to the host. ``via``: ``health_check``, ``host_key_scan`` or ``run``."""
    from apps.targets.models import Credential
    from opsconductor.events import publish

    credential_id = (
        Credential.objects.using(DB)
        .filter(name=credential_name)
        .values_list("id", flat=True)
        .first()
    )
    publish(
        "targets.credential.scope_refused",
        {
            "credential_id": str(credential_id) if credential_id else None,
            "credential_name": credential_name,
            "target_id": str(target_id),
            "target_name": target_name,
            "credential": credential_name,
            "address": address,
            "reason": reason,
            "via": via,
            "actor": actor.label,
        },
        actor=actor,
    )
