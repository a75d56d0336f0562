"""Issue 15, item 1, end to end: a manager cannot get an admin-only credential sent to a host
they control, on any path that connects.

An admin lets managers attach a password credential, scoped to ``127.0.0.1/32`` (where the real
sshd targets listen). A manager registers a target within the scope and runs a job on it (it
works: a real sshd, a real password login). Then the method's address moves to a rogue SSH
server on 127.0.0.2 that records every user name, password and key offered to it, as an edit
behind the API's back or a changed DNS answer would. A run, a retry of it, a schedule firing
(the scheduler's tick, run by the real worker), a health check and a host-key scan then all
refuse, visibly and audited, and the rogue server received nothing (no connection at all).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.targets.models import ConnectionMethod
from tests.fixtures import wait_for, wait_for_first_firing

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, databases="__all__")]
DONE = {"succeeded", "failed", "canceled", "timed_out"}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def client(django_user_model, role):
    user = django_user_model.objects.create_user(username=f"scope-{role}", password="x-pass-1",
                                                 role=role)  # fmt: skip
    api = APIClient()
    api.force_authenticate(user)
    api.user = user
    return api


def finished(api, run_id):
    return wait_for(lambda: (r := ok(api.get(f"/api/v1/runs/{run_id}/")))["status"] in DONE and r,
                    timeout=40, interval=0.2, what=f"run {run_id} to finish")  # fmt: skip


def the_target(api, run_id):
    (target,) = ok(api.get(f"/api/v1/runs/{run_id}/targets/"))["results"]
    return target


def test_a_manager_cannot_exfiltrate_a_scoped_credential_on_any_path(
    django_user_model, sshd_factory, rogue_sshd, celery_worker
):
    from tests.sshd import ensure_password_user

    admin, manager = client(django_user_model, "admin"), client(django_user_model, "manager")
    server = sshd_factory(password=True)
    user = ensure_password_user()
    ok(admin.post("/api/v1/credentials/", {
        "name": "prod-root", "kind": "password", "username": user.username,
        "password": user.password, "attach_roles": ["manager"],
        "allowed_hosts": ["127.0.0.1/32"]}, format="json"), 201)  # fmt: skip

    # out of scope from the start: refused when attached (400 naming the host)
    response = manager.post("/api/v1/targets/", {
        "name": "rogue", "host_key_policy": "accept-new", "connection_methods": [{
            "protocol": "ssh", "host": rogue_sshd.host, "port": rogue_sshd.port,
            "credential": "prod-root"}]}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "connection_methods.0.host" in response.json()["error"]["fields"]

    # within scope: a manager attaches it and runs on the real sshd
    target = ok(manager.post("/api/v1/targets/", {
        "name": "scoped-1", "tags": ["scope-e2e"], "host_key_policy": "accept-new",
        "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1", "port": server.port,
                                "credential": "prod-root"}]}, format="json"), 201)  # fmt: skip
    job = ok(manager.post("/api/v1/jobs/", {
        "name": "scope-job", "default_selector": "tag:scope-e2e",
        "steps": [{"name": "hi", "kind": "command", "command": "echo hello"}]},
        format="json"), 201)  # fmt: skip
    first = ok(manager.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    assert finished(manager, first["id"])["status"] == "succeeded"

    # the address moves to the rogue server behind the API's back
    ConnectionMethod.objects.using("targets").filter(target_id=target["id"]).update(
        host=rogue_sshd.host, port=rogue_sshd.port
    )
    expected = (
        f"credential prod-root may not be used with {rogue_sshd.host}:{rogue_sshd.port}: "
        "outside its scope"
    )

    # a run
    run = ok(manager.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    assert finished(manager, run["id"])["status"] == "failed"
    refused = the_target(manager, run["id"])
    assert refused["reason"].startswith(expected) and "nothing was sent" in refused["reason"]
    assert user.password not in refused["reason"]

    # a retry of it
    retry = ok(manager.post(f"/api/v1/runs/{run['id']}/retry/", {"only": "failed"},
                            format="json"), 201)  # fmt: skip
    assert finished(manager, retry["id"])["status"] == "failed"
    assert the_target(manager, retry["id"])["reason"].startswith(expected)

    # a schedule firing
    run_at = datetime.now(UTC) + timedelta(seconds=2)
    schedule = ok(manager.post("/api/v1/schedules/", {
        "name": "scope-once", "job": job["id"], "kind": "once", "run_at": run_at.isoformat(),
        "timezone": "UTC"}, format="json"), 201)  # fmt: skip

    scheduled = wait_for_first_firing(manager, schedule, run_at, timeout=30)
    assert finished(manager, scheduled)["status"] == "failed"
    assert the_target(manager, scheduled)["reason"].startswith(expected)

    # a health check and a host-key scan
    check = ok(manager.post(f"/api/v1/targets/{target['id']}/check/"))
    assert check["status"] == "scope_refused" and check["message"].startswith(expected)
    response = manager.post(f"/api/v1/targets/{target['id']}/host-keys/scan/")
    assert response.status_code == 400 and expected in response.json()["error"]["message"]

    # visible on the target, and the rogue server got nothing at all
    detail = ok(manager.get(f"/api/v1/targets/{target['id']}/"))
    assert detail["health"]["status"] == "scope_refused"
    assert rogue_sshd.offered == [] and rogue_sshd.connections == 0

    # audited: one refusal per path, naming the credential, the address and the manager
    def trail():
        rows = ok(admin.get("/api/v1/audit/events/?action=targets.credential.scope_refused"
                            "&page_size=50"))["results"]  # fmt: skip
        return rows if len(rows) >= 5 else None

    rows = wait_for(trail, timeout=30, interval=0.5, what="the refusals in the audit trail")
    text = str(rows)
    assert user.password not in text
    assert sorted(r["details"]["via"] for r in rows) == [
        "health_check", "host_key_scan", "run", "run", "run"
    ]  # fmt: skip
    assert all(r["outcome"] == "denied" and r["object"]["name"] == "prod-root" for r in rows)
    assert all(r["details"]["address"] == f"{rogue_sshd.host}:{rogue_sshd.port}" for r in rows)
    assert any(r["details"]["actor"] == "user:scope-manager" for r in rows)


def test_the_winrm_transport_refuses_before_any_request(winrm_server):
    """The execution side of WinRM: the session is never made outside the scope."""
    import dataclasses

    from apps.execution.transports.base import ScopeRefused
    from apps.execution.transports.winrm import open_winrm_session
    from apps.targets.interface import CredentialScope
    from tests.winrm_fixtures import winrm_params

    params = dataclasses.replace(
        winrm_params(winrm_server),
        scope=CredentialScope(credential_name="win", networks=("10.0.0.0/8",)),
    )
    with pytest.raises(ScopeRefused) as refused:
        open_winrm_session(params, connect_timeout=5)
    assert str(refused.value).startswith(f"credential win may not be used with {params.address}")
    assert winrm_server.requests == []
    # the same parameters within the scope do connect
    inside = dataclasses.replace(
        params, scope=CredentialScope(credential_name="win", networks=("127.0.0.0/8",))
    )
    open_winrm_session(inside, connect_timeout=5).close()
    assert winrm_server.requests != []
