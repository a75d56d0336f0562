"""The console's page at every path it owns, under a strict Content-Security-Policy, and its
hashed files from WhiteNoise with a cache of a year; the API, the admin, static files and the
health checks are never the console."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from opsconductor.console.views import BUNDLE

pytestmark = pytest.mark.django_db

CONSOLE_PATHS = ["/", "/targets/abc?x=1", "/runs/7f1c/", "/login?next=%2Fjobs%3Fx%3D1"]


class Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [name for name in attributes if name.startswith("on")]
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data)


def parse(page: bytes) -> Scripts:
    parser = Scripts()
    parser.feed(page.decode())
    return parser


def hashed_asset() -> str:
    """One of the bundle's files named by its content hash."""
    return sorted(path.name for path in (BUNDLE / "assets").glob("index-*.js"))[0]


@pytest.mark.parametrize("path", CONSOLE_PATHS)
def test_console_pages_answer_the_page_under_the_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                      "base-uri 'self'", "frame-ancestors 'none'", "connect-src 'self'"):  # fmt: skip
        assert directive in csp, directive
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert response["Cache-Control"] == "no-cache"
    assert response.cookies["csrftoken"].value  # the sign-in's first write carries it
    assert b'<div id="root">' in response.content


def test_the_page_has_no_inline_script(client):
    page = parse(client.get("/").content)
    assert page.scripts, "the page loads no script"
    assert all(script.get("src", "").startswith("/static/console/") for script in page.scripts)
    assert page.inline == [] and page.handlers == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/unknown/", 404),
        ("/api/v1/unknown", 404),
        ("/api/", 404),
        ("/admin/", 302),
        ("/admin/login/", 200),
        ("/static/console/assets/missing-0123456789.js", 404),
        ("/healthz", 200),
    ],
)
def test_api_admin_static_and_health_paths_are_never_the_console(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert b'<div id="root">' not in b"".join(
        response.streaming_content if response.streaming else [response.content]
    )
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "not_found"


def test_writes_to_a_console_path_are_refused(client):
    assert client.post("/targets/").status_code == 405


@pytest.mark.parametrize("debug", [True, False])
def test_hashed_assets_are_cached_for_good_by_whitenoise(settings, tmp_path, debug):
    settings.DEBUG = debug
    settings.STATIC_ROOT = tmp_path  # (not collected: served from the finders)
    settings.WHITENOISE_AUTOREFRESH = debug
    name = hashed_asset()
    response = Client().get(f"/static/console/assets/{name}")  # a new client: new middleware
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    cache = response["Cache-Control"]
    assert "immutable" in cache and "max-age=315360000" in cache
    assert b"".join(response.streaming_content) == (BUNDLE / "assets" / name).read_bytes()
    # the page itself is never cached for good: it names this release's files
    page = Client().get("/jobs")
    assert page["Cache-Control"] == "no-cache"
    assert f"/static/console/assets/{name}".encode() in page.content


def test_build_info_is_not_cached_for_good(client):
    response = client.get("/static/console/build-info.json")
    assert response.status_code == 200
    assert "immutable" not in response.get("Cache-Control", "")
