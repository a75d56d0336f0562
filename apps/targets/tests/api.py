"""Helpers for the targets API tests: clients for each role, keys, credentials."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from rest_framework.test import APIClient


def client_for(django_user_model, role: str) -> APIClient:
    user = django_user_model.objects.create_user(
        username=f"{role}-{uuid.uuid4().hex[:8]}", password="unused-password-1", role=role
    )
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def make_key(directory: Path, *, kind: str = "ed25519", passphrase: str = "") -> str:
    path = directory / f"key-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path)],
        check=True,
    )
    return path.read_text()
