"""/api/v1/users/: admins manage users."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from apps.accounts import interface
from apps.accounts.factories import ApiTokenFactory, UserFactory
from apps.accounts.models import ApiToken, User
from apps.accounts.tests.helpers import assert_error, assert_no_secret, events
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users/"
NEW_PASSWORD = "Plenty-of-entropy-42"


def url(user) -> str:
    return f"{USERS}{user.pk}/"


def test_anonymous_gets_401_and_non_admins_403(api, as_user):
    assert_error(api.get(USERS), 401)
    for role in (Role.VIEWER, Role.OPERATOR, Role.MANAGER):
        user = UserFactory(role=role)
        client = as_user(user)
        assert_error(client.get(USERS), 403, code="permission_denied")
        assert_error(client.post(USERS, {"username": "x", "password": NEW_PASSWORD}), 403)
        assert_error(client.get(url(user)), 403)
    assert not User.objects.filter(username="x").exists()


def test_admin_creates_a_user_who_can_then_sign_in(as_user, admin, login):
    response = as_user(admin).post(
        USERS,
        {
            "username": "ops1",
            "password": NEW_PASSWORD,
            "email": "ops1@example.com",
            "first_name": "Olive",
            "last_name": "Ops",
            "role": "operator",
            "is_auditor": True,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "ops1"
    assert body["role"] == "operator"
    assert body["is_auditor"] is True
    assert body["is_active"] is True
    assert "password" not in body
    assert login("ops1", NEW_PASSWORD).status_code == 200

    [event] = events("accounts.user.created")
    assert event.payload["user_id"] == body["id"]
    assert event.payload["role"] == "operator"
    assert event.actor == {"kind": "user", "id": str(admin.pk), "name": "root"}
    assert_no_secret(event, NEW_PASSWORD)


def test_password_is_required_and_validated(as_user, admin):
    client = as_user(admin)

    assert_error(client.post(USERS, {"username": "ops1"}), 400, field="password")
    for username, weak in (
        ("ops1", "short"),
        ("ops1", "12345678901"),
        ("ops1", "password123"),
        ("operator1", "operator1"),
    ):
        error = assert_error(
            client.post(USERS, {"username": username, "password": weak}), 400, field="password"
        )
        assert error["code"] == "validation_error"
    assert not User.objects.filter(username__startswith="op").exists()
    assert not events("accounts.user.created")


def test_other_fields_are_validated_with_the_password(as_user, admin):
    response = as_user(admin).post(
        USERS, {"username": "bad name!", "password": "short", "role": "emperor", "email": "nope"}
    )

    error = assert_error(response, 400)
    assert {"username", "password", "role", "email"} <= set(error["fields"])


def test_usernames_and_emails_are_unique_whatever_their_case(as_user, admin, viewer):
    client = as_user(admin)

    assert_error(
        client.post(USERS, {"username": "VERA", "password": NEW_PASSWORD}), 400, field="username"
    )
    assert_error(
        client.post(
            USERS, {"username": "v2", "password": NEW_PASSWORD, "email": viewer.email.upper()}
        ),
        400,
        field="email",
    )
    other = UserFactory(username="olga")
    assert_error(client.patch(url(other), {"email": viewer.email}), 400, field="email")


def test_password_hashes_are_never_exposed(as_user, admin, viewer):
    client = as_user(admin)

    for response in (client.get(USERS), client.get(url(viewer))):
        text = response.content.decode()
        assert viewer.password not in text
        assert "pbkdf2" not in text and "md5$" not in text
        assert "password" not in text


def test_list_filter_search_and_order(as_user, admin):
    UserFactory(username="alice", email="alice@corp.example", role=Role.OPERATOR)
    UserFactory(username="bob", role=Role.MANAGER, is_active=False)
    UserFactory(username="carol", role=Role.OPERATOR, is_auditor=True)
    client = as_user(admin)

    def names(**params):
        response = client.get(USERS, params)
        assert response.status_code == 200, response.content
        return [u["username"] for u in response.json()["results"]]

    assert names() == ["alice", "bob", "carol", "root"]
    assert names(role="operator") == ["alice", "carol"]
    assert names(is_active="false") == ["bob"]
    assert names(is_auditor="true") == ["carol"]
    assert names(search="corp.example") == ["alice"]
    assert names(search="CAR") == ["carol"]
    assert names(ordering="-username") == ["root", "carol", "bob", "alice"]
    assert_error(client.get(USERS, {"role": "emperor"}), 400, field="role")


def test_update_publishes_the_changes(as_user, admin, viewer):
    response = as_user(admin).patch(url(viewer), {"role": "manager", "first_name": "Veronica"})

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "manager"
    viewer.refresh_from_db()
    assert viewer.role == Role.MANAGER

    [updated] = events("accounts.user.updated")
    assert updated.payload["changes"]["role"] == {"before": "viewer", "after": "manager"}
    assert updated.payload["changes"]["first_name"]["after"] == "Veronica"
    assert updated.payload["password_changed"] is False
    [role_changed] = events("accounts.user.role_changed")
    assert role_changed.payload == {
        "user_id": str(viewer.pk),
        "username": "vera",
        "before": "viewer",
        "after": "manager",
    }


def test_an_update_that_changes_nothing_publishes_nothing(as_user, admin, viewer):
    response = as_user(admin).patch(url(viewer), {"role": "viewer"})

    assert response.status_code == 200
    assert not events("accounts.user.updated")


def test_promotion_to_admin_grants_the_admin_site(as_user, admin, viewer):
    as_user(admin).patch(url(viewer), {"role": "admin"})

    viewer.refresh_from_db()
    assert viewer.is_staff and viewer.is_superuser
    as_user(admin).patch(url(viewer), {"role": "operator"})
    viewer.refresh_from_db()
    assert not viewer.is_staff and not viewer.is_superuser


def test_admin_password_reset_ends_the_users_sessions(as_user, admin, viewer, login, api, password):
    old_session = login("vera").json()

    response = as_user(admin).patch(url(viewer), {"password": NEW_PASSWORD})

    assert response.status_code == 200
    assert_error(api.post("/api/v1/auth/token/refresh/", {"refresh": old_session["refresh"]}), 401)
    assert login("vera", password).status_code == 401
    assert login("vera", NEW_PASSWORD).status_code == 200
    [updated] = events("accounts.user.updated")
    assert updated.payload["password_changed"] is True
    assert updated.payload["changes"] == {}
    [changed] = events("accounts.user.password_changed")
    assert changed.payload["self_service"] is False
    assert changed.payload["sessions_revoked"] == 1
    for event in (updated, changed):
        assert_no_secret(event, NEW_PASSWORD, password)


def test_weak_password_reset_is_rejected(as_user, admin, viewer, login):
    assert_error(as_user(admin).patch(url(viewer), {"password": "vera"}), 400, field="password")
    assert login("vera").status_code == 200


def test_deactivation_ends_sessions_and_sign_in(as_user, admin, viewer, login, api):
    session = login("vera").json()

    as_user(admin).patch(url(viewer), {"is_active": False})

    assert BlacklistedToken.objects.filter(token__user=viewer).count() == 1
    assert_error(api.post("/api/v1/auth/token/refresh/", {"refresh": session["refresh"]}), 401)
    assert_error(login("vera"), 401)


def test_delete_removes_the_user_and_their_tokens(as_user, admin, viewer):
    ApiTokenFactory(user=viewer)

    response = as_user(admin).delete(url(viewer))

    assert response.status_code == 204
    assert not User.objects.filter(pk=viewer.pk).exists()
    assert not ApiToken.objects.exists()
    assert interface.user_summary(viewer.pk) is None
    [event] = events("accounts.user.deleted")
    assert event.payload == {"user_id": str(viewer.pk), "username": "vera", "role": "viewer"}
    assert_error(as_user(admin).get(url(viewer)), 404)


def test_unknown_or_malformed_ids_are_404(as_user, admin):
    client = as_user(admin)

    assert_error(client.get(f"{USERS}00000000-0000-0000-0000-000000000000/"), 404)
    assert_error(client.get(f"{USERS}not-a-uuid/"), 404)


class TestLastAdmin:
    def test_the_last_admin_cannot_demote_deactivate_or_delete_themselves(self, as_user, admin):
        client = as_user(admin)

        for change in ({"role": "manager"}, {"is_active": False}):
            error = assert_error(client.patch(url(admin), change), 409, code="last_admin")
            assert "last active admin" in error["message"]
        assert_error(client.delete(url(admin)), 409, code="last_admin")

        admin.refresh_from_db()
        assert admin.role == Role.ADMIN and admin.is_active
        assert not events("accounts.user.updated")
        assert not events("accounts.user.deleted")

    def test_with_another_active_admin_it_is_allowed(self, as_user, admin):
        other = UserFactory(username="root2", role=Role.ADMIN)

        assert as_user(admin).patch(url(admin), {"role": "manager"}).status_code == 200
        # Now `other` is the last one.
        assert_error(as_user(other).delete(url(other)), 409)

    def test_an_inactive_admin_does_not_count(self, as_user, admin):
        UserFactory(username="sleeping", role=Role.ADMIN, is_active=False)

        assert_error(as_user(admin).patch(url(admin), {"role": "viewer"}), 409)

    def test_other_changes_to_the_last_admin_are_fine(self, as_user, admin):
        response = as_user(admin).patch(url(admin), {"first_name": "Rooty", "is_auditor": True})

        assert response.status_code == 200


def test_typos_and_malformed_filters_are_400s_not_ignored(as_user, admin, viewer):
    client = as_user(admin)
    response = client.patch(f"{USERS}{viewer.pk}/", {"rol": "admin"})
    assert_error(response, 400, field="rol")
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER
    assert_error(client.get(USERS, {"is_active": "maybe"}), 400, field="is_active")
    assert client.get(USERS, {"is_active": "true"}).status_code == 200
