"""The schedules pages in a real browser against the real server and worker, with a real Celery
beat sending the scheduler's tick (as production runs it): a manager schedules a job from its
page in Europe/Berlin and the preview shows the March DST rule before anything is saved; then a
schedule due a few seconds later fires on a real sshd target, its firing shows in the history
linked to its run, and the link opens the run. axe-core on the list, the editor and a schedule
in both themes. Jobs and targets are set up through the API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.console.conftest import PASSWORD, axe_check, browser_test, screenshot, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test
BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "sched-secret-6b1f"


@pytest.fixture
def beat(console, tmp_path):
    """A real ``celery beat`` on the console's queues: it sends the scheduler's tick
    (``apps.scheduling.tasks.fire_due``, every second) to the console's worker, which fires what
    is due. (The console fixture has a worker but no beat: nothing would fire.)"""
    from tests.reliability.workers import Workers

    workers = Workers(tmp_path, console.web.env["CELERY_QUEUE_PREFIX"])
    # the queues are declared as the console's web process and worker declare them
    process = workers.start_beat(
        "schedules", CELERY_QUEUE_EXPIRES_SECONDS="600", REDIS_URL=console.redis_url
    )
    yield process
    process.stop()  # (only this beat: the console's queues stay for the other tests)


def last_sunday_of_march_after(today: date) -> date:
    year = today.year if today < date(today.year, 3, 25) else today.year + 1
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def token(console, user) -> str:
    tokens = console.api(
        "POST", "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    return tokens["access"]


def pick_zone(page, zone: str) -> None:
    box = page.get_by_role("combobox", name="Time zone")
    box.fill(zone)
    page.get_by_role("option", name=zone, exact=True).click()
    expect(box).to_have_value(zone)


def check_both_themes(page, shot: str | None = None, *, show=None) -> None:
    """axe in the light and the dark theme; the screenshot (light) with ``show`` in sight."""
    expect(page.get_by_role("progressbar")).to_have_count(0)
    axe_check(page)
    if shot:
        (show or page.get_by_role("heading", level=1)).scroll_into_view_if_needed()
        screenshot(page, shot)
    switch_theme(page, "dark")  # the console follows the system's theme
    try:
        axe_check(page)
    finally:
        switch_theme(page, "light")


def switch_theme(page, scheme: str) -> None:
    """The system's theme changed; once the page shows it, its colour transitions are over."""
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme=scheme)
    page.wait_for_function(
        "(before) => getComputedStyle(document.body).backgroundColor !== before", arg=background
    )
    page.wait_for_timeout(500)  # (MUI's labels and borders fade to the new colours)


def test_story_a_berlin_schedule_previews_the_dst_rule_then_fires_and_links_its_run(
    page, make_user, ssh_target, console, beat
):
    p = f"sch-{uuid.uuid4().hex[:6]}"
    manager = make_user("manager")
    target = ssh_target(f"{p}-web")
    access = token(console, manager)
    job = console.api(
        "POST", "/api/v1/jobs/",
        {"name": f"{p}-backup", "default_selector": f"name={target.name}",
         "parameters": [
             {"name": "greeting", "type": "string", "default": "hello"},
             {"name": "token", "type": "secret", "required": True},
         ],
         "steps": [{"name": "work", "kind": "command",
                    "command": "echo {{ greeting }} from the schedule; test -n {{ token }}"}]},
        token=access,
    )  # fmt: skip
    sign_in(page, manager, path="/schedules")
    expect(page.get_by_role("heading", name="Schedules", level=1)).to_be_visible()
    expect(page.get_by_text("No schedules yet")).to_be_visible()

    # from the job's page, "Schedule this job" opens the editor for it
    page.goto(f"/jobs/{job['id']}")
    page.get_by_role("link", name="Schedule this job").click()
    page.wait_for_url(re.compile(r"/schedules/new\?job="))
    expect(page.get_by_role("heading", name="New schedule", level=1)).to_be_visible()
    expect(page.get_by_role("combobox", name="Job")).to_have_text(f"{p}-backup")

    # 02:30 every day in Berlin, starting two days before the clocks go forward
    sunday = last_sunday_of_march_after(datetime.now(BERLIN).date())
    page.get_by_role("textbox", name="Name", exact=True).fill(f"{p}-nightly")
    page.get_by_label("Cron expression").fill("30 2 * * *")
    pick_zone(page, "Europe/Berlin")
    start = sunday - timedelta(days=2)
    page.get_by_label("Start (Europe/Berlin, optional)").fill(f"{start.isoformat()}T00:00")
    page.get_by_label("token", exact=True).fill(SECRET)

    preview = page.get_by_role("list", name="Next firings")
    rule = (
        f"02:30 does not exist on {sunday.isoformat()} in Europe/Berlin (clocks go forward): "
        "fires at 03:00 CEST"
    )
    expect(preview.get_by_text(rule)).to_be_visible(timeout=15_000)
    # each fire time in the schedule's zone and in the viewer's (UTC here)
    expect(preview.get_by_role("listitem").nth(0)).to_contain_text("02:30 CET")
    expect(preview.get_by_role("listitem").nth(2)).to_contain_text("03:00 CEST")
    expect(preview.get_by_role("listitem").nth(2)).to_contain_text(
        re.compile(r"01:00:00\W*AM\W*UTC")
    )
    expect(preview.get_by_role("listitem").nth(3)).to_contain_text("02:30 CEST")
    expect(preview.get_by_text("Clocks go forward", exact=True)).to_be_visible()
    check_both_themes(page, "schedule-editor")

    # a wrong cron expression: the server's reason at the field, nothing saved
    page.get_by_label("Cron expression").fill("30 25 * * *")
    page.get_by_role("button", name="Create schedule").click()
    cron = page.get_by_role("textbox", name="Cron expression")
    expect(cron).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#" + cron.get_attribute("aria-describedby"))).to_have_text(
        "hour field '25': 25 is out of range 0-23"
    )
    assert page.url.endswith(f"/schedules/new?job={job['id']}")
    page.get_by_label("Cron expression").fill("30 2 * * *")
    page.get_by_label("token", exact=True).fill(
        SECRET
    )  # (a secret is dropped from the page once sent)
    page.get_by_role("button", name="Create schedule").click()
    page.wait_for_url(re.compile(r"/schedules/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=f"{p}-nightly", level=1)).to_be_visible()
    next_list = page.get_by_role("list", name="Next firings of this schedule")
    expect(next_list.get_by_role("listitem").first).to_contain_text("Europe/Berlin")
    expect(page.get_by_text("stored secret (hidden)")).to_be_visible()
    assert SECRET not in page.content()

    # a schedule due in a few seconds on the real sshd target; the beat's tick fires it
    page.goto(f"/schedules/new?job={job['id']}")
    page.get_by_role("textbox", name="Name", exact=True).fill(f"{p}-soon")
    page.get_by_role("radio", name="Once").check()
    pick_zone(page, "Europe/Berlin")
    due = datetime.now(BERLIN).replace(microsecond=0) + timedelta(seconds=25)
    page.get_by_label("Run at (Europe/Berlin)").fill(due.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("token", exact=True).fill(SECRET)
    expect(page.get_by_role("list", name="Next firings").get_by_role("listitem")).to_have_count(1)
    page.get_by_role("button", name="Create schedule").click()
    page.wait_for_url(re.compile(r"/schedules/[0-9a-f-]{36}$"))
    schedule_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_text("Nothing has fired yet")).to_be_visible()

    history = page.get_by_role("table", name="Firing history")
    run_link = history.get_by_role("link", name=re.compile("^Run of"))
    expect(run_link).to_be_visible(timeout=90_000)  # the history refreshes by itself
    expect(history.get_by_text("Fired", exact=True)).to_be_visible()
    firing = console.api("GET", f"/api/v1/schedules/{schedule_id}/firings/", token=access)
    (fired,) = firing["results"]
    assert fired["outcome"] == "fired" and fired["run_id"]
    wait_for(
        lambda: console.api("GET", f"/api/v1/runs/{fired['run_id']}/", token=access)["status"]
        == "succeeded",
        timeout=60, interval=0.5, what="the scheduled run to succeed",
    )  # fmt: skip
    expect(history.get_by_text("Succeeded")).to_be_visible(timeout=15_000)
    # the schedule follows its firings: counted, finished, nothing left to fire
    expect(page.get_by_text("fired 1 time", exact=False)).to_be_visible()
    expect(page.get_by_text("Nothing left to fire.")).to_be_visible()
    check_both_themes(page, "schedule", show=history)

    run_link.click()
    page.wait_for_url(f"**/runs/{fired['run_id']}")
    expect(page.get_by_text("Succeeded").first).to_be_visible()

    # the list: both, each next firing in Berlin and in the viewer's zone, the last outcome
    page.goto("/schedules")
    table = page.get_by_role("table", name="Schedules")
    nightly = table.get_by_role("row").filter(has_text=f"{p}-nightly")
    expect(nightly).to_contain_text("Europe/Berlin")
    expect(nightly).to_contain_text("your time")
    expect(nightly).to_contain_text("not yet")
    soon = table.get_by_role("row").filter(has_text=f"{p}-soon")
    expect(soon).to_contain_text("Fired")
    expect(soon).to_contain_text("Finished")
    page.get_by_role("combobox", name="State").click()
    page.get_by_role("option", name="Paused", exact=True).click()
    expect(page).to_have_url(re.compile(r"enabled=false"))
    expect(page.get_by_text("No schedule matches these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(nightly).to_be_visible()
    check_both_themes(page, "schedules")

    # pause and resume (what it would fire stays in sight), then delete, confirmed
    nightly.get_by_role("link", name=f"{p}-nightly").click()
    expect(page.get_by_role("heading", name=f"{p}-nightly", level=1)).to_be_visible()
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(
        page.get_by_text("Paused: these are the times it would fire once resumed.")
    ).to_be_visible()
    expect(page.get_by_text("Nothing has fired yet, and the schedule is paused")).to_be_visible()
    nightly_id = page.url.rsplit("/", 1)[1]
    assert console.api("GET", f"/api/v1/schedules/{nightly_id}/", token=access)["enabled"] is False
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    assert console.api("GET", f"/api/v1/schedules/{nightly_id}/", token=access)["enabled"] is True
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Delete {p}-nightly?")
    expect(dialog).to_contain_text("The runs it started stay.")
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/schedules$"))
    expect(table.get_by_role("row").filter(has_text=f"{p}-soon")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text=f"{p}-nightly")).to_have_count(0)


def test_a_viewer_reads_schedules_and_every_change_is_refused_with_the_reason(
    page, make_user, ssh_target, console
):
    p = f"sch-{uuid.uuid4().hex[:6]}"
    manager, viewer = make_user("manager"), make_user("viewer")
    target = ssh_target(f"{p}-web")
    access = token(console, manager)
    job = console.api(
        "POST", "/api/v1/jobs/",
        {"name": f"{p}-job", "default_selector": f"name={target.name}",
         "steps": [{"name": "work", "kind": "command", "command": "true"}]},
        token=access,
    )  # fmt: skip
    schedule = console.api(
        "POST", "/api/v1/schedules/",
        {"name": f"{p}-weekly", "job": job["id"], "kind": "calendar", "frequency": "weekly",
         "days_of_week": ["MON", "FRI"], "time_of_day": "09:30", "timezone": "America/New_York"},
        token=access,
    )  # fmt: skip
    sign_in(page, viewer, path=f"/schedules/{schedule['id']}")
    expect(page.get_by_role("heading", name=f"{p}-weekly", level=1)).to_be_visible()
    expect(page.get_by_text("every week on MON, FRI at 09:30 in America/New_York")).to_be_visible()
    for name in ("Pause", "Edit", "Delete"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(
        page.get_by_label("Pause: Changing schedules needs the manager role or above.")
    ).to_be_visible()
    # the server stays the authority: the editor opened by its address says so, and saving is off
    page.goto(f"/schedules/{schedule['id']}/edit")
    expect(page.get_by_text("Changing schedules needs the manager role or above.")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
