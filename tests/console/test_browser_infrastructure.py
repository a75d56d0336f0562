"""The browser tests' own ground: the session's server and worker execute a run for real on a
real sshd target, and a browser signed in through the console reads it with its session alone."""

from __future__ import annotations

from tests.console.conftest import PASSWORD, browser_test, sign_in
from tests.fixtures import wait_for

pytestmark = browser_test


def test_a_run_launched_on_the_server_executes_on_the_worker_and_the_browser_sees_it(
    page, console, make_user, ssh_target
):
    target = ssh_target("web-1")
    operator = make_user("manager", username="mona")
    access = console.api("POST", "/api/v1/auth/token/", {"username": "mona", "password": PASSWORD})[
        "access"
    ]
    job = console.api(
        "POST", "/api/v1/jobs/",
        {"name": "hello", "default_selector": f"name={target.name}",
         "steps": [{"name": "say", "kind": "command", "command": "echo hello from $(hostname)"}]},
        token=access,
    )  # fmt: skip
    run = console.api("POST", "/api/v1/runs/", {"job": job["id"]}, token=access)
    done = wait_for(
        lambda: (r := console.api("GET", f"/api/v1/runs/{run['id']}/", token=access))["status"]
        in {"succeeded", "failed", "canceled", "timed_out"} and r,
        timeout=60, interval=0.5, what="the run to end on the console's worker",
    )  # fmt: skip
    assert done["status"] == "succeeded", (done, console.worker.output()[-3000:])

    sign_in(page, operator)
    seen = page.request.get(f"/api/v1/runs/{run['id']}/")  # the browser's session cookie only
    assert seen.status == 200 and seen.json()["status"] == "succeeded"
    assert "authorization" not in {k.lower() for k in seen.headers}
