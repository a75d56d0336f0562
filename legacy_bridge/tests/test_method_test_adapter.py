"""T7: the legacy UI's "Test" button on a saved connection method, served by the targets
adapter against real sshd processes. The method is checked as a health check run by the
signed-in operator checks a target: the same probe, host-key policy and records; the answer
is the legacy shape the UI's dialogs read, with ``success: false`` (still a 200) when the
check failed, and never a secret."""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from legacy_bridge.auth import ROLE_TOO_LOW
from legacy_bridge.tests.legacy_fixture import PASSWORD, seed
from legacy_bridge.tests.test_route_auth import set_routes
from opsconductor.events.models import OutboxEvent
from tests.sshd import free_port, generate_key

pytestmark = pytest.mark.django_db(databases="__all__")

FIELDS = {
    "success",
    "message",
    "host",
    "port",
    "method_type",
    "test_duration",
    "details",
    "username",
    "credential_type",
    "debug_info",
}
CACHE = "?cache=1756728000000"  # what the UI appends (Date.now()); ignored


@pytest.fixture
def ui(client):
    """``ui(username)`` -> headers of a legacy session of that fixture user."""
    seed()
    set_routes(
        {
            f"/api/v3/{area}": {"mode": "migrated", "adapter": f"legacy-{area}"}
            for area in ("auth", "targets")
        }
    )

    def headers(username: str) -> dict:
        answer = client.post(
            "/api/v3/auth/login",
            {"username": username, "password": PASSWORD},
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    return headers


@pytest.fixture
def admin_api():
    from apps.accounts.factories import UserFactory

    api = APIClient()
    api.force_authenticate(UserFactory(admin=True))
    return api


def add_target(admin_api, server, *, name, policy, passphrase="", extra_methods=()):
    """A target reaching ``server`` with its client key (through /api/v1); its uuid."""
    credential = {
        "name": f"{name}-key",
        "kind": "ssh_key",
        "username": server.username,
        "private_key": server.client_key_text,
    }
    if passphrase:
        credential["passphrase"] = passphrase
    made = admin_api.post("/api/v1/credentials/", credential, format="json")
    assert made.status_code == 201, made.content
    methods = [
        {"protocol": "ssh", "host": server.host, "port": server.port,
         "credential": f"{name}-key", "is_primary": True},
        *({"protocol": "ssh", "host": server.host, "credential": f"{name}-key", **extra}
          for extra in extra_methods),
    ]  # fmt: skip
    target = admin_api.post(
        "/api/v1/targets/",
        {"name": name, "host_key_policy": policy, "connection_methods": methods},
        format="json",
    )
    assert target.status_code == 201, target.content
    return target.json()["id"]


def legacy_ids_of(client, headers, name) -> tuple[int, list[int]]:
    """The legacy ids the UI sees: the target's, and its methods' (primary first)."""
    [found] = [
        t for t in client.get("/api/v3/targets/", headers=headers).json() if t["name"] == name
    ]
    shown = client.get(f"/api/v3/targets/{found['id']}", headers=headers).json()
    return found["id"], [m["id"] for m in shown["communication_methods"]]


def method_test_path(target_id, method_id) -> str:
    return f"/api/v3/targets/{target_id}/communication-methods/{method_id}/test{CACHE}"


def post_test(client, headers, target_id, method_id):
    # as the UI sends it: POST, a bearer token, no body
    return client.post(method_test_path(target_id, method_id), headers=headers)


def health_of(client, headers, legacy_id) -> str:
    return client.get(f"/api/v3/targets/{legacy_id}", headers=headers).json()["health_status"]


def history(admin_api, target_uuid) -> list[dict]:
    return admin_api.get(f"/api/v1/targets/{target_uuid}/health-checks/").json()["results"]


def test_an_operator_tests_a_good_method_and_sees_it_work(
    client, ui, admin_api, sshd_factory, tmp_path
):
    canary = f"canary-{uuid.uuid4()}"
    key = generate_key(tmp_path / "client_key", passphrase=canary)
    server = sshd_factory(client_key=key)
    target_uuid = add_target(
        admin_api, server, name="sshd-box", policy="accept-new", passphrase=canary
    )
    operator = ui("loperator")
    target_id, [method_id] = legacy_ids_of(client, operator, "sshd-box")
    assert health_of(client, operator, target_id) == "unknown"

    response = post_test(client, operator, target_id, method_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert body["success"] is True, body
    assert body["message"].startswith(f"logged in to {server.host}:{server.port}")
    assert (body["host"], body["port"], body["method_type"]) == (server.host, server.port, "ssh")
    assert (body["username"], body["credential_type"]) == (server.username, "ssh_key")
    # milliseconds, as the UI shows it ("<test_duration>ms")
    assert isinstance(body["test_duration"], int) and 0 <= body["test_duration"] < 10_000
    details = body["details"]
    assert details["status"] == "healthy"
    # accept-new: the key was trusted on this first use, and recorded so
    assert details["host_key"]["state"] == "trust_on_first_use"
    assert details["host_key"]["fingerprint"].startswith("SHA256:")
    assert isinstance(body["debug_info"], str) and "healthy" in body["debug_info"]
    # never a secret: not the passphrase, not the key
    text = response.content.decode()
    assert canary not in text
    assert key.read_text().splitlines()[1] not in text
    # it was a health check run by the operator: recorded, and the target is healthy now
    [check] = history(admin_api, target_uuid)
    assert (check["id"], check["status"]) == (details["health_check_id"], "healthy")
    assert health_of(client, operator, target_id) == "healthy"
    [changed] = OutboxEvent.objects.using("targets").filter(
        event_type="targets.target.health_changed"
    )
    assert (changed.payload["to"], changed.actor["name"]) == ("healthy", "loperator")
    assert canary not in json.dumps(
        list(OutboxEvent.objects.using("targets").values("payload", "actor")), default=str
    )
    assert f"Accepted publickey for {server.username}" in server.wait_for_connections(1)


def test_a_wrong_port_is_success_false_with_a_clear_message(client, ui, admin_api, sshd_factory):
    server = sshd_factory()
    closed_port = free_port()
    target_uuid = add_target(
        admin_api, server, name="two-ways", policy="accept-new",
        extra_methods=[{"port": closed_port, "priority": 5}],
    )  # fmt: skip
    operator = ui("loperator")
    target_id, [primary_id, other_id] = legacy_ids_of(client, operator, "two-ways")

    response = post_test(client, operator, target_id, other_id)

    assert response.status_code == 200, response.content  # the UI reads `success`
    body = response.json()
    assert set(body) == FIELDS
    assert body["success"] is False
    assert "refused" in body["message"] and str(closed_port) in body["message"]
    assert (body["host"], body["port"]) == (server.host, closed_port)
    assert body["details"]["status"] == "unreachable"
    assert body["details"]["host_key"] is None  # no handshake happened
    assert "unreachable" in body["debug_info"] and "Traceback" not in body["debug_info"]
    # recorded, but not the target's health: that is its primary method's, which still works
    [check] = history(admin_api, target_uuid)
    methods = admin_api.get(f"/api/v1/targets/{target_uuid}/methods/").json()
    by_port = {m["port"]: m["id"] for m in methods}
    assert (check["status"], check["method_id"]) == ("unreachable", by_port[closed_port])
    assert health_of(client, operator, target_id) == "unknown"
    assert post_test(client, operator, target_id, primary_id).json()["success"] is True
    assert health_of(client, operator, target_id) == "healthy"
    # the history says which method each check probed
    assert [c["method_id"] for c in history(admin_api, target_uuid)] == [
        by_port[server.port],
        by_port[closed_port],
    ]


def test_a_host_key_not_approved_is_refused_before_any_login(client, ui, admin_api, sshd_factory):
    server = sshd_factory()
    target_uuid = add_target(admin_api, server, name="strict-box", policy="strict")
    operator = ui("loperator")
    target_id, [method_id] = legacy_ids_of(client, operator, "strict-box")

    response = post_test(client, operator, target_id, method_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is False
    assert body["details"]["status"] == "host_key_unknown"
    host_key = body["details"]["host_key"]
    assert host_key["state"] == "unknown"
    assert host_key["fingerprint"] in body["message"]  # what an admin approves
    # the key waits for an admin; the credential was never offered
    [pending] = admin_api.get(f"/api/v1/targets/{target_uuid}/host-keys/").json()
    assert (pending["fingerprint"], pending["state"]) == (host_key["fingerprint"], "pending")
    log = server.wait_for_connections(1)
    assert server.auth_attempts() == [], log
    assert health_of(client, operator, target_id) == "warning"


def test_unknown_targets_and_methods_of_another_target_are_404(client, ui, admin_api, sshd_factory):
    server = sshd_factory()
    mine = add_target(admin_api, server, name="mine", policy="accept-new")
    add_target(admin_api, server, name="theirs", policy="accept-new")
    operator = ui("loperator")
    target_id, [method_id] = legacy_ids_of(client, operator, "mine")
    _, [their_method] = legacy_ids_of(client, operator, "theirs")

    for path, message in (
        (method_test_path(999, method_id), "Target with ID 999 not found"),
        (method_test_path(target_id, their_method), f"Communication method with ID {their_method} not found"),
        (method_test_path(target_id, 987654), "Communication method with ID 987654 not found"),
    ):  # fmt: skip
        response = client.post(path, headers=operator)
        assert response.status_code == 404, (path, response.content)
        assert response.json()["detail"] == message
    response = client.post(method_test_path(target_id, "abc"), headers=operator)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "method_id"]
    response = client.get(method_test_path(target_id, method_id), headers=operator)
    assert (response.status_code, response["Allow"]) == (405, "POST")
    # nothing was probed
    assert history(admin_api, mine) == []
    assert server.auth_attempts() == []


def test_a_viewer_may_not_run_the_test(client, ui, admin_api, sshd_factory):
    server = sshd_factory()
    target_uuid = add_target(admin_api, server, name="box", policy="accept-new")
    guest = ui("lguest")
    target_id, [method_id] = legacy_ids_of(client, guest, "box")

    response = post_test(client, guest, target_id, method_id)

    assert response.status_code == 403
    assert response.json()["detail"] == ROLE_TOO_LOW
    assert history(admin_api, target_uuid) == []
    denied = OutboxEvent.objects.get(event_type="accounts.permission.denied")
    assert denied.payload["username"] == "lguest"
    # a manager may (an operator's right and more)
    manager = ui("lmanager")
    assert post_test(client, manager, target_id, method_id).json()["success"] is True
