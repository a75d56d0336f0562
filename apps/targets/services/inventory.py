"""Targets, their tags, labels and connection methods, and groups."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.targets import scope
from apps.targets.models import ConnectionMethod, Credential, Group, Tag, Target, TargetLabel
from opsconductor.events import Actor, publish

DB = "targets"
DEFAULT_PORTS = {"ssh": 22, "winrm": 5985}
WINRM_HTTPS_PORT = 5986
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

# Target fields a caller may set directly (tags, labels and methods have their own handling).
TARGET_FIELDS = (
    "name",
    "description",
    "os_family",
    "environment",
    "location",
    "data_center",
    "region",
    "status",
    "host_key_policy",
)


def validate_host(value: str) -> str:
    """An IP address or a DNS name; returns it normalised (lower case, no trailing dot)."""
    host = value.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or len(host) > 253 or not all(_HOST_LABEL.match(p) for p in host.split(".")):
        raise ValidationError("Enter an IP address or a valid host name.")
    if host.replace(".", "").isdigit():
        raise ValidationError("Enter an IP address or a valid host name.")
    return host


# --- Targets ------------------------------------------------------------------------------------


def _set_tags(target: Target, names: Iterable[str]) -> None:
    tags = []
    for name in sorted(set(names)):
        tag = Tag.objects.using(DB).filter(name=name).first()
        if tag is None:
            tag = Tag(name=name)
            tag.full_clean()
            tag.save(using=DB)
        tags.append(tag)
    target.tags.set(tags)


def _clean_label(label: TargetLabel) -> None:
    """Validate one label; its errors are keyed ``labels.<key>``."""
    try:
        label.full_clean(exclude=["target"])
    except ValidationError as exc:
        raise ValidationError({f"labels.{label.key}": exc.messages}) from exc


def _set_labels(target: Target, labels: Mapping[str, str]) -> None:
    TargetLabel.objects.using(DB).filter(target=target).exclude(key__in=list(labels)).delete()
    existing = {label.key: label for label in TargetLabel.objects.using(DB).filter(target=target)}
    for key, value in labels.items():
        label = existing.get(key) or TargetLabel(target=target, key=key)
        label.value = "" if value is None else str(value)
        _clean_label(label)
        label.save(using=DB)


def _create_labels(target: Target, labels: Mapping[str, str]) -> None:
    """The labels of a new target: validated one by one, written in one insert."""
    rows = []
    for key, value in labels.items():
        label = TargetLabel(target=target, key=key, value="" if value is None else str(value))
        _clean_label(label)
        rows.append(label)
    TargetLabel.objects.using(DB).bulk_create(rows)


def _snapshot(target: Target) -> dict[str, Any]:
    data = {field: getattr(target, field) for field in TARGET_FIELDS}
    data["tags"] = sorted(target.tags.values_list("name", flat=True))
    data["labels"] = dict(target.labels.values_list("key", "value"))
    return data


def _target_payload(target: Target) -> dict[str, Any]:
    return {"target_id": str(target.pk), "name": target.name}


def target_create(
    *,
    data: Mapping[str, Any],
    tags: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    connection_methods: Iterable[Mapping[str, Any]] = (),
    actor: Actor,
    publish_event: bool = True,
    pk: uuid.UUID | None = None,
) -> Target:
    with transaction.atomic(using=DB):
        target = Target(**{k: v for k, v in data.items() if k in TARGET_FIELDS})
        if pk is not None:  # an import keeps the id it derived from the source row
            target.pk = pk
        target.created_by_id = actor.user_id
        target.full_clean()
        target.save(using=DB, force_insert=True)
        tags = list(tags)
        if tags:  # a new target has none to replace
            _set_tags(target, tags)
        _create_labels(target, labels or {})
        for index, method in enumerate(connection_methods):
            try:
                connection_method_create(target=target, data=method, actor=actor, quiet=True)
            except ValidationError as exc:
                raise ValidationError(
                    {f"connection_methods.{index}.{k}": v for k, v in exc.message_dict.items()}
                ) from exc
        if publish_event:
            publish(
                "targets.target.created",
                {**_target_payload(target), "snapshot": _snapshot(target)},
                actor=actor,
            )
    return target


def target_update(
    *,
    target: Target,
    data: Mapping[str, Any],
    tags: Iterable[str] | None = None,
    labels: Mapping[str, str] | None = None,
    actor: Actor,
) -> Target:
    with transaction.atomic(using=DB):
        locked = Target.objects.using(DB).select_for_update().get(pk=target.pk)
        before = _snapshot(locked)
        for field in TARGET_FIELDS:
            if field in data:
                setattr(locked, field, data[field])
        locked.full_clean()
        locked.save(using=DB)
        if tags is not None:
            _set_tags(locked, tags)
        if labels is not None:
            _set_labels(locked, labels)
        after = _snapshot(locked)
        changes = {
            key: {"from": before[key], "to": after[key]}
            for key in after
            if before[key] != after[key]
        }
        if changes:
            _check_credentials_still_in_scope(locked, changes, actor)
        if changes:
            publish(
                "targets.target.updated",
                {**_target_payload(locked), "changes": changes},
                actor=actor,
            )
    return locked


def _check_credentials_still_in_scope(target: Target, changes: Mapping, actor: Actor) -> None:
    """Refuse a target change that would move an attached credential out of its scope: a
    host-key policy change needs the right to attach each credential (403) and may not make a
    target of a ``strict`` credential accept-new (400); any change must leave the target inside
    each credential's ``allowed_targets`` (400 naming the changed field)."""
    credentials = {
        m.credential_id: m.credential
        for m in ConnectionMethod.objects.using(DB)
        .filter(target=target, credential__isnull=False)
        .select_related("credential")
    }
    for credential in sorted(credentials.values(), key=lambda c: c.name):
        if "host_key_policy" in changes:
            scope.require_attach(
                actor, credential, doing="change the host-key policy of a target using"
            )
            if (
                target.host_key_policy == Target.HostKeyPolicy.ACCEPT_NEW
                and credential.host_key_policy == Credential.HostKeyPolicy.STRICT
            ):
                raise ValidationError(
                    {
                        "host_key_policy": [
                            f"Credential {credential.name} requires a strict host-key policy: "
                            "it never trusts a key on first use."
                        ]
                    }
                )
        if credential.allowed_targets and not scope.target_selected(
            credential.allowed_targets, target.pk
        ):
            field = next(iter(changes))
            raise ValidationError(
                {
                    field: [
                        f"This change takes the target out of the allowed targets of credential "
                        f"{credential.name}, which one of its connection methods uses."
                    ]
                }
            )


def target_delete(*, target: Target, actor: Actor) -> None:
    with transaction.atomic(using=DB):
        payload = {**_target_payload(target), "snapshot": _snapshot(target)}
        Target.objects.using(DB).filter(pk=target.pk).delete()
        publish("targets.target.deleted", payload, actor=actor)


# --- Connection methods -------------------------------------------------------------------------

METHOD_FIELDS = (
    "protocol",
    "host",
    "port",
    "username",
    "credential",
    "priority",
    "is_primary",
    "winrm_scheme",
    "winrm_transport",
    "winrm_validate_cert",
)


def _clean_method(method: ConnectionMethod) -> None:
    errors: dict[str, list[str]] = {}
    try:
        method.host = validate_host(method.host or "")
    except ValidationError as exc:
        errors["host"] = exc.messages
    if method.protocol == ConnectionMethod.Protocol.WINRM:
        method.winrm_scheme = method.winrm_scheme or ConnectionMethod.WinrmScheme.HTTP
        method.winrm_transport = method.winrm_transport or ConnectionMethod.WinrmTransport.NTLM
        if not method.port:
            method.port = WINRM_HTTPS_PORT if method.winrm_scheme == "https" else 5985
    else:
        if method.winrm_scheme or method.winrm_transport:
            errors["winrm_scheme"] = ["Only WinRM connection methods take WinRM options."]
        method.port = method.port or DEFAULT_PORTS["ssh"]
    credential = method.credential
    if credential is not None:
        allowed = {
            ConnectionMethod.Protocol.SSH: {Credential.Kind.PASSWORD, Credential.Kind.SSH_KEY},
            ConnectionMethod.Protocol.WINRM: {Credential.Kind.WINRM, Credential.Kind.PASSWORD},
        }.get(method.protocol, set())
        if credential.kind not in allowed:
            errors["credential"] = [
                f"A {credential.get_kind_display()} credential cannot be used for "
                f"{method.protocol}."
            ]
    try:
        # The one-primary constraint is kept by _make_primary, not by refusing the change.
        method.full_clean(exclude=["host", "target"], validate_constraints=False)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _method_payload(method: ConnectionMethod) -> dict[str, Any]:
    return {
        "target_id": str(method.target_id),
        "method_id": str(method.pk),
        "protocol": method.protocol,
        "address": f"{method.host}:{method.port}",
        "credential": method.credential.name if method.credential else None,
    }


def _make_primary(method: ConnectionMethod) -> None:
    ConnectionMethod.objects.using(DB).filter(target_id=method.target_id, is_primary=True).exclude(
        pk=method.pk
    ).update(is_primary=False)


def connection_method_create(
    *, target: Target, data: Mapping[str, Any], actor: Actor, quiet: bool = False
) -> ConnectionMethod:
    with transaction.atomic(using=DB):
        method = ConnectionMethod(
            target=target, **{k: v for k, v in data.items() if k in METHOD_FIELDS}
        )
        first = not ConnectionMethod.objects.using(DB).filter(target=target).exists()
        method.is_primary = bool(data.get("is_primary")) or first
        _clean_method(method)
        if method.credential is not None:
            scope.require_attach(actor, method.credential)
            scope.check_method_in_scope(
                credential=method.credential, target=target, host=method.host
            )
        if method.is_primary and not first:  # the first method has no other to demote
            _make_primary(method)
        method.save(using=DB)
        if not quiet:
            publish("targets.connection_method.created", _method_payload(method), actor=actor)
    return method


def connection_method_update(
    *, method: ConnectionMethod, data: Mapping[str, Any], actor: Actor
) -> ConnectionMethod:
    with transaction.atomic(using=DB):
        locked = ConnectionMethod.objects.using(DB).select_for_update().get(pk=method.pk)
        address_before = (locked.host, locked.port)
        credential_before = locked.credential_id
        for field in METHOD_FIELDS:
            if field in data:
                setattr(locked, field, data[field])
        _clean_method(locked)
        if locked.credential is not None:
            if locked.credential_id != credential_before:
                scope.require_attach(actor, locked.credential)
            elif (locked.host, locked.port) != address_before:
                # Moving a credential to another address is attaching it there.
                scope.require_attach(
                    actor, locked.credential, doing="change the address of a method using"
                )
            if locked.credential_id != credential_before or locked.host != address_before[0]:
                scope.check_method_in_scope(
                    credential=locked.credential, target=locked.target, host=locked.host
                )
        if locked.is_primary:
            _make_primary(locked)
        locked.save(using=DB)
        payload = _method_payload(locked)
        if (locked.host, locked.port) != address_before:
            # Keys trusted for the old address say nothing about the new one.
            removed = locked.host_keys.all().delete()[0]
            payload["host_keys_forgotten"] = removed
        publish("targets.connection_method.updated", payload, actor=actor)
    return locked


def connection_method_delete(*, method: ConnectionMethod, actor: Actor) -> None:
    with transaction.atomic(using=DB):
        payload = _method_payload(method)
        target_id = method.target_id
        was_primary = method.is_primary
        ConnectionMethod.objects.using(DB).filter(pk=method.pk).delete()
        if was_primary:
            successor = ConnectionMethod.objects.using(DB).filter(target_id=target_id).first()
            if successor is not None:
                successor.is_primary = True
                successor.save(using=DB, update_fields=["is_primary"])
        publish("targets.connection_method.deleted", payload, actor=actor)


# --- Groups -------------------------------------------------------------------------------------


def _group_payload(group: Group) -> dict[str, Any]:
    return {"group_id": str(group.pk), "name": group.name, "selector": group.selector}


def _validate_group_selector(selector: str) -> None:
    if not selector:
        return
    from apps.targets.selection import SelectorError, validate

    try:
        validate(selector)
    except SelectorError as exc:
        raise ValidationError({"selector": str(exc)}) from exc


def _check_group_resolves(group: Group) -> None:
    """Refuse (inside the caller's transaction) a group whose selector makes a cycle."""
    if not group.selector:
        return
    from apps.targets.selection import SelectorError, parse, to_q

    try:
        to_q(parse(f'group:"{group.name}"'), using=DB)
    except SelectorError as exc:
        raise ValidationError({"selector": str(exc)}) from exc


def group_create(
    *,
    data: Mapping[str, Any],
    member_ids: Iterable[uuid.UUID] = (),
    actor: Actor,
    pk: uuid.UUID | None = None,
    publish_event: bool = True,
) -> Group:
    with transaction.atomic(using=DB):
        group = Group(**{k: data[k] for k in ("name", "description", "selector") if k in data})
        if pk is not None:
            group.pk = pk
        group.full_clean()
        _validate_group_selector(group.selector)
        group.save(using=DB)
        group.members.set(list(member_ids))
        _check_group_resolves(group)
        if publish_event:
            publish("targets.group.created", _group_payload(group), actor=actor)
    return group


def group_update(
    *,
    group: Group,
    data: Mapping[str, Any],
    member_ids: Iterable[uuid.UUID] | None = None,
    actor: Actor,
) -> Group:
    with transaction.atomic(using=DB):
        locked = Group.objects.using(DB).select_for_update().get(pk=group.pk)
        for field in ("name", "description", "selector"):
            if field in data:
                setattr(locked, field, data[field])
        locked.full_clean()
        _validate_group_selector(locked.selector)
        locked.save(using=DB)
        if member_ids is not None:
            locked.members.set(list(member_ids))
        _check_group_resolves(locked)
        publish("targets.group.updated", _group_payload(locked), actor=actor)
    return locked


def group_delete(*, group: Group, actor: Actor) -> None:
    with transaction.atomic(using=DB):
        payload = _group_payload(group)
        Group.objects.using(DB).filter(pk=group.pk).delete()
        publish("targets.group.deleted", payload, actor=actor)
