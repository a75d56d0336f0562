"""The targets issue's acceptance story, through the API, against real sshd and a real worker.

An admin registers three SSH targets sharing one key credential, approves their host keys,
checks all three in one call, previews a selector, and sees a changed host key refused.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def admin(django_user_model):
    user = django_user_model.objects.create_user(username="ops-admin", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def test_register_trust_check_select_and_refuse_a_changed_key(
    admin, sshd_factory, sshd_rekey, celery_worker
):
    first = sshd_factory()
    servers = [
        first,
        sshd_factory(client_key=first.client_key_path),
        sshd_factory(client_key=first.client_key_path),
    ]
    credential = ok(
        admin.post(
            "/api/v1/credentials/",
            {
                "name": "fleet-key",
                "kind": "ssh_key",
                "username": first.username,
                "private_key": first.client_key_path.read_text(),
            },
            format="json",
        ),
        201,
    )
    targets = []
    for index, server in enumerate(servers):
        targets.append(
            ok(
                admin.post(
                    "/api/v1/targets/",
                    {
                        "name": f"app-{index}",
                        "environment": "staging" if index == 2 else "production",
                        "tags": ["e2e", "app"],
                        "labels": {"role": "db" if index == 1 else "web"},
                        "connection_methods": [
                            {
                                "protocol": "ssh",
                                "host": server.host,
                                "port": server.port,
                                "credential": "fleet-key",
                            }
                        ],
                    },
                    format="json",
                ),
                201,
            )
        )
    assert ok(admin.get(f"/api/v1/credentials/{credential['id']}/"))["used_by"] == 3

    # Strict by default: before approval a check refuses the host without logging in.
    refused = ok(admin.post(f"/api/v1/targets/{targets[0]['id']}/check/"))
    assert refused["status"] == "host_key_unknown"
    assert servers[0].auth_attempts() == []

    # Scan each host's key, compare with what the host says, approve.
    for target, server in zip(targets, servers, strict=True):
        scanned = ok(admin.post(f"/api/v1/targets/{target['id']}/host-keys/scan/"))
        assert scanned["state"] == "pending"
        assert f"{scanned['algorithm']} {scanned['public_key']}" == server.host_public_key
        approved = ok(
            admin.post(f"/api/v1/targets/{target['id']}/host-keys/{scanned['id']}/approve/")
        )
        assert approved["state"] == "trusted"

    # All three in one call, in parallel on the workers.
    batch = ok(admin.post("/api/v1/targets/check/", {"selector": "tag:e2e"}, format="json"), 202)
    assert batch["targets"] == 3

    def finished():
        results = ok(admin.get(f"/api/v1/targets/checks/{batch['batch_id']}/"))["results"]
        return results if all(r["state"] == "finished" for r in results) else None

    results = wait_for(finished, timeout=60, what="the batch of health checks")
    assert sorted(r["status"] for r in results) == ["healthy"] * 3
    assert all(r["latency_ms"] is not None for r in results)
    listed = ok(admin.get("/api/v1/targets/?tag=e2e"))["results"]
    assert {t["health"]["status"] for t in listed} == {"healthy"}

    # Preview what a job would hit.
    preview = ok(
        admin.post(
            "/api/v1/targets/select/",
            {"selector": "env=production and tag:e2e and not label:role=db"},
            format="json",
        )
    )
    assert [t["name"] for t in preview["results"]] == ["app-0"]

    # The host is reinstalled (new host key, same address): refused, clearly, before login.
    old_fingerprint = approved_fp = ok(admin.get(f"/api/v1/targets/{targets[2]['id']}/host-keys/"))[
        0
    ]["fingerprint"]
    new_server = sshd_rekey(servers[2])
    changed = ok(admin.post(f"/api/v1/targets/{targets[2]['id']}/check/"))
    assert changed["status"] == "host_key_mismatch"
    assert "changed" in changed["message"] and approved_fp in changed["message"]
    assert new_server.auth_attempts() == []
    keys = ok(admin.get(f"/api/v1/targets/{targets[2]['id']}/host-keys/"))
    pending = [k for k in keys if k["state"] == "pending"]
    assert len(pending) == 1 and pending[0]["fingerprint"] != old_fingerprint
    assert pending[0]["fingerprint"] in changed["message"]
