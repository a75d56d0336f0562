"""Forwarding through the bridge to a real HTTP server on loopback, via Django's test client
(it hands the streaming response over piece by piece, enough for these semantics; the real
server tests are in test_real_server.py)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from legacy_bridge.tests.backend import pattern_sha256

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_forwards_method_path_query_and_body_and_streams_the_answer_back(client, legacy):
    payload = json.dumps({"name": "web-1", "tags": ["a", "b"]}).encode()
    response = client.post(
        "/api/v3/echo/targets/7?skip=10&limit=5&q=a%20b&q=c",
        data=payload,
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.streaming  # a StreamingHttpResponse, not a buffered one
    seen = json.loads(body_of(response))
    assert seen["method"] == "POST"
    assert seen["raw_path"] == "/api/v3/echo/targets/7?skip=10&limit=5&q=a%20b&q=c"
    assert seen["body_length"] == len(payload)
    assert seen["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert seen["headers"]["Content-Type"] == "application/json"
    assert response["Content-Type"] == "application/json"
    assert response["X-Backend"] == "legacy"
    assert response["X-Legacy-Bridge"] == "proxy"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_every_method_is_forwarded(client, legacy, method):
    response = getattr(client, method)("/api/v3/echo/x")
    assert response.status_code == 200
    assert legacy.seen[-1]["method"] == method.upper()


def test_schedules_prefix_is_proxied_too(client, legacy):
    response = client.get("/api/schedules/12/executions?page=2")
    assert response.status_code == 200
    assert legacy.seen[-1]["raw_path"] == "/api/schedules/12/executions?page=2"


def test_headers_authorization_untouched_hop_by_hop_dropped_forwarding_headers_added(
    client, legacy
):
    response = client.get(
        "/api/v3/echo/headers",
        headers={
            "Authorization": "Bearer legacy-token-abc.def",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "for the next hop only",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Trailer": "X-Checksum",
            "Upgrade": "h2c",  # (a WebSocket's is refused: test_transparency.py)
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Proxy-Foo": "bar",
            "X-Forwarded-For": "203.0.113.9",
            "X-Request-ID": "req-0123456789abcdef",
            "X-Custom": "kept",
            "Cookie": "sessionid=new-system-session; legacy_session=s1; csrftoken=t0k",
        },
    )
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in legacy.seen[-1]["headers"].items()}
    assert headers["authorization"] == "Bearer legacy-token-abc.def"
    assert headers.get("connection", "") != "keep-alive, X-Secret-Hop"
    assert "x-secret-hop" not in headers and "proxy-foo" not in headers
    assert "proxy-authorization" not in headers and "upgrade" not in headers
    assert "trailer" not in headers and "te" not in headers and "keep-alive" not in headers
    assert headers["x-custom"] == "kept"
    # the new system's session and CSRF cookies are not the backend's business
    assert headers["cookie"] == "legacy_session=s1"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "testserver"
    assert headers["x-request-id"] == "req-0123456789abcdef"
    assert headers["host"] == legacy.url.removeprefix("http://")
    assert response["X-Request-ID"] == "req-0123456789abcdef"


def test_request_id_is_generated_when_the_client_sent_none(client, legacy):
    response = client.get("/api/v3/echo/id")
    sent = legacy.seen[-1]["headers"]["X-Request-ID"]
    assert sent and sent == response["X-Request-ID"]


def test_response_hop_by_hop_headers_dropped_cookies_and_others_kept(client, legacy):
    response = client.get("/api/v3/hop")
    assert response.status_code == 200
    assert body_of(response) == b"ok"
    assert response["X-End-To-End"] == "kept"
    for dropped in ("Connection", "X-Private-Hop", "Keep-Alive", "Proxy-Authenticate"):
        assert not response.has_header(dropped), dropped
    assert response.cookies["legacy_a"].value == "1"
    assert response.cookies["legacy_a"]["httponly"]
    assert response.cookies["legacy_b"].value == "2"
    assert response.cookies["legacy_b"]["path"] == "/api"
    assert "sessionid" not in response.cookies  # it would replace the new system's session


def test_backend_errors_pass_through_unchanged(client, legacy):
    response = client.get("/api/v3/status/404")
    assert response.status_code == 404
    assert json.loads(body_of(response)) == {"detail": "legacy says 404"}
    response = client.post("/api/v3/status/500")
    assert response.status_code == 500
    assert json.loads(body_of(response)) == {"detail": "legacy says 500"}


def test_bridge_needs_no_new_system_auth_and_no_csrf_token(legacy):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(
        "/api/v3/echo/login", data={"username": "u"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert legacy.seen[-1]["method"] == "POST"


def test_large_upload_arrives_intact(client, legacy):
    body = bytes(range(256)) * (12 * 4096)  # 12 MiB
    response = client.put("/api/v3/echo/upload", data=body, content_type="application/octet-stream")
    assert response.status_code == 200
    seen = legacy.seen[-1]
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_large_download_streams_back_intact_in_pieces(client, legacy):
    size = 8 * 1024 * 1024 + 123
    response = client.get(f"/api/v3/download?size={size}")
    assert response.status_code == 200
    assert response["Content-Length"] == str(size)
    digest, pieces, largest = hashlib.sha256(), 0, 0
    for piece in response.streaming_content:
        digest.update(piece)
        pieces += 1
        largest = max(largest, len(piece))
    assert digest.hexdigest() == pattern_sha256(size)
    assert pieces > 100 and largest <= 64 * 1024  # handed over piece by piece


def test_event_stream_passes_through_as_it_arrives(client, legacy):
    response = client.get("/api/v3/events", headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Accel-Buffering"] == "no"
    stream = iter(response.streaming_content)
    first = next(stream)
    # the backend holds the second event back until we have the first one
    assert not legacy.released.is_set()
    assert b"data: first" in first
    received_first_at = time.monotonic()
    legacy.release()
    rest = b"".join(stream)
    assert b"data: second" in rest
    assert received_first_at < legacy.second_event_sent_at


def test_encoded_paths_reach_the_backend_as_they_were_routed(client, legacy):
    assert client.get("/api/v3/echo/100%25/a%20b/caf%C3%A9").status_code == 200
    assert legacy.seen[-1]["path"] == "/api/v3/echo/100%25/a%20b/caf%C3%A9"


def test_dot_segments_are_refused_not_resolved_by_the_backend(client, legacy):
    response = client.get("/api/v3/echo/../../api/v3/analytics")
    assert response.status_code == 400
    assert "segments" in response.json()["detail"]
    assert legacy.seen == []


def test_a_body_shorter_than_announced_is_the_clients_error(client, legacy, settings):
    settings.LEGACY_BRIDGE_BREAKER_FAILURES = 1
    response = client.generic(
        "POST",
        "/api/v3/echo/upload",
        b"only a part",
        content_type="application/octet-stream",
        CONTENT_LENGTH="100000",
    )
    assert response.status_code == 400
    assert "ended before" in response.json()["detail"]
    # not the backend's fault: the breaker (threshold 1) stays closed
    assert client.get("/api/v3/echo/after").status_code == 200
