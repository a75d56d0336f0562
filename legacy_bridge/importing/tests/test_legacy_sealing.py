"""The legacy credential format (LEGACY.md), built here by hand from its description."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.fernet import Fernet

from legacy_bridge.importing.legacy import LegacyCredentialError, legacy_fernet, legacy_unseal


def sealed_by_hand(data: dict, key_bytes: bytes) -> str:
    token = Fernet(base64.urlsafe_b64encode(key_bytes)).encrypt(json.dumps(data).encode())
    return base64.urlsafe_b64encode(token).decode()


def test_a_short_key_is_right_padded_with_the_digit_zero():
    text = sealed_by_hand(
        {"type": "password", "username": "u", "password": "p"}, b"short-key" + b"0" * 23
    )
    assert legacy_unseal(text, legacy_fernet("short-key")) == {
        "type": "password",
        "username": "u",
        "password": "p",
    }


def test_a_long_key_is_cut_to_its_first_32_utf8_bytes():
    key = "é" * 20  # 40 bytes in UTF-8: cut after 32 bytes, i.e. 16 characters
    text = sealed_by_hand(
        {"type": "ssh_key", "username": "u", "private_key": "k"}, key.encode()[:32]
    )
    assert legacy_unseal(text, legacy_fernet(key))["private_key"] == "k"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("%%% not base64 %%%", "not base64"),
        (base64.urlsafe_b64encode(b"not a fernet token").decode(), "cannot be decrypted"),
    ],
)
def test_unreadable_credentials_say_why_without_any_secret(text, reason):
    with pytest.raises(LegacyCredentialError, match=reason):
        legacy_unseal(text, legacy_fernet("the-legacy-key"))


def test_the_wrong_key_is_refused():
    text = sealed_by_hand({"password": "s3cret"}, b"right-key".ljust(32, b"0"))
    with pytest.raises(LegacyCredentialError) as caught:
        legacy_unseal(text, legacy_fernet("wrong-key"))
    assert "s3cret" not in str(caught.value) and "wrong-key" not in str(caught.value)
