"""Proxy mode is transparent: the legacy backend's own address never reaches the client (its
``Location`` headers are rewritten to the address the client used), paths with and without a
trailing slash reach the backend exactly as sent, for every method, with no redirect of ours in
between, and a WebSocket, which a WSGI process cannot carry, is refused with the reason here
and checked (and counted) for the gateway, which carries it (tests/deploy/test_legacy_gateway.py).

A real legacy backend on loopback (backend.py), Django's test client through the whole
middleware stack; ``DEBUG`` on (``make run``) and off (production) where it matters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import pytest

from legacy_bridge import services
from legacy_bridge.views import UPGRADE_CHECK_META
from opsconductor.events import SYSTEM

pytestmark = pytest.mark.django_db(databases="__all__")

RECORDINGS = Path(__file__).parent / "recordings"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What a browser sends to open a WebSocket (RFC 6455 4.1)
WEBSOCKET = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def redirect_path(status: int, **headers: str) -> str:
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in headers.items())
    return f"/api/v3/redirect/{status}?{query}"


def traffic_of(api, prefix: str) -> dict:
    routes = {r["prefix"]: r for r in api(admin=True).get("/api/v1/bridge/routes/").json()}
    return routes[prefix]["last_day"]


# --- Location, Content-Location, Refresh -------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_to_the_backends_own_address_point_to_the_clients_address(client, legacy, status):
    response = client.get(
        redirect_path(
            status,
            location=f"{legacy.url}/api/v3/users/?skip=0&q=a%20b#top",
            content_location=f"{legacy.url}/api/v3/users/7",
        )
    )
    assert response.status_code == status
    assert response["Location"] == "http://testserver/api/v3/users/?skip=0&q=a%20b#top"
    assert response["Content-Location"] == "http://testserver/api/v3/users/7"
    assert legacy.url.removeprefix("http://") not in str(response.headers)


def test_the_backends_address_is_recognised_in_every_spelling(client, legacy):
    host_port = legacy.url.removeprefix("http://")
    port = host_port.rsplit(":", 1)[1]
    for location in (
        f"{legacy.url}/api/v3/a",
        f"//{host_port}/api/v3/a",  # scheme-relative
        f"https://{host_port}/api/v3/a",  # a backend that believes X-Forwarded-Proto
        f"HTTP://127.0.0.1:{port}/api/v3/a",  # case of scheme and host do not matter
    ):
        response = client.get(redirect_path(302, location=location))
        assert response["Location"] == "http://testserver/api/v3/a", location


def test_relative_and_foreign_locations_are_left_alone(client, legacy):
    port = int(legacy.url.rsplit(":", 1)[1])
    for location in (
        "/api/v3/users/",  # relative: the client resolves it against the bridge's address
        "users/?x=1",
        "https://sso.example.com/login?next=/api/v3/",  # another host
        f"http://127.0.0.1:{port + 1}/api/v3/a",  # the same host, another port
        "http://127.0.0.1/api/v3/a",  # port 80, not the backend's
        "mailto:ops@example.com",
    ):
        response = client.get(redirect_path(302, location=location, content_location=location))
        assert response["Location"] == location
        assert response["Content-Location"] == location


def test_refresh_pointing_at_the_backend_is_rewritten_too(client, legacy):
    response = client.get(redirect_path(200, refresh=f"5; url={legacy.url}/api/v3/ready"))
    assert response["Refresh"] == "5; url=http://testserver/api/v3/ready"
    response = client.get(redirect_path(200, refresh=f"0;URL='{legacy.url}/x'"))
    assert response["Refresh"] == "0;URL='http://testserver/x'"
    response = client.get(redirect_path(200, refresh="3; url=/api/v3/later"))
    assert response["Refresh"] == "3; url=/api/v3/later"


def test_the_public_address_is_the_one_the_client_used_as_django_sees_it(client, legacy, settings):
    """Scheme from the trusted proxy's X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER), host and
    port from the Host header, which must be in ALLOWED_HOSTS."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["ops.example.com"]
    response = client.get(
        "/api/schedules?job_id=1",
        headers={"Host": "ops.example.com:8443", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 307
    assert response["Location"] == "https://ops.example.com:8443/api/schedules/?job_id=1"
    # a Host Django does not serve is refused before anything reaches the backend
    response = client.get("/api/schedules", headers={"Host": "evil.example.net"})
    assert response.status_code == 400
    assert len(legacy.seen) == 1


def test_the_recorded_slash_redirects_of_the_real_backend_come_back_on_the_public_address(
    client, legacy
):
    """The real backend's 307s (recorded, its own address in Location), replayed: the test
    backend answers as it did, on its own address, and the client gets ours."""
    index = json.loads((RECORDINGS / "index.json").read_text())["recordings"]
    redirects = [entry for entry in index if entry["file"].endswith("_no_slash_307.json")]
    assert len(redirects) == 3
    for entry in redirects:
        exchange = json.loads((RECORDINGS / entry["file"]).read_text())
        request, recorded = exchange["request"], exchange["response"]
        query = urlencode(request["query"])
        body = json.dumps(request["body"]).encode() if request["body"] is not None else b""
        response = client.generic(
            request["method"],
            request["path"] + (f"?{query}" if query else ""),
            body,
            content_type=request["headers"].get("Content-Type", "application/octet-stream"),
            headers={"Authorization": request["headers"]["Authorization"]},
        )
        assert response.status_code == recorded["status"] == 307, entry["file"]
        # Location is volatile in its scheme, host and port only (the backend's address)
        recorded_location = urlsplit(recorded["headers"]["location"])
        expected = urlunsplit(("http", "testserver", *recorded_location[2:]))
        assert response["Location"] == expected, entry["file"]
        seen = legacy.seen[-1]
        assert seen["raw_path"] == request["path"] + (f"?{query}" if query else "")
        assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


# --- with and without the trailing slash --------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False], ids=["development", "production"])
@pytest.mark.parametrize("path", ["/api/schedules", "/api/v3/users"])
@pytest.mark.parametrize("method", METHODS)
def test_with_or_without_the_slash_every_method_reaches_the_backend_as_sent(
    client, legacy, settings, method, path, debug
):
    """No APPEND_SLASH redirect of ours (a 500 for a POST in development, a body-dropping 301
    in production): the backend answers, here with its own 307 to the slash."""
    settings.DEBUG = debug
    body = b"" if method in ("GET", "HEAD") else b'{"job_id": 1, "schedule_type": "cron"}'
    for sent in (path, path + "/"):
        response = client.generic(method, f"{sent}?job_id=1", body, content_type="application/json")
        seen = legacy.seen[-1]
        assert (seen["method"], seen["raw_path"]) == (method, f"{sent}?job_id=1")
        assert seen["body_length"] == len(body)
        assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
        if sent == path:
            assert response.status_code == 307
            assert response["Location"] == f"http://testserver{path}/?job_id=1"
        else:
            assert response.status_code == 200
    assert len(legacy.seen) == 2


def test_the_bare_prefixes_reach_the_backend_and_their_siblings_do_not(client, legacy):
    assert client.post("/api/v3", b"{}", content_type="application/json").status_code == 404
    assert legacy.seen[-1]["path"] == "/api/v3"  # the backend's own 404
    assert client.get("/api/schedules").status_code == 307
    # not the legacy URL space: Django's own 404, nothing forwarded
    for path in ("/api/schedulesx", "/api/v3x/users", "/api/v30"):
        response = client.get(path)
        assert response.status_code == 404 and "X-Legacy-Bridge" not in response, path
    assert len(legacy.seen) == 2


def test_requests_without_the_slash_are_counted_under_their_prefix(api, client, legacy):
    client.get("/api/schedules?job_id=1")
    client.post("/api/schedules", b"{}", content_type="application/json")
    client.get("/api/schedules/?job_id=1")
    client.get("/api/v3/users")
    assert traffic_of(api, "/api/schedules") == {
        "total": 3,
        "by_status_class": {"2xx": 1, "3xx": 2},
        "by_method": {"GET": 2, "POST": 1},
    }
    assert traffic_of(api, "/api/v3")["by_status_class"] == {"3xx": 1}


# --- WebSockets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False], ids=["development", "production"])
def test_a_websocket_cannot_pass_through_the_bridge_and_is_told_why(
    api, client, legacy, settings, debug
):
    settings.DEBUG = debug
    response = client.get("/api/v3/websocket/connect/legacy-token", headers=WEBSOCKET)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "not_implemented"
    detail = response.json()["detail"]
    assert "cannot pass through the legacy bridge" in detail and "OC_LEGACY_BACKEND" in detail
    # a proxy in front dropped the hop-by-hop Upgrade and Connection: still a WebSocket
    response = client.get(
        "/api/v3/websocket/connect/legacy-token",
        headers={
            "Sec-WebSocket-Key": WEBSOCKET["Sec-WebSocket-Key"],
            "Sec-WebSocket-Version": "13",
        },
    )
    assert response.status_code == 501
    assert legacy.seen == []  # never sent on as a plain GET
    assert traffic_of(api, "/api/v3")["by_status_class"] == {"5xx": 2}
    # a plain request to the same path is proxied as ever
    assert client.get("/api/v3/websocket/connect/legacy-token").status_code == 404
    assert legacy.seen[-1]["path"] == "/api/v3/websocket/connect/legacy-token"


def test_a_retired_websocket_prefix_answers_its_410(client, legacy):
    services.route_create(actor=SYSTEM, prefix="/api/v3/websocket", mode="retired")
    response = client.get("/api/v3/websocket/connect/t", headers=WEBSOCKET)
    assert response.status_code == 410 and response.json()["mode"] == "retired"


def test_the_gateways_websocket_check_follows_the_route_table_and_counts_the_connection(
    api, client, legacy
):
    """The gateway asks before it carries a WebSocket to the legacy backend itself."""
    check = {
        "Sec-WebSocket-Key": WEBSOCKET["Sec-WebSocket-Key"],
        "X-Legacy-Bridge-Check": "websocket",
    }
    assert UPGRADE_CHECK_META == "HTTP_X_LEGACY_BRIDGE_CHECK"
    response = client.get("/api/v3/websocket/connect/***", headers=check)
    assert response.status_code == 204 and response["X-Legacy-Bridge"] == "proxy"
    assert legacy.seen == []  # only asked; the gateway connects
    assert traffic_of(api, "/api/v3") == {
        "total": 1,
        "by_status_class": {"1xx": 1},
        "by_method": {"GET": 1},
    }
    # not under a proxied prefix: refused (the gateway then sends the request here itself and
    # the route's own answer is what is counted)
    services.route_create(actor=SYSTEM, prefix="/api/v3/websocket", mode="retired")
    response = client.get("/api/v3/websocket/connect/***", headers=check)
    assert response.status_code == 403 and response["X-Legacy-Bridge"] == "retired"
    assert response.content == b""
    assert traffic_of(api, "/api/v3/websocket")["total"] == 0
    # dot segments are never let through to a backend that might resolve them
    services.route_create(actor=SYSTEM, prefix="/api/v3/open", mode="proxy")
    response = client.get("/api/v3/open/%2E%2E/websocket/connect/x", headers=check)
    assert response.status_code == 403
    # only a GET opens a WebSocket; the question is never forwarded, whatever the method
    response = client.post("/api/v3/echo/x", b"", content_type="text/plain", headers=check)
    assert response.status_code == 403
    assert legacy.seen == []
    # nor is the header, on a request that is not the question
    response = client.post(
        "/api/v3/echo/x", b"", content_type="text/plain", headers={"X-Legacy-Bridge-Check": "1"}
    )
    assert response.status_code == 200 and legacy.seen[-1]["method"] == "POST"
    assert "X-Legacy-Bridge-Check" not in legacy.seen[-1]["headers"]
