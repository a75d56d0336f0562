"""The legacy URL space through the production gateway: real nginx rendered by render.sh with
OC_LEGACY_BACKEND, a web process started by ``deploy/entrypoint.sh web`` (gunicorn, production
settings), and the test legacy backend (legacy_bridge/tests/backend.py) on loopback, which both
the bridge and the gateway reach.

What only this set-up shows: paths without the trailing slash reach the legacy backend
unchanged for every method in production (the gateway's legacy location and no redirect of
Django's in between), the backend's redirects come back on the address the client used (its
port too), and a WebSocket goes through the gateway to the legacy backend and back, checked
and counted by the bridge, its token kept out of the logs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from legacy_bridge.models import TrafficBucket
from legacy_bridge.tests.backend import LegacyBackend, websocket_accept, websocket_frame
from tests.deploy.gateway import (
    SERVER_NAME,
    WebSocket,
    nginx_binary,
    self_signed_certificate,
    start_gateway,
)

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.once,
    # the web process reads what a test writes (routes) and writes what it reads (traffic)
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
TOKEN = "legacy-session-token-5f2b9c"  # in the WebSocket's path, as the UI sends it


@pytest.fixture(scope="module")
def legacy():
    server = LegacyBackend().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker, legacy):
    nginx = nginx_binary()
    gateway = start_gateway(
        nginx,
        web_count=1,
        streams=False,
        web_extra={"LEGACY_BACKEND_URL": legacy.url, "LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS": "0"},
        render_extra={"OC_LEGACY_BACKEND": legacy.url},
    )
    yield gateway
    gateway.stop()


@pytest.fixture(autouse=True)
def _fresh(legacy):
    legacy.seen.clear()
    legacy.websocket_messages.clear()
    legacy.websocket_opened.clear()
    legacy.drop_websockets = False


def public_host(gateway) -> str:
    return gateway.public_host


def counted(prefix: str, status_class: str) -> int:
    return sum(
        TrafficBucket.objects.filter(prefix=prefix, status_class=status_class).values_list(
            "count", flat=True
        )
    )


def test_without_the_slash_every_method_reaches_the_legacy_backend_unchanged(gateway, legacy):
    body = json.dumps({"job_id": 1, "schedule_type": "cron", "cronExpression": "15 3 * * 1-5"})
    for path in ("/api/schedules", "/api/v3/users"):
        for method in METHODS:
            sent_body = b"" if method in ("GET", "HEAD") else body.encode()
            for sent in (path, path + "/"):
                status, headers, _ = gateway.https(
                    method,
                    f"{sent}?job_id=1",
                    body=sent_body,
                    headers={
                        "Host": public_host(gateway),
                        "Content-Type": "application/json",
                        "Authorization": "Bearer legacy-access-token",
                    },
                )
                seen = legacy.seen[-1]
                where = f"{method} {sent}"
                assert (seen["method"], seen["raw_path"]) == (method, f"{sent}?job_id=1"), where
                assert seen["body_length"] == len(sent_body), where
                assert seen["body_sha256"] == hashlib.sha256(sent_body).hexdigest(), where
                assert seen["headers"]["Authorization"] == "Bearer legacy-access-token"
                if sent == path:
                    # the backend's own 307, on the address the browser used (port included)
                    assert status == 307, where
                    assert headers["Location"] == (
                        f"https://{public_host(gateway)}{path}/?job_id=1"
                    ), where
                else:
                    assert status == 200, where
    assert len(legacy.seen) == 2 * 2 * len(METHODS)  # no retry, no redirect followed


def test_the_location_is_the_host_the_client_used(gateway, legacy):
    status, headers, _ = gateway.https("GET", "/api/schedules")  # Host without a port
    assert status == 307 and headers["Location"] == f"https://{SERVER_NAME}/api/schedules/"
    # the backend was asked on its own address (which is what it wrote in its Location)
    assert legacy.seen[-1]["headers"]["Host"] == legacy.url.removeprefix("http://")
    assert legacy.seen[-1]["headers"]["X-Forwarded-Proto"] == "https"


def test_without_the_slash_the_legacy_locations_limits_apply(gateway, legacy):
    """An 11 MiB body is over the gateway's general limit (10 MiB) and within the legacy
    location's: /api/schedules without the slash is the legacy location's."""
    body = os.urandom(11 * 1024 * 1024)
    status, _, _ = gateway.https(
        "POST", "/api/schedules", body=body,
        headers={"Content-Type": "application/octet-stream"}, timeout=60,
    )  # fmt: skip
    assert status == 307
    assert legacy.seen[-1]["body_sha256"] == hashlib.sha256(body).hexdigest()
    # and a path beside it is not the legacy URL space: the general limit answers
    status, _, body = gateway.https(
        "POST", "/api/schedulesx", body=b"x" * (11 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"}, timeout=60,
    )  # fmt: skip
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"


def test_a_websocket_goes_through_the_gateway_to_the_legacy_backend_and_is_counted(gateway, legacy):
    before = counted("/api/v3", "1xx")
    ws = WebSocket(gateway, f"/api/v3/websocket/connect/{TOKEN}?client=ui")
    try:
        assert ws.status == 101, ws.headers
        assert ws.headers["upgrade"].lower() == "websocket"
        assert ws.headers["sec-websocket-accept"] == websocket_accept(ws.key)
        # one message each way
        ws.send("hello from the legacy UI")
        assert ws.receive() == (1, b"echo: hello from the legacy UI")
        assert legacy.websocket_messages == ["hello from the legacy UI"]
        ws.sock.sendall(websocket_frame(b"\x03\xe8", opcode=8, masked=True))  # close, 1000
        assert ws.receive()[0] == 8
    finally:
        ws.close()
    seen = legacy.seen[-1]
    assert seen["raw_path"] == f"/api/v3/websocket/connect/{TOKEN}?client=ui"
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert seen["headers"]["X-Forwarded-Host"] == public_host(gateway)
    request_id = seen["headers"]["X-Request-ID"]
    # counted by the bridge, which the gateway asked first: a connection let through (1xx)
    assert counted("/api/v3", "1xx") == before + 1
    # logged by the gateway with its outcome, the token kept out of every log
    (entry,) = gateway.logged(lambda e: e["request_id"] == request_id)
    assert entry["status"] == 101 and entry["upstream"] == legacy.url.removeprefix("http://")
    assert entry["uri"] == "/api/v3/websocket/connect/***?client=ui"
    time.sleep(0.5)  # the web process writes its access log line after answering
    for log in (gateway.access_log, gateway.web[0].log, gateway.base / "error.log"):
        assert TOKEN not in log.read_text(errors="replace"), log.name


def test_a_websocket_under_a_retired_prefix_gets_the_bridges_answer(gateway, legacy):
    from legacy_bridge import services
    from opsconductor.events import SYSTEM

    services.route_create(
        actor=SYSTEM, prefix="/api/v3/websocket", mode="retired", message="Live updates ended."
    )
    ws = WebSocket(gateway, f"/api/v3/websocket/connect/{TOKEN}")
    try:
        assert ws.status == 410
        body = json.loads(ws.body())
        assert body["detail"] == "Live updates ended." and body["mode"] == "retired"
    finally:
        ws.close()
    assert legacy.seen == []  # neither the gateway nor the bridge went to the backend
    assert counted("/api/v3/websocket", "4xx") == 1 and counted("/api/v3/websocket", "1xx") == 0
    # the bridge got the path with the token masked, as the check does
    time.sleep(0.5)
    assert TOKEN not in gateway.web[0].log.read_text(errors="replace")
    assert '/api/v3/websocket/connect/*** HTTP/1.1" 410' in gateway.web[0].log.read_text()


def test_a_plain_request_to_the_websocket_path_is_the_bridges_to_forward(gateway, legacy):
    status, _, _ = gateway.https("GET", "/api/v3/websocket/connect/plain-get")
    assert status == 404  # the backend's websocket route answers a plain GET with 404
    assert legacy.seen[-1]["raw_path"] == "/api/v3/websocket/connect/plain-get"
    assert "Upgrade" not in legacy.seen[-1]["headers"]
    # only a GET opens a WebSocket: a POST asking for an upgrade is an ordinary request
    status, _, _ = gateway.https(
        "POST", "/api/v3/echo/upgrade", body=b"{}",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "x"},
    )  # fmt: skip
    assert status == 200
    assert legacy.seen[-1]["method"] == "POST" and legacy.seen[-1]["body_length"] == 2


def test_a_websocket_the_legacy_backend_drops_gets_a_502_in_the_legacy_shape(gateway, legacy):
    legacy.drop_websockets = True
    try:
        ws = WebSocket(gateway, f"/api/v3/websocket/connect/{TOKEN}")
        try:
            assert ws.status == 502
            body = json.loads(ws.body())
        finally:
            ws.close()
    finally:
        legacy.drop_websockets = False
    assert body["detail"] == "The legacy backend could not be reached."
    assert body["error"]["code"] == "bad_gateway"
    assert body["request_id"] == ws.headers["x-request-id"]
    assert ws.headers["strict-transport-security"].startswith("max-age=")
    # the failure is in the access log, the token masked; nginx's error log, which would
    # write the request line with the token, has nothing of it
    (entry,) = gateway.logged(lambda e: e["request_id"] == body["request_id"])
    assert (entry["status"], entry["uri"]) == (502, "/api/v3/websocket/connect/***")
    assert TOKEN not in (gateway.base / "error.log").read_text(errors="replace")


def test_an_https_legacy_backend_is_reached_only_with_a_certificate_the_gateway_trusts(tmp_path):
    """OC_LEGACY_CA: the gateway verifies an https legacy backend's certificate; one signed by
    an authority it does not trust gets the bridge's 502, and nothing reaches the backend."""
    nginx = nginx_binary()
    tmp_path.chmod(0o755)
    cert, key = self_signed_certificate(tmp_path, "legacy", "IP:127.0.0.1")
    other_ca, _ = self_signed_certificate(tmp_path, "other", "DNS:other.test")
    backend = LegacyBackend(tls=(str(cert), str(key))).start()
    statuses = []
    try:
        for ca in (other_ca, cert):
            gateway = start_gateway(
                nginx,
                web_count=1,
                streams=False,
                web_extra={"LEGACY_BACKEND_URL": backend.url, "SSL_CERT_FILE": str(cert)},
                render_extra={"OC_LEGACY_BACKEND": backend.url, "OC_LEGACY_CA": str(ca)},
            )
            try:
                ws = WebSocket(gateway, f"/api/v3/websocket/connect/{TOKEN}")
                try:
                    statuses.append(ws.status)
                    if ws.status == 101:
                        ws.send("over TLS")
                        assert ws.receive() == (1, b"echo: over TLS")
                finally:
                    ws.close()
            finally:
                gateway.stop()
    finally:
        backend.stop()
    assert statuses == [502, 101]
    assert backend.websocket_messages == ["over TLS"]  # the refused one never got through
