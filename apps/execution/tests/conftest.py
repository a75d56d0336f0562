"""Fixtures for the runs API tests: a fleet of real sshd targets and jobs, made through the
API (the execution app's tests never reach into another app's models)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.fixtures import wait_for


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def admin_api(django_user_model):
    user = django_user_model.objects.create_user(username="run-admin", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


@pytest.fixture
def operator_api(django_user_model):
    user = django_user_model.objects.create_user(username="run-op", password="x", role="operator")
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


@pytest.fixture
def make_fleet(admin_api, sshd_factory):
    """``make_fleet(n, tag=...)``: n sshd servers registered as SSH targets (accept-new host
    keys, one shared key credential), tagged ``tag``; returns (targets, servers)."""
    made = {"count": 0}

    def make(n: int, *, tag: str = "fleet", servers=None, password: str | None = None):
        made["count"] += 1
        servers = servers or []
        if not servers:
            first = sshd_factory(password=bool(password))
            servers = [first] + [
                sshd_factory(client_key=first.client_key_path, password=bool(password))
                for _ in range(n - 1)
            ]
        credential_name = f"{tag}-cred-{made['count']}"
        if password:
            from tests.sshd import ensure_password_user

            user = ensure_password_user()
            body = {"name": credential_name, "kind": "password", "username": user.username,
                    "password": password}  # fmt: skip
        else:
            body = {"name": credential_name, "kind": "ssh_key", "username": servers[0].username,
                    "private_key": servers[0].client_key_path.read_text()}  # fmt: skip
        ok(admin_api.post("/api/v1/credentials/", body, format="json"), 201)
        targets = []
        for index, server in enumerate(servers):
            targets.append(
                ok(
                    admin_api.post(
                        "/api/v1/targets/",
                        {
                            "name": f"{tag}-{made['count']}-{index:03d}",
                            "tags": [tag],
                            "host_key_policy": "accept-new",
                            "connection_methods": [
                                {
                                    "protocol": "ssh",
                                    "host": server.host,
                                    "port": server.port,
                                    "credential": credential_name,
                                }
                            ],
                        },
                        format="json",
                    ),
                    201,
                )
            )
        return targets, servers

    return make


@pytest.fixture
def make_job(admin_api):
    def make(steps, *, name="job", parameters=None, policy=None, selector=""):
        body = {"name": name, "steps": steps, "parameters": parameters or [],
                "default_selector": selector}  # fmt: skip
        if policy:
            body["policy"] = policy
        return ok(admin_api.post("/api/v1/jobs/", body, format="json"), 201)

    return make


def wait_run(client, run_id, *, timeout=30.0, statuses=("succeeded", "failed", "canceled",
                                                         "timed_out")):  # fmt: skip
    def finished():
        run = ok(client.get(f"/api/v1/runs/{run_id}/"))
        return run if run["status"] in statuses else None

    return wait_for(finished, timeout=timeout, interval=0.1, what=f"run {run_id} to finish")


def targets_of(client, run_id):
    return {
        t["target_name"]: t for t in ok(client.get(f"/api/v1/runs/{run_id}/targets/"))["results"]
    }
