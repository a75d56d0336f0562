"""Live streams under load: S open streams of one run on the streams process, real processes.

``python -m bench streams [--streams 500] [--targets 10] [--web-workers 2] [--web-threads 8]``
(``make bench-streams``)

On a database of its own (default ``oc_bench_streams``, created and migrated if missing; the
bench refuses a database name without "bench": it deletes its own targets, jobs and runs there
at its start) it starts, as production runs them (``OPSCONDUCTOR_ENV=production``, a Redis
cache, keys of its own, a ``CELERY_QUEUE_PREFIX`` of its own, ``deploy/entrypoint.sh``):

- ``web``: gunicorn, ``--web-workers`` x ``--web-threads`` (``WEB_WORKERS``/``WEB_THREADS``);
- ``streams``: uvicorn with the ASGI application (docs/adr/0019-live-streams.md), one process
  (``--streams-workers``: ``STREAMS_WORKERS``);
- one ``worker`` on every queue (``--worker-threads``); no beat (nothing here needs it);

and ``--targets`` real sshd targets on loopback (bench/targets.py), registered through the API
by an admin (created with the ORM), with a job whose one step writes a line every 0.1 s for a
minute: ``tick <i> <the target's clock>``, so each line's delay to a client can be measured.

Phases (the web processes are asked directly, as the gateway would: ``Host`` and
``X-Forwarded-Proto: https``):

1. **idle**: ``GET /api/v1/me/`` and ``GET /api/v1/runs/?page_size=20``, ``--api-requests`` of
   each, alternately, from ``--api-concurrency`` keep-alive connections (default 1: one request
   after the other, so the measuring does not itself fill the machine's cores) -> p50 / p95;
2. **run, no stream** (``--no-baseline`` skips it): the same during a run nobody watches, then
   its cancel: what the run itself costs, without streams;
3. **run, S streams**: a run starts and a client process (asyncio, one thread, raw sockets:
   ``--streams`` connections to the streams process with a Bearer token) opens S streams of
   it. Once every stream has had output (or ``--measure-after`` s after the run started, when
   the streams process is slower than that), the same API measurement. Meanwhile, every 0.5 s:
   ``pg_stat_activity`` of the bench database by ``application_name`` (each role's processes
   carry ``opsconductor-<role>``), threads (``/proc/<pid>/task``) and RSS of the streams
   process. CPU seconds of every process over the steady window (from the measurements'
   start to the cancel), events/s delivered to the clients against what the run wrote times S,
   the spread of one event's arrival across the S streams (every event whose id is a multiple of
   ``--marker-every``), and on every ``--probe-every``-th stream the delay from a line being
   written on the target to its arrival at the client;
4. **cancel** (``--cancel-after`` s after the run started, while it is still writing):
   ``POST /api/v1/runs/{id}/cancel/``; time until ``GET /api/v1/runs/{id}/`` says canceled and
   until each stream has its ``end`` event (p50 / max; streams still behind are given
   ``--end-timeout`` s);
5. **idle, after**: the API measurement again, streams closed (the machine's other work may
   have changed meanwhile: this shows by how much the idle figure moves).

The report gives the configuration, the machine (cores, load), every figure, the ratio of the
API's p95 during the streams to idle (and to the run without streams), and the connections held
against the documented budget (docs/deploy.md, "Sizing"; ADR 0019 for the streams process).
Other work on the machine counts: CPU seconds are given per group of processes (the product's
roles, the clients, the sshd targets, PostgreSQL, RabbitMQ and Redis, every other process).
Every process it started is stopped at the end, on failure and on Ctrl-C. The database is
disposable: ``dropdb oc_bench_streams``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import os
import platform
import queue
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_VAR = ROOT / "var" / "bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_streams"
HOST = "ops.bench.test"  # the ALLOWED_HOSTS name the requests carry (no DNS involved)
PREFIX = "bench-streams-"
TAG = "bench-streams"
REDIS_URL = "redis://127.0.0.1:6379/12"
ROLES = ("web", "streams", "worker")
# The sizing docs/deploy.md documents for the web role when this benchmark was written.
WEB_WORKERS = 2
WEB_THREADS = 8
COMMAND = 'for i in $(seq 1 {ticks}); do echo "tick $i $(date +%s.%N)"; sleep 0.1; done'


# -- small helpers -------------------------------------------------------------------------------


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _proc_stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:  # noqa: PTH123
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def _cpu_seconds(pids) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = _proc_stat(pid)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:  # noqa: PTH123
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _rss_mib(pids) -> float:
    """Resident memory of the processes, MiB."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def _threads(pids) -> int:
    """Threads of the processes (/proc/<pid>/task)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/task"))  # noqa: PTH208
    return total


# -- the client process: S streams in one event loop ---------------------------------------------

_EVENT = b"\nevent: "
_END = b"\nevent: end\n"
_OUTPUT = b"\nevent: output"
_END_STATUS = re.compile(rb'event: end\ndata: \{"status": (?:null|"(\w+)")')
_TICK = re.compile(rb"tick (\d+) (\d+\.\d+)")
_CARRY = 40  # bytes kept from the previous read: every pattern searched for is shorter


class _Stream(asyncio.Protocol):
    """One stream, parsed as cheaply as it can be: the events are counted with ``bytes.count``
    (each SSE event is one HTTP chunk, so no chunk header falls inside a pattern; the last bytes
    of a read are kept so a pattern split by a read is found once). A probe stream also splits
    its lines, to read the target's clock from each ``tick`` line."""

    def __init__(self, request: bytes, probe: bool, marker: re.Pattern) -> None:
        self.request = request
        self.probe = probe
        self.marker = marker
        self.transport = None
        self.head = b""
        self.carry = b""
        self.partial = b""
        self.status: int | None = None
        self.started = self.connected = self.headers = None
        self.first_event = self.first_output = self.ended = self.closed = None
        self.end_status: str | None = None
        self.events = 0
        self.markers: dict[int, float] = {}
        self.lags: list[tuple[float, float]] = []  # (written, delay)
        self.error: str | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connected = time.monotonic()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head.split(b" ", 2)[1])
            self.headers = now
            data, self.head = self.head[end + 4 :], b""
            if self.status != 200:
                self.error = f"HTTP {self.status}: {data[:200]!r}"
                self.transport.close()
                return
        buf = self.carry + data
        new = buf.count(_EVENT) - self.carry.count(_EVENT)
        if new:
            self.events += new
            if self.first_event is None:
                self.first_event = now
        if self.first_output is None and _OUTPUT in buf:
            self.first_output = now
        for match in self.marker.finditer(buf):
            self.markers.setdefault(int(match.group(1)), now)
        if self.ended is None and _END in buf:
            self.ended = now
            status = _END_STATUS.search(buf)
            self.end_status = (status.group(1) or b"null").decode() if status else "?"
        self.carry = buf[-_CARRY:]
        if self.probe:
            wall = time.time()
            lines = (self.partial + data).split(b"\n")
            self.partial = lines.pop()
            for line in lines:
                if line.startswith(b"data: ") and b"tick " in line:
                    for match in _TICK.finditer(line):
                        written = float(match.group(2))
                        self.lags.append((written, wall - written))

    def connection_lost(self, exc) -> None:
        self.closed = time.monotonic()
        if self.ended is None and self.error is None:
            self.error = f"closed before its end event ({exc or 'by the server'})"

    def result(self) -> dict:
        return {
            "started": self.started, "headers": self.headers, "status": self.status,
            "first_event": self.first_event, "first_output": self.first_output,
            "ended": self.ended, "end_status": self.end_status, "events": self.events,
            "markers": self.markers, "error": self.error, "lags": self.lags,
        }  # fmt: skip


async def _client(config: dict) -> None:
    loop = asyncio.get_running_loop()
    request = (
        f"GET /api/v1/runs/{config['run_id']}/stream/ HTTP/1.1\r\nHost: {HOST}\r\n"
        f"X-Forwarded-Proto: https\r\nAuthorization: Bearer {config['token']}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    ).encode()
    zeros = len(str(config["marker_every"])) - 1
    marker = re.compile(rb"\nid: (\d*" + b"0" * zeros + rb")\n")
    streams = [
        _Stream(request, index % config["probe_every"] == 0, marker)
        for index in range(config["streams"])
    ]

    async def open_one(stream: _Stream) -> None:
        stream.started = time.monotonic()
        try:
            await loop.create_connection(lambda: stream, "127.0.0.1", config["port"])
        except OSError as exc:
            stream.error = f"connect: {exc}"
            stream.closed = time.monotonic()

    stop = asyncio.Event()

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line or line.strip() == "stop":
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    await asyncio.gather(*(open_one(stream) for stream in streams))
    while not stop.is_set():
        done = sum(s.closed is not None or s.ended is not None for s in streams)
        print(json.dumps({
            "type": "progress", "t": time.monotonic(),
            "open": sum(s.status == 200 and s.closed is None for s in streams),
            "output": sum(s.first_output is not None for s in streams),
            "ended": sum(s.ended is not None for s in streams),
            "errors": sum(s.error is not None for s in streams),
            "events": sum(s.events for s in streams),
        }), flush=True)  # fmt: skip
        if done == len(streams):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=config["progress_seconds"])
    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "type": "result", "cpu": usage.ru_utime + usage.ru_stime,
        "streams": [s.result() for s in streams],
    }), flush=True)  # fmt: skip


def client_main() -> None:
    """The client process (``python -c 'from bench.streams import client_main; ...'``): its
    configuration is the first line of its stdin, "stop" on a later line ends it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_client(json.loads(sys.stdin.readline())))


class StreamClient:
    """The client process seen from the bench: its progress lines and its result."""

    def __init__(self, config: dict, log: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from bench.streams import client_main; client_main()"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log.open("wb"), start_new_session=True,
        )  # fmt: skip
        self.process.stdin.write((json.dumps(config) + "\n").encode())
        self.process.stdin.flush()
        self.progress: list[dict] = []
        self.result: dict | None = None
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            if message["type"] == "progress":
                self.progress.append(message)
            else:
                self.result = message
            self._lines.put(message)
        self._lines.put(None)

    def wait_for(self, predicate, timeout: float) -> dict | None:
        """Progress lines until one satisfies ``predicate`` (returned) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if message is None:
                return None
            if message["type"] == "progress" and predicate(message):
                return message
        return None

    def finish(self, timeout: float = 60.0) -> dict:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.write(b"stop\n")
            self.process.stdin.flush()
        self.process.wait(timeout)
        deadline = time.monotonic() + 10
        while self.result is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.result is None:
            raise RuntimeError("the stream client gave no result (see its log)")
        return self.result

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


# -- the product's processes ---------------------------------------------------------------------


@dataclass
class Role:
    """One process of the product, as ``deploy/entrypoint.sh <role>`` starts it."""

    name: str
    env: dict
    log: Path
    port: int | None = None
    process: subprocess.Popen | None = None

    def start(self) -> Role:
        self.process = subprocess.Popen(
            ["sh", str(ROOT / "deploy" / "entrypoint.sh"), self.name],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} did not start:\n{tail}")
            time.sleep(0.2)

    def ready(self) -> bool:
        if self.port is None:  # the worker says so in its log
            return b" ready." in self.log.read_bytes()
        try:
            status, _ = http_request(self.port, "GET", "/healthz", timeout=2)
        except OSError:
            return False
        return status == 200

    def pids(self) -> list[int]:
        from bench.targets import descendants

        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *descendants([self.process.pid])]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def http_request(port, method, path, *, token=None, body=None, timeout=30.0, connection=None):
    """One request to a process of the product as the gateway sends it; (status, JSON or None)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        if connection is None:
            conn.close()
    try:
        return response.status, json.loads(data) if data else None
    except ValueError:
        return response.status, None


def api(port, method, path, *, token, body=None, expect=(200,)):
    status, data = http_request(port, method, path, token=token, body=body)
    if status not in expect:
        raise RuntimeError(f"{method} {path}: {status} {json.dumps(data)[:500]}")
    return data


def product_env(args, database_env: dict, var_dir: Path) -> dict:
    """Production settings for every role: the bench database, a queue prefix, Redis, keys."""
    from cryptography.fernet import Fernet

    keep = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "OPSCONDUCTOR_ENV": "production",
            "OPSCONDUCTOR_VAR_DIR": str(var_dir),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "OPSCONDUCTOR_SEAL_KEYS": Fernet.generate_key().decode(),
            "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
            "CELERY_QUEUE_PREFIX": os.environ["CELERY_QUEUE_PREFIX"],
            "CELERY_QUEUE_EXPIRES_SECONDS": "600",
            "REDIS_URL": REDIS_URL,
            "ALLOWED_HOSTS": HOST,
            "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "WEB_BIND": "127.0.0.1",
            "WEB_WORKERS": str(args.web_workers),
            "WEB_THREADS": str(args.web_threads),
            "STREAMS_WORKERS": str(args.streams_workers),
            "WORKER_THREADS": str(args.worker_threads),
            "WORKER_NAME": f"{PREFIX}{os.getpid()}",
            "LOG_LEVEL": args.log_level,
            **database_env,
        }
    )
    return env  # each connection names its role and alias (opsconductor-<role>:<alias>)


# -- measurements --------------------------------------------------------------------------------

API_PATHS = {"me": "/api/v1/me/", "runs": "/api/v1/runs/?page_size=20"}


def measure_api(port: int, token: str, requests: int, concurrency: int, max_seconds: float):
    """``requests`` of each API path, round robin, from ``concurrency`` keep-alive connections;
    {name: [seconds]} and the failures."""
    order = [name for _ in range(requests) for name in API_PATHS]
    lock = threading.Lock()
    times: dict[str, list[float]] = {name: [] for name in API_PATHS}
    failures: list[str] = []
    deadline = time.monotonic() + max_seconds

    def work() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                if not order:
                    break
                name = order.pop()
            started = time.perf_counter()
            try:
                status, _ = http_request(port, "GET", API_PATHS[name], token=token,
                                         connection=conn)  # fmt: skip
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = repr(exc)
            took = time.perf_counter() - started
            with lock:
                times[name].append(took)
                if status != 200:
                    failures.append(f"{name}: {status}")
        conn.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, failures


@dataclass
class Sample:
    """Maxima seen by the sampler over a phase."""

    held: dict[str, int] = field(default_factory=dict)  # role -> connections held
    active: dict[str, int] = field(default_factory=dict)  # role -> connections not idle
    total: int = 0  # the product's connections (every role), in one sample
    server: int = 0  # every client connection of the PostgreSQL server (others' too)
    threads: int = 0  # of the streams process
    rss_mib: float = 0.0
    samples: int = 0


class Sampler:
    """Every ``interval`` s: pg_stat_activity of the bench database by application_name, the
    streams process's threads and RSS, the run's log counter. Maxima per phase."""

    def __init__(self, dbname: str, streams_pids, interval: float = 0.5) -> None:
        import psycopg

        self.dbname = dbname
        self.streams_pids = streams_pids  # a callable: the streams processes' pids
        self.interval = interval
        self.conn = psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres",
            autocommit=True, application_name="bench-streams-sampler",
        )  # fmt: skip
        self.sample = Sample()
        self.run_id: str | None = None
        self.seq: list[tuple[float, int]] = []  # (monotonic, the run's event_seq)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def phase(self, run_id: str | None = None) -> Sample:
        """Start a new phase; returns the maxima of the one that ended."""
        with self._lock:
            done, self.sample = self.sample, Sample()
            self.run_id, self.seq = run_id, []
        return done

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._once()
            except Exception as exc:  # a sample lost is reported, the bench goes on
                print(f"  (sampler: {exc})", flush=True)

    def _once(self) -> None:
        # application_name is opsconductor-<role>:<alias> (ADR 0018): counted by role
        rows = self.conn.execute(
            "SELECT split_part(application_name, ':', 1), count(*), "
            "count(*) FILTER (WHERE state <> 'idle') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() GROUP BY 1",
            (self.dbname,),
        ).fetchall()
        server = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()[0]
        seq = None
        if self.run_id:
            with contextlib.suppress(Exception):
                seq = self._seq()
        pids = self.streams_pids()
        threads, rss = _threads(pids), _rss_mib(pids)
        with self._lock:
            s = self.sample
            total = 0
            for name, held, active in rows:
                role = name.removeprefix("opsconductor-") if name.startswith("opsconductor-") \
                    else f"other ({name or 'unnamed'})"  # fmt: skip
                s.held[role] = max(s.held.get(role, 0), held)
                s.active[role] = max(s.active.get(role, 0), active)
                if name.startswith("opsconductor-"):
                    total += held
            s.total = max(s.total, total)
            s.server = max(s.server, server)
            s.threads = max(s.threads, threads or 0)
            s.rss_mib = max(s.rss_mib, rss or 0.0)
            s.samples += 1
            if seq is not None:
                self.seq.append((time.monotonic(), seq))

    def _seq(self) -> int:
        import psycopg

        if not hasattr(self, "_bench"):
            self._bench = psycopg.connect(
                f"postgresql://postgres@127.0.0.1:5432/{self.dbname}",
                autocommit=True, application_name="bench-streams-sampler",
            )  # fmt: skip
        row = self._bench.execute(
            "SELECT event_seq FROM execution_run WHERE id = %s", (self.run_id,)
        ).fetchone()
        return row[0] if row else 0

    def written_between(self, start: float, end: float) -> float | None:
        """Entries the run's log gained per second between two instants (monotonic)."""
        with self._lock:
            points = [(t, seq) for t, seq in self.seq if start <= t <= end]
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return None
        return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.conn.close()
        if hasattr(self, "_bench"):
            self._bench.close()


def _all_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds) of every process (a child's CPU counts once it is
    reaped only in its parent's cumulative figures, which are left out: the CPU of processes
    that came and went is "unattributed")."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for name in os.listdir("/proc"):  # noqa: PTH208
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:  # noqa: PTH123
                data = f.read()
        except OSError:
            continue
        comm = data[data.index(b"(") + 1 : data.rindex(b")")].decode(errors="replace")
        fields = data[data.rindex(b")") + 2 :].split()
        found[int(name)] = (comm, (int(fields[11]) + int(fields[12])) / tick)
    return found


SHARED_SERVICES = {"beam.smp": "RabbitMQ, Redis", "erl_child_setup": "RabbitMQ, Redis",
                   "epmd": "RabbitMQ, Redis", "redis-server": "RabbitMQ, Redis"}  # fmt: skip


class CpuWindow:
    """CPU seconds between ``start()`` and ``stop()`` of every process of the machine, by group:
    the bench's own (``groups``: name -> a callable giving pids), then PostgreSQL (every
    database: other work's too), RabbitMQ and Redis, and every other process (other work on the
    machine); what processes that came and went used is "unattributed"."""

    def __init__(self, groups: dict) -> None:
        self.groups = groups
        self.spent: dict[str, float] = {}
        self.wall = 0.0
        self.machine_busy = 0.0  # share of the machine's CPU time used by anything
        self.machine_seconds = 0.0

    def start(self) -> None:
        self._before = _all_cpu()
        self._machine = _machine_cpu()
        self._started = time.monotonic()

    def stop(self) -> None:
        after = _all_cpu()
        busy, total = _machine_cpu()
        self.wall = time.monotonic() - self._started
        self.machine_busy = (busy - self._machine[0]) / max(1, total - self._machine[1])
        self.machine_seconds = (busy - self._machine[0]) / os.sysconf("SC_CLK_TCK")
        owner = {pid: name for name, pids in self.groups.items() for pid in pids()}
        spent = {name: 0.0 for name in self.groups}
        for pid, (comm, cpu) in after.items():
            before = self._before.get(pid)
            delta = cpu - before[1] if before and before[0] == comm else cpu
            if pid in owner:
                group = owner[pid]
            elif comm.startswith("postgres"):
                group = "PostgreSQL"
            else:
                group = SHARED_SERVICES.get(comm, "other processes")
            spent[group] = spent.get(group, 0.0) + delta
        spent["unattributed"] = self.machine_seconds - sum(spent.values())
        self.spent = spent

    @property
    def others(self) -> float:
        """Cores used by processes that are not the product's, the bench's or the targets'."""
        return self.spent.get("other processes", 0.0) / self.wall if self.wall else 0.0


# -- the phases ----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    api: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    sample: Sample | None = None
    cpu: CpuWindow | None = None  # over the API measurement
    steady: CpuWindow | None = None  # streams: from every stream open to the cancel
    cancel: dict = field(default_factory=dict)
    streams: dict = field(default_factory=dict)


def _wait_run(port, token, run_id, predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api(port, "GET", f"/api/v1/runs/{run_id}/", token=token)
        if predicate(run):
            return run, time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"run {run_id}: still {run['status']} after {timeout:.0f} s")


def _cancel(port, token, run_id) -> dict:
    """Cancel the run; when it answered, when the API says the run is canceled."""
    asked = time.monotonic()
    api(port, "POST", f"/api/v1/runs/{run_id}/cancel/", token=token)
    answered = time.monotonic()
    run, done = _wait_run(port, token, run_id, lambda r: r["finished_at"] is not None, 120)
    return {"asked": asked, "answered": answered - asked, "effective": done - asked,
            "status": run["status"], "counts": run.get("counts")}  # fmt: skip


def _start_run(web_port, token, job_id, targets: int) -> tuple[str, float]:
    started = time.monotonic()
    run = api(web_port, "POST", "/api/v1/runs/", token=token, expect=(201,),
              body={"job": job_id, "policy": {"max_parallel": targets}})  # fmt: skip
    return run["id"], started


def _wait_output(sampler: Sampler, run_id: str, entries: int = 20, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sampler.seq and sampler.seq[-1][1] >= entries:
            return
        time.sleep(0.1)
    raise RuntimeError(f"run {run_id} wrote no output within {timeout:.0f} s")


def phase_idle(args, ctx, name: str = "idle") -> Phase:
    phase = Phase(name)
    ctx.sampler.phase()
    phase.cpu = ctx.cpu_window()
    phase.cpu.start()
    phase.api, phase.failures = measure_api(ctx.web_port, ctx.token(), args.api_requests,
                                            args.api_concurrency, args.api_seconds)  # fmt: skip
    phase.cpu.stop()
    phase.sample = ctx.sampler.phase()
    return phase


def phase_run_without_streams(args, ctx) -> Phase:
    phase = Phase("run, no stream")
    run_id, started = _start_run(ctx.web_port, ctx.token(), ctx.job_id, args.targets)
    ctx.sampler.phase(run_id)
    _wait_output(ctx.sampler, run_id)
    phase.cpu = ctx.cpu_window()
    phase.cpu.start()
    phase.api, phase.failures = measure_api(ctx.web_port, ctx.token(), args.api_requests,
                                            args.api_concurrency, args.api_seconds)  # fmt: skip
    phase.cpu.stop()
    phase.streams["written_per_s"] = ctx.sampler.written_between(started, time.monotonic())
    phase.cancel = _cancel(ctx.web_port, ctx.token(), run_id)
    phase.sample = ctx.sampler.phase()
    return phase


def phase_streams(args, ctx) -> Phase:
    phase = Phase(f"run, {args.streams} streams")
    idle_threads = _threads(ctx.streams.pids())
    idle_rss = _rss_mib(ctx.streams.pids())
    streams_cpu_before = _cpu_seconds(ctx.streams.pids())
    token = ctx.token()
    run_id, run_started = _start_run(ctx.web_port, token, ctx.job_id, args.targets)
    ctx.sampler.phase(run_id)
    client = StreamClient(
        {"run_id": run_id, "token": token, "port": ctx.streams.port, "streams": args.streams,
         "probe_every": args.probe_every, "marker_every": args.marker_every,
         "progress_seconds": 0.5},
        ctx.var / "client.log",
    )  # fmt: skip
    ctx.client = client
    try:
        # the measurements start once every stream has had output, or --measure-after s after
        # the run started if the streams process is slower than that (the cancel stays in time)
        everyone = client.wait_for(
            lambda p: p["output"] + p["errors"] >= args.streams,
            timeout=max(0.0, run_started + args.measure_after - time.monotonic()),
        )
        steady_from = time.monotonic()
        if everyone is None:
            last = client.progress[-1] if client.progress else {}
            print(f"  not every stream had output {args.measure_after:.0f} s after the run "
                  f"started: {last}", flush=True)  # fmt: skip
        else:
            took = steady_from - run_started
            print(f"  {everyone['output']} streams with output, {everyone['errors']} failed, "
                  f"{took:.1f} s after the run started", flush=True)  # fmt: skip
        phase.steady = ctx.cpu_window()
        phase.steady.start()
        phase.cpu = ctx.cpu_window()
        phase.cpu.start()
        phase.api, phase.failures = measure_api(ctx.web_port, ctx.token(), args.api_requests,
                                                args.api_concurrency, args.api_seconds)  # fmt: skip
        phase.cpu.stop()
        time.sleep(max(0.0, run_started + args.cancel_after - time.monotonic()))
        phase.steady.stop()
        steady_to = time.monotonic()
        run = api(ctx.web_port, "GET", f"/api/v1/runs/{run_id}/", token=ctx.token())
        if run["finished_at"] is not None:
            print(f"  the run ended ({run['status']}) before its cancel: raise --ticks",
                  flush=True)  # fmt: skip
        phase.cancel = _cancel(ctx.web_port, ctx.token(), run_id)
        client.wait_for(
            lambda p: p["ended"] + p["errors"] >= args.streams, timeout=args.end_timeout
        )
        result = client.finish()
    finally:
        client.stop()
        ctx.client = None
    written_per_s = ctx.sampler.written_between(steady_from, steady_to)
    phase.sample = ctx.sampler.phase()
    streams_cpu_total = _cpu_seconds(ctx.streams.pids()) - streams_cpu_before
    phase.streams = summarize_streams(
        ctx, result, client.progress, run_id=run_id, run_started=run_started,
        steady=(steady_from, steady_to), cancel=phase.cancel,
    )  # fmt: skip
    phase.streams.update(
        idle_threads=idle_threads, idle_rss=idle_rss, cpu_total=streams_cpu_total,
        written_per_s=written_per_s,
        client_cpu=result["cpu"],
    )  # fmt: skip
    return phase


def summarize_streams(ctx, result, progress, *, run_id, run_started, steady, cancel) -> dict:
    from apps.execution.models import RunEvent

    streams = result["streams"]
    ok = [s for s in streams if s["status"] == 200]
    entries = RunEvent.objects.using("execution").filter(run_id=run_id).count()
    # events per second delivered over the steady window, from the client's progress lines
    inside = [p for p in progress if steady[0] <= p["t"] <= steady[1]]
    delivered = None
    if len(inside) >= 2:
        first, last = inside[0], inside[-1]
        delivered = (last["events"] - first["events"]) / (last["t"] - first["t"])
    rates = [
        (b["events"] - a["events"]) / (b["t"] - a["t"])
        for a, b in itertools.pairwise(progress)
        if b["t"] > a["t"]
    ]
    markers: dict[int, list[float]] = {}
    for s in ok:
        for event_id, at in s["markers"].items():
            markers.setdefault(int(event_id), []).append(at)
    spreads = [max(v) - min(v) for v in markers.values() if len(v) >= 0.9 * len(ok)]
    lags = [lag for s in ok for _, lag in s["lags"]]
    # lines written from the start of the measurements (earlier ones reach a stream that opened
    # late as backlog)
    wall_from, wall_to = ctx.wall(steady[0]), ctx.wall(steady[1])
    steady_lags = [lag for s in ok for w, lag in s["lags"] if wall_from <= w <= wall_to]
    ends = [s["ended"] - cancel["asked"] for s in ok if s["ended"] is not None]
    return {
        "opened": len(ok),
        "failed": [s["error"] or f"status {s['status']}" for s in streams if s["status"] != 200],
        "errors": [s["error"] for s in ok if s["error"]],
        "open_s": [s["headers"] - s["started"] for s in ok],
        "first_output_s": [s["first_output"] - run_started for s in ok if s["first_output"]],
        "with_output": sum(s["first_output"] is not None for s in ok),
        "events": [s["events"] for s in ok],
        "entries": entries,
        "complete": sum(s["events"] == entries + 1 for s in ok),
        "end_status": sorted({s["end_status"] for s in ok if s["end_status"]}),
        "delivered_per_s": delivered,
        "markers": len(spreads),
        "spreads": spreads,
        "lags": lags,
        "steady_lags": steady_lags,
        "probes": sum(1 for s in ok if s["lags"]),
        "ends": ends,
        "steady_s": steady[1] - steady[0],
        "peak_rate": max(rates, default=None),
    }


# -- set-up --------------------------------------------------------------------------------------


class Context:
    def __init__(self, args, var: Path) -> None:
        self.args = args
        self.var = var
        self.roles: dict[str, Role] = {}
        self.client: StreamClient | None = None
        self.sampler: Sampler | None = None
        self.targets = None
        self.web_port = 0
        self.job_id = ""
        self.password = ""
        self._token = ""
        self._token_at = 0.0
        self._wall_minus_mono = time.time() - time.monotonic()

    @property
    def streams(self) -> Role:
        return self.roles["streams"]

    def token(self) -> str:
        """A fresh access token (they live 15 minutes): signs in again after 10."""
        if not self._token or time.monotonic() - self._token_at > 600:
            data = api(self.web_port, "POST", "/api/v1/auth/token/", token=None,
                       body={"username": f"{PREFIX}admin", "password": self.password})  # fmt: skip
            self._token, self._token_at = data["access"], time.monotonic()
        return self._token

    def wall(self, mono: float) -> float:
        """The wall clock (time.time()) of a monotonic instant."""
        return mono + self._wall_minus_mono

    def cpu_window(self) -> CpuWindow:
        from bench.targets import descendants

        groups = {name: role.pids for name, role in self.roles.items()}
        client = self.client
        groups["stream client"] = lambda: [client.process.pid] if client else []
        groups["bench (API client, sampler)"] = lambda: [os.getpid()]
        listeners = self.targets.pids() if self.targets else set()
        groups["sshd targets"] = lambda: [*listeners, *descendants(listeners)]
        return CpuWindow(groups)

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop()
        for role in reversed(list(self.roles.values())):
            role.stop()
        if self.sampler is not None:
            self.sampler.close()


def _refuse_foreign_databases() -> dict[str, str]:
    """Every alias's URL, for the product's processes; exits when one is not a bench database."""
    from django.conf import settings

    from opsconductor.conf import ALIAS_ENV_VARS

    env = {}
    for alias, variable in ALIAS_ENV_VARS.items():
        config = settings.DATABASES[alias]
        if "bench" not in config["NAME"]:
            sys.exit(f"refusing to use {alias}={config['NAME']}: not a bench database")
        user = config.get("USER") or "postgres"
        host = config.get("HOST") or "127.0.0.1"
        port = config.get("PORT") or 5432
        password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
        env[variable] = f"postgres://{user}{password}@{host}:{port}/{config['NAME']}"
    return env


def _prepare_database() -> str:
    """Delete what an earlier run of this bench left; (re)create its admin; its password."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from apps.execution.models import Run
    from apps.jobs.models import Job
    from apps.targets.models import Credential, Target

    Run.objects.filter(job_name__startswith=PREFIX).delete()
    Job.objects.filter(name__startswith=PREFIX).delete()
    Target.objects.filter(name__startswith=PREFIX).delete()
    Credential.objects.filter(name__startswith=PREFIX).delete()
    password = secrets.token_urlsafe(24)
    user, _ = get_user_model().objects.get_or_create(
        username=f"{PREFIX}admin", defaults={"role": "admin"}
    )
    user.role = "admin"
    user.is_active = True
    user.set_password(password)
    user.save()
    connections.close_all()
    return password


def _register(ctx: Context, targets) -> str:
    """The credential, the targets and the job, through the API as the admin; the job's id."""
    token = ctx.token()
    credential = f"{PREFIX}key"
    api(ctx.web_port, "POST", "/api/v1/credentials/", token=token, expect=(201,),
        body={"name": credential, "kind": "ssh_key", "username": targets[0].username,
              "private_key": targets[0].private_key})  # fmt: skip
    for index, target in enumerate(targets):
        api(ctx.web_port, "POST", "/api/v1/targets/", token=token, expect=(201,), body={
            "name": f"{PREFIX}{index:03d}", "tags": [TAG], "host_key_policy": "accept-new",
            "connection_methods": [{"protocol": "ssh", "host": target.host,
                                    "port": target.port, "credential": credential}],
        })  # fmt: skip
    command = COMMAND.format(ticks=ctx.args.ticks)
    job = api(ctx.web_port, "POST", "/api/v1/jobs/", token=token, expect=(201,), body={
        "name": f"{PREFIX}ticks", "default_selector": f"tag:{TAG}",
        "steps": [{"name": "ticks", "kind": "command", "command": command,
                   "timeout_seconds": 900}],
        "policy": {"max_parallel": len(targets), "allow_overlap": True},
    })  # fmt: skip
    return job["id"]


def _free_port() -> int:
    from tests.sshd import free_port

    return free_port()


def start_product(ctx: Context, database_env: dict) -> None:
    base = product_env(ctx.args, database_env, ctx.var)
    ctx.web_port = _free_port()
    for name, port in (("web", ctx.web_port), ("streams", _free_port()), ("worker", None)):
        (ctx.var / name).mkdir()
        env = {**base, "OPSCONDUCTOR_VAR_DIR": str(ctx.var / name)}
        if port:
            env["PORT"] = str(port)
        if name == "worker":
            env["LOG_LEVEL"] = "INFO"  # its "ready." line tells that it consumes
        ctx.roles[name] = Role(name, env, ctx.var / f"{name}.log", port=port).start()
    for role in ctx.roles.values():
        role.wait_ready()


# -- the report ----------------------------------------------------------------------------------


def _budget(args, max_connections: int) -> dict[str, int]:
    """What docs/deploy.md ("Sizing") and ADR 0019 give each role at most."""
    return {
        # per thread, one per alias a request touched (usually 2)
        "web": args.web_workers * args.web_threads * 2,
        # the request thread's, one per alias it touches (accounts, execution), and the hub's
        "streams": 3 * args.streams_workers,
        # one per slice thread, the writer, housekeeping
        "worker": args.worker_threads + 2,
        "server": max_connections,
    }


def report(args, ctx, phases: list[Phase], budget: dict, started_at: str) -> None:
    idle = phases[0]
    last = next(p for p in phases if p.streams.get("opened") is not None)  # the streams phase
    load = Path("/proc/loadavg").read_text().split()[:3]
    print("\n" + "=" * 100)
    print(f"Live streams benchmark, {started_at}, {args.streams} streams of one run")
    print(f"machine: {os.cpu_count()} cores, {platform.system()} {platform.release()} "
          f"{platform.machine()}, Python {platform.python_version()}, load average now "
          f"{' '.join(load)}")  # fmt: skip
    print(f"product: web {args.web_workers} x {args.web_threads} (gunicorn gthread), streams "
          f"{args.streams_workers} process(es) (uvicorn), worker 1 x {args.worker_threads} "
          "threads, all queues; "
          f"{args.targets} sshd targets on loopback; step: {args.ticks} lines, one per 0.1 s; "
          f"API: {args.api_requests} x 2 paths from {args.api_concurrency} "
          "connections")  # fmt: skip
    print("\nAPI latency (ms), web process directly:")
    print("| phase | GET /me/ p50 | p95 | GET /runs/?page_size=20 p50 | p95 | all p95 | "
          "p95 / idle p95 | failures | machine busy | other work (cores) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    idle_all = _pct([t for v in idle.api.values() for t in v], 95)
    for phase in phases:
        every = [t for v in phase.api.values() for t in v]
        ratio = _pct(every, 95) / idle_all if idle_all and every else None
        print(f"| {phase.name} | {_ms(_pct(phase.api['me'], 50))} | "
              f"{_ms(_pct(phase.api['me'], 95))} | {_ms(_pct(phase.api['runs'], 50))} | "
              f"{_ms(_pct(phase.api['runs'], 95))} | {_ms(_pct(every, 95))} | "
              f"{'-' if ratio is None else f'{ratio:.2f}x'} | {len(phase.failures)} | "
              f"{phase.cpu.machine_busy * 100:.0f} % | {phase.cpu.others:.2f} |")  # fmt: skip
    for phase in phases:
        if phase.failures:
            print(f"  {phase.name}: failures {sorted(set(phase.failures))[:5]}")

    print("\nPostgreSQL connections of the bench database, most seen at once (held / not idle):")
    print("| role | " + " | ".join(p.name for p in phases) + " | budget |")
    print("|---|" + "---|" * (len(phases) + 1))
    roles = sorted({r for p in phases for r in p.sample.held}, key=lambda r: (r not in ROLES, r))
    for role in roles:
        cells = [f"{p.sample.held.get(role, 0)} / {p.sample.active.get(role, 0)}" for p in phases]
        print(f"| {role} | " + " | ".join(cells) + f" | {budget.get(role, '-')} |")
    print("| product total | " + " | ".join(str(p.sample.total) for p in phases)
          + f" | {budget['web'] + budget['streams'] + budget['worker']} |")  # fmt: skip
    print("| whole server (other work too) | " + " | ".join(str(p.sample.server) for p in phases)
          + f" | max_connections {budget['server']} |")  # fmt: skip

    s = last.streams
    cpu = last.steady
    print(f"\nStreams ({args.streams} asked, one client process, asyncio):")
    print(f"  opened {s['opened']} (failed {len(s['failed'])}); open time (request -> 200) "
          f"p50 / p95 / max {_ms(_pct(s['open_s'], 50))} / {_ms(_pct(s['open_s'], 95))} / "
          f"{_ms(_pct(s['open_s'], 100))} ms")  # fmt: skip
    print(f"  first output event after the run started: p50 / p95 / max "
          f"{_s(_pct(s['first_output_s'], 50))} / {_s(_pct(s['first_output_s'], 95))} / "
          f"{_s(_pct(s['first_output_s'], 100))} s ({s['with_output']} streams had "
          "output)")  # fmt: skip
    rate = s["written_per_s"]
    expected = rate * s["opened"] if rate else None
    print(f"  steady window {s['steady_s']:.1f} s: the run wrote {_s(rate, 1)} log entries/s; "
          f"delivered {_s(s['delivered_per_s'], 0)} events/s to all streams (expected "
          f"{_s(expected, 0)} = entries/s x streams; highest 0.5 s rate "
          f"{_s(s['peak_rate'], 0)})")  # fmt: skip
    print(f"  one event's arrival across the streams ({s['markers']} events with an id multiple "
          f"of {args.marker_every}): spread p50 / max {_ms(_pct(s['spreads'], 50))} / "
          f"{_ms(_pct(s['spreads'], 100))} ms")  # fmt: skip
    print(f"  line written on a target -> at the client ({s['probes']} probe streams, "
          f"{len(s['lags']):,} lines): p50 / p95 / p99 / max {_ms(_pct(s['lags'], 50))} / "
          f"{_ms(_pct(s['lags'], 95))} / {_ms(_pct(s['lags'], 99))} / "
          f"{_ms(_pct(s['lags'], 100))} ms; written in the steady window ("
          f"{len(s['steady_lags']):,} lines): p50 / p95 / p99 / max "
          f"{_ms(_pct(s['steady_lags'], 50))} / {_ms(_pct(s['steady_lags'], 95))} / "
          f"{_ms(_pct(s['steady_lags'], 99))} / {_ms(_pct(s['steady_lags'], 100))} ms")  # fmt: skip
    print(f"  complete streams (every entry of the log + end): {s['complete']} of {s['opened']} "
          f"(log {s['entries']} entries; events per stream min {min(s['events'], default=0)}, "
          f"max {max(s['events'], default=0)}); end status {s['end_status']}; errors "
          f"{len(s['errors'])} {sorted(set(s['errors']))[:3]}")  # fmt: skip
    for failure in sorted(set(s["failed"]))[:5]:
        print(f"  failed: {failure}")
    delivered = (s["delivered_per_s"] or 0) * cpu.wall
    per_event = cpu.spent["streams"] / delivered * 1e6 if delivered else None
    print(f"  streams process: threads {s['idle_threads']} idle -> {last.sample.threads} most; "
          f"RSS {_s(s['idle_rss'], 0)} -> {last.sample.rss_mib:.0f} MiB most; CPU "
          f"{cpu.spent['streams']:.1f} s over the steady window ({cpu.wall:.1f} s: "
          f"{cpu.spent['streams'] / cpu.wall * 100:.0f} % of a core), "
          f"{_s(per_event, 0)} µs per event delivered to a stream; {s['cpu_total']:.1f} s over "
          f"the whole phase")  # fmt: skip
    print(
        f"  CPU over the steady window, s of {cpu.wall:.1f} s ({os.cpu_count()} cores, "
        f"{cpu.machine_busy * 100:.0f} % busy): "
        + ", ".join(f"{name} {spent:.1f}" for name, spent in cpu.spent.items())
    )

    print("\nCancel (POST /cancel/ -> GET /runs/{id}/ says it finished):")
    for phase in phases:
        if not phase.cancel:
            continue
        c = phase.cancel
        line = (f"  {phase.name}: answered in {_ms(c['answered'])} ms, {c['status']} after "
                f"{c['effective']:.2f} s")  # fmt: skip
        if phase is last:
            line += (
                f"; end event at the streams p50 / max {_s(_pct(s['ends'], 50))} / "
                f"{_s(_pct(s['ends'], 100))} s after the cancel ({len(s['ends'])} streams; "
                f"{s['opened'] - len(s['ends'])} still behind after {args.end_timeout:.0f} s)"
            )
        print(line)

    print("\nAgainst the targets:")
    every = [t for v in last.api.values() for t in v]
    ratio = _pct(every, 95) / idle_all if idle_all and every else float("inf")

    def versus(name: str) -> str:
        other = [t for p in phases if p.name == name for v in p.api.values() for t in v]
        return f"{_pct(every, 95) / _pct(other, 95):.2f}x" if other and every else "-"

    print(f"  API p95 during the streams within 2x of idle: {ratio:.2f}x -> "
          f"{'met' if ratio <= 2 else 'NOT met'} (against the idle phase after the streams: "
          f"{versus('idle, after')}; against the run without streams: "
          f"{versus('run, no stream')})")  # fmt: skip
    over = [
        f"{role} {last.sample.held.get(role, 0)} > {budget[role]}"
        for role in ROLES if last.sample.held.get(role, 0) > budget[role]
    ]  # fmt: skip
    print(f"  connections under the budget: "
          f"{'met' if not over else 'NOT met: ' + ', '.join(over)} (product total "
          f"{last.sample.total}, server {last.sample.server} of {budget['server']})")  # fmt: skip
    ends = _pct(s["ends"], 100)
    effective = last.cancel["effective"]
    met = effective <= 5 and ends is not None and ends <= 5 and len(s["ends"]) == s["opened"]
    print(f"  cancel effective within 5 s: run {effective:.2f} s, every stream's end "
          f"{_s(ends)} s -> {'met' if met else 'NOT met'}")  # fmt: skip
    print(f"  (logs of this run: {ctx.var.relative_to(ROOT)})")


# -- main ----------------------------------------------------------------------------------------


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench streams")
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS)
    parser.add_argument("--web-threads", type=int, default=WEB_THREADS)
    parser.add_argument("--worker-threads", type=int, default=16)
    parser.add_argument(
        "--streams-workers",
        type=int,
        default=1,
        help="uvicorn processes of the streams role (STREAMS_WORKERS)",
    )
    parser.add_argument("--ticks", type=int, default=600, help="lines each target writes")
    parser.add_argument(
        "--cancel-after",
        type=float,
        default=45.0,
        help="seconds after the run's start (it writes for ticks / 10 s)",
    )
    parser.add_argument("--api-requests", type=int, default=200, help="of each path, per phase")
    parser.add_argument(
        "--api-concurrency",
        type=int,
        default=1,
        help="connections asking at once (1: one request after the other)",
    )
    parser.add_argument(
        "--api-seconds",
        type=float,
        default=30.0,
        help="at most this long per phase (slow answers end it early)",
    )
    parser.add_argument(
        "--measure-after",
        type=float,
        default=15.0,
        help="start measuring at the latest this long after the run started",
    )
    parser.add_argument(
        "--end-timeout",
        type=float,
        default=120.0,
        help="how long the streams may take to end after the cancel",
    )
    parser.add_argument(
        "--probe-every",
        type=int,
        default=25,
        help="every n-th stream reads each line's clock (the others only count)",
    )
    parser.add_argument("--marker-every", type=int, default=100, choices=(10, 100, 1000))
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without streams")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(list(argv))
    if not args.measure_after < args.cancel_after < args.ticks / 10:
        parser.error(
            "--cancel-after must fall after --measure-after and while the run writes "
            "(before ticks / 10 s)"
        )
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"{PREFIX}{os.getpid()}-")
    os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "600")
    os.environ["PGAPPNAME"] = "bench-streams"  # this process's own connections

    from bench.setup import delete_queues, django_for_bench

    django_for_bench()
    database_env = _refuse_foreign_databases()
    from django.conf import settings

    from bench.targets import start_targets

    dbname = settings.DATABASES["default"]["NAME"]
    started_at = time.strftime("%Y-%m-%d %H:%M")
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="streams-", dir=BENCH_VAR))
    ctx = Context(args, var)
    ctx.password = _prepare_database()
    phases: list[Phase] = []
    with start_targets(args.targets, workdir=BENCH_VAR) as targets:
        try:
            print(f"{len(targets)} sshd targets started in {targets.start_seconds:.1f} s "
                  f"(login {targets[0].username})", flush=True)  # fmt: skip
            ctx.targets = targets
            start_product(ctx, database_env)
            print(f"web on :{ctx.web_port} ({args.web_workers} x {args.web_threads}), streams on "
                  f":{ctx.streams.port}, worker ({args.worker_threads} threads); logs in "
                  f"{var.relative_to(ROOT)}", flush=True)  # fmt: skip
            ctx.sampler = Sampler(dbname, ctx.streams.pids)
            with ctx.sampler.conn.cursor() as cursor:
                max_connections = int(cursor.execute("SHOW max_connections").fetchone()[0])
            ctx.job_id = _register(ctx, targets)
            measure_api(ctx.web_port, ctx.token(), 20, args.api_concurrency, 30)  # warm-up
            print("idle: measuring the API", flush=True)
            phases.append(phase_idle(args, ctx))
            if not args.no_baseline:
                print("a run without streams: measuring the API, then its cancel", flush=True)
                phases.append(phase_run_without_streams(args, ctx))
            print(f"a run with {args.streams} streams", flush=True)
            phases.append(phase_streams(args, ctx))
            print("idle again (the machine's other work may have changed)", flush=True)
            time.sleep(2)
            phases.append(phase_idle(args, ctx, "idle, after"))
            report(args, ctx, phases, _budget(args, max_connections), started_at)
        finally:
            # the product's processes first, then the targets (leaving the with block); a
            # second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            ctx.stop()
            with contextlib.suppress(Exception):
                delete_queues()


if __name__ == "__main__":
    main(sys.argv[1:])
