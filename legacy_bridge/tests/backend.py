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

With ``guarded = True`` it first refuses what the real backend refuses, as recorded (FastAPI's
``HTTPBearer``): no ``Authorization`` header (or an empty one) 403 ``Not authenticated``,
another scheme 403 ``Invalid authentication credentials``, a bearer token not in
``legacy_tokens`` 401 ``Invalid or expired session``; ``/api/v3/system/health*`` needs none.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATTERN = bytes(range(256)) * 256  # 64 KiB


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
        elif path.startswith("/api/v3/echo") or path.startswith("/api/schedules"):
            self._json(200, seen, {"X-Backend": "legacy"})
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

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.seen: list[dict] = []
        self.first_event_sent = threading.Event()
        self.released = threading.Event()
        self.second_event_sent_at = 0.0
        self.guarded = False
        self.legacy_tokens: set[str] = set()
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
        return f"http://127.0.0.1:{self.server_address[1]}"

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
