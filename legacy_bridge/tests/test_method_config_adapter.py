"""T6: the legacy UI's "Test" button in its create and edit dialogs, on a connection method
that is not saved yet, with the credential typed there; served by the targets adapter against
real sshd processes. Nothing is stored but an audited event; the credential is sent only to a
host whose key this system already trusts for that address; never a secret in the answer."""

from __future__ import annotations

import json

import pytest

from legacy_bridge.tests import test_method_test_adapter as saved_method
from legacy_bridge.tests.test_method_test_adapter import (
    FIELDS,
    add_target,
    legacy_ids_of,
    post_test,
)
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")

PATH = "/api/v3/targets/test-method-config"
# the saved-method test's fixtures: a legacy session per fixture user, an admin of /api/v1
ui = saved_method.ui
admin_api = saved_method.admin_api


def config_of(server, *, password: str | None = None) -> dict:
    """The body the dialogs send: the method being typed, its credential typed there."""
    secret = (
        {"username": server.password_user.username, "password": password}
        if password is not None
        else {"username": server.username, "ssh_key": server.client_key_text}
    )
    return {
        "method_type": "ssh",
        "config": {"host": server.host, "port": server.port},
        "credentials": {
            "credential_type": "password" if password is not None else "ssh_key",
            "encrypted_credentials": secret,
        },
    }


def post_config(client, headers, body):
    return client.post(PATH, json.dumps(body), content_type="application/json", headers=headers)


def test_a_typed_key_logs_in_to_a_host_whose_key_is_trusted_and_nothing_is_saved(
    client, ui, admin_api, sshd_factory
):
    server = sshd_factory()
    # another target at that address has had its key trusted (accept-new, then a check)
    add_target(admin_api, server, name="known-box", policy="accept-new")
    operator = ui("loperator")
    target_id, [method_id] = legacy_ids_of(client, operator, "known-box")
    assert post_test(client, operator, target_id, method_id).json()["success"] is True
    manager = ui("lmanager")
    targets_before = admin_api.get("/api/v1/targets/").json()["count"]

    response = post_config(client, manager, config_of(server))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert body["success"] is True, body
    assert (body["host"], body["port"], body["method_type"]) == (server.host, server.port, "ssh")
    assert (body["username"], body["credential_type"]) == (server.username, "ssh_key")
    assert body["details"]["status"] == "healthy"
    assert body["details"]["host_key"]["state"] == "trusted"
    assert body["details"]["health_check_id"] is None  # nothing recorded as a check
    assert "configuration not saved" in body["debug_info"]
    assert server.client_key_text.splitlines()[1] not in response.content.decode()
    # nothing saved: no target, no credential; the test itself is an event (for the audit)
    assert admin_api.get("/api/v1/targets/").json()["count"] == targets_before
    [event] = OutboxEvent.objects.using("targets").filter(event_type="targets.method_config.tested")
    assert event.payload["status"] == "healthy" and event.actor["name"] == "lmanager"
    assert server.client_key_text.splitlines()[1] not in json.dumps(event.payload)


def test_a_host_never_trusted_gets_its_fingerprint_and_not_the_password(
    client, ui, admin_api, sshd_factory
):
    server = sshd_factory(password=True)
    canary = server.password_user.password
    manager = ui("lmanager")
    targets_before = admin_api.get("/api/v1/targets/").json()["count"]

    response = post_config(client, manager, config_of(server, password=canary))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is False
    assert body["details"]["status"] == "host_key_unknown"
    fingerprint = body["details"]["host_key"]["fingerprint"]
    assert fingerprint.startswith("SHA256:") and fingerprint in body["message"]
    assert "not sent" in body["message"] and "approve" in body["message"]
    log = server.wait_for_connections(1)
    assert server.auth_attempts() == [], log  # the password was never offered
    assert canary not in response.content.decode()
    assert admin_api.get("/api/v1/targets/").json()["count"] == targets_before  # nothing kept


def test_a_wrong_password_is_success_false_and_never_echoed(client, ui, admin_api, sshd_factory):
    server = sshd_factory(password=True)
    add_target(admin_api, server, name="pw-box", policy="accept-new")
    operator = ui("loperator")
    target_id, [method_id] = legacy_ids_of(client, operator, "pw-box")
    assert post_test(client, operator, target_id, method_id).json()["success"] is True
    wrong = "not-the-password-" + server.password_user.password[::-1]

    response = post_config(client, ui("lmanager"), config_of(server, password=wrong))

    body = response.json()
    assert response.status_code == 200 and body["success"] is False
    assert body["details"]["status"] == "auth_failed"
    assert wrong not in response.content.decode()
    right = post_config(
        client, ui("lmanager"), config_of(server, password=server.password_user.password)
    )
    assert right.json()["success"] is True, right.json()


def test_who_may_test_and_what_a_bad_body_gets(client, ui, sshd_factory):
    server = sshd_factory()
    # an operator may test a saved method, not type a new one: that is changing targets
    refused = post_config(client, ui("loperator"), config_of(server))
    assert refused.status_code == 403, refused.content
    assert client.post(PATH, "{}", content_type="application/json").status_code == 403
    manager = ui("lmanager")
    missing_host = post_config(client, manager, {"method_type": "ssh", "config": {"port": 22}})
    assert missing_host.status_code == 422
    assert missing_host.json()["detail"][0]["loc"] == ["body", "config", "host"]
    bad_port = post_config(
        client, manager, {"method_type": "ssh", "config": {"host": "h", "port": 70000}}
    )
    assert bad_port.status_code == 422
    assert bad_port.json()["detail"][0]["loc"] == ["body", "config", "port"]
    snmp = post_config(client, manager, {"method_type": "snmp", "config": {"host": "h"}})
    assert snmp.status_code == 422
    assert snmp.json()["detail"][0]["loc"] == ["body", "method_type"]
    assert (
        not OutboxEvent.objects.using("targets")
        .filter(event_type="targets.method_config.tested")
        .exists()
    )
