"""Lists of targets: each item is exactly what the target's own page shows, and a page costs the
same number of queries whatever its size (TargetListSerializer, selectors.target_list_details)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.targets.models import Tag, Target
from apps.targets.tests.api import client_for

pytestmark = pytest.mark.django_db(databases=["default", "targets"])

SELECTOR = "env=production and (tag:web or label:role=db) and not label:tier=3"


@pytest.fixture
def admin(django_user_model):
    return client_for(django_user_model, "admin")


def create(client, name: str, **fields) -> dict:
    response = client.post("/api/v1/targets/", {"name": name, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def inventory(admin) -> list[dict]:
    """Targets that use every part of the representation: tags, labels, SSH and WinRM methods
    with and without credentials, several methods in priority order, health results, nothing."""
    for name, kind in (("deploy", "password"), ("win-admin", "winrm")):
        response = admin.post(
            "/api/v1/credentials/",
            {"name": name, "kind": kind, "username": "ops", "password": "unused-secret-1"},
        )
        assert response.status_code == 201, response.json()
    web = create(
        admin, "web-1", tags=["web", "nginx", "a-first"], labels={"role": "frontend", "tier": "1",
        "a": ""}, connection_methods=[{"protocol": "ssh", "host": "web-1.example.com",
        "credential": "deploy", "username": "ubuntu"}],
    )  # fmt: skip
    db = create(
        admin, "db-1", tags=["db"], labels={"role": "db", "tier": "3"},
        connection_methods=[{"protocol": "ssh", "host": "10.0.0.5", "port": 2222}],
    )  # fmt: skip
    win = create(
        admin, "win-1", os_family="windows", environment="staging", description="ünïcode ✓",
        connection_methods=[{"protocol": "winrm", "host": "win-1.example.com",
        "credential": {"name": "win-admin"}, "winrm_scheme": "https"}],
    )  # fmt: skip
    bare = create(admin, "bare", status="maintenance", host_key_policy="accept-new")
    methods = f"/api/v1/targets/{web['id']}/methods/"
    for host, priority in (("10.0.0.9", 5), ("10.0.0.8", 1)):
        response = admin.post(
            methods, {"protocol": "ssh", "host": host, "priority": priority}, format="json"
        )
        assert response.status_code == 201, response.json()
    Target.objects.filter(pk=web["id"]).update(
        health_status="healthy",
        health_checked_at=datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC),
        health_latency_ms=42,
        health_message="ok",
    )
    stored = Target.objects.get(pk=db["id"])
    for name in ("zz-last", "aa-first"):  # linked out of order: lists sort them as details do
        stored.tags.add(Tag.objects.create(name=name))
    Target.objects.filter(pk=db["id"]).update(
        health_status="unreachable", health_message="connection timed out"
    )
    return [web, db, win, bare]


def detail(client, target_id: str) -> bytes:
    response = client.get(f"/api/v1/targets/{target_id}/")
    assert response.status_code == 200
    return json.dumps(response.json()).encode()  # keeps the order of the keys


def assert_items_are_details(client, items: list[dict]) -> None:
    assert items
    for item in items:
        assert json.dumps(item).encode() == detail(client, item["id"]), item["name"]


def test_each_listed_target_is_exactly_its_detail(admin):
    inventory(admin)
    listed = admin.get("/api/v1/targets/?page_size=100").json()["results"]
    assert [t["name"] for t in listed] == ["bare", "db-1", "web-1", "win-1"]
    assert_items_are_details(admin, listed)
    web = listed[2]
    assert web["tags"] == ["a-first", "nginx", "web"]
    assert list(web["labels"].items()) == [("a", ""), ("role", "frontend"), ("tier", "1")]
    assert [(m["host"], m["is_primary"], m["priority"]) for m in web["connection_methods"]] == [
        ("web-1.example.com", True, 0), ("10.0.0.8", False, 1), ("10.0.0.9", False, 5),
    ]  # fmt: skip
    assert web["connection_methods"][0]["credential"]["name"] == "deploy"
    assert web["connection_methods"][1]["credential"] is None
    assert web["health"] == {
        "status": "healthy", "checked_at": "2026-12-01T08:30:15.123456Z", "latency_ms": 42,
        "message": "ok",
    }  # fmt: skip
    assert listed[1]["tags"] == ["aa-first", "db", "zz-last"]
    bare = listed[0]
    assert (bare["tags"], bare["labels"], bare["connection_methods"]) == ([], {}, [])
    assert bare["health"] == {
        "status": "unknown",
        "checked_at": None,
        "latency_ms": None,
        "message": "",
    }
    assert list(bare) == [
        "id", "name", "description", "os_family", "environment", "location", "data_center",
        "region", "status", "host_key_policy", "connection_methods", "health", "created_by_id",
        "created_at", "updated_at", "tags", "labels",
    ]  # fmt: skip


def test_selector_lists_and_group_pages_are_details_too(admin):
    inventory(admin)
    by_filter = admin.get(f"/api/v1/targets/?page_size=100&selector={SELECTOR}").json()
    preview = admin.post("/api/v1/targets/select/", {"selector": SELECTOR}).json()
    assert [t["name"] for t in by_filter["results"]] == ["web-1"]
    assert by_filter == preview
    assert_items_are_details(admin, preview["results"])
    group = admin.post("/api/v1/groups/", {"name": "g", "selector": "tag:web or tag:db"}).json()
    members = admin.get(f"/api/v1/groups/{group['id']}/targets/").json()["results"]
    assert [t["name"] for t in members] == ["db-1", "web-1"]
    assert_items_are_details(admin, members)


def queries(client, url: str, body: dict | None = None) -> tuple[int, int]:
    with (
        CaptureQueriesContext(connections["targets"]) as on_targets,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        response = client.post(url, body) if body else client.get(url)
    assert response.status_code == 200
    return len(on_targets), len(on_default)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/targets/?page_size=100", None),
        (f"/api/v1/targets/?page_size=100&selector={SELECTOR}", None),
        ("/api/v1/targets/select/?page_size=100", {"selector": SELECTOR}),
    ],
)
def test_a_page_costs_the_same_queries_whatever_its_size(admin, url, body):
    inventory(admin)
    few = queries(admin, url, body)
    for i in range(12):
        create(
            admin, f"more-{i:02d}", tags=["web", f"t{i}"], labels={"role": "db", "n": str(i)},
            connection_methods=[{"protocol": "ssh", "host": f"10.1.0.{i + 1}",
            "credential": "deploy"}, {"protocol": "winrm", "host": f"10.2.0.{i + 1}",
            "credential": "win-admin"}],
        )  # fmt: skip
    many = queries(admin, url, body)
    assert many == few
    # count, page, then tags, labels and methods (with their credentials) of the whole page
    assert many[0] <= 5 + ("selector" in url or body is not None)
