"""/api/v1/me/ and /api/v1/me/password/: a user's own profile and password."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from apps.accounts.tests.helpers import assert_error, assert_no_secret, events
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PASSWORD = "/api/v1/me/password/"
REFRESH = "/api/v1/auth/token/refresh/"
NEW_PASSWORD = "A-much-better-passphrase-7"


def test_me_shows_the_profile(as_user, viewer):
    body = as_user(viewer).get(ME).json()

    assert body["id"] == str(viewer.pk)
    assert body["username"] == "vera"
    assert body["role"] == "viewer"
    assert body["is_auditor"] is False
    assert "password" not in body


def test_me_changes_email_and_names(as_user, viewer):
    response = as_user(viewer).patch(
        ME, {"email": "vera@new.example", "first_name": "Vera", "last_name": "V"}
    )

    assert response.status_code == 200, response.content
    viewer.refresh_from_db()
    assert (viewer.email, viewer.first_name, viewer.last_name) == ("vera@new.example", "Vera", "V")
    [event] = events("accounts.user.updated")
    assert event.payload["changes"]["email"] == {
        "before": "vera@example.com",
        "after": "vera@new.example",
    }
    assert event.actor["id"] == str(viewer.pk)


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "admin"), ("is_auditor", True), ("is_active", False), ("username", "boss")],
)
def test_me_refuses_privileged_changes(as_user, viewer, field, value):
    response = as_user(viewer).patch(ME, {field: value, "first_name": "Sneaky"})

    assert_error(response, 400, field=field)
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER
    assert not viewer.is_auditor
    assert viewer.is_active
    assert viewer.username == "vera"
    assert viewer.first_name != "Sneaky"
    assert not events("accounts.user.updated")


def test_me_accepts_the_current_values_echoed_back(as_user, viewer):
    client = as_user(viewer)
    profile = client.get(ME).json()
    profile["first_name"] = "Vee"

    response = client.put(ME, profile)

    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == "Vee"


def test_me_refuses_a_password(as_user, viewer):
    assert_error(as_user(viewer).patch(ME, {"password": NEW_PASSWORD}), 400, field="password")


def test_me_needs_authentication(api):
    assert_error(api.get(ME), 401)
    assert_error(api.patch(ME, {"first_name": "x"}), 401)


def test_password_change_needs_the_right_old_password(as_user, viewer, login, password):
    response = as_user(viewer).post(
        PASSWORD, {"old_password": "not it", "new_password": NEW_PASSWORD}
    )

    assert_error(response, 400, field="old_password")
    assert login("vera", password).status_code == 200
    assert not events("accounts.user.password_changed")


def test_new_password_is_validated(as_user, viewer, password):
    client = as_user(viewer)

    for weak in ("short", "vera@example.com", "123456789", password):
        response = client.post(PASSWORD, {"old_password": password, "new_password": weak})
        assert_error(response, 400, field="new_password")


def test_both_fields_are_required(as_user, viewer):
    error = assert_error(as_user(viewer).post(PASSWORD, {}), 400)

    assert set(error["fields"]) == {"old_password", "new_password"}


def test_password_change_ends_every_session(api, login, bearer, viewer, password):
    laptop = login("vera").json()
    phone = login("vera").json()

    response = bearer(laptop["access"]).post(
        PASSWORD, {"old_password": password, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204
    for session in (laptop, phone):
        assert_error(api.post(REFRESH, {"refresh": session["refresh"]}), 401)
    assert BlacklistedToken.objects.filter(token__user=viewer).count() == 2
    assert login("vera", password).status_code == 401
    assert login("vera", NEW_PASSWORD).status_code == 200

    [event] = events("accounts.user.password_changed")
    assert event.payload == {
        "user_id": str(viewer.pk),
        "username": "vera",
        "self_service": True,
        "sessions_revoked": 2,
    }
    assert_no_secret(event, password, NEW_PASSWORD)


def test_guessing_the_old_password_is_throttled_like_a_login(as_user, viewer, settings, password):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = as_user(viewer)
    for _ in range(3):
        client.post(PASSWORD, {"old_password": "guess", "new_password": NEW_PASSWORD})

    response = client.post(PASSWORD, {"old_password": password, "new_password": NEW_PASSWORD})

    assert_error(response, 429)
    assert int(response["Retry-After"]) > 0
