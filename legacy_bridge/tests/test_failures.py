"""A dead or slow legacy backend: 502 / 504 in the JSON error shape with the request id, the
circuit breaker (opens, answers fast, half-opens, closes), /readyz degraded but ready, and the
Prometheus counters."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from legacy_bridge.tests.backend import LegacyBackend, free_port

pytestmark = pytest.mark.django_db(databases="__all__")


def assert_error_shape(response, status: int, words: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert words in body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    assert body["error"]["request_id"] == response["X-Request-ID"]
    assert body["error"]["message"] == body["detail"]
    return body


def test_backend_down_is_502(client, settings):
    settings.LEGACY_BACKEND_URL = f"http://127.0.0.1:{free_port()}"
    response = client.get("/api/v3/targets", headers={"Authorization": "Bearer tok"})
    body = assert_error_shape(response, 502, "could not be reached")
    assert body["error"]["code"] == "bad_gateway"
    assert "127.0.0.1" not in response.content.decode()  # no backend address leaks


def test_backend_not_configured_is_502_naming_the_setting(client, settings):
    settings.LEGACY_BACKEND_URL = ""
    assert_error_shape(client.get("/api/v3/targets"), 502, "LEGACY_BACKEND_URL")


def test_slow_backend_is_504_after_the_configured_timeout(client, legacy, settings):
    settings.LEGACY_BACKEND_TIMEOUT_SECONDS = 0.4
    started = time.monotonic()
    response = client.get("/api/v3/slow?seconds=3")
    took = time.monotonic() - started
    body = assert_error_shape(response, 504, "did not answer within 0.4 s")
    assert body["error"]["code"] == "gateway_timeout"
    assert 0.35 < took < 2.0
    # under the timeout it is served
    settings.LEGACY_BACKEND_TIMEOUT_SECONDS = 5
    assert client.get("/api/v3/slow?seconds=0.2").status_code == 200


def test_breaker_opens_answers_fast_half_opens_and_closes(client, settings, rabbitmq):
    port = free_port()
    settings.LEGACY_BACKEND_URL = f"http://127.0.0.1:{port}"
    settings.LEGACY_BRIDGE_BREAKER_FAILURES = 3
    settings.LEGACY_BRIDGE_BREAKER_COOLDOWN_SECONDS = 1.0

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"  # the probe finds nobody at the port
    assert "unreachable" in ready.json()["checks"]["legacy_bridge"]

    for _ in range(3):
        assert client.get("/api/v3/x").status_code == 502
    started = time.monotonic()
    response = client.get("/api/v3/x")
    assert time.monotonic() - started < 0.5  # answered at once (no connect attempt)
    assert_error_shape(response, 503, "stopped forwarding")
    assert 1 <= int(response["Retry-After"]) <= 1

    ready = client.get("/readyz")
    assert ready.status_code == 200  # degraded, not unready: the new system keeps serving
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["legacy_bridge"]
    assert "circuit open after 3 consecutive failures" in body["checks"]["legacy_bridge"]

    # after the cool-down one trial goes through; the backend is still down: open again
    time.sleep(1.1)
    assert client.get("/api/v3/x").status_code == 502
    assert client.get("/api/v3/x").status_code == 503

    # the backend comes back; after the next cool-down the trial succeeds and closes it
    backend = LegacyBackend(port=port).start()
    try:
        assert client.get("/api/v3/echo/x").status_code == 503  # still cooling down
        assert backend.seen == []  # while open, nothing reaches the backend
        time.sleep(1.1)
        assert client.get("/api/v3/echo/x").status_code == 200
        assert client.get("/api/v3/echo/y").status_code == 200
        ready = client.get("/readyz").json()
        assert ready["status"] == "ok"
        assert ready["checks"]["legacy_bridge"] == "ok"
    finally:
        backend.stop()


def test_backend_errors_do_not_open_the_breaker(client, legacy, settings):
    settings.LEGACY_BRIDGE_BREAKER_FAILURES = 2
    for _ in range(4):
        assert client.get("/api/v3/status/500").status_code == 500
    assert client.get("/api/v3/echo/ok").status_code == 200


def _samples(client, name: str) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_every_bridged_request_is_counted_by_prefix_method_and_status(client, legacy, settings):
    from legacy_bridge import services
    from opsconductor.events import SYSTEM

    services.route_create(actor=SYSTEM, prefix="/api/v3/audit", mode="retired")
    name = "opsconductor_legacy_bridge_requests_total"
    before = _samples(client, name)
    client.get("/api/v3/echo/1")
    client.get("/api/v3/echo/2")
    client.post("/api/v3/status/422")
    client.get("/api/v3/audit/events")
    after = _samples(client, name)

    def grew(prefix, mode, method, status):
        key = tuple(
            sorted({"prefix": prefix, "mode": mode, "method": method, "status": status}.items())
        )
        return after.get(key, 0) - before.get(key, 0)

    assert grew("/api/v3", "proxy", "GET", "200") == 2
    assert grew("/api/v3", "proxy", "POST", "422") == 1
    assert grew("/api/v3/audit", "retired", "GET", "410") == 1
    histogram = _samples(client, "opsconductor_legacy_bridge_backend_response_seconds_count")
    assert histogram[(("prefix", "/api/v3"),)] >= 3
    state = _samples(client, "opsconductor_legacy_bridge_breaker_state")
    assert state[(("state", "closed"),)] == 1
