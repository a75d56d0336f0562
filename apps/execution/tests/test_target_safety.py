"""What a run may do to a target and leave on it, through the API on real sshd targets run by
the real Celery worker: upload paths stay where the job's author put them, secrets stay off
the target's process list, refused host keys are announced, restarted hosts are reconnected."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time

import pytest

from apps.execution.tests.conftest import ok, targets_of, wait_run
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _launch(client, job, **body):
    return client.post("/api/v1/runs/", {"job": job["id"], **body}, format="json")


def _output(client, run_id, target) -> str:
    chunks = ok(client.get(f"/api/v1/runs/{run_id}/targets/{target['target_id']}/output/"))
    return "".join(c["text"] for c in chunks["chunks"])


def _upload_job(make_job, directory, name="conf"):
    return make_job(
        [{"name": "write", "kind": "upload", "path": f"{directory}/{{{{ app }}}}.conf",
          "content": "app={{ app }}\n", "os_family": "linux"}],
        name=name,
        parameters=[{"name": "app", "type": "string"}],
        selector="tag:paths",
    )  # fmt: skip


@pytest.mark.parametrize("value", ["../../outside/x", "../escaped", "sub/x", ".."])
def test_an_upload_path_parameter_cannot_leave_its_directory(
    admin_api, make_fleet, make_job, celery_worker, tmp_path, value
):
    make_fleet(1, tag="paths")
    apps_dir = tmp_path / "srv" / "apps"
    apps_dir.mkdir(parents=True)
    job = _upload_job(make_job, apps_dir)

    refused = _launch(admin_api, job, parameters={"app": value})
    assert refused.status_code == 400, refused.content
    fields = refused.json()["error"]["fields"]
    assert list(fields) == ["parameters.app"], fields
    assert "may only fill in a file or directory name" in json.dumps(fields)
    plan = ok(admin_api.post(f"/api/v1/jobs/{job['id']}/validate/",
                             {"parameters": {"app": value}}, format="json"))  # fmt: skip
    assert plan["valid"] is False
    assert "parameters.app" in {p["field"] for p in plan["problems"]}

    # a value that stays inside is uploaded there, for real, and nothing lands outside
    run = ok(_launch(admin_api, job, parameters={"app": "web"}), 201)
    done = wait_run(admin_api, run["id"])
    assert done["status"] == "succeeded", targets_of(admin_api, run["id"])
    assert (apps_dir / "web.conf").read_text() == "app=web\n"
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p) for p in written] == ["srv/apps/web.conf"]


def test_a_path_refused_at_render_time_fails_the_targets_naming_the_parameter(
    admin_api, make_fleet, make_job, celery_worker, tmp_path, monkeypatch
):
    """A run whose values were not checked at launch (made before the check existed) fails in
    the worker, before anything is uploaded, saying why."""
    make_fleet(1, tag="paths")
    apps_dir = tmp_path / "apps"
    apps_dir.mkdir()
    job = _upload_job(make_job, apps_dir, name="old")
    # the launch-time check did not exist yet when the run was made
    monkeypatch.setattr("apps.jobs.selectors.path_problems", lambda definition, values: {})
    run = ok(_launch(admin_api, job, parameters={"app": "../x"}), 201)
    done = wait_run(admin_api, run["id"])
    assert done["status"] == "failed"
    (target,) = targets_of(admin_api, run["id"]).values()
    assert target["status"] == "failed"
    assert target["reason"].startswith("the steps cannot be rendered: step 1 (write), path: ")
    assert "parameter 'app'" in target["reason"]
    assert not (tmp_path / "x.conf").exists() and not list(apps_dir.iterdir())


def test_a_secret_parameter_is_not_on_the_targets_process_list_while_its_step_runs(
    admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(1, tag="ps")
    canary = f"CANARY{secrets.token_hex(10)}"
    tag = f"sleep 2.{secrets.randbelow(10**6):06d}"
    job = make_job(
        [{"name": "use", "kind": "command", "os_family": "linux",
          "command": f"{tag}; printf %s {{{{ token }}}} | wc -c; "
                     "printf %s \"$TOKEN\" | wc -c; exit 3",
          "env": {"TOKEN": "{{ token }}"}}],
        parameters=[{"name": "token", "type": "secret"}],
        selector="tag:ps",
    )  # fmt: skip
    run = ok(_launch(admin_api, job, parameters={"token": canary}), 201)
    listings: list[str] = []
    finished = threading.Event()

    def watch():  # the sshd targets run on this machine: its ps is the target's
        while not finished.is_set():
            listings.append(
                subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            )
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = wait_run(admin_api, run["id"])
    finally:
        finished.set()
        watcher.join()
    running = [listing for listing in listings if tag in listing]
    assert running, "the step was never seen running"
    assert all(canary not in listing for listing in listings)
    (target,) = targets_of(admin_api, run["id"]).values()
    assert done["status"] == "failed" and target["exit_code"] == 3
    assert target["steps"][0]["reason"] == "exit code 3"
    assert _output(admin_api, run["id"], target).split() == [str(len(canary))] * 2


def test_a_host_key_change_met_by_a_run_is_announced_once_and_refused(
    admin_api, make_fleet, make_job, celery_worker, sshd_rekey
):
    targets, (server,) = make_fleet(1, tag="rekey")
    job = make_job([{"name": "s", "kind": "command", "command": "echo ok"}], selector="tag:rekey")
    first = ok(_launch(admin_api, job), 201)
    assert (
        wait_run(admin_api, first["id"])["status"] == "succeeded"
    )  # the key, trusted on first use

    sshd_rekey(server)
    second = ok(_launch(admin_api, job), 201)
    assert wait_run(admin_api, second["id"])["status"] == "failed"
    (target,) = targets_of(admin_api, second["id"]).values()
    assert target["reason"].startswith("host key refused")
    assert target["steps"][0]["status"] in ("pending", "skipped")

    def announced():
        found = ok(admin_api.get(
            "/api/v1/audit/events/?action=targets.host_key.changed_refused"))["results"]  # fmt: skip
        return found or None

    (event,) = wait_for(announced, what="the refusal to reach the audit trail")
    assert targets[0]["id"] in json.dumps(event)
    detail = ok(admin_api.get(f"/api/v1/targets/{targets[0]['id']}/"))
    assert detail["health"]["status"] == "host_key_mismatch"
    keys = ok(admin_api.get(f"/api/v1/targets/{targets[0]['id']}/host-keys/"))
    assert "pending" in json.dumps(keys)

    # a retry meets the same refused key: refused again, not announced twice
    retry = ok(admin_api.post(f"/api/v1/runs/{second['id']}/retry/", {"only": "failed"},
                              format="json"), 201)  # fmt: skip
    assert wait_run(admin_api, retry["id"])["status"] == "failed"
    time.sleep(1)
    assert len(announced()) == 1


def test_a_run_after_the_target_restarted_sshd_reconnects(
    admin_api, make_fleet, make_job, celery_worker, sshd_factory
):
    _targets, (server,) = make_fleet(1, tag="restart")
    job = make_job([{"name": "s", "kind": "command", "command": "echo up"}], selector="tag:restart")
    first = ok(_launch(admin_api, job), 201)
    assert wait_run(admin_api, first["id"])["status"] == "succeeded"
    sshd_factory.restart(server)  # the worker's pooled session is now dead at the host's end
    second = ok(_launch(admin_api, job), 201)
    done = wait_run(admin_api, second["id"])
    (target,) = targets_of(admin_api, second["id"]).values()
    assert done["status"] == "succeeded", target
    assert _output(admin_api, second["id"], target) == "up\n"
