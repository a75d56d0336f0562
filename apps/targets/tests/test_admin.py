"""The Django admin for targets: secrets stay write-only, changes are published."""

from __future__ import annotations

import uuid

import pytest

from apps.targets.models import Credential, Target
from opsconductor.events.models import OutboxEvent
from opsconductor.sealing import unseal

pytestmark = pytest.mark.django_db(databases=["default", "targets"])


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="root", password="x", role="admin")
    client.force_login(user)
    return client


def test_a_credential_made_in_the_admin_is_sealed_and_never_shown_again(admin_client):
    canary = f"canary-{uuid.uuid4().hex}"
    response = admin_client.post(
        "/admin/targets/credential/add/",
        {
            "name": "adm",
            "kind": "password",
            "username": "ops",
            "description": "",
            "password": canary,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get(name="adm")
    assert unseal(credential.secret) == {"password": canary}
    page = admin_client.get(f"/admin/targets/credential/{credential.pk}/change/").content.decode()
    listing = admin_client.get("/admin/targets/credential/").content.decode()
    assert canary not in page and canary not in listing
    assert credential.secret not in page  # not even sealed


def test_a_bad_key_in_the_admin_is_an_error_on_the_form_not_a_500(admin_client):
    response = admin_client.post(
        "/admin/targets/credential/add/",
        {
            "name": "k",
            "kind": "ssh_key",
            "username": "ops",
            "description": "",
            "private_key": "nope",
        },
    )
    assert response.status_code == 200
    assert "Not a readable private key" in response.content.decode()
    assert not Credential.objects.exists()


def test_target_changes_in_the_admin_are_published(admin_client):
    target = Target.objects.create(name="web-1")
    data = {
        "name": "web-1-renamed", "description": "", "os_family": "linux", "environment": "production",
        "location": "", "data_center": "", "region": "", "status": "maintenance",
        "host_key_policy": "strict",
        "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0",
        "connection_methods-TOTAL_FORMS": "1", "connection_methods-INITIAL_FORMS": "0",
        "connection_methods-0-protocol": "ssh", "connection_methods-0-host": "bad host!",
        "connection_methods-0-port": "22", "connection_methods-0-priority": "0",
    }  # fmt: skip
    bad = admin_client.post(f"/admin/targets/target/{target.pk}/change/", data)
    assert bad.status_code == 200 and "valid host name" in bad.content.decode()

    data["connection_methods-0-host"] = "10.0.0.9"
    response = admin_client.post(f"/admin/targets/target/{target.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    types = list(OutboxEvent.objects.using("targets").values_list("event_type", flat=True))
    assert "targets.target.updated" in types and "targets.connection_method.created" in types
    updated = OutboxEvent.objects.using("targets").get(event_type="targets.target.updated")
    assert updated.payload["changes"]["status"] == {"from": "active", "to": "maintenance"}


def test_a_credential_scope_is_set_in_the_admin_and_checked_on_methods(admin_client):
    response = admin_client.post("/admin/targets/credential/add/", {
        "name": "scoped", "kind": "password", "username": "ops", "description": "",
        "password": "pw-1", "allowed_targets": "env=staging", "host_key_policy": "strict",
        "allowed_hosts": "10.0.0.0/24\nbad host!", "attach_roles": ["manager"]})  # fmt: skip
    assert response.status_code == 200 and "allowed_hosts.1" in response.content.decode()
    response = admin_client.post("/admin/targets/credential/add/", {
        "name": "scoped", "kind": "password", "username": "ops", "description": "",
        "password": "pw-1", "allowed_targets": "env=staging", "host_key_policy": "strict",
        "allowed_hosts": "10.0.0.0/24\nWeb.Example", "attach_roles": ["manager"]})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get(name="scoped")
    assert credential.allowed_hosts == ["10.0.0.0/24", "web.example"]
    assert credential.attach_roles == ["manager"] and credential.host_key_policy == "strict"
    created = OutboxEvent.objects.using("targets").get(event_type="targets.credential.created")
    assert created.payload["scope"]["allowed_targets"] == "env=staging"

    target = Target.objects.create(name="db-1", environment="staging")
    data = {
        "name": "db-1", "description": "", "os_family": "linux", "environment": "staging",
        "location": "", "data_center": "", "region": "", "status": "active",
        "host_key_policy": "strict",
        "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0",
        "connection_methods-TOTAL_FORMS": "1", "connection_methods-INITIAL_FORMS": "0",
        "connection_methods-0-protocol": "ssh", "connection_methods-0-host": "10.9.9.9",
        "connection_methods-0-port": "22", "connection_methods-0-priority": "0",
        "connection_methods-0-credential": str(credential.pk),
    }  # fmt: skip
    refused = admin_client.post(f"/admin/targets/target/{target.pk}/change/", data)
    assert refused.status_code == 200 and "outside the credential" in refused.content.decode()
    data["connection_methods-0-host"] = "10.0.0.9"
    response = admin_client.post(f"/admin/targets/target/{target.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    data.update({"host_key_policy": "accept-new", "connection_methods-INITIAL_FORMS": "1",
                 "connection_methods-0-id": str(target.connection_methods.get().pk),
                 "connection_methods-0-target": str(target.pk)})  # fmt: skip
    refused = admin_client.post(f"/admin/targets/target/{target.pk}/change/", data)
    assert refused.status_code == 200 and "requires a strict" in refused.content.decode()
