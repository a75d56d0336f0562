"""Credentials: create, rotate and delete sealed secrets, and set their scope (apps/targets/
scope.py). Only admins reach these."""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import uuid

import paramiko
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from apps.targets import scope
from apps.targets.connection import fingerprint_sha256
from apps.targets.models import Credential
from opsconductor.api.errors import Conflict
from opsconductor.events import Actor, publish
from opsconductor.sealing import seal

DB = "targets"
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
MAX_KEY_LENGTH = 16_384


def key_is_encrypted(text: str) -> bool:
    """Whether a private key's text says it is protected by a passphrase."""
    if "Proc-Type: 4,ENCRYPTED" in text or "BEGIN ENCRYPTED PRIVATE KEY" in text:
        return True
    match = re.search(
        r"-----BEGIN OPENSSH PRIVATE KEY-----(.*?)-----END OPENSSH PRIVATE KEY-----", text, re.S
    )
    if not match:
        return False
    try:
        blob = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\0"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    (length,) = struct.unpack(">I", blob[len(magic) : len(magic) + 4])
    cipher = blob[len(magic) + 4 : len(magic) + 4 + length]
    return cipher != b"none"


def parse_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """The key in ``text``; ValidationError naming ``private_key`` or ``passphrase`` if not."""
    if len(text) > MAX_KEY_LENGTH:
        raise ValidationError({"private_key": "The key is longer than any supported key."})
    encrypted = key_is_encrypted(text)
    if encrypted and not passphrase:
        raise ValidationError({"passphrase": "The key is encrypted: its passphrase is required."})
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except (paramiko.SSHException, ValueError, TypeError, IndexError, AssertionError):
            continue
    if encrypted:
        raise ValidationError(
            {"passphrase": "The passphrase is wrong (or the key is damaged): it does not open it."}
        )
    raise ValidationError(
        {"private_key": "Not a readable private key (OpenSSH or PEM format; Ed25519, ECDSA, RSA)."}
    )


def _sealed_secret(
    *, kind: str, password: str | None, private_key: str | None, passphrase: str | None
) -> tuple[str, str, str]:
    """(sealed secret, key type, key fingerprint) for a new secret value; validates it."""
    if kind == Credential.Kind.SSH_KEY:
        if not private_key:
            raise ValidationError({"private_key": "This field is required for an ssh_key."})
        key = parse_private_key(private_key, passphrase)
        secret = {"private_key": private_key, "passphrase": passphrase or None}
        return seal(secret), key.get_name(), fingerprint_sha256(key.asbytes())
    if not password:
        raise ValidationError({"password": f"This field is required for a {kind} credential."})
    return seal({"password": password}), "", ""


def _actor_fields(actor: Actor) -> dict:
    return {
        "secret_set_at": timezone.now(),
        "secret_set_by_id": actor.user_id,
        "secret_set_by_name": actor.name,
    }


def _event_payload(credential: Credential) -> dict:
    return {
        "credential_id": str(credential.pk),
        "name": credential.name,
        "kind": credential.kind,
        "username": credential.username,
        "key_fingerprint": credential.key_fingerprint,
        "scope": _scope_fields(credential),
    }


SCOPE_FIELDS = ("allowed_targets", "allowed_hosts", "attach_roles", "host_key_policy")


def _scope_fields(credential: Credential) -> dict:
    return {field: getattr(credential, field) for field in SCOPE_FIELDS}


def _clean_scope(values: dict) -> dict:
    """The scope fields among ``values`` validated and normalised (ValidationError keyed by
    field, ``allowed_hosts.<i>`` for one host entry)."""
    cleaned = {}
    errors: dict[str, list[str]] = {}
    for field, clean in (
        ("allowed_targets", scope.validate_allowed_targets),
        ("allowed_hosts", scope.normalise_allowed_hosts),
        ("attach_roles", scope.validate_attach_roles),
    ):
        if values.get(field) is not None:
            try:
                cleaned[field] = clean(values[field])
            except ValidationError as exc:
                errors.update(exc.message_dict)
    policy = values.get("host_key_policy")
    if policy is not None:
        if policy not in Credential.HostKeyPolicy.values:
            errors["host_key_policy"] = [
                f"Choose one of {', '.join(Credential.HostKeyPolicy.values)}."
            ]
        cleaned["host_key_policy"] = policy
    if errors:
        raise ValidationError(errors)
    return cleaned


def credential_create(
    *,
    name: str,
    kind: str,
    username: str,
    description: str = "",
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    actor: Actor,
    pk: uuid.UUID | None = None,
    publish_event: bool = True,
    allowed_targets: str | None = None,
    allowed_hosts: list[str] | None = None,
    attach_roles: list[str] | None = None,
    host_key_policy: str | None = None,
) -> Credential:
    """A new credential. Its scope (``allowed_targets``, ``allowed_hosts``, ``attach_roles``,
    ``host_key_policy``) defaults to: any target, any host, admins only, the target's policy."""
    limits = _clean_scope(
        {
            "allowed_targets": allowed_targets,
            "allowed_hosts": allowed_hosts,
            "attach_roles": attach_roles,
            "host_key_policy": host_key_policy,
        }
    )
    sealed, key_type, fingerprint = _sealed_secret(
        kind=kind, password=password, private_key=private_key, passphrase=passphrase
    )
    with transaction.atomic(using=DB):
        credential = Credential(
            **({"id": pk} if pk is not None else {}),
            **limits,
            name=name,
            kind=kind,
            username=username,
            description=description,
            secret=sealed,
            key_type=key_type,
            key_fingerprint=fingerprint,
            **_actor_fields(actor),
        )
        credential.full_clean()
        credential.save(using=DB, force_insert=True)
        if publish_event:
            publish("targets.credential.created", _event_payload(credential), actor=actor)
    return credential


def credential_update(
    *,
    credential: Credential,
    actor: Actor,
    name: str | None = None,
    username: str | None = None,
    description: str | None = None,
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    allowed_targets: str | None = None,
    allowed_hosts: list[str] | None = None,
    attach_roles: list[str] | None = None,
    host_key_policy: str | None = None,
) -> Credential:
    """Change the descriptive fields, the scope, and/or rotate the secret (any secret field
    given). A narrower scope applies to the methods already using the credential from their
    next connection on (they are not detached: a connection outside it is refused)."""
    rotated = any(value is not None for value in (password, private_key, passphrase))
    limits = _clean_scope(
        {
            "allowed_targets": allowed_targets,
            "allowed_hosts": allowed_hosts,
            "attach_roles": attach_roles,
            "host_key_policy": host_key_policy,
        }
    )
    changes: dict[str, dict] = {}
    with transaction.atomic(using=DB):
        locked = Credential.objects.using(DB).select_for_update().get(pk=credential.pk)
        values = {"name": name, "username": username, "description": description, **limits}
        for field, value in values.items():
            if value is not None and getattr(locked, field) != value:
                changes[field] = {"from": getattr(locked, field), "to": value}
                setattr(locked, field, value)
        if rotated:
            sealed, key_type, fingerprint = _sealed_secret(
                kind=locked.kind, password=password, private_key=private_key, passphrase=passphrase
            )
            if locked.key_fingerprint != fingerprint:
                changes["key_fingerprint"] = {"from": locked.key_fingerprint, "to": fingerprint}
            locked.secret, locked.key_type, locked.key_fingerprint = sealed, key_type, fingerprint
            for field, value in _actor_fields(actor).items():
                setattr(locked, field, value)
        locked.full_clean()
        locked.save(using=DB)
        if changes:
            publish(
                "targets.credential.updated",
                {**_event_payload(locked), "changes": changes},
                actor=actor,
            )
        if rotated:
            publish("targets.credential.rotated", _event_payload(locked), actor=actor)
    return locked


def credential_allow_hosts(
    *, credential_id: uuid.UUID, hosts: list[str], actor: Actor, publish_event: bool = False
) -> list[str]:
    """Add ``hosts`` (names or addresses) to the credential's ``allowed_hosts``; returns the
    new list. For imports: a credential brought from another system is scoped to the hosts it
    was used with there (docs/targets.md, "Credential scope"). ValidationError keyed
    ``allowed_hosts.<i>`` for a malformed host."""
    with transaction.atomic(using=DB):
        locked = Credential.objects.using(DB).select_for_update().get(pk=credential_id)
        before = list(locked.allowed_hosts or [])
        after = scope.normalise_allowed_hosts([*before, *hosts])
        if after != before:
            locked.allowed_hosts = after
            locked.save(using=DB, update_fields=["allowed_hosts", "updated_at"])
            if publish_event:
                publish(
                    "targets.credential.updated",
                    {
                        **_event_payload(locked),
                        "changes": {"allowed_hosts": {"from": before, "to": after}},
                    },
                    actor=actor,
                )
    return after


def credential_delete(*, credential: Credential, actor: Actor) -> None:
    with transaction.atomic(using=DB):
        payload = _event_payload(credential)
        try:
            Credential.objects.using(DB).filter(pk=credential.pk).delete()
        except ProtectedError as exc:
            in_use = sorted({str(m.target) for m in exc.protected_objects})[:10]
            raise Conflict(
                f"Credential {credential.name} is used by {', '.join(in_use)}: "
                "move those connection methods to another credential first."
            ) from exc
        publish("targets.credential.deleted", payload, actor=actor)
