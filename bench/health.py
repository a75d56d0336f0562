"""Health checks: wall time to check many SSH targets through the real path.

``targets_check_health`` -> RabbitMQ -> a Celery worker (threads pool, in this process) on the
``targets`` queue -> the SSH probe (TCP, handshake, host-key verdict, key authentication,
``hostname``) against real OpenSSH servers on loopback -> every ``HealthCheck`` row finished.
Real PostgreSQL and RabbitMQ; the sshd processes come from the test fixture (tests/sshd.py).
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.setup import django_for_bench

NAME_PREFIX = "bench-health-"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def main(
    targets: int = 200,
    servers: int = 10,
    concurrency: int = 50,
    rounds: int = 3,
    login: str = "test-user",
) -> None:
    """``login``: "test-user" logs in as the fixture's dedicated account (``/bin/sh``; needs
    root to create it, else falls back to the current user); "current" as the user running
    this (whose shell start-up, e.g. a heavy ~/.bashrc, then counts in every check)."""
    # Queues of this run only: a development worker on the same broker must not take its tasks.
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"bench-{os.getpid()}-")
    os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "600")
    django_for_bench()
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.utils import timezone

    from apps.targets import selectors
    from apps.targets.connection import fingerprint_sha256
    from apps.targets.models import ConnectionMethod, Credential, HealthCheck, HostKey, Target
    from apps.targets.services.health import targets_check_health
    from config.celery import app
    from opsconductor.events import SYSTEM
    from opsconductor.sealing import seal
    from tests.sshd import ensure_password_user, generate_key, start_sshd, stop_sshd

    workdir = Path(tempfile.mkdtemp(prefix="bench-health-"))
    workdir.chmod(0o711)  # the test user's sshd session reads authorized_keys below it
    client_key = generate_key(workdir / "client_ed25519")
    started_servers = []
    try:
        for i in range(servers):
            started_servers.append(start_sshd(workdir / f"sshd-{i}", client_key=client_key))

        username = started_servers[0].username
        if login == "test-user" and os.geteuid() == 0:
            username = ensure_password_user().username
        Target.objects.filter(name__startswith=NAME_PREFIX).delete()
        Credential.objects.filter(name__startswith=NAME_PREFIX).delete()
        credential = Credential.objects.create(
            name=f"{NAME_PREFIX}{uuid.uuid4().hex[:8]}",
            kind=Credential.Kind.SSH_KEY,
            username=username,
            secret=seal({"private_key": client_key.read_text(), "passphrase": None}),
            secret_set_at=timezone.now(),
        )
        ids = []
        for i in range(targets):
            server = started_servers[i % servers]
            target = Target.objects.create(name=f"{NAME_PREFIX}{i:04d}")
            method = ConnectionMethod.objects.create(
                target=target,
                protocol="ssh",
                host=server.host,
                port=server.port,
                credential=credential,
                is_primary=True,
            )
            HostKey.objects.create(
                method=method,
                algorithm=server.host_key_algorithm,
                public_key=server.host_key_base64,
                fingerprint=fingerprint_sha256(base64.b64decode(server.host_key_base64)),
                state=HostKey.State.TRUSTED,
                source=HostKey.Source.MANUAL,
            )
            ids.append(target.id)

        app.control.purge()
        with start_worker(
            app, pool="threads", concurrency=concurrency, perform_ping_check=False,
            loglevel="WARNING", queues=[settings.CELERY_QUEUE_PREFIX + "targets"],
            shutdown_timeout=30,
        ):  # fmt: skip
            for round_no in range(1, rounds + 1):
                started = time.perf_counter()
                batch_id = targets_check_health(target_ids=ids, actor=SYSTEM)
                while not selectors.health_batch_done(batch_id=batch_id):
                    if time.perf_counter() - started > 300:
                        break
                    time.sleep(0.02)
                elapsed = time.perf_counter() - started
                rows = list(HealthCheck.objects.filter(batch_id=batch_id))
                statuses = Counter(row.status or "unfinished" for row in rows)
                latencies = [row.latency_ms for row in rows if row.latency_ms is not None]
                timeout = settings.TARGET_HEALTH_TIMEOUT_SECONDS
                print(
                    f"health check of {targets} SSH targets ({servers} sshd on loopback, login "
                    f"{username}, worker threads={concurrency}, timeout {timeout:g}s)"
                    f", round {round_no}: {elapsed:.2f}s wall, {targets / elapsed:,.1f} targets/s; "
                    f"{dict(statuses)}"
                )
                problems = Counter(row.message for row in rows if row.status != "healthy")
                for message, count in problems.most_common(3):
                    print(f"  {count} x {message}")
                if latencies:
                    print(
                        f"  probe latency ms: p50 {statistics.median(latencies):.0f}, "
                        f"p95 {_percentile(latencies, 0.95):.0f}, max {max(latencies):.0f}"
                    )
    finally:
        for server in started_servers:
            stop_sshd(server)
        app.control.purge()
        Target.objects.filter(name__startswith=NAME_PREFIX).delete()
        Credential.objects.filter(name__startswith=NAME_PREFIX).delete()


if __name__ == "__main__":
    main()
