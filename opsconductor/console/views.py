"""Serve the console's single page for every URL it owns (client-side routes: /targets,
/runs/<id>, ...). Its scripts and styles are static files under ``/static/console/``."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

BUNDLE = Path(__file__).resolve().parent / "bundle"

# No inline script and no eval anywhere in the console; MUI's styles are injected at run time
# (emotion), hence style-src 'unsafe-inline'. The gateway sends the same policy (deploy/nginx).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>OpsConductor</title></head><body><main><h1>OpsConductor</h1>
<p>The console's bundle is missing from this installation
(<code>opsconductor/console/bundle/index.html</code>). Build it with
<code>cd console &amp;&amp; npm ci &amp;&amp; npm run build</code>.
The API is at <a href="/api/docs/">/api/docs/</a>.</p></main></body></html>"""


@functools.cache
def _index_cached() -> bytes | None:
    return _index_read()


def _index_read() -> bytes | None:
    try:
        return (BUNDLE / "index.html").read_bytes()
    except FileNotFoundError:
        return None


@require_safe
@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    """The console's page, whatever the path below it: the client routes. The CSRF cookie is set
    here so the page's first write (the sign-in) carries the token."""
    page = _index_read() if settings.DEBUG else _index_cached()
    response = HttpResponse(page or MISSING, status=200 if page else 503)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-cache"  # the page names the hashed bundle of this release
    response["Referrer-Policy"] = "same-origin"
    return response
