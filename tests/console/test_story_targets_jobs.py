"""Two stories a user walks through in the console, in a real browser against the real server,
worker and sshd: targets (create three through the form, approve a scanned host key, a health
check turning healthy, the list and its selector box) and jobs (a two-step job with a secret and
a choice parameter: a field error at its field, saved, planned with the secret masked); then axe
on every targets and jobs page, with the screenshots of docs/console.md."""

from __future__ import annotations

import contextlib
import re
import uuid

from playwright.sync_api import expect

from tests.console.conftest import axe_check, browser_test, screenshot, sign_in

pytestmark = browser_test

SECRET = "hunter2-s3cr3t-value"


def field(scope, label: str):
    """The input labelled ``label`` (a required field's label ends with " *")."""
    return scope.get_by_label(re.compile("^" + re.escape(label) + r"(\s*\*)?$"))


def command_of(scope, step: int):
    """The command field of step ``step`` (1-based) in the job editor."""
    region = scope.get_by_role("region", name=re.compile(f"^Step {step}"))
    return region.get_by_role("textbox", name="Command")


def ssh_credential(sshd) -> str:
    """A credential holding the sshd's client key (an admin created it); its name."""
    from apps.targets.tests.test_health import make_credential

    return make_credential(username=sshd.username, private_key=sshd.client_key_text).name


def create_target(page, *, name: str, tag: str, port: int, credential: str) -> str:
    """Fill the create form as a user would; returns the new target's id (its page is open)."""
    page.goto("/targets/new")
    field(page, "Name").fill(name)
    tags = field(page, "Tags")
    tags.fill(tag)
    tags.press("Enter")
    # (a new Linux target starts with one SSH method)
    field(page, "Method 1 address (host name or IP)").fill("127.0.0.1")
    field(page, "Method 1 port").fill(str(port))
    field(page, "Method 1 credential").fill(credential)
    page.get_by_role("button", name="Create target").click()
    page.wait_for_url(re.compile(r"/targets/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def test_story_targets_created_key_approved_and_healthy(page, make_user, sshd, console):
    admin = make_user("admin")
    credential = ssh_credential(sshd)
    tag = f"story-{uuid.uuid4().hex[:6]}"
    sign_in(page, admin, path="/targets")
    names = [f"{tag}-web-{n}" for n in (1, 2, 3)]
    for target_name in names:
        create_target(page, name=target_name, tag=tag, port=sshd.port, credential=credential)

    # the third target's page: nothing checked yet, no key seen; a scan records it as pending
    keys = page.get_by_role("region", name="Host keys")
    expect(keys).to_contain_text("No host key seen yet")
    keys.get_by_role("button", name="Scan host key").click()
    expect(keys.get_by_role("alert")).to_contain_text("recorded, waiting for approval")
    row = keys.get_by_role("row").filter(has_text=sshd.host_key_algorithm)
    expect(row).to_contain_text("Pending approval")
    row.get_by_role("button", name="Approve").click()
    dialog = page.get_by_role("dialog", name="Trust this host key?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Trust the key").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Trusted")

    page.get_by_role("button", name="Check health now").click()
    result = page.get_by_role("alert").filter(has_text="Health check:")
    expect(result).to_contain_text("Healthy", timeout=30_000)
    # the header says it too once the target is read again (icon + text), and the details
    main = page.get_by_role("main")
    expect(main.locator('[data-health="unknown"]')).to_have_count(0)
    header_status = main.locator('[data-health="healthy"]').first
    expect(header_status).to_have_text("Healthy")
    expect(header_status.locator("svg")).to_have_count(1)
    expect(main.get_by_text("Last check says")).to_be_visible()
    screenshot(page, "target")

    # the list: the three, the checked one healthy, the others not checked yet
    page.goto(f"/targets?selector={f'tag:{tag}'}")
    table = page.get_by_role("table", name="Targets")
    for name in names:
        expect(table.get_by_role("row").filter(has_text=name)).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text=names[2])).to_contain_text("Healthy")
    expect(table.get_by_role("row").filter(has_text=names[0])).to_contain_text("Not checked")
    expect(page.get_by_test_id("selector-count")).to_have_text("3 targets selected")
    screenshot(page, "targets")

    # the selector box counts live as the user types, and points at a mistake
    selector = field(page, "Selector")
    selector.fill(f"tag:{tag} and name={names[0]}")
    expect(page.get_by_test_id("selector-count")).to_have_text("1 target selected")
    bad = f"tag:{tag} and (name={names[0]}"
    selector.fill(bad)
    problem = page.get_by_role("alert").filter(has_text="Invalid selector")
    expect(problem).to_be_visible()
    position = int(
        problem.get_by_role("button", name=re.compile(r"Go to position \d+"))
        .inner_text()
        .split()[-1]
    )
    assert position == len(bad)  # the missing ")" is at the end of the text
    # under the text, a caret at that very position
    pointer = page.get_by_test_id("selector-error-pointer").inner_text().split("\n")
    assert pointer == [bad, " " * len(bad) + "^"]


def job_with_two_steps(page, name: str, *, second_command: str) -> None:
    page.goto("/jobs/new")
    form = page.get_by_role("form", name="New job")
    form.get_by_role("textbox", name="Name").first.fill(name)
    form.get_by_role("button", name="Add parameter").click()
    first = form.get_by_role("region", name="Parameter 1")
    field(first, "Name").fill("token")
    first.get_by_role("combobox", name=re.compile("^Type")).click()
    page.get_by_role("option", name="Secret").click()
    first.get_by_label("Set a new default").check()
    field(first, "New default").fill(SECRET)
    form.get_by_role("button", name="Add parameter").click()
    second = form.get_by_role("region", name="Parameter 2")
    field(second, "Name").fill("mode")
    second.get_by_role("combobox", name=re.compile("^Type")).click()
    page.get_by_role("option", name="Choice").click()
    field(second, "Choices").fill("fast\nsafe")
    second.get_by_role("combobox", name=re.compile("^Default")).click()
    page.get_by_role("option", name="safe").click()
    # (a new job starts with one command step)
    command_of(form, 1).fill("echo mode={{ mode }}")
    form.get_by_role("button", name="Add command step").click()
    command_of(form, 2).fill(second_command)


def test_story_job_written_fixed_saved_and_planned_with_the_secret_masked(
    page, make_user, ssh_target
):
    manager = make_user("manager")
    target = ssh_target(f"plan-{uuid.uuid4().hex[:6]}")
    responses = []
    page.on("response", lambda response: responses.append(response))
    sign_in(page, manager, path="/jobs")
    name = f"rotate-{uuid.uuid4().hex[:6]}"
    job_with_two_steps(page, name, second_command="deploy --token {{ tokn }}")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "job-editor")
    page.get_by_role("button", name="Create job").last.click()

    # the bad reference is shown at the step's command field, not only at the top
    command = command_of(page, 2)
    expect(command).to_have_attribute("aria-invalid", "true")
    described = command.get_attribute("aria-describedby")
    assert described
    message = page.locator(f"[id='{described.split()[0]}']")
    expect(message).to_contain_text("tokn")
    expect(command_of(page, 1)).to_have_attribute("aria-invalid", "false")

    # fixed and saved (a secret typed before a refused submit may have been cleared: typed again)
    command.fill("deploy --token {{ token }}")
    secret_field = field(page.get_by_role("region", name="Parameter 1"), "New default")
    if secret_field.input_value() == "":
        secret_field.fill(SECRET)
    page.get_by_role("button", name="Create job").last.click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()

    plan = page.get_by_role("form", name="Plan a run")
    field(plan, "Target selector").fill(f"name={target.name}")
    plan.get_by_role("button", name="Show the plan").click()
    expect(plan.get_by_text("would start on 1 target")).to_be_visible()
    first = plan.get_by_label("Rendered command of step 1")
    second = plan.get_by_label("Rendered command of step 2")
    expect(first).to_have_text("echo mode='safe'")  # the choice's default, quoted
    expect(second).to_contain_text("deploy --token")
    expect(second).to_contain_text("********")
    expect(plan.get_by_text("Checking the selector")).to_have_count(0)
    second.scroll_into_view_if_needed()
    screenshot(page, "job")

    # the secret never reached the page: not in its text, not in any response it received
    assert SECRET not in page.inner_text("body")
    page.wait_for_load_state("networkidle")
    bodies = []
    for response in responses:
        with contextlib.suppress(Exception):  # redirects and bodies a navigation dropped
            bodies.append(response.text())
    assert len(bodies) > 10
    assert [b for b in bodies if SECRET in b] == []


def test_targets_and_jobs_pages_pass_axe(page, make_user, ssh_target, console):
    admin = make_user("admin")
    target = ssh_target(f"axe-{uuid.uuid4().hex[:6]}")
    sign_in(page, admin, path="/targets")

    def check(path: str, heading: str | re.Pattern, *, shot: str | None = None) -> None:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.get_by_role("progressbar")).to_have_count(0)
        axe_check(page)
        if shot:
            screenshot(page, shot)

    check("/targets", "Targets")
    check(f"/targets/{target.id}", target.name)
    check("/targets/new", "New target", shot="target-form")
    check("/targets/import", "Import targets")
    check("/groups", "Groups")
    check("/credentials", "Credentials")
    check("/jobs", "Jobs")
    check("/jobs/new", "New job")

    page.goto("/jobs/new")
    form = page.get_by_role("form", name="New job")
    form.get_by_role("textbox", name="Name").first.fill(f"axe-job-{uuid.uuid4().hex[:4]}")
    # (a new job starts with one command step)
    command_of(form, 1).fill("uptime")
    page.get_by_role("button", name="Create job").last.click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    job_url = page.url.removeprefix(console.url)
    check(job_url, re.compile("axe-job-"))
    check(f"{job_url}/edit", re.compile("^Edit axe-job-"))
    command_of(page, 1).fill("uptime -p")
    field(page, "Change message").fill("Pretty uptime")
    page.get_by_role("button", name="Save as a new version").last.click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    check(f"{job_url}/versions", re.compile("^Versions of axe-job-"), shot="job-versions")
    check("/jobs", "Jobs", shot="jobs")
