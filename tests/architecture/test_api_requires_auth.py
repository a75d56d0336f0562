"""Every /api/v1/ route answers 401 to an anonymous caller, for every method (but login); and
the role matrix: every operation of the OpenAPI schema answers each role as its permissions say."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import path as url_path
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from opsconductor.api.permissions import IsAuthenticatedUser

PUBLIC_URLS = {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/session/"}
METHODS = ("get", "post", "put", "patch", "delete")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<pattern>[^)]*)\)")


def _sample(match: re.Match) -> str:
    """A value the named group accepts: a UUID where it can, else a number."""
    for candidate in (str(uuid.uuid4()), "1"):
        if re.fullmatch(match.group("pattern"), candidate):
            return candidate
    return "x"


def _walk(patterns, prefix=""):
    for entry in patterns:
        regex = entry.pattern.regex.pattern.lstrip("^").rstrip("$").replace(r"\Z", "")
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + regex)
        elif isinstance(entry, URLPattern):
            yield prefix + regex


def api_v1_urls() -> list[str]:
    urls = set()
    for regex in _walk(get_resolver().url_patterns):
        if not regex.startswith("api/v1/") or "(?P<format>" in regex:
            continue
        url = "/" + _GROUP.sub(_sample, regex)
        urls.add(url.replace("\\", ""))
    return sorted(urls)


def test_the_walk_finds_the_api():
    urls = api_v1_urls()
    assert "/api/v1/me/" in urls
    assert "/api/v1/users/" in urls


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("url", [u for u in api_v1_urls() if u not in PUBLIC_URLS])
def test_anonymous_request_is_401_with_the_error_shape(client, url):
    for method in METHODS:
        response = getattr(client, method)(url, content_type="application/json")
        assert response.status_code == 401, f"{method.upper()} {url} -> {response.status_code}"
        error = response.json()["error"]
        assert error["code"] == "not_authenticated"
        assert error["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db(databases="__all__")
def test_the_console_session_endpoint_gives_anonymous_callers_nothing_but_a_sign_in(client):
    """Public by design: it opens sessions. Anonymous, it says no session is open, refuses a
    sign-in without the CSRF token, has nothing to end, and knows no other method."""
    assert client.get("/api/v1/auth/session/").json() == {"authenticated": False}
    client.handler.enforce_csrf_checks = True
    refused = client.post(
        "/api/v1/auth/session/", {"username": "a", "password": "b"}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["request_id"]
    assert client.delete("/api/v1/auth/session/").status_code == 204
    for method in ("put", "patch"):
        assert getattr(client, method)("/api/v1/auth/session/").status_code == 405


# --- The role matrix -------------------------------------------------------------------------
#
# For every operation of the OpenAPI schema: anonymous -> 401; every role below the one it needs
# -> 403; the role it needs -> neither. "The role it needs" is derived from the permission classes
# of the view the path resolves to (``get_permissions()`` for the operation's action), by asking
# them about a user of each role: a new endpoint is covered as soon as it is in the schema.
#
# The legacy bridge's mode (proxy/migrated/retired) cannot change these answers: it is consulted
# only under /api/v3/ and /api/schedules/ (config/urls.py), none of which is in the schema
# (``test_no_schema_operation_is_served_by_the_bridge``); so one run of the matrix is enough.

# Anonymous callers: signing in (the console's session: its CSRF cookie and state, sign-in, and a
# sign-out that has nothing to end).
PUBLIC = {
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/auth/token/refresh/"),
    ("get", "/api/v1/auth/session/"),
    ("post", "/api/v1/auth/session/"),
    ("delete", "/api/v1/auth/session/"),
}
# Writes any signed-in user (a viewer) may make: their own profile, password, tokens, session;
# previews that change nothing.
OPEN_TO_EVERY_USER = (
    "/api/v1/me/",
    "/api/v1/tokens/",
    "/api/v1/auth/",
    "/api/v1/targets/select/",
)
LADDER = ("viewer", "operator", "manager", "admin")
SAFE = ("get", "head", "options")
_PARAM = re.compile(r"\{(\w+)\}")


def _user(role: str):
    from apps.accounts.models import User

    return User(username=f"matrix-{role}", role="viewer" if role == "auditor" else role,
                is_auditor=role == "auditor", is_active=True)  # fmt: skip


def concrete(path: str) -> str:
    """The schema path with a value its URL pattern accepts in each parameter."""
    from django.urls import Resolver404, resolve

    names = _PARAM.findall(path)
    for samples in itertools.product((str(uuid.uuid4()), "1"), repeat=len(names)):
        values = iter(samples)
        url = _PARAM.sub(lambda _, values=values: next(values), path)
        try:
            resolve(url)
        except Resolver404:
            continue
        return url
    raise AssertionError(f"{path} resolves to no view")


def needed_role(method: str, path: str) -> str | None:
    """The least role the view's permission classes let through (``auditor``: a viewer with the
    auditor capability, for what admins and auditors read); None if anonymous callers pass."""
    from types import SimpleNamespace

    from django.contrib.auth.models import AnonymousUser
    from django.urls import resolve

    match = resolve(concrete(path))
    view = match.func.cls(**getattr(match.func, "initkwargs", {}))
    actions = getattr(match.func, "actions", None)
    if actions is not None:
        view.action_map = actions
        view.action = actions.get(method)
    view.args, view.kwargs = match.args, match.kwargs
    view.format_kwarg = None

    def allowed(user) -> bool:
        request = SimpleNamespace(method=method.upper(), user=user, query_params={}, data={})
        view.request = request
        return all(p.has_permission(request, view) for p in view.get_permissions())

    if allowed(AnonymousUser()):
        return None
    passes = [allowed(_user(role)) for role in LADDER]
    assert passes == sorted(passes), f"{method} {path}: a role lets through less than one below"
    assert any(passes), f"{method} {path}: not even an admin may call it"
    role = LADDER[passes.index(True)]
    if role == "admin" and allowed(_user("auditor")):
        return "auditor"
    return role


def below(role: str) -> list[str]:
    if role == "auditor":  # admins and auditors; no other role
        return list(LADDER[:-1])
    return list(LADDER[: LADDER.index(role)])


def operations(schema: dict):
    for path, item in sorted(schema["paths"].items()):
        for method in item:
            if method in ("get", "put", "post", "patch", "delete"):
                yield method, path


def schema_of(urlconf=None) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)


def matrix_problems(method: str, path: str, clients: dict) -> list[str]:
    """What is wrong with this operation's answers to anonymous callers and to each role."""
    problems = []
    role = needed_role(method, path)
    if role is None:
        if (method, path) not in PUBLIC:
            problems.append(f"{method.upper()} {path}: anonymous callers are let through")
        return problems
    if method not in SAFE and role == "viewer" and not path.startswith(OPEN_TO_EVERY_USER):
        problems.append(f"{method.upper()} {path}: a viewer may write (permission too weak)")
    url = concrete(path)

    def call(who: str) -> int:
        client = clients[who]
        return client.generic(
            method.upper(), url, "{}", content_type="application/json"
        ).status_code

    if (code := call("anonymous")) != 401:
        problems.append(f"{method.upper()} {path}: anonymous -> {code}, not 401")
    for lower in below(role):
        if (code := call(lower)) != 403:
            problems.append(f"{method.upper()} {path}: {lower} (needs {role}) -> {code}, not 403")
    if (code := call(role)) in (401, 403):
        problems.append(f"{method.upper()} {path}: {role} (the role it needs) -> {code}")
    return problems


@pytest.fixture
def clients(django_user_model):
    from rest_framework.test import APIClient

    made = {"anonymous": APIClient()}
    for role in (*LADDER, "auditor"):
        user = django_user_model.objects.create_user(
            username=f"matrix-{role}", password="unused-password-1",
            role="viewer" if role == "auditor" else role, is_auditor=role == "auditor",
        )  # fmt: skip
        made[role] = APIClient()
        made[role].force_authenticate(user)
    return made


SCHEMA_OPERATIONS = list(operations(schema_of()))


def test_the_matrix_sees_every_operation():
    assert len(SCHEMA_OPERATIONS) > 100
    assert ("delete", "/api/v1/users/{id}/") in SCHEMA_OPERATIONS
    assert needed_role("delete", "/api/v1/users/{id}/") == "admin"
    assert needed_role("get", "/api/v1/audit/events/") == "auditor"
    assert needed_role("post", "/api/v1/runs/") == "operator"
    assert needed_role("post", "/api/v1/jobs/{id}/validate/") == "operator"
    assert needed_role("post", "/api/v1/jobs/") == "manager"
    assert needed_role("get", "/api/v1/targets/") == "viewer"
    assert needed_role("post", "/api/v1/auth/token/") is None


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(("method", "path"), SCHEMA_OPERATIONS)
def test_role_matrix(clients, method, path):
    assert matrix_problems(method, path, clients) == []


def test_no_schema_operation_is_served_by_the_bridge():
    from django.urls import resolve

    for _method, path in SCHEMA_OPERATIONS:
        assert path.startswith("/api/v1/"), path
        assert resolve(concrete(path)).func.__module__ != "legacy_bridge.views", path


# --- The matrix fires on a made-up endpoint with a wrong permission ---------------------------


class _Wipe(APIView):
    """A write any signed-in user may make: the permission is too weak."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        return Response(status=204)


class _Open(APIView):
    """Reads for everyone, signed in or not."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({})


class _RefusesItsOwnRole(APIView):
    """Its permission lets viewers in, but its handler refuses everyone but admins."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        if request.user.role != "admin":
            raise PermissionDenied("admins only")
        return Response({})


urlpatterns = [
    url_path("api/v1/made-up/wipe/", _Wipe.as_view()),
    url_path("api/v1/made-up/open/", _Open.as_view()),
    url_path("api/v1/made-up/refuses/", _RefusesItsOwnRole.as_view()),
]


@pytest.mark.urls(__name__)
@pytest.mark.django_db(databases="__all__")
def test_the_matrix_fires_on_made_up_endpoints_with_a_wrong_permission(clients):
    made_up = list(operations(schema_of(urlconf=__name__)))
    assert made_up == [
        ("get", "/api/v1/made-up/open/"),
        ("get", "/api/v1/made-up/refuses/"),
        ("post", "/api/v1/made-up/wipe/"),
    ]
    problems = [p for method, path in made_up for p in matrix_problems(method, path, clients)]
    assert problems == [
        "GET /api/v1/made-up/open/: anonymous callers are let through",
        "GET /api/v1/made-up/refuses/: viewer (the role it needs) -> 403",
        "POST /api/v1/made-up/wipe/: a viewer may write (permission too weak)",
    ]
