"""Real Celery worker processes for the reliability tests.

Each worker is ``celery -A config worker`` in a process of its own, against the test databases
(the names pytest-django created) and RabbitMQ, on a queue prefix of the test's own (so the
in-process test worker never takes its work), with short heartbeat and reaper intervals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from opsconductor.conf import ALIAS_ENV_VARS, APP_ALIASES

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "EXECUTION_HEARTBEAT_SECONDS": "0.5",
    "EXECUTION_LOST_AFTER_SECONDS": "3",
    "EXECUTION_REAP_SECONDS": "1",
    "EXECUTION_REQUEUE_AFTER_SECONDS": "5",
    "EXECUTION_CANCEL_POLL_SECONDS": "0.5",
    "EXECUTION_WORKER_REAPS": "true",
}


def database_env() -> dict[str, str]:
    """``DATABASE_URL`` and ``<APP>_DATABASE_URL`` pointing at the test databases."""
    env = {}
    for alias, variable in ALIAS_ENV_VARS.items():
        db = settings.DATABASES[alias]
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        user = db.get("USER") or "postgres"
        env[variable] = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    return env


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    def kill(self) -> None:
        """SIGKILL: the worker vanishes without a word (as on an OOM kill or power loss)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Workers:
    def __init__(self, tmp: Path, prefix: str):
        self.tmp = tmp
        self.prefix = prefix
        self.started: list[WorkerProcess] = []

    def start(self, name: str, *, concurrency: int = 10, queues=("execution",), **env_extra):
        log = self.tmp / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "CELERY_QUEUE_PREFIX": self.prefix,
            # the test process declares these queues without an expiry when it publishes (they
            # are not in its configured queue list): the worker must declare them alike
            "CELERY_QUEUE_EXPIRES_SECONDS": "0",
            "OPSCONDUCTOR_WORKER_NAME": name,
            **database_env(),
            **FAST,
            **{k: str(v) for k, v in env_extra.items()},
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-Q", ",".join(self.prefix + q for q in queues),
            "--pool", "threads", "--concurrency", str(concurrency),
            "--hostname", f"{name}-{self.prefix.strip('-')}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip
        return self._spawn(name, command, env, log, ready=b" ready.", what="worker")

    def _spawn(self, name: str, command: list[str], env: dict, log: Path, *, ready: bytes,
               what: str) -> WorkerProcess:  # fmt: skip
        """Start ``command`` logging to ``log``; wait until the log shows ``ready``."""
        handle = log.open("wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started = WorkerProcess(name=name, process=process, log=log)
        self.started.append(started)
        deadline = time.monotonic() + 60
        while ready not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} {name} did not start:\n{started.output()[-3000:]}")
            time.sleep(0.1)
        return started

    def start_beat(self, name: str, **env_extra) -> WorkerProcess:
        """A ``celery -A config beat`` process as production runs it (django-celery-beat's
        DatabaseScheduler, here on the test databases), sending the periodic tasks (the
        scheduler's tick among them) to this prefix's queues. Its schedule and pid files are its
        own, so several can run side by side. Stopped by ``stop_all`` like the workers."""
        log = self.tmp / f"beat-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "CELERY_QUEUE_PREFIX": self.prefix,
            "CELERY_QUEUE_EXPIRES_SECONDS": "0",  # declared like the workers and the test do
            **database_env(),
            **FAST,
            **{k: str(v) for k, v in env_extra.items()},
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "beat",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--schedule", str(self.tmp / f"beat-{name}.schedule"),
            "--pidfile", str(self.tmp / f"beat-{name}.pid"),
            "--loglevel", "INFO",
        ]  # fmt: skip
        # "Sending due task" once its DatabaseScheduler has set up its entries and sent one
        return self._spawn(name, command, env, log, ready=b"Sending due task", what="beat")

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
        from config.celery import app

        with app.connection_for_write() as connection:
            channel = connection.default_channel
            for label in ("kernel", *APP_ALIASES):
                with contextlib.suppress(Exception):
                    channel.queue_delete(self.prefix + label)


def queue_prefix() -> str:
    return f"rel-{uuid.uuid4().hex[:8]}-"
