"""Forwarding a request to the legacy backend and streaming its answer back (docs/adr/0014).

Nothing is held whole in memory: the request body is read from the WSGI input in 64 KiB pieces
while it is sent (with its ``Content-Length``, or chunked when the client sent it chunked), and
the response body is handed to the WSGI server piece by piece as it arrives (each chunk of a
chunked or ``text/event-stream`` response as soon as the backend sent it).

The HTTP client is urllib3 (already installed with requests): a connection pool per process,
no retries (a POST must never be sent twice), no redirects followed, no content decoding
(compressed bodies pass through as they are). The backend's own address in ``Location``,
``Content-Location`` and ``Refresh`` becomes the address the client used (``public_url``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import SplitResult, quote, urlsplit

import urllib3
from django.conf import settings
from django.http import StreamingHttpResponse
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import SKIP_HEADER

from legacy_bridge.breaker import breaker_for
from opsconductor.db.reconnect import release_connections

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
# RFC 9110 7.6.1: connection-specific headers a proxy must not forward (plus any header the
# Connection header names, and every Proxy-* header).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# Set by the bridge itself on the way to the backend; "Expect: 100-continue" was answered by
# the WSGI server already; X-Legacy-Bridge-Check is the gateway's question to the bridge.
SET_BY_BRIDGE = frozenset(
    {
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-request-id",
        "expect",
        "x-legacy-bridge-check",
    }
)
# The WSGI server writes its own Date and Server headers; the backend's would be duplicates.
RESPONSE_DROPPED = frozenset({"date", "server"})
# RFC 3986 pchar plus "/": path characters sent as they are, everything else percent-encoded.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
# Response headers holding a URL that the backend builds from its own address (the Host the
# bridge sent it): one pointing there is rewritten to the address the client used.
URL_HEADERS = frozenset({"location", "content-location"})
# "Refresh: 5; url=http://..." (the URL part, quoted or not)
_REFRESH = re.compile(r"^(\s*[0-9.]+\s*[;,]\s*url\s*=\s*)(['\"]?)(.*?)\2\s*$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class BackendUnavailable(Exception):
    """The backend could not be reached or did not answer in time."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds, when the breaker is open


class ClientBodyError(Exception):
    """The client's request body could not be read to its end (the client went away)."""


@dataclass(frozen=True)
class Forwarded:
    response: StreamingHttpResponse
    status: int
    backend_seconds: float


_pools: dict[int, urllib3.PoolManager] = {}  # by pool size (a new pool when the setting changes)
_pools_lock = threading.Lock()


def pool_manager() -> urllib3.PoolManager:
    """This process's connection pool to the backend (keep-alive connections reused)."""
    size = settings.LEGACY_BACKEND_POOL_SIZE
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = urllib3.PoolManager(
                num_pools=4, maxsize=size, block=False, retries=False
            )
        return pool


def _connection_tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def _header_name(meta_key: str) -> str:
    return "-".join(part.capitalize() for part in meta_key.split("_"))


def request_headers(request) -> dict[str, str]:
    """The client's headers minus hop-by-hop ones, plus X-Forwarded-* and X-Request-ID.

    ``Authorization`` (and cookies) pass untouched: the backend authenticates its own tokens.
    """
    meta = request.META
    named = _connection_tokens(meta.get("HTTP_CONNECTION", ""))
    headers: dict[str, str] = {}
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            name = _header_name(key[5:])
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = _header_name(key)
        else:
            continue
        lower = name.lower()
        if lower in HOP_BY_HOP or lower.startswith("proxy-") or lower in named:
            continue
        if lower in SET_BY_BRIDGE:
            continue
        if lower == "cookie":
            value = _legacy_cookies(str(value))
            if not value:
                continue
        headers[name] = str(value)
    remote = meta.get("REMOTE_ADDR", "")
    prior = meta.get("HTTP_X_FORWARDED_FOR", "").strip()
    headers["X-Forwarded-For"] = f"{prior}, {remote}" if prior else remote
    headers["X-Forwarded-Proto"] = request.scheme
    host = meta.get("HTTP_HOST") or meta.get("SERVER_NAME", "")
    if host:
        headers["X-Forwarded-Host"] = host
    request_id = getattr(request, "request_id", "")
    if request_id:
        headers["X-Request-ID"] = request_id
    if "User-Agent" not in headers:
        headers["User-Agent"] = SKIP_HEADER  # urllib3 would add its own
    return headers


def _own_cookie_names() -> frozenset[str]:
    """The new system's cookies (session, CSRF): never sent to the backend, never set by it."""
    return frozenset({settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME})


def _legacy_cookies(header: str) -> str:
    own = _own_cookie_names()
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and part.strip().split("=", 1)[0].strip() not in own
    ]
    return "; ".join(kept)


def _body(request) -> tuple[Iterator[bytes] | None, bool]:
    """The request body as an iterator of pieces (never read whole), and whether it goes
    chunked (the client sent it chunked: no length known)."""
    meta = request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django's request stream stops at CONTENT_LENGTH (absent here); the WSGI server's
        # input de-chunks and ends at the last chunk.
        stream = meta["wsgi.input"]
        return _pieces(stream.read), True
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return None, False
    return _pieces(request.read, expected=length), False


def _pieces(read, *, expected: int | None = None) -> Iterator[bytes]:
    """The body in pieces. A body shorter than announced (the client went away) raises
    ``ClientBodyError``: sending less than ``Content-Length`` would leave the backend waiting."""
    received = 0
    while True:
        try:
            piece = read(CHUNK)
        except Exception as exc:  # the server's input: OSError, or its own "no more data"
            raise ClientBodyError(type(exc).__name__) from exc
        if not piece:
            if expected is not None and received < expected:
                raise ClientBodyError(f"{received} of {expected} bytes")
            return
        received += len(piece)
        yield piece


def backend_url(request) -> str:
    # the path the bridge routed on (the server decoded it), encoded again: what is matched
    # against the route table is exactly what the backend receives
    path = quote(request.path_info, safe=PATH_SAFE)
    query = request.META.get("QUERY_STRING", "")
    return settings.LEGACY_BACKEND_URL + path + (f"?{query}" if query else "")


def forward(request) -> Forwarded:
    """Send ``request`` to the backend; the response streams the backend's answer.

    Raises ``BackendUnavailable`` (502 unreachable or not configured, 503 breaker open, 504
    no answer in time) and ``ClientBodyError``.
    """
    base = settings.LEGACY_BACKEND_URL
    if not base:
        raise BackendUnavailable(
            502, "The legacy backend is not configured (LEGACY_BACKEND_URL is not set)."
        )
    breaker = breaker_for(base)
    if not breaker.allow():
        retry_after = max(1, round(breaker.snapshot().retry_in_seconds))
        raise BackendUnavailable(
            503,
            "The legacy backend is failing; the bridge stopped forwarding for a while "
            f"(retry in {retry_after} s).",
            retry_after=retry_after,
        )
    # reading the client's body and waiting for the backend need no database: the request's
    # connections go back to the pools meanwhile (a slow backend must not hold the web
    # process's connection budget; ADR 0018)
    release_connections()
    body, chunked = _body(request)
    started = time.perf_counter()
    try:
        upstream = pool_manager().urlopen(
            request.method,
            backend_url(request),
            body=body,
            headers=request_headers(request),
            chunked=chunked,
            retries=False,
            redirect=False,
            preload_content=False,
            decode_content=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(
                connect=settings.LEGACY_BACKEND_CONNECT_TIMEOUT_SECONDS,
                read=settings.LEGACY_BACKEND_TIMEOUT_SECONDS,
            ),
        )
    except ClientBodyError:
        breaker.release_trial()
        raise
    except ReadTimeoutError as exc:
        breaker.record_failure()
        raise BackendUnavailable(
            504,
            "The legacy backend did not answer within "
            f"{settings.LEGACY_BACKEND_TIMEOUT_SECONDS:g} s.",
        ) from exc
    except (ConnectTimeoutError, ProtocolError, HTTPError, OSError) as exc:
        if isinstance(exc.__context__, ClientBodyError) or isinstance(
            getattr(exc, "reason", None), ClientBodyError
        ):
            breaker.release_trial()
            raise ClientBodyError(str(exc)) from exc
        breaker.record_failure()
        logger.warning("legacy bridge: backend unreachable: %s", type(exc).__name__)
        raise BackendUnavailable(502, "The legacy backend could not be reached.") from exc
    backend_seconds = time.perf_counter() - started
    breaker.record_success()
    connection = getattr(upstream, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # waiting for the headers was bounded by the read timeout; silences inside a stream
        # (an event stream's gaps) may be longer
        sock.settimeout(settings.LEGACY_BACKEND_STREAM_IDLE_SECONDS)
    response = StreamingHttpResponse(_stream(upstream, request.path_info), status=upstream.status)
    if upstream.reason:
        response.reason_phrase = upstream.reason
    _copy_response_headers(upstream, response, request)
    return Forwarded(response=response, status=upstream.status, backend_seconds=backend_seconds)


def _stream(upstream, path: str) -> Iterator[bytes]:
    finished = False
    # a stream may last long and needs no database: whatever the request took again after
    # forward() goes back to the pools now, not when the stream ends (ADR 0018)
    release_connections()
    try:
        if upstream.chunked and upstream.supports_chunked_reads():
            for piece in upstream.read_chunked(decode_content=False):
                if piece:
                    yield piece
        else:
            while True:
                piece = upstream.read1(CHUNK, decode_content=False)
                if not piece:
                    break
                yield piece
        finished = True
    except (ReadTimeoutError, ProtocolError, HTTPError, OSError) as exc:
        # the status line is gone already: all we can do is end the body early
        logger.warning(
            "legacy bridge: response body of %s ended early: %s", path, type(exc).__name__
        )
    finally:
        if not finished:
            upstream.close()  # never reuse a connection with unread bytes on it
        upstream.release_conn()


def _authority(parts: SplitResult, scheme: str) -> tuple[str, int | None] | None:
    """(host, port) of a URL, the port its scheme's default when none is written."""
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    return host, port if port is not None else _DEFAULT_PORTS.get(scheme.lower())


def public_url(value: str, request) -> str:
    """``value`` (a ``Location``, ``Content-Location``) with the backend's own address
    replaced by the one the client used; relative URLs and other hosts' unchanged.

    The backend builds absolute URLs from the ``Host`` the bridge sent it (its own address,
    e.g. FastAPI's redirect to the path with a slash): sent on as they are, they would leak
    the internal address and send the client around the bridge. The client's address is
    ``request.scheme`` and ``request.get_host()``: the ``Host`` header (checked against
    ``ALLOWED_HOSTS``) and the scheme the gateway vouches for (``SECURE_PROXY_SSL_HEADER``).
    Matched on host and port, whatever the scheme (a backend behind TLS termination, or one
    believing ``X-Forwarded-Proto``, writes ``https://`` for its own address)."""
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return value
    if not parts.netloc or parts.scheme.lower() not in ("", "http", "https", "ws", "wss"):
        return value  # relative ("/api/v3/users/", "users/"), or not a web URL
    backend = urlsplit(settings.LEGACY_BACKEND_URL)
    scheme = parts.scheme or backend.scheme  # "//host:port/path" takes the current scheme
    own = _authority(backend, backend.scheme)
    if own is None or _authority(parts, scheme) != own:
        return value  # another host's URL: not ours to change
    rest = text[text.index("//") + 2 + len(parts.netloc) :]
    return f"{request.scheme}://{request.get_host()}{rest}"


def _public_refresh(value: str, request) -> str:
    match = _REFRESH.match(value)
    if not match:
        return value
    lead, quote_mark, url = match.groups()
    return f"{lead}{quote_mark}{public_url(url, request)}{quote_mark}"


def _copy_response_headers(upstream, response: StreamingHttpResponse, request) -> None:
    del response["Content-Type"]  # Django's default; the backend's (if any) is copied below
    named = _connection_tokens(upstream.headers.get("Connection", ""))
    for name, value in upstream.headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower.startswith("proxy-") or lower in named:
            continue
        if lower in RESPONSE_DROPPED:
            continue
        if lower == "set-cookie":
            _add_cookie(response, value)
            continue
        if lower in URL_HEADERS:
            value = public_url(value, request)
        elif lower == "refresh":
            value = _public_refresh(value, request)
        if lower in response.headers and lower != "x-request-id":
            response[name] = f"{response[name]}, {value}"
        else:
            response[name] = value
    if upstream.headers.get("Content-Type", "").startswith("text/event-stream"):
        response["X-Accel-Buffering"] = "no"  # tell a front nginx not to buffer it either


def _add_cookie(response, value: str) -> None:
    cookie = SimpleCookie()
    try:
        cookie.load(value)
    except CookieError:
        cookie = SimpleCookie()
    if not cookie:
        logger.warning("legacy bridge: dropped a Set-Cookie header it could not parse")
        return
    own = _own_cookie_names()
    for key, morsel in cookie.items():
        if key in own:
            logger.warning("legacy bridge: dropped the backend's cookie %s (the new system's)", key)
            continue
        response.cookies[key] = morsel
