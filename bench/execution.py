"""The execution benchmark: OpsConductor end to end vs ansible-core ad-hoc, on the same targets.

``python -m bench execution [--targets 200] [--command "echo hello"] [--skip-ansible]``

1. Starts N real sshd targets on loopback (bench/targets.py: one sshd per target, the test
   account with login shell /bin/sh when run as root).
2. Registers them as OpsConductor targets (one key credential, trusted host keys) and a
   one-step job running ``--command``, in the bench database (PostgreSQL).
3. OpsConductor, in this process: a Celery worker on the ``execution`` queue (threads pool, as
   in production; RabbitMQ), and for each mode an API call ``POST /api/v1/runs/`` through the
   whole Django stack, then waits until every target's result is stored. ``cold``: the
   worker's connection pool is emptied first (every target pays a handshake); ``warm``: the
   next run on the same targets (pooled connections).
4. ansible-core ``-m raw`` with forks = N, pipelining and ControlPersist, cold then warm
   (bench/ansible_side.py), on the same targets.

Figures per run: wall time; client CPU seconds (this process for OpsConductor: API, worker,
pool, sampler excluded; ansible and every process below it, control masters included);
peak memory of the client side (sum of RSS; PSS too); per-target latency p50/p99 (from the
start to that target's stored result). PostgreSQL and RabbitMQ are servers both sides would
not share and are not counted (ansible stores nothing).
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import resource
import shlex
import signal
import sys
import time
import uuid
from pathlib import Path

from bench.setup import django_for_bench

NAME_PREFIX = "bench-exec-"
BENCH_VAR = Path(__file__).resolve().parent.parent / "var" / "bench"


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as handle:  # noqa: PTH123
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per kind of thread of this process (paramiko readers, worker threads, ...)."""
    import re
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "native")
        kind = re.sub(r"[-_]?\d+(_\d+)?$", "", name)
        totals[kind] = totals.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


class WorkerProcesses:
    """``count`` Celery worker processes on the execution queue (threads pool), as production
    runs them: one process per core (the GIL bounds a process to about one core of Python)."""

    def __init__(self, count: int, concurrency: int, logdir: Path):
        import subprocess

        from django.conf import settings

        from tests.reliability.workers import database_env

        self.processes = []
        # the log file shows "ready"
        env = {**os.environ, "LOG_LEVEL": "INFO", **database_env()}
        logdir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            log = (logdir / f"worker-{index}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        settings.CELERY_QUEUE_PREFIX + "execution",
                        "-P",
                        "threads",
                        "-c",
                        str(concurrency),
                        "--hostname",
                        f"bench{index}-{os.getpid()}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel",
                        "INFO",
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        for index in range(count):
            while b" ready." not in (logdir / f"worker-{index}.log").read_bytes():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench worker {index} did not start (see {logdir})")
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        from bench.targets import proc_stat

        tick = os.sysconf("SC_CLK_TCK")
        fields = [proc_stat(process.pid) for process in self.processes]
        return sum((int(f[11]) + int(f[12])) / tick for f in fields if f)  # utime + stime

    def rss_bytes(self) -> int:
        total = 0
        for process in self.processes:
            try:
                pages = int(Path(f"/proc/{process.pid}/statm").read_text().split()[1])
            except OSError:
                continue
            total += pages * os.sysconf("SC_PAGE_SIZE")
        return total

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except Exception:
                os.killpg(process.pid, signal.SIGKILL)


def _register(targets, command: str):
    """Targets, credential, trusted host keys and the job, in the bench database."""
    from django.utils import timezone

    from apps.jobs.services import job_create
    from apps.targets.connection import fingerprint_sha256
    from apps.targets.models import ConnectionMethod, Credential, HostKey, Target
    from opsconductor.events import SYSTEM
    from opsconductor.sealing import seal

    _cleanup()
    credential = Credential.objects.create(
        name=f"{NAME_PREFIX}{uuid.uuid4().hex[:8]}",
        kind=Credential.Kind.SSH_KEY,
        username=targets[0].username,
        secret=seal({"private_key": targets[0].private_key, "passphrase": None}),
        secret_set_at=timezone.now(),
    )
    for bench_target in targets:
        target = Target.objects.create(name=f"{NAME_PREFIX}{bench_target.name}")
        method = ConnectionMethod.objects.create(
            target=target, protocol="ssh", host=bench_target.host, port=bench_target.port,
            credential=credential, is_primary=True,
        )  # fmt: skip
        HostKey.objects.create(
            method=method,
            algorithm=bench_target.host_key_algorithm,
            public_key=bench_target.host_key_base64,
            fingerprint=fingerprint_sha256(base64.b64decode(bench_target.host_key_base64)),
            state=HostKey.State.TRUSTED,
            source=HostKey.Source.MANUAL,
        )
    job = job_create(
        data={
            "name": f"{NAME_PREFIX}{uuid.uuid4().hex[:8]}",
            "steps": [{"name": "bench", "kind": "command", "command": command}],
        },
        actor=SYSTEM,
    )
    return job


def _cleanup() -> None:
    from apps.execution.models import Run
    from apps.jobs.models import Job
    from apps.targets.models import Credential, Target

    Run.objects.filter(job_name__startswith=NAME_PREFIX).delete()
    Job.objects.filter(name__startswith=NAME_PREFIX).delete()
    Target.objects.filter(name__startswith=NAME_PREFIX).delete()
    Credential.objects.filter(name__startswith=NAME_PREFIX).delete()


def _print_timeline(run_id, started_wall: float) -> None:
    """Where a run's time went: when its targets were queued, claimed by a worker, started
    their first step and finished (seconds after the API call: min / p50 / max)."""
    from apps.execution.models import Run, RunStep, RunTarget

    def spread(values) -> str:
        times = sorted(v.timestamp() - started_wall for v in values if v)
        if not times:
            return "-"
        return f"{times[0]:.2f} / {times[len(times) // 2]:.2f} / {times[-1]:.2f}"

    rows = list(RunTarget.objects.filter(run_id=run_id).values("queued_at", "started_at",
                                                                "finished_at"))  # fmt: skip
    first_steps = RunStep.objects.filter(run_target__run_id=run_id, index=0)
    run = Run.objects.get(pk=run_id)
    print(f"  timeline (s after the API call, min / p50 / max): run created "
          f"{run.created_at.timestamp() - started_wall:.2f}; queued "
          f"{spread(r['queued_at'] for r in rows)}; claimed "
          f"{spread(r['started_at'] for r in rows)}; first step started "
          f"{spread(first_steps.values_list('started_at', flat=True))}; "
          f"finished {spread(r['finished_at'] for r in rows)}")  # fmt: skip


def _opsconductor_run(
    client, job, targets, mode: str, sampler_cls, *, only: str = "", workers=None
):
    from apps.execution.models import RUN_TERMINAL, Run, RunTarget
    from apps.execution.worker import runtime
    from bench.ansible_side import BenchRow, percentile

    if mode == "cold" and workers is None:
        runtime().pool.close_all()
    exclude = targets.pids()
    workers_cpu_before = workers.cpu_seconds() if workers else 0.0
    threads_before = _thread_cpu()
    started_wall = time.time()
    cpu_before = _cpu_self()
    with sampler_cls(os.getpid(), exclude=exclude) as sampler:
        started = time.perf_counter()
        response = client.post(
            "/api/v1/runs/",
            {"job": str(job.id), "selector": f"name={NAME_PREFIX}{only or '*'}",
             "policy": {"max_parallel": len(targets), "allow_overlap": True}},
            format="json",
        )  # fmt: skip
        if response.status_code != 201:
            raise RuntimeError(f"the API refused the run: {response.content[:500]!r}")
        run_id = response.json()["id"]
        deadline = started + 600
        while True:
            status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
            if status in RUN_TERMINAL or time.perf_counter() > deadline:
                break
            time.sleep(0.025)
        wall = time.perf_counter() - started
    cpu = _cpu_self() - cpu_before - sampler.own_cpu_s
    if workers:
        cpu += workers.cpu_seconds() - workers_cpu_before
    if os.environ.get("BENCH_THREAD_CPU"):
        after = _thread_cpu()
        spent = {k: after.get(k, 0) - threads_before.get(k, 0) for k in after}
        print(
            "  CPU by thread kind:",
            {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v > 0.01},
        )
    if os.environ.get("BENCH_TIMELINE"):
        _print_timeline(run_id, started_wall)
    rows = list(RunTarget.objects.filter(run_id=run_id).values("status", "finished_at", "reason"))
    latencies = [r["finished_at"].timestamp() - started_wall for r in rows if r["finished_at"]]
    ok = sum(r["status"] == "succeeded" for r in rows)
    problems = {r["reason"] for r in rows if r["status"] != "succeeded"}
    return BenchRow(
        side="opsconductor", mode=mode, targets=len(rows), ok=ok, wall_s=wall, cpu_s=cpu,
        peak_rss_bytes=sampler.peak_rss_bytes, peak_pss_bytes=sampler.peak_pss_bytes or None,
        p50_s=percentile(latencies, 50), p99_s=percentile(latencies, 99),
    ), problems  # fmt: skip


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench execution")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--command", default="echo hello")
    parser.add_argument("--warm-runs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker threads (default: one per target, at most 256)")  # fmt: skip
    parser.add_argument("--skip-ansible", action="store_true")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per core); 0: a worker thread "
                        "pool inside this process")  # fmt: skip
    parser.add_argument("--login", choices=("test-user", "current"), default="test-user")
    args = parser.parse_args(list(argv))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"bench-{os.getpid()}-")
    os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "600")
    os.environ.setdefault("EXECUTION_POOL_MAX_PER_TARGET", "2")
    django_for_bench()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from bench.ansible_side import ensure_ansible, format_table, run_ansible
    from bench.targets import start_targets
    from config.celery import app

    if not args.skip_ansible:
        ensure_ansible()
    per_process = -(-args.targets // max(args.processes, 1))
    concurrency = args.concurrency or min(per_process, 16)
    rows, notes = [], []
    with start_targets(args.targets, workdir=BENCH_VAR, login=args.login) as targets:
        print(
            f"{len(targets)} sshd targets on 127.0.0.1 started in {targets.start_seconds:.1f}s "
            f"(login {targets[0].username}); command {shlex.quote(args.command)}; "
            f"worker threads={concurrency}",
            flush=True,
        )
        job = _register(targets, args.command)
        client = APIClient()
        user, _ = get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"role": "admin"}
        )
        client.force_authenticate(user)
        app.control.purge()
        try:
            if args.processes:
                _run_with_processes(args, client, job, targets, rows, notes, concurrency)
            else:
                _run_in_process(args, client, job, targets, rows, notes, concurrency)
        finally:
            app.control.purge()
            _cleanup()
        if not args.skip_ansible:
            rows.extend(run_ansible(targets, command=args.command, warm_runs=args.warm_runs))
    print()
    print(" ".join(platform.uname()))
    print(format_table(rows, baseline="ansible" if not args.skip_ansible else None))
    for note in notes:
        print("  " + note)


def _report(row, problems, rows) -> None:
    rows.append(row)
    print(f"opsconductor {row.mode}: {row.wall_s:.2f}s wall, {row.ok} ok", flush=True)
    for problem in list(problems)[:3]:
        print(f"  problem: {problem}")


def _run_with_processes(args, client, job, targets, rows, notes, concurrency) -> None:
    from bench.ansible_side import ProcessTreeSampler

    workers = WorkerProcesses(args.processes, concurrency, BENCH_VAR / "workers")
    try:
        rss_before = workers.rss_bytes()
        for mode in ["cold"] + ["warm"] * args.warm_runs:
            row, problems = _opsconductor_run(
                client, job, targets, mode, ProcessTreeSampler, workers=workers
            )
            _report(row, problems, rows)
            if mode == "cold":
                growth = workers.rss_bytes() - rss_before
                per_connection = growth / len(targets) / 1024
                notes.append(
                    f"{args.processes} worker processes x {concurrency} threads; their RSS grew "
                    f"{growth / 2**20:.1f} MiB over the cold run = {per_connection:.0f}"
                    " KiB per pooled connection (paramiko transport + its thread; includes the "
                    "database connections the threads opened)"
                )
    finally:
        workers.stop()


def _run_in_process(args, client, job, targets, rows, notes, concurrency) -> None:
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from apps.execution.worker import runtime
    from bench.ansible_side import ProcessTreeSampler
    from config.celery import app

    with start_worker(
        app, pool="threads", concurrency=concurrency, perform_ping_check=False,
        loglevel="WARNING", queues=[settings.CELERY_QUEUE_PREFIX + "execution"],
        shutdown_timeout=30,
    ):  # fmt: skip
        # a first tiny run warms up the process (imports, DB connections), not the pool
        _opsconductor_run(client, job, targets, "warm-up", ProcessTreeSampler, only=targets[0].name)
        runtime().pool.close_all()
        rss_before = _rss_bytes()
        for mode in ["cold"] + ["warm"] * args.warm_runs:
            row, problems = _opsconductor_run(client, job, targets, mode, ProcessTreeSampler)
            _report(row, problems, rows)
            if mode == "cold" and runtime().pool.idle_count():
                pooled = runtime().pool.idle_count()
                growth = _rss_bytes() - rss_before
                notes.append(
                    f"pooled connections after the cold run: {pooled}; process RSS grew "
                    f"{growth / 2**20:.1f} MiB = {growth / pooled / 1024:.0f} KiB per pooled "
                    "connection (paramiko transport + its thread)"
                )
        stats = runtime().pool.stats
        notes.append(f"pool: {stats.opened} handshakes, {stats.reused} reuses, {stats.dead} dead")
        runtime().pool.close_all()
