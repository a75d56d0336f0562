"""The gateway in the layout the docs give operators: ``render.sh /etc/nginx/conf.d`` next to
the stock ``nginx.conf``, which includes ``conf.d/*.conf`` inside ``http {}`` (Debian's nginx
package and the official nginx image alike). Every file render.sh writes there must be valid
where that glob puts it; ``nginx -t`` and a real request through nginx prove it.

The full gateway behaviour (TLS, limits, failover, streams...) is tested in the same layout by
test_gateway.py; these tests need no web process, only a small HTTP server on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.gateway import (
    ROOT,
    SERVER_NAME,
    Gateway,
    nginx_binary,
    nginx_command,
    self_signed_certificate,
    stock_nginx_conf,
)
from tests.sshd import free_port

pytestmark = pytest.mark.nginx
RENDER = ROOT / "deploy" / "nginx" / "render.sh"


class _Web(BaseHTTPRequestHandler):
    """Plays a web process: answers every request with what it received."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        body = json.dumps(
            {"path": self.path, "request_id": self.headers.get("X-Request-ID")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def prefix():
    # world-readable: nginx's workers run as nobody when the tests run as root
    base = Path(tempfile.mkdtemp(prefix="oc-layout-"))
    base.chmod(0o755)
    (base / "conf.d").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


def render_into_conf_d(base: Path, web_port: int) -> tuple[int, Path]:
    cert, key = self_signed_certificate(base)
    https_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OC_")}
    env.update(
        OC_SERVER_NAME=SERVER_NAME,
        OC_TLS_CERT=str(cert),
        OC_TLS_KEY=str(key),
        OC_WEB_SERVERS=f"127.0.0.1:{web_port}",
        OC_HTTP_PORT=str(free_port()),
        OC_HTTPS_PORT=str(https_port),
        OC_STATIC_ROOT=str(base / "static"),
        OC_ACME_ROOT=str(base / "acme"),
        OC_ACCESS_LOG=str(base / "access.log"),
    )
    result = subprocess.run(
        ["sh", str(RENDER), str(base / "conf.d")],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return https_port, cert


@pytest.mark.parametrize("flavour", ["debian", "official-image"])
def test_rendered_into_conf_d_the_stock_nginx_conf_starts_and_proxies(prefix, web, flavour):
    nginx = nginx_binary()
    # an earlier render wrote the upstream list as opsconductor-upstreams.conf: re-rendering
    # must not leave it where the stock glob reads it
    (prefix / "conf.d" / "opsconductor-upstreams.conf").write_text("server 127.0.0.1:9;\n")
    https_port, cert = render_into_conf_d(prefix, web.server_address[1])
    conf = stock_nginx_conf(prefix, flavour)
    assert re.search(r"http \{[^}]*include conf\.d/\*\.conf;", conf, re.S)  # stock, as shipped
    (prefix / "nginx.conf").write_text(conf)
    # only the main file in conf.d/ ends in .conf: the lists are pieces of blocks
    assert sorted(p.name for p in (prefix / "conf.d").glob("*.conf")) == ["opsconductor.conf"]

    command = nginx_command(nginx, prefix)
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway = Gateway(
        base=prefix, http_port=0, https_port=https_port, cert=cert,
        static_root=prefix / "static", access_log=prefix / "access.log", web=[],
    )  # fmt: skip
    gateway.process = process
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, headers, body = gateway.https(
                    "GET", "/api/v1/anything?x=1", headers={"X-Request-ID": "layout-test-1"}
                )
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 200, body
        # answered by the web process behind the upstream list render.sh wrote
        assert json.loads(body) == {"path": "/api/v1/anything?x=1", "request_id": "layout-test-1"}
        assert headers["X-Request-ID"] == "layout-test-1"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        gateway.stop()


def test_the_docs_and_compose_render_into_the_directory_the_stock_conf_includes():
    """The layout tested above is the documented one: both render into /etc/nginx/conf.d."""
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    deploy_md = (ROOT / "docs" / "deploy.md").read_text()
    assert "render.sh /etc/nginx/conf.d" in compose
    assert "render.sh /etc/nginx/conf.d" in deploy_md
    # and they name the files render.sh writes
    rendered = re.findall(r'"\$out/([\w.-]+)\.tmp"', RENDER.read_text())
    assert set(rendered) == {
        "opsconductor.conf",
        "opsconductor-upstreams.list",
        "opsconductor-streams.list",
        "opsconductor-cors.map",
    }
    for name in rendered:
        assert f"`{name}`" in deploy_md, name
