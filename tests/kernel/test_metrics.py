"""GET /metrics: the exposition, HTTP request metrics, the kernel's collectors, access rules."""

from __future__ import annotations

import ipaddress
import time
import uuid

import pytest
from celery import current_app
from django.db import transaction
from kombu import Exchange, Queue
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from opsconductor.events import publish
from opsconductor.events.outbox import distinct_database_aliases, relay_pending
from opsconductor.observability.metrics import register_collector, unregister_collector
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(databases="__all__")

OUTSIDE = "203.0.113.7"  # an address in no allowed network (TEST-NET-3)


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    """Every sample of a successful scrape: (name, sorted labels) -> value."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_the_exposition_parses_and_every_collector_answers(client):
    samples = scrape(client)
    for collector in ("execution", "scheduling", "targets", "kernel.outbox", "kernel.broker"):
        assert value(samples, "opsconductor_metrics_collector_up", collector=collector) == 1.0
    assert value(samples, "opsconductor_broker_up") == 1.0
    assert value(samples, "process_resident_memory_bytes") > 0


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    names = {family.name for family in openmetrics_families(response.content.decode())}
    assert {"opsconductor_runs_finished", "opsconductor_run_duration_seconds"} <= names


def test_a_request_is_counted_under_its_route_template_never_its_path(client):
    run_id = uuid.uuid4()
    assert client.get(f"/api/v1/runs/{run_id}/").status_code == 401
    # (outside the API, the admin and static files a path is a page of the console: 200)
    assert client.get("/api/no-such-page/").status_code == 404

    response = client.get("/metrics")
    text = response.content.decode()
    assert str(run_id) not in text and "no-such-page" not in text
    samples = scrape(client)
    route = "/api/v1/runs/{pk}/"
    count = value(
        samples, "opsconductor_http_requests_total", route=route, method="GET", status="401"
    )
    assert count >= 1
    duration_count = value(
        samples, "opsconductor_http_request_duration_seconds_count", route=route, method="GET"
    )
    assert duration_count >= 1
    assert (
        value(
            samples,
            "opsconductor_http_requests_total",
            route="unmatched",
            method="GET",
            status="404",
        )
        >= 1
    )
    # the scrape before this one is counted too
    assert value(
        samples, "opsconductor_http_requests_total", route="/metrics", method="GET", status="200"
    )


def test_a_failing_collector_costs_only_its_own_metrics(client):
    def broken():
        raise RuntimeError("boom")

    register_collector("test.broken", broken)
    try:
        samples = scrape(client)
    finally:
        unregister_collector("test.broken")
    assert value(samples, "opsconductor_metrics_collector_up", collector="test.broken") == 0.0
    assert value(samples, "opsconductor_metrics_collector_up", collector="execution") == 1.0


# -- the outbox ------------------------------------------------------------------------------------


def test_outbox_backlog_and_relayed_events(client, rabbitmq, monkeypatch):
    # no subscriber gets it: nothing reaches a queue a worker of another test would consume
    monkeypatch.setattr("opsconductor.events.outbox.subscribers_for", lambda event_type: [])
    alias = distinct_database_aliases()[0]
    before = scrape(client)
    relayed_before = value(before, "opsconductor_events_relayed_total", alias=alias)
    pending_before = value(before, "opsconductor_outbox_pending", alias=alias)
    assert value(before, "opsconductor_event_failed_deliveries", alias=alias) == 0

    with transaction.atomic(using="default"):
        event_id = publish("kerneltest.metric.created", {"n": 1}, using="default", relay=False)
    time.sleep(0.05)
    waiting = scrape(client)
    assert value(waiting, "opsconductor_outbox_pending", alias=alias) == pending_before + 1
    assert value(waiting, "opsconductor_outbox_oldest_pending_age_seconds", alias=alias) > 0

    assert relay_pending(using="default", event_ids=[event_id]) == 1
    after = scrape(client)
    assert value(after, "opsconductor_events_relayed_total", alias=alias) == relayed_before + 1
    assert value(after, "opsconductor_outbox_pending", alias=alias) == pending_before


# -- the broker ----------------------------------------------------------------------------------


def test_queue_depth_per_queue_and_unknown_queues_left_out(client, settings, rabbitmq):
    name = f"test-metrics-{uuid.uuid4().hex[:8]}"
    unknown = f"{name}-never-declared"
    queue = Queue(
        name,
        Exchange(name, type="direct"),
        routing_key=name,
        queue_arguments={"x-expires": 60_000},
    )
    settings.OPSCONDUCTOR_QUEUES = [unknown, name]  # the unknown one first: the rest still count
    with current_app.connection_for_write() as connection:
        producer = connection.Producer(serializer="json")
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])

        def counted():
            samples = scrape(client)
            return samples if value(samples, "opsconductor_queue_messages", queue=name) == 3 else 0

        try:
            samples = wait_for(counted, timeout=10, what="the three messages to be counted")
        finally:
            queue(connection.default_channel).delete()
    assert value(samples, "opsconductor_broker_up") == 1.0
    assert value(samples, "opsconductor_queue_consumers", queue=name) == 0
    assert value(samples, "opsconductor_queue_messages", queue=unknown) is None


def test_a_broker_that_is_down_is_reported_not_a_failed_scrape(client, settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    started = time.monotonic()
    response = client.get("/metrics")
    assert time.monotonic() - started < 10
    samples = scrape(client)
    assert value(samples, "opsconductor_broker_up") == 0.0
    assert value(samples, "opsconductor_metrics_collector_up", collector="kernel.broker") == 1.0
    assert not any(name == "opsconductor_queue_messages" for name, _ in samples)
    assert "guest" not in response.content.decode()


# -- access ------------------------------------------------------------------------------------


def test_a_client_outside_the_allowed_networks_is_refused_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    # the default networks let the machine itself in
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_an_allowed_network_lets_its_clients_in(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_the_token_is_required_from_outside_and_compared_exactly(client, settings):
    token = "metrics-token-" + uuid.uuid4().hex
    settings.METRICS_TOKEN = token

    missing = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["error"]["code"] == "not_authenticated"

    for wrong in (f"Bearer {token}x", f"Bearer {token[:-1]}", f"Token {token}", token):
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=wrong)
        assert response.status_code in (401, 403), wrong
        assert token not in response.content.decode()

    good = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert good.status_code == 200
    assert token not in good.content.decode()


def test_with_no_network_allowed_only_the_token_gets_in(client, settings):
    token = "metrics-token-" + uuid.uuid4().hex
    settings.METRICS_TOKEN = token
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"bearer {token}")
    assert response.status_code == 200


def test_the_network_rule_sees_the_client_behind_a_trusted_proxy(client, settings):
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    # a gateway on the same machine forwards an outside client: that client is refused
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert response.status_code == 403


def test_a_malformed_allowed_network_stops_the_start(tmp_path):
    from tests.kernel.test_settings_guard import PRODUCTION_ENV, load_settings

    env = {**PRODUCTION_ENV, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)}
    result = load_settings({**env, "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,prometheus.internal"})
    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS: 'prometheus.internal' does not appear" in result.stderr
    assert load_settings({**env, "METRICS_ALLOWED_NETWORKS": ""}).returncode == 0
