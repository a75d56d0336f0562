"""Run the web server, a Celery worker and Celery beat together in the foreground.

The embedded default's one command (``make run``). Ctrl-C (or SIGTERM) stops all three; if any
one of them dies, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = (
        "Start web (runserver), a Celery worker on every queue and Celery beat; stop all on Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=8, help="worker threads")

    def handle(self, *args, addrport: str, concurrency: int, **options):
        python = sys.executable
        queues = ",".join(settings.OPSCONDUCTOR_QUEUES)
        commands = {
            "web": [python, "manage.py", "runserver", addrport, "--noreload"],
            "worker": [
                python, "-m", "celery", "-A", "config", "worker", "-Q", queues,
                "--pool", "threads", "--concurrency", str(concurrency),
                "--without-gossip", "--without-mingle", "--loglevel", "INFO",
                "--hostname", "worker@%h",
            ],
            "beat": [
                python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "--scheduler", settings.CELERY_BEAT_SCHEDULER, "--pidfile=",
            ],
        }  # fmt: skip
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        for name, cmd in commands.items():
            # Own process groups: Ctrl-C reaches only us, and we stop the children in order.
            procs[name] = subprocess.Popen(cmd, start_new_session=True)  # noqa: S603
            self.stdout.write(f"started {name} (pid {procs[name].pid})")
        self.stdout.write(
            self.style.SUCCESS(
                f"OpsConductor is running on http://{addrport}/ "
                f"(admin: /admin/, API docs: /api/docs/). Ctrl-C stops everything."
            )
        )
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop_all(procs)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, procs: dict[str, subprocess.Popen]) -> None:
        self.stdout.write("stopping web, worker and beat…")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
                proc.kill()
                proc.wait()
        self.stdout.write("stopped")
