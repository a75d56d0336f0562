"""The bridge in the WSGI server production runs (gunicorn, gthread workers, as in
deploy/entrypoint.sh), in a process of its own, in front of the real legacy backend of these
tests: what the test client cannot show (the server's own buffering, chunked request bodies,
the worker's memory while 50 MB go through it)."""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from legacy_bridge.tests.backend import pattern_bytes, pattern_sha256
from tests.fixtures import wait_for
from tests.reliability.workers import database_env

pytestmark = [pytest.mark.once, pytest.mark.django_db(databases="__all__", transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def _free_port() -> int:
    from legacy_bridge.tests.backend import free_port

    return free_port()


@pytest.fixture
def bridge_server(legacy, tmp_path):
    """gunicorn serving the project on a loopback port, the bridge pointed at ``legacy``."""
    port = _free_port()
    env = {
        **os.environ,
        **database_env(),
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "LEGACY_BACKEND_URL": legacy.url,
        "LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS": "1",
        "OPSCONDUCTOR_VAR_DIR": str(tmp_path / "var"),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def up():
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited: {(tmp_path / 'gunicorn.log').read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    wait_for(up, timeout=60, what="gunicorn to answer /healthz")
    worker = _children(process.pid)[0]
    yield {"port": port, "worker_pid": worker}
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (gunicorn's worker under its arbiter)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


class RssSampler:
    """Samples a process's resident memory every 5 ms; ``peak`` is the highest seen. (The
    kernel's own high-water mark is reset first where allowed, and read too.)"""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kib(self.pid, "VmRSS"))
            time.sleep(0.005)

    def __enter__(self):
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            self.peak = max(self.peak, _status_kib(self.pid, "VmHWM"))


def _download(port: int, path: str) -> tuple[int, str, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    digest, total = hashlib.sha256(), 0
    while True:
        piece = response.read(256 * 1024)
        if not piece:
            break
        digest.update(piece)
        total += len(piece)
    connection.close()
    return response.status, digest.hexdigest(), total


def test_a_50_mb_response_streams_through_without_the_workers_memory_growing_by_it(
    bridge_server,
):
    port, pid = bridge_server["port"], bridge_server["worker_pid"]
    # warm up: code paths, connection pool, buffers
    for _ in range(3):
        assert _download(port, f"/api/v3/download?size={4 * MiB}")[0] == 200
    before = _status_kib(pid, "VmRSS")
    size = 50 * MiB
    with RssSampler(pid) as sampler:
        status, sha, total = _download(port, f"/api/v3/download?size={size}")
    assert status == 200
    assert total == size and sha == pattern_sha256(size)
    grew_mib = (sampler.peak - before) / 1024
    print(f"worker RSS before {before / 1024:.1f} MiB, peak during {sampler.peak / 1024:.1f} MiB")
    assert grew_mib < 10, f"the worker's memory grew by {grew_mib:.1f} MiB for 50 MiB"


def test_a_50_mb_chunked_upload_streams_through_intact_without_memory_growth(bridge_server, legacy):
    port, pid = bridge_server["port"], bridge_server["worker_pid"]
    size = 50 * MiB
    before = _status_kib(pid, "VmRSS")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    with RssSampler(pid) as sampler:
        connection.request(
            "POST",
            "/api/v3/echo/upload",
            body=pattern_bytes(size),
            headers={"Content-Type": "application/octet-stream"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        response.read()
    assert response.status == 200
    seen = legacy.seen[-1]
    assert seen["chunked"] is True  # forwarded as it came: chunked, length unknown
    assert seen["body_length"] == size
    assert seen["body_sha256"] == pattern_sha256(size)
    grew_mib = (sampler.peak - before) / 1024
    assert grew_mib < 10, f"the worker's memory grew by {grew_mib:.1f} MiB for 50 MiB"


def test_event_stream_arrives_event_by_event_through_the_server(bridge_server, legacy):
    connection = http.client.HTTPConnection("127.0.0.1", bridge_server["port"], timeout=15)
    connection.request("GET", "/api/v3/events", headers={"Accept": "text/event-stream"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    first = response.read1(65536)
    assert b"data: first" in first
    assert not legacy.released.is_set()  # the backend has not sent the second event yet
    received_first_at = time.monotonic()
    legacy.release()
    rest = response.read()
    assert b"data: second" in rest
    assert received_first_at < legacy.second_event_sent_at


def test_traffic_of_the_server_process_reaches_the_routes_view(bridge_server, legacy):
    from apps.accounts.factories import UserFactory
    from legacy_bridge.models import TrafficBucket

    port = bridge_server["port"]
    for _ in range(5):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/v3/echo/t")
        assert connection.getresponse().status == 200
        connection.close()
    # the server flushes its counts within a second (LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS=1),
    # by its background thread since no further request comes
    wait_for(
        lambda: (
            sum(TrafficBucket.objects.filter(prefix="/api/v3").values_list("count", flat=True)) >= 5
        ),
        timeout=10,
        what="the server's traffic counts in the database",
    )
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(UserFactory(admin=True))
    routes = {r["prefix"]: r for r in client.get("/api/v1/bridge/routes/").json()}
    assert routes["/api/v3"]["last_day"]["by_method"]["GET"] >= 5
