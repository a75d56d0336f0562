"""The console's dashboard in a real browser on a big installation: its first paint.

``python -m bench dashboard [--targets 10000] [--schedules 10000] [--audit 1000000]
[--runs 2000] [--loads 5]`` (``make bench-dashboard``; the console's bundle must be built
first: ``cd console && npm ci && npm run build``)

On a database of its own (default ``oc_bench_dashboard``, created and migrated if missing; the
bench refuses a database name without "bench") it tops the installation up to ``--targets``
targets (healths mixed, the host-key problems with a pending key each), ``--schedules``
schedules (three firings each, the latest one's outcome mixed: fired, failed, missed...),
``--audit`` audit records (bench/audit.py's mix, through ``audit_record_events``: the chain is
real) and ``--runs`` runs over the last 24 hours (statuses mixed; some running with targets
counted), written directly in the database as the other benchmarks do. A second run of the
bench reuses what the first made, so only the first pays for the million audit records.

Then it starts ``web`` as production runs it (``deploy/entrypoint.sh web``, the documented
sizing) behind bench/console.py's loopback gateway, and measures:

1. **the summary endpoints** the dashboard reads (runs/stats, the runs going on, targets/
   health-summary, schedules/summary), direct to web: p50/p95 of ``--api-requests`` each;
2. **first load**: the JavaScript of ``/dashboard`` for a signed-in user with an empty cache,
   each body gzipped here (level 6); budget 300 KB gzipped;
3. **first paint**: ``--loads`` loads of ``/dashboard`` in a fresh browser context each (empty
   cache, signed in): from navigation start to every card's numbers on screen (a
   requestAnimationFrame poll in the page: the chart, target health, what needs action, no
   card still loading), and the browser's first contentful paint; median and max; target:
   numbers on screen within 1.5 s.

The web process is stopped at the end, on failure and on Ctrl-C. The database is disposable:
``dropdb oc_bench_dashboard``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import platform
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.streams import (
    BENCH_VAR,
    ROOT,
    WEB_THREADS,
    WEB_WORKERS,
    Role,
    _free_port,
    _pct,
    _refuse_foreign_databases,
    api,
    http_request,
    product_env,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_dashboard"
PREFIX = "bench-dash-"
CHROMIUM = "/usr/bin/chromium"
BUDGET_KB = 300
TARGET_MS = 1500
HEALTHS = (("healthy", 85), ("unreachable", 5), ("auth_failed", 2), ("host_key_unknown", 3),
           ("host_key_mismatch", 1), ("unknown", 3), ("error", 1))  # fmt: skip
LAST_FIRINGS = (("fired:succeeded", 85), ("fired:failed", 4), ("failed_to_start", 1),
                ("missed", 3), ("skipped", 7))  # fmt: skip
RUN_STATUSES = (("succeeded", 88), ("failed", 7), ("timed_out", 1), ("canceled", 2),
                ("running", 1), ("pending", 1))  # fmt: skip
API_PATHS = {
    "runs/stats": "/api/v1/runs/stats/",
    "runs going on": "/api/v1/runs/?status=running&status=pending&ordering=-created_at&page_size=5",
    "targets/health-summary": "/api/v1/targets/health-summary/",
    "schedules/summary": "/api/v1/schedules/summary/",
}

# the first frame on which every card shows its numbers (none still loading)
WAIT_PAINTED = """() => new Promise((resolve) => {
  const check = () => {
    const main = document.querySelector("main");
    const ready = main && main.querySelector("h1")
      && main.querySelector('svg[role="img"]')
      && (main.querySelector('[aria-label="Targets by health"]')
          || /No targets yet/.test(main.textContent))
      && main.querySelector('[aria-label="Needs action"]')
      && !main.querySelector('[aria-label^="Loading"]');
    if (ready) resolve(performance.now()); else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""

FCP = (
    """() => (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime || null"""
)


def _weighted(rng: random.Random, table) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _ms(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- the installation ----------------------------------------------------------------------------


def seed_targets(count: int, rng: random.Random) -> int:
    from apps.targets.models import ConnectionMethod, HostKey, Target

    db = "targets"
    have = Target.objects.using(db).filter(name__startswith=PREFIX).count()
    for start in range(have, count, 2000):
        targets = [
            Target(name=f"{PREFIX}{i:05d}", health_status=_weighted(rng, HEALTHS))
            for i in range(start, min(start + 2000, count))
        ]
        Target.objects.using(db).bulk_create(targets)
        methods = [
            ConnectionMethod(target=t, protocol="ssh", host=f"10.9.{i // 250}.{i % 250}",
                             port=22, is_primary=True)
            for i, t in enumerate(targets, start) if t.health_status.startswith("host_key")
        ]  # fmt: skip
        ConnectionMethod.objects.using(db).bulk_create(methods)
        HostKey.objects.using(db).bulk_create(
            HostKey(method=m, algorithm="ssh-ed25519", public_key=secrets.token_hex(32),
                    fingerprint=f"SHA256:{secrets.token_hex(16)}", source="connection")
            for m in methods
        )  # fmt: skip
    return max(count - have, 0)


def seed_schedules(count: int, rng: random.Random) -> int:
    from django.utils import timezone

    from apps.scheduling.models import Firing, Schedule

    db = "scheduling"
    have = Schedule.objects.using(db).filter(name__startswith=PREFIX).count()
    now = timezone.now()
    for start in range(have, count, 2000):
        schedules = [
            Schedule(name=f"{PREFIX}{i:05d}", job_id=uuid.uuid4(), job_name=f"job-{i % 400:03d}",
                     kind="cron", cron="*/15 * * * *", timezone="Europe/Berlin",
                     enabled=rng.random() < 0.9,
                     next_fire_at=now + timedelta(minutes=rng.uniform(1, 24 * 60)))
            for i in range(start, min(start + 2000, count))
        ]  # fmt: skip
        Schedule.objects.using(db).bulk_create(schedules)
        firings = []
        for schedule in schedules:
            for back in (3, 2, 1):
                last = back == 1
                outcome, _, run_status = (
                    _weighted(rng, LAST_FIRINGS) if last else "fired:succeeded"
                ).partition(":")
                run_id = uuid.uuid4() if outcome == "fired" else None
                firings.append(Firing(schedule=schedule, scheduled_for=now - timedelta(hours=back),
                                      outcome=outcome, run_status=run_status, revision=1,
                                      run_id=run_id))  # fmt: skip
        Firing.objects.using(db).bulk_create(firings, batch_size=5000)
    return max(count - have, 0)


def seed_audit(count: int, rng: random.Random) -> int:
    from django.utils import timezone

    from apps.audit.models import AuditRecord
    from bench.audit import Mix, load

    have = AuditRecord.objects.using("audit").count()
    if have >= count:
        return 0
    print(f"  audit: {have:,} records, loading {count - have:,} more", flush=True)
    return load(Mix(rng), count - have, timezone.now())["records"]


def seed_runs(count: int, rng: random.Random) -> int:
    """Runs of the last 24 hours (replaced on every run of the bench: the window moves)."""
    from django.utils import timezone

    from apps.execution.models import Run

    db = "execution"
    Run.objects.using(db).filter(job_name__startswith=PREFIX).delete()
    now = timezone.now()
    runs = []
    for i in range(count):
        status = _weighted(rng, RUN_STATUSES)
        targets = rng.randint(1, 200)
        done = targets if status not in ("running", "pending") else rng.randint(0, targets)
        counts = {"succeeded": done, "running": targets - done} if status == "running" else {}
        runs.append(Run(job_id=uuid.uuid4(), job_name=f"{PREFIX}job-{i % 50:02d}", job_version=1,
                        definition={"steps": []}, sealed_parameters="", policy={},
                        trigger="schedule" if i % 3 else "manual", requested_by={"kind": "system"},
                        status=status, target_count=targets, counts=counts,
                        started_at=None if status == "pending" else now))  # fmt: skip
    Run.objects.using(db).bulk_create(runs, batch_size=2000)
    # spread over the day (created_at is set on insert)
    for run in runs:
        run.created_at = now - timedelta(seconds=rng.uniform(0, 24 * 3600 - 60))
    Run.objects.using(db).bulk_update(runs, ["created_at"], batch_size=2000)
    return count


def prepare(args) -> str:
    from django.contrib.auth import get_user_model
    from django.db import connections

    rng = random.Random(19)
    began = time.perf_counter()
    made = {
        "targets": seed_targets(args.targets, rng),
        "schedules": seed_schedules(args.schedules, rng),
        "audit records": seed_audit(args.audit, rng),
        "runs": seed_runs(args.runs, rng),
    }
    print(f"  seeded in {time.perf_counter() - began:,.0f} s: "
          + ", ".join(f"{n:,} {what}" for what, n in made.items()), flush=True)  # fmt: skip
    password = secrets.token_urlsafe(24)
    user, _ = get_user_model().objects.get_or_create(
        username=f"{PREFIX}admin", defaults={"role": "admin"}
    )
    user.role, user.is_active = "admin", True
    user.set_password(password)
    user.save()
    connections.close_all()
    return password


# -- the phases ----------------------------------------------------------------------------------


def api_phase(port: int, token: str, requests: int) -> dict:
    timings = {}
    for name, path in API_PATHS.items():
        seconds = []
        for _ in range(requests + 1):
            began = time.perf_counter()
            status, _ = http_request(port, "GET", path, token=token)
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            seconds.append(time.perf_counter() - began)
        timings[name] = seconds[1:]  # the first warms the process
    return timings


def sign_in(browser, base: str, password: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(f"{PREFIX}admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/dashboard"), timeout=60_000)
    state = context.storage_state()
    context.close()
    return state


def paint_phase(browser, base: str, state: dict, loads: int, var: Path) -> dict:
    painted, fcp, scripts = [], [], []
    for i in range(loads):
        context = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        found = []
        page.on(
            "response", lambda r, found=found: found.append(r) if r.url.endswith(".js") else None
        )
        page.goto(f"{base}/dashboard", wait_until="commit")
        painted.append(page.evaluate(WAIT_PAINTED))
        fcp.append(page.evaluate(FCP))
        if i == 0:
            page.wait_for_load_state("networkidle")
            for response in found:
                with contextlib.suppress(Exception):
                    body = response.body()
                    scripts.append((response.url.rsplit("/", 1)[-1], len(body),
                                    len(gzip.compress(body, 6))))  # fmt: skip
            page.screenshot(path=str(var / "dashboard.png"))
        context.close()
    return {"painted": painted, "fcp": [f for f in fcp if f is not None], "scripts": scripts}


def report(args, counts: dict, timings: dict, paint: dict, started_at: str) -> None:
    load = Path("/proc/loadavg").read_text().split()[:3]
    print("\n" + "=" * 100)
    print(f"Dashboard benchmark, {started_at}")
    print(f"machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, load "
          f"{' '.join(load)}; Chromium headless; web {args.web_workers} x "
          f"{args.web_threads}")  # fmt: skip
    print("installation: " + ", ".join(f"{n:,} {what}" for what, n in counts.items()))

    print(f"\n1. Summary endpoints, direct to web ({args.api_requests} requests each, ms)")
    print("  | endpoint | p50 | p95 | max |")
    print("  |---|---|---|---|")
    for name, seconds in timings.items():
        print(f"  | {name} | {_ms(_pct(seconds, 50) * 1000)} | {_ms(_pct(seconds, 95) * 1000)} | "
              f"{_ms(max(seconds) * 1000)} |")  # fmt: skip

    total = sum(g for _, _, g in paint["scripts"])
    print(f"\n2. First load of /dashboard, signed in: {len(paint['scripts'])} files, "
          f"{total / 1024:,.1f} KB gzipped (budget {BUDGET_KB} KB) -> "
          f"{_met(total <= BUDGET_KB * 1024)}")  # fmt: skip
    for file, size, gz in sorted(paint["scripts"], key=lambda f: -f[2]):
        print(f"    {file:<48} {size / 1024:>8.1f} KB {gz / 1024:>7.1f} KB gz")

    painted = paint["painted"]
    print(f"\n3. First paint, {len(painted)} loads, each a fresh context (empty cache), ms from "
          "navigation start")  # fmt: skip
    print(f"  every card's numbers on screen: median {_ms(statistics.median(painted))}, max "
          f"{_ms(max(painted))} (target {TARGET_MS}) -> "
          f"{_met(statistics.median(painted) <= TARGET_MS)}")  # fmt: skip
    if paint["fcp"]:
        print(f"  first contentful paint: median {_ms(statistics.median(paint['fcp']))}, max "
              f"{_ms(max(paint['fcp']))}")  # fmt: skip


# -- main ----------------------------------------------------------------------------------------


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard")
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=1_000_000, help="audit records")
    parser.add_argument("--runs", type=int, default=2000, help="runs in the last 24 hours")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--api-requests", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS)
    parser.add_argument("--web-threads", type=int, default=WEB_THREADS)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(list(argv))
    args.streams_workers, args.worker_threads = 1, 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"{PREFIX}{os.getpid()}-")
    os.environ["PGAPPNAME"] = "bench-dashboard"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop; the ORM is ours alone
    if not (ROOT / "opsconductor" / "console" / "bundle" / "index.html").exists():
        sys.exit("the console is not built: cd console && npm ci && npm run build")

    from bench.setup import django_for_bench

    django_for_bench()
    database_env = _refuse_foreign_databases()
    from playwright.sync_api import sync_playwright

    from apps.audit.models import AuditRecord
    from apps.scheduling.models import Schedule
    from apps.targets.models import Target

    started_at = time.strftime("%Y-%m-%d %H:%M")
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="dashboard-", dir=BENCH_VAR))
    print("seeding", flush=True)
    password = prepare(args)
    counts = {
        "targets": Target.objects.using("targets").count(),
        "schedules": Schedule.objects.using("scheduling").count(),
        "audit records": AuditRecord.objects.using("audit").count(),
        "runs of the last 24 hours": args.runs,
    }
    (var / "web").mkdir()
    env = {**product_env(args, database_env, var / "web"), "PORT": str(_free_port())}
    web = Role("web", env, var / "web.log", port=int(env["PORT"])).start()
    gateway = None
    try:
        web.wait_ready()
        listen = _free_port()
        gateway = subprocess.Popen(
            [sys.executable, "-c", "from bench.console import gateway_main; gateway_main()",
             str(web.port), str(web.port), str(listen)],
            cwd=ROOT, stdout=(var / "gateway.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(1)
        body = {"username": f"{PREFIX}admin", "password": password}
        token = api(web.port, "POST", "/api/v1/auth/token/", token=None, body=body)["access"]
        print("1. summary endpoints", flush=True)
        timings = api_phase(web.port, token, args.api_requests)
        base = f"http://localhost:{listen}"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"],
            )  # fmt: skip
            print("2-3. first load and first paint", flush=True)
            state = sign_in(browser, base, password)
            paint = paint_phase(browser, base, state, args.loads, var)
            browser.close()
        report(args, counts, timings, paint, started_at)
        print(f"  (logs and a screenshot: {var.relative_to(ROOT)})")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if gateway is not None and gateway.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(gateway.pid, signal.SIGKILL)
            gateway.wait(10)
        web.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
