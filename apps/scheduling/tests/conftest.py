"""Fixtures of the scheduling tests: users with each role, and a job with a target to schedule,
made through the API (the scheduling tests never reach into another app's models)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.sshd import free_port


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def _client(django_user_model, username: str, role: str) -> APIClient:
    user = django_user_model.objects.create_user(username=username, password="x", role=role)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


@pytest.fixture
def admin_api(django_user_model):
    return _client(django_user_model, "sched-admin", "admin")


@pytest.fixture
def manager_api(django_user_model):
    return _client(django_user_model, "sched-manager", "manager")


@pytest.fixture
def operator_api(django_user_model):
    return _client(django_user_model, "sched-operator", "operator")


@pytest.fixture
def viewer_api(django_user_model):
    return _client(django_user_model, "sched-viewer", "viewer")


@pytest.fixture
def make_job(admin_api, manager_api):
    """``make_job(name=..., parameters=..., steps=...)``: a job whose default selector picks
    the target(s) tagged ``sched`` (made if needed: no host behind it unless ``port`` is given;
    runs of it are created and queued, which is all the firing tests need)."""
    made = {"target": False}

    def make(*, name="nightly", parameters=None, steps=None, policy=None, port=None, host=None):
        if not made["target"]:
            ok(admin_api.post("/api/v1/credentials/", {"name": "sched-cred", "kind": "password",
               "username": "nobody", "password": "pw-not-used"}, format="json"), 201)  # fmt: skip
            ok(
                admin_api.post(
                    "/api/v1/targets/",
                    {"name": "sched-target", "tags": ["sched"], "host_key_policy": "accept-new",
                     "connection_methods": [{"protocol": "ssh", "host": host or "127.0.0.1",
                                             "port": port or free_port(),
                                             "credential": "sched-cred"}]},
                    format="json",
                ),
                201,
            )  # fmt: skip
            made["target"] = True
        body = {
            "name": name,
            "steps": steps or [{"name": "hello", "kind": "command", "command": "echo hello"}],
            "parameters": parameters or [],
            "default_selector": "tag:sched",
        }
        if policy:
            body["policy"] = policy
        return ok(manager_api.post("/api/v1/jobs/", body, format="json"), 201)

    return make
