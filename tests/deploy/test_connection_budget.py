"""A web process never holds more database connections than its budget (ADR 0018), however many
requests it gets at once; they wait for a connection and succeed; its idle connections are
closed soon after the load ends.

The real thing: ``deploy/entrypoint.sh web`` (gunicorn, 16 threads) with production settings on
the test databases, hammered by more concurrent clients than it has threads, while the server's
own view of its connections (``pg_stat_activity``, by the application name every connection
carries: ``opsconductor-<role>:<alias>``, on this run's test databases only) is sampled. The same
load on the same process without pools (persistent connections, as before) is the control: it
shows that the sampling sees a process exceeding the budget and keeping idle connections.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg
import pytest
from rest_framework.test import APIClient

from tests.db_outage import _admin, test_database_names
from tests.deploy.gateway import SERVER_NAME, WebProcess, web_env
from tests.sshd import free_port

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True, databases="__all__")]

POOL_SIZE = 2  # per alias: the process's budget is 6 aliases x 2
MAX_IDLE = 1.0  # seconds (production: 10)
CLIENTS = 48  # concurrent clients: three times the process's 16 threads
SECONDS = 6.0  # of load
PATHS = ["/api/v1/targets/", "/api/v1/runs/", "/api/v1/jobs/", "/api/v1/schedules/",
         "/api/v1/audit/events/", "/api/v1/credentials/"]  # fmt: skip


@dataclass
class Sampler:
    """``pg_stat_activity`` every 20 ms: this run's web connections per alias."""

    samples: list[Counter] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def current(self, admin: psycopg.Connection) -> Counter:
        rows = admin.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE datname = ANY(%s) AND application_name LIKE 'opsconductor-web:%%' "
            "GROUP BY application_name",
            (test_database_names(),),
        ).fetchall()
        return Counter({name.split(":", 1)[1]: count for name, count in rows})

    def run(self) -> None:
        with _admin() as admin:
            while not self.stop.wait(0.02):
                self.samples.append(self.current(admin))

    def peak(self) -> Counter:
        peak: Counter = Counter()
        for sample in self.samples:
            for alias, count in sample.items():
                peak[alias] = max(peak[alias], count)
        return peak

    def peak_total(self) -> int:
        return max((sum(sample.values()) for sample in self.samples), default=0)


def now_open() -> Counter:
    with _admin() as admin:
        return Sampler().current(admin)


def hammer(port: int, token: str, paths: list[str]) -> Counter:
    """CLIENTS threads sending requests one after the other for SECONDS; their statuses."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(index: int) -> None:
        sent = 0
        while time.monotonic() < deadline and sent < 2000:
            path = paths[(index + sent) % len(paths)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Host": SERVER_NAME,
                                                    "X-Forwarded-Proto": "https",
                                                    "Authorization": f"Token {token}"})  # fmt: skip
                status = conn.getresponse().status
            except OSError as exc:
                status = type(exc).__name__
            finally:
                conn.close()
            sent += 1
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user(username="budget", password="x", role="admin")
    api = APIClient()
    api.force_authenticate(user)
    response = api.post("/api/v1/tokens/", {"name": "budget"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def load(tmp_path, token: str, *, paths=PATHS, threads: int = 16, **env):
    """Start the web process with ``env``, hammer it while sampling: the process, what was
    seen, the statuses, and what was still open just after the load."""
    assert not now_open(), "web connections of an earlier process are still open"
    port = free_port()
    web = WebProcess(
        port=port,
        env={
            **web_env(port, tmp_path, 443),
            "WEB_WORKERS": "1",
            "WEB_THREADS": str(threads),
            "LOG_LEVEL": "ERROR",
            **env,
        },
        log=tmp_path / f"web-{port}.log",
    ).start()
    sampler = Sampler()
    watcher = threading.Thread(target=sampler.run)
    watcher.start()
    try:
        statuses = hammer(port, token, paths)
        after = now_open()
    except BaseException:
        web.stop()
        raise
    finally:
        sampler.stop.set()
        watcher.join()
    return web, sampler, statuses, after


@pytest.mark.timeout(180)
def test_a_web_process_keeps_to_its_budget_and_closes_idle_connections(tmp_path, token):
    budget = {
        "DATABASE_POOL_MAX_SIZE": str(POOL_SIZE),
        "DATABASE_POOL_MAX_IDLE_SECONDS": str(MAX_IDLE),
    }
    web, sampler, statuses, after = load(tmp_path, token, **budget)
    try:
        # every request was served: the ones that found the budget in use waited for it
        assert set(statuses) == {200}, (statuses, web.output())
        assert sum(statuses.values()) >= CLIENTS * 5
        peak = sampler.peak()
        # never more than the budget, per alias and in all
        assert max(peak.values()) <= POOL_SIZE, peak
        assert sampler.peak_total() <= POOL_SIZE * 6, sampler.peak_total()
        # and the budget was the limit: every request needs "default" (the user)
        assert peak["default"] == POOL_SIZE, peak
        assert len(sampler.samples) > 50
        # idle: open right after the load, closed within (pool size + 1) x max idle
        assert sum(after.values()) > 0, after
        started = time.monotonic()
        while sum(now_open().values()) and time.monotonic() - started < 10 * MAX_IDLE + 5:
            time.sleep(0.1)
        closed_after = time.monotonic() - started
        print(f"budget {POOL_SIZE}/alias: {sum(statuses.values())} requests, peak {dict(peak)} "
              f"(total {sampler.peak_total()}), idle ones closed {closed_after:.1f} s after")  # fmt: skip
        assert not now_open(), (now_open(), closed_after)
        assert closed_after <= (POOL_SIZE + 1) * MAX_IDLE + 3, closed_after
    finally:
        web.stop()


@pytest.mark.timeout(180)
def test_the_control_without_pools_exceeds_the_budget_and_keeps_idle_connections(tmp_path, token):
    """What the test above would see of a process without a budget (the behaviour before
    pooling): more connections than the budget, still open after the load. Kept small (6
    threads, one app alias: at most 12 connections), the server being shared."""
    web, sampler, statuses, _ = load(
        tmp_path, token, paths=["/api/v1/targets/"], threads=6,
        DATABASE_POOL_MAX_SIZE="0", DATABASE_CONN_MAX_AGE="60",
    )  # fmt: skip
    try:
        assert set(statuses) == {200}, statuses
        assert sampler.peak()["default"] > POOL_SIZE, sampler.peak()
        print(f"without pools: peak {dict(sampler.peak())}")
        time.sleep((POOL_SIZE + 1) * MAX_IDLE + 3)
        assert now_open()["default"] > POOL_SIZE
    finally:
        web.stop()
    deadline = time.monotonic() + 15
    while now_open() and time.monotonic() < deadline:
        time.sleep(0.1)
