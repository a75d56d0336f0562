"""Writes through the adapters go through our services: our roles, our validation (in the
legacy 422 shape), our audit events with the signed-in user as the actor."""

from __future__ import annotations

import pytest
from django.conf import settings

from legacy_bridge import sessions
from legacy_bridge.tests.legacy_fixture import PASSWORD, seed
from legacy_bridge.tests.test_route_auth import set_routes
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_TARGET = {
    "name": "fleet-9",
    "description": "",
    "target_type": "system",
    "os_type": "linux",
    "environment": "staging",
    "communication_methods": [
        {
            "method_type": "ssh",
            "config": {"host": "192.0.2.90", "port": 2222},
            "is_primary": True,
            "is_active": True,
            "credentials": [
                {
                    "credential_type": "password",
                    "encrypted_credentials": {"username": "fleet", "password": "s3cret-pw"},
                }
            ],
        }
    ],
}


@pytest.fixture
def ui(client):
    """``ui(username)`` -> headers of a legacy session of that fixture user (areas migrated)."""
    fixture = seed()
    set_routes(
        {
            f"/api/v3/{area}": {"mode": "migrated", "adapter": f"legacy-{area}"}
            for area in ("auth", "users", "targets")
        }
    )

    def headers(username: str, password: str = PASSWORD) -> dict:
        answer = client.post(
            "/api/v3/auth/login",
            {"username": username, "password": password},
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    headers.fixture = fixture
    return headers


def post(client, path, body, headers):
    return client.post(path, body, content_type="application/json", headers=headers)


def test_a_manager_creates_targets_but_only_an_admin_stores_a_secret(client, ui):
    manager = ui("lmanager")
    refused = post(client, "/api/v3/targets/comprehensive", NEW_TARGET, manager)
    assert refused.status_code == 403
    assert "only an administrator may store a password or key" in refused.json()["detail"]
    assert "s3cret-pw" not in refused.content.decode()
    without_secret = {
        **NEW_TARGET,
        "communication_methods": [{**NEW_TARGET["communication_methods"][0], "credentials": []}],
    }
    created = post(client, "/api/v3/targets/comprehensive", without_secret, manager)
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["id"] >= settings.LEGACY_ID_FLOOR
    assert body["communication_methods"][0]["config"] == {"host": "192.0.2.90", "port": 2222}
    event = OutboxEvent.objects.using("targets").get(event_type="targets.target.created")
    assert (event.actor["kind"], event.actor["name"]) == ("user", "lmanager")
    # the admin stores the secret; it is never shown back
    admin = ui("ladmin")
    stored = post(client, "/api/v3/targets/comprehensive", {**NEW_TARGET, "name": "f10"}, admin)
    assert stored.status_code == 200, stored.content
    [credential] = stored.json()["communication_methods"][0]["credentials"]
    assert credential["encrypted_credentials"] == {"username": "fleet"}
    assert "s3cret-pw" not in stored.content.decode()
    audit = OutboxEvent.objects.using("targets").get(event_type="targets.credential.created")
    assert audit.actor["name"] == "ladmin" and "s3cret-pw" not in str(audit.payload)
    # the legacy UI opens it by the id it was given
    shown = client.get(f"/api/v3/targets/{stored.json()['id']}", headers=admin)
    assert shown.json()["name"] == "f10"


def test_a_viewer_reads_but_every_write_is_refused(client, ui):
    guest = ui("lguest")
    assert client.get("/api/v3/targets/", headers=guest).status_code == 200
    assert client.get("/api/v3/targets/1", headers=guest).status_code == 200
    for method, path in (
        ("POST", "/api/v3/targets/comprehensive"),
        ("PUT", "/api/v3/targets/1/comprehensive"),
        ("DELETE", "/api/v3/targets/1"),
        ("POST", "/api/v3/targets/1/communication-methods"),
        ("PUT", "/api/v3/targets/1/communication-methods/1"),
        ("DELETE", "/api/v3/targets/1/communication-methods/1"),
        ("POST", "/api/v3/targets/health-check-batch"),
        ("POST", "/api/v3/users/"),
        ("PUT", "/api/v3/users/2"),
        ("DELETE", "/api/v3/users/2"),
    ):
        response = client.generic(method, path, "{}", "application/json", headers=guest)
        assert response.status_code == 403, (method, path, response.content)
    assert OutboxEvent.objects.filter(event_type="accounts.permission.denied").count() == 10
    assert client.get("/api/v3/targets/1", headers=guest).json()["name"] == "legacy-web-1"
    # an operator may run health checks, as POST /api/v1/targets/check/
    operator = ui("loperator")
    checked = post(client, "/api/v3/targets/health-check-batch", [1, 2], operator)
    assert checked.status_code == 200 and checked.json()["results"]["checked"] == 2
    missing = post(client, "/api/v3/targets/health-check-batch", [1, 999], operator)
    assert missing.status_code == 404


def test_invalid_input_is_the_legacy_422_naming_the_field_the_ui_sent(client, ui):
    admin = ui("ladmin")
    snmp = {**NEW_TARGET, "communication_methods": [{"method_type": "snmp", "config": {}}]}
    response = post(client, "/api/v3/targets/comprehensive", snmp, admin)
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "communication_methods", 0, "method_type"]
    bad_host = {
        **NEW_TARGET,
        "communication_methods": [{"method_type": "ssh", "config": {"host": "not a host!"}}],
    }
    response = post(client, "/api/v3/targets/comprehensive", bad_host, admin)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "communication_methods",
        0,
        "config",
        "host",
    ]
    bad_env = {**NEW_TARGET, "environment": "moon", "communication_methods": []}
    response = post(client, "/api/v3/targets/comprehensive", bad_env, admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "environment"]
    missing = post(client, "/api/v3/targets/comprehensive", {"description": "x"}, admin)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "name"]
    assert client.post("/api/v3/targets/comprehensive", "{oops", content_type="application/json",
                       headers=admin).status_code == 422  # fmt: skip
    assert (
        OutboxEvent.objects.using("targets").filter(event_type="targets.target.created").count()
        == 0
    )


def test_a_user_created_through_the_legacy_ui_signs_in_with_a_new_legacy_id(client, ui):
    admin = ui("ladmin")
    created = post(
        client,
        "/api/v3/users/",
        {"username": "newbie", "email": "newbie@legacy.example", "password": "Pass-w0rd-9!",
         "role": "user"},
        admin,
    )  # fmt: skip
    assert created.status_code == 200, created.content
    assert created.json()["role"] == "user" and created.json()["id"] >= settings.LEGACY_ID_FLOOR
    event = OutboxEvent.objects.get(event_type="accounts.user.created", payload__username="newbie")
    assert event.actor["name"] == "ladmin" and event.payload["role"] == "operator"
    newbie = ui("newbie", "Pass-w0rd-9!")
    me = client.get("/api/v3/auth/me", headers=newbie).json()
    assert (me["id"], me["role"]) == (created.json()["id"], "user")
    # deactivating ends the user's sessions at once (the legacy backend kept them)
    gone = client.delete(f"/api/v3/users/{me['id']}", headers=admin)
    assert gone.status_code == 200
    assert client.get("/api/v3/auth/me", headers=newbie).status_code == 401
    # the last active admin cannot be deactivated, here as in /api/v1
    assert client.delete("/api/v3/users/1", headers=admin).status_code == 409


def test_a_new_password_set_by_an_admin_ends_the_users_sessions(client, ui):
    operator = ui("loperator")
    admin = ui("ladmin")
    changed = client.put(
        "/api/v3/users/3",
        {"username": "loperator", "email": "loperator@legacy.example", "password": "N3w-pass!x",
         "role": "user"},
        content_type="application/json",
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert client.get("/api/v3/auth/me", headers=operator).status_code == 401
    # an empty password (what the edit dialog sends when none was typed) changes nothing
    kept = client.put(
        "/api/v3/users/1",
        {"username": "ladmin", "email": "ladmin@legacy.example", "password": "",
         "role": "administrator"},
        content_type="application/json",
        headers=admin,
    )  # fmt: skip
    assert kept.status_code == 200
    assert client.get("/api/v3/auth/me", headers=admin).status_code == 200
    assert sessions.LegacySession.objects.filter(revoked_at__isnull=True).count() >= 1


def test_a_sign_in_that_upgrades_the_stored_hash_keeps_the_users_other_sessions(client, ui):
    """An imported user's bcrypt hash is re-hashed at their first sign-in here: the same
    password, so their session opened before stays open (a password change would end it)."""
    import uuid

    from django.contrib.auth.hashers import make_password

    from apps.accounts.interface import user_import
    from legacy_bridge import legacy_ids
    from opsconductor.events import SYSTEM

    ui("ladmin")  # areas migrated
    user_id = uuid.uuid4()
    user_import(
        user_id=user_id,
        username="bcrypted",
        password_hash=make_password("Old-pass-1!", hasher="bcrypt"),
        role="viewer",
        actor=SYSTEM,
    )
    legacy_ids.register("users", 41, user_id)
    first, _ = sessions.open_session(
        user_id=user_id, legacy_user_id=41, username="bcrypted", role="viewer"
    )
    second = ui("bcrypted", "Old-pass-1!")  # upgrades the hash
    for token in (f"Bearer {first}", second["Authorization"]):
        me = client.get("/api/v3/auth/me", headers={"Authorization": token})
        assert me.status_code == 200 and me.json()["id"] == 41
