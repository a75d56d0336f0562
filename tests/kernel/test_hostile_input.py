"""Hostile input is answered in the API's error shape with a 4xx, never a 500 (docs/api.md,
"Limits"): oversize bodies, deep nesting, too many fields, NUL characters, date-times out of
range, over-long URLs, unknown and read-only fields. Each against the live application (the
test client); the server-level ones also against the real gunicorn the image runs."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.factories import UserFactory
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db(databases="__all__")
MB = 1024 * 1024


def error(response, status: int, *, code: str | None = None, field: str | None = None) -> dict:
    """The error of ``response``, after checking its status and the shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["message"] and err["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert err["code"] == code, err
    if field is not None:
        assert field in err.get("fields", {}), err
    return err


@pytest.fixture
def admin():
    client = APIClient()
    client.force_authenticate(UserFactory(username="hostile-admin", role=Role.ADMIN))
    return client


# nine levels of ten aliases each: 10**9 values once expanded
BILLION_LAUGHS = (
    "a: &a ["
    + ",".join(["x"] * 10)
    + "]\n"
    + "".join(
        f"{name}: &{name} [{','.join(['*' + prev] * 10)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- body size ---------------------------------------------------------------------------------


def test_a_json_body_over_the_limit_is_413_before_authentication(client):
    body = b'{"username": "' + b"x" * (10 * MB) + b'", "password": "x"}'
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    error(response, 413, code="request_too_large")


def test_a_body_over_the_limit_is_413_on_a_view_outside_the_api_too(client, settings):
    # Django's admin reads the form itself (RequestDataTooBig raised before any DRF code)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/admin/login/", {"username": "x" * 2000, "password": "y"})
    error(response, 413, code="request_too_large")


def test_a_body_under_the_limit_is_parsed(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "nobody", "password": "x" * 500},
        content_type="application/json",
    )
    assert response.status_code == 401  # parsed, and the credentials were wrong


def test_the_limit_bounds_yaml_and_csv_bodies_as_well(admin, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    yaml_body = "name: x\ndescription: " + "y" * 2000 + "\n"
    response = admin.post("/api/v1/jobs/import/", yaml_body, content_type="application/yaml")
    error(response, 413, code="request_too_large")
    csv_body = "name,host\n" + "a,b\n" * 500
    response = admin.post("/api/v1/targets/import/", csv_body, content_type="text/csv")
    error(response, 413, code="request_too_large")


# --- nesting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep_is_400_naming_the_body(admin, depth):
    response = admin.post("/api/v1/jobs/import/", nested(depth), content_type="application/json")
    err = error(response, 400, code="validation_error", field="body")
    assert "32 levels" in err["fields"]["body"][0]


def test_json_nested_within_the_limit_is_parsed(admin):
    body = {"name": "deep", "steps": [], "labels": json.loads(nested(30))}
    response = admin.post("/api/v1/jobs/import/", body, format="json")
    err = error(response, 400)  # judged by the job's own rules, not refused as too deep
    assert "body" not in err.get("fields", {})


@pytest.mark.parametrize(
    "document",
    [
        "[" * 10_000 + "]" * 10_000,  # flow style
        "".join(f"{'  ' * i}- \n" for i in range(500)),  # block style
        BILLION_LAUGHS,  # aliases: few nodes, a huge tree
    ],
    ids=["flow", "block", "aliases"],
)
def test_yaml_nested_too_deep_or_too_big_is_400_naming_the_body(admin, document):
    response = admin.post("/api/v1/jobs/import/", document, content_type="application/yaml")
    error(response, 400, code="validation_error", field="body")


# --- field counts ------------------------------------------------------------------------------


def test_more_than_1000_form_fields_is_400_naming_the_body(client):
    form = urllib.parse.urlencode({f"f{i}": "x" for i in range(1001)})
    response = client.post(
        "/api/v1/auth/token/", form, content_type="application/x-www-form-urlencoded"
    )
    err = error(response, 400, code="validation_error", field="body")
    assert "1000" in err["fields"]["body"][0]


def test_more_than_1000_form_fields_outside_the_api_is_400_in_the_shape(client):
    form = urllib.parse.urlencode({f"f{i}": "x" for i in range(1001)})
    response = client.post("/admin/login/", form, content_type="application/x-www-form-urlencoded")
    error(response, 400, code="validation_error", field="body")


def test_more_than_1000_query_parameters_is_400_naming_the_query(admin):
    query = "&".join(f"p{i}=1" for i in range(1001))
    response = admin.get(f"/api/v1/targets/?{query}")
    error(response, 400, code="validation_error", field="query")


# --- NUL characters ----------------------------------------------------------------------------


def test_nul_in_a_lookup_field_is_400_naming_the_field(admin):
    body = {
        "name": "nul-target",
        "connection_methods": [
            {"protocol": "ssh", "host": "127.0.0.1", "credential": "cred\x00name"}
        ],
    }
    response = admin.post("/api/v1/targets/", body, format="json")
    err = error(response, 400, code="validation_error", field="connection_methods.0.credential")
    assert "NUL" in err["fields"]["connection_methods.0.credential"][0]
    response = admin.post(
        "/api/v1/alert-rules/",
        {"job": str(uuid.uuid4()), "channel": "ops\x00", "events": ["failed"]},
        format="json",
    )
    error(response, 400, code="validation_error", field="channel")


def test_nul_in_a_key_or_a_form_field_is_400_naming_it(admin):
    response = admin.post("/api/v1/jobs/import/", {"name": "x", "la\x00bels": {}}, format="json")
    error(response, 400, code="validation_error", field="la\\u0000bels")
    response = Client().post(
        "/api/v1/auth/token/",
        "username=a%00b&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    error(response, 400, code="validation_error", field="username")


def test_nul_in_a_query_parameter_or_the_path_is_400_naming_it(admin):
    error(admin.get("/api/v1/targets/?name=a%00b"), 400, code="validation_error", field="name")
    error(admin.get("/api/v1/targets/?na%00me=x"), 400, code="validation_error")
    error(admin.get("/api/v1/users/a%00b/"), 400, code="validation_error", field="path")


def test_nul_free_text_still_passes(admin):
    assert admin.get("/api/v1/targets/?name=ab").status_code == 200


# --- date-times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/v1/audit/events/?since={}", "since"),
        ("/api/v1/audit/events/?until={}", "until"),
        ("/api/v1/audit/events/export/?since={}", "since"),
        ("/api/v1/audit/events/report/?since={}&until=2030-01-01T00:00:00Z", "since"),
        ("/api/v1/runs/?created_after={}", "created_after"),
        ("/api/v1/runs/?created_before={}", "created_before"),
        ("/api/v1/schedules/?due_before={}", "due_before"),
    ],
)
@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00+17:00", "2026-01-01T00:00:00-16:00", "9999-12-31T23:00:00-05:00"]
)
def test_a_query_date_time_out_of_range_is_400_naming_the_parameter(admin, url, parameter, value):
    response = admin.get(url.format(urllib.parse.quote(value)))
    error(response, 400, code="validation_error", field=parameter)


def test_a_query_date_time_within_range_is_accepted(admin):
    for value in ("2026-01-01T00:00:00+15:59", "2026-01-01T00:00:00-12:00", "0001-01-01T00:00:00Z"):
        response = admin.get(f"/api/v1/runs/?created_after={urllib.parse.quote(value)}")
        assert response.status_code == 200, (value, response.content)


def test_a_body_date_time_out_of_range_is_400_naming_the_field(admin):
    response = admin.post(
        "/api/v1/tokens/", {"name": "t", "expires_at": "2030-01-01T00:00:00+17:00"}, format="json"
    )
    error(response, 400, code="validation_error", field="expires_at")
    response = admin.post(
        "/api/v1/schedules/preview/",
        {"kind": "once", "run_at": "2030-01-01T00:00:00+16:30", "timezone": "UTC"},
        format="json",
    )
    error(response, 400, code="validation_error", field="run_at")


def test_a_cron_schedule_starting_near_year_9999_is_no_500(admin):
    response = admin.post(
        "/api/v1/schedules/preview/",
        {"kind": "cron", "cron": "0 0 1 1 *", "timezone": "UTC",
         "start_at": "9999-06-01T00:00:00Z", "after": "9999-05-01T00:00:00Z"},
        format="json",
    )  # fmt: skip
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["items"] == []  # no 1 January after June 9999


# --- URL length --------------------------------------------------------------------------------


def test_a_url_over_the_limit_is_414_in_the_shape(client):
    error(client.get("/api/v1/targets/?q=" + "x" * 8000), 414, code="uri_too_long")
    error(client.get("/api/v1/" + "x" * 8000), 414, code="uri_too_long")


def test_a_url_just_under_the_limit_is_served(admin):
    url = "/api/v1/targets/?search=" + "x" * (8000 - len("/api/v1/targets/?search="))
    assert admin.get(url).status_code == 200


# --- unknown and read-only fields --------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [("bogus_field", 1), ("user", 1), ("prefix", "abc"), ("last_used_at", "2026-01-01T00:00:00Z")],
)
def test_creating_a_token_refuses_unknown_and_read_only_fields(admin, field, value):
    response = admin.post("/api/v1/tokens/", {"name": "ci", field: value}, format="json")
    error(response, 400, code="validation_error", field=field)
    assert admin.post("/api/v1/tokens/", {"name": "ci"}, format="json").status_code == 201


@pytest.mark.parametrize("field", ["bogus_field", "fired_count", "next_fire_at"])
def test_creating_a_schedule_refuses_unknown_and_read_only_fields(admin, field):
    body = {"name": "s", "job": str(uuid.uuid4()), "kind": "cron", "cron": "0 3 * * *", field: 1}
    response = admin.post("/api/v1/schedules/", body, format="json")
    error(response, 400, code="validation_error", field=field)


def test_the_preview_starts_at_start(admin):
    body = {"kind": "cron", "cron": "0 3 * * *", "timezone": "UTC", "count": 2}
    response = admin.post(
        "/api/v1/schedules/preview/", {**body, "start": "2031-05-04T03:00:00Z"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [item["at"] for item in response.json()["items"]] == [
        "2031-05-04T03:00:00Z",
        "2031-05-05T03:00:00Z",
    ]
    response = admin.post(
        "/api/v1/schedules/preview/",
        {**body, "start": "2031-05-04T03:00:00Z", "after": "2031-05-04T03:00:00Z"},
        format="json",
    )
    error(response, 400, code="validation_error", field="start")
    response = admin.post("/api/v1/schedules/preview/", {**body, "begin": "x"}, format="json")
    error(response, 400, code="validation_error", field="begin")


# --- the real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, django_db_blocker, tmp_path_factory):
    """``deploy/entrypoint.sh web`` (gunicorn with the image's worker class) on a loopback port,
    production settings, the test databases."""
    from tests.deploy.gateway import WebProcess, web_env
    from tests.sshd import free_port

    base = tmp_path_factory.mktemp("hostile-web")
    port = free_port()
    env = {**web_env(port, base, 443), "WEB_THREADS": "2"}
    web = WebProcess(port=port, env=env, log=base / "web.log").start()
    yield web
    web.stop()


def _raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are; the status, headers and body of the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.headers), response.read()


def _shape(status: int, headers: dict, body: bytes, expected: int, code: str) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["Content-Type"].startswith("application/json"), headers
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"], err
    assert err["request_id"] == headers["X-Request-ID"]
    return err


HEADERS = b"Host: ops.test\r\nX-Forwarded-Proto: https\r\n"


@pytest.mark.once
def test_gunicorn_answers_a_request_line_over_its_limit_in_the_shape(gunicorn):
    # over gunicorn's own 8190-byte request line: gunicorn answers, in the API's shape
    line = b"GET /api/v1/targets/?q=" + b"x" * 9000 + b" HTTP/1.1\r\n"
    _shape(*_raw(gunicorn.port, line + HEADERS + b"\r\n"), 414, "uri_too_long")
    # between the application's limit (8000) and gunicorn's: the application answers
    line = b"GET /api/v1/targets/?q=" + b"x" * 8100 + b" HTTP/1.1\r\n"
    _shape(*_raw(gunicorn.port, line + HEADERS + b"\r\n"), 414, "uri_too_long")
    # malformed HTTP: gunicorn's 400, in the shape too
    _shape(*_raw(gunicorn.port, b"NOT HTTP AT ALL\r\n\r\n"), 400, "bad_request")


@pytest.mark.once
def test_gunicorn_passes_an_oversize_body_to_the_application_which_answers_413(gunicorn):
    # the application answers from the declared length, without reading 10 MB first
    request = (
        b"POST /api/v1/auth/token/ HTTP/1.1\r\n" + HEADERS
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {10 * MB + 1}\r\n\r\n".encode() + b'{"username": "'
    )  # fmt: skip
    _shape(*_raw(gunicorn.port, request), 413, "request_too_large")
    nested_body = nested(1000).encode()
    request = (
        b"POST /api/v1/auth/token/ HTTP/1.1\r\n" + HEADERS
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(nested_body)}\r\n\r\n".encode() + nested_body
    )  # fmt: skip
    _shape(*_raw(gunicorn.port, request), 400, "validation_error")


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker):
    from tests.deploy.gateway import nginx_binary, start_gateway

    gateway = start_gateway(nginx_binary(), web_count=1, streams=False)
    yield gateway
    gateway.stop()


@pytest.mark.once
@pytest.mark.nginx
def test_the_gateway_answers_an_over_long_url_in_the_shape(gateway):
    # over nginx's request line buffer (8k): nginx answers; under it, over 8000: the application
    for length in (9000, 8100):
        status, headers, body = gateway.https("GET", "/api/v1/targets/?q=" + "x" * length)
        assert status == 414, (length, body[:300])
        assert headers["Content-Type"].startswith("application/json")
        err = json.loads(body)["error"]
        assert err["code"] == "uri_too_long" and err["request_id"] == headers["X-Request-ID"]
