"""The production gateway (deploy/nginx/) in front of two real web processes.

Real nginx with the shipped configuration as ``render.sh`` renders it, a self-signed certificate,
random high ports; two gunicorn processes started by ``deploy/entrypoint.sh web`` with production
settings on the test databases. Skipped when nginx is not installed, failed in CI (CI=true).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections
from rest_framework_simplejwt.tokens import RefreshToken

from apps.execution.models import Run, RunEvent, RunStatus, RunTarget, TargetStatus
from tests.deploy.gateway import (
    ALLOWED_ORIGIN,
    ROOT,
    SERVER_NAME,
    WebSocket,
    nginx_binary,
    start_gateway,
)
from tests.fixtures import wait_for

pytestmark = [pytest.mark.nginx, pytest.mark.once]
# the web processes read what a test writes: committed data (and a flush after the test)
with_data = pytest.mark.django_db(transaction=True, databases="__all__")
STREAM_COUNT = 100


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker):
    nginx = nginx_binary()
    gateway = start_gateway(nginx, web_count=2)
    yield gateway
    gateway.stop()


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user(username="gw-admin", password="x", role="admin")
    return str(RefreshToken.for_user(user).access_token)


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


def test_tls_is_modern_and_plain_http_redirects_to_https(gateway):
    conn = gateway.connection()
    conn.request("GET", "/healthz", headers={"Host": SERVER_NAME})
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    assert conn.sock.version() == "TLSv1.3"
    assert conn.sock.getpeercert()["subject"] == ((("commonName", SERVER_NAME),),)
    conn.close()

    # HTTP/2 is offered (browsers then carry any number of live streams on one connection)
    h2 = ssl.create_default_context(cafile=str(gateway.cert))
    h2.set_alpn_protocols(["h2", "http/1.1"])
    raw = socket.create_connection(("127.0.0.1", gateway.https_port), timeout=10)
    with h2.wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
        assert tls.selected_alpn_protocol() == "h2"

    # TLS 1.2 only with forward-secret AEAD ciphers: a client offering CBC suites only (which
    # nginx's default cipher list would accept) gets no session
    for ciphers, accepted in (("ECDHE-ECDSA-AES128-GCM-SHA256", True),
                              ("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA", False)):  # fmt: skip
        tls12 = ssl.create_default_context(cafile=str(gateway.cert))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        tls12.set_ciphers(ciphers)
        conn = gateway.connection()
        conn._tls_context = tls12
        if accepted:
            conn.request("GET", "/healthz", headers={"Host": SERVER_NAME})
            assert conn.getresponse().status == 200
            assert conn.sock.version() == "TLSv1.2" and conn.sock.cipher()[0] == ciphers
        else:
            with pytest.raises(ssl.SSLError):
                conn.request("GET", "/healthz", headers={"Host": SERVER_NAME})
        conn.close()

    status, headers, _ = gateway.http("GET", "/api/v1/runs/?status=running")
    assert status == 301
    assert headers["Location"] == (
        f"https://{SERVER_NAME}:{gateway.https_port}/api/v1/runs/?status=running"
    )
    # except a certificate authority's HTTP-01 challenge, answered from the ACME directory
    challenge = gateway.base / "acme" / ".well-known" / "acme-challenge" / "t0ken"
    challenge.write_text("t0ken.thumbprint")
    status, _, body = gateway.http("GET", "/.well-known/acme-challenge/t0ken")
    assert status == 200 and body == b"t0ken.thumbprint"


def test_security_headers_are_on_every_answer_once(gateway):
    for path in ("/healthz", "/api/v1/me/", "/no-such-page/"):
        status, headers, _ = gateway.https("GET", path)
        assert status in {200, 401, 404}, path
        assert headers.get_all("Strict-Transport-Security") == [
            "max-age=63072000; includeSubDomains"
        ]
        assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
        assert headers.get_all("X-Frame-Options") == ["DENY"]
        assert headers.get_all("Referrer-Policy") == ["same-origin"]
        (csp,) = headers.get_all("Content-Security-Policy")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "Server" not in headers or "nginx/" not in headers["Server"]  # no version


def test_the_api_docs_page_runs_under_the_content_security_policy(gateway):
    status, headers, body = gateway.https("GET", "/api/docs/")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    page = body.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.DOTALL)
    assert scripts and all('src="/' in attrs and not code.strip() for attrs, code in scripts)
    # its start-up script comes from this server, as a file
    status, headers, body = gateway.https("GET", "/api/docs/?script=")
    assert status == 200 and "javascript" in headers["Content-Type"] and b"SwaggerUI" in body


def test_static_files_come_from_disk(gateway):
    (gateway.static_root / "probe.css").write_text("body { color: #123456; }\n")
    status, headers, body = gateway.https("GET", "/static/probe.css")
    assert status == 200 and body == b"body { color: #123456; }\n"
    assert headers["Content-Type"] == "text/css"
    assert "max-age=604800" in headers["Cache-Control"]
    # served by nginx, never by a web process (production Django serves no static files)
    assert gateway.https("GET", "/static/missing.css")[0] == 404
    logged = gateway.logged(lambda e: e["uri"] == "/static/missing.css")
    assert logged and logged[-1]["upstream"] == ""


def test_request_id_is_generated_or_passed_through_and_logged_as_json(gateway):
    status, headers, body = gateway.https("GET", "/api/v1/me/")
    assert status == 401
    generated = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert error_of(body)["request_id"] == generated  # the web process got the same id

    status, headers, body = gateway.https(
        "GET", "/api/v1/me/", headers={"X-Request-ID": "client-chosen-id-42"}
    )
    assert headers.get_all("X-Request-ID") == ["client-chosen-id-42"]
    assert error_of(body)["request_id"] == "client-chosen-id-42"

    # an id the application would refuse (spaces, too short) is replaced at the gateway already
    status, headers, body = gateway.https("GET", "/api/v1/me/", headers={"X-Request-ID": "a b"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert error_of(body)["request_id"] == headers["X-Request-ID"]

    (entry,) = gateway.logged(lambda e: e["request_id"] == "client-chosen-id-42")
    assert entry["status"] == 401 and entry["method"] == "GET" and entry["uri"] == "/api/v1/me/"
    assert entry["tls"] in {"TLSv1.2", "TLSv1.3"}
    assert entry["upstream"].startswith("127.0.0.1:")


def test_the_legacy_url_space_reaches_the_bridge_with_or_without_the_slash(gateway):
    """No legacy backend here (neither LEGACY_BACKEND_URL nor OC_LEGACY_BACKEND): every path of
    the legacy URL space gets the bridge's answer, a WebSocket the reason it is not carried
    (the gateway without OC_LEGACY_BACKEND leaves WebSockets to the bridge, which cannot)."""
    for method, path in [("POST", "/api/schedules"), ("GET", "/api/v3"), ("PUT", "/api/v3/x/")]:
        status, headers, body = gateway.https(method, path, body=b"{}")
        assert status == 502 and headers["X-Legacy-Bridge"] == "proxy", (method, path)
        assert "LEGACY_BACKEND_URL" in json.loads(body)["detail"]
    ws = WebSocket(gateway, "/api/v3/websocket/connect/a-legacy-token")
    try:
        assert ws.status == 501
        assert "OC_LEGACY_BACKEND" in json.loads(ws.body())["detail"]
    finally:
        ws.close()
    (entry,) = gateway.logged(lambda e: e["request_id"] == ws.headers["x-request-id"])
    assert entry["uri"] == "/api/v3/websocket/connect/***"  # the token kept out of the log


def test_cors_only_for_the_configured_origins(gateway):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
    status, headers, body = gateway.https(
        "OPTIONS", "/api/v1/runs/", headers={"Origin": ALLOWED_ORIGIN, **preflight}
    )
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Max-Age"] == "600"

    status, headers, _ = gateway.https(
        "OPTIONS", "/api/v1/runs/", headers={"Origin": "https://evil.example.net", **preflight}
    )
    assert not [name for name in headers if name.lower().startswith("access-control-")]

    status, headers, _ = gateway.https("GET", "/api/v1/me/", headers={"Origin": ALLOWED_ORIGIN})
    assert status == 401
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "X-Request-ID" in headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Methods" not in headers  # only on preflights
    status, headers, _ = gateway.https(
        "GET", "/api/v1/me/", headers={"Origin": "https://evil.example.net"}
    )
    assert "Access-Control-Allow-Origin" not in headers


@with_data
def test_an_oversize_body_is_refused_with_413(gateway, token):
    conn = gateway.connection()
    conn.putrequest("POST", "/api/v1/jobs/", skip_host=True)
    conn.putheader("Host", SERVER_NAME)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(11 * 1024 * 1024))  # the limit is 10 MB
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    error = error_of(response.read())
    assert error["code"] == "request_too_large"
    assert error["request_id"] == response.headers["X-Request-ID"]
    conn.close()
    # a body under the limit reaches the application (which answers for its content)
    status, _, body = gateway.https(
        "POST", "/api/v1/jobs/", body=json.dumps({"name": "x" * 2000}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 400 and "name" in error_of(body)["fields"]


def _make_running_run() -> tuple[Run, RunTarget]:
    run = Run.objects.using("execution").create(
        job_id=uuid.uuid4(), job_name="stream", job_version=1, definition={}, parameters={},
        sealed_parameters="", policy={"max_parallel": 10}, trigger="manual",
        requested_by={"kind": "system"}, status=RunStatus.RUNNING, target_count=1, event_seq=1,
    )  # fmt: skip
    target = RunTarget.objects.using("execution").create(
        run=run, target_id=uuid.uuid4(), target_name="web-01", os_family="linux", position=0,
        status=TargetStatus.RUNNING, worker="w",
    )  # fmt: skip
    RunEvent.objects.using("execution").create(
        run=run, seq=1, kind=RunEvent.Kind.STATE, run_target=target,
        data=json.dumps({"status": "running"}),
    )  # fmt: skip
    return run, target


def _next_event(response, deadline: float) -> dict:
    """Read one SSE event block (fields until a blank line) from the open response."""
    fields: dict[str, str] = {}
    while time.monotonic() < deadline:
        line = response.readline()
        if not line:
            raise AssertionError(f"the stream ended while waiting for an event ({fields})")
        line = line.decode().rstrip("\n")
        if line == "":
            if fields and set(fields) != {"retry"}:
                return fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        fields[name] = value
    raise AssertionError("no event within the deadline")


@with_data
def test_a_live_stream_arrives_unbuffered_through_the_gateway(gateway, token):
    run, target = _make_running_run()
    conn = gateway.connection(timeout=20)
    conn.request(
        "GET", f"/api/v1/runs/{run.id}/stream/",
        headers={"Host": SERVER_NAME, "Authorization": f"Bearer {token}",
                 "Accept": "text/event-stream"},
    )  # fmt: skip
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers.get_all("Content-Security-Policy")  # headers on streams too

    # the first event arrives while the run (hence the stream) is still going
    first = _next_event(response, time.monotonic() + 5)
    assert first["id"] == "1" and json.loads(first["data"])["status"] == "running"

    # output written now reaches the client now, not when the stream ends
    Run.objects.using("execution").filter(pk=run.pk).update(event_seq=2)
    RunEvent.objects.using("execution").create(
        run=run, seq=2, kind=RunEvent.Kind.OUTPUT, run_target=target, step_index=0,
        stream="stdout", data="hello through the gateway\n",
    )  # fmt: skip
    written = time.monotonic()
    second = _next_event(response, written + 5)
    assert json.loads(second["data"])["text"] == "hello through the gateway\n"
    assert time.monotonic() - written < 3

    Run.objects.using("execution").filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    end = _next_event(response, time.monotonic() + 5)
    assert end["event"] == "end" and json.loads(end["data"]) == {"status": "succeeded"}
    assert response.readline() == b""  # and then the stream is over
    conn.close()
    # served by the streams process, not by a web process's thread
    served = gateway.logged(lambda e: e["uri"] == f"/api/v1/runs/{run.id}/stream/")
    assert served and served[-1]["upstream"] == f"127.0.0.1:{gateway.streams.port}", served


def test_the_streams_process_answers_only_streams_and_its_health(gateway, token):
    """Anything else sent there by mistake is a 404 in the API's shape, not a synchronous
    answer served from an event loop."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway.streams.port, timeout=10)
    try:
        for path, expected in [("/healthz", 200), ("/api/v1/me/", 404), ("/api/v1/runs/", 404)]:
            conn.request("GET", path, headers={"Host": SERVER_NAME, "X-Forwarded-Proto": "https",
                                               "Authorization": f"Bearer {token}"})  # fmt: skip
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == expected, (path, body)
            if expected == 404:
                assert body["error"]["code"] == "not_found"
    finally:
        conn.close()


def _process_threads(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())


def _role_connections(role: str) -> int:
    """The role's connections to this test run's databases (other runs on the same server have
    processes of the same role)."""
    names = sorted({connections[alias].settings_dict["NAME"] for alias in connections})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s "
            "AND datname = ANY(%s)",
            [f"opsconductor-{role}:%", names],
        )
        return cursor.fetchone()[0]


@with_data
def test_open_streams_cost_no_thread_and_no_connection_and_the_api_stays_quick(gateway, token):
    """Before the streams process, 100 open streams held 100 web threads (and their database
    connections): the API behind the same gateway stopped answering."""
    run, target = _make_running_run()
    streams = gateway.streams
    opened = []

    def open_stream():
        conn = gateway.connection(timeout=20)
        conn.request(
            "GET", f"/api/v1/runs/{run.id}/stream/",
            headers={"Host": SERVER_NAME, "Authorization": f"Bearer {token}"},
        )  # fmt: skip
        response = conn.getresponse()
        assert response.status == 200
        opened.append((conn, response))
        assert _next_event(response, time.monotonic() + 10)["id"] == "1"

    open_stream()
    # one stream open: the hub's thread, asgiref's one thread for requests, the connection
    # pools' workers are there; what 99 more streams add to them is measured
    threads_with_one = _process_threads(streams.process.pid)
    for _ in range(STREAM_COUNT - 1):
        open_stream()
    try:
        # every stream is open and waiting: not a thread more per stream
        assert _process_threads(streams.process.pid) <= threads_with_one + 1
        # the hub's connection and the request thread's: the process's pools (ADR 0018)
        # bound it whatever the number of streams
        assert _role_connections("streams") <= 3
        # the web processes' threads are free: the API answers at once (asked at 10 a second,
        # under the gateway's 20 a second per address: the stream opens used its burst)
        for _ in range(20):
            time.sleep(0.1)
            started = time.monotonic()
            status, _, body = gateway.https(
                "GET", "/api/v1/me/", headers={"Authorization": f"Bearer {token}"}
            )
            assert status == 200, body
            assert time.monotonic() - started < 2
        # one entry of the run's log reaches every stream
        Run.objects.using("execution").filter(pk=run.pk).update(event_seq=2)
        RunEvent.objects.using("execution").create(
            run=run, seq=2, kind=RunEvent.Kind.OUTPUT, run_target=target, step_index=0,
            stream="stdout", data="to everyone\n",
        )  # fmt: skip
        deadline = time.monotonic() + 10
        for _, response in opened:
            assert json.loads(_next_event(response, deadline)["data"])["text"] == "to everyone\n"
    finally:
        for conn, _ in opened:
            conn.close()
    # nobody watches: the hub gives its connection back, and the idle pools close what they
    # hold (one connection every DATABASE_POOL_MAX_IDLE_SECONDS, ADR 0018)
    wait_for(lambda: _role_connections("streams") == 0, timeout=60, interval=0.5)


def test_the_login_endpoint_is_rate_limited_at_the_gateway(gateway):
    statuses, last = [], None
    for _ in range(30):
        status, headers, body = gateway.https("GET", "/api/v1/auth/token/")
        statuses.append(status)
        if status == 429:
            last = (headers, body)
    # a burst of 10 over 10 a minute: the first ones reach the application (405: GET is not
    # how one logs in), then the gateway answers 429 without asking a web process
    assert statuses[:10] == [405] * 10
    assert statuses.count(429) >= 15
    headers, body = last
    error = error_of(body)
    assert error["code"] == "rate_limited" and error["request_id"] == headers["X-Request-ID"]
    assert headers["Retry-After"] == "60"
    limited = gateway.logged(lambda e: e["uri"] == "/api/v1/auth/token/" and e["status"] == 429,
                             at_least=statuses.count(429))  # fmt: skip
    assert len(limited) == statuses.count(429) and all(e["upstream"] == "" for e in limited)
    # the rest of the API is not limited by it
    assert gateway.https("GET", "/healthz")[0] == 200


def test_requests_keep_succeeding_when_a_web_process_is_killed(gateway):
    killed = gateway.web[0]
    try:
        killed.kill()
        dead = f"127.0.0.1:{killed.port}"
        alive = f"127.0.0.1:{gateway.web[1].port}"
        # a POST that the dead process refused never reached it: it goes to the live one (the
        # application answers, 401 here), it is not a 502
        before = len(gateway.access_entries())
        posts = [gateway.https("POST", "/api/v1/jobs/", body=b"{}",
                               headers={"Content-Type": "application/json"})[0]
                 for _ in range(2)]  # fmt: skip
        assert posts == [401, 401]
        entries = wait_for(lambda: (e := gateway.access_entries()[before:]) and len(e) >= 2 and e,
                           timeout=5, what="the access log of the 2 POSTs")  # fmt: skip
        assert f"{dead}, {alive}" in [e["upstream"] for e in entries]

        before = len(gateway.access_entries())
        statuses = [gateway.https("GET", "/healthz")[0] for _ in range(20)]
        assert statuses == [200] * 20
        # (nginx writes a request's log line just after answering it)
        entries = wait_for(lambda: (e := gateway.access_entries()[before:]) and len(e) >= 20 and e,
                           timeout=5, what="the access log of the 20 requests")  # fmt: skip
        # after max_fails (2) failures the dead one is left out: requests go straight to the
        # live one (at most one more try of the dead one if a POST failed only once on it)
        upstreams = [e["upstream"] for e in entries]
        assert upstreams.count(f"{dead}, {alive}") <= 1, upstreams
        assert upstreams[-10:] == [alive] * 10, upstreams
    finally:
        killed.start()
    # back in the pool: both answer again (round robin once the failure window has passed)
    time.sleep(10.5)
    before = len(gateway.access_entries())
    for _ in range(6):
        assert gateway.https("GET", "/healthz")[0] == 200
    entries = wait_for(lambda: (e := gateway.access_entries()[before:]) and len(e) >= 6 and e,
                       timeout=5, what="the access log of the 6 requests")  # fmt: skip
    assert {e["upstream"] for e in entries} == {f"127.0.0.1:{w.port}" for w in gateway.web}


def test_the_console_is_served_through_the_gateway(gateway):
    """The console's page from a web process under the console's own policy, its hashed files
    from disk (collectstatic's output, as deployed) cached for a year, the rest unchanged."""
    from opsconductor.console.views import CONTENT_SECURITY_POLICY

    subprocess.run(
        ["sh", str(ROOT / "deploy" / "entrypoint.sh"), "collectstatic"],
        cwd=ROOT, env={**gateway.web[0].env, "STATIC_ROOT": str(gateway.static_root)},
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    for path in ("/", "/targets/abc?x=1", "/runs/5/"):
        status, headers, body = gateway.https("GET", path)
        assert status == 200, (path, body[:300])
        assert headers["Content-Type"].startswith("text/html")
        assert headers.get_all("Content-Security-Policy") == [CONTENT_SECURITY_POLICY]
        assert headers.get_all("Cache-Control") == ["no-cache"]
        csrf = [c for c in headers.get_all("Set-Cookie") or [] if c.startswith("csrftoken=")]
        assert csrf and "Secure" in csrf[0] and "SameSite=Lax" in csrf[0]
        assert b'<div id="root">' in body
        logged = gateway.logged(lambda e, p=path: e["uri"] == p)
        assert logged and logged[-1]["upstream"]  # from a web process
    scripts = re.findall(rb'<script[^>]* src="(/static/console/assets/[^"]+\.js)"', body)
    assert scripts, body

    asset = scripts[0].decode()
    status, headers, body = gateway.https("GET", asset)
    assert status == 200 and len(body) > 100
    assert "javascript" in headers["Content-Type"]
    assert headers.get_all("Cache-Control") == ["public, max-age=31536000, immutable"]
    assert "Expires" not in headers
    logged = gateway.logged(lambda e: e["uri"] == asset)
    assert logged and logged[-1]["upstream"] == ""  # from disk, never a web process
    # the bundle's other files: the usual week
    status, headers, _ = gateway.https("GET", "/static/console/build-info.json")
    assert status == 200 and headers.get_all("Cache-Control") == ["max-age=604800"]
    # a file of a release not collected (yet): 404, never the console's page
    status, _, body = gateway.https("GET", "/static/console/assets/index-0123456789.js")
    assert status == 404 and b'<div id="root">' not in body

    # the API, the admin and the health check are the web processes' as before
    status, headers, body = gateway.https("GET", "/api/v1/unknown/")
    assert status == 404 and error_of(body)["code"] == "not_found"
    assert "no-cache" not in (headers.get("Cache-Control") or "")
    status, headers, _ = gateway.https("GET", "/admin/login/")
    assert status == 200 and "csrftoken" in (headers.get("Set-Cookie") or "")
    status, _, body = gateway.https("GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
