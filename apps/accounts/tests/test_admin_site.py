"""The Django admin for users and API tokens goes through the services too."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.factories import ApiTokenFactory, UserFactory
from apps.accounts.models import User
from apps.accounts.tests.helpers import assert_no_secret, events
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Plenty-of-entropy-42"


@pytest.fixture
def site(admin):
    client = Client()
    client.force_login(admin)
    return client


def test_pages_render(site, viewer):
    token = ApiTokenFactory(user=viewer)
    for path in (
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        f"/admin/accounts/user/{viewer.pk}/change/",
        f"/admin/accounts/user/{viewer.pk}/password/",
        "/admin/accounts/apitoken/",
        f"/admin/accounts/apitoken/{token.pk}/change/",
    ):
        response = site.get(path)
        assert response.status_code == 200, path
        assert token.digest not in response.content.decode(), path


def test_only_admins_reach_the_site(viewer):
    client = Client()
    client.force_login(UserFactory(role=Role.MANAGER))

    assert client.get("/admin/accounts/user/").status_code == 302  # to the login page


def test_adding_a_user_publishes_the_event(site, login):
    response = site.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "email": "newbie@example.com",
            "role": "operator",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="newbie")
    assert user.role == Role.OPERATOR
    assert login("newbie", NEW_PASSWORD).status_code == 200
    [event] = events("accounts.user.created")
    assert event.payload["user_id"] == str(user.pk)
    assert event.actor["name"] == "root"
    assert_no_secret(event, NEW_PASSWORD)


def change_form(user: User, **overrides) -> dict:
    data = {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "is_auditor": "on" if user.is_auditor else "",
        "is_active": "on" if user.is_active else "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_changing_a_role_publishes_the_events(site, viewer):
    response = site.post(
        f"/admin/accounts/user/{viewer.pk}/change/", change_form(viewer, role="manager")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    viewer.refresh_from_db()
    assert viewer.role == Role.MANAGER
    assert events("accounts.user.role_changed")[0].payload["after"] == "manager"


def test_the_last_admin_cannot_be_demoted_or_deleted(site, admin):
    response = site.post(
        f"/admin/accounts/user/{admin.pk}/change/", change_form(admin, role="viewer")
    )

    assert response.status_code == 200
    assert "last active admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert site.get(f"/admin/accounts/user/{admin.pk}/delete/").status_code == 403


def test_deleting_a_user_publishes_the_event(site, viewer):
    response = site.post(f"/admin/accounts/user/{viewer.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=viewer.pk).exists()
    assert events("accounts.user.deleted")[0].payload["username"] == "vera"


def test_setting_a_password_ends_the_users_sessions(site, viewer, login, api):
    session = login("vera").json()

    response = site.post(
        f"/admin/accounts/user/{viewer.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    refreshed = api.post("/api/v1/auth/token/refresh/", {"refresh": session["refresh"]})
    assert refreshed.status_code == 401
    assert login("vera", NEW_PASSWORD).status_code == 200
    [event] = events("accounts.user.password_changed")
    assert event.payload["sessions_revoked"] == 1
    assert_no_secret(event, NEW_PASSWORD)


def test_a_rejected_password_form_changes_nothing(site, viewer):
    site.post(
        f"/admin/accounts/user/{viewer.pk}/password/",
        {"password1": "short", "password2": "short", "usable_password": "true"},
    )

    assert not events("accounts.user.password_changed")


def test_tokens_can_be_revoked_but_not_added_or_deleted(site, viewer):
    token = ApiTokenFactory(user=viewer)

    response = site.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_selected", "_selected_action": [str(token.pk)]},
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert events("accounts.token.revoked")[0].payload["token_id"] == str(token.pk)
    assert site.get("/admin/accounts/apitoken/add/").status_code == 403
    assert site.get(f"/admin/accounts/apitoken/{token.pk}/delete/").status_code == 403
