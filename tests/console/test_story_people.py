"""People, My account, and the keyboard, in a real browser against the real server: a user's
API token shown once, used with curl and revoked; an admin creating a user, resetting their
password and deactivating them; the shortcut sheet, `g j`, and the command palette opening a
target found by name. axe on every new page and dialog in both themes, with the screenshots of
docs/console.md."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import uuid

import pytest
from playwright.sync_api import expect

from tests.console.conftest import (
    PASSWORD,
    axe_check,
    browser_test,
    fill_sign_in,
    screenshot,
    settled,
    sign_in,
)

pytestmark = browser_test


def axe_both_themes(page) -> None:
    """axe on the page as it is, in the light theme and in the dark one (the console follows
    the system's scheme unless told otherwise)."""
    settled(page)
    axe_check(page)
    page.emulate_media(color_scheme="dark")
    try:
        expect(page.locator("body")).to_have_css("background-color", "rgb(18, 18, 18)")
        settled(page)
        axe_check(page)
    finally:
        page.emulate_media(color_scheme="light")
    expect(page.locator("body")).to_have_css("background-color", "rgb(255, 255, 255)")
    settled(page)


def curl_me(console, value: str) -> tuple[int, dict | None]:
    """GET /api/v1/me/ with an API token, as a script would (curl, another process)."""
    result = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", "-H", f"Authorization: Token {value}",
         f"{console.url}/api/v1/me/"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, status = result.stdout.rpartition("\n")
    return int(status), (json.loads(body) if body else None)


def test_story_a_token_is_shown_once_used_with_curl_and_revoked(page, make_user, console):
    user = make_user("operator")
    sign_in(page, user, path="/runs")
    # My account is in the account menu
    page.get_by_role("button", name=f"Account of {user.username}").click()
    page.get_by_role("menuitem", name="My account").click()
    expect(page).to_have_url(f"{console.url}/account")
    tokens = page.get_by_role("region", name="API tokens")
    expect(tokens).to_contain_text("You have no active API tokens")
    axe_both_themes(page)
    screenshot(page, "account")

    name = f"backup-{uuid.uuid4().hex[:4]}"
    tokens.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="New API token")
    dialog.get_by_label("Name").fill(name)
    axe_both_themes(page)
    dialog.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("dialog", name=f"Token {name} created")
    expect(shown).to_contain_text("shown only this once")
    value = shown.get_by_label("Token", exact=True).input_value()
    assert re.fullmatch(r"oct_[0-9a-f]{12}_\S+", value), value
    axe_both_themes(page)
    screenshot(page, "account-token")

    # closed, the value is gone: not on the page, not in a new dialog
    shown.get_by_role("button", name="Done, I have copied it").click()
    expect(shown).to_be_hidden()
    row = tokens.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Active")
    assert value not in page.content()
    tokens.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="New API token")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Token", exact=True)).to_have_count(0)
    assert value not in page.content()
    dialog.get_by_role("button", name="Cancel").click()

    # a script uses it: the API answers as the user
    status, me = curl_me(console, value)
    assert status == 200, me
    assert me["username"] == user.username
    page.reload()
    row = page.get_by_role("region", name="API tokens").get_by_role("row").filter(has_text=name)
    last_used = row.get_by_role("cell").nth(3)
    expect(last_used).not_to_have_text("never")

    row.get_by_role("button", name=f"Revoke {name}").click()
    confirm = page.get_by_role("dialog", name=f"Revoke the token {name}?")
    axe_both_themes(page)
    confirm.get_by_role("button", name="Revoke").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_text(f"The token {name} was revoked.")).to_be_visible()
    expect(
        page.get_by_role("region", name="API tokens").get_by_role("row").filter(has_text=name)
    ).to_have_count(0)
    status, body = curl_me(console, value)
    assert status == 401, body


NEW_PASSWORD = re.compile(r"^New password(\s*\*)?$")


def test_my_password_change_ends_this_session_and_says_so(page, make_user, console):
    user = make_user("viewer")
    sign_in(page, user, path="/account")
    form = page.get_by_role("form", name="Change password")
    form.get_by_label("Current password").fill("not-my-password")
    form.get_by_label(NEW_PASSWORD).fill("a-brand-new-passphrase-42")
    form.get_by_label("New password again").fill("a-brand-new-passphrase-42")
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_label("Current password")).to_have_accessible_description(
        "Your old password is not correct."
    )
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label(NEW_PASSWORD).fill("a-brand-new-passphrase-42")
    form.get_by_label("New password again").fill("a-brand-new-passphrase-42")
    form.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/login?next=%2Faccount**")
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    fill_sign_in(page, user.username, "a-brand-new-passphrase-42")
    expect(page).to_have_url(f"{console.url}/account")


def sign_in_fails(console, username: str, password: str) -> int:
    try:
        console.api("POST", "/api/v1/auth/token/", {"username": username, "password": password})
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_story_an_admin_creates_a_user_resets_their_password_and_deactivates_them(
    page, make_user, console
):
    admin = make_user("admin")
    make_user("viewer", username=f"someone-else-{uuid.uuid4().hex[:4]}")
    sign_in(page, admin, path="/people")
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=f"{admin.username} (you)")).to_be_visible()
    username = f"dana-{uuid.uuid4().hex[:6]}"

    page.get_by_role("button", name="New user").click()
    dialog = page.get_by_role("dialog", name="New user")
    dialog.get_by_label("Username").fill(username)
    dialog.get_by_label("First name").fill("Dana")
    dialog.get_by_role("combobox", name="Role").click()
    page.get_by_role("option", name="operator").click()
    dialog.get_by_label(re.compile("^Auditor")).check()
    axe_both_themes(page)
    screenshot(page, "people-new-user")
    dialog.get_by_role("button", name="Create user").click()
    done = page.get_by_role("dialog", name="User created")
    expect(done).to_contain_text(f"{username} can now sign in as operator")
    first_password = done.get_by_label("Password", exact=True).input_value()
    assert len(first_password) >= 20
    axe_both_themes(page)
    done.get_by_role("button", name="Done").click()
    assert sign_in_fails(console, username, first_password) == 200

    # the filters are in the URL
    page.get_by_label("Search name or email").fill(username)
    expect(page).to_have_url(re.compile(rf"search={username}"))
    page.get_by_role("combobox", name="Role").click()
    page.get_by_role("option", name="operator").click()
    expect(page).to_have_url(re.compile(r"role=operator"))
    row = page.get_by_role("row").filter(has_text=username)
    expect(row).to_contain_text("auditor")
    expect(row).to_contain_text("Active")
    expect(page.get_by_role("row").filter(has_text="someone-else")).to_have_count(0)

    row.get_by_role("button", name=f"Actions for {username}").click()
    page.get_by_role("menuitem", name="Reset password").click()
    reset = page.get_by_role("dialog", name=f"Reset the password of {username}?")
    axe_both_themes(page)
    reset.get_by_role("button", name="Reset password").click()
    reset_done = page.get_by_role("dialog", name="Password reset")
    expect(reset_done).to_contain_text("every session they had is ended")
    second_password = reset_done.get_by_label("Password", exact=True).input_value()
    assert second_password != first_password
    reset_done.get_by_role("button", name="Done").click()
    assert sign_in_fails(console, username, first_password) == 401
    assert sign_in_fails(console, username, second_password) == 200

    row.get_by_role("button", name=f"Actions for {username}").click()
    page.get_by_role("menuitem", name="Deactivate").click()
    confirm = page.get_by_role("dialog", name=f"Deactivate {username}?")
    axe_both_themes(page)
    confirm.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text(f"{username} was deactivated.")).to_be_visible()
    expect(row).to_contain_text("Deactivated")
    page.get_by_role("button", name="Clear filters").click()
    axe_both_themes(page)
    screenshot(page, "people")

    # the deactivated user can no longer sign in to the console
    page.get_by_role("button", name=f"Account of {admin.username}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/login**")
    fill_sign_in(page, username, second_password)
    expect(page.get_by_role("alert")).to_contain_text("the account is deactivated")


def test_people_is_for_admins_and_the_server_agrees(page, make_user, console):
    manager = make_user("manager")
    sign_in(page, manager, path="/people")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="People")
    ).to_have_count(0)
    expect(page.get_by_text("Managing users and their roles is for admins only.")).to_be_visible()
    assert page.request.get("/api/v1/users/").status == 403


@pytest.fixture
def target(ssh_target):
    return ssh_target(f"palette-{uuid.uuid4().hex[:6]}")


def test_story_shortcuts_and_the_palette(page, make_user, console, target):
    user = make_user("viewer")
    sign_in(page, user, path="/runs")

    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(sheet).to_contain_text("Go to Jobs")
    axe_both_themes(page)
    screenshot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    page.keyboard.press("g")
    page.keyboard.press("j")
    expect(page).to_have_url(f"{console.url}/jobs")
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    # / focuses the page's search, where g t is only text
    page.keyboard.press("/")
    search = page.get_by_label("Search name or description")
    expect(search).to_be_focused()
    page.keyboard.type("gt")
    expect(search).to_have_value("gt")
    expect(page).to_have_url(re.compile(r"/jobs"))

    # the palette: Ctrl+K, a few letters of the target's name, Enter
    page.keyboard.press("Control+k")  # (from the search field too: it is no text)
    palette = page.get_by_role("dialog", name="Jump to")
    box = palette.get_by_role("combobox", name="Name to jump to")
    expect(box).to_be_focused()
    box.fill(target.name[:12])
    option = palette.get_by_role("option", name=re.compile(target.name))
    expect(option).to_have_attribute("aria-selected", "true")
    axe_both_themes(page)
    screenshot(page, "palette")
    box.press("Enter")
    expect(page).to_have_url(f"{console.url}/targets/{target.id}")
    expect(page.get_by_role("heading", name=target.name, level=1)).to_be_visible()

    # turned off in My account: ? and g j do nothing (the palette stays)
    page.goto("/account")
    switch = page.get_by_role("switch", name="Single-key shortcuts")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.locator("h1").click()
    page.keyboard.press("?")
    page.keyboard.press("g")
    page.keyboard.press("j")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(f"{console.url}/account")
    page.reload()
    expect(page.get_by_role("switch", name="Single-key shortcuts")).not_to_be_checked()
    page.keyboard.press("Control+k")
    expect(page.get_by_role("dialog", name="Jump to")).to_be_visible()
