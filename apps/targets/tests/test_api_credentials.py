"""Credentials: write-only secrets, validated keys, admin-only, never leaked."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from django.db import connections

from apps.targets.models import Credential
from apps.targets.tests.api import client_for, make_key
from opsconductor.events.models import OutboxEvent
from opsconductor.sealing import unseal

URL = "/api/v1/credentials/"


@pytest.fixture
def admin(django_user_model):
    return client_for(django_user_model, "admin")


@pytest.fixture
def canary():
    return f"canary-{uuid.uuid4().hex}"


def everything_said(*responses) -> str:
    return "\n".join(r.content.decode() for r in responses)


@pytest.mark.django_db(databases=["default", "targets"])
def test_a_password_credential_is_sealed_and_never_shown(admin, canary):
    created = admin.post(
        URL, {"name": "deploy", "kind": "password", "username": "deploy", "password": canary}
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "password" not in body
    assert body["secret_set_by"]["name"] == admin.user.username
    listed = admin.get(URL)
    detail = admin.get(f"{URL}{body['id']}/")
    assert canary not in everything_said(created, listed, detail)

    stored = Credential.objects.get(pk=body["id"])
    assert canary not in stored.secret
    assert unseal(stored.secret) == {"password": canary}
    events = OutboxEvent.objects.using("targets").filter(
        event_type__startswith="targets.credential"
    )
    assert events.count() == 1
    assert canary not in json.dumps([e.payload for e in events])


@pytest.mark.django_db(databases=["default", "targets"])
def test_an_ssh_key_is_checked_and_fingerprinted(admin, tmp_path):
    key = make_key(tmp_path, passphrase="open sesame")
    ok = admin.post(
        URL,
        {
            "name": "k",
            "kind": "ssh_key",
            "username": "ops",
            "private_key": key,
            "passphrase": "open sesame",
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["key_type"] == "ssh-ed25519"
    assert ok.json()["key_fingerprint"].startswith("SHA256:")
    key_file = tmp_path / "given"
    key_file.write_text(key)
    key_file.chmod(0o600)
    pub = subprocess.run(
        ["ssh-keygen", "-y", "-P", "open sesame", "-f", str(key_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fp = subprocess.run(
        ["ssh-keygen", "-l", "-f", "/dev/stdin"],
        input=pub,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ok.json()["key_fingerprint"] in fp


@pytest.mark.django_db(databases=["default", "targets"])
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "ssh_key", "private_key": "not a key"}, "private_key"),
        ({"kind": "ssh_key"}, "private_key"),
        ({"kind": "ssh_key", "private_key": "<encrypted>"}, "passphrase"),
        ({"kind": "ssh_key", "private_key": "<encrypted>", "passphrase": "wrong"}, "passphrase"),
        ({"kind": "password"}, "password"),
        ({"kind": "kerberos", "password": "x"}, "kind"),
        ({"kind": "password", "password": "x", "name": "bad name!"}, "name"),
        ({"kind": "password", "password": "x", "secret": "x"}, "secret"),
    ],
)
def test_bad_credentials_are_refused_naming_the_field_and_nothing_is_stored(
    admin, tmp_path, payload, field
):
    if payload.get("private_key") == "<encrypted>":
        payload = {**payload, "private_key": make_key(tmp_path, passphrase="right one")}
    response = admin.post(URL, {"name": "c", "username": "u", **payload}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert not Credential.objects.exists()
    assert not OutboxEvent.objects.using("targets").exists()


@pytest.mark.django_db(databases=["default", "targets"])
def test_rotation_replaces_the_secret_and_is_recorded(admin, canary):
    cred = admin.post(
        URL, {"name": "db", "kind": "password", "username": "u", "password": "old-secret"}
    ).json()
    response = admin.patch(f"{URL}{cred['id']}/", {"password": canary})
    assert response.status_code == 200, response.json()
    assert response.json()["secret_set_at"] >= cred["secret_set_at"]
    assert unseal(Credential.objects.get(pk=cred["id"]).secret) == {"password": canary}
    rotated = OutboxEvent.objects.using("targets").get(event_type="targets.credential.rotated")
    assert canary not in json.dumps(rotated.payload)
    kind_change = admin.patch(f"{URL}{cred['id']}/", {"kind": "ssh_key"})
    assert kind_change.status_code == 400
    assert "kind" in kind_change.json()["error"]["fields"]
    assert Credential.objects.get(pk=cred["id"]).kind == "password"
    unchanged = admin.patch(f"{URL}{cred['id']}/", {"kind": "password", "description": "db"})
    assert unchanged.status_code == 200, unchanged.json()


@pytest.mark.django_db(databases=["default", "targets"])
@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_only_admins_touch_credentials(django_user_model, role):
    client = client_for(django_user_model, role)
    assert client.get(URL).status_code == 403
    assert (
        client.post(
            URL, {"name": "x", "kind": "password", "username": "u", "password": "p"}
        ).status_code
        == 403
    )


@pytest.mark.django_db(databases=["default", "targets"])
def test_a_credential_in_use_cannot_be_deleted(admin):
    cred = admin.post(
        URL, {"name": "shared", "kind": "password", "username": "u", "password": "p"}
    ).json()
    target = admin.post(
        "/api/v1/targets/",
        {
            "name": "t",
            "connection_methods": [{"protocol": "ssh", "host": "h1", "credential": "shared"}],
        },
        format="json",
    ).json()
    assert target["connection_methods"][0]["credential"] == {"id": cred["id"], "name": "shared"}
    response = admin.delete(f"{URL}{cred['id']}/")
    assert response.status_code == 409
    assert "t" in response.json()["error"]["message"]
    assert admin.get(f"{URL}{cred['id']}/").json()["used_by"] == 1


@pytest.mark.django_db(transaction=True, databases=["default", "targets"])
def test_the_secret_is_not_in_the_database_in_plaintext(admin, canary):
    """Grep a dump of the targets database for the canary."""
    response = admin.post(
        URL, {"name": "dumped", "kind": "password", "username": "u", "password": canary}
    )
    assert response.status_code == 201
    settings = connections["targets"].settings_dict
    dump = subprocess.run(
        ["pg_dump", "-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432),
         "-U", settings["USER"] or "postgres", "--data-only", settings["NAME"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "dumped" in dump  # the dump does hold the credential's row
    assert canary not in dump
