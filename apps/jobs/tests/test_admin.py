"""The jobs admin: a job's page shows its steps, parameters and versions, read only."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_jobs_admin_page_shows_its_steps_parameters_and_versions(django_user_model):
    user = django_user_model.objects.create_user(username="jobs-admin", password="x", role="admin")
    api = APIClient()
    api.force_authenticate(user)
    created = api.post("/api/v1/jobs/", {
        "name": "admin-shown", "parameters": [{"name": "who", "type": "string", "default": "x"}],
        "steps": [{"name": "greet", "kind": "command", "command": "echo hi {{ who }}"}],
    }, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    client = Client()
    client.force_login(user)

    page = client.get(f"/admin/jobs/job/{created.json()['id']}/change/")

    assert page.status_code == 200  # the versions inline lists created_at (not editable)
    text = page.content.decode()
    assert "greet" in text and "echo hi {{ who }}" in text and "who" in text
