"""A real HTTP/1.1 server on loopback playing the legacy backend, in a thread of the test
process (random port). It records what reached it and answers by path:

- ``/api/v3/system/health``: 200 ``{"status": "healthy"}``
- ``/api/v3/echo...`` (any method): 200 with what it received (method, path, query, headers,
  body length and SHA-256, whether the body came chunked); the body is hashed as it is read
- ``/api/v3/status/<code>``: that status with ``{"detail": ...}``
- ``/api/v3/slow?seconds=S``: answers after S seconds
- ``/api/v3/events``: ``text/event-stream``, chunked: sends the first event, then waits until
  the test calls ``release()`` (at most 10 s), then sends the second
- ``/api/v3/download?size=N``: N bytes (a repeating pattern) with their Content-Length
- ``/api/v3/hop``: a response with hop-by-hop headers and two cookies
- ``/api/schedules`` and ``/api/v3/users`` (no trailing slash, any method): ``307`` to the path
  with the slash on the backend's own address, built from the ``Host`` it received, as the
  real backend (Starlette's ``redirect_slashes``) answers; with the slash: the echo
- ``/api/v3/redirect/<status>?location=...&content_location=...&refresh=...``: that status
  with those headers
- ``/api/v3/websocket/connect/<token>``: a WebSocket (RFC 6455) when asked for one: the
  handshake, then each text message received is answered with ``echo: <message>`` until the
  client closes; a plain request gets 404 (as the real backend's websocket route does). With
  ``drop_websockets = True`` the connection is closed without an answer (a backend going away)

With ``guarded = True`` it first refuses what the real backend refuses, as recorded (FastAPI's
``HTTPBearer``): no ``Authorization`` header (or an empty one) 403 ``Not authenticated``,
another scheme 403 ``Invalid authentication credentials``, a bearer token not in
``legacy_tokens`` 401 ``Invalid or expired session``; ``/api/v3/system/health*`` needs none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATTERN = bytes(range(256)) * 256  # 64 KiB
# Paths the real backend serves only with a trailing slash: without it, a 307 to it.
SLASH_REDIRECTED = ("/api/schedules", "/api/v3/users")
WEBSOCKET_PATH = "/api/v3/websocket/connect/"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


def websocket_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answering ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def websocket_frame(payload: bytes, *, opcode: int = 1, masked: bool = False) -> bytes:
    """One final frame (RFC 6455 5.2); a client's frames are masked, a server's are not."""
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_websocket_frame(read) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame, ``read(n)`` returning exactly n bytes."""
    first, second = read(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", read(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", read(8))
    mask = read(4) if second & 0x80 else b""
    payload = read(size) if size else b""
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload


def pattern_bytes(size: int):
    """The download body, piece by piece (and its SHA-256 is computed the same way)."""
    left = size
    while left > 0:
        piece = PATTERN[: min(left, len(PATTERN))]
        left -= len(piece)
        yield piece


def pattern_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for piece in pattern_bytes(size):
        digest.update(piece)
    return digest.hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK would add 40 ms to every answer
    disable_nagle_algorithm = True
    server: LegacyBackend

    def log_message(self, format, *args):  # quiet
        pass

    def _read_body(self) -> tuple[int, str, bool]:
        digest = hashlib.sha256()
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 65536))
                    digest.update(data)
                    total += len(data)
                    left -= len(data)
                self.rfile.readline()
            return total, digest.hexdigest(), True
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            data = self.rfile.read(min(left, 65536))
            if not data:
                break
            digest.update(data)
            total += len(data)
            left -= len(data)
        return total, digest.hexdigest(), False

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length, sha, chunked = self._read_body()
        seen = {
            "method": self.command,
            "path": url.path,
            "raw_path": self.path,
            "query": url.query,
            "headers": {k: v for k, v in self.headers.items()},
            "header_list": [[k, v] for k, v in self.headers.items()],
            "body_length": length,
            "body_sha256": sha,
            "chunked": chunked,
        }
        self.server.seen.append(seen)
        path = url.path
        refused = self.server.refusal(path, self.headers.get("Authorization"))
        if refused is not None:
            self._json(*refused)
        elif path == "/api/v3/system/health":
            self._json(200, {"status": "healthy", "source": "legacy"})
        elif path in SLASH_REDIRECTED:
            # Starlette: the URL of the request with the slash added, on the Host it was sent
            host = self.headers.get("Host", "")
            location = f"http://{host}{path}/" + (f"?{url.query}" if url.query else "")
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif (
            path.startswith("/api/v3/echo")
            or path.startswith("/api/schedules/")
            or path.startswith("/api/v3/users/")
        ):
            self._json(200, seen, {"X-Backend": "legacy"})
        elif path.startswith("/api/v3/redirect/"):
            headers = {
                name: query[key][0]
                for key, name in (
                    ("location", "Location"),
                    ("content_location", "Content-Location"),
                    ("refresh", "Refresh"),
                )
                if key in query
            }
            self._json(int(path.rsplit("/", 1)[1]), {"detail": "moved"}, headers)
        elif path.startswith(WEBSOCKET_PATH) and (
            self.headers.get("Upgrade", "").lower() == "websocket" and self.command == "GET"
        ):
            self._websocket()
        elif path.startswith("/api/v3/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._json(code, {"detail": f"legacy says {code}"})
        elif path == "/api/v3/slow":
            time.sleep(float(query.get("seconds", ["1"])[0]))
            self._json(200, {"slow": True})
        elif path == "/api/v3/events":
            self._events()
        elif path == "/api/v3/download":
            size = int(query["size"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            for piece in pattern_bytes(size):
                self.wfile.write(piece)
        elif path == "/api/v3/hop":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "keep-alive, X-Private-Hop")
            self.send_header("X-Private-Hop", "must not pass")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("Proxy-Authenticate", "Basic")
            self.send_header("Set-Cookie", "legacy_a=1; Path=/; HttpOnly")
            self.send_header("Set-Cookie", "legacy_b=2; Path=/api")
            self.send_header("Set-Cookie", "sessionid=from-legacy; Path=/")
            self.send_header("X-End-To-End", "kept")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        else:
            self._json(404, {"detail": "Not Found"})

    def _websocket(self) -> None:
        if self.server.drop_websockets:
            self.close_connection = True
            return
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket_accept(key))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True  # the connection is the socket's now, never HTTP again
        self.server.websocket_opened.set()

        def read(size: int) -> bytes:
            data = self.rfile.read(size)
            if len(data) < size:
                raise ConnectionError("the client went away")
            return data

        try:
            while True:
                opcode, payload = read_websocket_frame(read)
                if opcode == 8:  # close: answer it, then the connection ends
                    self.wfile.write(websocket_frame(payload[:2], opcode=8))
                    self.wfile.flush()
                    return
                if opcode == 9:  # ping
                    self.wfile.write(websocket_frame(payload, opcode=10))
                elif opcode == 1:
                    self.server.websocket_messages.append(payload.decode())
                    self.wfile.write(websocket_frame(b"echo: " + payload))
                self.wfile.flush()
        except (ConnectionError, OSError, ValueError):
            return

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        chunk(b"id: 1\ndata: first\n\n")
        self.server.first_event_sent.set()
        released = self.server.released.wait(10)
        self.server.second_event_sent_at = time.monotonic()
        chunk(b"id: 2\ndata: " + (b"second" if released else b"timeout") + b"\n\n")
        chunk(b"")
        # the terminating chunk is the empty one above

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class LegacyBackend(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, *, tls: tuple[str, str] | None = None):
        """``tls``: (certificate, key) files: HTTPS instead of HTTP."""
        super().__init__(("127.0.0.1", port), Handler)
        self.tls = tls is not None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.seen: list[dict] = []
        self.first_event_sent = threading.Event()
        self.released = threading.Event()
        self.second_event_sent_at = 0.0
        self.guarded = False
        self.legacy_tokens: set[str] = set()
        self.websocket_opened = threading.Event()
        self.websocket_messages: list[str] = []
        self.drop_websockets = False
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def refusal(self, path: str, authorization: str | None) -> tuple[int, dict, dict] | None:
        """What the guarded backend answers instead (status, body, headers), or None."""
        if not self.guarded or path.rstrip("/").startswith("/api/v3/system/health"):
            return None
        scheme, _, token = (authorization or "").strip().partition(" ")
        if not scheme:
            return 403, {"detail": "Not authenticated"}, {}
        if scheme.lower() != "bearer":
            return 403, {"detail": "Invalid authentication credentials"}, {}
        if token.strip() not in self.legacy_tokens:
            return 401, {"detail": "Invalid or expired session"}, {"WWW-Authenticate": "Bearer"}
        return None

    def handle_error(self, request, client_address):
        # A client (the bridge) closing a kept-alive connection is normal. Nothing is printed:
        # a traceback printed from this thread while the main thread compiles (pytest's
        # assertion rewriting) trips CPython 3.11's shared AST recursion counter.
        pass

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def start(self) -> LegacyBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()

    def release(self) -> None:
        self.released.set()


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
