"""The execution metrics of GET /metrics follow the runs: a run made through the API on a real
sshd target, executed by the real worker, shows in the counters and duration histograms."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.execution.models import RunTarget, TargetStatus
from apps.execution.tests.conftest import ok, wait_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_finished_run_shows_in_the_run_and_target_metrics(
    client, admin_api, make_fleet, make_job, celery_worker
):
    make_fleet(1, tag="metered")
    job = make_job(
        [{"name": "hello", "kind": "command", "command": "sleep 0.2; echo hello"}],
        selector="tag:metered",
    )
    before = scrape(client)
    assert value(before, "opsconductor_metrics_collector_up", collector="execution") == 1.0

    run = ok(admin_api.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    done = wait_run(admin_api, run["id"])
    assert done["status"] == "succeeded", done
    after = scrape(client)

    def grew(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("opsconductor_runs", status="succeeded") == 1
    assert grew("opsconductor_runs_started_total") == 1
    assert grew("opsconductor_runs_finished_total", status="succeeded") == 1
    assert grew("opsconductor_runs_finished_total", status="failed") == 0
    assert value(after, "opsconductor_runs", status="running") == 0
    assert value(after, "opsconductor_targets_running") == 0
    assert value(after, "opsconductor_targets_pending", status="queued") == 0

    # the histograms: the run and its one target finished within the window
    for name in ("opsconductor_run_duration_seconds", "opsconductor_target_duration_seconds"):
        assert grew(f"{name}_gcount") == 1
        assert grew(f"{name}_bucket", le="+Inf") == 1
        assert value(after, f"{name}_gsum") >= 0.2
    assert grew("opsconductor_target_duration_seconds_bucket", le="3600.0") == 1

    # the request that made it is counted under its route template
    made = value(
        after,
        "opsconductor_http_requests_total",
        route="/api/v1/runs/",
        method="POST",
        status="201",
    )
    assert made >= 1

    # a target the reaper gave up on counts as lost (the counter only grows)
    RunTarget.objects.using("execution").filter(run_id=run["id"]).update(status=TargetStatus.LOST)
    lost = value(scrape(client), "opsconductor_targets_lost_total")
    assert lost == value(before, "opsconductor_targets_lost_total") + 1
