"""Sealing of stored secrets with authenticated encryption (Fernet, keys rotate).

``seal(dict) -> str`` and ``unseal(str) -> dict`` use the keys in ``OPSCONDUCTOR_SEAL_KEYS``
(newest first). Store sealed values in a ``SealedField`` so ``manage.py reseal_secrets`` finds
and re-seals every one of them under the newest key after a rotation.
See docs/adr/0004-sealing-secrets.md.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models


class SealError(Exception):
    """A sealed value could not be opened: wrong or retired key, or tampered text."""


@lru_cache(maxsize=1)
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise SealError("OPSCONDUCTOR_SEAL_KEYS is empty: nothing to seal with.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:  # never echo the key itself
        raise SealError(
            "OPSCONDUCTOR_SEAL_KEYS holds a malformed key "
            "(each must be 32 url-safe base64-encoded bytes)."
        ) from exc


def keyring() -> MultiFernet:
    return _keyring(tuple(settings.OPSCONDUCTOR_SEAL_KEYS))


def _clear_keyring(*, setting, **kwargs) -> None:
    if setting == "OPSCONDUCTOR_SEAL_KEYS":
        _keyring.cache_clear()


setting_changed.connect(_clear_keyring)


def seal(data: dict) -> str:
    """Encrypt and authenticate a JSON-serialisable dict under the newest key."""
    if not isinstance(data, dict):
        raise TypeError("seal() takes a dict")
    return keyring().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


def unseal(token: str) -> dict:
    """Open a value made by ``seal()`` with any configured key."""
    try:
        plain = keyring().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError, AttributeError) as exc:
        raise SealError("sealed value cannot be opened with the configured keys") from exc
    return json.loads(plain)


def reseal(token: str) -> str:
    """The same secret sealed under the newest key (no-op in meaning, new ciphertext)."""
    try:
        return keyring().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SealError("sealed value cannot be opened with the configured keys") from exc


class SealedField(models.TextField):
    """A text column holding ``seal()`` output. Code seals and unseals explicitly, so a secret is
    only ever in plaintext where it is used; the field marks the column for key rotation."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)
