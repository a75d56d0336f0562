"""Legacy bridge: what the proxy adds, measured on loopback (docs/benchmarks.md).

A legacy backend (the tests' threaded HTTP/1.1 server, legacy_bridge/tests/backend.py) and the
project in gunicorn (gthread, as deploy/entrypoint.sh runs it) with the bridge pointed at it.
The same requests go to the backend directly and through the bridge, over keep-alive
connections:

1. latency: N small GETs one after another (p50 / p95 / p99, and the difference), and
   ``/healthz`` of the same server: what any request through Django costs there;
2. throughput: the same GETs from T client threads at once (requests/s), with traffic counted
   in memory (flushed every 5 s, the default) and with one upsert per request
   (``LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS=0``);
3. a large download (MiB/s);
4. in-process costs of the per-request pieces: the route table's version check and the two
   ways of counting traffic (µs per call).

The clients run on the same machine and compete for its cores: figures are comparative.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.setup import django_for_bench

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def _free_port() -> int:
    from legacy_bridge.tests.backend import free_port

    return free_port()


def _start_gunicorn(backend_url: str, flush_seconds: str, workers: int, threads: int):
    port = _free_port()
    env = {
        **os.environ,
        "LEGACY_BACKEND_URL": backend_url,
        "LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS": flush_seconds,
        "OPSCONDUCTOR_VAR_DIR": tempfile.mkdtemp(prefix="bench-bridge-"),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def _sequential(port: int, n: int, path: str) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        times.append(time.perf_counter() - started)
    connection.close()
    return times


def _parallel(port: int, n: int, threads: int, path: str) -> float:
    per_thread = n // threads
    errors: list[BaseException] = []

    def run():
        try:
            _sequential(port, per_thread, path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    if errors:
        raise errors[0]
    return per_thread * threads / took


def _download(port: int, size: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", f"/api/v3/download?size={size}")
    response = connection.getresponse()
    total = 0
    while piece := response.read(256 * 1024):
        total += len(piece)
    assert total == size
    return size / MiB / (time.perf_counter() - started)


def _micro(calls: int) -> dict[str, float]:
    from django.conf import settings
    from django.test.utils import override_settings

    from legacy_bridge import routing, traffic
    from legacy_bridge.models import TrafficBucket

    routing.current_table()
    started = time.perf_counter()
    for _ in range(calls):
        routing.current_table()
    version_us = (time.perf_counter() - started) / calls * 1e6
    with override_settings(LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS=0):
        started = time.perf_counter()
        for _ in range(calls):
            traffic.record(prefix="/api/v3/bench", method="GET", status=200)
        upsert_us = (time.perf_counter() - started) / calls * 1e6
    with override_settings(LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS=3600):
        started = time.perf_counter()
        for _ in range(calls):
            traffic.record(prefix="/api/v3/bench", method="GET", status=200)
        memory_us = (time.perf_counter() - started) / calls * 1e6
        traffic.flush()
    assert settings.LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS != 0
    TrafficBucket.objects.filter(prefix="/api/v3/bench").delete()
    return {"version": version_us, "upsert": upsert_us, "memory": memory_us}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench legacy_bridge")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8, help="client threads for throughput")
    parser.add_argument("--mib", type=int, default=200, help="size of the large download")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--server-threads", type=int, default=8, help="gunicorn threads each")
    args = parser.parse_args(argv)

    django_for_bench()
    from legacy_bridge.tests.backend import LegacyBackend

    backend = LegacyBackend().start()
    direct_port = backend.server_address[1]
    path = "/api/v3/echo/bench"
    results = {}
    try:
        for label, flush in (("in memory, flushed every 5 s", "5"), ("upsert per request", "0")):
            process, port = _start_gunicorn(backend.url, flush, args.workers, args.server_threads)
            try:
                _sequential(port, 200, path)  # warm up
                _sequential(direct_port, 200, path)
                backend.seen.clear()
                direct = _sequential(direct_port, args.requests, path)
                bridged = _sequential(port, args.requests, path)
                floor = _sequential(port, args.requests, "/healthz")
                backend.seen.clear()
                results[label] = {
                    "direct": direct,
                    "bridged": bridged,
                    "floor": floor,
                    "direct_rps": _parallel(direct_port, args.requests, args.threads, path),
                    "bridged_rps": _parallel(port, args.requests, args.threads, path),
                }
                backend.seen.clear()
                if flush == "5":
                    size = args.mib * MiB
                    results["download"] = {
                        "direct": _download(direct_port, size),
                        "bridged": _download(port, size),
                    }
            finally:
                process.terminate()
                process.wait(10)
        micro = _micro(2000)
    finally:
        backend.stop()

    print(f"legacy bridge, {args.requests} GETs of a small JSON answer, keep-alive, loopback")
    print(f"gunicorn: {args.workers} worker(s) x {args.server_threads} threads")
    for label in ("in memory, flushed every 5 s", "upsert per request"):
        r = results[label]
        d, b = r["direct"], r["bridged"]
        print(f"\ntraffic counted {label}:")
        print(
            "  sequential latency ms   p50 / p95 / p99: direct "
            f"{_pct(d, 0.5) * 1e3:.2f} / {_pct(d, 0.95) * 1e3:.2f} / {_pct(d, 0.99) * 1e3:.2f}, "
            f"bridged {_pct(b, 0.5) * 1e3:.2f} / {_pct(b, 0.95) * 1e3:.2f} / "
            f"{_pct(b, 0.99) * 1e3:.2f}, added p50 "
            f"{(statistics.median(b) - statistics.median(d)) * 1e3:.2f} ms; "
            f"Django's own floor (/healthz in the same server) p50 "
            f"{_pct(r['floor'], 0.5) * 1e3:.2f} ms"
        )
        print(
            f"  throughput with {args.threads} client threads: direct "
            f"{r['direct_rps']:.0f} req/s, bridged {r['bridged_rps']:.0f} req/s"
        )
    dl = results["download"]
    print(
        f"\n{args.mib} MiB download: direct {dl['direct']:.0f} MiB/s, "
        f"bridged {dl['bridged']:.0f} MiB/s"
    )
    print(
        f"\nin-process, per request: route table version check {micro['version']:.0f} µs; "
        f"traffic upsert {micro['upsert']:.0f} µs vs in memory {micro['memory']:.1f} µs"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
