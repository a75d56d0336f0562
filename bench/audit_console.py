"""The console's audit page paging through a large trail, end to end in a real browser.

``python -m bench audit_console [--records 1000000] [--pages 20] [--loads 3]``
(``make bench-audit-console``; the console's bundle must be built first: ``cd console && npm ci
&& npm run build``)

The requirement: the audit page pages through a million records with each page under 300 ms end
to end in the browser.

On a database of its own (default ``oc_bench_audit_console``, created and migrated if missing;
the bench refuses a database name without "bench": it TRUNCATEs the audit trail there) it
loads ``--records`` records with ``services.audit_record_events`` itself (bench/audit.py's
``load``: the real chain, hashes and masking; the same mix of ~50 actions of ~200 actors on
~5,000 objects from 14 addresses, spread over 90 days), unless the trail already holds that
many (a second run reuses them: ``--reload`` loads again). Then it starts the product as
bench/console.py does (``web``, ``streams`` and one ``worker`` with production settings behind
a loopback gateway) and drives headless Chromium (Python Playwright) signed in as an admin.

For each scenario (no filter; an action; an actor; free text; a week's time range, which pages
by time; an object type) and each start (the newest page, and the middle and the end of the
trail, opened by a cursor the way the page's own links make one) it:

1. **opens** ``/audit?<filters>`` (a full navigation, the page's JavaScript from the cache):
   navigation start to the first page's rows on screen;
2. **pages** ``--pages`` times with the "Older" button: from the click (in the page, with
   ``performance.now()``) to the frame on which the table shows the next page's rows (a
   ``requestAnimationFrame`` poll: the first row's record link changed and no request of the
   page is still going), and the API's own time for that page (Resource Timing of the
   ``/api/v1/audit/events/`` request);
3. then **back** ``--pages`` / 2 times with "Newer".

Each scenario is repeated ``--loads`` times in a fresh browser context (the first is a warm-up,
not counted). Reported per scenario: p50, p95 and max of a page (click to rows) and of its API
request, pages over the 300 ms target, the open's p50; and the verdict against the target
(every measured page, p95 and max). Every process it started is stopped at the end, on failure
and on Ctrl-C. The database is disposable: ``dropdb oc_bench_audit_console``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_audit_console"
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 300.0
PREFIX = "bench-console-"  # bench/console.py's admin and queue names

# the page's rows: the first record link of the table, and whether a request is still going
ROWS_STATE = """() => {
  const link = document.querySelector('table[aria-label="Audit records"] tbody tr a');
  const busy = document.querySelector('[aria-label="Loading records"]');
  return {first: link ? link.getAttribute('href') : null, busy: Boolean(busy),
          rows: document.querySelectorAll('table[aria-label="Audit records"] tbody tr').length};
}"""

# click a paging button; resolve on the first frame showing another page, fully loaded
CLICK_AND_WAIT = """([name, before]) => new Promise((resolve, reject) => {
  const button = [...document.querySelectorAll('nav[aria-label="Pages of records"] button')]
    .find((b) => b.textContent.trim() === name);
  if (!button || button.disabled) { resolve(null); return; }
  const started = performance.now();
  const mark = performance.getEntriesByType('resource').length;
  button.click();
  const check = () => {
    const link = document.querySelector('table[aria-label="Audit records"] tbody tr a');
    const busy = document.querySelector('[aria-label="Loading records"]');
    const first = link ? link.getAttribute('href') : null;
    if (first && first !== before && !busy) {
      const api = performance.getEntriesByType('resource').slice(mark)
        .filter((e) => e.name.includes('/api/v1/audit/events/?') && !e.name.includes('page_size=1&')
                       && !/[?&]page_size=1$/.test(e.name));
      const request = api.length ? api[api.length - 1] : null;
      resolve({ms: performance.now() - started, first,
               api: request ? request.responseEnd - request.startTime : null});
    } else if (performance.now() - started > 30000) {
      reject(new Error('the next page did not appear within 30 s'));
    } else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""

# the first page's rows after a navigation: ms since navigation start
WAIT_FIRST_PAGE = """() => new Promise((resolve) => {
  const check = () => {
    const link = document.querySelector('table[aria-label="Audit records"] tbody tr a');
    const busy = document.querySelector('[aria-label="Loading records"]');
    if (link && !busy) resolve(performance.now()); else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def cursor_at(sequence: int, at: datetime | None = None) -> str:
    """A cursor as the API makes one (apps/audit/http/pagination.py): the records older than
    ``sequence`` (and ``at``, when paging by time)."""
    position: dict = {"s": sequence}
    if at is not None:
        position["t"] = at.isoformat()
    raw = base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode())
    return raw.decode().rstrip("=")


# -- the trail -----------------------------------------------------------------------------------


def prepare_trail(args) -> dict:
    """``args.records`` records in the trail (loaded unless already there); what the scenarios
    filter by."""
    from bench.audit import Mix, _head_sequence, _truncate, load

    count = _head_sequence()
    if args.reload or count < args.records:
        print(f"loading {args.records:,} audit records (the trail had {count:,})", flush=True)
        _truncate()
        loaded = load(Mix(random.Random(args.seed)), args.records, datetime.now(UTC))
        print(f"  {loaded['records']:,} records in {loaded['seconds']:,.0f} s", flush=True)
    else:
        print(f"reusing the {count:,} records of the trail (--reload loads again)", flush=True)
    # the planner's statistics, as autovacuum keeps them on a real installation: right after a
    # bulk load it has none yet and takes a free-text or rare-filter page for a 1-2 s scan
    from django.db import connections

    with connections["audit"].cursor() as cursor:
        cursor.execute("ANALYZE audit_auditrecord")
    return _picks()


def _picks() -> dict:
    """Values that select a good share of the trail, and where its middle and end are."""
    from django.db import connections

    from apps.audit.models import AuditRecord

    records = AuditRecord.objects.using("audit")
    table = AuditRecord._meta.db_table

    def common(column: str) -> str:
        with connections["audit"].cursor() as cursor:
            cursor.execute(
                f'SELECT "{column}" FROM "{table}" WHERE "{column}" <> \'\' '
                f"GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
            row = cursor.fetchone()
        return row[0] if row else ""

    first = records.order_by("sequence").values_list("sequence", "occurred_at").first()
    last = records.order_by("-sequence").values_list("sequence", "occurred_at").first()
    if first is None:
        sys.exit("the trail is empty")
    middle = (first[0] + last[0]) // 2
    week_end = first[1] + (last[1] - first[1]) / 2
    action = common("action")
    return {
        "first": first[0],
        "last": last[0],
        "middle": middle,
        "action": action,
        "actor": common("actor_name"),
        "object_type": common("object_type"),
        # a word of a common action: free text over the whole trail
        "word": action.split(".")[-1] if action else "login",
        "since": (week_end - timedelta(days=7)).isoformat(),
        "until": week_end.isoformat(),
    }


def scenarios(picks: dict) -> list[tuple[str, dict, list[tuple[str, str | None]]]]:
    """(name, filters, [(start, cursor)]): each scenario from the newest page and from deep in
    the trail (a cursor at its middle and near its end)."""
    deep = [
        ("newest", None),
        ("middle", cursor_at(picks["middle"])),
        ("end", cursor_at(picks["first"] + 200)),
    ]
    return [
        ("no filter", {}, deep),
        (f"action={picks['action']}", {"action": picks["action"]}, deep),
        (f"actor={picks['actor']}", {"actor": picks["actor"]}, deep[:2]),
        (f"object_type={picks['object_type']}", {"object_type": picks["object_type"]}, deep[:2]),
        (f"q={picks['word']}", {"q": picks["word"]}, deep[:1]),
        ("a week (by time)", {"since": picks["since"], "until": picks["until"]}, deep[:1]),
    ]


# -- the browser -----------------------------------------------------------------------------------


def sign_in(browser, base: str, password: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(f"{PREFIX}admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/runs.*|.*/$"), timeout=60_000)
    state = context.storage_state()
    context.close()
    return state


def walk(browser, state, base: str, filters: dict, cursor: str | None, args) -> dict:
    """One walk: open, ``--pages`` older pages, half as many newer ones."""
    query = {**filters, "page_size": str(args.page_size)}
    if cursor:
        query["cursor"] = cursor
    context = browser.new_context(storage_state=state)
    page = context.new_page()
    page.goto(f"{base}/audit?{urllib.parse.urlencode(query)}", wait_until="commit")
    opened = page.evaluate(WAIT_FIRST_PAGE)
    pages, apis, ends = [], [], 0
    for name, times in (("Older", args.pages), ("Newer", args.pages // 2)):
        for _ in range(times):
            before = page.evaluate(ROWS_STATE)["first"]
            result = page.evaluate(CLICK_AND_WAIT, [name, before])
            if result is None:  # the end of the trail (or of the filter's records)
                ends += 1
                break
            pages.append(result["ms"])
            if result["api"] is not None:
                apis.append(result["api"])
    context.close()
    return {"open": opened, "pages": pages, "api": apis, "ends": ends}


def run_scenarios(browser, state, base: str, picks: dict, args) -> list[dict]:
    results = []
    for name, filters, starts in scenarios(picks):
        for start, cursor in starts:
            if cursor and filters.get("since"):
                continue  # (a cursor by sequence alone belongs to the unfiltered order)
            opens, pages, apis = [], [], []
            for load in range(args.loads + 1):  # the first warms the server and the cache
                walked = walk(browser, state, base, filters, cursor, args)
                if load:
                    opens.append(walked["open"])
                    pages += walked["pages"]
                    apis += walked["api"]
            row = {"scenario": name, "start": start, "opens": opens, "pages": pages, "api": apis}
            results.append(row)
            print(f"  {name:<40} from {start:<7} page p95 {_ms(_pct(pages, 95))} ms "
                  f"(max {_ms(max(pages, default=None))}), API p95 {_ms(_pct(apis, 95))} ms",
                  flush=True)  # fmt: skip
    return results


def report(results: list[dict], picks: dict, args, started_at: str, load_start: list) -> None:
    every = [ms for row in results for ms in row["pages"]]
    over = [ms for ms in every if ms >= TARGET_MS]
    print()
    print(f"## The audit page on {picks['last'] - picks['first'] + 1:,} records ({started_at})")
    print()
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{os.cpu_count()} CPUs; load average {' '.join(load_start)} at the start, "
          f"{' '.join(load_end)} at the end (the browser and the product share the machine: "
          "a busy machine's figures say little).")  # fmt: skip
    print()
    print(f"Chromium headless, page size {args.page_size}, {args.pages} older and "
          f"{args.pages // 2} newer pages per walk, {args.loads} walks per row (after a warm-up); "
          f"a page: from the click to the frame showing its rows.")  # fmt: skip
    print()
    print("| scenario | from | pages | page p50 | page p95 | page max | API p95 | over 300 ms "
          "| open p50 |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        pages = row["pages"]
        print(f"| {row['scenario']} | {row['start']} | {len(pages)} "
              f"| {_ms(statistics.median(pages) if pages else None)} "
              f"| {_ms(_pct(pages, 95))} | {_ms(max(pages, default=None))} "
              f"| {_ms(_pct(row['api'], 95))} "
              f"| {sum(1 for ms in pages if ms >= TARGET_MS)} "
              f"| {_ms(statistics.median(row['opens']) if row['opens'] else None)} |")  # fmt: skip
    print()
    met = bool(every) and not over
    print(f"Target, every page under {TARGET_MS:.0f} ms end to end: "
          f"{'met' if met else 'NOT met'} ({len(every)} pages, p95 {_ms(_pct(every, 95))} ms, "
          f"max {_ms(max(every, default=None))} ms, {len(over)} over).")  # fmt: skip


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench audit_console")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=20, help="older pages per walk")
    parser.add_argument("--loads", type=int, default=3, help="measured walks per scenario")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reload", action="store_true", help="load the records again")
    parser.add_argument("--web-workers", type=int, default=None)
    parser.add_argument("--web-threads", type=int, default=None)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(list(argv))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"{PREFIX}audit-{os.getpid()}-")
    os.environ["PGAPPNAME"] = "bench-audit-console"
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are the
    # bench's own, one at a time
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    from bench.console import ROOT, Context, _prepare_database
    from bench.streams import BENCH_VAR, WEB_THREADS, WEB_WORKERS, _refuse_foreign_databases

    bundle = ROOT / "opsconductor" / "console" / "bundle" / "index.html"
    if not bundle.exists():
        sys.exit("the console is not built: cd console && npm ci && npm run build")
    args.web_workers = args.web_workers or WEB_WORKERS
    args.web_threads = args.web_threads or WEB_THREADS
    args.streams_workers = 1

    from bench.setup import delete_queues, django_for_bench

    django_for_bench()
    database_env = _refuse_foreign_databases()
    from playwright.sync_api import sync_playwright

    started_at = time.strftime("%Y-%m-%d %H:%M")
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    picks = prepare_trail(args)
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="audit-console-", dir=BENCH_VAR))
    ctx = Context(args, var)
    ctx.password = _prepare_database()
    try:
        ctx.start(database_env)
        base = f"http://localhost:{ctx.gateway_port}"
        print(f"web :{ctx.web_port}, gateway {base}; logs in {var.relative_to(ROOT)}", flush=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"],
            )  # fmt: skip
            state = sign_in(browser, base, ctx.password)
            results = run_scenarios(browser, state, base, picks, args)
            browser.close()
        report(results, picks, args, started_at, load_start)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ctx.stop()
        with contextlib.suppress(Exception):
            delete_queues()


if __name__ == "__main__":
    main(sys.argv[1:])
