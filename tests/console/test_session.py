"""The console's session sign-in (``/api/v1/auth/session/``): a cookie scripts cannot read,
CSRF-checked writes, the same lockout and audit trail as the token sign-in (channel ``console``),
and a session that ends on sign-out, on a password change and when the account is deactivated."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.factories import DEFAULT_PASSWORD, UserFactory
from apps.accounts.tests.helpers import assert_error, events
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db

SESSION = "/api/v1/auth/session/"
ME = "/api/v1/me/"
NEW_PASSWORD = "a-new-and-long-passphrase-91"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login throttling lives in the cache: no test may inherit another's failures."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory(username="olga", role=Role.OPERATOR)


@pytest.fixture
def browser():
    """A client that enforces CSRF like a browser's requests meet it."""
    return Client(enforce_csrf_checks=True)


def csrf(client: Client) -> str:
    """The token the console reads from the ``csrftoken`` cookie (set by GET on the session)."""
    if "csrftoken" not in client.cookies:
        assert client.get(SESSION).status_code == 200
    return client.cookies["csrftoken"].value


def sign_in(client: Client, username="olga", password=DEFAULT_PASSWORD, *, token=True):
    headers = {"HTTP_X_CSRFTOKEN": csrf(client)} if token else {}
    return client.post(
        SESSION, {"username": username, "password": password}, content_type="application/json",
        **headers,
    )  # fmt: skip


def assert_no_token_in(response) -> None:
    body = response.content.decode()
    for secret in ("access", "refresh", "token", settings.SESSION_COOKIE_NAME):
        assert f'"{secret}"' not in body, f"{secret!r} in the body: {body}"
    if "sessionid" in response.cookies:
        assert response.cookies["sessionid"].value not in body


def test_the_session_endpoint_sets_the_csrf_cookie_and_says_nobody_is_signed_in(browser):
    response = browser.get(SESSION)
    assert response.status_code == 200 and response.json() == {"authenticated": False}
    assert browser.cookies["csrftoken"].value
    assert browser.cookies["csrftoken"]["samesite"] == "Lax"


def test_sign_in_without_the_csrf_token_is_refused(browser, user):
    csrf(browser)  # the cookie alone is not enough: the header must repeat it
    response = sign_in(browser, token=False)
    assert_error(response, 403)
    assert "sessionid" not in response.cookies
    assert events("accounts.login.succeeded") == []
    # a wrong token as well
    response = browser.post(
        SESSION, {"username": "olga", "password": DEFAULT_PASSWORD},
        content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32,
    )  # fmt: skip
    assert_error(response, 403)


def test_a_wrong_password_answers_401_and_is_audited_with_channel_console(browser, user):
    response = sign_in(browser, password="not the password")
    error = assert_error(response, 401, code="invalid_credentials")
    assert "credentials" in error["message"]
    assert "sessionid" not in response.cookies
    [event] = events("accounts.login.failed")
    assert event.payload["username"] == "olga"
    assert event.payload["reason"] == "wrong_password"
    assert event.payload["channel"] == "console"
    assert browser.get(ME).status_code == 401


def test_after_the_limit_sign_in_is_locked_out_with_retry_after(browser, user):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert sign_in(browser, password="guess").status_code == 401
    # the right password no longer helps while locked out
    response = sign_in(browser)
    assert_error(response, 429)
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    assert "sessionid" not in response.cookies
    locked = [e for e in events("accounts.login.failed") if e.payload["reason"] == "locked_out"]
    assert locked and locked[-1].payload["channel"] == "console"


def test_sign_in_opens_an_httponly_lax_session_and_is_audited(browser, user):
    response = sign_in(browser)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "olga" and response.json()["role"] == "operator"
    cookie = response.cookies["sessionid"]
    assert cookie.value and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert_no_token_in(response)
    [event] = events("accounts.login.succeeded")
    assert event.payload["channel"] == "console" and event.payload["username"] == "olga"
    # the session is the credential from now on
    me = browser.get(ME)
    assert me.status_code == 200 and me.json()["username"] == "olga"
    assert_no_token_in(me)
    assert browser.get(SESSION).json() == {"authenticated": True}


def test_writes_with_the_session_need_the_csrf_token(browser, user):
    assert sign_in(browser).status_code == 200
    change = {"email": "olga@example.com"}
    assert_error(browser.patch(ME, change, content_type="application/json"), 403)
    response = browser.patch(
        ME, change, content_type="application/json", HTTP_X_CSRFTOKEN=csrf(browser)
    )
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "olga@example.com"


def test_sign_out_ends_the_session_and_is_audited(browser, user):
    assert sign_in(browser).status_code == 200
    cookie = browser.cookies["sessionid"].value
    # without the token, sign-out is refused (a forged sign-out)
    assert_error(browser.delete(SESSION), 403)
    assert browser.get(ME).status_code == 200

    response = browser.delete(SESSION, HTTP_X_CSRFTOKEN=csrf(browser))
    assert response.status_code == 204
    [event] = events("accounts.logout")
    assert event.payload["channel"] == "console" and event.payload["username"] == "olga"
    assert browser.get(ME).status_code == 401
    # the old cookie, replayed, opens nothing
    replay = Client()
    replay.cookies["sessionid"] = cookie
    assert_error(replay.get(ME), 401)


def test_a_password_change_ends_the_session(browser, user):
    assert sign_in(browser).status_code == 200
    response = browser.post(
        "/api/v1/me/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        content_type="application/json", HTTP_X_CSRFTOKEN=csrf(browser),
    )  # fmt: skip
    assert response.status_code == 204, response.content
    assert_error(browser.get(ME), 401)
    assert sign_in(browser, password=NEW_PASSWORD).status_code == 200


def test_a_password_changed_elsewhere_ends_the_session(browser, user):
    assert sign_in(browser).status_code == 200
    elsewhere = APIClient()
    elsewhere.force_authenticate(user)
    response = elsewhere.post(
        "/api/v1/me/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json",
    )  # fmt: skip
    assert response.status_code == 204, response.content
    assert_error(browser.get(ME), 401)


def test_deactivating_the_user_ends_the_session(browser, user):
    assert sign_in(browser).status_code == 200
    admin = APIClient()
    admin.force_authenticate(UserFactory(username="root", role=Role.ADMIN))
    response = admin.patch(f"/api/v1/users/{user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    assert_error(browser.get(ME), 401)
    # nor can the account sign in again
    assert_error(sign_in(browser), 401)
