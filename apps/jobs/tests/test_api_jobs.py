"""The jobs API: define, validate, version, revert, export/import, archive."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml
from rest_framework.test import APIClient

from apps.jobs.models import Job, JobVersion
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases=["default", "jobs", "targets"])
URL = "/api/v1/jobs/"
SECRET = f"canary-{uuid.uuid4().hex}"

DEPLOY = {
    "name": "deploy",
    "description": "Deploy a release",
    "labels": {"team": "web"},
    "default_selector": "tag:web",
    "parameters": [
        {"name": "version", "type": "string", "pattern": "[0-9.]+"},
        {"name": "channel", "type": "choice", "choices": ["stable", "beta"], "default": "stable"},
        {"name": "token", "type": "secret", "default": SECRET},
    ],
    "steps": [
        {
            "name": "fetch",
            "kind": "command",
            "command": "fetch-release {{ version }} --channel {{ channel }} --token {{ token }}",
        },
        {
            "name": "restart",
            "kind": "command",
            "command": "systemctl restart app",
            "timeout_seconds": 60,
        },
    ],
}


def client_for(django_user_model, role: str) -> APIClient:
    user = django_user_model.objects.create_user(
        username=f"{role}-{uuid.uuid4().hex[:6]}", password="x", role=role
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def manager(django_user_model):
    return client_for(django_user_model, "manager")


def create(client, **overrides):
    response = client.post(URL, {**DEPLOY, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_job_is_created_as_version_1_and_its_secret_is_never_shown(manager):
    job = create(manager)
    assert job["version"] == 1
    assert [s["name"] for s in job["steps"]] == ["fetch", "restart"]
    token = next(p for p in job["parameters"] if p["name"] == "token")
    assert token["default"] == "********"
    everything = json.dumps(job) + json.dumps(manager.get(f"{URL}{job['id']}/versions/1/").json())
    assert SECRET not in everything
    stored = JobVersion.objects.get()
    assert SECRET not in json.dumps(stored.definition)
    events = OutboxEvent.objects.using("jobs").filter(event_type="jobs.job.created")
    assert events.count() == 1 and SECRET not in json.dumps(events.get().payload)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"name": "a", "kind": "command", "command": "echo {{ nope }}"}]}, "steps.0.command"),
        ({"steps": [{"name": "a", "kind": "command", "command": "x"}, {"name": "a", "kind": "command", "command": "y"}]}, "steps.1.name"),
        ({"steps": [{"name": "a", "kind": "command"}]}, "steps.0.command"),
        ({"steps": [{"name": "a", "kind": "command", "command": "x", "timeout_seconds": 0}]}, "steps.0.timeout_seconds"),
        ({"steps": [{"name": "a", "kind": "script", "interpreter": "powershell", "script": "x", "os_family": "linux"}]}, "steps.0.interpreter"),
        ({"steps": [{"name": "a", "kind": "teleport", "command": "x"}]}, "steps.0.kind"),
        ({"default_selector": "tag:web and and"}, "default_selector"),
        ({"parameters": [{"name": "version", "type": "string"}], "steps": [{"name": "a", "kind": "command", "command": "x"}]}, "parameters.0.name"),
        ({"parameters": [{"name": "n", "type": "integer", "minimum": 5, "maximum": 1}]}, "parameters.0"),
        ({"colour": "blue"}, "colour"),
        ({"steps": [{"name": "a", "kind": "command", "command": 'echo "{{ version }}"'}]}, "steps.0.command"),
        ({"policy": {"max_parallel": 0}}, "policy.max_parallel"),
    ],
)  # fmt: skip
def test_bad_definitions_are_400s_naming_the_field_and_nothing_is_saved(manager, change, field):
    response = manager.post(URL, {**DEPLOY, **change}, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert any(key == field or key.startswith(field + ".") for key in fields), fields
    assert not Job.objects.exists()


def test_an_edit_makes_version_2_with_its_diff_and_a_revert_makes_version_3(manager):
    job = create(manager)
    steps = [
        *DEPLOY["steps"],
        {"name": "smoke", "kind": "command", "command": "curl -fsS localhost"},
    ]
    response = manager.patch(
        f"{URL}{job['id']}/", {"steps": steps, "description": "Deploy + smoke"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    versions = manager.get(f"{URL}{job['id']}/versions/").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    diff = versions[0]["diff"]
    assert diff["steps"]["added"] == ["smoke"]
    assert diff["description"] == {"from": "Deploy a release", "to": "Deploy + smoke"}
    assert "parameters" not in diff  # the masked secret sent back unchanged is not a change

    unchanged = manager.patch(
        f"{URL}{job['id']}/", {"description": "Deploy + smoke"}, format="json"
    )
    assert unchanged.json()["version"] == 2  # nothing changed: no new version

    reverted = manager.post(f"{URL}{job['id']}/revert/", {"version": 1}, format="json")
    assert reverted.status_code == 200 and reverted.json()["version"] == 3
    assert [s["name"] for s in reverted.json()["steps"]] == ["fetch", "restart"]
    assert (
        manager.post(f"{URL}{job['id']}/revert/", {"version": 9}, format="json").status_code == 400
    )


def test_export_then_import_gives_an_equal_job(manager):
    job = create(manager)
    exported = manager.get(f"{URL}{job['id']}/export/?as=yaml")
    assert exported.status_code == 200
    text = exported.content.decode()
    assert SECRET not in text
    definition = yaml.safe_load(text)
    definition["name"] = "deploy-copy"
    imported = manager.generic(
        "POST", f"{URL}import/", yaml.safe_dump(definition), content_type="application/yaml"
    )
    assert imported.status_code == 201, imported.json()
    again = manager.get(f"{URL}{imported.json()['id']}/export/?as=json").json()
    original = json.loads(manager.get(f"{URL}{job['id']}/export/?as=json").content)
    for item in (again, original):
        item.pop("name")
        for parameter in item["parameters"]:
            parameter.pop("default_sealed", None)  # sealed anew, same secret
    assert again == original


def test_validate_shows_targets_and_the_masked_plan(manager, django_user_model):
    # Targets belong to another app: registered through its API, as a user would.
    target = manager.post("/api/v1/targets/", {"name": "web-1", "tags": ["web"]}, format="json")
    assert target.status_code == 201, target.json()
    job = create(manager)
    operator = client_for(django_user_model, "operator")
    response = operator.post(
        f"{URL}{job['id']}/validate/", {"parameters": {"version": "1.2.3"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["valid"] is True, plan["problems"]
    assert [t["name"] for t in plan["targets"]] == ["web-1"]
    fetch = plan["plan"]["linux"][0]
    assert fetch["command"] == "fetch-release '1.2.3' --channel 'stable' --token '********'"
    assert SECRET not in json.dumps(plan)

    bad = operator.post(
        f"{URL}{job['id']}/validate/",
        {"parameters": {"version": "x; rm -rf /"}, "selector": "tag:nothing"},
        format="json",
    )
    problems = {p["field"] for p in bad.json()["problems"]}
    assert bad.json()["valid"] is False and {"parameters.version", "selector"} <= problems


def test_roles_and_archiving(manager, django_user_model):
    job = create(manager)
    viewer = client_for(django_user_model, "viewer")
    assert viewer.get(f"{URL}{job['id']}/").status_code == 200
    assert viewer.post(URL, DEPLOY, format="json").status_code == 403
    assert viewer.post(f"{URL}{job['id']}/archive/").status_code == 403
    archived = manager.post(f"{URL}{job['id']}/archive/")
    assert archived.json()["archived"] is True
    blocked = manager.patch(f"{URL}{job['id']}/", {"description": "x"}, format="json")
    assert blocked.status_code == 409
    assert [j["name"] for j in manager.get(f"{URL}?archived=true").json()["results"]] == ["deploy"]
    assert manager.get(f"{URL}?archived=false").json()["results"] == []
    manager.post(f"{URL}{job['id']}/unarchive/")
    clone = manager.post(f"{URL}{job['id']}/clone/", {"name": "deploy-2"}, format="json")
    assert clone.status_code == 201 and clone.json()["version"] == 1
    dup = manager.post(f"{URL}{job['id']}/clone/", {"name": "deploy-2"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["error"]["fields"]


def test_a_get_edited_and_put_back_keeps_the_secret(manager):
    job = create(manager)
    shown = manager.get(f"{URL}{job['id']}/").json()
    body = {
        key: shown[key]
        for key in (
            "name",
            "description",
            "labels",
            "default_selector",
            "policy",
            "parameters",
            "steps",
        )
    }
    body["description"] = "edited"
    response = manager.put(f"{URL}{job['id']}/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    diff = manager.get(f"{URL}{job['id']}/versions/2/").json()["diff"]
    assert set(diff) == {"description"}
    from apps.jobs.selectors import parameter_specs
    from apps.jobs.services import current_definition

    token = next(
        s for s in parameter_specs(current_definition(Job.objects.get())) if s.name == "token"
    )
    assert token.default == SECRET


def test_integer_and_boolean_parameters_may_stand_in_arithmetic_strings_may_not(
    manager, django_user_model
):
    parameters = [
        {"name": "count", "type": "integer", "minimum": 1, "maximum": 100},
        {"name": "verbose", "type": "boolean", "default": False},
        {"name": "label", "type": "string", "required": False, "allow_unused": True},
    ]
    step = {"name": "double", "kind": "command", "os_family": "linux",
            "command": "echo $(( {{ count }} * 2 + {{ verbose }} ))"}  # fmt: skip
    job = create(manager, name="arith", parameters=parameters, steps=[step])
    operator = client_for(django_user_model, "operator")
    plan = operator.post(
        f"{URL}{job['id']}/validate/", {"parameters": {"count": 21, "verbose": True}},
        format="json",
    ).json()  # fmt: skip
    assert plan["plan"]["linux"][0]["command"] == "echo $(( 21 * 2 + 1 ))"
    # a value that is not an integer never reaches the template
    bad = operator.post(
        f"{URL}{job['id']}/validate/", {"parameters": {"count": "1+$(id)"}}, format="json"
    ).json()
    assert {p["field"] for p in bad["problems"]} >= {"parameters.count"}

    # a string (a secret, a choice) inside $(( )) is still refused, naming the step's field
    refused = {**step, "command": "echo $(( {{ label }} * 2 ))"}
    response = manager.post(
        URL, {**DEPLOY, "name": "arith2", "parameters": parameters, "steps": [refused]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["steps.0.command"]
    assert "only integer and boolean parameters" in json.dumps(message)


UPLOAD_JOB = {
    "name": "conf",
    "default_selector": "tag:web",
    "parameters": [
        {"name": "app", "type": "string"},
        {"name": "token", "type": "secret", "required": False, "allow_unused": True},
    ],
    "steps": [
        {"name": "write", "kind": "upload", "path": "/tmp/apps/{{ app }}.conf",
         "content": "token={{ token }}\n"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("value", ["../../home/fleet/x", "sub/x", "..", "..\\..\\x"])
def test_validate_refuses_an_upload_path_value_that_leaves_its_directory(
    manager, django_user_model, value
):
    job = create(manager, **UPLOAD_JOB)
    operator = client_for(django_user_model, "operator")
    plan = operator.post(
        f"{URL}{job['id']}/validate/", {"parameters": {"app": value}}, format="json"
    ).json()
    assert plan["valid"] is False
    [problem] = [p for p in plan["problems"] if p["field"] == "parameters.app"]
    assert "step 1 (write), path: parameter 'app'" in problem["message"]
    assert "/tmp/apps/" in problem["message"]
    assert plan["plan"] == {}  # nothing rendered with that value

    good = operator.post(
        f"{URL}{job['id']}/validate/", {"parameters": {"app": "web"}}, format="json"
    ).json()
    assert not [p for p in good["problems"] if p["field"].startswith("parameters")]
    assert good["plan"]["linux"][0]["path"] == "/tmp/apps/web.conf"
