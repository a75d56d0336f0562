"""Every write of the API refuses what it would otherwise ignore, and every body it parses is
bounded and checked (opsconductor.api.parsers): walked over the whole schema, so a new endpoint
cannot forget either."""

from __future__ import annotations

import django_filters
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.plumbing import build_mock_request
from rest_framework import serializers
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.accounts.factories import UserFactory
from opsconductor.api.datetimes import DateTimeField, IsoDateTimeFilter
from opsconductor.api.errors import _flatten
from opsconductor.api.parsers import CheckedParser
from opsconductor.roles import Role

UNKNOWN = "bogus_field_xyz"
WRITES = ("POST", "PUT", "PATCH")
# Actions on one object that take no body at all (a body sent is not read).
BODYLESS = {
    ("POST", "/api/v1/audit/verification/"),
    ("POST", "/api/v1/jobs/{id}/archive/"),
    ("POST", "/api/v1/jobs/{id}/unarchive/"),
    ("POST", "/api/v1/runs/{id}/cancel/"),
    ("POST", "/api/v1/schedules/{id}/pause/"),
    ("POST", "/api/v1/schedules/{id}/resume/"),
    ("POST", "/api/v1/notification-channels/{id}/test/"),
    ("POST", "/api/v1/targets/{id}/check/"),
    ("POST", "/api/v1/targets/{target_pk}/host-keys/{id}/approve/"),
    ("POST", "/api/v1/targets/{target_pk}/host-keys/{id}/reject/"),
    ("POST", "/api/v1/targets/{target_pk}/host-keys/scan/"),
}
# Bodies that are lists: the unknown field goes into an item.
LIST_BODIES = {"/api/v1/targets/import/"}
JOB = {"name": "walk", "steps": [{"name": "s", "kind": "command", "command": "true"}]}


# kept for the whole module: the views' schemas live (weakly referenced) in the generator
GENERATOR = SchemaGenerator()
GENERATOR._initialise_endpoints()
ENDPOINTS = [
    (path, method, view)
    for path, _regex, method, view in GENERATOR._get_paths_and_endpoints()
    if path.startswith("/api/v1/")
]


def _request_serializer(path, view, method):
    view.request = build_mock_request(method, path, view, None)
    view.schema.method, view.schema.path = method, path
    return view.schema.get_request_serializer()


def test_the_walk_finds_the_writes():
    writes = {(p, m) for p, m, _ in ENDPOINTS if m in WRITES}
    assert ("/api/v1/tokens/", "POST") in writes
    assert ("/api/v1/schedules/", "POST") in writes
    assert ("/api/v1/schedules/{id}/", "PATCH") in writes


@pytest.mark.parametrize("path, method, view", ENDPOINTS, ids=[f"{m} {p}" for p, m, _ in ENDPOINTS])
def test_every_parser_bounds_and_checks_the_body(path, method, view):
    for parser in view.get_parsers():
        assert isinstance(parser, CheckedParser), (
            f"{method} {path}: {type(parser).__name__} is not an opsconductor.api.parsers "
            "parser (a body it parses is neither bounded nor checked)"
        )


WRITE_ENDPOINTS = [(p, m, v) for p, m, v in ENDPOINTS if m in WRITES]


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "path, method, view", WRITE_ENDPOINTS, ids=[f"{m} {p}" for p, m, _ in WRITE_ENDPOINTS]
)
def test_every_write_refuses_an_unknown_field(path, method, view):
    serializer = _request_serializer(path, view, method)
    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    if isinstance(serializer, serializers.BaseSerializer) or (
        isinstance(serializer, type) and issubclass(serializer, serializers.BaseSerializer)
    ):
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if not cls().fields:  # e.g. a POST action without a body
            return
        bound = cls(data={UNKNOWN: "x"}, partial=method == "PATCH", context={"view": view})
        assert not bound.is_valid(), f"{method} {path}: {cls.__name__} accepts {UNKNOWN}"
        assert UNKNOWN in _flatten(bound.errors), (
            f"{method} {path}: {cls.__name__} does not name the unknown field: {bound.errors}"
        )
        return
    if (method, path) in BODYLESS:
        return
    client = APIClient()
    client.force_authenticate(UserFactory(username="walker", role=Role.ADMIN))
    body: object = {UNKNOWN: "x"}
    if path == "/api/v1/jobs/{id}/":  # the job definition, judged by the jobs app itself
        created = client.post("/api/v1/jobs/", JOB, format="json")
        assert created.status_code == 201, created.content
        path, body = path.replace("{id}", created.json()["id"]), {**JOB, UNKNOWN: "x"}
    assert "{" not in path, f"{method} {path}: no serializer and no way to call it here"
    if path in LIST_BODIES:
        body = [body]
    response = getattr(client, method.lower())(path, body, format="json")
    assert response.status_code == 400, (method, path, response.status_code, response.content)
    error = response.json()["error"]
    named = list(error.get("fields", {}))
    named += [name for row in error.get("rows", []) for name in row["errors"]]  # imports
    assert any(name.split(".")[-1] == UNKNOWN for name in named), response.content


def test_views_are_api_views():
    assert all(isinstance(view, APIView) for _, _, view in ENDPOINTS)


def _writable_fields(serializer, prefix=""):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        if isinstance(field, serializers.BaseSerializer):
            yield from _writable_fields(field, f"{prefix}{name}.")
        elif isinstance(field, serializers.ListField):
            yield f"{prefix}{name}.item", field.child
        else:
            yield f"{prefix}{name}", field


@pytest.mark.parametrize(
    "path, method, view", WRITE_ENDPOINTS, ids=[f"{m} {p}" for p, m, _ in WRITE_ENDPOINTS]
)
def test_every_date_time_a_write_takes_is_range_checked(path, method, view):
    serializer = _request_serializer(path, view, method)
    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    if isinstance(serializer, type) and issubclass(serializer, serializers.BaseSerializer):
        serializer = serializer()
    if not isinstance(serializer, serializers.BaseSerializer):
        return
    for name, field in _writable_fields(serializer):
        if isinstance(field, serializers.DateTimeField):
            assert isinstance(field, DateTimeField), (
                f"{method} {path}: {name} is not opsconductor.api.datetimes.DateTimeField"
            )


@pytest.mark.parametrize("path, method, view", ENDPOINTS, ids=[f"{m} {p}" for p, m, _ in ENDPOINTS])
def test_every_date_time_filter_is_range_checked(path, method, view):
    filterset = getattr(view, "filterset_class", None)
    for name, query_filter in filterset.base_filters.items() if filterset else ():
        if isinstance(query_filter, django_filters.DateTimeFilter):
            assert isinstance(query_filter, IsoDateTimeFilter), (
                f"{method} {path}: ?{name} is not opsconductor.api.datetimes.IsoDateTimeFilter"
            )
