"""The audit pages in a real browser against the real server and worker: an auditor (a viewer
with the auditor capability) finds another user's run launch and an admin's credential change by
their filters, reads the change as a diff (no secret anywhere), exports both (the downloaded
files hold those records), reads the compliance report; an admin runs the chain's verification;
a plain viewer is refused with the server's message and has no Audit entry. The run and the
credential change are made through the API, as other clients would."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.console.conftest import PASSWORD, axe_check, browser_test, screenshot, settled, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test
CANARY = f"canary-secret-{uuid.uuid4().hex[:8]}"


def token(console, user) -> str:
    tokens = console.api(
        "POST", "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    return tokens["access"]


def audit_record(console, access: str, **filters) -> dict:
    """The newest audit record matching ``filters``, once the worker has recorded it."""
    query = urllib.parse.urlencode(filters)
    return wait_for(
        lambda: (console.api("GET", f"/api/v1/audit/events/?{query}", token=access)["results"]
                 or [None])[0],
        timeout=30, interval=0.3, what=f"the audit record of {filters}",
    )  # fmt: skip


def filter_field(page, label: str):
    return page.get_by_role("search", name="Filter the audit trail").get_by_label(label, exact=True)


def records_table(page):
    return page.get_by_role("table", name="Audit records")


def dark(page) -> None:
    """The system's dark theme (the console follows it unless told otherwise)."""
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    wait_for(
        lambda: page.evaluate("getComputedStyle(document.body).backgroundColor") != light,
        timeout=5, interval=0.1, what="the dark theme",
    )  # fmt: skip
    settled(page)  # the labels' colours fade after the background's


def test_an_auditor_finds_a_launch_and_a_credential_change_reads_the_diff_and_exports_them(
    page, console, make_user, ssh_target
):
    p = f"a{uuid.uuid4().hex[:5]}"
    ssh_target(f"{p}-web")
    manager, operator, admin = make_user("manager"), make_user("operator"), make_user("admin")
    job = console.api(
        "POST", "/api/v1/jobs/",
        {"name": f"patch-{p}", "steps": [{"name": "work", "kind": "command", "command": "true"}]},
        token=token(console, manager),
    )  # fmt: skip
    run = console.api(
        "POST", "/api/v1/runs/", {"job": job["id"], "selector": f"name={p}-web"},
        token=token(console, operator),
    )  # fmt: skip
    admin_access = token(console, admin)
    credential = console.api(
        "POST", "/api/v1/credentials/",
        {"name": f"db-{p}", "kind": "password", "username": "deploy", "password": "first-secret-1"},
        token=admin_access,
    )  # fmt: skip
    console.api(
        "PATCH", f"/api/v1/credentials/{credential['id']}/",
        {"username": "deployer", "password": CANARY}, token=admin_access,
    )  # fmt: skip
    launch = audit_record(
        console, admin_access, action="execution.run.requested", object_id=run["id"]
    )
    change = audit_record(
        console, admin_access, action="targets.credential.updated", object_id=credential["id"]
    )
    assert CANARY not in json.dumps(change)  # (the server's side of it)

    auditor = make_user("viewer", is_auditor=True)
    sign_in(page, auditor, path="/runs")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Chain verification")).to_be_visible()
    # an auditor reads; running the verification is for admins
    expect(page.get_by_role("button", name="Verify now")).to_be_disabled()

    # the run's launch: by its action and object
    filter_field(page, "Action").fill("execution.run.requested")
    filter_field(page, "Object id").fill(run["id"])
    expect(page).to_have_url(re.compile(r"action=execution\.run\.requested"))
    expect(page).to_have_url(re.compile(f"object_id={run['id']}"))
    rows = records_table(page).locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(operator.username)
    expect(rows.first).to_contain_text("success")
    axe_check(page)
    screenshot(page, "audit")

    # ... exported as JSON Lines: exactly that record
    page.get_by_role("button", name="Export").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="These records as JSON Lines").click()
    lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [line["id"] for line in lines] == [launch["id"]]
    assert lines[0]["actor_name"] == operator.username
    assert download.value.suggested_filename.endswith(".jsonl")

    # ... and its detail: who, what, the request, its place in the chain
    rows.first.get_by_role("link", name="execution.run.requested").click()
    expect(page.get_by_role("heading", name="execution.run.requested")).to_be_visible()
    facts = page.get_by_role("table", name="What happened")
    expect(facts).to_contain_text(operator.username)
    expect(facts).to_contain_text(f"patch-{p}")
    expect(page.get_by_role("table", name="Chain")).to_contain_text(launch["hash"])
    page.get_by_role("button", name="Back to the records").click()
    expect(rows).to_have_count(1)  # the filters kept
    expect(filter_field(page, "Object id")).to_have_value(run["id"])

    # the credential change: by its action and the credential (the link from the URL alone)
    page.goto(
        "/audit?" + urllib.parse.urlencode(
            {"action_prefix": "targets.credential.", "object_id": credential["id"]}
        )
    )  # fmt: skip
    expect(page.get_by_role("button", name="Fewer filters")).to_be_visible()  # shown: one is set
    expect(rows).to_have_count(3)  # created, updated, rotated
    filter_field(page, "Action").fill("targets.credential.updated")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(admin.username)

    # ... exported as CSV: that record, no secret
    page.get_by_role("button", name="Export").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="These records as CSV").click()
    text = Path(download.value.path()).read_text()
    assert CANARY not in text and "first-secret-1" not in text
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in exported] == [change["id"]]
    assert json.loads(exported[0]["changes"])["username"] == {"from": "deploy", "to": "deployer"}

    # ... the change as a diff, the secret nowhere on the page
    rows.first.get_by_role("link", name="targets.credential.updated").click()
    expect(page.get_by_role("heading", name="targets.credential.updated")).to_be_visible()
    diff = page.get_by_role("table", name="Changes")
    username = diff.get_by_role("row", name="username changed")
    expect(username.get_by_role("cell").nth(1)).to_have_text("\N{MINUS SIGN}deploy")
    expect(username.get_by_role("cell").nth(2)).to_have_text("+deployer")
    assert CANARY not in page.content() and "first-secret-1" not in page.content()
    axe_check(page)
    screenshot(page, "audit-record")
    dark(page)
    axe_check(page)

    # the compliance report of the last 24 hours: the run and the credential change
    page.goto("/audit/report")
    expect(page.get_by_role("button", name="Last 24 hours")).to_have_attribute(
        "aria-pressed", "true"
    )
    runs = page.get_by_role("table", name="Runs in the period")
    expect(runs.get_by_role("row").filter(has_text=f"patch-{p}")).to_contain_text(operator.username)
    changes = page.get_by_role("table", name="Access changes in the period")
    updated = (
        changes.get_by_role("row")
        .filter(has_text="targets.credential.updated")
        .filter(has_text=f"db-{p}")
    )
    expect(updated).to_contain_text("username")
    axe_check(page)
    page.emulate_media(color_scheme="light")
    expect(runs).to_be_visible()
    axe_check(page)
    screenshot(page, "audit-report")


def test_an_admin_runs_the_chain_verification_and_sees_it_pass(page, console, make_user):
    admin = make_user("admin")
    sign_in(page, admin, path="/audit")
    card = page.get_by_role("region", name="Chain verification")
    expect(card).to_be_visible()
    page.get_by_role("button", name="Verify now").click()
    # queued for the worker, then its result (the card follows it)
    expect(card).to_contain_text("Chain verified: intact", timeout=30_000)
    expect(card).to_contain_text(f"by {admin.username}")
    expect(card).to_contain_text(re.compile(r"\d+ records checked"))
    axe_check(page)
    dark(page)
    axe_check(page)
    # the verification is itself in the trail
    page.goto("/audit?action=audit.verification.finished")
    expect(records_table(page).locator("tbody tr").first).to_contain_text("passed", timeout=15_000)


def test_a_plain_viewer_has_no_audit_entry_and_is_refused_with_the_reason(page, console, make_user):
    viewer = make_user("viewer")
    sign_in(page, viewer, path="/runs")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Runs")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    page.goto("/audit")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Not allowed")
    expect(alert).to_contain_text("Reading the audit trail needs the auditor capability.")
    expect(page.get_by_role("button", name="Export")).to_have_count(0)
    expect(records_table(page)).to_have_count(0)
    axe_check(page)
    page.goto("/audit/report")
    expect(page.get_by_role("alert")).to_contain_text("auditor capability")
