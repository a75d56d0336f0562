"""Bulk import of targets: JSON or CSV, all or nothing, a report per row, dry run."""

from __future__ import annotations

import pytest

from apps.targets.models import ConnectionMethod, Target
from apps.targets.tests.api import client_for

pytestmark = pytest.mark.django_db(databases=["default", "targets"])
URL = "/api/v1/targets/import/"

CSV = """name,environment,os_family,tags,labels,protocol,host,port,credential
web-1,production,linux,web nginx,role=frontend;tier=1,ssh,10.0.0.1,22,
web-2,production,linux,web,role=frontend,ssh,10.0.0.2,2222,
win-1,staging,windows,,,winrm,win-1.corp.example,,
"""


@pytest.fixture
def manager(django_user_model):
    return client_for(django_user_model, "manager")


def test_json_import_creates_every_row(manager):
    rows = [
        {"name": "a", "connection_methods": [{"protocol": "ssh", "host": "10.0.0.1"}]},
        {"name": "b", "tags": ["db"], "labels": {"role": "db"}},
    ]
    response = manager.post(URL, rows, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["imported"] == 2
    assert sorted(Target.objects.values_list("name", flat=True)) == ["a", "b"]


def test_csv_import_maps_columns_to_targets_and_methods(manager):
    response = manager.generic("POST", URL, CSV.encode(), content_type="text/csv")
    assert response.status_code == 201, response.json()
    web1 = Target.objects.get(name="web-1")
    assert sorted(web1.tags.values_list("name", flat=True)) == ["nginx", "web"]
    assert dict(web1.labels.values_list("key", "value")) == {"role": "frontend", "tier": "1"}
    method = ConnectionMethod.objects.get(target__name="web-2")
    assert (method.host, method.port) == ("10.0.0.2", 2222)
    win = ConnectionMethod.objects.get(target__name="win-1")
    assert (win.protocol, win.port) == ("winrm", 5985)


def test_csv_empty_cells_are_values_not_given(manager):
    # a row without a connection method, and empty choice cells: the defaults, not an error
    csv = (
        "name,environment,status,protocol,host,port\nweb-1,production,,ssh,10.0.0.1,22\nbare,,,,,\n"
    )
    response = manager.generic("POST", URL, csv.encode(), content_type="text/csv")
    assert response.status_code == 201, response.json()
    bare = Target.objects.get(name="bare")
    assert (bare.environment, bare.status) == ("production", "active")
    assert not bare.connection_methods.exists()
    refused = manager.generic("POST", URL, b"name,environment\nx,prod\n", content_type="text/csv")
    assert refused.status_code == 400
    assert "environment" in refused.json()["error"]["rows"][0]["errors"]


def test_one_bad_row_imports_nothing_and_reports_every_bad_row(manager):
    rows = [
        {"name": "good"},
        {"name": "bad-env", "environment": "prod"},
        {"name": "good-2"},
        {"name": "bad-port", "connection_methods": [{"protocol": "ssh", "host": "h", "port": 0}]},
    ]
    response = manager.post(URL, rows, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "import_failed"
    assert [r["row"] for r in error["rows"]] == [2, 4]
    assert "environment" in error["rows"][0]["errors"]
    assert not Target.objects.exists()


def test_dry_run_validates_and_writes_nothing(manager):
    response = manager.generic("POST", f"{URL}?dry_run=true", CSV.encode(), content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert response.json() == {"dry_run": True, "valid_rows": 3, "imported": 0}
    assert not Target.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[]", "application/json"),
        (b'{"name": "x"}', "application/json"),
        (b"name,unknown_column\nx,y\n", "text/csv"),
        (b"name\n\xff\xfe", "text/csv"),
        (b"<xml/>", "application/xml"),
    ],
)
def test_malformed_imports_are_400s_or_415(manager, body, content_type):
    response = manager.generic("POST", URL, body, content_type=content_type)
    assert response.status_code in (400, 415), response.content
    assert "error" in response.json()
    assert not Target.objects.exists()


def test_viewers_cannot_import(django_user_model):
    viewer = client_for(django_user_model, "viewer")
    assert viewer.post(URL, [{"name": "x"}], format="json").status_code == 403
