"""The targets metric of GET /metrics: targets by last health check result and status."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.targets.models import Target

pytestmark = pytest.mark.django_db(databases="__all__")
DB = "targets"


def targets_metric(client) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    (family,) = (
        family
        for family in text_string_to_metric_families(response.content.decode())
        if family.name == "opsconductor_targets"
    )
    return {(s.labels["health"], s.labels["status"]): s.value for s in family.samples}


def test_targets_are_counted_by_health_and_status(client):
    H, S = Target.Health, Target.Status
    for name, health, status in [
        ("web-1", H.HEALTHY, S.ACTIVE),
        ("web-2", H.HEALTHY, S.ACTIVE),
        ("db-1", H.UNREACHABLE, S.ACTIVE),
        ("old-1", H.AUTH_FAILED, S.INACTIVE),
        ("new-1", H.UNKNOWN, S.MAINTENANCE),
    ]:
        Target.objects.using(DB).create(name=name, health_status=health, status=status)

    counts = targets_metric(client)
    # every combination is reported, so an alert on one never sees a missing series
    assert len(counts) == len(H.values) * len(S.values)
    assert counts[("healthy", "active")] == 2
    assert counts[("unreachable", "active")] == 1
    assert counts[("auth_failed", "inactive")] == 1
    assert counts[("unknown", "maintenance")] == 1
    assert sum(counts.values()) == 5
