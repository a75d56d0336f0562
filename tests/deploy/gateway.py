"""Real nginx with the shipped gateway configuration in front of real web processes.

``start_web`` runs ``deploy/entrypoint.sh web`` (gunicorn, as the image does) with production
settings against the test databases, and one ``deploy/entrypoint.sh streams`` (uvicorn) for the
live streams; ``start_gateway`` renders ``deploy/nginx/`` with
``render.sh`` (as an operator does) for a self-signed certificate, random high ports and a
prefix of its own, and runs nginx on it in the layout docs/deploy.md describes: the rendered
files in ``conf.d/`` next to a stock ``nginx.conf`` (``stock_nginx_conf``) that includes
``conf.d/*.conf`` inside ``http {}``, as Debian's package and the official image do. ``https()`` talks to the gateway on 127.0.0.1 with the
server name for SNI, the Host header and certificate verification.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from legacy_bridge.tests.backend import read_websocket_frame, websocket_frame
from tests.reliability.workers import database_env
from tests.sshd import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVER_NAME = "ops.test"
ALLOWED_ORIGIN = "https://console.example.com"


def nginx_binary(candidates=("/usr/sbin/nginx", "/usr/local/sbin/nginx")) -> str:
    """nginx's path; a skip with the reason when it is missing, a failure in CI."""
    found = shutil.which("nginx") or next((p for p in candidates if Path(p).exists()), None)
    if found:
        return found
    message = "nginx is not installed (Debian: apt-get install -y nginx)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the gateway tests", pytrace=False)
    pytest.skip(f"{message}: the gateway tests need the real nginx")


def self_signed_certificate(
    directory: Path, name: str = "gateway", alt_names: str = f"DNS:{SERVER_NAME}"
) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", f"/CN={alt_names.split(',')[0].split(':')[1]}",
            "-addext", f"subjectAltName={alt_names}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@dataclass
class WebProcess:
    port: int
    env: dict
    log: Path
    process: subprocess.Popen | None = None
    role: str = "web"  # or "streams"

    def start(self) -> WebProcess:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            ["sh", str(ROOT / "deploy" / "entrypoint.sh"), self.role],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.role} process on {self.port} did not start:\n{self.output()}"
                )
            time.sleep(0.2)
        return self

    def healthy(self) -> bool:
        """The image's HEALTHCHECK for the web role."""
        check = subprocess.run(
            ["sh", str(ROOT / "deploy" / "entrypoint.sh"), "healthcheck", self.role],
            cwd=ROOT, env=self.env, capture_output=True, timeout=15, check=False,
        )  # fmt: skip
        return check.returncode == 0

    def kill(self) -> None:
        """SIGKILL to gunicorn and its workers: the process vanishes mid-flight. Returns once
        the port refuses connections (gunicorn's worker, which shares the listening socket,
        dies a moment after the master)."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"port {self.port} still accepts connections after the kill")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def production_env(var_dir: Path) -> dict:
    """Production settings (OPSCONDUCTOR_ENV=production) on the test databases, the test
    broker and a Redis cache, with the test process's keys (tokens it signs are valid)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("DATABASE_URL") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        {
            "PATH": path,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "OPSCONDUCTOR_ENV": "production",
            "OPSCONDUCTOR_VAR_DIR": str(var_dir),
            "SECRET_KEY": settings.SECRET_KEY,
            "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
            "OPSCONDUCTOR_SEAL_KEYS": ",".join(settings.OPSCONDUCTOR_SEAL_KEYS),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_QUEUE_PREFIX": settings.CELERY_QUEUE_PREFIX,
            "CELERY_QUEUE_EXPIRES_SECONDS": "600",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
            "ALLOWED_HOSTS": SERVER_NAME,
            "DATABASE_CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
            **database_env(),
        }
    )
    return env


def web_env(port: int, var_dir: Path, https_port: int) -> dict:
    """``production_env`` for a web process on ``port`` behind the gateway."""
    return {
        **production_env(var_dir),
        "CSRF_TRUSTED_ORIGINS": f"https://{SERVER_NAME}:{https_port}",
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "WEB_BIND": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "8",
    }


@dataclass
class Gateway:
    base: Path
    http_port: int
    https_port: int
    cert: Path
    static_root: Path
    access_log: Path
    web: list[WebProcess]
    streams: WebProcess | None = None
    process: subprocess.Popen | None = None
    context: ssl.SSLContext = field(init=False)

    def __post_init__(self):
        self.context = ssl.create_default_context(cafile=str(self.cert))

    # --- talking to it ----------------------------------------------------------------------
    @property
    def public_host(self) -> str:
        """The Host a browser sends for the gateway's (non-default) HTTPS port."""
        return f"{SERVER_NAME}:{self.https_port}"

    def connection(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        return _GatewayConnection(self.https_port, self.context, timeout)

    def https(self, method: str, path: str, *, headers=None, body=None, timeout: float = 10.0):
        """One request over TLS; returns (status, headers, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers={"Host": SERVER_NAME, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def http(self, method: str, path: str):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request(method, path, headers={"Host": SERVER_NAME})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def access_entries(self) -> list[dict]:
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line]

    def logged(self, predicate, *, at_least: int = 1) -> list[dict]:
        """Access log entries matching ``predicate``, waiting (briefly) for ``at_least`` of
        them: nginx writes a request's line just after it has answered it."""
        deadline = time.monotonic() + 5
        while True:
            found = [entry for entry in self.access_entries() if predicate(entry)]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish open requests
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for web in [*self.web, *([self.streams] if self.streams else [])]:
            web.stop()


class WebSocket:
    """A client of RFC 6455 over the gateway's TLS: the handshake, text messages, close."""

    def __init__(self, gateway: Gateway, path: str):
        self.key = base64.b64encode(os.urandom(16)).decode()
        raw = socket.create_connection(("127.0.0.1", gateway.https_port), timeout=10)
        self.sock = gateway.context.wrap_socket(raw, server_hostname=SERVER_NAME)
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {gateway.public_host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: https://{gateway.public_host}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        head = self._until(b"\r\n\r\n").decode("latin-1")
        status_line, *lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)}

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed before {marker!r}: {self.buffer!r}")
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def body(self) -> bytes:
        """The body of a refusal (not 101), by its Content-Length."""
        return self.read(int(self.headers["content-length"]))

    def send(self, text: str) -> None:
        self.sock.sendall(websocket_frame(text.encode(), masked=True))

    def receive(self) -> tuple[int, bytes]:
        return read_websocket_frame(self.read)

    def close(self) -> None:
        self.sock.close()


class _GatewayConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with SNI and certificate check for SERVER_NAME (no DNS needed)."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__("127.0.0.1", port, context=context, timeout=timeout)
        self._tls_context = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=SERVER_NAME)


def stock_nginx_conf(base: Path, flavour: str = "debian") -> str:
    """The ``nginx.conf`` an operator starts from (``debian``: the nginx package's;
    ``official-image``: the nginx image's), with its paths moved under ``base`` and unused
    parts (modules, sites-enabled) left out. Both include ``conf.d/*.conf`` inside ``http {}``,
    which is where docs/deploy.md and deploy/compose.yaml have ``render.sh`` write."""
    # nginx's workers drop to an unprivileged user when started as root
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {base / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    if flavour == "debian":
        http = f"""    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
    ssl_prefer_server_ciphers on;
    access_log {base / "access-default.log"};
    gzip on;"""
    elif flavour == "official-image":
        http = f"""    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log {base / "access-default.log"} main;
    sendfile on;
    keepalive_timeout 65;"""
    else:
        raise ValueError(flavour)
    (base / "tmp").mkdir(exist_ok=True)
    return f"""{user}
worker_processes 2;
pid {base / "nginx.pid"};
error_log {base / "error.log"} info;
events {{ worker_connections 512; }}
http {{
{http}
{temp}
    include conf.d/*.conf;
}}
"""


def nginx_command(nginx: str, base: Path) -> list[str]:
    """nginx on the prefix ``base`` (``base/nginx.conf``), in the foreground."""
    # -e: not even the start-up messages go to the system's log directory (unwritable unless root)
    return [nginx, "-p", str(base), "-e", str(base / "error.log"),
            "-c", str(base / "nginx.conf"), "-g", "daemon off;"]  # fmt: skip


def start_gateway(
    nginx: str,
    *,
    web_count: int = 2,
    streams: bool = True,
    web_extra: dict | None = None,
    render_extra: dict | None = None,
) -> Gateway:
    """nginx in front of ``web_count`` web processes and (``streams``) one streams process;
    without it the web processes serve the live streams, as the gateway does when
    OC_STREAM_SERVERS is not set. ``web_extra`` is added to the web processes' environment,
    ``render_extra`` to render.sh's (e.g. OC_LEGACY_BACKEND)."""
    # nginx's workers drop to an unprivileged user when started as root: everything they read
    # (static files) must be readable by it, so the gateway gets a world-readable directory
    base = Path(tempfile.mkdtemp(prefix="oc-gateway-"))
    base.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed_certificate(base)
    static_root = base / "static"
    static_root.mkdir()
    (base / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
    access_log = base / "access.log"
    web = []
    for index in range(web_count):
        port = free_port()
        var_dir = base / f"web{index}"
        var_dir.mkdir()
        env = {**web_env(port, var_dir, https_port), **(web_extra or {})}
        web.append(WebProcess(port=port, env=env, log=base / f"web{index}.log").start())
    streams_process = None
    if streams:
        (base / "streams").mkdir()
        streams_port = free_port()
        streams_process = WebProcess(
            port=streams_port, env=web_env(streams_port, base / "streams", https_port),
            log=base / "streams.log", role="streams",
        ).start()  # fmt: skip
    render_env = {
        **os.environ,
        "OC_SERVER_NAME": SERVER_NAME,
        "OC_TLS_CERT": str(cert),
        "OC_TLS_KEY": str(key),
        "OC_WEB_SERVERS": ",".join(f"127.0.0.1:{w.port}" for w in web),
        "OC_STREAM_SERVERS": f"127.0.0.1:{streams_process.port}" if streams_process else "",
        "OC_HTTP_PORT": str(http_port),
        "OC_HTTPS_PORT": str(https_port),
        "OC_STATIC_ROOT": str(static_root),
        "OC_ACME_ROOT": str(base / "acme"),
        "OC_ACCESS_LOG": str(access_log),
        "OC_CORS_ORIGINS": ALLOWED_ORIGIN,
        **(render_extra or {}),
    }
    # the documented layout: render.sh writes into conf.d/, which the stock nginx.conf includes
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "nginx" / "render.sh"), str(base / "conf.d")],
        env=render_env, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    (base / "nginx.conf").write_text(stock_nginx_conf(base))
    gateway = Gateway(
        base=base, http_port=http_port, https_port=https_port, cert=cert,
        static_root=static_root, access_log=access_log, web=web, streams=streams_process,
    )  # fmt: skip
    command = nginx_command(nginx, base)
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        gateway.stop()
        raise RuntimeError(f"nginx -t refused the rendered configuration:\n{checked.stderr}")
    gateway.process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=(base / "nginx.stderr").open("wb")
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        if gateway.process.poll() is not None or time.monotonic() > deadline:
            gateway.stop()
            raise RuntimeError(f"nginx did not start:\n{(base / 'error.log').read_text()}")
        time.sleep(0.1)
    return gateway
