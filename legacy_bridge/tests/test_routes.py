"""The route table: modes, longest prefix, flips without restart, the routes API with its
traffic numbers and permissions, audit events for changes and for state-changing requests."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.factories import ApiTokenFactory
from legacy_bridge import routing, services, traffic
from legacy_bridge.models import Route, RouteTableVersion, TrafficBucket
from opsconductor.events import SYSTEM
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def make_route(**values) -> uuid.UUID:
    return services.route_create(actor=SYSTEM, **values)


def test_defaults_from_settings_proxy_everything_under_both_prefixes(legacy, client):
    table = routing.current_table()
    assert {(r.prefix, r.mode, r.source) for r in table.rules} == {
        ("/api/v3", "proxy", "settings"),
        ("/api/schedules", "proxy", "settings"),
    }
    assert client.get("/api/v3/echo/anything").status_code == 200
    assert client.get("/api/schedules/").status_code == 200


def test_retired_prefix_answers_410_with_its_message_and_never_reaches_the_backend(legacy, client):
    make_route(prefix="/api/v3/analytics/", mode="retired", message="Analytics were retired.")
    response = client.get("/api/v3/analytics/reports?x=1")
    assert response.status_code == 410
    body = response.json()
    assert body["detail"] == "Analytics were retired."
    assert body["mode"] == "retired"
    assert body["request_id"] == response["X-Request-ID"]
    assert legacy.seen == []
    # a sibling sharing the first letters is not under the prefix
    assert client.get("/api/v3/analytics-old").status_code == 404  # the backend's 404
    assert len(legacy.seen) == 1


def test_migrated_prefix_points_to_the_new_endpoint(legacy, client):
    make_route(prefix="/api/v3/targets", mode="migrated", new_url="/api/v1/targets/")
    response = client.get("/api/v3/targets/5")
    assert response.status_code == 410
    body = response.json()
    assert "/api/v1/targets/" in body["detail"]
    assert body["new_url"] == "/api/v1/targets/"
    assert body["mode"] == "migrated"
    assert response["Location"] == "/api/v1/targets/"
    assert response["Link"] == '</api/v1/targets/>; rel="successor-version"'
    assert legacy.seen == []


def test_longest_prefix_wins(legacy, client):
    make_route(prefix="/api/v3/jobs", mode="retired")
    make_route(prefix="/api/v3/jobs/templates", mode="proxy")
    assert client.get("/api/v3/jobs/1").status_code == 410
    assert client.get("/api/v3/jobs/templates/3").status_code == 404  # proxied: backend's 404
    assert legacy.seen[-1]["path"] == "/api/v3/jobs/templates/3"
    assert client.get("/api/v3/jobs").status_code == 410


def test_adapter_answers_in_the_legacy_shape_from_the_new_system(legacy, client):
    make_route(
        prefix="/api/v3/system/health",
        mode="migrated",
        adapter="system-health",
        new_url="/readyz",
    )
    response = client.get("/api/v3/system/health")
    assert response.status_code == 200
    body = response.json()
    assert body["overall_health"] == "healthy"  # what the legacy UI reads
    assert body["components"]["database"]["status"] == "healthy"
    assert response["X-Legacy-Bridge"] == "adapter"
    assert response["Link"] == '</readyz>; rel="successor-version"'
    assert legacy.seen == []
    # another method under the prefix is not the adapter's: the pointer answers
    assert client.post("/api/v3/system/health").status_code == 410


def test_targets_adapter_lists_the_new_systems_targets_in_the_legacy_shape(api, legacy, client):
    from django.conf import settings

    manager = api(manager=True)
    for name, status in (("alpha", "active"), ("beta", "maintenance"), ("gone", "inactive")):
        created = manager.post("/api/v1/targets/", {"name": name, "status": status}, format="json")
        assert created.status_code == 201, created.content
    make_route(prefix="/api/v3/targets", mode="migrated", adapter="legacy-targets")
    # a token of the new system (a viewer may read targets); without one: 403 (test_route_auth)
    viewer = {"Authorization": f"Token {ApiTokenFactory().value}"}
    assert client.get("/api/v3/targets/").status_code == 403
    body = client.get("/api/v3/targets/", headers=viewer).json()
    # a bare array, as the legacy backend answers; "inactive" is the legacy soft delete
    assert [(t["name"], t["status"]) for t in body] == [
        ("alpha", "active"),
        ("beta", "maintenance"),
    ]
    # objects created here get legacy ids from the bridge's own range, the same on every read
    ids = [t["id"] for t in body]
    assert all(i >= settings.LEGACY_ID_FLOOR for i in ids) and len(set(ids)) == 2
    assert [t["id"] for t in client.get("/api/v3/targets/", headers=viewer).json()] == ids
    detail = client.get(f"/api/v3/targets/{ids[0]}", headers=viewer).json()
    assert detail["name"] == "alpha" and detail["communication_methods"] == []
    # the root without its slash: FastAPI's redirect
    response = client.get("/api/v3/targets", headers=viewer)
    assert response.status_code == 307 and response["Location"] == "/api/v3/targets/"
    assert legacy.seen == []


def test_a_flip_takes_effect_on_the_next_request_in_every_process(legacy, client):
    route_id = make_route(prefix="/api/v3/users", mode="proxy")
    # the backend's answer (as the real one: a 307 to the path with the slash)
    assert client.get("/api/v3/users").status_code == 307
    # another process flips it: only the database changes (no signal reaches this process)
    Route.objects.filter(pk=route_id).update(mode="retired")
    RouteTableVersion.objects.filter(pk=1).update(version=999)
    assert client.get("/api/v3/users").status_code == 410
    services.route_update(route_id=route_id, actor=SYSTEM, mode="proxy")
    assert client.get("/api/v3/users").status_code == 307


def test_the_per_request_check_is_one_query_while_the_table_is_unchanged(legacy, client):
    make_route(prefix="/api/v3/users", mode="retired")
    routing.current_table()
    with CaptureQueriesContext(connection) as queries:
        routing.current_table()
    assert len(queries) == 1
    assert "legacy_bridge_routetableversion" in queries[0]["sql"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"prefix": "/api/v1/targets", "mode": "proxy"}, "prefix"),
        ({"prefix": "api/v3/x", "mode": "proxy"}, "prefix"),
        ({"prefix": "/api/v3/../v1", "mode": "proxy"}, "prefix"),
        ({"prefix": "/api/v3/x?y=1", "mode": "proxy"}, "prefix"),
        ({"prefix": "/api/v3/x", "mode": "sideways"}, "mode"),
        ({"prefix": "/api/v3/x", "mode": "migrated"}, "new_url"),
        ({"prefix": "/api/v3/x", "mode": "migrated", "new_url": "javascript:x"}, "new_url"),
        ({"prefix": "/api/v3/x", "mode": "migrated", "adapter": "nope"}, "adapter"),
        ({"prefix": "/api/v3/x", "mode": "proxy", "adapter": "system-health"}, "adapter"),
        ({"prefix": "/api/v3/x", "mode": "proxy", "colour": "red"}, "colour"),
    ],
)
def test_bad_routes_are_refused_with_the_field_and_reason(api, values, field):
    response = api(admin=True).post("/api/v1/bridge/routes/", values, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Route.objects.exists()
    assert not RouteTableVersion.objects.exists()


def test_duplicate_prefix_is_refused(api):
    admin = api(admin=True)
    assert (
        admin.post("/api/v1/bridge/routes/", {"prefix": "/api/v3/x/", "mode": "proxy"}).status_code
        == 201
    )
    response = admin.post("/api/v1/bridge/routes/", {"prefix": "/api/v3/x", "mode": "retired"})
    assert response.status_code == 400
    assert "prefix" in response.json()["error"]["fields"]


def test_routes_api_permissions(api, client):
    assert client.get("/api/v1/bridge/routes/").status_code == 401
    assert client.post("/api/v1/bridge/routes/", {}).status_code == 401
    for traits in ({}, {"operator": True}, {"manager": True}):
        user_client = api(**traits)
        assert user_client.get("/api/v1/bridge/routes/").status_code == 403, traits
        assert (
            user_client.post(
                "/api/v1/bridge/routes/", {"prefix": "/api/v3/x", "mode": "retired"}
            ).status_code
            == 403
        )
    auditor = api(manager=True, is_auditor=True)
    assert auditor.get("/api/v1/bridge/routes/").status_code == 200
    response = auditor.post("/api/v1/bridge/routes/", {"prefix": "/api/v3/x", "mode": "retired"})
    assert response.status_code == 403
    assert not Route.objects.exists()


def test_admin_flips_through_the_api_audited_and_effective_at_once(api, legacy, client):
    admin = api(admin=True)
    created = admin.post(
        "/api/v1/bridge/routes/", {"prefix": "/api/v3/jobs", "mode": "proxy"}, format="json"
    )
    assert created.status_code == 201
    route = created.json()
    assert route["source"] == "database" and route["mode"] == "proxy"
    assert client.get("/api/v3/jobs/1").status_code == 404  # proxied
    flipped = admin.patch(
        f"/api/v1/bridge/routes/{route['id']}/",
        {"mode": "migrated", "new_url": "/api/v1/jobs/"},
        format="json",
    )
    assert flipped.status_code == 200, flipped.content
    assert flipped.json()["mode"] == "migrated"
    assert client.get("/api/v3/jobs/1").status_code == 410
    event = OutboxEvent.objects.get(event_type="legacy_bridge.route.changed")
    assert event.payload["changes"]["mode"] == {"from": "proxy", "to": "migrated"}
    assert event.payload["name"] == "/api/v3/jobs"
    assert event.actor["kind"] == "user"
    assert admin.delete(f"/api/v1/bridge/routes/{route['id']}/").status_code == 204
    assert OutboxEvent.objects.filter(event_type="legacy_bridge.route.deleted").count() == 1
    assert client.get("/api/v3/jobs/1").status_code == 404  # back to the default: proxied


def test_routes_view_shows_each_prefixs_traffic_over_the_last_day_and_week(api, legacy, client):
    make_route(prefix="/api/v3/targets", mode="retired")
    for _ in range(3):
        client.get("/api/v3/echo/a")
    client.post("/api/v3/status/500")
    client.get("/api/v3/targets/1")
    # older traffic: 3 days ago (in the week, not the day), and 9 days ago (in neither)
    now = timezone.now()
    TrafficBucket.objects.create(
        hour=traffic.hour_of(now - timedelta(days=3)),
        prefix="/api/v3",
        method="GET",
        status_class="2xx",
        count=40,
    )
    TrafficBucket.objects.create(
        hour=traffic.hour_of(now - timedelta(days=9)),
        prefix="/api/v3",
        method="GET",
        status_class="2xx",
        count=500,
    )
    # a prefix whose rule is gone but which still got traffic this week
    TrafficBucket.objects.create(
        hour=traffic.hour_of(now - timedelta(hours=2)),
        prefix="/api/v3/old",
        method="DELETE",
        status_class="4xx",
        count=2,
    )
    response = api(admin=True).get("/api/v1/bridge/routes/")
    assert response.status_code == 200
    routes = {r["prefix"]: r for r in response.json()}
    v3 = routes["/api/v3"]
    assert v3["mode"] == "proxy" and v3["source"] == "settings"
    assert v3["last_day"] == {
        "total": 4,
        "by_status_class": {"2xx": 3, "5xx": 1},
        "by_method": {"GET": 3, "POST": 1},
    }
    assert v3["last_week"]["total"] == 44
    assert routes["/api/v3/targets"]["mode"] == "retired"
    assert routes["/api/v3/targets"]["last_day"]["by_status_class"] == {"4xx": 1}
    assert routes["/api/schedules"]["last_week"]["total"] == 0
    assert routes["/api/schedules"]["last_seen"] is None
    assert routes["/api/v3/old"]["mode"] is None
    assert routes["/api/v3/old"]["source"] == "traffic"
    assert routes["/api/v3/old"]["last_day"]["total"] == 2


def test_traffic_from_several_writers_adds_up_in_one_bucket(db):
    hour = traffic.hour_of(timezone.now())
    key = (hour, "/api/v3", "GET", "2xx")
    traffic.write({key: 5})
    traffic.write({key: 7})
    bucket = TrafficBucket.objects.get()
    assert bucket.count == 12


def test_state_changing_requests_are_audited_reads_are_not(legacy, client):
    client.get("/api/v3/echo/read?token=abc")
    assert not OutboxEvent.objects.filter(event_type__startswith="legacy_bridge.request").exists()
    response = client.post(
        "/api/v3/echo/jobs/1/run?token=s3cret&dry=1",
        data=json.dumps({"password": "hunter2"}),
        content_type="application/json",
        headers={"User-Agent": "legacy-ui/1.0", "Authorization": "Bearer tok"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 200
    event = OutboxEvent.objects.get(event_type="legacy_bridge.request.forwarded")
    payload = event.payload
    assert payload["method"] == "POST"
    assert payload["path"] == "/api/v3/echo/jobs/1/run"
    assert payload["query"] == "token=********&dry=1"
    assert payload["status"] == 200
    assert payload["source_ip"] == "10.1.2.3"
    assert payload["user_agent"] == "legacy-ui/1.0"
    assert payload["request_id"] == response["X-Request-ID"]
    assert event.actor["kind"] == "anonymous"
    dump = json.dumps(payload) + json.dumps(event.actor) + json.dumps(event.context)
    assert "s3cret" not in dump and "hunter2" not in dump and "Bearer tok" not in dump
    client.delete("/api/v3/status/403")
    failed = OutboxEvent.objects.get(event_type="legacy_bridge.request.failed")
    assert failed.payload["status"] == 403


def test_with_the_database_unreachable_the_bridge_keeps_forwarding(legacy, client, monkeypatch):
    from django.db import OperationalError

    def unreachable():
        raise OperationalError("connection refused")

    routing.forget_cached_table()
    monkeypatch.setattr(routing, "table_version", unreachable)
    response = client.get("/api/v3/echo/still-here")
    assert response.status_code == 200  # the settings' defaults: proxied
    assert legacy.seen[-1]["path"] == "/api/v3/echo/still-here"


def test_version_checks_can_be_spaced_out(legacy, client, settings):
    settings.LEGACY_BRIDGE_ROUTES_CHECK_SECONDS = 0.5
    route_id = make_route(prefix="/api/v3/users", mode="proxy")
    routing.current_table()
    with CaptureQueriesContext(connection) as queries:
        routing.current_table()
    assert len(queries) == 0  # within the interval: no read at all
    services.route_update(route_id=route_id, actor=SYSTEM, mode="retired")
    assert client.get("/api/v3/users").status_code == 307  # not yet seen: still proxied
    time.sleep(0.55)
    assert client.get("/api/v3/users").status_code == 410


def test_a_failing_adapter_answers_500_in_the_legacy_shape_and_is_counted(legacy, client):
    from legacy_bridge import adapters

    @adapters.register_adapter("test-broken", "raises", public=True)
    def broken(request, rule):
        raise RuntimeError("bug")

    try:
        make_route(prefix="/api/v3/broken", mode="migrated", adapter="test-broken")
        response = client.get("/api/v3/broken")
        assert response.status_code == 500
        assert response.json()["request_id"] == response["X-Request-ID"]
        bucket = TrafficBucket.objects.get(prefix="/api/v3/broken")
        assert (bucket.status_class, bucket.count) == ("5xx", 1)
    finally:
        adapters._adapters.pop("test-broken", None)
