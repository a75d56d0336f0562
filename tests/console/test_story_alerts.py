"""Alerts and the System page in a real browser against the real server and worker: a manager
creates a webhook channel pointing at a real HTTP receiver on loopback, sends it a test notice,
adds an alert rule on a job, launches the job (its step exits 1 on a real sshd target), and the
receiver gets the signed failure notice, which shows in the delivery log with its attempt and
the receiver's answer. The System page shows every dependency ready and the worker. axe in both
themes; the screenshots of docs/console.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid

from playwright.sync_api import expect

from apps.scheduling.tests.test_alerts import Receiver
from tests.console.conftest import PASSWORD, axe_check, browser_test, screenshot, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test
SECRET = "whsec-console-story-9f2c"
TRANSITION_MS = 400


def token(console, user) -> str:
    tokens = console.api(
        "POST", "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    return tokens["access"]


def signed(request: dict, secret: str) -> bool:
    """The receiver's check, as docs/scheduling.md describes it: HMAC-SHA256 under the secret
    of ``<timestamp>.<body>``, hex, after ``sha256=``."""
    headers = request["headers"]
    message = headers["X-OpsConductor-Timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-OpsConductor-Signature"])


def field(scope, label: str):
    return scope.get_by_label(re.compile("^" + re.escape(label) + r"(\s*\*)?$"))


def both_themes(page) -> None:
    """axe in the light theme, then in the dark one (the system's preference), then light."""
    page.wait_for_timeout(TRANSITION_MS)
    axe_check(page)
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    wait_for(
        lambda: page.evaluate("getComputedStyle(document.body).backgroundColor") != light,
        timeout=5, interval=0.1, what="the dark theme",
    )  # fmt: skip
    # (MUI fades a field label's colour over 200 ms: axe judges the colours once it has)
    page.wait_for_timeout(TRANSITION_MS)
    axe_check(page)
    page.emulate_media(color_scheme="light")
    page.wait_for_timeout(TRANSITION_MS)


def test_a_failing_job_alerts_a_webhook_that_was_tested_first_and_the_log_shows_it(
    page, console, make_user, ssh_target
):
    suffix = uuid.uuid4().hex[:6]
    target = ssh_target(f"alert-{suffix}")
    manager = make_user("manager")
    access = token(console, manager)
    job = console.api(
        "POST", "/api/v1/jobs/",
        {"name": f"nightly-backup-{suffix}", "default_selector": f"name={target.name}",
         "steps": [{"name": "backup", "kind": "command",
                    "command": "echo 'backup volume full' >&2; exit 1"}]},
        token=access,
    )  # fmt: skip
    receiver = Receiver()
    try:
        channel_name = f"ops-hook-{suffix}"
        sign_in(page, manager, path="/alerts/channels")
        expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()

        # a webhook channel, through the form
        page.get_by_role("button", name="New channel").click()
        dialog = page.get_by_role("dialog", name="New notification channel")
        field(dialog, "Name").fill(channel_name)
        field(dialog, "URL").fill(receiver.url("/hooks/opsconductor"))
        field(dialog, "Signing secret").fill(SECRET)
        axe_check(page)
        dialog.get_by_role("button", name="Create the channel").click()
        expect(
            page.get_by_role("status").filter(has_text=f"Channel {channel_name} was created")
        ).to_be_visible()
        row = page.get_by_role("row").filter(has_text=channel_name)
        expect(row).to_contain_text(f"http://127.0.0.1:{receiver.port}")
        expect(row).to_contain_text("Set")
        assert SECRET not in page.content()

        # a test notice, through the real delivery path
        row.get_by_role("button", name=f"Send a test notice to {channel_name}").click()
        expect(page.get_by_text(f"The test notice reached {channel_name}")).to_be_visible(
            timeout=15_000
        )
        expect(page.get_by_text('The receiver answered HTTP 200: {"ok":true}')).to_be_visible()
        (test_notice,) = receiver.requests
        assert test_notice["headers"]["X-OpsConductor-Event"] == "test"
        assert signed(test_notice, SECRET)
        assert json.loads(test_notice["body"])["test"] is True
        both_themes(page)
        screenshot(page, "alerts-channels")

        # a rule on the job: every run of it that fails
        page.get_by_role("tab", name="Rules").click()
        expect(page).to_have_url(re.compile(r"/alerts/rules$"))
        page.get_by_role("button", name="New rule").click()
        dialog = page.get_by_role("dialog", name="New alert rule")
        expect(dialog.get_by_role("radio", name="A job (every run of it)")).to_be_checked()
        dialog.get_by_role("combobox", name=re.compile("^Job")).fill(f"nightly-backup-{suffix}")
        page.get_by_role("option", name=f"nightly-backup-{suffix}").click()
        dialog.get_by_role("combobox", name=re.compile("^Channel")).click()
        page.get_by_role("option", name=channel_name).click()
        expect(dialog.get_by_role("checkbox", name=re.compile("^Failed"))).to_be_checked()
        axe_check(page)
        dialog.get_by_role("button", name="Create the rule").click()
        expect(
            page.get_by_role("status").filter(has_text=f"{channel_name} will be told")
        ).to_be_visible()
        rule_row = page.get_by_role("row").filter(has_text=f"nightly-backup-{suffix}")
        expect(rule_row).to_contain_text(channel_name)
        expect(rule_row).to_contain_text("Failed")
        both_themes(page)
        screenshot(page, "alerts-rules")

        # the job runs (launched through the API) and fails on the real target
        run = console.api("POST", "/api/v1/runs/", {"job": job["id"]}, token=access)
        done = wait_for(
            lambda: (r := console.api("GET", f"/api/v1/runs/{run['id']}/", token=access))[
                "status"] in {"succeeded", "failed", "canceled", "timed_out"} and r,
            timeout=60, interval=0.3, what="the run to end",
        )  # fmt: skip
        assert done["status"] == "failed"

        # the webhook receives the signed failure notice
        failure = wait_for(
            lambda: next(
                (r for r in receiver.requests if r["headers"].get("X-OpsConductor-Event") == "failed"),
                None,
            ),
            timeout=60, interval=0.3, what="the failure notice",
        )  # fmt: skip
        assert failure["path"] == "/hooks/opsconductor"
        assert signed(failure, SECRET)
        assert not signed(failure, SECRET + "x")  # (the check can fail)
        notice = json.loads(failure["body"])
        assert notice["event"] == "failed" and notice["status"] == "failed"
        assert notice["run_id"] == run["id"] and notice["job_name"] == f"nightly-backup-{suffix}"
        assert notice["subject"] == f"job:{job['id']}"

        # in the delivery log: delivered on its first attempt, the receiver's answer with it
        page.get_by_role("tab", name="Delivery log").click()
        page.get_by_label("Channel").click()
        page.get_by_role("option", name=channel_name).click()
        expect(page).to_have_url(re.compile(rf"channel={channel_name}"))
        deliveries = page.get_by_role("table", name="Deliveries")
        failed_row = (
            deliveries.get_by_role("row")
            .filter(has_text="Failed")
            .filter(has_text=f"nightly-backup-{suffix}")
        )
        expect(failed_row).to_be_visible(timeout=15_000)
        expect(failed_row).to_contain_text("Delivered")
        expect(failed_row).to_contain_text('HTTP 200: {"ok":true}')
        expect(deliveries.get_by_role("row").filter(has_text="Test notice")).to_be_visible()
        failed_row.get_by_role(
            "button", name=f"Attempts of the Failed notice to {channel_name}"
        ).click()
        attempts = page.get_by_role("table", name=re.compile("^Attempts of delivery"))
        expect(attempts.get_by_role("row")).to_have_count(2)  # the header and one attempt
        expect(attempts).to_contain_text("HTTP 200")
        expect(attempts).to_contain_text("Delivered")
        expect(page.get_by_label("The notification's body")).to_contain_text(run["id"])
        assert SECRET not in page.content()
        both_themes(page)
        page.mouse.move(640, 20)  # (no tooltip in the shot)
        expect(page.get_by_role("tooltip")).to_have_count(0)
        screenshot(page, "alerts-deliveries")
    finally:
        receiver.stop()

    # the System page: every dependency ready, the worker there with its queues
    page.get_by_role("link", name="System").click()
    expect(page.get_by_role("heading", name="System", level=1)).to_be_visible()
    dependencies = page.get_by_role("table", name="Dependencies")
    expect(dependencies).to_be_visible(timeout=15_000)
    rows = dependencies.locator("tbody tr")
    assert rows.count() >= 3
    for index in range(rows.count()):
        expect(rows.nth(index)).to_contain_text("Ready")
    expect(dependencies).to_contain_text("Database (default)")
    expect(dependencies).to_contain_text("Message broker")
    workers = page.get_by_role("table", name="Workers")
    expect(workers.locator("tbody tr")).not_to_have_count(0)
    expect(workers).to_contain_text("execution")
    expect(workers).to_contain_text("scheduling")
    expect(
        page.get_by_role("status").filter(has_text="Everything OpsConductor needs is up")
    ).to_be_visible()
    both_themes(page)
    screenshot(page, "system")


def test_a_viewer_reads_alerts_and_the_system_but_may_not_change_or_test(page, make_user):
    viewer = make_user("viewer")
    sign_in(page, viewer, path="/alerts/channels")
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    new = page.get_by_role("button", name="New channel")
    expect(new).to_be_disabled()
    expect(page.get_by_label(re.compile("^New channel: .*manager role"))).to_be_visible()
    page.get_by_role("tab", name="Rules").click()
    expect(page.get_by_role("button", name="New rule")).to_be_disabled()
    page.get_by_role("tab", name="Delivery log").click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    axe_check(page)
    page.goto("/system")
    expect(page.get_by_role("table", name="Dependencies")).to_be_visible(timeout=15_000)
    axe_check(page)
