"""The scheduling benchmark: N enabled schedules, edited while the real scheduler fires them.

``python -m bench scheduling [--schedules 10000] [--minutes 3] [--edits-per-second 5]``

1. Set-up, in the bench database (PostgreSQL; SQLite is refused): one target on 127.0.0.1 at a
   closed port (nothing ever connects to it: no execution worker runs) and a one-step job whose
   default selector picks it, both through the API; then N schedules of that job. A handful
   are made by ``services.schedule_create`` (through the API's serializer); the rest are built
   by the same code (``check_timing``, then the service's own ``_apply`` and ``_plan_next``:
   the same row, ``next_fire_at`` from ``timing.next_fire``) and bulk-inserted, without the
   per-schedule job look-up and ``schedule.created`` event. Built rows are compared field by
   field with ``schedule_create``'s for the same definitions.
   Mix: most are daily or weekly crons at random hours and minutes in several IANA zones
   (rarely due during the run); a due set of 100 ``* * * * *`` and 100 ``*/2 * * * *`` crons
   in those zones and 100 intervals (every 30, 45 or 60 s from random anchors).
2. The real scheduler, as production runs it: ``celery -A config beat`` with django-celery-beat's
   DatabaseScheduler (the ``scheduling-tick`` every SCHEDULING_TICK_SECONDS) and one
   ``celery -A config worker`` process on the scheduling queue (threads pool), as subprocesses on
   a queue prefix of their own. Runs are created and stay queued (no execution worker).
3. For ``--minutes``, an editor thread in this process changes random schedules through
   ``services.schedule_update`` at ``--edits-per-second``: a cron's minute (or an interval's
   length), pause / resume, the time zone.
4. Over the firings whose due time fell in the measurement window (after ``--warm-up`` s):
   firing lag (``fired_at`` - due time) and run-created lag (the run's ``created_at`` - due
   time), outcomes, due times fired twice (by (schedule, due time) and by runs per firing), the
   cost of one tick with nothing due and of one edit (time and SQL statements) with N schedules
   in the table, and the CPU seconds of the beat and worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from datetime import timedelta
from pathlib import Path

from bench.setup import delete_queues, django_for_bench

NAME_PREFIX = "bench-sched-"
ZONES = (
    "UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "America/Sao_Paulo",
)  # fmt: skip
DUE_EVERY_MINUTE = 100  # "* * * * *"
DUE_EVERY_2_MINUTES = 100  # "*/2 * * * *"
DUE_INTERVALS = 100  # every 30 / 45 / 60 s
VIA_SERVICE = 5  # schedules made by schedule_create itself
LAG_LIMIT_S = 2.0


# -- processes ----------------------------------------------------------------------------------


class SchedulerProcesses:
    """``celery beat`` (DatabaseScheduler) and one worker on the scheduling queue, as
    subprocesses with the bench's database and queue prefix."""

    def __init__(self, workdir: Path, threads: int):
        from django.conf import settings

        from tests.reliability.workers import database_env

        env = {**os.environ, "LOG_LEVEL": "INFO", **database_env()}
        self.logs = {"worker": workdir / "worker.log", "beat": workdir / "beat.log"}
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        commands = {
            "worker": [
                *celery, "worker", "-Q", settings.CELERY_QUEUE_PREFIX + "scheduling",
                "-P", "threads", "-c", str(threads), "--hostname", f"bench-sched-{os.getpid()}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
            ],
            "beat": [
                *celery, "beat", "--loglevel", "INFO",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile", str(workdir / "beat.pid"),
                "--schedule", str(workdir / "beat-schedule"),
            ],
        }  # fmt: skip
        self.processes: dict[str, subprocess.Popen] = {}
        for name in ("worker", "beat"):  # the worker first: no tick waits for a consumer
            handle = self.logs[name].open("wb")
            self.processes[name] = subprocess.Popen(
                commands[name], env=env, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            self._wait_for(name, b" ready." if name == "worker" else b"beat: Starting")

    def _wait_for(self, name: str, marker: bytes) -> None:
        deadline = time.monotonic() + 60
        while marker not in self.logs[name].read_bytes():
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                tail = self.logs[name].read_text(errors="replace")[-3000:]
                raise RuntimeError(f"celery {name} did not start:\n{tail}")
            time.sleep(0.1)

    def cpu_seconds(self) -> dict[str, float]:
        from bench.targets import proc_stat

        tick = os.sysconf("SC_CLK_TCK")
        cpu = {}
        for name, process in self.processes.items():
            fields = proc_stat(process.pid)
            cpu[name] = (int(fields[11]) + int(fields[12])) / tick if fields else 0.0
        return cpu

    def log_size(self, name: str) -> int:
        return self.logs[name].stat().st_size

    def log_since(self, name: str, offset: int) -> str:
        with self.logs[name].open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def stop(self) -> None:
        for name in ("beat", "worker"):  # no new ticks, then let the running ones end
            process = self.processes[name]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# -- measuring helpers ----------------------------------------------------------------------------


class _Statements:
    """Counts the SQL statements sent on every database alias while it is active."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    @contextlib.contextmanager
    def counting(self):
        from django.db import connections

        with contextlib.ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(self))
            yield self


def _percentile(values, pct: float) -> float | None:
    from bench.ansible_side import percentile

    return percentile(values, pct)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# -- set-up -------------------------------------------------------------------------------------


def _cleanup() -> None:
    from apps.execution.models import Run
    from apps.jobs.models import Job
    from apps.scheduling.models import Schedule
    from apps.targets.models import Credential, Target

    Schedule.objects.using("scheduling").filter(name__startswith=NAME_PREFIX).delete()
    Run.objects.using("execution").filter(job_name__startswith=NAME_PREFIX).delete()
    Job.objects.using("jobs").filter(name__startswith=NAME_PREFIX).delete()
    Target.objects.using("targets").filter(name__startswith=NAME_PREFIX).delete()
    Credential.objects.using("targets").filter(name__startswith=NAME_PREFIX).delete()


def _job(client) -> dict:
    """A target at a closed loopback port and a job whose default selector picks only it."""
    from tests.sshd import free_port

    suffix = uuid.uuid4().hex[:8]
    credential, target = f"{NAME_PREFIX}cred-{suffix}", f"{NAME_PREFIX}target-{suffix}"
    requests = [
        ("/api/v1/credentials/", {"name": credential, "kind": "password", "username": "nobody",
                                  "password": "not-used"}),
        ("/api/v1/targets/", {"name": target, "host_key_policy": "accept-new",
                              "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1",
                                                      "port": free_port(),
                                                      "credential": credential}]}),
        ("/api/v1/jobs/", {"name": f"{NAME_PREFIX}job-{suffix}", "default_selector":
                           f'name="{target}"', "steps": [{"name": "hello", "kind": "command",
                                                          "command": "echo hello"}]}),
    ]  # fmt: skip
    for url, body in requests:
        response = client.post(url, body, format="json")
        if response.status_code != 201:
            raise RuntimeError(f"{url} refused: {response.content[:500]!r}")
    return response.json()


def _definitions(count: int, rng: random.Random, now) -> list[tuple[str, dict]]:
    """(group, serializer-validated data) of every schedule; the due set first."""
    zone = lambda: rng.choice(ZONES)  # noqa: E731
    plan: list[tuple[str, dict]] = []
    for _ in range(DUE_EVERY_MINUTE):
        plan.append(("every-1-min", {"kind": "cron", "cron": "* * * * *", "timezone": zone()}))
    for _ in range(DUE_EVERY_2_MINUTES):
        plan.append(("every-2-min", {"kind": "cron", "cron": "*/2 * * * *", "timezone": zone()}))
    for index in range(DUE_INTERVALS):
        every = (30, 45, 60)[index % 3]
        anchor = now - timedelta(seconds=rng.uniform(0, 3600))  # random offsets in the minute
        plan.append(("interval", {"kind": "interval", "interval_every": every,
                                  "interval_unit": "seconds", "start_at": anchor,
                                  "timezone": zone()}))  # fmt: skip
    while len(plan) < count:
        minute, hour = rng.randrange(60), rng.randrange(24)
        if rng.random() < 0.7:
            plan.append(("daily", {"kind": "cron", "cron": f"{minute} {hour} * * *",
                                   "timezone": zone()}))  # fmt: skip
        else:
            cron = f"{minute} {hour} * * {rng.randrange(7)}"
            plan.append(("weekly", {"kind": "cron", "cron": cron, "timezone": zone()}))
    return plan[:count]


def _built(values: dict, snapshot, actor, now):
    """The Schedule row ``schedule_create(data=values, now=now)`` stores, built by its own code
    (``_apply`` and ``_plan_next``) without saving: no job look-up, no event."""
    from apps.scheduling import services
    from apps.scheduling.models import MisfirePolicy, OverlapPolicy, Schedule

    values = dict(values)
    values.setdefault("timezone", services.default_timezone())
    values.setdefault("misfire_policy", MisfirePolicy.SKIP)
    values.setdefault("overlap_policy", OverlapPolicy.ALLOW)
    checked_timing = services.check_timing(values, now)
    checked = services._Checked(values, checked_timing, snapshot, {}, None)
    schedule = Schedule(created_by=actor.as_dict(), updated_by=actor.as_dict())
    services._apply(schedule, checked, now)
    if schedule.enabled:
        services._plan_next(schedule, checked_timing, now)
    return schedule


_COMPARED_AWAY = {"id", "name", "created_at", "updated_at", "sealed_parameters"}


def _same_row(made, built) -> list[str]:
    from opsconductor.sealing import unseal

    differ = [
        field.attname
        for field in made._meta.concrete_fields
        if field.attname not in _COMPARED_AWAY
        and getattr(made, field.attname) != getattr(built, field.attname)
    ]
    if unseal(made.sealed_parameters) != unseal(built.sealed_parameters):
        differ.append("sealed_parameters")
    return differ


def _create_schedules(job: dict, count: int, rng: random.Random) -> tuple[dict, float, str]:
    """Every schedule: {id: group}, the seconds it took, and how they were made."""
    from django.utils import timezone

    from apps.jobs.interface import job_snapshot
    from apps.scheduling import services
    from apps.scheduling.http.serializers import ScheduleSerializer
    from apps.scheduling.models import Schedule
    from opsconductor.events import SYSTEM

    started = time.perf_counter()
    now = timezone.now()
    plan = _definitions(count, rng, now)
    snapshot = job_snapshot(uuid.UUID(job["id"]))
    groups: dict[uuid.UUID, str] = {}
    # a handful through the service itself, spread over the kinds, each checked against a row
    # built the bench's way from the same definition at the same instant
    service_made = sorted({0, DUE_EVERY_MINUTE + DUE_EVERY_2_MINUTES, count - 1, count - 2,
                           DUE_EVERY_MINUTE})[:VIA_SERVICE]  # fmt: skip
    for index in service_made:
        group, definition = plan[index]
        body = {**definition, "name": f"{NAME_PREFIX}{group}-{index:05d}", "job": job["id"]}
        serializer = ScheduleSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        made = services.schedule_create(data=serializer.validated_data, actor=SYSTEM, now=now)
        built = _built(serializer.validated_data, snapshot, SYSTEM, now)
        differ = _same_row(made, built)
        if differ:
            raise RuntimeError(f"bulk-built rows differ from schedule_create's in {differ}")
        groups[made.id] = group
    rows = []
    for index, (group, definition) in enumerate(plan):
        if index in service_made:
            continue
        data = {**definition, "name": f"{NAME_PREFIX}{group}-{index:05d}",
                "job": uuid.UUID(job["id"])}  # fmt: skip
        rows.append(_built(data, snapshot, SYSTEM, now))
        groups[rows[-1].id] = group
    Schedule.objects.using("scheduling").bulk_create(rows, batch_size=1000)
    how = (
        f"{len(service_made)} by services.schedule_create, {len(rows)} built by the same code "
        "(check_timing, _apply, _plan_next: next_fire_at from timing.next_fire) and "
        "bulk-inserted without a schedule.created event; both ways compared equal"
    )
    return groups, time.perf_counter() - started, how


# -- costs with N schedules in the table ---------------------------------------------------------


def _empty_tick_cost(repeat: int = 50) -> tuple[float, int, float]:
    """Median seconds of ``schedules_fire_due`` with nothing due (its clock set just before the
    soonest due time when one has come meanwhile), SQL statements of one, and the median of
    ``soonest_due`` (the tick's other query)."""
    from django.utils import timezone

    from apps.scheduling import selectors, services

    times, soonest_times, statements = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        soonest = selectors.soonest_due()
        soonest_times.append(time.perf_counter() - started)
        at = timezone.now()
        if soonest is not None and soonest <= at:
            at = soonest - timedelta(microseconds=1)
        with _Statements().counting() as counter:
            started = time.perf_counter()
            done = services.schedules_fire_due(now=at)
            times.append(time.perf_counter() - started)
        if sum(done.values()):
            raise RuntimeError(f"the empty tick did something: {dict(done)}")
        statements.append(counter.count)
    return statistics.median(times), max(statements), statistics.median(soonest_times)


class Editor(threading.Thread):
    """Edits random schedules through ``services.schedule_update`` at a steady rate."""

    RESUME_AFTER_S = 10.0

    def __init__(self, ids: list[uuid.UUID], per_second: float, rng: random.Random):
        super().__init__(name="bench-editor", daemon=True)
        self.ids, self.per_second, self.rng = ids, per_second, rng
        self.stopping = threading.Event()
        self.durations: list[float] = []
        self.statements: list[int] = []
        self.kinds: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.paused: deque[tuple[uuid.UUID, float]] = deque()

    def _next_edit(self):
        """(schedule, kind of edit, data): resume one paused a while ago, or change a random one
        (pause it, move it to another zone, change its cron minute or interval length)."""
        from apps.scheduling.models import Schedule

        rows = Schedule.objects.using("scheduling")
        oldest = self.paused[0] if self.paused else None
        if (
            oldest
            and time.monotonic() - oldest[1] > self.RESUME_AFTER_S
            and self.rng.random() < 0.5
        ):
            self.paused.popleft()
            return rows.get(pk=oldest[0]), "resume", {"enabled": True}
        schedule = rows.get(pk=self.rng.choice(self.ids))
        roll = self.rng.random()
        if roll < 0.15 and schedule.enabled:
            return schedule, "pause", {"enabled": False}
        if roll < 0.55:
            zones = [z for z in ZONES if z != schedule.timezone]
            return schedule, "time zone", {"timezone": self.rng.choice(zones)}
        if schedule.kind == "interval":
            lengths = [e for e in (30, 45, 60) if e != schedule.interval_every]
            return schedule, "interval length", {"interval_every": self.rng.choice(lengths)}
        fields = schedule.cron.split()
        minute = fields[0]
        if minute.isdigit():
            fields[0] = str((int(minute) + self.rng.randrange(1, 60)) % 60)
        else:  # the due set keeps firing as often: every minute / every other minute
            fields[0] = {"*": "*/1", "*/1": "*", "*/2": "1-59/2", "1-59/2": "*/2"}[minute]
        return schedule, "cron minute", {"cron": " ".join(fields)}

    def run(self) -> None:
        from django.db import connections

        from apps.scheduling import services
        from opsconductor.events import Actor

        actor = Actor(kind="user", id=str(uuid.uuid4()), name="bench-editor")
        started = time.monotonic()
        done = 0
        try:
            while not self.stopping.is_set():
                wait = started + done / self.per_second - time.monotonic()
                if wait > 0 and self.stopping.wait(wait):
                    break
                done += 1
                try:
                    schedule, kind, data = self._next_edit()
                    with _Statements().counting() as counter:
                        began = time.perf_counter()
                        services.schedule_update(schedule=schedule, data=data, actor=actor)
                        self.durations.append(time.perf_counter() - began)
                except Exception as exc:  # counted and shown; the run goes on
                    self.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    continue
                self.statements.append(counter.count)
                self.kinds[kind] += 1
                if kind == "pause":
                    self.paused.append((schedule.id, time.monotonic()))
        finally:
            connections.close_all()


# -- the run ------------------------------------------------------------------------------------


def _refuse_sqlite() -> None:
    urls = {k: v for k, v in os.environ.items() if k.endswith("DATABASE_URL") and v}
    sqlite = [k for k, v in urls.items() if not v.startswith(("postgres://", "postgresql://"))]
    if sqlite:
        sys.exit(
            f"bench scheduling needs PostgreSQL (row locks with SKIP LOCKED, several processes): "
            f"{', '.join(sorted(sqlite))} is not a postgres:// URL"
        )


def _wait_drained(until, timeout: float = 60.0) -> float | None:
    """Wait until every due time up to ``until`` has a settled firing: the seconds it took, None
    if it did not happen within ``timeout``."""
    from apps.scheduling.models import Firing, FiringOutcome, Schedule

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        overdue = Schedule.objects.using("scheduling").filter(
            name__startswith=NAME_PREFIX, enabled=True, next_fire_at__lte=until
        )
        starting = Firing.objects.using("scheduling").filter(
            schedule__name__startswith=NAME_PREFIX, outcome=FiringOutcome.STARTING
        )
        if not overdue.exists() and not starting.exists():
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def _results(window_start, window_end, groups: dict) -> dict:
    from django.db.models import Count

    from apps.execution.models import Run
    from apps.scheduling.models import Firing

    firings = list(
        Firing.objects.using("scheduling")
        .filter(schedule__name__startswith=NAME_PREFIX, scheduled_for__gte=window_start,
                scheduled_for__lte=window_end)
        .values("id", "schedule_id", "scheduled_for", "fired_at", "outcome", "run_id")
    )  # fmt: skip
    created = dict(
        Run.objects.using("execution")
        .filter(schedule_firing_id__in=[f["id"] for f in firings])
        .values_list("schedule_firing_id", "created_at")
    )
    per_due = Counter((f["schedule_id"], f["scheduled_for"]) for f in firings)
    per_second = Counter(f["scheduled_for"].replace(microsecond=0) for f in firings)
    runs_per_firing = (
        Run.objects.using("execution")
        .filter(job_name__startswith=NAME_PREFIX)
        .exclude(schedule_firing_id=None)
        .values("schedule_firing_id")
        .annotate(runs=Count("id"))
        .filter(runs__gt=1)
    )
    lag: dict[str, list[float]] = {"all": []}
    run_lag: dict[str, list[float]] = {"all": []}
    for firing in firings:
        group = groups.get(firing["schedule_id"], "?")
        if firing["fired_at"] is not None and firing["outcome"] != "missed":
            seconds = (firing["fired_at"] - firing["scheduled_for"]).total_seconds()
            lag["all"].append(seconds)
            lag.setdefault(group, []).append(seconds)
        if firing["id"] in created:
            seconds = (created[firing["id"]] - firing["scheduled_for"]).total_seconds()
            run_lag["all"].append(seconds)
            run_lag.setdefault(group, []).append(seconds)
    return {
        "firings": len(firings),
        "outcomes": Counter(f["outcome"] for f in firings),
        "lag": lag,
        "run_lag": run_lag,
        "burst": max(per_second.values(), default=0),
        "twice_by_due_time": sum(1 for n in per_due.values() if n > 1),
        "twice_by_runs": len(list(runs_per_firing)),
        "fired_without_run": sum(
            1 for f in firings if f["outcome"] == "fired" and f["id"] not in created
        ),
    }


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scheduling")
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--edits-per-second", type=float, default=5.0)
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds not measured")
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true", help="keep the beat/worker logs")
    args = parser.parse_args(list(argv))
    minimum = DUE_EVERY_MINUTE + DUE_EVERY_2_MINUTES + DUE_INTERVALS + VIA_SERVICE
    if args.schedules < minimum:
        parser.error(f"--schedules must be at least {minimum}")
    _refuse_sqlite()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"bench-sched-{os.getpid()}-")
    os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "600")
    django_for_bench()
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.utils import timezone
    from rest_framework.test import APIClient

    vendors = {alias: connections[alias].vendor for alias in connections}
    if any(vendor != "postgresql" for vendor in vendors.values()):
        sys.exit(f"bench scheduling needs PostgreSQL on every database alias, found {vendors}")

    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scheduling-"))
    client = APIClient()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"role": "admin"}
    )
    client.force_authenticate(user)
    processes = editor = None
    _cleanup()
    try:
        job = _job(client)
        groups, setup_s, how = _create_schedules(job, args.schedules, rng)
        print(f"{len(groups):,} schedules in {setup_s:.1f}s: {how}", flush=True)
        tick_s, tick_statements, soonest_s = _empty_tick_cost()
        print(f"tick with nothing due: {tick_s * 1000:.2f} ms (median of 50), "
              f"{tick_statements} SQL statements; soonest_due {soonest_s * 1000:.2f} ms",
              flush=True)  # fmt: skip

        processes = SchedulerProcesses(workdir, args.worker_threads)
        started_wall = timezone.now()
        started = time.monotonic()
        cpu_before = processes.cpu_seconds()
        editor = Editor(list(groups), args.edits_per_second, rng)
        editor.start()
        window_start = started_wall + timedelta(seconds=args.warm_up)
        window_end = started_wall + timedelta(minutes=args.minutes)
        print(f"beat and worker started (logs in {workdir}); running {args.minutes:g} min, "
              f"measuring due times {window_start:%H:%M:%S}-{window_end:%H:%M:%S} UTC",
              flush=True)  # fmt: skip
        beat_log_at = None  # beat's reloads are counted in the window (one at its start-up)
        while time.monotonic() - started < args.minutes * 60:
            if beat_log_at is None and time.monotonic() - started >= args.warm_up:
                beat_log_at = processes.log_size("beat")
            time.sleep(1)
        editor.stopping.set()
        editor.join(timeout=30)
        cpu_after = processes.cpu_seconds()
        run_s = time.monotonic() - started
        drained_s = _wait_drained(window_end)
        reloads = processes.log_since("beat", beat_log_at or 0).count("Schedule changed")
        processes.stop()
        processes = None

        results = _results(window_start, window_end, groups)
        edit_cost = statistics.median(editor.durations) if editor.durations else None
        window_minutes = (window_end - window_start).total_seconds() / 60
        figures = {
            "schedules": args.schedules,
            "window_minutes": window_minutes,
            "results": results,
            "edits": editor,
            "edit_median_s": edit_cost,
            "tick_s": tick_s,
            "tick_statements": tick_statements,
            "soonest_s": soonest_s,
            "cpu": {k: cpu_after[k] - cpu_before[k] for k in cpu_after},
            "run_s": run_s,
            "drained_s": drained_s,
            "reloads": reloads,
            "threads": args.worker_threads,
        }
        print()
        print(" ".join(platform.uname()))
        print(_table(figures))
    finally:
        if editor is not None:
            editor.stopping.set()
        if processes is not None:
            processes.stop()
        delete_queues()
        _cleanup()
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


def _table(f: dict) -> str:
    r = f["results"]
    lines = [
        "| lag (s after the due time) | firings | p50 s | p99 s | max s | over 2 s |",
        "|---|---|---|---|---|---|",
    ]
    order = ("all", "every-1-min", "every-2-min", "interval", "daily", "weekly")
    for label, values in (("fired_at", r["lag"]), ("run created", r["run_lag"])):
        for group in order:
            lags = values.get(group)
            if not lags:
                continue
            name = f"{label} ({'every group' if group == 'all' else group})"
            lines.append(
                f"| {name} | {len(lags):,} | {_fmt(_percentile(lags, 50))} | "
                f"{_fmt(_percentile(lags, 99))} | {_fmt(max(lags))} | "
                f"{sum(lag > LAG_LIMIT_S for lag in lags)} |"
            )
    editor: Editor = f["edits"]
    outcomes = r["outcomes"]
    kinds = ", ".join(f"{n} {k}" for k, n in editor.kinds.most_common())
    cpu = f["cpu"]
    rows = [
        ("schedules (enabled at the start)", f"{f['schedules']:,}"),
        ("measured window", f"{f['window_minutes']:.2f} min (run {f['run_s'] / 60:.2f} min, "
         f"first {f['run_s'] / 60 - f['window_minutes']:.2f} min not measured)"),
        ("firings in the window", f"{r['firings']:,} ({r['firings'] / f['window_minutes']:.0f} "
         "per minute)"),
        ("largest burst", f"{r['burst']} firings due in the same second"),
        ("outcomes", ", ".join(f"{n:,} {k}" for k, n in outcomes.most_common()) or "-"),
        ("due times fired twice", f"{r['twice_by_due_time']} by (schedule, due time), "
         f"{r['twice_by_runs']} firings with more than one run"),
        ("fired without a run", str(r["fired_without_run"])),
        ("edits (schedule_update)", f"{sum(editor.kinds.values()):,} ({kinds}); "
         f"{sum(editor.errors.values())} failed"),
        ("one edit", f"median {_fmt((f['edit_median_s'] or 0) * 1000, 1)} ms, p99 "
         f"{_fmt((_percentile(editor.durations, 99) or 0) * 1000, 1)} ms, "
         f"{max(editor.statements, default=0)} SQL statements at most"),
        ("one tick with nothing due (schedules_fire_due)", f"{f['tick_s'] * 1000:.2f} ms "
         f"(median of 50), {f['tick_statements']} SQL statements; soonest_due "
         f"{f['soonest_s'] * 1000:.2f} ms"),
        ("beat reloads of its schedule in the window", str(f["reloads"])),
        ("CPU s over the run", f"beat {cpu['beat']:.1f}, worker {cpu['worker']:.1f} "
         f"({f['threads']} threads)"),
        ("due times of the window unfired after it", "some (not settled 60 s after the end)"
         if f["drained_s"] is None else f"none (all settled {f['drained_s']:.1f} s after the end)"),
    ]  # fmt: skip
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    for error, count in editor.errors.most_common(3):
        lines.append(f"  edit error x{count}: {error}")
    return "\n".join(lines)
