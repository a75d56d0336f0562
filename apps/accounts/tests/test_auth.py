"""Signing in, refreshing and signing out with JWTs."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.accounts.factories import UserFactory
from apps.accounts.tests.helpers import assert_error, assert_no_secret, events

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"


def test_login_gives_tokens_that_work(login, bearer, viewer):
    response = login("vera")

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    me = bearer(tokens["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["username"] == "vera"
    viewer.refresh_from_db()
    assert viewer.last_login is not None


def test_refresh_token_is_not_an_access_token(login, bearer, viewer):
    tokens = login("vera").json()

    assert_error(bearer(tokens["refresh"]).get(ME), 401)


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("vera", "wrong password", "wrong_password"),
        ("nobody", "whatever", "unknown_user"),
    ],
)
def test_wrong_credentials_answer_401_and_publish_the_failure(
    login, viewer, username, password, reason
):
    response = login(username, password)

    error = assert_error(response, 401, code="invalid_credentials")
    assert "credentials" in error["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    [event] = events("accounts.login.failed")
    assert event.payload["username"] == username
    assert event.payload["reason"] == reason
    assert event.payload["user_id"] == (str(viewer.pk) if username == "vera" else None)
    assert event.actor["kind"] == "anonymous"
    assert_no_secret(event, password)


def test_inactive_user_cannot_sign_in(login, password):
    user = UserFactory(username="gone", is_active=False)

    assert_error(login("gone"), 401)
    [event] = events("accounts.login.failed")
    assert event.payload == {
        "username": "gone",
        "user_id": str(user.pk),
        "reason": "inactive_user",
        "channel": "api",
    }
    assert_no_secret(event, password)


def test_missing_fields_are_named(api):
    error = assert_error(api.post(LOGIN, {}), 400, code="validation_error")
    assert set(error["fields"]) == {"username", "password"}


def test_success_is_published_with_the_client_context(login, viewer, password):
    login("vera", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="pytest-agent/1.0")

    [event] = events("accounts.login.succeeded")
    assert event.payload == {"user_id": str(viewer.pk), "username": "vera", "channel": "api"}
    assert event.actor == {"kind": "user", "id": str(viewer.pk), "name": "vera"}
    assert event.context["ip"] == "203.0.113.9"
    assert event.context["user_agent"] == "pytest-agent/1.0"
    assert event.context["request_id"]
    assert_no_secret(event, password)


def test_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(
    login, viewer, settings
):
    settings.LOGIN_FAILURE_LIMIT = 5
    for _ in range(5):
        assert_error(login("vera", "wrong password"), 401)

    response = login("vera")

    assert_error(response, 429, code="throttled")
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    locked = events("accounts.login.failed")[-1]
    assert locked.payload["reason"] == "locked_out"
    assert locked.payload["user_id"] == str(viewer.pk)
    assert not events("accounts.login.succeeded")


def test_lockout_is_per_username(login, viewer, settings):
    UserFactory(username="other")
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        login("vera", "wrong password")

    assert login("vera").status_code == 429
    assert login("other").status_code == 200


def test_lockout_ends_after_the_lockout_period(login, viewer, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 1
    login("vera", "wrong password")
    login("vera", "wrong password")
    assert login("vera").status_code == 429

    time.sleep(1.2)

    assert login("vera").status_code == 200


def test_success_resets_the_username_failure_count(login, viewer, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    login("vera", "wrong password")
    login("vera", "wrong password")
    assert login("vera").status_code == 200

    login("vera", "wrong password")
    login("vera", "wrong password")

    assert login("vera").status_code == 200


def test_one_address_trying_many_usernames_is_locked_out(login, viewer, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_IP_FAILURE_LIMIT = 8
    for n in range(8):
        assert login(f"guess{n}", "x").status_code == 401

    assert login("vera").status_code == 429
    # The same person from another address is fine: the username itself was never locked.
    assert login("vera", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_is_rejected(api, login, bearer, viewer):
    first = login("vera").json()

    response = api.post(REFRESH, {"refresh": first["refresh"]})

    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME).status_code == 200
    assert_error(api.post(REFRESH, {"refresh": first["refresh"]}), 401, code="token_not_valid")
    assert api.post(REFRESH, {"refresh": second["refresh"]}).status_code == 200


def test_refresh_rejects_garbage_and_access_tokens(api, login, viewer):
    tokens = login("vera").json()

    assert_error(api.post(REFRESH, {"refresh": "not-a-token"}), 401)
    assert_error(api.post(REFRESH, {"refresh": tokens["access"]}), 401)
    assert_error(api.post(REFRESH, {}), 400, field="refresh")


def test_refresh_for_a_deactivated_or_deleted_user_is_rejected(api, login, viewer):
    tokens = login("vera").json()
    viewer.is_active = False
    viewer.save()

    assert_error(api.post(REFRESH, {"refresh": tokens["refresh"]}), 401)

    viewer.delete()
    assert_error(api.post(REFRESH, {"refresh": tokens["refresh"]}), 401)


def test_logout_blacklists_the_refresh_token(api, login, bearer, viewer):
    tokens = login("vera").json()
    client = bearer(tokens["access"])

    response = client.post(LOGOUT, {"refresh": tokens["refresh"]})

    assert response.status_code == 204
    assert_error(api.post(REFRESH, {"refresh": tokens["refresh"]}), 401)
    [event] = events("accounts.logout")
    assert event.payload == {"user_id": str(viewer.pk), "username": "vera"}
    assert event.actor["id"] == str(viewer.pk)
    # Signing out twice is harmless and publishes nothing more.
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204
    assert len(events("accounts.logout")) == 1


def test_logout_ends_only_that_session(api, login, bearer, viewer):
    laptop = login("vera").json()
    phone = login("vera").json()

    bearer(laptop["access"]).post(LOGOUT, {"refresh": laptop["refresh"]})

    assert api.post(REFRESH, {"refresh": phone["refresh"]}).status_code == 200


def test_logout_needs_authentication(api, login, viewer):
    tokens = login("vera").json()

    assert_error(api.post(LOGOUT, {"refresh": tokens["refresh"]}), 401)
    assert not BlacklistedToken.objects.exists()


def test_logout_refuses_someone_elses_refresh_token(login, bearer, viewer):
    UserFactory(username="mallory")
    victim = login("vera").json()
    mallory = login("mallory").json()

    response = bearer(mallory["access"]).post(LOGOUT, {"refresh": victim["refresh"]})

    assert_error(response, 400, field="refresh")
    assert not BlacklistedToken.objects.exists()


def test_logout_with_an_invalid_token_names_the_field(login, bearer, viewer):
    tokens = login("vera").json()

    assert_error(bearer(tokens["access"]).post(LOGOUT, {"refresh": "junk"}), 400, field="refresh")


def test_every_session_is_recorded_for_later_revocation(login, viewer):
    login("vera")
    login("vera")

    assert OutstandingToken.objects.filter(user=viewer).count() == 2


def test_access_token_of_a_deactivated_user_stops_working(login, bearer, viewer):
    tokens = login("vera").json()
    viewer.is_active = False
    viewer.save()

    assert_error(bearer(tokens["access"]).get(ME), 401)


def test_anonymous_requests_get_401_with_a_challenge():
    response = APIClient().get(ME)

    assert_error(response, 401, code="not_authenticated")
    assert "WWW-Authenticate" in response


def test_a_password_changed_outside_the_api_ends_refresh_sessions(api, login, viewer):
    """e.g. `manage.py changepassword`: the refresh token must stop working too."""
    tokens = login("vera").json()
    viewer.set_password("an entirely new passphrase")
    viewer.save()

    assert_error(api.post(REFRESH, {"refresh": tokens["refresh"]}), 401)


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_are_all_counted(viewer, settings):
    """Guesses sent at once must not slip past the limit between check and count."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from apps.accounts import services

    settings.LOGIN_FAILURE_LIMIT = 5

    def guess(_):
        try:
            services.auth_login(username="vera", password="wrong", ip="198.51.100.9")
        except services.LoginThrottled:
            return "throttled"
        except services.LoginFailed:
            return "failed"
        finally:
            connections.close_all()
        return "signed in"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(guess, range(30)))
    assert outcomes.count("failed") <= 5
    assert outcomes.count("throttled") >= 25
