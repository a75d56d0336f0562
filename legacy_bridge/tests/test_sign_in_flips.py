"""One sign-in in every mix: a scripted legacy-UI session keeps working while prefixes flip
between ``proxy`` and ``migrated`` in several orders (docs/adr/0020-legacy-sign-in.md).

The legacy backend here is a fake on loopback that validates tokens the way the real one does:
the HS256 signature with the shared secret, then its Redis session key
``user_session:<session_id>`` (double JSON-encoded, as the real one stores it) in the real
Redis, in a database number of its own; every authenticated request slides the session, and
its logout deletes the keys. The bridge is given the same secret and that Redis
(``LEGACY_JWT_SECRET_KEY``, ``LEGACY_REDIS_URL``).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jwt
import pytest
import redis

from legacy_bridge.models import Mode
from legacy_bridge.tests.conftest import LEGACY_SECRET
from legacy_bridge.tests.legacy_fixture import PASSWORD, TARGETS, USERS, seed
from legacy_bridge.tests.test_route_auth import set_routes

pytestmark = pytest.mark.django_db(databases="__all__")

REDIS_URL = "redis://127.0.0.1:6379/11"  # this test's own database number
LEGACY_ROLES = {"admin": "administrator", "manager": "manager", "operator": "user"}
LEGACY_ROLES["viewer"] = "guest"


class FakeLegacyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def _json(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _session(self):
        """The session the request's token names, or an answer already sent (None)."""
        header = self.headers.get("Authorization", "").strip()
        scheme, _, token = header.partition(" ")
        if not header:
            self._json(403, {"detail": "Not authenticated"})
            return None
        if scheme.lower() != "bearer":
            self._json(403, {"detail": "Invalid authentication credentials"})
            return None
        refused = (401, {"detail": "Invalid or expired session"}, {"WWW-Authenticate": "Bearer"})
        try:
            claims = jwt.decode(token.strip(), LEGACY_SECRET, algorithms=["HS256"])
        except jwt.PyJWTError:
            self._json(*refused)
            return None
        store = self.server.redis
        raw = store.get("user_session:" + str(claims.get("session_id")))
        data = json.loads(json.loads(raw)) if raw else None
        if not data or data.get("user_id") != claims.get("user_id"):
            self._json(*refused)
            return None
        for prefix in ("user_session:", "user_activity:"):
            store.expire(prefix + claims["session_id"], 28800)  # sliding, as update_activity
        self.server.served.append(urlsplit(self.path).path)
        return claims

    def do_POST(self):
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if path == "/api/v3/auth/login":
            user = self.server.users.get((body or {}).get("username"))
            if user is None or body.get("password") != PASSWORD or not user["is_active"]:
                self._json(
                    401,
                    {"detail": "Incorrect username or password"},
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            session_id = f"{user['id']}_{int(time.time())}"
            now = datetime.utcnow().isoformat()
            data = {"user_id": user["id"], "user_data": {}, "created_at": now,
                    "last_activity": now, "session_id": session_id}  # fmt: skip
            self.server.redis.set(
                f"user_session:{session_id}", json.dumps(json.dumps(data)), ex=28800
            )
            self.server.redis.set(f"user_activity:{session_id}", json.dumps(now), ex=28800)
            token = jwt.encode(
                {"user_id": user["id"], "session_id": session_id, "token_type": "session",
                 "issued_at": now},
                LEGACY_SECRET, algorithm="HS256",
            )  # fmt: skip
            self.server.served.append(path)
            self._json(
                200, {"access_token": token, "session_id": session_id, "token_type": "bearer"}
            )
            return
        claims = self._session()
        if claims is None:
            return
        if path == "/api/v3/auth/logout":
            for prefix in ("user_session:", "user_activity:"):
                self.server.redis.delete(prefix + claims["session_id"])
            self._json(200, {"message": "Successfully logged out"})
        elif path == "/api/v3/auth/session/activity":
            self._json(200, {"message": "Activity logged successfully"})
        else:
            self._json(404, {"detail": "Not Found"})

    def do_GET(self):
        path = urlsplit(self.path).path
        claims = self._session()
        if claims is None:
            return
        users = {u["id"]: u for u in self.server.users.values()}
        if path == "/api/v3/auth/me":
            user = users[claims["user_id"]]
            self._json(200, {**{k: user[k] for k in ("id", "username", "email", "role",
                                                     "is_active")}, "session_id": None})  # fmt: skip
        elif path == "/api/v3/auth/session/status":
            ttl = self.server.redis.ttl("user_session:" + claims["session_id"])
            self._json(200, {"valid": True, "expired": False, "time_remaining": ttl,
                             "warning": False, "warning_threshold": 120})  # fmt: skip
        elif path == "/api/v3/targets/":
            self._json(
                200, [{"id": t[0], "name": t[2]} for t in sorted(TARGETS, key=lambda t: t[2])]
            )
        elif path.startswith("/api/v3/targets/"):
            wanted = int(path.rsplit("/", 1)[1])
            target = next(t for t in TARGETS if t[0] == wanted)
            self._json(200, {"id": target[0], "name": target[2], "communication_methods": []})
        elif path == "/api/v3/users/":
            self._json(200, [{k: u[k] for k in ("id", "username", "role")} for u in users.values()])
        else:
            self._json(404, {"detail": "Not Found"})


@pytest.fixture
def legacy_redis():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def fake_legacy(settings, legacy_redis):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLegacyHandler)
    server.daemon_threads = True
    server.redis = legacy_redis
    server.served = []
    server.users = {
        username: {"id": legacy_id, "username": username, "email": f"{username}@legacy.example",
                   "role": LEGACY_ROLES[role], "is_active": active}
        for legacy_id, username, role, active in USERS
    }  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.LEGACY_BACKEND_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.LEGACY_REDIS_URL = REDIS_URL
    yield server
    server.shutdown()
    server.server_close()


def route(**modes: str) -> None:
    """``route(auth="migrated", targets="proxy")``: the route table's rows, at once."""
    set_routes(
        {
            f"/api/v3/{area}": (
                {"mode": Mode.MIGRATED, "adapter": f"legacy-{area}"}
                if mode == "migrated"
                else {"mode": Mode.PROXY}
            )
            for area, mode in modes.items()
        }
    )


class LegacyUi:
    """What the legacy UI does, as far as the migrated areas go: it keeps one token."""

    def __init__(self, client) -> None:
        self.client = client
        self.token = None
        self.served_by: list[str] = []

    def call(self, method: str, path: str, body=None, expect: int = 200):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.client.generic(
            method,
            path,
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers=headers,
        )
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == expect, (method, path, response.status_code, content[:300])
        self.served_by.append(response["X-Legacy-Bridge"])
        return json.loads(content) if content else None

    def sign_in(self, username: str = "ladmin") -> None:
        answer = self.call(
            "POST", "/api/v3/auth/login", {"username": username, "password": PASSWORD}
        )
        assert answer["token_type"] == "bearer"
        self.token = answer["access_token"]

    def work(self) -> None:
        """Start-up and a visit of the targets page: /me, the session, the list, one target."""
        me = self.call("GET", "/api/v3/auth/me")
        assert (me["id"], me["username"], me["role"]) == (1, "ladmin", "administrator")
        status = self.call("GET", "/api/v3/auth/session/status")
        assert status["valid"] is True and status["time_remaining"] > 28000
        self.call("POST", "/api/v3/auth/session/activity")
        targets = self.call("GET", "/api/v3/targets/")
        web1 = next(t for t in targets if t["name"] == "legacy-web-1")
        assert web1["id"] == 1  # the same legacy id whoever answers
        assert self.call("GET", f"/api/v3/targets/{web1['id']}")["name"] == "legacy-web-1"
        users = self.call("GET", "/api/v3/users/")
        assert {u["id"] for u in users} >= {1, 2, 3, 4}

    def refused_everywhere(self) -> None:
        for path in ("/api/v3/auth/me", "/api/v3/targets/", "/api/v3/users/"):
            self.call("GET", path, expect=401)


@pytest.mark.parametrize(
    "steps",
    [
        # (modes before signing in, then the flips, one after another)
        ("proxy", [{"targets": "migrated"}, {"users": "migrated"}, {"auth": "migrated"}]),
        ("proxy", [{"auth": "migrated"}, {"targets": "migrated"}, {"users": "migrated"}]),
        ("migrated", [{"targets": "proxy"}, {"users": "proxy"}, {"auth": "proxy"}]),
        ("migrated", [{"auth": "proxy"}, {"targets": "proxy", "users": "proxy"}]),
    ],
    ids=["targets-first", "auth-first", "back-to-proxy", "auth-back-first"],
)
def test_one_sign_in_keeps_working_through_every_flip(client, fake_legacy, steps):
    seed()
    start, flips = steps
    modes = {"auth": start, "targets": start, "users": start}
    route(**modes)
    ui = LegacyUi(client)
    ui.sign_in()
    ui.work()
    for flip in flips:
        modes.update(flip)
        route(**modes)
        ui.work()
    assert {"proxy", "adapter"} <= set(ui.served_by)  # both systems answered the same token
    # logging out wherever auth lives ends the session on both sides
    ui.call("POST", "/api/v3/auth/logout")
    for mix in ({"auth": "proxy", "targets": "migrated"}, {"auth": "migrated", "targets": "proxy"}):
        route(**{**modes, **mix, "users": "migrated"})
        ui.refused_everywhere()


def test_auth_proxied_and_targets_migrated(client, fake_legacy):
    """Signed in at the legacy backend: the adapters accept its token (signature + its Redis
    session), adopt the session, and slide it at the legacy backend too."""
    seed()
    route(auth="proxy", targets="migrated", users="proxy")
    ui = LegacyUi(client)
    ui.sign_in()
    assert fake_legacy.served == ["/api/v3/auth/login"]
    session_id = jwt.decode(ui.token, options={"verify_signature": False})["session_id"]
    fake_legacy.redis.expire(f"user_session:{session_id}", 100)
    assert ui.call("GET", "/api/v3/targets/1")["target_uuid"]  # answered by the adapter
    assert ui.served_by[-1] == "adapter"
    assert fake_legacy.redis.ttl(f"user_session:{session_id}") > 28000  # slid there too
    # a logout at the legacy backend ends it for the adapters as well
    ui.call("POST", "/api/v3/auth/logout")
    ui.call("GET", "/api/v3/targets/1", expect=401)


def test_auth_migrated_and_targets_proxied(client, fake_legacy):
    """Signed in at the bridge: the legacy backend accepts the token (the bridge wrote its
    Redis keys), and the sign-in went through our throttling and audit."""
    from opsconductor.events.models import OutboxEvent

    seed()
    route(auth="migrated", targets="proxy", users="proxy")
    ui = LegacyUi(client)
    ui.sign_in()
    assert fake_legacy.served == []
    assert ui.call("GET", "/api/v3/targets/1")["name"] == "legacy-web-1"
    assert fake_legacy.served == ["/api/v3/targets/1"] and ui.served_by[-1] == "proxy"
    event = OutboxEvent.objects.filter(event_type="accounts.login.succeeded").latest("occurred_at")
    assert event.payload["channel"] == "legacy" and event.payload["username"] == "ladmin"
    # wrong passwords lock the username out, as at /api/v1/auth/token/
    other = LegacyUi(client)
    for _ in range(5):
        other.call(
            "POST", "/api/v3/auth/login", {"username": "lmanager", "password": "x"}, expect=401
        )
    response = client.post(
        "/api/v3/auth/login",
        {"username": "lmanager", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    # our logout ends it at the legacy backend too
    ui.call("POST", "/api/v3/auth/logout")
    ui.call("GET", "/api/v3/targets/1", expect=401)


def test_the_legacy_backend_switched_off(client, fake_legacy, settings):
    """Everything migrated, the legacy backend and its Redis gone: sessions opened by either
    system keep working from our session table alone; a password change ends them."""
    from apps.accounts.interface import user_update_as
    from opsconductor.events import SYSTEM

    fixture = seed()
    route(auth="proxy", targets="migrated", users="migrated")
    at_legacy = LegacyUi(client)
    at_legacy.sign_in()
    at_legacy.call("GET", "/api/v3/targets/")  # the adapters adopt the session here
    route(auth="migrated", targets="migrated", users="migrated")
    at_bridge = LegacyUi(client)
    at_bridge.sign_in()
    settings.LEGACY_BACKEND_URL = ""
    settings.LEGACY_REDIS_URL = ""
    fake_legacy.redis.flushdb()
    for ui in (at_legacy, at_bridge):
        ui.work()
        assert "proxy" not in ui.served_by[-6:]
    user_update_as(
        actor=SYSTEM, user_id=fixture.users["ladmin"], data={}, password="N3w-pass-word!"
    )
    at_legacy.refused_everywhere()
    at_bridge.refused_everywhere()


def test_run_a_job_and_read_its_results_signed_in_at_either_side(client, fake_legacy):
    """The jobs page migrated while the sign-in still lives at the legacy backend, then at
    the bridge: the same token lists the jobs, opens one, runs it (as the signed-in user),
    reads the history and an execution's results, and stops the run."""
    from opsconductor.events.models import OutboxEvent

    seed()
    for auth in ("proxy", "migrated"):
        route(auth=auth, targets="migrated", users="proxy", jobs="migrated")
        ui = LegacyUi(client)
        ui.sign_in()
        jobs = ui.call("GET", "/api/v3/jobs/")
        assert [(j["id"], j["name"]) for j in jobs][:1] == [(1, "legacy whoami")]
        job = ui.call("GET", "/api/v3/jobs/1")
        assert [t["id"] for t in job["targets"]] == [1, 2, 3]
        started = ui.call("POST", "/api/v3/jobs/1/execute", {"target_ids": None})
        assert started["status"] == "scheduled"
        history = ui.call("GET", "/api/v3/jobs/1/executions")
        assert [e["execution_number"] for e in history][-1] == 1  # the imported one, kept
        assert history[0]["id"] == started["id"]
        results = ui.call("GET", "/api/v3/jobs/1/executions/1/results")
        assert [r["output_text"] for r in results] == ["fleet\n"] * 3 + ["legacy-ok\n"] * 3
        stopped = ui.call("POST", "/api/v3/jobs/1/terminate", {"reason": "Manual termination"})
        assert stopped["terminated_executions"] == [started["id"]]
        assert ui.served_by.count("adapter") >= 6
        event = (
            OutboxEvent.objects.using("execution")
            .filter(event_type="execution.run.requested")
            .latest("occurred_at")
        )
        assert (event.actor["kind"], event.actor["name"]) == ("user", "ladmin")
    assert "/api/v3/auth/login" in fake_legacy.served  # the first sign-in was the legacy one's
