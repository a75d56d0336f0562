"""Credential scope (docs/targets.md, "Credential scope"; ADR 0015): who may attach a
credential, to which targets and addresses, and the refusal when a connection would send it
elsewhere anyway, against a rogue SSH server that records everything offered to it and real
sshd processes."""

from __future__ import annotations

import socket
import uuid

import paramiko
import pytest

from apps.targets.connection import CredentialOutOfScope, CredentialScope
from apps.targets.models import ConnectionMethod, Credential, Target
from apps.targets.ssh_connect import Deadline, connect_tcp
from apps.targets.tests.api import client_for
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases=["default", "targets"])

PASSWORD = "admin-only-S3cret-" + uuid.uuid4().hex


@pytest.fixture
def admin(django_user_model):
    return client_for(django_user_model, "admin")


@pytest.fixture
def manager(django_user_model):
    return client_for(django_user_model, "manager")


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def credential(admin, name="prod-root", **scope):
    return ok(
        admin.post(
            "/api/v1/credentials/",
            {"name": name, "kind": "password", "username": "root", "password": PASSWORD, **scope},
            format="json",
        ),
        201,
    )


def target_body(host, port=22, credential="prod-root", **fields):
    return {
        "name": fields.pop("name", "t1"),
        "host_key_policy": fields.pop("host_key_policy", "accept-new"),
        "connection_methods": [
            {"protocol": "ssh", "host": host, "port": port, "credential": credential}
        ],
        **fields,
    }


def refusals() -> list[dict]:
    return [
        e.payload
        for e in OutboxEvent.objects.using("targets")
        .filter(event_type="targets.credential.scope_refused")
        .order_by("occurred_at")
    ]


# --- the rogue server itself: it does record what a client offers (the tests can fail) ------


def test_the_rogue_server_records_what_a_client_offers(rogue_sshd):
    sock = socket.create_connection((rogue_sshd.host, rogue_sshd.port), timeout=5)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=5)
    with pytest.raises(paramiko.AuthenticationException):
        transport.auth_password("root", PASSWORD)
    transport.close()
    assert ("password", "root", PASSWORD) in rogue_sshd.offered


def test_without_a_scope_a_manager_allowed_to_attach_does_reach_the_rogue_server(
    admin, manager, rogue_sshd
):
    """The hole, reproduced on purpose: a credential managers may attach and that has no
    address restriction goes wherever a manager points it (what the scope is for)."""
    credential(admin, attach_roles=["manager"])
    target = ok(manager.post("/api/v1/targets/", target_body(rogue_sshd.host, rogue_sshd.port),
                             format="json"), 201)  # fmt: skip
    check = ok(manager.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "auth_failed"
    assert ("password", "root", PASSWORD) in rogue_sshd.offered


# --- attach time ------------------------------------------------------------------------------


def test_existing_credentials_are_admin_only_and_unrestricted(admin):
    body = credential(admin)
    assert body["allowed_targets"] == "" and body["allowed_hosts"] == []
    assert body["attach_roles"] == [] and body["host_key_policy"] == "target"


def test_a_manager_cannot_attach_an_admin_only_credential_on_any_path(admin, manager, rogue_sshd):
    credential(admin)
    at = (rogue_sshd.host, rogue_sshd.port)
    # target create with nested methods
    response = manager.post("/api/v1/targets/", target_body(*at), format="json")
    assert response.status_code == 403, response.content
    message = response.json()["error"]["message"]
    assert "prod-root" in message and PASSWORD not in message and "root@" not in message
    assert not Target.objects.using("targets").exists()
    # a method added to an existing target
    target = ok(manager.post("/api/v1/targets/", {"name": "bare"}, format="json"), 201)
    response = manager.post(f"/api/v1/targets/{target['id']}/methods/",
                            {"protocol": "ssh", "host": at[0], "port": at[1],
                             "credential": "prod-root"}, format="json")  # fmt: skip
    assert response.status_code == 403
    # bulk import, JSON and CSV
    assert manager.post("/api/v1/targets/import/", [target_body(*at)],
                        format="json").status_code == 403  # fmt: skip
    csv = f"name,protocol,host,port,credential\nx,ssh,{at[0]},{at[1]},prod-root\n"
    response = manager.post("/api/v1/targets/import/", csv, content_type="text/csv")
    assert response.status_code == 403
    # an existing method moved to the credential
    method = ok(manager.post(f"/api/v1/targets/{target['id']}/methods/",
                             {"protocol": "ssh", "host": at[0], "port": at[1]},
                             format="json"), 201)  # fmt: skip
    response = manager.patch(f"/api/v1/targets/{target['id']}/methods/{method['id']}/",
                             {"credential": "prod-root"}, format="json")  # fmt: skip
    assert response.status_code == 403
    assert not ConnectionMethod.objects.using("targets").filter(credential__isnull=False).exists()
    assert rogue_sshd.connections == 0 and rogue_sshd.offered == []


def test_attach_roles_lets_a_manager_attach_within_the_scope(admin, manager):
    credential(admin, attach_roles=["manager"], allowed_hosts=["10.0.0.0/24", "*.prod.example"])
    ok(manager.post("/api/v1/targets/", target_body("10.0.0.5"), format="json"), 201)
    ok(manager.post("/api/v1/targets/", target_body("web.prod.example"), format="json"), 201)
    response = manager.post("/api/v1/targets/", target_body("10.0.1.5"), format="json")
    assert response.status_code == 400
    assert "connection_methods.0.host" in response.json()["error"]["fields"]
    response = manager.post("/api/v1/targets/", target_body("evil.example"), format="json")
    assert response.status_code == 400
    assert "outside" in response.json()["error"]["fields"]["connection_methods.0.host"][0]


def test_a_target_outside_allowed_targets_is_refused_at_attach(admin, manager):
    credential(admin, attach_roles=["manager"], allowed_targets="env=staging")
    response = manager.post("/api/v1/targets/", target_body("10.0.0.5", environment="production"),
                            format="json")  # fmt: skip
    assert response.status_code == 400
    assert "connection_methods.0.credential" in response.json()["error"]["fields"]
    ok(manager.post("/api/v1/targets/", target_body("10.0.0.5", environment="staging"),
                    format="json"), 201)  # fmt: skip


def test_target_changes_that_leave_the_scope_are_refused(admin, manager):
    credential(admin, attach_roles=["manager"], allowed_targets="tag:prod",
               allowed_hosts=["10.0.0.0/24"])  # fmt: skip
    target = ok(manager.post("/api/v1/targets/", target_body("10.0.0.5", tags=["prod"],
                                                             host_key_policy="strict"),
                             format="json"), 201)  # fmt: skip
    url = f"/api/v1/targets/{target['id']}/"
    # the tags: out of the selector
    response = manager.patch(url, {"tags": ["dev"]}, format="json")
    assert response.status_code == 400 and "tags" in response.json()["error"]["fields"]
    # the address: outside allowed_hosts
    method_url = f"{url}methods/{target['connection_methods'][0]['id']}/"
    response = manager.patch(method_url, {"host": "10.9.9.9"}, format="json")
    assert response.status_code == 400 and "host" in response.json()["error"]["fields"]
    ok(manager.patch(method_url, {"host": "10.0.0.6", "port": 2222}, format="json"))
    assert ConnectionMethod.objects.using("targets").get().host == "10.0.0.6"


def test_changing_address_or_policy_needs_the_right_to_attach(admin, manager):
    credential(admin)  # admins only
    target = ok(admin.post("/api/v1/targets/", target_body("10.0.0.5"), format="json"), 201)
    url = f"/api/v1/targets/{target['id']}/"
    method_url = f"{url}methods/{target['connection_methods'][0]['id']}/"
    assert manager.patch(method_url, {"host": "10.0.0.6"}, format="json").status_code == 403
    assert manager.patch(method_url, {"port": 2022}, format="json").status_code == 403
    assert manager.patch(url, {"host_key_policy": "strict"}, format="json").status_code == 403
    ok(manager.patch(url, {"description": "fine"}, format="json"))  # other fields are not
    assert ConnectionMethod.objects.using("targets").get().host == "10.0.0.5"
    ok(admin.patch(method_url, {"host": "10.0.0.6"}, format="json"))


def test_a_strict_credential_refuses_accept_new(admin):
    credential(admin, host_key_policy="strict")
    response = admin.post("/api/v1/targets/", target_body("10.0.0.5"), format="json")
    assert response.status_code == 400
    assert "connection_methods.0.credential" in response.json()["error"]["fields"]
    target = ok(admin.post("/api/v1/targets/", target_body("10.0.0.5", host_key_policy="strict"),
                           format="json"), 201)  # fmt: skip
    response = admin.patch(f"/api/v1/targets/{target['id']}/", {"host_key_policy": "accept-new"},
                           format="json")  # fmt: skip
    assert response.status_code == 400
    assert "host_key_policy" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"allowed_hosts": ["10.0.0.0/24", "10.0.0.300"]}, "allowed_hosts.1"),
        ({"allowed_hosts": ["ok.example", "bad host!"]}, "allowed_hosts.1"),
        ({"allowed_hosts": ["*.10.0.0.1"]}, "allowed_hosts.0"),
        ({"allowed_hosts": ["fd00::/129"]}, "allowed_hosts.0"),
        ({"allowed_hosts": "10.0.0.1"}, "allowed_hosts"),
        ({"allowed_targets": "env=nowhere"}, "allowed_targets"),
        ({"attach_roles": ["admin"]}, "attach_roles.0"),
        ({"attach_roles": ["root"]}, "attach_roles.0"),
        ({"host_key_policy": "any"}, "host_key_policy"),
    ],
)
def test_scope_validation_is_a_400_naming_the_field(admin, scope, field):
    response = admin.post("/api/v1/credentials/", {"name": "c", "kind": "password",
                          "username": "u", "password": "p", **scope}, format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_scope_fields_are_normalised_and_audited(admin, manager):
    body = credential(
        admin, allowed_hosts=["10.0.0.7", "FD00::/8", "Web.Example.", "*.Corp.Example"]
    )
    assert body["allowed_hosts"] == ["10.0.0.7/32", "fd00::/8", "web.example", "*.corp.example"]
    changed = ok(admin.patch(f"/api/v1/credentials/{body['id']}/",
                             {"attach_roles": ["manager"], "host_key_policy": "strict"},
                             format="json"))  # fmt: skip
    assert changed["attach_roles"] == ["manager"] and changed["host_key_policy"] == "strict"
    event = OutboxEvent.objects.using("targets").get(event_type="targets.credential.updated")
    assert event.payload["changes"]["attach_roles"] == {"from": [], "to": ["manager"]}
    assert PASSWORD not in str(event.payload)
    # managers still cannot read or change credentials
    assert manager.get("/api/v1/credentials/").status_code == 403
    assert manager.patch(f"/api/v1/credentials/{body['id']}/", {"attach_roles": []},
                         format="json").status_code == 403  # fmt: skip


# --- connect time -------------------------------------------------------------------------------


def _moved_to(rogue, target_id):
    """The method's address changed behind the API's back (or a DNS answer changed)."""
    ConnectionMethod.objects.using("targets").filter(target_id=target_id).update(
        host=rogue.host, port=rogue.port
    )


def test_a_health_check_and_a_scan_refuse_an_address_moved_out_of_scope(admin, manager, rogue_sshd):
    credential(admin, attach_roles=["manager"], allowed_hosts=["127.0.0.1/32"])
    target = ok(manager.post("/api/v1/targets/", target_body("127.0.0.1", 1), format="json"), 201)
    _moved_to(rogue_sshd, target["id"])

    check = ok(manager.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "scope_refused", check
    assert check["message"].startswith(
        f"credential prod-root may not be used with {rogue_sshd.host}:{rogue_sshd.port}: "
        "outside its scope"
    )
    assert "nothing was sent" in check["message"] and PASSWORD not in check["message"]
    shown = ok(manager.get(f"/api/v1/targets/{target['id']}/"))["health"]
    assert shown["status"] == "scope_refused"

    response = manager.post(f"/api/v1/targets/{target['id']}/host-keys/scan/")
    assert response.status_code == 400
    assert "outside its scope" in response.json()["error"]["fields"]["host"][0]

    assert rogue_sshd.connections == 0 and rogue_sshd.offered == []
    assert [(r["via"], r["credential"], r["address"]) for r in refusals()] == [
        ("health_check", "prod-root", f"{rogue_sshd.host}:{rogue_sshd.port}"),
        ("host_key_scan", "prod-root", f"{rogue_sshd.host}:{rogue_sshd.port}"),
    ]
    assert refusals()[0]["actor"] == f"user:{manager.user.username}"
    assert all(PASSWORD not in str(r) for r in refusals())


def test_a_target_edited_out_of_allowed_targets_is_refused_at_connect(admin, rogue_sshd):
    credential(admin, allowed_targets="env=staging")
    target = ok(admin.post("/api/v1/targets/", target_body(rogue_sshd.host, rogue_sshd.port,
                                                           environment="staging"),
                           format="json"), 201)  # fmt: skip
    Target.objects.using("targets").filter(pk=target["id"]).update(environment="production")
    check = ok(admin.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "scope_refused"
    assert "does not match the credential's allowed_targets" in check["message"]
    assert rogue_sshd.connections == 0 and rogue_sshd.offered == []


def test_a_strict_credential_makes_the_connection_strict(admin, rogue_sshd):
    body = credential(admin)
    target = ok(admin.post("/api/v1/targets/", target_body(rogue_sshd.host, rogue_sshd.port),
                           format="json"), 201)  # fmt: skip
    ok(admin.patch(f"/api/v1/credentials/{body['id']}/", {"host_key_policy": "strict"},
                   format="json"))  # fmt: skip
    check = ok(admin.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "host_key_unknown", check  # no trust on first use
    assert rogue_sshd.offered == []


def test_an_admin_still_reaches_real_sshd_within_the_scope(admin, sshd_factory):
    server = sshd_factory()
    ok(admin.post("/api/v1/credentials/", {
        "name": "fleet", "kind": "ssh_key", "username": server.username,
        "private_key": server.client_key_path.read_text(), "allowed_hosts": ["127.0.0.0/8"],
        "allowed_targets": "tag:fleet", "host_key_policy": "strict"}, format="json"), 201)  # fmt: skip
    target = ok(admin.post("/api/v1/targets/", target_body(
        "127.0.0.1", server.port, credential="fleet", tags=["fleet"], host_key_policy="strict"),
        format="json"), 201)  # fmt: skip
    key = ok(admin.post(f"/api/v1/targets/{target['id']}/host-keys/scan/"))
    ok(admin.post(f"/api/v1/targets/{target['id']}/host-keys/{key['id']}/approve/"))
    check = ok(admin.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "healthy", check
    assert refusals() == []


def test_names_are_resolved_and_checked_against_the_networks(rogue_sshd):
    """``localhost`` resolves to 127.0.0.1 (and ::1), not to the networks allowed."""
    scope = CredentialScope(credential_name="c", networks=("127.0.0.2/32",))
    with pytest.raises(CredentialOutOfScope) as refused:
        connect_tcp("localhost", rogue_sshd.port, Deadline(5), scope=scope)
    assert "it resolves to" in refused.value.reason
    # a name-only scope: the configured name must match; DNS is trusted
    names = CredentialScope(credential_name="c", names=("*.example.com",))
    with pytest.raises(CredentialOutOfScope):
        connect_tcp("localhost", rogue_sshd.port, Deadline(5), scope=names)
    with pytest.raises(CredentialOutOfScope):
        connect_tcp(rogue_sshd.host, rogue_sshd.port, Deadline(5), scope=names)
    assert rogue_sshd.connections == 0
    # inside the networks: dialled
    sock = connect_tcp(rogue_sshd.host, rogue_sshd.port, Deadline(5), scope=scope)
    sock.close()


def test_credential_scope_in_the_model_defaults():
    assert Credential._meta.get_field("attach_roles").default() == []
    assert Credential._meta.get_field("host_key_policy").default == "target"


def test_a_winrm_health_check_outside_the_scope_sends_no_request(admin, winrm_server):
    ok(admin.post("/api/v1/credentials/", {
        "name": "win", "kind": "winrm", "username": winrm_server.username,
        "password": winrm_server.password, "allowed_hosts": ["127.0.0.2/32"]},
        format="json"), 201)  # fmt: skip
    target = ok(admin.post("/api/v1/targets/", {
        "name": "win-1", "os_family": "windows", "connection_methods": [{
            "protocol": "winrm", "host": "127.0.0.2", "port": winrm_server.port,
            "winrm_transport": "basic", "credential": "win"}]}, format="json"), 201)  # fmt: skip
    ConnectionMethod.objects.using("targets").filter(target_id=target["id"]).update(
        host=winrm_server.host
    )
    check = ok(admin.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "scope_refused", check
    assert f"credential win may not be used with {winrm_server.host}:" in check["message"]
    assert winrm_server.requests == []
    assert winrm_server.password not in check["message"]
    assert [r["via"] for r in refusals()] == ["health_check"]


def test_an_api_token_attaches_with_its_owners_role_as_the_credential_allows_now(admin, manager):
    from rest_framework.test import APIClient

    body = credential(admin, attach_roles=["manager"])
    made = ok(manager.post("/api/v1/tokens/", {"name": "ci"}, format="json"), 201)
    by_token = APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Token {made['token']}")
    ok(by_token.post("/api/v1/targets/", target_body("10.0.0.5"), format="json"), 201)
    # the admin takes the right back: read at each attach, not cached
    ok(admin.patch(f"/api/v1/credentials/{body['id']}/", {"attach_roles": []}, format="json"))
    response = by_token.post("/api/v1/targets/", target_body("10.0.0.6"), format="json")
    assert response.status_code == 403
    assert "may not attach credential prod-root" in response.json()["error"]["message"]


def test_a_name_that_resolves_outside_the_networks_is_refused_at_connect(admin, manager):
    """What a changed DNS record looks like: the name is allowed, its address is not."""
    from tests.rogue_sshd import start_rogue_sshd

    rogue, stop = start_rogue_sshd("127.0.0.1")  # where "localhost" resolves
    try:
        credential(admin, attach_roles=["manager"], allowed_hosts=["localhost", "127.0.0.2/32"])
        target = ok(manager.post("/api/v1/targets/", target_body("localhost", rogue.port),
                                 format="json"), 201)  # fmt: skip
        check = ok(manager.post(f"/api/v1/targets/{target['id']}/check/"))
        assert check["status"] == "scope_refused", check
        assert "it resolves to 127.0.0.1" in check["message"] or "::1" in check["message"]
        assert rogue.connections == 0 and rogue.offered == []
    finally:
        stop()
