"""Every /api/v1/ route answers 401 to an anonymous caller, for every method (but login)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/"}
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
@pytest.mark.parametrize("url", [u for u in api_v1_urls() if u not in PUBLIC])
def test_anonymous_request_is_401_with_the_error_shape(client, url):
    for method in METHODS:
        response = getattr(client, method)(url, content_type="application/json")
        assert response.status_code == 401, f"{method.upper()} {url} -> {response.status_code}"
        error = response.json()["error"]
        assert error["code"] == "not_authenticated"
        assert error["request_id"] == response["X-Request-ID"]


# Writes any signed-in user may make: their own profile, password, tokens, session; previews.
OPEN_TO_EVERY_USER = (
    "/api/v1/me/",
    "/api/v1/tokens/",
    "/api/v1/auth/",
    "/api/v1/targets/select/",
)


@pytest.fixture
def viewer_client(django_user_model):
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_user(username="walker", password="x", role="viewer")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "url", [u for u in api_v1_urls() if u not in PUBLIC and not u.startswith(OPEN_TO_EVERY_USER)]
)
def test_a_viewer_cannot_write_anywhere(viewer_client, url):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(viewer_client, method)(url, {}, format="json")
        assert response.status_code == 403, f"{method.upper()} {url} -> {response.status_code}"
        assert response.json()["error"]["code"] == "permission_denied"
