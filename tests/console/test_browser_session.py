"""Signing in and out of the console in a real browser, against the real server: wrong password,
lockout, deep links kept across the sign-in, the session ending on sign-out and on a password
change elsewhere, the theme remembered, the shell naming the user and role, no credential in the
page's storage, the Content-Security-Policy obeyed, and axe on the sign-in page and the shell."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.console.conftest import (
    LOGIN_FAILURE_LIMIT,
    PASSWORD,
    axe_check,
    browser_test,
    fill_sign_in,
    screenshot,
    sign_in,
)

pytestmark = browser_test


def storage_of(page) -> dict:
    return page.evaluate(
        """() => ({
            local: Object.fromEntries(Object.entries(localStorage)),
            session: Object.fromEntries(Object.entries(sessionStorage)),
            cookies: document.cookie,
        })"""
    )


def assert_no_credential_in_storage(page) -> None:
    storage = storage_of(page)
    # (the CSRF cookie is meant to be read by the page: it proves nothing by itself)
    text = repr({"local": storage["local"], "session": storage["session"]}).lower()
    for word in ("token", "access", "refresh", "jwt", "bearer", "password", PASSWORD):
        assert word not in text, f"{word!r} in the page's storage: {storage}"
    assert "sessionid" not in storage["cookies"]  # HttpOnly: out of the scripts' reach


def test_sign_in_page_says_a_wrong_password_and_signs_in(page, make_user, console):
    user = make_user("operator", username="olga")
    response = page.goto("/login")
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    expect(page.get_by_role("heading", name="Sign in to OpsConductor")).to_be_visible()
    screenshot(page, "login")
    axe_check(page)

    fill_sign_in(page, "olga", "not-the-password")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Wrong username or password")
    expect(page.get_by_label("Password")).to_have_value("")  # never kept after a failure
    expect(page).to_have_url(f"{console.url}/login")

    fill_sign_in(page, user.username, PASSWORD)
    expect(page.get_by_role("button", name="Account of olga")).to_be_visible()
    expect(page).to_have_url(f"{console.url}/dashboard")  # the console's home
    assert_no_credential_in_storage(page)


def test_lockout_is_shown_with_the_wait(page, make_user):
    make_user("viewer", username="lena")
    page.goto("/login")
    for _ in range(LOGIN_FAILURE_LIMIT):
        fill_sign_in(page, "lena", "guess")
        expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    fill_sign_in(page, "lena", PASSWORD)  # even the right password, while locked out
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-in attempts")
    expect(alert).to_contain_text(f"Try again in {settings.LOGIN_LOCKOUT_SECONDS // 60} min")
    screenshot(page, "login-locked")


def test_a_deep_link_survives_the_sign_in(page, make_user, console):
    user = make_user("manager")
    page.goto("/jobs?x=1")
    page.wait_for_url("**/login?next=**")
    expect(page.get_by_role("heading", name="Sign in to OpsConductor")).to_be_visible()
    fill_sign_in(page, user.username, PASSWORD)
    expect(page.get_by_role("button", name=f"Account of {user.username}")).to_be_visible()
    expect(page).to_have_url(f"{console.url}/jobs?x=1")


def test_the_shell_shows_the_user_and_role_and_passes_axe(page, make_user):
    user = make_user("admin", username="ada")
    sign_in(page, user)
    expect(page.get_by_label("Role: admin")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("ada")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="Credentials")).to_be_visible()  # admins only
    axe_check(page)
    screenshot(page, "shell")
    assert_no_credential_in_storage(page)

    viewer = make_user("viewer", username="vic")
    page.context.clear_cookies()
    sign_in(page, viewer)
    expect(page.get_by_label("Role: viewer")).to_be_visible()
    expect(page.get_by_role("link", name="Credentials")).to_have_count(0)


def test_sign_out_ends_the_session(page, make_user, console):
    user = make_user("operator")
    sign_in(page, user, path="/targets")
    page.get_by_role("button", name=f"Account of {user.username}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_role("heading", name="Sign in to OpsConductor")).to_be_visible()
    # going to a page again asks to sign in; the API refuses the old session too
    page.goto("/targets")
    page.wait_for_url("**/login?next=%2Ftargets")
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.request.get("/api/v1/me/").status == 401


def test_a_password_changed_elsewhere_ends_the_browsers_session(page, make_user, console):
    user = make_user("operator")
    sign_in(page, user, path="/runs")
    assert page.request.get("/api/v1/me/").status == 200
    # the user changes it through the API, with a token (another client, the same server)
    tokens = console.api("POST", "/api/v1/auth/token/",
                         {"username": user.username, "password": PASSWORD})  # fmt: skip
    console.api(
        "POST", "/api/v1/me/password/",
        {"old_password": PASSWORD, "new_password": "another-long-passphrase-23"},
        token=tokens["access"],
    )  # fmt: skip
    # the next request the page makes (here: its next navigation) finds the session gone
    page.goto("/jobs")
    page.wait_for_url("**/login?next=%2Fjobs**")
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    fill_sign_in(page, user.username, "another-long-passphrase-23")
    expect(page).to_have_url(f"{console.url}/jobs")


def test_the_theme_choice_is_remembered_across_a_reload(page, make_user):
    user = make_user("viewer")
    sign_in(page, user)

    def background() -> str:
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    light = background()
    page.get_by_role("button", name=f"Account of {user.username}").click()
    page.get_by_role("button", name="Dark").click()
    expect(page.get_by_role("button", name="Dark")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    dark = background()
    assert dark != light
    page.reload()
    expect(page.get_by_role("button", name=f"Account of {user.username}")).to_be_visible()
    assert background() == dark
    page.get_by_role("button", name=f"Account of {user.username}").click()
    expect(page.get_by_role("button", name="Dark")).to_have_attribute("aria-pressed", "true")
    assert_no_credential_in_storage(page)


@pytest.mark.parametrize("path", ["/", "/targets/abc?x=1"])
def test_console_pages_are_served_under_the_policy(page, path):
    response = page.goto(path)
    assert response.status == 200
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-cache"
    assert any(c["name"] == "csrftoken" for c in page.context.cookies())
