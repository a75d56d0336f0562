"""The run pages in a real browser against the real server and worker, on real sshd targets:
launching on a selector from the launch form, output arriving live, the differing results first,
canceling, retrying the failed targets, what a viewer may not do, hostile output shown as text,
and the live output surviving a dropped stream (the web workers killed mid-run). Targets and jobs are set up through the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid

from playwright.sync_api import expect

from tests.console.conftest import PASSWORD, axe_check, browser_test, screenshot, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test
TERMINAL = {"succeeded", "failed", "canceled", "timed_out"}


def token(console, user) -> str:
    tokens = console.api(
        "POST", "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    return tokens["access"]


def make_job(console, access: str, name: str, command: str, selector: str = "") -> dict:
    return console.api(
        "POST", "/api/v1/jobs/",
        {"name": name, "default_selector": selector,
         "steps": [{"name": "work", "kind": "command", "command": command}]},
        token=access,
    )  # fmt: skip


def launch(console, access: str, job: dict, selector: str) -> dict:
    return console.api("POST", "/api/v1/runs/", {"job": job["id"], "selector": selector},
                       token=access)  # fmt: skip


def wait_run(console, access: str, run_id: str, statuses: set[str], timeout: float = 60) -> dict:
    return wait_for(
        lambda: (r := console.api("GET", f"/api/v1/runs/{run_id}/", token=access))["status"]
        in statuses and r,
        timeout=timeout, interval=0.3, what=f"the run to be {statuses}",
    )  # fmt: skip


def run_id_of(page) -> str:
    match = re.search(r"/runs/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def output_view(page, target: str):
    return page.get_by_role("log", name=f"Output of {target}")


def open_target(page, target: str) -> None:
    page.get_by_role("table", name="Targets of this run").get_by_role("link", name=target).click()
    expect(output_view(page, target)).to_be_visible()


def all_lines(view) -> list[str]:
    """Every text line of an output view (it renders only the rows in sight: scrolled through)."""
    lines = view.evaluate(
        """async (element) => {
            const seen = new Map();
            for (let top = 0; ; top += 200) {
                element.scrollTop = top;
                await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 30)));
                for (const row of element.querySelectorAll('.oc-row')) {
                    const number = row.querySelector('.oc-ln')?.textContent;
                    if (number) seen.set(Number(number), row.querySelector('.oc-text').textContent);
                }
                if (top >= element.scrollHeight) break;
            }
            return [...seen.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
        }"""
    )
    return lines


def prefix(letter: str) -> str:
    return f"{letter}{uuid.uuid4().hex[:5]}"


def test_launch_on_a_selector_follows_the_run_live_failures_first_then_retry_failed(
    page, console, make_user, ssh_target
):
    p = prefix("l")
    for suffix in ("a", "b", "c"):
        ssh_target(f"{p}-{suffix}")
    manager = make_user("manager")
    access = token(console, manager)
    job = make_job(
        console, access, f"count-{p}",
        'for i in 1 2 3 4 5 6 7 8; do echo "line $i on $OPSCONDUCTOR_TARGET"; sleep 0.7; done; '
        'case "$OPSCONDUCTOR_TARGET" in *-c) echo "disk full" >&2; exit 3;; esac',
    )  # fmt: skip
    operator = make_user("operator")
    sign_in(page, operator, path=f"/jobs/{job['id']}/launch")
    expect(page.get_by_role("heading", name=f"Launch count-{p}")).to_be_visible()
    page.get_by_label("Run on (selector)").fill(f"name={p}-*")
    expect(page.get_by_test_id("selector-count")).to_have_text("3 targets selected")
    axe_check(page)
    screenshot(page, "launch")
    page.get_by_role("button", name="Launch", exact=True).click()

    # straight to the live run; the output of a target arrives while it runs
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = run_id_of(page)
    expect(page.get_by_role("heading", name=f"Run of count-{p}")).to_be_visible()
    open_target(page, f"{p}-a")
    view = output_view(page, f"{p}-a")
    expect(view).to_contain_text(f"line 2 on {p}-a", timeout=20_000)
    still = console.api("GET", f"/api/v1/runs/{run_id}/", token=access)
    assert still["status"] == "running", still["status"]  # the line came while it ran
    expect(view).not_to_contain_text("line 8")
    axe_check(page)
    view.scroll_into_view_if_needed()  # (the shot shows the target's output)
    screenshot(page, "run")
    page.get_by_role("heading", name=f"Run of count-{p}").scroll_into_view_if_needed()
    expect(view).to_contain_text(f"line 8 on {p}-a", timeout=30_000)
    assert [line for line in all_lines(view) if line.startswith("line ")] == [
        f"line {n} on {p}-a" for n in range(1, 9)
    ]  # each once, in order

    # finished: the failed target's group first
    expect(page.get_by_role("heading", name=f"Run of count-{p}")).to_be_visible()
    done = wait_run(console, access, run_id, TERMINAL)
    assert done["status"] == "failed"
    groups = page.get_by_role("region", name="Results, the ones that differ first")
    cards = groups.get_by_role("button", name=re.compile("^Show the "))
    # (a and b printed their own names: two groups of one success each)
    expect(cards).to_have_count(3, timeout=15_000)
    expect(cards.first).to_contain_text("Failed")
    expect(cards.first).to_contain_text("exit 3")
    expect(cards.first).to_contain_text(f"{p}-c")
    expect(cards.first).to_contain_text("disk full")
    for index in (1, 2):
        expect(cards.nth(index)).to_contain_text("Succeeded")
    # (once the buttons' colour transitions are over: axe checks what is painted)
    expect(page.get_by_role("button", name="Retry failed (1)")).to_be_enabled()
    page.wait_for_timeout(500)
    axe_check(page)

    # retry the failed: a new run of that target only
    page.get_by_role("button", name="Retry failed (1)").click()
    page.wait_for_url(lambda url: run_id not in url and "/runs/" in url)
    retry_id = run_id_of(page)
    expect(page.get_by_text("1 target ·")).to_be_visible()
    expect(page.get_by_role("link", name="an earlier run")).to_be_visible()
    rows = page.get_by_role("table", name="Targets of this run").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{p}-c")
    retried = console.api("GET", f"/api/v1/runs/{retry_id}/", token=access)
    assert retried["target_count"] == 1 and retried["retry_of"] == run_id


def test_a_long_run_is_canceled_with_the_confirmation_and_every_target_ends_canceled(
    page, console, make_user, ssh_target
):
    p = prefix("c")
    for suffix in ("a", "b"):
        ssh_target(f"{p}-{suffix}")
    manager = make_user("manager")
    access = token(console, manager)
    job = make_job(console, access, f"long-{p}", "echo started; sleep 60; echo never")
    run = launch(console, access, job, f"name={p}-*")
    sign_in(page, make_user("operator"), path=f"/runs/{run['id']}")
    expect(page.get_by_role("heading", name=f"Run of long-{p}")).to_be_visible()
    open_target(page, f"{p}-a")
    expect(output_view(page, f"{p}-a")).to_contain_text("started", timeout=20_000)

    page.get_by_role("button", name="Cancel run").click()
    dialog = page.get_by_role("dialog", name="Cancel this run?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Cancel run").click()
    dialog.get_by_role("button", name="Cancel run").click()

    rows = page.get_by_role("table", name="Targets of this run").locator("tbody tr")
    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index)).to_contain_text("Canceled", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel run")).to_be_disabled()
    assert wait_run(console, access, run["id"], TERMINAL)["status"] == "canceled"


def test_a_viewer_reads_but_may_not_launch_edit_or_see_credentials(
    page, console, make_user, ssh_target
):
    p = prefix("v")
    ssh_target(f"{p}-a")
    access = token(console, make_user("manager"))
    job = make_job(console, access, f"look-{p}", "true", selector=f"name={p}-a")
    viewer = make_user("viewer")
    sign_in(page, viewer, path=f"/jobs/{job['id']}")
    expect(page.get_by_role("heading", name=f"look-{p}")).to_be_visible()
    expect(
        page.get_by_label("Launch: Launching jobs needs the operator role or above.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Launch")).to_be_disabled()
    expect(page.get_by_role("button", name="Edit")).to_be_disabled()
    expect(
        page.get_by_label("Edit: Changing jobs needs the manager role or above.")
    ).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Runs")).to_be_visible()
    expect(nav.get_by_role("link", name="Credentials")).to_have_count(0)

    # the launch form: readable, its button disabled with the reason
    page.goto(f"/jobs/{job['id']}/launch")
    expect(page.get_by_text("Launching jobs needs the operator role or above.")).to_be_visible()
    expect(page.get_by_role("button", name="Launch", exact=True)).to_be_disabled()

    # the credentials page refuses, as a message
    page.goto("/credentials")
    expect(page.get_by_text("Credentials are for admins only.")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Ask an admin")

    # the server is the authority: the viewer's own session is refused a launch
    answer = page.evaluate(
        """async (job) => {
            const csrf = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='))
                .split('=')[1];
            const response = await fetch('/api/v1/runs/', {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                body: JSON.stringify({job}),
            });
            return {status: response.status, body: await response.json()};
        }""",
        job["id"],
    )
    assert answer["status"] == 403, answer
    assert console.api("GET", f"/api/v1/runs/?job={job['id']}", token=access)["count"] == 0


HOSTILE = r"""
printf '<img src=x onerror=alert(1)>\n'
printf '<script>alert(2)</script>\n'
printf '\033[31mred alert\033[0m plain\n'
printf '\033[2J\033[Hafter clear\n'
printf '\033]8;;https://example.com/\033\\a link\033]8;;\033\\ end\n'
printf 'bad \xff\xfe bytes\n'
head -c 2000000 /dev/zero | tr '\0' 'x'; printf '\n'
echo last line
"""


def test_hostile_output_is_shown_as_text_and_the_page_stays_responsive(
    page, console, make_user, ssh_target
):
    p = prefix("h")
    ssh_target(f"{p}-a")
    access = token(console, make_user("manager"))
    job = make_job(console, access, f"hostile-{p}", HOSTILE)
    run = launch(console, access, job, f"name={p}-a")
    wait_run(console, access, run["id"], TERMINAL)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, make_user("operator"), path=f"/runs/{run['id']}")
    open_target(page, f"{p}-a")
    view = output_view(page, f"{p}-a")
    expect(view).to_contain_text("last line", timeout=20_000)
    page.get_by_role("button", name="Wrap long lines").click()  # (wrapped: every line in view)
    view.evaluate("(element) => { element.scrollTop = 0; }")
    expect(view).to_contain_text("<img src=x onerror=alert(1)>")
    expect(view).to_contain_text("<script>alert(2)</script>")
    assert view.locator("img, script, a, iframe").count() == 0
    text = view.inner_text()
    assert "\x1b" not in text and "[31m" not in text and "]8;;" not in text and "[2J" not in text
    expect(view).to_contain_text("after clear")
    expect(view).to_contain_text("a link end")
    expect(view).to_contain_text("bad")
    red = view.get_by_text("red alert", exact=True)
    assert red.evaluate("(e) => e.style.color") != ""
    assert red.evaluate("(e) => getComputedStyle(e).color") != view.get_by_text(
        " plain", exact=False
    ).first.evaluate("(e) => getComputedStyle(e).color")
    # the 2 MB line is shown cut, with a way to see more
    expect(view.get_by_role("button", name=re.compile("Show more of this line"))).to_be_visible()

    # responsive: another control answers at once
    started = time.monotonic()
    page.get_by_role("button", name="Close the target's output").click()
    expect(page.get_by_text("Select a target to see its steps and output.")).to_be_visible(
        timeout=5_000
    )
    assert time.monotonic() - started < 5
    assert dialogs == []


def test_runs_list_passes_axe_and_the_live_output_survives_a_dropped_stream(
    page, console, make_user, ssh_target
):
    p = prefix("s")
    ssh_target(f"{p}-a")
    access = token(console, make_user("manager"))
    job = make_job(
        console, access, f"ticks-{p}",
        'for i in $(seq 1 40); do echo "tick $i"; sleep 0.4; done',
    )  # fmt: skip
    quick = make_job(console, access, f"quick-{p}", "true")
    launch(console, access, quick, f"name={p}-a")
    sign_in(page, make_user("operator"), path="/runs")
    expect(page.get_by_role("link", name=f"quick-{p}")).to_be_visible()
    axe_check(page)
    screenshot(page, "runs")

    # a second run, followed live; its stream drops for a while (the browser goes offline)
    run = launch(console, access, job, f"name={p}-a")
    page.goto(f"/runs/{run['id']}")
    open_target(page, f"{p}-a")
    view = output_view(page, f"{p}-a")
    expect(view).to_contain_text("tick 3", timeout=20_000)
    # (an offline browser keeps an open stream in chromium: the web workers are killed instead,
    # as a crash would; gunicorn starts new ones and the page resumes after its last event)
    streams: list[str] = []
    page.on("request", lambda request: "/stream/" in request.url and streams.append(request.url))
    workers = subprocess.run(
        ["pgrep", "-P", str(console.web.process.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert workers
    assert console.api("GET", f"/api/v1/runs/{run['id']}/", token=access)["status"] == "running"
    for pid in workers:
        os.kill(int(pid), signal.SIGKILL)
    expect(view).to_contain_text("tick 40", timeout=40_000)
    seen = [line for line in all_lines(view) if line.startswith("tick ")]
    assert seen == [f"tick {n}" for n in range(1, 41)], seen
    assert streams, "the stream was not opened again after the drop"
