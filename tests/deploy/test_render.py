"""deploy/nginx/render.sh: what an operator runs to produce the gateway configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "deploy" / "nginx" / "render.sh"
REQUIRED = {
    "OC_SERVER_NAME": "ops.example.com",
    "OC_TLS_CERT": "/etc/ssl/ops.crt",
    "OC_TLS_KEY": "/etc/ssl/ops.key",
    "OC_WEB_SERVERS": "10.0.0.11:8000, 10.0.0.12:8000",
}


def render(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OC_")}
    return subprocess.run(["sh", str(RENDER), str(tmp_path / "out")], env={**clean, **env},
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


def test_placeholders_are_filled_and_nginx_variables_left_alone(tmp_path):
    result = render(
        tmp_path,
        **REQUIRED,
        OC_CORS_ORIGINS="https://a.example.com,https://b.example.com:8443",
        OC_STREAM_SERVERS="10.0.0.21:8001",
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    conf = (out / "opsconductor.conf").read_text()
    assert "${OC_" not in conf
    assert "server_name ops.example.com;" in conf
    assert "return 301 https://ops.example.com$request_uri;" in conf  # port 443: no :443
    assert "proxy_set_header Host $oc_host;" in conf and "$binary_remote_addr" in conf
    assert f"include {out}/opsconductor-upstreams.list;" in conf
    assert f"include {out}/opsconductor-streams.list;" in conf
    # the live streams go to the streams processes, everything else to the web processes
    stream_location = conf[conf.index("location ~ ^/api/v1/runs/") :].split("\n    }", 1)[0]
    assert "proxy_pass http://opsconductor_streams;" in stream_location
    assert conf.count("proxy_pass http://opsconductor_streams;") == 1
    # not *.conf: the stock nginx.conf includes conf.d/*.conf at http level (test_layout.py)
    assert sorted(p.name for p in out.iterdir()) == [
        "opsconductor-cors.map",
        "opsconductor-streams.list",
        "opsconductor-upstreams.list",
        "opsconductor.conf",
    ]
    assert (out / "opsconductor-upstreams.list").read_text().splitlines() == [
        "server 10.0.0.11:8000 max_fails=2 fail_timeout=10s;",
        "server 10.0.0.12:8000 max_fails=2 fail_timeout=10s;",
    ]
    assert (out / "opsconductor-streams.list").read_text().splitlines() == [
        "server 10.0.0.21:8001 max_fails=2 fail_timeout=10s;",
    ]
    assert (out / "opsconductor-cors.map").read_text().splitlines() == [
        '"https://a.example.com" $http_origin;',
        '"https://b.example.com:8443" $http_origin;',
    ]


def test_without_streams_processes_the_web_processes_serve_the_streams_and_it_says_so(tmp_path):
    result = render(tmp_path, **REQUIRED)
    assert result.returncode == 0, result.stderr
    assert "OC_STREAM_SERVERS is not set" in result.stderr
    out = tmp_path / "out"
    assert (out / "opsconductor-streams.list").read_text() == (
        out / "opsconductor-upstreams.list"
    ).read_text()


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_required_value_is_named(tmp_path, missing):
    result = render(tmp_path, **{k: v for k, v in REQUIRED.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr
    assert not (tmp_path / "out" / "opsconductor.conf").exists()


@pytest.mark.parametrize(
    "origin", ["ops.example.com", "https://a.example.com/app", "https://a.example.com;"]
)
def test_a_cors_entry_that_is_not_an_origin_is_refused(tmp_path, origin):
    result = render(tmp_path, **REQUIRED, OC_CORS_ORIGINS=origin)
    assert result.returncode == 2
    assert f"'{origin}' is not an origin" in result.stderr
    assert not (tmp_path / "out" / "opsconductor.conf").exists()


def test_with_a_legacy_backend_websockets_are_carried_to_it(tmp_path):
    result = render(tmp_path, **REQUIRED, OC_LEGACY_BACKEND="http://10.0.0.30:8000/")
    assert result.returncode == 0, result.stderr
    assert "legacy WebSockets to http://10.0.0.30:8000" in result.stdout
    conf = (tmp_path / "out" / "opsconductor.conf").read_text()
    assert "${OC_" not in conf
    websocket = conf[conf.index("location @oc_legacy_websocket {") :].split("\n    }", 1)[0]
    assert "proxy_pass http://10.0.0.30:8000;" in websocket  # the trailing slash taken off
    assert "auth_request /_oc/legacy-websocket-check;" in websocket
    assert "error_page 418 = @oc_legacy_websocket;" in conf
    legacy = conf[conf.index("location ~ ^/api/(v3|schedules)(/|$) {") :].split("\n    }", 1)[0]
    assert "if ($oc_websocket) { return 418; }" in legacy
    # the same files as ever
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "opsconductor-cors.map",
        "opsconductor-streams.list",
        "opsconductor-upstreams.list",
        "opsconductor.conf",
    ]


def test_without_a_legacy_backend_the_websocket_regions_are_left_out_and_it_says_so(tmp_path):
    result = render(tmp_path, **REQUIRED)
    assert result.returncode == 0, result.stderr
    assert "OC_LEGACY_BACKEND is not set" in result.stderr
    conf = (tmp_path / "out" / "opsconductor.conf").read_text()
    for gone in ("@oc_legacy_websocket", "auth_request", "legacy-websocket", "return 418"):
        assert gone not in conf, gone
    # the legacy URL space itself is served as ever, with and without the slash
    assert "location ~ ^/api/(v3|schedules)(/|$) {" in conf


@pytest.mark.parametrize(
    "value", ["10.0.0.30:8000", "http://10.0.0.30:8000/legacy", "ws://10.0.0.30", "http://a b"]
)
def test_a_legacy_backend_that_is_not_an_origin_is_refused(tmp_path, value):
    result = render(tmp_path, **REQUIRED, OC_LEGACY_BACKEND=value)
    assert result.returncode == 2
    assert f"OC_LEGACY_BACKEND: '{value}'" in result.stderr
    assert not (tmp_path / "out" / "opsconductor.conf").exists()
