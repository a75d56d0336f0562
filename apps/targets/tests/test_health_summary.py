"""GET /api/v1/targets/health-summary/: targets by health and the host keys waiting for a
decision, the same numbers as the list's ``health_status`` and ``host_key_pending`` filters."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.targets.models import ConnectionMethod, HostKey, Target
from apps.targets.tests.api import client_for

DB = "targets"
pytestmark = pytest.mark.django_db(databases="__all__")


def target(name: str, health: str, *, pending_keys: int = 0) -> Target:
    made = Target.objects.using(DB).create(name=name, health_status=health)
    method = ConnectionMethod.objects.using(DB).create(
        target=made, protocol="ssh", host="127.0.0.1", port=22, is_primary=True
    )
    for i in range(pending_keys):
        HostKey.objects.using(DB).create(
            method=method, algorithm="ssh-ed25519", public_key=f"AAAA{name}{i}",
            fingerprint=f"SHA256:{name}{i}", source="scan",
        )  # fmt: skip
    return made


def test_targets_by_health_and_pending_host_keys_match_the_lists_filters(django_user_model):
    viewer = client_for(django_user_model, "viewer")
    target("web-1", "healthy")
    target("web-2", "healthy")
    target("db-1", "unreachable")
    target("db-2", "auth_failed")
    target("new-1", "host_key_unknown", pending_keys=2)
    target("moved-1", "host_key_mismatch", pending_keys=1)
    Target.objects.using(DB).create(name="fresh", health_status="unknown")

    response = viewer.get("/api/v1/targets/health-summary/")
    assert response.status_code == 200, response.content
    summary = response.json()

    assert summary["total"] == 7
    assert summary["by_health"]["healthy"] == 2
    assert summary["by_health"]["unreachable"] == 1
    assert summary["by_health"]["auth_failed"] == 1
    assert summary["by_health"]["scope_refused"] == 0  # every health is named, zeros too
    assert summary["pending_host_keys"] == 3
    assert summary["targets_with_pending_host_keys"] == 2

    def listed(**params) -> list[str]:
        response = viewer.get("/api/v1/targets/", params)
        assert response.status_code == 200, response.content
        return sorted(row["name"] for row in response.json()["results"])

    assert listed(health_status="healthy") == ["web-1", "web-2"]
    # several healths at once (the dashboard's "host key changed or pending")
    assert listed(health_status=["host_key_unknown", "host_key_mismatch"]) == ["moved-1", "new-1"]
    assert listed(host_key_pending="true") == ["moved-1", "new-1"]
    assert len(listed(host_key_pending="false")) == 5
    bad = viewer.get("/api/v1/targets/", {"host_key_pending": "maybe"})
    assert bad.status_code == 400 and "host_key_pending" in bad.json()["error"]["fields"]
    bad = viewer.get("/api/v1/targets/", {"health_status": "sick"})
    assert bad.status_code == 400 and "health_status" in bad.json()["error"]["fields"]


def test_the_summary_takes_the_same_queries_whatever_the_fleet(django_user_model, client):
    viewer = client_for(django_user_model, "viewer")

    def queries() -> int:
        with CaptureQueriesContext(connections[DB]) as captured:
            assert viewer.get("/api/v1/targets/health-summary/").status_code == 200
        return len(captured)

    target("a", "healthy", pending_keys=1)
    few = queries()
    for i in range(30):
        target(f"t{i}", "unreachable" if i % 2 else "healthy", pending_keys=i % 3)
    assert queries() == few
    assert client.get("/api/v1/targets/health-summary/").status_code == 401
