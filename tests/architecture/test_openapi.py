"""The OpenAPI schema generates cleanly: every endpoint documented, no guessed types."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.targets.tests.api import client_for


def test_the_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(out),
        stderr=io.StringIO(),
    )
    schema = out.read_text()
    for path in (
        "/api/v1/targets/",
        "/api/v1/credentials/",
        "/api/v1/me/",
        "/api/v1/audit/events/",
    ):
        assert f"{path}:" in schema


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    """The schema as served at /api/schema/ (what clients and the fuzzer read)."""
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _operation(schema, path, method):
    return schema["paths"][path][method]


def test_the_served_schema_is_the_generated_one(schema, tmp_path):
    out = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(out))
    assert json.loads(out.read_text()) == schema


def test_every_operation_declares_the_errors_it_can_answer_with_the_error_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path == "/api/v1/auth/session/":  # public: 401 for a wrong password, 403 for CSRF
                expected = {"post": {"401", "403", "429"}, "delete": {"403"}}.get(method, set())
                assert expected <= set(responses), f"{method} {path}"
            elif path not in ("/api/v1/auth/token/", "/api/v1/auth/token/refresh/"):
                assert {"401", "403"} <= set(responses), f"{method} {path}"
            if "{" in path:
                assert "404" in responses, f"{method} {path}"
            if "requestBody" in operation:
                assert "400" in responses, f"{method} {path}"
            assert "503" in responses, f"{method} {path}"  # a database outage, for every one
            for code, response in responses.items():
                if code[0] in "45":
                    assert response["content"]["application/json"]["schema"] == error
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


@pytest.mark.django_db(databases=["default", "targets"])
def test_a_target_never_checked_has_null_health_and_the_schema_allows_it(schema, django_user_model):
    manager = client_for(django_user_model, "manager")
    created = manager.post("/api/v1/targets/", {"name": "unchecked"}, format="json")
    assert created.status_code == 201, created.json()
    health = manager.get(f"/api/v1/targets/{created.json()['id']}/").json()["health"]
    assert health["checked_at"] is None and health["latency_ms"] is None
    declared = schema["components"]["schemas"]["Health"]["properties"]
    assert declared["checked_at"].get("nullable") is True
    assert declared["latency_ms"].get("nullable") is True


@pytest.mark.django_db(databases=["default", "jobs", "targets"])
def test_a_job_export_is_the_declared_object_and_an_unknown_format_is_a_400(
    schema, django_user_model
):
    manager = client_for(django_user_model, "manager")
    job = manager.post(
        "/api/v1/jobs/",
        {"name": "exported", "steps": [{"name": "hi", "kind": "command", "command": "true"}]},
        format="json",
    )
    assert job.status_code == 201, job.json()
    url = f"/api/v1/jobs/{job.json()['id']}/export/"
    as_json = manager.get(url, {"as": "json"})
    assert as_json["Content-Type"] == "application/json"
    as_yaml = manager.get(url)
    assert as_yaml["Content-Type"] == "application/yaml"
    assert json.loads(as_json.content) == yaml.safe_load(as_yaml.content)
    assert json.loads(as_json.content)["name"] == "exported"
    content = _operation(schema, "/api/v1/jobs/{id}/export/", "get")["responses"]["200"]["content"]
    assert set(content) == {"application/json", "application/yaml"}
    assert all(media["schema"]["type"] == "object" for media in content.values())

    wrong = manager.get(url, {"as": "AAA"})
    assert wrong.status_code == 400
    assert "as" in wrong.json()["error"]["fields"]


def test_the_live_stream_describes_its_events(schema):
    responses = _operation(schema, "/api/v1/runs/{id}/stream/", "get")["responses"]
    stream = responses["200"]
    assert set(stream["content"]) == {"text/event-stream"}
    description = stream["description"]
    for event in ("`output`", "`state`", "`end`", "`run`", "`target`", "`step`", "`note`"):
        assert event in description
    for field in ("run_target_id", "stream", "text", "exit_code", "duration_ms", "Last-Event-ID"):
        assert field in description
    example = next(iter(stream["content"]["text/event-stream"]["examples"].values()))["value"]
    assert "event: output" in example and "event: end" in example
    assert "404" in responses and "401" in responses
