"""The route table in the Django admin: changes go through the services (validated, version
bumped, audited) and only admins may make them."""

from __future__ import annotations

import pytest

from legacy_bridge.models import Route, RouteTableVersion
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db


def _login(client, django_user_model, role: str):
    user = django_user_model.objects.create_user(username=f"u-{role}", password="x", role=role)
    client.force_login(user)
    return client


FORM = {"prefix": "/api/v3/audit/", "mode": "retired", "new_url": "", "adapter": "",
        "message": "Use /api/v1/audit/events/.", "note": ""}  # fmt: skip


def test_admin_adds_and_flips_a_route_audited(client, django_user_model, legacy):
    admin = _login(client, django_user_model, "admin")
    response = admin.post("/admin/legacy_bridge/route/add/", FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    route = Route.objects.get()
    assert route.prefix == "/api/v3/audit"  # normalized by the service
    assert RouteTableVersion.objects.get().version == 1
    assert OutboxEvent.objects.filter(event_type="legacy_bridge.route.created").count() == 1
    assert client.get("/api/v3/audit/events").status_code == 410

    changed = {**FORM, "prefix": "/api/v3/audit", "mode": "proxy", "message": ""}
    response = admin.post(f"/admin/legacy_bridge/route/{route.pk}/change/", changed)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = OutboxEvent.objects.get(event_type="legacy_bridge.route.changed")
    assert event.payload["changes"]["mode"] == {"from": "retired", "to": "proxy"}
    assert client.get("/api/v3/audit/events").status_code == 404  # proxied: the backend's 404


def test_a_bad_route_is_an_error_on_the_form(client, django_user_model):
    admin = _login(client, django_user_model, "admin")
    response = admin.post("/admin/legacy_bridge/route/add/", {**FORM, "prefix": "/api/v1/x"})
    assert response.status_code == 200
    assert "legacy URL space" in response.content.decode()
    assert not Route.objects.exists()


def test_a_manager_with_staff_access_cannot_change_routes(client, django_user_model):
    manager = _login(client, django_user_model, "manager")
    response = manager.post("/admin/legacy_bridge/route/add/", FORM)
    assert response.status_code in (302, 403)
    assert not Route.objects.exists()
