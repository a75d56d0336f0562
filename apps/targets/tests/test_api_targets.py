"""The targets API: registering, changing and listing targets, methods and groups."""

from __future__ import annotations

import pytest

from apps.targets.models import ConnectionMethod, Target
from apps.targets.tests.api import client_for
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases=["default", "targets"])

WEB = {
    "name": "web-1",
    "environment": "production",
    "os_family": "linux",
    "region": "eu-west",
    "tags": ["web", "nginx"],
    "labels": {"role": "frontend", "tier": "1"},
    "connection_methods": [{"protocol": "ssh", "host": "web-1.example.com"}],
}


@pytest.fixture
def manager(django_user_model):
    return client_for(django_user_model, "manager")


@pytest.fixture
def viewer(django_user_model):
    return client_for(django_user_model, "viewer")


def create(client, **overrides):
    response = client.post("/api/v1/targets/", {**WEB, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_manager_registers_a_target_with_tags_labels_and_a_method(manager):
    body = create(manager)
    assert body["name"] == "web-1"
    assert body["tags"] == ["nginx", "web"]
    assert body["labels"] == {"role": "frontend", "tier": "1"}
    (method,) = body["connection_methods"]
    assert (method["protocol"], method["host"], method["port"], method["is_primary"]) == (
        "ssh", "web-1.example.com", 22, True,
    )  # fmt: skip
    assert body["health"]["status"] == "unknown"
    assert body["status"] == "active" and body["host_key_policy"] == "strict"
    assert body["created_by_id"] == str(manager.user.pk)
    event = OutboxEvent.objects.using("targets").get(event_type="targets.target.created")
    assert event.payload["name"] == "web-1"
    assert event.actor["name"] == manager.user.username


def test_names_are_not_unique(manager):
    first, second = create(manager), create(manager)
    assert first["id"] != second["id"]


def test_viewers_read_but_cannot_write(manager, viewer):
    target = create(manager)
    assert viewer.get(f"/api/v1/targets/{target['id']}/").status_code == 200
    assert viewer.post("/api/v1/targets/", WEB, format="json").status_code == 403
    assert viewer.patch(f"/api/v1/targets/{target['id']}/", {"name": "x"}).status_code == 403
    assert viewer.delete(f"/api/v1/targets/{target['id']}/").status_code == 403
    assert Target.objects.filter(pk=target["id"], name="web-1").exists()


def test_update_records_what_changed(manager):
    target = create(manager)
    response = manager.patch(
        f"/api/v1/targets/{target['id']}/",
        {"status": "maintenance", "tags": ["web"], "labels": {"role": "frontend"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["tags"] == ["web"]
    event = OutboxEvent.objects.using("targets").get(event_type="targets.target.updated")
    changes = event.payload["changes"]
    assert changes["status"] == {"from": "active", "to": "maintenance"}
    assert changes["tags"] == {"from": ["nginx", "web"], "to": ["web"]}
    assert changes["labels"]["to"] == {"role": "frontend"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"environment": "prod"}, "environment"),
        ({"os_family": "beos"}, "os_family"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"tags": ["bad tag!"]}, "tags.0"),
        ({"labels": {"bad key!": "v"}}, "labels.bad key!"),
        ({"labels": ["not", "a", "dict"]}, "labels"),
        ({"nmae": "typo"}, "nmae"),
        ({"connection_methods": [{"protocol": "ssh", "host": "bad host!"}]}, "connection_methods.0.host"),
        ({"connection_methods": [{"protocol": "ssh", "host": "h", "port": 70000}]}, "connection_methods.0.port"),
        ({"connection_methods": [{"protocol": "ssh", "host": "h", "port": "x"}]}, "connection_methods.0.port"),
        ({"connection_methods": [{"protocol": "telnet", "host": "h"}]}, "connection_methods.0.protocol"),
        ({"connection_methods": [{"protocol": "ssh", "host": "h", "credential": "nope"}]}, "connection_methods.0.credential"),
        ({"description": "d" * 5000}, "description"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(manager, payload, field):
    response = manager.post("/api/v1/targets/", {**WEB, **payload}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert not Target.objects.exists()
    assert not OutboxEvent.objects.using("targets").exists()


def test_non_json_garbage_is_a_400(manager):
    response = manager.generic(
        "POST", "/api/v1/targets/", b"{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_hosts_are_ips_or_names_and_winrm_gets_its_defaults(manager):
    target = create(
        manager,
        os_family="windows",
        connection_methods=[
            {"protocol": "winrm", "host": "10.0.0.7"},
            {"protocol": "ssh", "host": "[2001:db8::1]", "is_primary": True},
        ],
    )
    methods = {m["protocol"]: m for m in target["connection_methods"]}
    assert methods["winrm"]["port"] == 5985
    assert methods["winrm"]["winrm_scheme"] == "http"
    assert methods["winrm"]["winrm_transport"] == "ntlm"
    assert methods["ssh"]["host"] == "2001:db8::1"
    assert methods["ssh"]["is_primary"] and not methods["winrm"]["is_primary"]


def test_connection_methods_are_managed_under_the_target(manager):
    target = create(manager)
    url = f"/api/v1/targets/{target['id']}/methods/"
    response = manager.post(
        url, {"protocol": "ssh", "host": "10.1.1.1", "port": 2222, "is_primary": True}
    )
    assert response.status_code == 201, response.json()
    methods = manager.get(url).json()
    assert [m["is_primary"] for m in methods] == [True, False]
    assert ConnectionMethod.objects.filter(target_id=target["id"], is_primary=True).count() == 1

    response = manager.delete(f"{url}{methods[0]['id']}/")
    assert response.status_code == 204
    (remaining,) = manager.get(url).json()
    assert remaining["is_primary"] is True


def test_list_filters_search_and_selector(manager):
    create(manager)
    create(manager, name="db-1", tags=["db"], labels={"role": "db"}, environment="staging")

    def names(query):
        results = manager.get(f"/api/v1/targets/?{query}").json()["results"]
        return [t["name"] for t in results]

    assert names("environment=staging") == ["db-1"]
    assert names("tag=web") == ["web-1"]
    assert names("label=role=db") == ["db-1"]
    assert names("search=db") == ["db-1"]
    assert names("ordering=-name") == ["web-1", "db-1"]
    assert names("ordering=name") == ["db-1", "web-1"]
    bad = manager.get("/api/v1/targets/?environment=prod")
    assert bad.status_code == 400 and "environment" in bad.json()["error"]["fields"]


def test_groups_hold_static_members(manager, viewer):
    web = create(manager)
    response = manager.post(
        "/api/v1/groups/", {"name": "frontends", "members": [web["id"]]}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["members"] == [web["id"]]
    assert viewer.post("/api/v1/groups/", {"name": "x"}).status_code == 403
    dup = manager.post("/api/v1/groups/", {"name": "frontends"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["error"]["fields"]


def test_a_group_selector_that_makes_a_cycle_is_refused_when_saved(manager):
    assert manager.post("/api/v1/groups/", {"name": "a", "selector": "tag:web"}).status_code == 201
    b = manager.post("/api/v1/groups/", {"name": "b", "selector": "group:a"})
    assert b.status_code == 201, b.json()
    a_id = manager.get("/api/v1/groups/?search=a").json()["results"][0]["id"]
    response = manager.patch(f"/api/v1/groups/{a_id}/", {"selector": "group:b or tag:db"})
    assert response.status_code == 400
    assert "cycle" in response.json()["error"]["fields"]["selector"][0]
    assert manager.get(f"/api/v1/groups/{a_id}/").json()["selector"] == "tag:web"


def test_selector_preview_and_errors_with_position(manager):
    create(manager)
    create(manager, name="db-1", tags=["db"], labels={"role": "db"})
    response = manager.post(
        "/api/v1/targets/select/", {"selector": "env=production and not label:role=db"}
    )
    assert response.status_code == 200, response.json()
    assert [t["name"] for t in response.json()["results"]] == ["web-1"]
    bad = manager.post("/api/v1/targets/select/", {"selector": "env=production and and"})
    assert bad.status_code == 400
    assert "position" in bad.json()["error"]["fields"]["selector"][0]


@pytest.mark.parametrize(
    ("selector", "position"),
    [
        ("env=production and and tag:web", 19),  # a syntax error: the second 'and'
        ("env=prod", 4),  # a semantic one: the value
        ("(tag:a or tag:b", 15),  # the end of the text
    ],
)
def test_a_selector_error_says_where_it_is_as_a_number(manager, selector, position):
    bad = manager.post("/api/v1/targets/select/", {"selector": selector})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["positions"] == {"selector": position}
    assert f"at position {position}" in error["fields"]["selector"][0]


def test_the_list_and_a_check_say_where_their_selector_is_wrong(manager):
    listed = manager.get("/api/v1/targets/", {"selector": "tag:a tag:b"})
    assert listed.status_code == 400
    assert listed.json()["error"]["positions"] == {"selector": 6}
    checked = manager.post("/api/v1/targets/check/", {"selector": "colour=blue"}, format="json")
    assert checked.status_code == 400
    assert checked.json()["error"]["positions"] == {"selector": 0}


def test_other_validation_errors_carry_no_positions(manager):
    bad = manager.get("/api/v1/targets/?environment=prod")
    assert bad.status_code == 400 and "positions" not in bad.json()["error"]


def test_a_viewer_previews_a_selector_as_it_lists_targets(manager, viewer):
    create(manager)
    preview = viewer.post("/api/v1/targets/select/", {"selector": "env=production"})
    assert preview.status_code == 200, preview.json()
    assert [t["name"] for t in preview.json()["results"]] == ["web-1"]
