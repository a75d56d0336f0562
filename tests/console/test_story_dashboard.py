"""The dashboard and the migration progress page in a real browser against the real server and
worker: a failed run and a running one (started through the API on a real sshd target) show on
the dashboard, whose numbers open the lists they count, filtered; an admin flips a bridge prefix
(confirmed) and the flip is in the audit trail; a manager has no migration page."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.console.conftest import PASSWORD, axe_check, browser_test, screenshot, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test


def token(console, user) -> str:
    tokens = console.api(
        "POST", "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    return tokens["access"]


def wait_status(console, access: str, run_id: str, statuses: set[str]) -> dict:
    return wait_for(
        lambda: (r := console.api("GET", f"/api/v1/runs/{run_id}/", token=access))["status"]
        in statuses and r,
        timeout=60, interval=0.3, what=f"the run to be {statuses}",
    )  # fmt: skip


def both_themes_accessible(page) -> None:
    axe_check(page)
    page.emulate_media(color_scheme="dark")  # the console follows the system by default
    expect(page.locator("body")).to_have_css("background-color", re.compile(r"rgb\((\d|[1-5]\d),"))
    axe_check(page)
    page.emulate_media(color_scheme="light")


def test_the_dashboard_shows_a_failed_and_a_running_run_and_its_numbers_open_the_lists(
    page, console, make_user, ssh_target
):
    p = f"d{uuid.uuid4().hex[:5]}"
    ssh_target(f"{p}-web")
    manager, operator = make_user("manager"), make_user("operator")
    access = token(console, manager)
    steps = {"broken": "echo nope >&2; exit 3", "slow": "sleep 60"}
    jobs = {}
    for kind, command in steps.items():
        body = {
            "name": f"{kind}-{p}",
            "default_selector": f"name={p}-web",
            "steps": [{"name": "work", "kind": "command", "command": command}],
        }
        jobs[kind] = console.api("POST", "/api/v1/jobs/", body, token=access)
    launcher = token(console, operator)
    failed = console.api("POST", "/api/v1/runs/", {"job": jobs["broken"]["id"]}, token=launcher)
    running = console.api("POST", "/api/v1/runs/", {"job": jobs["slow"]["id"]}, token=launcher)
    wait_status(console, launcher, failed["id"], {"failed"})
    wait_status(console, launcher, running["id"], {"running"})

    try:
        # signing in lands on the dashboard: the console's home
        sign_in(page, make_user("viewer"))
        expect(page).to_have_url(f"{console.url}/dashboard")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        chart = page.get_by_role("img", name=re.compile(r"Runs per hour\..* 1 failed.* 1 running"))
        expect(chart).to_be_visible()
        going = page.get_by_role("list", name="Runs going on now")
        expect(going.get_by_role("link", name=f"slow-{p} v1")).to_be_visible()
        expect(
            going.get_by_role("progressbar", name=f"slow-{p}: 0 of 1 targets done")
        ).to_be_visible()
        expect(page.get_by_role("link", name="1 running now")).to_be_visible()
        health = page.get_by_role("list", name="Targets by health")
        # the runs connected to the target: its health follows
        expect(health.get_by_role("link", name="1 healthy")).to_be_visible(timeout=25_000)
        screenshot(page, "dashboard")
        both_themes_accessible(page)

        # the failed count opens the runs list filtered as the count was made
        page.get_by_role("list", name="Runs by outcome").get_by_role(
            "link", name="1 failed"
        ).click()
        page.wait_for_url("**/runs?**")
        query = parse_qs(urlparse(page.url).query)
        assert query["status"] == ["failed"] and query["created_after"], page.url
        expect(page.get_by_role("link", name=f"broken-{p}").first).to_be_visible()
        expect(page.get_by_role("link", name=f"slow-{p}")).to_have_count(0)

        # a health count opens the targets list filtered by that health
        page.go_back()
        page.get_by_role("list", name="Targets by health").get_by_role(
            "link", name="1 healthy"
        ).click()
        page.wait_for_url("**/targets?health_status=healthy")
        expect(page.get_by_role("table", name="Targets")).to_contain_text(f"{p}-web")
        expect(page.get_by_role("region", name="Active filters")).to_contain_text("Health: Healthy")

        # the running run ends: the dashboard follows by itself (it polls)
        page.go_back()
        console.api("POST", f"/api/v1/runs/{running['id']}/cancel/", token=launcher)
        expect(page.get_by_role("link", name="0 running now")).to_be_visible(timeout=20_000)
    finally:
        console.api("POST", f"/api/v1/runs/{running['id']}/cancel/", token=launcher)


def test_an_admin_flips_a_bridge_prefix_confirmed_and_finds_it_in_the_audit_trail(
    page, console, make_user
):
    admin = make_user("admin")
    access = token(console, admin)
    route = console.api(
        "POST", "/api/v1/bridge/routes/", {"prefix": "/api/v3/jobs", "mode": "proxy"}, token=access
    )
    sign_in(page, admin, path="/migration")
    expect(page.get_by_role("heading", name="Migration progress")).to_be_visible()
    expect(page.get_by_role("heading", name="Still on the old system")).to_be_visible()
    table = page.get_by_role("table", name="Route table")
    row = table.locator('tr[data-prefix="/api/v3/jobs"]')
    expect(row).to_contain_text("Proxy")
    expect(row).to_contain_text("legacy-jobs")  # the adapter that can answer this prefix
    screenshot(page, "migration")
    both_themes_accessible(page)

    row.get_by_role("button", name="Change the mode of /api/v3/jobs").click()
    dialog = page.get_by_role("dialog", name="Change the mode of /api/v3/jobs")
    dialog.get_by_role("radio", name=re.compile("^Migrated")).check()
    expect(dialog.get_by_role("combobox", name="Adapter")).to_contain_text("legacy-jobs")
    dialog.get_by_role("button", name="Review").click()
    expect(dialog).to_contain_text("/api/v3/jobs: proxy → migrated.")
    expect(dialog).to_contain_text("through the adapter legacy-jobs")
    expect(dialog).to_contain_text("recorded in the audit trail")
    axe_check(page)
    screenshot(page, "migration-flip")
    dialog.get_by_role("button", name="Flip to migrated").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Migrated")

    # the server made it so, and audited who did it
    assert console.api("GET", f"/api/v1/bridge/routes/{route['id']}/", token=access)["mode"] == (
        "migrated"
    )
    records = wait_for(
        lambda: console.api(
            "GET", "/api/v1/audit/events/?action=legacy_bridge.route.changed", token=access
        )["results"],
        timeout=30, interval=0.5, what="the flip in the audit trail",
    )  # fmt: skip
    [record] = records
    assert record["actor"]["name"] == admin.username
    assert record["object"]["name"] == "/api/v3/jobs"
    assert "migrated" in str(record["changes"]) and "proxy" in str(record["changes"])


def test_a_manager_has_no_migration_page(page, console, make_user):
    sign_in(page, make_user("manager"))
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(navigation.get_by_role("link", name="Migration")).to_have_count(0)
    page.goto("/migration")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Not allowed")
    expect(alert).to_contain_text("Only admins change the bridge's routes")
    expect(page.get_by_role("table", name="Route table")).to_have_count(0)
