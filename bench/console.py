"""The web console's speed in a real browser, against the product's real processes.

``python -m bench console [--viewers 200] [--targets 1000] [--lines 100000] [--loads 5]``
(``make bench-console``; the console's bundle must be built first: ``cd console && npm ci &&
npm run build``)

On a database of its own (default ``oc_bench_console``, created and migrated if missing; the
bench refuses a database name without "bench": it deletes its own runs there at its start) it
starts, as production runs them and as bench/streams.py does (``OPSCONDUCTOR_ENV=production``,
``deploy/entrypoint.sh``): ``web`` (gunicorn, ``--web-workers`` x ``--web-threads``, the
documented sizing of docs/deploy.md), ``streams`` (uvicorn, one process) and one ``worker``; in
front of them a small gateway process of the bench's own on loopback (bench/console.py's
``gateway_main``: it sends ``/api/v1/runs/{id}/stream/`` to the streams process and everything
else to web, with ``Host`` and ``X-Forwarded-Proto: https`` as nginx would; it does not
compress, so the bundle's sizes are measured by gzipping the bodies here). Chromium (headless,
Python Playwright) talks to that gateway as ``http://localhost:<port>``.

The runs are written directly in the database, the way the tests do (``Run``, ``RunTarget`` and
``RunStep`` rows; no real hosts), and their output as workers write it: numbers reserved on
``Run.event_seq``, then ``RunEvent`` rows committed (apps/execution/tests/test_streaming.py), so
the streams process reads and delivers them exactly as it does a worker's.

Figures, each against its target:

1. **first load**: the JavaScript of the sign-in page and of the first page once signed in
   (``/runs``), every ``.js`` response's body gzipped here (level 6), per file and total;
   budget 300 KB gzipped;
2. **a run of ``--targets`` targets**: from the run detail and the targets page having arrived
   (Resource Timing ``responseEnd``) to the grid's rows and the counts being on screen (a
   requestAnimationFrame poll in the page), median of ``--loads`` loads, with the default page
   size (100 rows) and the largest (500);
3. **output**: one target printing ``--lines`` lines through the real stream into an open run
   page (chunks of ``--chunk-lines`` lines at ``--output-rate`` lines/s): the longest long task
   (``PerformanceObserver('longtask')``), long tasks over 200 ms, the time from the first line
   committed until the last one is on screen (the view follows the output); then scrolling the
   output up with the mouse wheel: long tasks and frame intervals meanwhile;
4. **latency**: ``--latency-lines`` lines at ``--latency-rate`` lines/s, each with its number;
   from its commit to its text being in the output view (a MutationObserver in the page),
   p50/p95; target: p95 within 1 s;
5. **many viewers**: ``--viewers`` browser contexts (one page each: one stream each) on the run
   view of a live run (a target's output open) while it writes ``--viewer-rate`` lines/s and a
   target changes state every ``--state-interval`` s; the API's ``/api/v1/me/`` and
   ``/api/v1/runs/`` p95 (direct to web, as bench/streams.py measures them) idle and with the
   pages open, and again once they are closed; target: within 2x of idle. Pages are opened
   ``--open-batch`` at a time until ``--viewers``, or until the machine's available memory
   falls under ``--min-free-mib``, or the newest page is more than ``--behind-seconds`` behind
   the stream (the browser no longer keeps up), or ``--max-open-seconds`` have passed: the
   report says how many and why. The browser runs on the same machine as the product: its CPU
   per open page is reported, and counts against the API's figures on a small machine.

The figures of 1-4 are printed before 5 starts (the longest phase).

Every process it started is stopped at the end, on failure and on Ctrl-C. The database is
disposable: ``dropdb oc_bench_console``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.streams import (
    BENCH_VAR,
    HOST,
    ROOT,
    WEB_THREADS,
    WEB_WORKERS,
    CpuWindow,
    Role,
    _free_port,
    _pct,
    _refuse_foreign_databases,
    api,
    measure_api,
    product_env,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_console"
PREFIX = "bench-console-"
CHROMIUM = "/usr/bin/chromium"
BUDGET_KB = 300
STREAM_PATH = re.compile(rb"^/api/v1/runs/[^/]+/stream/")
FILLER = "compiling module {n:06d}: ok (cache hit, 0.{m:03d} s) src/pkg/component_{m:03d}.c"


def _ms(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- the gateway: loopback, path-routed, as nginx routes (deploy/nginx/) -------------------------


async def _gateway(web: int, streams: int, listen: int) -> None:
    async def handle(reader, writer) -> None:
        backend = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            out = [b"%s %s HTTP/1.1" % (method, target)]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                key = name.strip().lower()
                value = value.strip()
                if key in (b"host", b"connection", b"keep-alive", b"x-forwarded-proto",
                           b"x-forwarded-for", b"proxy-connection"):  # fmt: skip
                    continue
                if key == b"content-length":
                    length = int(value)
                if key == b"origin":
                    value = b"https://" + HOST.encode()
                if key == b"referer":
                    value = re.sub(rb"^https?://[^/]+", b"https://" + HOST.encode(), value)
                out.append(name + b": " + value)
            out += [b"Host: " + HOST.encode(), b"X-Forwarded-Proto: https",
                    b"X-Forwarded-For: 127.0.0.1", b"Connection: close"]  # fmt: skip
            body = await reader.readexactly(length) if length else b""
            port = streams if STREAM_PATH.match(target) else web
            br, backend = await asyncio.open_connection("127.0.0.1", port)
            backend.write(b"\r\n".join(out) + b"\r\n\r\n" + body)

            async def pipe() -> None:
                while chunk := await br.read(65536):
                    writer.write(chunk)
                    await writer.drain()

            async def client_gone() -> None:  # a closed page ends its stream
                while await reader.read(65536):
                    pass

            tasks = [asyncio.ensure_future(pipe()), asyncio.ensure_future(client_gone())]
            _done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            for w in (backend, writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=4096)
    async with server:
        await server.serve_forever()


def gateway_main() -> None:
    web, streams, listen = (int(v) for v in sys.argv[1:4])
    asyncio.run(_gateway(web, streams, listen))


# -- the data: runs written directly, output as workers write it -----------------------------------


STATES = [("succeeded", 55), ("running", 20), ("pending", 12), ("failed", 8), ("unreachable", 5)]


def _make_run(n: int, name: str) -> tuple:
    """A running run of ``n`` targets (their states mixed), one step each; (run, [RunTarget])."""
    from django.utils import timezone

    from apps.execution.models import Run, RunStep, RunTarget

    db = "execution"
    statuses = [s for s, share in STATES for _ in range(share)]
    # the first target (whose output the phases write) is running
    status_of = ["running", *(statuses[i % len(statuses)] for i in range(1, n))][:n]
    counts: dict[str, int] = {}
    for status in status_of:
        counts[status] = counts.get(status, 0) + 1
    run = Run.objects.using(db).create(
        job_id=uuid.uuid4(), job_name=f"{PREFIX}{name}", job_version=1, definition={},
        parameters={}, sealed_parameters="", policy={"max_parallel": 100}, trigger="manual",
        requested_by={"kind": "system"}, status="running", target_count=n, counts=counts,
        started_at=timezone.now(),
    )  # fmt: skip
    rows = []
    for i in range(n):
        status = status_of[i]
        rows.append(RunTarget(
            run=run, target_id=uuid.uuid4(), target_name=f"host-{i:05d}.bench.test",
            os_family="linux", position=i, status=status, worker="bench",
            exit_code=0 if status == "succeeded" else (1 if status == "failed" else None),
            reason="connection timed out after 10 s" if status == "unreachable" else "",
        ))  # fmt: skip
    RunTarget.objects.using(db).bulk_create(rows, batch_size=1000)
    RunStep.objects.using(db).bulk_create(
        (RunStep(run_target=row, index=1, name="build", kind="command",
                 status="succeeded" if row.status == "succeeded" else "pending")
         for row in rows), batch_size=1000,
    )  # fmt: skip
    return run, rows


class LogWriter:
    """Writes a run's log as workers do: numbers reserved on ``Run.event_seq`` in a transaction
    of their own, then the entries committed."""

    def __init__(self, run) -> None:
        self.run = run

    def write(self, entries: list[dict]) -> float:
        """entries: RunEvent fields; returns the wall-clock time of the commit."""
        from django.db import transaction
        from django.db.models import F

        from apps.execution.models import Run, RunEvent

        db = "execution"
        with transaction.atomic(using=db):
            Run.objects.using(db).filter(pk=self.run.pk).update(
                event_seq=F("event_seq") + len(entries)
            )
            last = Run.objects.using(db).values_list("event_seq", flat=True).get(pk=self.run.pk)
        first = last - len(entries) + 1
        with transaction.atomic(using=db):
            RunEvent.objects.using(db).bulk_create(
                RunEvent(run=self.run, seq=first + i, **entry) for i, entry in enumerate(entries)
            )
        return time.time()

    @staticmethod
    def output(row, text: str) -> dict:
        return {"kind": "output", "run_target": row, "step_index": 1, "stream": "stdout",
                "data": text}  # fmt: skip

    @staticmethod
    def state(row, status: str) -> dict:
        from apps.execution.models import RunTarget

        RunTarget.objects.using("execution").filter(pk=row.pk).update(status=status)
        data = {"type": "target", "run_target_id": str(row.pk), "target": row.target_name,
                "status": status, "exit_code": 0}  # fmt: skip
        return {"kind": "state", "run_target": row, "step_index": None, "stream": "",
                "data": json.dumps(data)}  # fmt: skip


# -- in the page -------------------------------------------------------------------------------

INIT_SCRIPT = """
window.__oc = {longtasks: [], frames: [], seen: {}};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__oc.longtasks.push([e.startTime, e.duration]);
}).observe({type: "longtask", buffered: true});
"""

# the first frame on which the grid has `rows` rows and the counts show "All <n>"
WAIT_GRID = """([rows, total]) => new Promise((resolve) => {
  const check = () => {
    const body = document.querySelector('table[aria-label="Targets of this run"] tbody');
    const chips = document.querySelector('[aria-label="Targets by state"]');
    if (body && body.rows.length >= rows && chips && chips.textContent.includes("All " + total)) {
      resolve(performance.now());
    } else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""

GRID_TIMING = """(runId) => {
  const entries = performance.getEntriesByType("resource");
  const pick = (re) => entries.filter((e) => re.test(e.name)).map((e) => e.responseEnd);
  return {
    detail: pick(new RegExp("/api/v1/runs/" + runId + "/$")),
    targets: pick(new RegExp("/api/v1/runs/" + runId + "/targets/\\\\?")),
  };
}"""

# the highest line number on screen in the output view
LAST_LINE = """() => {
  let best = 0;
  for (const el of document.querySelectorAll('[role="log"] .oc-ln')) {
    const n = parseInt(el.textContent, 10);
    if (n > best) best = n;
  }
  return best;
}"""

# records, for every "lat <n> " in the output view, when it was first there (epoch ms)
WATCH_LATENCY = """() => {
  const log = document.querySelector('[role="log"]');
  const seen = window.__oc.seen;
  const scan = () => {
    const now = performance.timeOrigin + performance.now();
    for (const el of log.querySelectorAll(".oc-text")) {
      const m = /lat (\\d+) /.exec(el.textContent);
      if (m && !(m[1] in seen)) seen[m[1]] = now;
    }
  };
  new MutationObserver(scan).observe(log, {childList: true, subtree: true, characterData: true});
  scan();
}"""

FRAMES = """(ms) => new Promise((resolve) => {
  const frames = []; let last = performance.now(); const end = last + ms;
  const tick = (t) => { frames.push(t - last); last = t;
    if (t < end) requestAnimationFrame(tick); else resolve(frames); };
  requestAnimationFrame(tick);
})"""


def _longtasks(page, since: float = 0.0) -> list[float]:
    return [d for start, d in page.evaluate("window.__oc.longtasks") if start >= since]


def _now(page) -> float:
    return page.evaluate("performance.now()")


# -- the phases --------------------------------------------------------------------------------


def first_load(browser, base: str, password: str, var: Path) -> tuple[dict, dict]:
    """(per page: [(file, bytes, gzipped)]), the signed-in storage state."""
    results = {}

    def collect(page) -> list:
        found = []

        def on_response(response) -> None:
            if response.request.resource_type == "script" or response.url.endswith(".js"):
                found.append(response)

        page.on("response", on_response)
        return found

    context = browser.new_context()
    page = context.new_page()
    found = collect(page)
    page.goto(f"{base}/login", wait_until="networkidle")
    page.get_by_label("Username").wait_for()
    results["sign-in page (/login)"] = _sizes(found)
    page.get_by_label("Username").fill(f"{PREFIX}admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(runs|dashboard).*|.*/$"), timeout=60_000)
    state = context.storage_state()
    context.close()

    context = browser.new_context(storage_state=state)
    page = context.new_page()
    found = collect(page)
    page.goto(f"{base}/runs", wait_until="networkidle")
    page.get_by_role("heading", level=1).first.wait_for()
    page.screenshot(path=str(var / "runs.png"))
    results["signed in, first page (/runs)"] = _sizes(found)
    context.close()
    return results, state


def _sizes(responses) -> list[tuple[str, int, int]]:
    out = []
    for response in responses:
        with contextlib.suppress(Exception):
            body = response.body()
            out.append((response.url.split("/")[-1], len(body), len(gzip.compress(body, 6))))
    return out


def grid_loads(browser, state, base: str, run, loads: int, page_size: int | None) -> dict:
    rows = min(page_size or 100, run.target_count)
    url = f"{base}/runs/{run.pk}" + (f"?page_size={page_size}" if page_size else "")
    after_data, total, tasks = [], [], []
    for i in range(loads + 1):  # the first load warms the server and the browser's cache
        context = browser.new_context(storage_state=state)
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        page.goto(url, wait_until="commit")
        rendered = page.evaluate(WAIT_GRID, [rows, run.target_count])
        timing = page.evaluate(GRID_TIMING, str(run.pk))
        if i:
            arrived = max(timing["detail"] + timing["targets"])
            after_data.append(rendered - arrived)
            total.append(rendered)
            tasks.append(max(_longtasks(page), default=0.0))
        context.close()
    return {"rows": rows, "after_data": after_data, "total": total, "longest_task": tasks}


def output_phase(browser, state, base: str, run, row, args, var: Path) -> dict:
    context = browser.new_context(storage_state=state, viewport={"width": 1400, "height": 1000})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.goto(f"{base}/runs/{run.pk}?target={row.target_id}")
    page.locator('[role="log"]').wait_for()
    page.locator('[role="log"]').scroll_into_view_if_needed()  # as a reader scrolls to it
    page.wait_for_timeout(1500)  # the stream open, the (empty) history read
    writer = LogWriter(run)
    since = _now(page)
    started = time.monotonic()
    written, number = 0, 0
    interval = args.chunk_lines / args.output_rate
    next_at = time.monotonic()
    while written < args.lines:
        chunks = []
        for _ in range(max(1, round(0.1 / interval))):
            if written >= args.lines:
                break
            n = min(args.chunk_lines, args.lines - written)
            text = "".join(FILLER.format(n=number + k + 1, m=(number + k) % 1000) + "\n"
                           for k in range(n))  # fmt: skip
            number += n
            written += n
            chunks.append(writer.output(row, text))
        writer.write(chunks)
        next_at += interval * len(chunks)
        time.sleep(max(0.0, next_at - time.monotonic()))
    write_s = time.monotonic() - started
    deadline = time.monotonic() + args.output_timeout
    last = 0
    while time.monotonic() < deadline:
        last = page.evaluate(LAST_LINE)
        if last >= args.lines:
            break
        time.sleep(0.1)
    shown_s = time.monotonic() - started if last >= args.lines else None
    tasks = _longtasks(page, since)
    page.screenshot(path=str(var / "output.png"))
    # scroll the output up with the wheel, as a reader does
    box = page.locator('[role="log"]').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    scroll_since = _now(page)
    page.evaluate(f"window.__oc.framesP = ({FRAMES})({args.scroll_steps * 40 + 500})")
    for _ in range(args.scroll_steps):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(30)
    frames = page.evaluate("window.__oc.framesP")
    scroll_tasks = _longtasks(page, scroll_since)
    page.screenshot(path=str(var / "output-scrolled.png"))
    context.close()
    return {"write_s": write_s, "shown_s": shown_s, "last": last, "tasks": tasks,
            "scroll_tasks": scroll_tasks, "frames": frames[1:]}  # fmt: skip


def latency_phase(browser, state, base: str, run, row, args) -> dict:
    context = browser.new_context(storage_state=state)
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.goto(f"{base}/runs/{run.pk}?target={row.target_id}")
    page.locator('[role="log"]').wait_for()
    page.locator('[role="log"]').scroll_into_view_if_needed()  # as a reader scrolls to it
    page.wait_for_timeout(1500)
    page.evaluate(WATCH_LATENCY)
    writer = LogWriter(run)
    committed: dict[str, float] = {}
    next_at = time.monotonic()
    for n in range(1, args.latency_lines + 1):
        at = writer.write([writer.output(row, f"lat {n} {time.time():.6f}\n")])
        committed[str(n)] = at * 1000
        next_at += 1 / args.latency_rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    time.sleep(3)
    seen = page.evaluate("window.__oc.seen")
    context.close()
    lags = [(seen[n] - at) / 1000 for n, at in committed.items() if n in seen]
    return {"lags": lags, "missing": len(committed) - len(lags)}


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _browser_pids() -> list[int]:
    from bench.targets import descendants

    pids = []
    for pid in descendants([os.getpid()]):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("chrom"):
                pids.append(pid)
    return pids


def _newest_line(page) -> int:
    """The newest "viewer line <n>" in the page's output view."""
    texts = page.locator('[role="log"] .oc-text').all_text_contents()
    numbers = [int(m.group(1)) for t in texts if (m := re.search(r"viewer line (\d+)", t))]
    return max(numbers, default=0)


def viewers_phase(browser, state, base: str, run, rows, args, ctx) -> dict:
    row = rows[0]
    writer = LogWriter(run)
    stop = threading.Event()
    pending = [r for r in rows if r.status in ("running", "pending")][1:]
    written = [0]  # the newest line's number

    def write_loop() -> None:
        import django.db

        n, next_state = 0, time.monotonic()
        try:
            while not stop.is_set():
                n += 1
                entries = [writer.output(row, f"viewer line {n} {time.time():.3f}\n")]
                if time.monotonic() >= next_state and pending:
                    entries.append(writer.state(pending.pop(), "succeeded"))
                    next_state += args.state_interval
                writer.write(entries)
                written[0] = n
                stop.wait(1 / args.viewer_rate)
        finally:
            django.db.connections.close_all()

    print("  idle: measuring the API", flush=True)
    idle, idle_fail = measure_api(ctx.web_port, ctx.token(), args.api_requests, 1, 60)
    thread = threading.Thread(target=write_loop, daemon=True)
    thread.start()
    contexts, opened, failed = [], 0, []
    mem_before = _available_mib()
    started = time.monotonic()
    url = f"{base}/runs/{run.pk}?target={row.target_id}"
    stopped_by_memory = stopped_by_cpu = stopped_by_time = False
    try:
        batch: list = []

        def settle() -> bool:
            """Wait for the batch's pages; whether the last one keeps up with the stream."""
            nonlocal opened
            last = None
            for page in batch:
                try:
                    page.locator('[role="log"] .oc-ln').first.wait_for(timeout=180_000)
                    page.locator('[role="log"]').scroll_into_view_if_needed()
                    opened += 1
                    last = page
                except Exception as exc:
                    failed.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            batch.clear()
            if last is None:
                return True
            time.sleep(1)
            return _newest_line(last) >= written[0] - args.behind_seconds * args.viewer_rate

        for i in range(args.viewers):
            if _available_mib() < args.min_free_mib:
                stopped_by_memory = True
                break
            context = browser.new_context(storage_state=state)
            contexts.append(context)
            page = context.new_page()
            try:
                page.goto(url, timeout=180_000, wait_until="commit")
                batch.append(page)
            except Exception as exc:
                failed.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            if len(batch) >= args.open_batch and not settle():
                stopped_by_cpu = True
                break
            if time.monotonic() - started > args.max_open_seconds:
                stopped_by_time = True
                break
            if (i + 1) % 25 == 0:
                print(f"  {i + 1} pages open ({time.monotonic() - started:.0f} s, "
                      f"{_available_mib():,.0f} MiB available)", flush=True)  # fmt: skip
        if not settle():
            stopped_by_cpu = True
        open_s = time.monotonic() - started
        time.sleep(5)  # every page settled on its stream
        mem_open = _available_mib()
        # every page still receives: the newest line on screen in a sample of them
        streams_ok = 0
        # a page is live when its newest line is at most 5 s behind the newest written
        sample = contexts[:: max(1, len(contexts) // 20)]
        for context in sample:
            if _newest_line(context.pages[0]) >= written[0] - 5 * args.viewer_rate:
                streams_ok += 1
        print("  with the pages open: measuring the API", flush=True)
        cpu = CpuWindow(
            {
                **{name: role.pids for name, role in ctx.roles.items()},
                "gateway": lambda: [ctx.gateway.pid],
                "browser": _browser_pids,
                "bench (API client, log writer)": lambda: [os.getpid()],
            }
        )
        cpu.start()
        busy, busy_fail = measure_api(ctx.web_port, ctx.token(), args.api_requests, 1, 120)
        cpu.stop()
        load = Path("/proc/loadavg").read_text().split()[:3]
        connections = 0
        with contextlib.suppress(Exception):
            out = subprocess.run(
                ["ss", "-Htn", "state", "established", f"( sport = :{ctx.streams_port} )"],
                capture_output=True, text=True, timeout=10,
            ).stdout  # fmt: skip
            connections = len(out.splitlines())
    finally:
        stop.set()
        thread.join(10)
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    time.sleep(3)
    print("  pages closed: measuring the API again", flush=True)
    idle_after, after_fail = measure_api(ctx.web_port, ctx.token(), args.api_requests, 1, 60)
    busy_fail += after_fail
    return {"opened": opened, "asked": args.viewers, "failed": failed,
            "stopped_by_memory": stopped_by_memory, "stopped_by_cpu": stopped_by_cpu,
            "stopped_by_time": stopped_by_time,
            "open_s": open_s,
            "mem_used": mem_before - mem_open, "idle": idle, "busy": busy,
            "failures": idle_fail + busy_fail, "sampled": len(sample),
            "receiving": streams_ok, "stream_connections": connections, "load": load,
            "cpu": cpu, "idle_after": idle_after}  # fmt: skip


# -- set-up --------------------------------------------------------------------------------------


class Context:
    def __init__(self, args, var: Path) -> None:
        self.args = args
        self.var = var
        self.roles: dict[str, Role] = {}
        self.gateway: subprocess.Popen | None = None
        self.web_port = self.streams_port = self.gateway_port = 0
        self.password = ""
        self._token = ""
        self._token_at = 0.0

    def token(self) -> str:
        if not self._token or time.monotonic() - self._token_at > 600:
            data = api(self.web_port, "POST", "/api/v1/auth/token/", token=None,
                       body={"username": f"{PREFIX}admin", "password": self.password})  # fmt: skip
            self._token, self._token_at = data["access"], time.monotonic()
        return self._token

    def start(self, database_env: dict) -> None:
        base = product_env(self.args, database_env, self.var)
        self.web_port, self.streams_port = _free_port(), _free_port()
        for name, port in (("web", self.web_port), ("streams", self.streams_port),
                           ("worker", None)):  # fmt: skip
            (self.var / name).mkdir()
            env = {**base, "OPSCONDUCTOR_VAR_DIR": str(self.var / name)}
            if port:
                env["PORT"] = str(port)
            if name == "worker":
                env["LOG_LEVEL"] = "INFO"
            self.roles[name] = Role(name, env, self.var / f"{name}.log", port=port).start()
        for role in self.roles.values():
            role.wait_ready()
        self.gateway_port = _free_port()
        self.gateway = subprocess.Popen(
            [sys.executable, "-c", "from bench.console import gateway_main; gateway_main()",
             str(self.web_port), str(self.streams_port), str(self.gateway_port)],
            cwd=ROOT, stdout=(self.var / "gateway.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(1)

    def stop(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.gateway.pid, signal.SIGKILL)
            self.gateway.wait(10)
        for role in reversed(list(self.roles.values())):
            role.stop()


def _prepare_database() -> str:
    from django.contrib.auth import get_user_model
    from django.db import connections

    from apps.execution.models import Run

    Run.objects.using("execution").filter(job_name__startswith=PREFIX).delete()
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


# -- the report ----------------------------------------------------------------------------------


def report(args, loads, grids, output, latency, started_at, load_start) -> None:
    load = Path("/proc/loadavg").read_text().split()[:3]
    print("\n" + "=" * 100)
    print(f"Console benchmark, {started_at}")
    print(f"machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, load "
          f"average at the start {' '.join(load_start)}, at the end {' '.join(load)}; "
          f"Chromium headless ({CHROMIUM}); web {args.web_workers} x {args.web_threads}, "
          "streams 1 process, worker 1")  # fmt: skip

    print(f"\n1. First load: JavaScript, gzipped here (level 6); budget {BUDGET_KB} KB")
    for name, files in loads.items():
        total = sum(g for _, _, g in files)
        print(f"  {name}: {len(files)} files, {sum(b for _, b, _ in files) / 1024:,.1f} KB, "
              f"{total / 1024:,.1f} KB gzipped -> {_met(total <= BUDGET_KB * 1024)}")  # fmt: skip
        for file, size, gz in sorted(files, key=lambda f: -f[2]):
            print(f"    {file:<48} {size / 1024:>8.1f} KB {gz / 1024:>7.1f} KB gz")

    print(
        f"\n2. A run of {args.targets} targets: data arrived -> grid and counts on screen "
        f"(ms, {args.loads} loads)"
    )
    for label, grid in grids.items():
        print(f"  {label} ({grid['rows']} rows): median "
              f"{_ms(statistics.median(grid['after_data']))}, max "
              f"{_ms(max(grid['after_data']))}; navigation -> on screen median "
              f"{_ms(statistics.median(grid['total']))}; longest task median "
              f"{_ms(statistics.median(grid['longest_task']))}")  # fmt: skip

    if not output:
        o = {
            "tasks": [],
            "scroll_tasks": [],
            "frames": [],
            "write_s": 0,
            "shown_s": None,
            "last": 0,
        }
    else:
        o = output
    over = [t for t in o["tasks"] if t > 200]
    print(
        f"\n3. Output: {args.lines:,} lines, chunks of {args.chunk_lines}, written at "
        f"{args.output_rate:,} lines/s (took {o['write_s']:.1f} s)"
    )
    print(f"  long tasks: {len(o['tasks'])}, longest {_ms(max(o['tasks'], default=0))} ms, over "
          f"200 ms: {len(over)} (target: none) -> {_met(not over)}")  # fmt: skip
    shown = "-" if o["shown_s"] is None else f"{o['shown_s']:.1f} s"
    print(f"  first line written -> last line on screen: {shown} (last line seen {o['last']:,});"
          f" the writing alone took {o['write_s']:.1f} s")  # fmt: skip
    frames = o["frames"]
    print(f"  scrolling up ({args.scroll_steps} wheel steps): long tasks {len(o['scroll_tasks'])}"
          f", longest {_ms(max(o['scroll_tasks'], default=0))} ms; frame interval p50 / p95 / "
          f"max {_ms(_pct(frames, 50))} / {_ms(_pct(frames, 95))} / {_ms(max(frames, default=0))}"
          f" ms; frames over 50 ms {sum(f > 50 for f in frames)} of {len(frames)}")  # fmt: skip

    lags = latency["lags"]
    p95 = _pct(lags, 95)
    print(f"\n4. Line committed -> in the output view: {len(lags)} lines at "
          f"{args.latency_rate} lines/s ({latency['missing']} never seen): p50 / p95 / max "
          f"{_ms((_pct(lags, 50) or 0) * 1000)} / {_ms((p95 or 0) * 1000)} / "
          f"{_ms(max(lags, default=0) * 1000)} ms; p95 within 1 s -> "
          f"{_met(p95 is not None and p95 <= 1)}")  # fmt: skip


def report_viewers(args, v) -> None:
    print(f"\n5. Many viewers: {v['opened']} of {v['asked']} pages open (one browser, a "
          f"context each) in {v['open_s']:.0f} s"
          + (" (stopped: available memory under --min-free-mib)" if v["stopped_by_memory"]
             else "")
          + (f" (stopped: the newest page was over {args.behind_seconds:.0f} s behind the "
             "stream: the browser no longer keeps up)" if v["stopped_by_cpu"] else "")
          + (f" (stopped: opening took over --max-open-seconds {args.max_open_seconds:.0f})"
             if v["stopped_by_time"] else "")
          + f"; {len(v['failed'])} failed to open; the pages took "
          f"{v['mem_used']:,.0f} MiB; {v['stream_connections']} connections on the streams "
          f"process; {v['receiving']} of {v['sampled']} sampled pages live (newest line "
          f"at most 5 s old); load "
          f"{' '.join(v['load'])}")  # fmt: skip
    for failure in sorted(set(v["failed"]))[:3]:
        print(f"    {failure}")
    print(
        "  | API (ms) | idle p50 | p95 | pages open p50 | p95 | p95 / idle | idle after p50 | p95 |"
    )
    print("  |---|---|---|---|---|---|---|---|")
    ratios = []
    for name in ("me", "runs"):
        i95, b95 = _pct(v["idle"][name], 95), _pct(v["busy"][name], 95)
        ratios.append(b95 / i95)
        print(f"  | {name} | {_ms(_pct(v['idle'][name], 50) * 1000)} | {_ms(i95 * 1000)} | "
              f"{_ms(_pct(v['busy'][name], 50) * 1000)} | {_ms(b95 * 1000)} | "
              f"{b95 / i95:.2f}x | {_ms(_pct(v['idle_after'][name], 50) * 1000)} | "
              f"{_ms(_pct(v['idle_after'][name], 95) * 1000)} |")  # fmt: skip
    cpu = v["cpu"]
    print(
        f"  CPU while measuring with the pages open, s of {cpu.wall:.1f} s "
        f"({os.cpu_count()} cores, {cpu.machine_busy * 100:.0f} % busy): "
        + ", ".join(f"{name} {spent:.1f}" for name, spent in cpu.spent.items())
    )
    if v["opened"] and cpu.wall:
        per_page = cpu.spent.get("browser", 0.0) / cpu.wall / v["opened"]
        print(f"  the browser: {per_page:.3f} cores per open page ({args.viewer_rate:g} "
              f"lines/s, a state change every {args.state_interval:g} s)")  # fmt: skip
    print(f"  within 2x of idle: {_met(max(ratios) <= 2)}; failures "
          f"{len(v['failures'])} {sorted(set(v['failures']))[:3]}")  # fmt: skip


# -- main ----------------------------------------------------------------------------------------


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench console")
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--chunk-lines", type=int, default=50, help="lines per log entry")
    parser.add_argument("--output-rate", type=int, default=5000, help="lines/s written")
    parser.add_argument("--output-timeout", type=float, default=300.0)
    parser.add_argument("--scroll-steps", type=int, default=60)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--latency-lines", type=int, default=300)
    parser.add_argument("--latency-rate", type=float, default=10.0)
    parser.add_argument("--viewer-rate", type=float, default=5.0, help="lines/s, many viewers")
    parser.add_argument("--state-interval", type=float, default=1.0)
    parser.add_argument("--open-batch", type=int, default=10, help="pages opened at once")
    parser.add_argument(
        "--behind-seconds",
        type=float,
        default=10.0,
        help="stop opening pages when the newest one is this far behind the stream",
    )
    parser.add_argument(
        "--max-open-seconds",
        type=float,
        default=600.0,
        help="stop opening pages after this long (a saturated machine opens them slowly)",
    )
    parser.add_argument("--min-free-mib", type=float, default=3000.0)
    parser.add_argument("--api-requests", type=int, default=200)
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS)
    parser.add_argument("--web-threads", type=int, default=WEB_THREADS)
    parser.add_argument("--worker-threads", type=int, default=16)
    parser.add_argument("--skip", action="append", default=[],
                        choices=("load", "grid", "output", "latency", "viewers"))  # fmt: skip
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(list(argv))
    args.streams_workers = 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"{PREFIX}{os.getpid()}-")
    os.environ["PGAPPNAME"] = "bench-console"
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are the
    # bench's own, one at a time
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    bundle = ROOT / "opsconductor" / "console" / "bundle" / "index.html"
    if not bundle.exists():
        sys.exit("the console is not built: cd console && npm ci && npm run build")

    from bench.setup import delete_queues, django_for_bench

    django_for_bench()
    database_env = _refuse_foreign_databases()
    from playwright.sync_api import sync_playwright

    started_at = time.strftime("%Y-%m-%d %H:%M")
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="console-", dir=BENCH_VAR))
    ctx = Context(args, var)
    ctx.password = _prepare_database()
    grid_run, _ = _make_run(args.targets, "grid")
    out_run, out_rows = _make_run(10, "output")
    lat_run, lat_rows = _make_run(10, "latency")
    view_run, view_rows = _make_run(100, "viewers")
    loads, grids, output, latency, viewers = {}, {}, {}, {"lags": [], "missing": 0}, None
    try:
        ctx.start(database_env)
        base = f"http://localhost:{ctx.gateway_port}"
        print(f"web :{ctx.web_port}, streams :{ctx.streams_port}, gateway {base}; logs in "
              f"{var.relative_to(ROOT)}", flush=True)  # fmt: skip
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"],
            )  # fmt: skip
            print("1. first load", flush=True)
            loads, state = first_load(browser, base, ctx.password, var)
            if "grid" not in args.skip:
                print(f"2. a run of {args.targets} targets", flush=True)
                grids["default page size"] = grid_loads(browser, state, base, grid_run,
                                                        args.loads, None)  # fmt: skip
                grids["page size 500"] = grid_loads(browser, state, base, grid_run, args.loads,
                                                    500)  # fmt: skip
            if "output" not in args.skip:
                print(f"3. {args.lines:,} lines of output", flush=True)
                output = output_phase(browser, state, base, out_run, out_rows[0], args, var)
            if "latency" not in args.skip:
                print(f"4. latency of {args.latency_lines} lines", flush=True)
                latency = latency_phase(browser, state, base, lat_run, lat_rows[0], args)
            # the figures so far, before the longest phase
            report(args, loads, grids, output, latency, started_at, load_start)
            if "viewers" not in args.skip:
                print(f"\n5. {args.viewers} viewers", flush=True)
                viewers = viewers_phase(browser, state, base, view_run, view_rows, args, ctx)
            browser.close()
        if viewers:
            report_viewers(args, viewers)
        print(f"  (logs and screenshots: {var.relative_to(ROOT)})")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ctx.stop()
        with contextlib.suppress(Exception):
            delete_queues()


if __name__ == "__main__":
    main(sys.argv[1:])
