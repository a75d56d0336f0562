"""No legacy route serves the new system's data to a caller the new system has not
authenticated, whatever the route's mode.

Every case is generated: the paths are the route table's prefixes (the settings' defaults and
any row a migration put there) plus every call the legacy UI makes; the adapters are the
registry's. A new prefix or adapter is covered without touching this file. Expected answers:

- ``migrated`` with an adapter: the legacy backend's own refusals (403 ``Not authenticated``
  without a token, 401 ``Invalid or expired session`` for a bad one, forged legacy session
  tokens included; as recorded in ``recordings/``) on every endpoint of every area, unless the
  endpoint is public, which only one serving what the legacy backend serves without a token
  may be (``PUBLIC_IN_LEGACY``); a path of an area no endpoint serves gets the legacy 404/405
  and no data;
- ``proxy``: exactly what the backend answers, the ``Authorization`` header reaching it as sent;
- ``migrated`` without an adapter, and ``retired``: 410.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.db.models import F
from django.http import JsonResponse

from apps.accounts.factories import DEFAULT_PASSWORD, ApiTokenFactory, UserFactory
from legacy_bridge import adapters, auth, legacy_ids, routing
from legacy_bridge.models import LegacySession, Mode, Route, RouteTableVersion
from legacy_bridge.tests.conftest import LEGACY_SECRET
from opsconductor.events.models import OutboxEvent
from opsconductor.observability.context import current_actor
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db(databases="__all__")

RECORDINGS = Path(__file__).parent / "recordings"

# The adapters (or endpoints of an area, "<area>:<METHOD> <pattern>") allowed to answer
# without a token, each with the recording of the legacy backend answering that route without
# one: GET /api/v3/system/health/ is 200 with no token and with a bad one; the sign-in and the
# refresh answer their own 401 to a request without a token (not the 403 of a protected route).
PUBLIC_IN_LEGACY = {
    "system-health": ("system_health_no_token_200.json", "system_health_bad_token_200.json"),
    # the legacy backend serves every /api/v3/system/health* route without a token (Y7, Y10-Y13;
    # recorded with an empty header and a bad token for /health/, with the UI's token for the
    # others, which the bridge replays as a token it does not know)
    "legacy-system:GET /health/": (
        "system/health_no_token_200.json",
        "system/health_bad_token_200.json",
    ),
    "legacy-system:GET /health": ("system/health_200.json",),
    "legacy-system:GET /health/system": ("system/health_system_200.json",),
    "legacy-system:GET /health/database": ("system/health_database_200.json",),
    "legacy-system:GET /health/application": ("system/health_application_200.json",),
    "legacy-auth:POST /login": ("auth/login_bad_password_401.json",),
    "legacy-auth:POST /refresh": ("auth/refresh_bad_token_401.json",),
}

# Every call the legacy UI makes (ids as placeholders filled in), the schedules both where the
# UI sends them (/api/v3/schedules) and where the legacy backend serves them (/api/schedules/).
UI_CALLS = (
    ("POST", "/api/v3/auth/login"),
    ("GET", "/api/v3/auth/me"),
    ("POST", "/api/v3/auth/logout"),
    ("GET", "/api/v3/auth/session/status"),
    ("POST", "/api/v3/auth/session/activity"),
    ("POST", "/api/v3/auth/session/extend"),
    ("POST", "/api/v3/auth/refresh"),
    ("GET", "/api/v3/users/?skip=0&limit=100"),
    ("POST", "/api/v3/users/"),
    ("PUT", "/api/v3/users/2"),
    ("DELETE", "/api/v3/users/2"),
    ("GET", "/api/v3/targets/"),
    ("GET", "/api/v3/targets/1"),
    ("DELETE", "/api/v3/targets/1"),
    ("POST", "/api/v3/targets/comprehensive"),
    ("PUT", "/api/v3/targets/1/comprehensive"),
    ("POST", "/api/v3/targets/test-method-config"),
    ("POST", "/api/v3/targets/1/communication-methods/1/test?cache=1"),
    ("POST", "/api/v3/targets/1/communication-methods"),
    ("PUT", "/api/v3/targets/1/communication-methods/1"),
    ("DELETE", "/api/v3/targets/1/communication-methods/1"),
    ("POST", "/api/v3/targets/health-check-batch"),
    ("GET", "/api/v3/jobs/"),
    ("POST", "/api/v3/jobs/"),
    ("PUT", "/api/v3/jobs/1"),
    ("DELETE", "/api/v3/jobs/1"),
    ("POST", "/api/v3/jobs/1/execute"),
    ("GET", "/api/v3/jobs/1"),
    ("GET", "/api/v3/jobs/1/targets"),
    ("GET", "/api/v3/jobs/1/executions"),
    ("GET", "/api/v3/jobs/1/executions/1/results"),
    ("GET", "/api/v3/jobs/1/executions/1"),
    ("POST", "/api/v3/jobs/1/schedule"),
    ("POST", "/api/v3/jobs/1/terminate"),
    ("POST", "/api/v3/jobs/safety/cleanup-stale"),
    ("GET", "/api/v3/jobs/safety/health"),
    ("GET", "/api/v3/schedules?job_id=1"),
    ("DELETE", "/api/v3/schedules/1"),
    ("POST", "/api/v3/schedules"),
    ("GET", "/api/schedules/?job_id=1"),
    ("POST", "/api/schedules/"),
    ("DELETE", "/api/schedules/1"),
    ("GET", "/api/v3/system/info"),
    ("GET", "/api/v3/system/settings"),
    ("PUT", "/api/v3/system/settings"),
    ("GET", "/api/v3/system/timezones"),
    ("GET", "/api/v3/system/time"),
    ("GET", "/api/v3/system/status"),
    ("GET", "/api/v3/system/health"),
    ("GET", "/api/v3/system/email-targets/eligible"),
    ("GET", "/api/v3/system/email-target/config"),
    ("GET", "/api/v3/system/health/"),
    ("GET", "/api/v3/system/health/system"),
    ("GET", "/api/v3/system/health/database"),
    ("GET", "/api/v3/system/health/application"),
    ("GET", "/api/v3/audit/events?page=1&limit=100&sort=timestamp&order=desc"),
    ("GET", "/api/v3/audit/event-types"),
    ("GET", "/api/v3/audit/export?format=csv"),
    ("GET", "/api/v3/audit/lookups/users?user_ids=1,2"),
    ("GET", "/api/v3/audit/lookups/targets?target_ids=1"),
)


# Legacy session tokens that must not authenticate (the fixture ``legacy_sessions`` makes
# legacy user 1 (active) and 2 (deactivated) and their sessions).
def legacy_token(user_id: int, session_id: str, *, key: str = LEGACY_SECRET, alg="HS256") -> str:
    claims = {
        "user_id": user_id,
        "session_id": session_id,
        "token_type": "session",
        "issued_at": "2026-12-07T03:06:31.100853",
    }
    return jwt.encode(claims, key, algorithm=alg)


LOGGED_OUT_SESSION = "1_1700000001"
DEACTIVATED_USERS_SESSION = "2_1700000002"
FORGED = {
    "legacy bad signature": legacy_token(
        1, "1_1700000000", key="not-the-legacy-secret-at-all-but-long-enough"
    ),
    "legacy alg none": legacy_token(1, "1_1700000000", key="", alg="none"),
    "legacy unknown session": legacy_token(1, "1_1111111111"),
    "legacy logged-out session": legacy_token(1, LOGGED_OUT_SESSION),
    "legacy deactivated user": legacy_token(2, DEACTIVATED_USERS_SESSION),
    "legacy another user's session": legacy_token(1, DEACTIVATED_USERS_SESSION),
    "legacy user not imported": legacy_token(77, "77_1700000000"),
    "legacy claims of another shape": legacy_token("1", "1_1700000000"),
}

# What an unauthenticated caller sends, and what the legacy backend answers to it.
NOT_AUTHENTICATED = (403, auth.NOT_AUTHENTICATED, None)
BAD_TOKEN = (401, auth.INVALID_SESSION, "Bearer")
CREDENTIALS = {
    **{name: (f"Bearer {token}", BAD_TOKEN) for name, token in FORGED.items()},
    "none": (None, NOT_AUTHENTICATED),
    "empty header": ("", NOT_AUTHENTICATED),
    "garbage bearer": ("Bearer invalid.token.value", BAD_TOKEN),
    "bearer null": ("Bearer null", BAD_TOKEN),  # what the legacy UI sends for T11
    "bare bearer": ("Bearer", BAD_TOKEN),
    "garbage api token": ("Token oc_garbage_garbage", BAD_TOKEN),
    "basic": ("Basic dXNlcjpwYXNz", (403, auth.BAD_SCHEME, None)),
}
# The bridge's own refusal carries nothing but these keys: no data of the new system.
REFUSAL_KEYS = {"detail", "request_id", "error"}


@pytest.fixture(autouse=True)
def legacy_sessions(db):
    """Legacy user 1 (active, with a logged-out session) and 2 (deactivated after signing in)."""
    from django.utils import timezone

    now = timezone.now()
    for legacy_id, session_id, active in (
        (1, LOGGED_OUT_SESSION, True),
        (2, DEACTIVATED_USERS_SESSION, False),
    ):
        user = UserFactory(username=f"legacy{legacy_id}", admin=True)
        legacy_ids.register("users", legacy_id, user.pk)
        LegacySession.objects.create(
            session_id=session_id,
            user_id=user.pk,
            legacy_user_id=legacy_id,
            origin=LegacySession.Origin.BRIDGE,
            marker="",
            last_activity_at=now,
            expires_at=now + timedelta(hours=8),
            revoked_at=now if legacy_id == 1 else None,
        )
        if not active:
            user.is_active = False
            user.save(update_fields=["is_active"])


def table_paths() -> list[tuple[str, str]]:
    """Every prefix of the route table (defaults and rows, as the bridge sees it), as GET and
    POST below it."""
    routing.forget_cached_table()
    calls = []
    for rule in routing.current_table().rules:
        # "/api/v3" itself never reaches the bridge (Django redirects it to "/api/v3/")
        calls += [("GET", rule.prefix + "/"), ("GET", rule.prefix + "/1")]
        calls += [("POST", rule.prefix + "/")]
    return calls


def all_calls() -> list[tuple[str, str]]:
    return sorted(set(UI_CALLS) | set(table_paths()))


def prefix_of(path: str) -> str:
    return routing.normalize_prefix(path.split("?", 1)[0])


def set_routes(rows: dict[str, dict]) -> None:
    """Make ``{prefix: values}`` the route table's rows at once (one version bump)."""
    Route.objects.all().delete()
    Route.objects.bulk_create(Route(prefix=prefix, **values) for prefix, values in rows.items())
    if not RouteTableVersion.objects.filter(pk=1).update(version=F("version") + 1):
        RouteTableVersion.objects.create(pk=1, version=1)


def migrate_everything_to(adapter: str) -> list[tuple[str, str]]:
    """Route every call (each at its own prefix, so an adapter answering only at its prefix
    gets its turn) and both URL spaces to ``adapter``; returns the calls."""
    calls = all_calls()
    set_routes({prefix_of(path): {"mode": Mode.MIGRATED, "adapter": adapter} for _, path in calls})
    return calls


def call(client, method: str, path: str, authorization: str | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    if method == "GET":
        return client.get(path, headers=headers)
    send = getattr(client, method.lower())
    return send(path, data=b"{}", content_type="application/json", headers=headers)


def assert_refused_everywhere(client, adapter: str, authorization: str | None, expected) -> None:
    """Every call routed to ``adapter`` gets the legacy refusal ``expected``, no data."""
    status, detail, challenge = expected
    for method, path in migrate_everything_to(adapter):
        response = call(client, method, path, authorization)
        where = f"{method} {path} via {adapter!r} with {authorization!r}"
        assert response.status_code == status, (where, response.content[:300])
        body = response.json()
        assert set(body) <= REFUSAL_KEYS, (where, body)
        assert body["detail"] == detail, where
        assert response.get("WWW-Authenticate") == challenge, where
        assert body["request_id"] == response["X-Request-ID"]


# --- migrated, with an adapter -------------------------------------------------------------


def declared(adapter_name: str) -> list[tuple[str, str, object]]:
    """(key, example path, access) of each thing that declared who may call it: the adapter
    itself, or each endpoint of an area."""
    registered = adapters.get_adapter(adapter_name)
    if not registered.is_area:
        return [(adapter_name, "", registered)]
    return [
        (f"{adapter_name}:{e.method} {e.pattern}", registered.root + e.example, e)
        for e in registered.endpoints
    ]


def no_data(response) -> bool:
    """A refusal, or a routing answer (404, 405, 307, the 410 pointer): no data either way."""
    if response.status_code in (307,):
        return not response.content
    body = response.json()
    return set(body) <= REFUSAL_KEYS | {"mode", "new_url"}


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
@pytest.mark.parametrize("adapter", adapters.adapter_names())
def test_every_adapter_refuses_unauthenticated_callers_on_every_route(
    client, legacy, adapter, credential
):
    registered = adapters.get_adapter(adapter)
    authorization, expected = CREDENTIALS[credential]
    public_keys = []
    for key, example, access in declared(adapter):
        if access.public:
            # public only where the legacy backend itself serves the route without a token
            assert key in PUBLIC_IN_LEGACY, f"{key} is public, the legacy route is not"
            public_keys.append(key)
            continue
        if registered.is_area:
            method = next(e for e in registered.endpoints if e is access).method
            set_routes({registered.root: {"mode": Mode.MIGRATED, "adapter": adapter}})
            response = call(client, method, example, authorization)
            status, detail, challenge = expected
            where = f"{method} {example} via {adapter!r} with {authorization!r}"
            assert response.status_code == status, (where, response.content[:300])
            assert set(response.json()) <= REFUSAL_KEYS, where
            assert response.json()["detail"] == detail, where
            assert response.get("WWW-Authenticate") == challenge, where
        else:
            assert_refused_everywhere(client, adapter, authorization, expected)
    # every call the legacy UI makes, and every prefix, routed to the adapter: a refusal, or a
    # routing answer, never data (public endpoints answer what they answer without a token)
    for method, path in migrate_everything_to(adapter):
        response = call(client, method, path, authorization)
        assert response.status_code != 500, (method, path, response.content[:300])
        if response.status_code < 300 or response.status_code == 422:
            match = registered.match(_request(method, path)) if registered.is_area else None
            key = (
                f"{adapter}:{match.endpoint.method} {match.endpoint.pattern}"
                if isinstance(match, adapters.Match)
                else adapter
            )
            assert key in public_keys or (not registered.is_area and registered.public), (
                method,
                path,
                response.status_code,
            )
            continue
        assert no_data(response), (method, path, response.content[:300])
    assert legacy.seen == [] or all(
        seen["path"] == "/api/v3/auth/me" for seen in legacy.seen
    )  # only the session check of a legacy token the bridge does not know


def _request(method: str, path: str):
    from django.test import RequestFactory

    return getattr(RequestFactory(), method.lower())(path.split("?")[0])


def test_the_legacy_recordings_of_refusals_are_answered_the_same(client, legacy):
    set_routes(
        {
            **{
                f"/api/v3/{area}": {"mode": Mode.MIGRATED, "adapter": f"legacy-{area}"}
                for area in ("auth", "users", "targets", "jobs", "schedules", "system", "audit")
            },
            "/api/schedules": {"mode": Mode.MIGRATED, "adapter": "legacy-api-schedules"},
        }
    )
    replayed = 0
    for recording in sorted(RECORDINGS.glob("**/*_*.json")):
        exchange = json.loads(recording.read_text())
        request, recorded = exchange["request"], exchange["response"]
        if recorded["status"] not in (401, 403):
            continue
        sent = request["headers"].get("Authorization") or ""
        if "<legacy-access-token>" in sent or request["path"].endswith(("/login", "/refresh")):
            continue  # a signed-in user's 403 (a role), or a sign-in's own 401
        response = call(
            client, request["method"], request["path"], request["headers"].get("Authorization")
        )
        assert response.status_code == recorded["status"], recording.name
        assert response.json()["detail"] == recorded["body"]["detail"], recording.name
        assert response.get("WWW-Authenticate") == recorded["headers"].get("www-authenticate")
        replayed += 1
    assert replayed >= 12
    assert legacy.seen == []


@pytest.mark.parametrize("key", sorted(PUBLIC_IN_LEGACY))
def test_public_adapters_answer_as_the_legacy_backend_did_without_a_token(client, legacy, key):
    adapter = key.split(":")[0]
    assert any(k == key and access.public for k, _, access in declared(adapter))
    for name in PUBLIC_IN_LEGACY[key]:
        request = json.loads((RECORDINGS / name).read_text())["request"]
        recorded = json.loads((RECORDINGS / name).read_text())["response"]
        set_routes({prefix_of(request["path"]): {"mode": Mode.MIGRATED, "adapter": adapter}})
        headers = (
            {}
            if "Authorization" not in request["headers"]
            else {"Authorization": request["headers"]["Authorization"]}
        )
        response = client.generic(
            request["method"],
            request["path"],
            data=json.dumps(request["body"]) if request["body"] is not None else "",
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == recorded["status"], name
        if "detail" in recorded["body"]:
            assert response.json()["detail"] == recorded["body"]["detail"], name
        assert response["X-Legacy-Bridge"] == "adapter"


# --- the other modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_proxied_routes_answer_what_the_backend_says_with_authorization_untouched(
    client, legacy, credential
):
    legacy.guarded = True
    authorization, _ = CREDENTIALS[credential]
    for method, path in all_calls():
        before = len(legacy.seen)
        response = call(client, method, path, authorization)
        where = f"{method} {path}"
        assert len(legacy.seen) == before + 1, where
        seen = legacy.seen[-1]
        assert seen["headers"].get("Authorization") == authorization, where
        expected = legacy.refusal(seen["path"], authorization)
        if expected is None:  # the backend serves it without a token (health)
            assert response.status_code != 410, where
            continue
        status, body, headers = expected
        assert response.status_code == status, where
        assert json.loads(b"".join(response.streaming_content)) == body, where
        assert response.get("WWW-Authenticate") == headers.get("WWW-Authenticate"), where
        assert response["X-Legacy-Bridge"] == "proxy"


@pytest.mark.parametrize(
    "values",
    [
        {"mode": Mode.RETIRED},
        {"mode": Mode.MIGRATED, "new_url": "/api/v1/"},
    ],
    ids=["retired", "migrated pointer"],
)
@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_retired_and_pointer_routes_answer_410_to_everyone(client, legacy, values, credential):
    authorization, _ = CREDENTIALS[credential]
    calls = all_calls()
    set_routes({prefix_of(path): values for _, path in calls})
    for method, path in calls:
        response = call(client, method, path, authorization)
        assert response.status_code == 410, (method, path)
        assert response.json()["mode"] == values["mode"]
    assert legacy.seen == []


# --- the test above catches an adapter that escapes the check ----------------------------------


@pytest.fixture
def throwaway_adapter():
    """Registers adapters for one test: ``register(name, **access)`` -> name."""
    names = []

    def register(name: str, **access) -> str:
        @adapters.register_adapter(name, "a test adapter that hands out data", **access)
        def leak(request, rule):
            return JsonResponse(
                {
                    "secret": "data of the new system",
                    "user": getattr(request.user, "username", None),
                    "actor": current_actor(),
                },
                status=201 if request.method == "POST" else 200,
            )

        names.append(name)
        return name

    yield register
    for name in names:
        adapters._adapters.pop(name, None)


def test_registering_an_adapter_without_saying_who_may_call_it_is_an_error():
    with pytest.raises(TypeError, match="declare who may call it"):
        adapters.register_adapter("test-undeclared", "no access declared")
    with pytest.raises(TypeError, match="declare who may call it"):
        adapters.register_adapter("test-both", "both", role=Role.VIEWER, public=True)
    with pytest.raises(TypeError, match=r"must be an opsconductor\.roles\.Role"):
        adapters.register_adapter("test-string-role", "a string", role="admin")
    assert "test-undeclared" not in adapters.adapter_names()


def test_a_new_adapter_is_refused_to_strangers_and_the_check_would_see_it_leak(
    client, legacy, throwaway_adapter, monkeypatch
):
    name = throwaway_adapter("test-new", role=Role.VIEWER)
    for authorization, expected in CREDENTIALS.values():
        assert_refused_everywhere(client, name, authorization, expected)
    # the same check, had the bridge not checked: it fails on the first call
    monkeypatch.setattr(auth, "refusal", lambda request, adapter: None)
    with pytest.raises(AssertionError):
        assert_refused_everywhere(client, name, None, NOT_AUTHENTICATED)


def test_a_new_public_adapter_must_match_a_public_legacy_route(client, legacy, throwaway_adapter):
    name = throwaway_adapter("test-public", public=True)
    with pytest.raises(AssertionError, match="is public, the legacy route is not"):
        test_every_adapter_refuses_unauthenticated_callers_on_every_route(
            client, legacy, name, "none"
        )


# --- with credentials of the new system --------------------------------------------------------


def test_valid_credentials_reach_the_adapter_with_the_callers_identity(
    client, legacy, throwaway_adapter
):
    name = throwaway_adapter("test-reader", role=Role.VIEWER)
    set_routes({"/api/v3/things": {"mode": Mode.MIGRATED, "adapter": name}})
    viewer = UserFactory(username="vera")
    token = ApiTokenFactory(user=viewer, name="ui")
    login = client.post(
        "/api/v1/auth/token/",
        {"username": "vera", "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    for authorization in (f"Token {token.value}", f"Bearer {login.json()['access']}"):
        response = client.get("/api/v3/things", headers={"Authorization": authorization})
        assert response.status_code == 200, response.content
        assert response.json() == {
            "secret": "data of the new system",
            "user": "vera",
            "actor": "user:vera",  # log lines inside the adapter name the caller
        }
        assert response["X-Legacy-Bridge"] == "adapter"
    # a state-changing call is audited under the caller, not as an anonymous legacy client
    response = client.post("/api/v3/things", headers={"Authorization": f"Token {token.value}"})
    assert response.status_code == 201
    event = OutboxEvent.objects.get(event_type="legacy_bridge.request.forwarded")
    assert event.actor["kind"] == "token"
    assert event.actor["id"] == str(token.pk)
    assert token.value not in json.dumps(event.payload) + json.dumps(event.actor)


def test_revoked_tokens_and_inactive_users_are_refused(client, legacy, throwaway_adapter):
    from django.utils import timezone

    name = throwaway_adapter("test-reader", role=Role.VIEWER)
    set_routes({"/api/v3/things": {"mode": Mode.MIGRATED, "adapter": name}})
    revoked = ApiTokenFactory(revoked_at=timezone.now())
    inactive = UserFactory(username="ivan")
    login = client.post(
        "/api/v1/auth/token/",
        {"username": "ivan", "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    access = login.json()["access"]
    inactive_token = ApiTokenFactory(user=inactive)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    for authorization in (
        f"Token {revoked.value}",
        f"Token {inactive_token.value}",
        f"Bearer {access}",
    ):
        response = client.get("/api/v3/things", headers={"Authorization": authorization})
        assert response.status_code == 401, (authorization[:12], response.content)
        assert response.json()["detail"] == auth.INVALID_SESSION
        assert "secret" not in response.content.decode()


def test_a_role_below_the_adapters_is_forbidden_and_the_denial_audited(
    client, legacy, throwaway_adapter
):
    name = throwaway_adapter("test-manager-only", role=Role.MANAGER)
    set_routes({"/api/v3/things": {"mode": Mode.MIGRATED, "adapter": name}})
    operator = ApiTokenFactory(user=UserFactory(operator=True, username="olga"))
    manager = ApiTokenFactory(user=UserFactory(manager=True))
    response = client.get("/api/v3/things", headers={"Authorization": f"Token {operator.value}"})
    assert response.status_code == 403
    assert response.json()["detail"] == auth.ROLE_TOO_LOW
    assert "secret" not in response.content.decode()
    denied = OutboxEvent.objects.get(event_type="accounts.permission.denied")
    assert denied.payload["username"] == "olga"
    assert denied.payload["path"] == "/api/v3/things"
    response = client.get("/api/v3/things", headers={"Authorization": f"Token {manager.value}"})
    assert response.status_code == 200


def test_the_adapters_api_shows_who_may_call_each(api):
    response = api(admin=True).get("/api/v1/bridge/adapters/")
    assert response.status_code == 200
    access = {a["name"]: a["access"] for a in response.json()}
    assert access["system-health"] == "public"
    assert access["legacy-targets"].startswith("viewer: T1, T2; operator: T11, T7; manager: T3")
    assert access["legacy-auth"].startswith("public: A1, A7; viewer: A2")
    assert access["legacy-users"] == "admin: U1, U2, -, U3, U4"
    assert set(access) == set(adapters.adapter_names())
