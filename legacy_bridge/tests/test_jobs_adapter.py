"""The jobs area through the legacy UI's calls: our roles (a viewer writes nothing, an operator
runs and stops, a manager edits), our validation in the legacy 422 shape, audit events with the
signed-in user, and a job started through J5 that really runs on an sshd target, its results
read back through J8, J10 and J11."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from legacy_bridge.tests.legacy_fixture import PASSWORD, seed
from legacy_bridge.tests.test_route_auth import set_routes
from opsconductor.events.models import OutboxEvent
from tests.fixtures import wait_for

AREAS = ("auth", "users", "targets", "jobs")
NEW_JOB = {
    "name": "nightly uptime",
    "description": "from the legacy UI",
    "actions": [
        {
            "id": "a1",
            "type": "command",
            "name": "uptime",
            "order": 1,
            "action_order": 1,
            "action_type": "command",
            "action_name": "uptime",
            "action_parameters": {"command": "uptime", "captureOutput": True},
        }
    ],
    "target_ids": [1, 2],
    "scheduled_at": None,
}


def _ui(client):
    fixture = seed()
    set_routes(
        {f"/api/v3/{area}": {"mode": "migrated", "adapter": f"legacy-{area}"} for area in AREAS}
    )

    def headers(username: str, password: str = PASSWORD) -> dict:
        answer = client.post(
            "/api/v3/auth/login",
            {"username": username, "password": password},
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    headers.fixture = fixture
    return headers


@pytest.fixture
def ui(client, db):
    return _ui(client)


def send(client, method, path, body, headers):
    return client.generic(
        method,
        path,
        "" if body is None else json.dumps(body),
        "application/json",
        headers=headers,
    )


def events(kind: str, alias: str):
    return list(OutboxEvent.objects.using(alias).filter(event_type=kind))


@pytest.mark.django_db(databases="__all__")
def test_a_viewer_reads_jobs_but_every_write_is_refused(client, ui):
    guest = ui("lguest")
    listed = client.get("/api/v3/jobs/", headers=guest)
    assert listed.status_code == 200
    assert [job["id"] for job in listed.json()] == [1, 2]
    assert client.get("/api/v3/jobs/1", headers=guest).json()["targets"][0] == {
        "id": 1,
        "name": "legacy-web-1",
    }
    assert client.get("/api/v3/jobs/1/executions", headers=guest).status_code == 200
    assert client.get("/api/v3/jobs/safety/health", headers=guest).json()["success"] is True
    for method, path in (
        ("POST", "/api/v3/jobs/"),
        ("PUT", "/api/v3/jobs/1"),
        ("DELETE", "/api/v3/jobs/1"),
        ("POST", "/api/v3/jobs/1/execute"),
        ("POST", "/api/v3/jobs/1/schedule"),
        ("POST", "/api/v3/jobs/1/terminate"),
        ("POST", "/api/v3/jobs/safety/cleanup-stale"),
    ):
        response = send(client, method, path, {}, guest)
        assert response.status_code == 403, (method, path, response.content)
        assert set(response.json()) == {"detail", "request_id", "error"}
    assert OutboxEvent.objects.filter(event_type="accounts.permission.denied").count() == 7
    # an operator runs jobs, but does not edit them
    operator = ui("loperator")
    assert send(client, "POST", "/api/v3/jobs/", NEW_JOB, operator).status_code == 403
    assert send(client, "DELETE", "/api/v3/jobs/2", None, operator).status_code == 403
    assert (
        send(client, "POST", "/api/v3/jobs/safety/cleanup-stale", None, operator).status_code == 403
    )
    started = send(client, "POST", "/api/v3/jobs/1/execute", {"target_ids": None}, operator)
    assert started.status_code == 200, started.content
    assert started.json()["execution_number"] == 2  # the imported execution keeps number 1
    assert client.get("/api/v3/jobs/1", headers=guest).json()["name"] == "legacy whoami"


@pytest.mark.django_db(databases="__all__")
def test_a_manager_creates_edits_and_deletes_a_job_audited_as_the_manager(client, ui):
    manager = ui("lmanager")
    created = send(client, "POST", "/api/v3/jobs/", NEW_JOB, manager)
    assert created.status_code == 200, created.content
    job = created.json()
    assert job["id"] >= settings.LEGACY_ID_FLOOR
    assert (job["name"], job["status"], job["last_execution"]) == ("nightly uptime", "draft", None)
    event = events("jobs.job.created", "jobs")[0]
    assert (event.actor["kind"], event.actor["name"]) == ("user", "lmanager")
    shown = client.get(f"/api/v3/jobs/{job['id']}", headers=manager).json()
    assert shown["actions"] == [
        {
            "id": 1,
            "action_order": 1,
            "action_name": "uptime",
            "action_type": "command",
            "action_parameters": {"command": "uptime", "captureOutput": True},
        }
    ]
    assert client.get(f"/api/v3/jobs/{job['id']}/targets", headers=manager).json() == {
        "target_ids": [1, 2]
    }
    # an edit replaces the steps and the targets: a new version of the job
    edited = {
        **NEW_JOB,
        "name": "nightly uptime (edited)",
        "target_ids": [3],
        "actions": [
            {**NEW_JOB["actions"][0], "action_parameters": {"command": "echo {{ not a param }}"}},
            {"action_type": "script", "action_name": "py", "action_order": 2,
             "action_parameters": {"script": "print(1)", "interpreter": "python"}},
        ],
    }  # fmt: skip
    changed = send(client, "PUT", f"/api/v3/jobs/{job['id']}", edited, manager)
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["targets"] == [{"id": 3, "name": "legacy-web-3"}]
    # the legacy text is kept literally (no template of ours), and comes back as it was sent
    assert body["actions"][0]["action_parameters"]["command"] == "echo {{ not a param }}"
    assert body["actions"][1]["action_type"] == "script"
    updated = events("jobs.job.updated", "jobs")[0]
    assert updated.actor["name"] == "lmanager" and updated.payload["version"] == 2
    # never run, no schedule: deleted for good
    gone = send(client, "DELETE", f"/api/v3/jobs/{job['id']}", None, manager)
    assert gone.status_code == 200 and gone.json() == {"message": "Job deleted successfully"}
    assert events("jobs.job.deleted", "jobs")[0].actor["name"] == "lmanager"
    assert client.get(f"/api/v3/jobs/{job['id']}", headers=manager).status_code == 404
    # a job with history is archived instead (its runs stay readable in the new console),
    # its schedules paused; the legacy UI sees it gone
    assert send(client, "DELETE", "/api/v3/jobs/1", None, manager).status_code == 200
    assert events("jobs.job.archived", "jobs")[0].actor["name"] == "lmanager"
    assert len(events("scheduling.schedule.paused", "scheduling")) == 2  # the third was paused
    assert [j["id"] for j in client.get("/api/v3/jobs/", headers=manager).json()] == [2]
    assert client.get("/api/v3/jobs/1", headers=manager).json()["detail"] == "Job not found"
    assert send(client, "DELETE", "/api/v3/jobs/1", None, manager).status_code == 404


@pytest.mark.django_db(databases="__all__")
def test_invalid_jobs_are_the_legacy_422_naming_what_the_ui_sent(client, ui):
    admin = ui("ladmin")

    def refused(body, path="/api/v3/jobs/", method="POST"):
        response = send(client, method, path, body, admin)
        assert response.status_code == 422, response.content
        return [item["loc"] for item in response.json()["detail"]]

    assert refused({**NEW_JOB, "actions": []}) == [["body", "actions"]]
    assert refused({**NEW_JOB, "target_ids": []}) == [["body", "target_ids"]]
    assert refused({**NEW_JOB, "name": ""}) == [["body", "name"]]
    assert refused({"description": "x"}) == [
        ["body", "name"],
        ["body", "actions"],
        ["body", "target_ids"],
    ]
    assert refused({**NEW_JOB, "target_ids": [1, 999]}) == [["body", "target_ids", 1]]
    assert refused({**NEW_JOB, "target_ids": [6, "x"]}) == [["body", "target_ids", 1]]
    no_command = {**NEW_JOB["actions"][0], "action_parameters": {"captureOutput": True}}
    assert refused({**NEW_JOB, "actions": [no_command]}) == [
        ["body", "actions", 0, "action_parameters", "command"]
    ]
    transfer = {**NEW_JOB["actions"][0], "action_type": "file_transfer"}
    assert refused({**NEW_JOB, "actions": [transfer]}) == [["body", "actions", 0, "action_type"]]
    # our rule: job names are unique
    assert refused({**NEW_JOB, "name": "legacy whoami"}) == [["body", "name"]]
    assert refused({**NEW_JOB, "scheduled_at": "2020-01-01T00:00:00Z"}) == [
        ["body", "scheduled_at"]
    ]
    assert refused({**NEW_JOB, "scheduled_at": "soon"}) == [["body", "scheduled_at"]]
    broken = client.generic("PUT", "/api/v3/jobs/1", "{oops", "application/json", headers=admin)
    assert [item["loc"] for item in broken.json()["detail"]] == [["body", 0]]
    assert refused({}, path="/api/v3/jobs/1/schedule") == [["body", "scheduled_at"]]
    assert refused({"target_ids": "all"}, path="/api/v3/jobs/1/execute") == [["body", "target_ids"]]
    assert client.get("/api/v3/jobs/abc", headers=admin).status_code == 422
    assert events("jobs.job.created", "jobs") == []
    assert send(client, "PUT", "/api/v3/jobs/999", NEW_JOB, admin).status_code == 404
    assert send(client, "POST", "/api/v3/jobs/999/execute", None, admin).status_code == 404


@pytest.mark.django_db(databases="__all__")
def test_a_one_time_run_and_a_stop_from_the_legacy_ui(client, ui):
    manager, operator = ui("lmanager"), ui("loperator")
    job = send(
        client, "POST", "/api/v3/jobs/", {**NEW_JOB, "scheduled_at": "2031-05-01T08:00:00Z"},
        manager,
    ).json()  # fmt: skip
    assert job["scheduled_at"] == "2031-05-01T08:00:00Z" and job["status"] == "scheduled"
    again = send(
        client, "POST", f"/api/v3/jobs/{job['id']}/schedule",
        {"scheduled_at": "2031-05-01T08:00:00.000Z"}, manager,
    )  # fmt: skip
    assert again.status_code == 200
    assert len(events("scheduling.schedule.created", "scheduling")) == 1  # the same time: one
    assert again.json()["schedule_config"]["scheduleType"] == "once"
    # nothing runs yet: nothing to stop
    stop = send(client, "POST", f"/api/v3/jobs/{job['id']}/terminate", {"reason": "x"}, operator)
    assert stop.status_code == 409
    started = send(client, "POST", f"/api/v3/jobs/{job['id']}/execute", None, operator).json()
    assert (started["execution_number"], started["status"]) == (1, "scheduled")
    requested = events("execution.run.requested", "execution")[0]
    assert requested.actor["name"] == "loperator"
    stop = send(
        client, "POST", f"/api/v3/jobs/{job['id']}/terminate",
        {"reason": "Manual termination"}, operator,
    )  # fmt: skip
    assert stop.status_code == 200, stop.content
    assert stop.json()["terminated_executions"] == [started["id"]]
    cancel = events("execution.run.cancel_requested", "execution")[0]
    assert cancel.actor["name"] == "loperator"
    [execution] = client.get(f"/api/v3/jobs/{job['id']}/executions", headers=operator).json()
    assert execution["status"] == "cancelled" and execution["completed_at"]
    listed = {j["id"]: j for j in client.get("/api/v3/jobs/", headers=operator).json()}
    assert listed[job["id"]]["status"] == "cancelled"
    # J9 sends the execution's id where the route has the number: both name it
    for value in (1, started["id"]):
        shown = client.get(f"/api/v3/jobs/{job['id']}/executions/{value}", headers=operator)
        assert shown.json()["id"] == started["id"]
    assert (
        client.get(f"/api/v3/jobs/1/executions/{started['id']}", headers=operator).status_code
        == 404
    )


@pytest.fixture
def sshd_target(sshd_factory, ui):
    """A real sshd registered as a target (through /api/v1: accept-new host keys, a key
    credential); its legacy id, as the legacy UI's target list shows it."""
    from rest_framework.test import APIClient

    from apps.accounts.factories import UserFactory

    server = sshd_factory()
    admin = APIClient()
    admin.force_authenticate(UserFactory(admin=True))
    made = admin.post(
        "/api/v1/credentials/",
        {"name": "sshd-key", "kind": "ssh_key", "username": server.username,
         "private_key": server.client_key_path.read_text()},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    target = admin.post(
        "/api/v1/targets/",
        {"name": "sshd-box", "host_key_policy": "accept-new",
         "connection_methods": [{"protocol": "ssh", "host": server.host, "port": server.port,
                                 "credential": "sshd-key"}]},
        format="json",
    )  # fmt: skip
    assert target.status_code == 201, target.content
    return server


@pytest.mark.broker
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_job_started_from_the_legacy_ui_really_runs_and_its_results_read_back(
    client, ui, sshd_target, celery_worker
):
    admin = ui("ladmin")
    [box] = [
        t for t in client.get("/api/v3/targets/", headers=admin).json() if t["name"] == "sshd-box"
    ]
    job = send(
        client, "POST", "/api/v3/jobs/",
        {**NEW_JOB, "name": "legacy ui run", "target_ids": [box["id"]],
         "actions": [
             {"action_type": "command", "action_name": "hello", "action_order": 1,
              "action_parameters": {"command": "echo hello-from-legacy-ui"}},
             {"action_type": "command", "action_name": "oops", "action_order": 2,
              "action_parameters": {"command": "echo broken >&2; exit 3"}},
         ]},
        admin,
    ).json()  # fmt: skip
    started = send(client, "POST", f"/api/v3/jobs/{job['id']}/execute", {"target_ids": None}, admin)
    assert started.status_code == 200, started.content
    number = started.json()["execution_number"]

    def finished():
        [run] = client.get(f"/api/v3/jobs/{job['id']}/executions", headers=admin).json()
        return run if run["status"] in ("completed", "failed", "cancelled") else None

    run = wait_for(finished, timeout=60, what="the run started through J5 to finish")
    assert run["status"] == "failed", run  # its second step exits 3
    assert (run["total_targets"], run["successful_targets"], run["failed_targets"]) == (1, 0, 1)
    assert run["target_names"] == ["sshd-box"] and run["duration_seconds"] >= 0
    assert client.get(f"/api/v3/jobs/{job['id']}/executions/{number}", headers=admin).json() == run
    results = client.get(
        f"/api/v3/jobs/{job['id']}/executions/{number}/results", headers=admin
    ).json()
    assert [(r["action_name"], r["status"], r["exit_code"]) for r in results] == [
        ("hello", "completed", 0),
        ("oops", "failed", 3),
    ]
    assert results[0]["output_text"] == "hello-from-legacy-ui\n"
    assert results[1]["error_text"] == "broken\n"
    assert {r["target_id"] for r in results} == {box["id"]}
    assert all(r["execution_id"] == run["id"] and r["execution_time_ms"] >= 0 for r in results)
    # J9: the history list sends the execution's id
    by_id = client.get(f"/api/v3/jobs/{job['id']}/executions/{run['id']}/results", headers=admin)
    assert by_id.json() == results
    listed = {j["id"]: j for j in client.get("/api/v3/jobs/", headers=admin).json()}
    assert listed[job["id"]]["status"] == "failed"
    assert listed[job["id"]]["last_execution"]["execution_number"] == number
