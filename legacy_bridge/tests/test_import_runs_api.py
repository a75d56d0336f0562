"""GET /api/v1/bridge/import-runs/ (and one run): the legacy import's runs with their reports,
read only, for admins and auditors; and the adapters name the prefix they serve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from legacy_bridge.importing.models import ImportRun

pytestmark = pytest.mark.django_db(databases="__all__")


def report(**tables) -> dict:
    return {
        "ok": all(t.get("failed", 0) == 0 for t in tables.values()),
        "error": "",
        "tables": {name: {"table": name, **values} for name, values in tables.items()},
    }


def test_import_runs_newest_first_with_totals_and_the_whole_report(api, client):
    now = timezone.now()
    older = ImportRun.objects.create(
        started_at=now - timedelta(days=1), finished_at=now - timedelta(days=1), status="finished",
        report=report(users={"read": 3, "imported": 3}, targets={"read": 10, "imported": 8,
                                                                  "skipped": 1, "failed": 1,
                                                                  "failures": [{"id": "7", "reason": "no host"}]}),
    )  # fmt: skip
    running = ImportRun.objects.create(started_at=now, only=["jobs"])
    admin = api(admin=True)

    listed = admin.get("/api/v1/bridge/import-runs/")
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["id"] == str(running.id) and first["status"] == "running" and first["ok"] is None
    assert first["only"] == ["jobs"]
    assert second["totals"] == {
        "read": 13, "imported": 11, "already_present": 0, "skipped": 1, "failed": 1,
    }  # fmt: skip
    assert second["ok"] is False and "report" not in second

    detail = admin.get(f"/api/v1/bridge/import-runs/{older.id}/")
    assert detail.status_code == 200
    failures = detail.json()["report"]["tables"]["targets"]["failures"]
    assert failures == [{"id": "7", "reason": "no host"}]
    assert (
        admin.get("/api/v1/bridge/import-runs/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )
    # read only
    assert admin.post("/api/v1/bridge/import-runs/", {}).status_code == 405
    assert admin.delete(f"/api/v1/bridge/import-runs/{older.id}/").status_code == 405


def test_import_runs_are_for_admins_and_auditors(api, client):
    run = ImportRun.objects.create(started_at=timezone.now())
    assert client.get("/api/v1/bridge/import-runs/").status_code == 401
    for traits in ({}, {"operator": True}, {"manager": True}):
        user = api(**traits)
        assert user.get("/api/v1/bridge/import-runs/").status_code == 403, traits
        assert user.get(f"/api/v1/bridge/import-runs/{run.id}/").status_code == 403, traits
    assert api(manager=True, is_auditor=True).get("/api/v1/bridge/import-runs/").status_code == 200


def test_each_area_adapter_names_the_prefix_it_serves(api):
    adapters = {a["name"]: a for a in api(admin=True).get("/api/v1/bridge/adapters/").json()}
    assert adapters["legacy-jobs"]["root"] == "/api/v3/jobs"
    assert adapters["legacy-api-schedules"]["root"] == "/api/schedules"
