"""Signing in to the admin site is throttled and recorded like an API login."""

from __future__ import annotations

import pytest

from apps.accounts.factories import DEFAULT_PASSWORD, UserFactory
from opsconductor.events.models import OutboxEvent
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def sign_in(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def test_admin_sign_in_is_recorded(client):
    UserFactory(username="root", role=Role.ADMIN)
    assert sign_in(client, "root", "wrong").status_code == 200  # the form again, with an error
    response = sign_in(client, "root", DEFAULT_PASSWORD)
    assert response.status_code == 302
    events = list(
        OutboxEvent.objects.filter(event_type__startswith="accounts.login.").order_by("occurred_at")
    )
    assert [(e.event_type, e.payload["channel"]) for e in events] == [
        ("accounts.login.failed", "admin"),
        ("accounts.login.succeeded", "admin"),
    ]
    assert events[0].payload["reason"] == "wrong_password"
    assert DEFAULT_PASSWORD not in str([e.payload for e in events])


def test_admin_sign_in_is_throttled_even_with_the_right_password(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(username="root", role=Role.ADMIN)
    for _ in range(3):
        sign_in(client, "root", "wrong")
    response = sign_in(client, "root", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_non_admins_cannot_enter_the_admin_site(client):
    UserFactory(username="vera", role=Role.VIEWER)
    response = sign_in(client, "vera", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
