"""The audit benchmark: ingestion end to end at a steady rate, then queries on a million records.

``python -m bench audit [--rate 5000] [--seconds 60] [--records 1000000]``

The requirement: ingestion keeps up with the platform, at least 5,000 events/s sustained into
PostgreSQL on a 2-core machine with the outbox backlog returning to zero; filtered queries on
1,000,000 records answer in under 100 ms (p95).

1. **Ingestion, end to end.** A producer thread in this process publishes a realistic mix of
   events (runs with their targets' results, logins, target edits, health changes, host keys,
   schedule firings, job, credential and user changes: about 50 event types from every app, with
   their payloads, actors and request contexts) at ``--rate`` events/s for ``--seconds``. Every
   ``--tick-ms`` it writes what is due with ``publish_many`` into the outbox of each publishing
   app's alias (one transaction per alias and tick, one ``publish_many`` per activity: the
   events of one request or one run share its context), and after each commit relays them
   as the app does after commit: ``relay_pending(using=alias, event_ids=...)`` in chunks of
   ``RELAY_CHUNK`` (what ``publish(..., relay=True)``'s after-commit callback runs), timed
   apart from the publishing. The audit subscriber is a batch subscriber: each relay sends one
   ``deliver_events`` task to the audit queue. ``--workers`` real worker processes
   (``celery -A config worker``, threads pool, ``--worker-threads`` each, production settings
   and log level) consume the bench's prefixed audit queue. A sampler thread reads every second
   the outbox backlog (unrelayed rows, per database and publishing app), the chain's head
   (records appended), the broker's audit queue and CPU; it also plays beat's outbox sweep
   (``relay_pending(older_than=OUTBOX_SWEEP_GRACE_SECONDS)`` every 15 s). After the producer
   stops: how long until the backlog is zero and every published event is recorded; ingestion
   lag ``recorded_at - occurred_at`` per 10 s of the run; ``audit_verify()`` over the whole
   trail. Always measured in-process too: ``audit_record_events`` on a batch of 500 and
   ``relay_pending`` of 500 (cProfile tables when the rate was not sustained or ``--profile``).
   Then **a backlog** (``--backlog`` events, 0: none): written into the outboxes unrelayed
   (``publish_many(relay=False)``), then relayed the sweep's way (``relay_pending(using=alias)``
   in chunks of 500, ``--relay-threads`` threads, as fast as they go) while the same workers
   ingest: what the audit side takes when events arrive in full chunks, and how fast a backlog
   returns to zero.
2. **Queries on ``--records`` records.** The trail is emptied (TRUNCATE), then loaded by
   ``services.audit_record_events`` itself in batches of 5,000 in-process (real chain, hashes,
   masking; this is also the in-process ingestion rate without broker), the same mix spread
   over 90 days: ~200 actors, ~50 actions, ~5,000 objects, 14 source addresses. Then each
   filtered query of ``/api/v1/audit/events/`` (first page of 50, through the Django test
   client as an admin user, whole stack: session, filters, cursor pagination, serializer)
   runs once to warm up and ``--runs`` times measured: p50/p95 and the SQL time. Queries over
   100 ms are shown with ``EXPLAIN (ANALYZE, BUFFERS)``. Then a streamed export of one day
   (rows/s) and ``audit_verify()`` over everything (records/s).

The bench runs on a database of its own (default ``oc_bench_audit``, created and migrated if
missing) and refuses database names without "bench": it TRUNCATEs the audit trail and the outbox
at its start and, unless ``--keep``, at its end (the trail's trigger refuses DELETE, TRUNCATE is
not a row operation). The database is disposable: ``dropdb oc_bench_audit``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import io
import os
import platform
import pstats
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.setup import delete_queues, django_for_bench

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_audit"
REQUIRED_RATE = 5000  # events/s
QUERY_LIMIT_MS = 100.0
LOAD_BATCH = 5000
SWEEP_EVERY_S = 15.0
SPAN_DAYS = 90

# -- the population and the mix of events -------------------------------------------------------

FIRST = ("anna", "ben", "carla", "david", "emma", "felix", "greta", "hugo", "ines", "jonas",
         "karin", "lars", "maria", "nils", "olga", "paul", "rosa", "sven", "tina",
         "ugo")  # fmt: skip
LAST = ("meyer", "novak", "silva", "tanaka", "kowalski", "dubois", "rossi", "jensen", "okafor",
        "haddad", "lindqvist", "moreau", "schmidt", "garcia", "ivanova", "brennan",
        "sato")  # fmt: skip
ROLES = ("web", "db", "app", "cache", "lb", "batch", "win-app", "win-sql", "mq", "edge")
SITES = ("fra1", "ams2", "nyc3", "sfo2", "sin1")
TOKENS = ("ci-pipeline", "terraform", "backup-robot", "monitoring", "cmdb-sync", "release-bot",
          "patch-orchestrator", "inventory-import", "grafana-alerts", "jenkins", "gitlab-ci",
          "ansible-tower-migr", "nightly-report", "capacity-planner", "dr-drill", "soc-scanner",
          "k8s-operator", "cost-report", "cert-renewer", "ops-chatbot")  # fmt: skip
JOBS = ("patch", "restart", "rotate-logs", "deploy", "health-probe", "backup", "disk-cleanup",
        "kernel-update", "collect-facts", "renew-certs")  # fmt: skip
BROWSERS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0")  # fmt: skip
CLIENTS = ("python-requests/2.32.3", "opsconductor-cli/1.4.2", "curl/8.5.0", "Go-http-client/2.0")
OFFICE_IPS = ("10.20.1.17", "10.20.1.42", "10.20.3.5", "10.20.3.77", "192.168.10.12",
              "192.168.10.34", "2001:db8:10::15", "2001:db8:10::2a")  # fmt: skip
AUTOMATION_IPS = ("10.40.0.10", "10.40.0.11", "10.40.0.12", "172.16.5.20")
STRANGER_IPS = ("203.0.113.45", "198.51.100.7")
TARGET_STATUSES = (("succeeded", 90), ("failed", 6), ("timed_out", 2), ("unreachable", 1.5),
                   ("canceled", 0.5))  # fmt: skip
TARGET_FIELDS = ("description", "environment", "os_family", "tags", "labels", "active")


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Mix:
    """A deployment's population (~200 actors, ~5,000 objects) and the events it produces, as
    activities: the events of one API request, one run or one health round, which share an
    actor and a request context (one ``publish_many`` each)."""

    def __init__(self, rng: random.Random):
        from opsconductor.events import SYSTEM, Actor
        from opsconductor.events.actor import ANONYMOUS

        self.rng, self.system, self.anonymous = rng, SYSTEM, ANONYMOUS
        names = sorted({f"{rng.choice(FIRST)}.{rng.choice(LAST)}" for _ in range(400)})[:140]
        self.users = [Actor(kind="user", id=_uid(rng), name=name) for name in names]
        self.tokens = [Actor(kind="token", id=_uid(rng), name=name) for name in TOKENS]
        self.targets = [
            (_uid(rng), f"{rng.choice(ROLES)}-{index:04d}.{rng.choice(SITES)}")
            for index in range(3000)
        ]
        self.jobs = [
            (_uid(rng), f"{rng.choice(JOBS)}-{rng.choice(ROLES)}-{index:03d}")
            for index in range(400)
        ]
        cadences = ("nightly", "hourly", "weekly")
        self.schedules = [
            Actor(kind="schedule", id=_uid(rng), name=f"{name}-{rng.choice(cadences)}")
            for _, name in rng.sample(self.jobs, 40)
        ]
        kinds = ("ssh-key", "password", "winrm")
        self.credentials = [
            (_uid(rng), f"{rng.choice(ROLES)}-{rng.choice(kinds)}-{index:02d}")
            for index in range(80)
        ]
        self.groups = [(_uid(rng), f"{role}-{site}") for role in ROLES for site in SITES[:4]]
        # runs, firings, connection methods and channels come from pools too: the trail holds
        # ~5,000 distinct objects, however many events it has
        self.runs = [(_uid(rng), rng.choice(self.jobs)) for _ in range(1000)]
        self.firings = [_uid(rng) for _ in range(500)]
        self.methods = [_uid(rng) for _ in range(300)]
        self.channels = [_uid(rng) for _ in range(10)]
        self.host_keys = [(_uid(rng), rng.choice(self.targets)) for _ in range(300)]
        # a few busy people and robots, many occasional ones
        self.user_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.users))]
        self.activities = (
            (self.run, 22), (self.login, 22), (self.target_edit, 9), (self.health, 8),
            (self.host_key, 5), (self.schedule_edit, 3), (self.job_edit, 3),
            (self.credential, 2), (self.user_admin, 2), (self.target_admin, 2),
            (self.firing_problem, 1), (self.alerting, 0.5), (self.cancel, 0.5),
        )  # fmt: skip
        self._kinds = [kind for kind, _ in self.activities]
        self._weights = [weight for _, weight in self.activities]

    # who and from where
    def _user(self):
        return self.rng.choices(self.users, self.user_weights)[0]

    def _request(self, actor) -> dict:
        rng = self.rng
        context = {"request_id": f"{rng.getrandbits(128):032x}"}
        if actor.kind == "user":
            context["ip"] = rng.choice(OFFICE_IPS)
            context["user_agent"] = rng.choice(BROWSERS)
        elif actor.kind in ("token", "anonymous"):
            context["ip"] = rng.choice(AUTOMATION_IPS if actor.kind == "token" else STRANGER_IPS)
            context["user_agent"] = rng.choice(CLIENTS)
        return context

    def _task(self) -> dict:  # events written by a worker carry the task's request id only
        return {"request_id": f"{self.rng.getrandbits(128):032x}"}

    def _someone(self):
        return self._user() if self.rng.random() < 0.7 else self.rng.choice(self.tokens)

    def _now(self) -> str:
        return datetime.now(UTC).isoformat()

    def activity(self) -> list[tuple[str, list[dict], object, dict]]:
        """One activity: [(event type, payloads, actor, context), ...]."""
        return self.rng.choices(self._kinds, self._weights)[0]()

    # the activities
    def run(self):
        rng = self.rng
        run_id, (job_id, job_name) = rng.choice(self.runs)
        events = []
        roll = rng.random()
        if roll < 0.5:
            actor = rng.choice(self.schedules)
            context = self._task()
            events.append(("scheduling.firing.fired", [{
                "firing_id": rng.choice(self.firings), "schedule_id": actor.id,
                "schedule_name": actor.name,
                "job_id": job_id, "scheduled_for": self._now(), "fired_at": self._now(),
                "outcome": "fired", "reason": "", "run_id": run_id, "catch_up": False,
                "revision": rng.randrange(1, 9)}], actor, context))  # fmt: skip
        else:
            actor = self._user() if roll < 0.85 else rng.choice(self.tokens)
            context = self._request(actor)
        size = rng.choice((1, 1, 2, 3, 5, 8, 10, 12, 20, 30, 50))
        chosen = rng.sample(self.targets, size)
        events.append(("execution.run.requested", [{
            "run_id": run_id, "job_id": job_id, "job_name": job_name,
            "job_version": rng.randrange(1, 30), "trigger": "schedule" if roll < 0.5 else "api",
            "selector": f"name~{chosen[0][1].split('-')[0]}-*", "targets": size,
            "parameters": {"reboot": rng.random() < 0.2, "password": "hunter2-not-shown"}}],
            actor, context))  # fmt: skip
        events.append(("execution.run.started", [{"run_id": run_id, "job_id": job_id,
                       "job_name": job_name, "schedule_firing_id": None}], actor,
                       context))  # fmt: skip
        statuses = [s for s, _ in TARGET_STATUSES]
        weights = [w for _, w in TARGET_STATUSES]
        finished = []
        for target_id, target_name in chosen:
            status = rng.choices(statuses, weights)[0]
            finished.append({
                "run_id": run_id, "run_target_id": _uid(rng), "target_id": target_id,
                "target_name": target_name, "status": status,
                "exit_code": 0 if status == "succeeded" else rng.choice((1, 2, 127, None)),
                "reason": "" if status == "succeeded" else f"step 2 ended with {status}",
            })  # fmt: skip
        worker = self._task()
        events.append(("execution.target.finished", finished, self.system, worker))
        failed = sum(f["status"] != "succeeded" for f in finished)
        events.append(("execution.run.finished", [{
            "run_id": run_id, "job_id": job_id, "job_name": job_name,
            "status": "failed" if failed else "succeeded",
            "counts": dict(Counter(f["status"] for f in finished))}], self.system,
            worker))  # fmt: skip
        return events

    def login(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.88:
            user = self._user()
            return [("accounts.login.succeeded", [{"user_id": user.id, "username": user.name,
                     "channel": rng.choice(("api", "api", "admin"))}], user,
                     self._request(user))]  # fmt: skip
        if roll < 0.98:
            user = self._user() if rng.random() < 0.8 else None
            reason = "wrong_password" if user else rng.choice(("unknown_user", "locked_out"))
            return [("accounts.login.failed", [{
                "username": user.name if user else rng.choice(("admin", "root", "test")),
                "user_id": user.id if user else None, "reason": reason, "channel": "api"}],
                self.anonymous, self._request(self.anonymous))]  # fmt: skip
        user = self._user()
        return [("accounts.permission.denied", [{"user_id": user.id, "username": user.name,
                 "method": "POST", "path": "/api/v1/credentials/"}], user,
                 self._request(user))]  # fmt: skip

    def target_edit(self):
        rng = self.rng
        actor = self._someone()
        payloads = []
        for target_id, name in rng.sample(self.targets, rng.choice((1, 1, 1, 2, 5, 10))):
            field = rng.choice(TARGET_FIELDS)
            payloads.append(
                {
                    "target_id": target_id,
                    "name": name,
                    "changes": {
                        field: {"from": f"old {field}", "to": f"new {field} {rng.randrange(100)}"}
                    },
                }
            )
        return [("targets.target.updated", payloads, actor, self._request(actor))]

    def health(self):
        rng = self.rng
        payloads = []
        for target_id, name in rng.sample(self.targets, rng.choice((1, 2, 3, 5, 10, 20))):
            before, after = rng.sample(("healthy", "unreachable", "degraded", "unknown"), 2)
            payloads.append(
                {
                    "target_id": target_id,
                    "name": name,
                    "from": before,
                    "to": after,
                    "message": "" if after == "healthy" else "connection timed out",
                }
            )
        return [("targets.target.health_changed", payloads, self.system, self._task())]

    def host_key(self):
        rng = self.rng
        chosen = rng.sample(self.host_keys, rng.choice((1, 2, 5)))
        kind = rng.choices(("seen", "approved", "changed_refused", "rejected"), (85, 8, 5, 2))[0]
        actor = self._user() if kind in ("approved", "rejected") else self.system
        payloads = [{
            "host_key_id": key_id, "method_id": key_id, "target_id": target_id,
            "target_name": name, "address": f"{name}:22", "algorithm": "ssh-ed25519",
            "fingerprint": f"SHA256:{rng.getrandbits(172):043x}", "state": kind,
            "source": "connection"} for key_id, (target_id, name) in chosen]  # fmt: skip
        context = self._request(actor) if actor.kind == "user" else self._task()
        return [(f"targets.host_key.{kind}", payloads, actor, context)]

    def schedule_edit(self):
        rng = self.rng
        schedule, actor = rng.choice(self.schedules), self._someone()
        verb = rng.choices(("updated", "paused", "resumed", "created", "deleted"),
                           (60, 15, 15, 6, 4))[0]  # fmt: skip
        payload = {"schedule_id": schedule.id, "name": schedule.name, "kind": "cron",
                   "cron": f"{rng.randrange(60)} {rng.randrange(24)} * * *",
                   "timezone": "Europe/Berlin"}  # fmt: skip
        if verb == "updated":
            payload["changes"] = {"cron": {"from": "0 2 * * *", "to": payload["cron"]}}
        return [(f"scheduling.schedule.{verb}", [payload], actor, self._request(actor))]

    def job_edit(self):
        rng = self.rng
        (job_id, name), actor = rng.choice(self.jobs), self._someone()
        verb = rng.choices(("updated", "created", "reverted", "deleted"), (75, 12, 8, 5))[0]
        payload = {"job_id": job_id, "name": name, "version": rng.randrange(1, 40),
                   "diff": [{"op": "replace", "path": "/steps/0/command",
                             "value": "systemctl restart app"}]}  # fmt: skip
        return [(f"jobs.job.{verb}", [payload], actor, self._request(actor))]

    def credential(self):
        rng = self.rng
        (credential_id, name), actor = rng.choice(self.credentials), self._user()
        verb = rng.choices(("rotated", "updated", "created", "deleted"), (50, 30, 12, 8))[0]
        payload = {
            "credential_id": credential_id,
            "name": name,
            "kind": "ssh-key",
            "username": "deploy",
            "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----",
        }
        if verb == "updated":
            payload["changes"] = {"password": {"from": "old-secret", "to": "new-secret"},
                                  "username": {"from": "deploy", "to": "ops"}}  # fmt: skip
        return [(f"targets.credential.{verb}", [payload], actor, self._request(actor))]

    def user_admin(self):
        rng = self.rng
        admin, user = self._user(), self._user()
        verb = rng.choices(("user.updated", "user.role_changed", "user.password_changed",
                            "user.created", "user.deleted", "token.created", "token.revoked"),
                           (30, 15, 20, 8, 4, 13, 10))[0]  # fmt: skip
        payload = {"user_id": user.id, "username": user.name}
        if verb == "user.role_changed":
            payload["changes"] = {"role": {"from": "viewer", "to": "operator"}}
        if verb.startswith("token."):
            token = rng.choice(self.tokens)
            payload = {"token_id": token.id, "name": token.name, "user_id": admin.id,
                       "token": f"oc_{rng.getrandbits(160):040x}"}  # fmt: skip
        return [(f"accounts.{verb}", [payload], admin, self._request(admin))]

    def target_admin(self):
        rng = self.rng
        actor = self._someone()
        (target_id, name) = rng.choice(self.targets)
        event = rng.choice(("target.created", "target.deleted", "connection_method.created",
                            "connection_method.updated", "connection_method.deleted",
                            "group.created", "group.updated", "group.deleted"))  # fmt: skip
        if event.startswith("group."):
            group_id, group = rng.choice(self.groups)
            payload = {"group_id": group_id, "name": group, "selector": f"name~{group}*"}
        elif event.startswith("connection_method."):
            payload = {
                "connection_method_id": rng.choice(self.methods),
                "target_id": target_id,
                "target_name": name,
                "protocol": "ssh",
                "host": name,
                "port": 22,
            }
        else:
            payload = {
                "target_id": target_id,
                "name": name,
                "snapshot": {"description": "", "tags": ["prod"], "active": True},
            }
        return [(f"targets.{event}", [payload], actor, self._request(actor))]

    def firing_problem(self):
        rng = self.rng
        schedule = rng.choice(self.schedules)
        outcome = rng.choice(("missed", "skipped", "failed_to_start"))
        payload = {"firing_id": rng.choice(self.firings), "schedule_id": schedule.id,
                   "schedule_name": schedule.name, "job_id": _uid(rng),
                   "scheduled_for": self._now(), "fired_at": None, "outcome": outcome,
                   "reason": "the previous run is still going", "run_id": None,
                   "catch_up": False, "revision": 3}  # fmt: skip
        return [(f"scheduling.firing.{outcome}", [payload], schedule, self._task())]

    def alerting(self):
        rng = self.rng
        actor = self._user()
        event = rng.choice(("channel.created", "channel.updated", "channel.deleted",
                            "alert_rule.created", "alert_rule.deleted"))  # fmt: skip
        payload = {"channel_id": rng.choice(self.channels), "name": f"ops-{rng.choice(SITES)}",
                   "kind": "webhook", "secret": "whsec_not_shown"}  # fmt: skip
        return [(f"scheduling.{event}", [payload], actor, self._request(actor))]

    def cancel(self):
        rng = self.rng
        run_id, (job_id, job_name) = rng.choice(self.runs)
        actor = self._user()
        return [("execution.run.cancel_requested", [{"run_id": run_id, "job_id": job_id,
                 "job_name": job_name}], actor, self._request(actor))]  # fmt: skip


# -- measuring helpers ----------------------------------------------------------------------------


def _pct(values, pct: float) -> float | None:
    from bench.ansible_side import percentile

    return percentile(values, pct)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _cpu_of(pid: int) -> float:
    from bench.targets import proc_stat

    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def _cpu_by_command(names: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process of these command names, by pid (machine-wide:
    PostgreSQL's backends serve whoever else uses the server too)."""
    from bench.targets import proc_pids, read_proc

    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, dict[int, float]] = {name: {} for name in names}
    for pid in proc_pids():
        data = read_proc(f"/proc/{pid}/stat")
        if not data:
            continue
        comm = data[data.index(b"(") + 1 : data.rindex(b")")].decode(errors="replace")
        if comm in found:
            fields = data[data.rindex(b")") + 2 :].split()
            found[comm][pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two snapshots (``_cpu_snapshot``); for the processes of a command,
    those alive at the end (a process that exited meanwhile is not counted: a lower bound)."""
    spent = {}
    for key, value in after.items():
        if isinstance(value, dict):
            spent[key] = sum(cpu - before[key].get(pid, 0.0) for pid, cpu in value.items())
        else:
            spent[key] = value - before[key]
    return spent


def _cpu_snapshot(workers) -> dict:
    return {"bench": _own_cpu(), "workers": workers.cpu_seconds(),
            **_cpu_by_command(("postgres", "beam.smp"))}  # fmt: skip


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine so far (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(fields[:8])
    return (total - fields[3] - fields[4]) / tick, total / tick


def _others(figures: dict) -> float:
    """CPU seconds the machine spent on anything but the bench, its workers, PostgreSQL and
    RabbitMQ (other users of the machine, the kernel)."""
    return figures["machine_s"] - sum(figures["cpu"].values())


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- safety, set-up, clean-up -----------------------------------------------------------------


def _refuse_foreign_databases() -> None:
    from django.conf import settings
    from django.db import connections

    for alias, config in settings.DATABASES.items():
        if connections[alias].vendor != "postgresql":
            sys.exit(f"bench audit needs PostgreSQL on every alias ({alias} is not)")
        if "bench" not in config["NAME"]:
            sys.exit(
                f"bench audit empties the audit trail and the outbox: it runs only on a "
                f"database whose name contains 'bench' ({alias} is {config['NAME']!r})"
            )


def _truncate() -> None:
    """An empty trail (records, chain head, checkpoints) and empty outboxes."""
    from django.db import connections

    from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditRecord
    from opsconductor.events.models import FailedDelivery, OutboxEvent
    from opsconductor.events.outbox import distinct_database_aliases

    with connections["audit"].cursor() as cursor:
        tables = [AuditRecord._meta.db_table, AuditChainHead._meta.db_table,
                  AuditCheckpoint._meta.db_table]  # fmt: skip
        cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables))
    for alias in distinct_database_aliases():
        with connections[alias].cursor() as cursor:
            tables = [OutboxEvent._meta.db_table, FailedDelivery._meta.db_table]
            cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables))


def _head_sequence() -> int:
    from apps.audit.models import AuditChainHead

    return (
        AuditChainHead.objects.using("audit").filter(pk=1).values_list("sequence", flat=True)
        .first() or 0
    )  # fmt: skip


def _backlog() -> dict[str, int]:
    """Unrelayed outbox rows per database and publishing app (``alias/app``)."""
    from django.db import connections

    from opsconductor.events.models import OutboxEvent
    from opsconductor.events.outbox import distinct_database_aliases

    counts = {}
    for alias in distinct_database_aliases():
        with connections[alias].cursor() as cursor:
            cursor.execute(
                f"SELECT split_part(event_type, '.', 1), count(*) FROM "
                f'"{OutboxEvent._meta.db_table}" WHERE relayed_at IS NULL GROUP BY 1'
            )
            for app, count in cursor.fetchall():
                counts[f"{alias}/{app}"] = count
    return counts


class Workers:
    """``--workers`` processes of ``celery -A config worker`` on the bench's audit queue, started
    by the reliability tests' helper with production settings (not the tests')."""

    def __init__(self, count: int, threads: int, workdir: Path):
        from django.conf import settings

        from tests.reliability.workers import Workers as Helper

        self.helper = Helper(workdir, settings.CELERY_QUEUE_PREFIX)
        self.processes = []
        try:
            for index in range(count):
                self.processes.append(
                    self.helper.start(
                        f"bench-audit-{index}", concurrency=threads, queues=("audit",),
                        DJANGO_SETTINGS_MODULE="config.settings",
                        CELERY_QUEUE_EXPIRES_SECONDS=os.environ["CELERY_QUEUE_EXPIRES_SECONDS"],
                        LOG_LEVEL="INFO", EXECUTION_WORKER_REAPS="false",
                    )
                )  # fmt: skip
        except BaseException:
            self.helper.stop_all()  # the ones that did start
            raise

    def cpu_seconds(self) -> float:
        return sum(_cpu_of(worker.process.pid) for worker in self.processes)

    def stop(self) -> None:
        self.helper.stop_all()  # stops them and deletes the prefix's queues


# -- part 1: ingestion end to end ----------------------------------------------------------------


class Producer(threading.Thread):
    """Publishes the mix at ``rate`` events/s: every tick, one transaction per alias with one
    ``publish_many`` per activity, then the after-commit relay of what it wrote. The activities
    (the events' content, the platform's business) are made before it starts, so that its
    thread spends its time publishing and relaying only."""

    MAX_CATCH_UP_TICKS = 5  # a late producer publishes at most this many ticks' worth at once

    def __init__(self, mix: Mix, rate: float, seconds: float, tick: float):
        super().__init__(name="bench-producer", daemon=True)
        self.mix, self.rate, self.seconds, self.tick = mix, rate, seconds, tick
        self.published = 0
        self.relayed = 0
        self.transactions = 0
        self.relay_calls = 0
        self.publish_s = 0.0
        self.relay_s = 0.0
        self.late_ticks = 0
        self.iterations = 0
        self.elapsed = 0.0
        self.cpu_s = 0.0
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.activities: collections.deque = collections.deque()
        planned = 0
        while planned < rate * seconds + rate * tick * self.MAX_CATCH_UP_TICKS:
            activity = mix.activity()
            self.activities.append(activity)
            planned += sum(len(payloads) for _, payloads, _, _ in activity)

    def run(self) -> None:
        from django.db import connections, transaction

        from opsconductor.events.outbox import (
            RELAY_CHUNK,
            alias_for_event,
            publish_many,
            relay_pending,
        )
        from opsconductor.observability.context import bound

        cpu_before = time.thread_time()
        start = time.monotonic()
        self.started.set()
        try:
            while True:
                elapsed = time.monotonic() - start
                if elapsed >= self.seconds:
                    break
                self.iterations += 1
                # publish what is due by the end of the current tick (a late producer catches
                # up at most MAX_CATCH_UP_TICKS at once and is given no extra time)
                tick_end = min((int(elapsed / self.tick) + 1) * self.tick, self.seconds)
                quota = min(
                    round(self.rate * tick_end) - self.published,
                    round(self.rate * self.tick * self.MAX_CATCH_UP_TICKS),
                )
                by_alias: dict[str, list] = {}
                made = 0
                while made < quota:
                    for event_type, payloads, actor, context in self.activities.popleft():
                        by_alias.setdefault(alias_for_event(event_type), []).append(
                            (event_type, payloads, actor, context)
                        )
                        made += len(payloads)
                for alias, calls in by_alias.items():
                    began = time.perf_counter()
                    ids = []
                    with transaction.atomic(using=alias):
                        for event_type, payloads, actor, context in calls:
                            with bound(**context):
                                ids += publish_many(event_type, payloads, actor=actor, using=alias)
                    committed = time.perf_counter()
                    for first in range(0, len(ids), RELAY_CHUNK):
                        self.relayed += relay_pending(
                            using=alias, event_ids=ids[first : first + RELAY_CHUNK]
                        )
                        self.relay_calls += 1
                    self.publish_s += committed - began
                    self.relay_s += time.perf_counter() - committed
                    self.transactions += 1
                self.published += made
                wait = start + tick_end - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    self.late_ticks += 1
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.elapsed = time.monotonic() - start
            self.cpu_s = time.thread_time() - cpu_before
            connections.close_all()


class Sampler(threading.Thread):
    """Every second: the outbox backlog, the chain's head, the audit queue, CPU; every 15 s the
    outbox sweep beat would run."""

    def __init__(self, producer, workers: Workers, sequence_before: int, *, sweep: bool = True):
        super().__init__(name="bench-sampler", daemon=True)
        self.sweep = sweep
        self.producer, self.workers, self.sequence_before = producer, workers, sequence_before
        self.samples: list[dict] = []
        self.swept = 0
        self.stopping = threading.Event()
        self.started_at = time.monotonic()

    def _queue_depth(self, channel, name: str) -> int | None:
        try:
            return channel.queue_declare(queue=name, passive=True).message_count
        except Exception:
            return None

    def sample(self, channel=None) -> dict:
        from django.conf import settings

        busy, total = _machine_busy()
        return {
            "t": time.monotonic() - self.started_at,
            "published": self.producer.published,
            "recorded": _head_sequence() - self.sequence_before,
            "backlog": _backlog(),
            "queued": self._queue_depth(channel, settings.CELERY_QUEUE_PREFIX + "audit")
            if channel is not None else None,
            "workers_cpu": self.workers.cpu_seconds(),
            "machine_busy": busy,
            "machine_total": total,
        }  # fmt: skip

    def run(self) -> None:
        from django.conf import settings
        from django.db import connections

        from config.celery import app
        from opsconductor.events.outbox import distinct_database_aliases, relay_pending

        grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
        last_sweep = time.monotonic()
        try:
            with app.connection_for_write() as connection:
                channel = connection.channel()
                while True:
                    self.samples.append(self.sample(channel))
                    if self.sweep and time.monotonic() - last_sweep >= SWEEP_EVERY_S:
                        last_sweep = time.monotonic()
                        for alias in distinct_database_aliases():
                            self.swept += relay_pending(using=alias, older_than=grace)
                    if self.stopping.wait(1.0 - (time.monotonic() - self.started_at) % 1.0):
                        break
                self.samples.append(self.sample(channel))
        finally:
            connections.close_all()


def _lag_by_window(sequence_before: int, started_wall: datetime, seconds: float) -> list[dict]:
    """Ingestion lag (recorded_at - occurred_at) of the events that occurred in each 10 s of
    the run, and of all of them (window None)."""
    from django.db import connections

    from apps.audit.models import AuditRecord

    sql = f"""
        SELECT floor(extract(epoch FROM occurred_at - %s) / 10) AS w, count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at
                                                   - occurred_at)),
               percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at
                                                    - occurred_at)),
               max(extract(epoch FROM recorded_at - occurred_at))
        FROM "{AuditRecord._meta.db_table}" WHERE sequence > %s
        GROUP BY ROLLUP (1) ORDER BY 1 NULLS LAST
    """
    with connections["audit"].cursor() as cursor:
        cursor.execute(sql, [started_wall, sequence_before])
        rows = cursor.fetchall()
    return [
        {"window": None if w is None else int(w), "count": n, "p50": float(p50),
         "p99": float(p99), "max": float(top)}
        for w, n, p50, p99, top in rows
        if w is None or w * 10 < seconds + 10
    ]  # fmt: skip


def _profiled(function, *args, **kwargs):
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    result = function(*args, **kwargs)
    profile.disable()
    took = time.perf_counter() - began
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(22)
    return result, took, out.getvalue()


def _costs(mix: Mix, show_profiles: bool) -> dict:
    """In-process: ``audit_record_events`` on a batch of 500 (plain and under cProfile),
    ``publish_many`` of 500 in one transaction, and ``relay_pending`` of those 500."""
    from django.db import transaction
    from django.utils import timezone

    from apps.audit.services import audit_record_events
    from opsconductor.events import Event
    from opsconductor.events.outbox import alias_for_event, publish_many, relay_pending

    def events(count: int) -> list[Event]:
        made = []
        while len(made) < count:
            for event_type, payloads, actor, context in mix.activity():
                for payload in payloads:
                    made.append(Event(id=uuid.uuid4(), type=event_type,
                                      occurred_at=timezone.now(), actor=actor, payload=payload,
                                      context=context))  # fmt: skip
        return made[:count]

    plain = []
    for _ in range(3):
        batch = events(500)
        began = time.perf_counter()
        audit_record_events(events=batch)
        plain.append(time.perf_counter() - began)
    _, _, record_profile = _profiled(audit_record_events, events=events(500))
    # 500 events of one type on one alias, as a busy execution worker writes them
    payloads, actor, alias = [], None, alias_for_event("execution.target.finished")
    while len(payloads) < 500:
        for event_type, more, who, _ in mix.run():
            if event_type == "execution.target.finished":
                payloads += more
                actor = who
    began = time.perf_counter()
    with transaction.atomic(using=alias):
        ids = publish_many("execution.target.finished", payloads[:500], actor=actor, using=alias)
    publish_s = time.perf_counter() - began
    relayed, relay_s, relay_profile = _profiled(relay_pending, using=alias, event_ids=ids)
    return {
        "record_500_s": statistics.median(plain),
        "publish_500_s": publish_s,
        "relay_500_s": relay_s,
        "relayed": relayed,
        "record_profile": record_profile if show_profiles else "",
        "relay_profile": relay_profile if show_profiles else "",
    }


class BacklogRelay(threading.Thread):
    """The sweep's way through a backlog: ``relay_pending(using=alias)`` (chunks of
    ``RELAY_CHUNK``, the oldest first) on every database until nothing is left, in ``threads``
    threads at once (each claims its chunks with SKIP LOCKED, as relays in several processes
    of the platform do)."""

    def __init__(self, timeout: float, threads: int = 1):
        super().__init__(name="bench-relay", daemon=True)
        self.timeout, self.threads = timeout, threads
        self.published = 0  # relayed, named for the sampler
        self.calls = 0
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def _loop(self, began: float) -> None:
        from django.db import connections

        from opsconductor.events.outbox import distinct_database_aliases, relay_pending

        try:
            while time.monotonic() - began < self.timeout:
                done = 0
                for alias in distinct_database_aliases():
                    relayed = relay_pending(using=alias)
                    with self._lock:
                        self.calls += 1 if relayed else 0
                        self.published += relayed
                    done += relayed
                if not done:
                    if not sum(_backlog().values()):
                        break
                    time.sleep(1.0)  # the broker refused or others hold the rest: again
        finally:
            connections.close_all()

    def run(self) -> None:
        began = time.monotonic()
        loops = [threading.Thread(target=self._loop, args=(began,), daemon=True)
                 for _ in range(self.threads)]  # fmt: skip
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        self.elapsed = time.monotonic() - began


def _fill(mix: Mix, count: int) -> tuple[int, float]:
    """``count`` events of the mix into the outboxes, unrelayed (``publish_many`` with
    ``relay=False``, 2,000 events per transaction and alias): a backlog."""
    from django.db import transaction

    from opsconductor.events.outbox import alias_for_event, publish_many
    from opsconductor.observability.context import bound

    made, began = 0, time.perf_counter()
    while made < count:
        by_alias: dict[str, list] = {}
        batch = 0
        while batch < min(10_000, count - made):
            for event_type, payloads, actor, context in mix.activity():
                by_alias.setdefault(alias_for_event(event_type), []).append(
                    (event_type, payloads, actor, context)
                )
                batch += len(payloads)
        for alias, calls in by_alias.items():
            with transaction.atomic(using=alias):
                for event_type, payloads, actor, context in calls:
                    with bound(**context):
                        publish_many(event_type, payloads, actor=actor, using=alias)
        made += batch
    return made, time.perf_counter() - began


def backlog_phase(args, mix: Mix, workers: Workers) -> dict:
    """A backlog of ``--backlog`` events relayed in chunks of 500 while the workers ingest:
    what the audit side takes when events arrive in full chunks."""
    filled, fill_s = _fill(mix, args.backlog)
    print(f"backlog: {filled:,} events written unrelayed in {fill_s:.1f} s "
          f"({filled / fill_s:,.0f}/s)", flush=True)  # fmt: skip
    sequence_before = _head_sequence()
    relay = BacklogRelay(args.drain_timeout, args.relay_threads)
    sampler = Sampler(relay, workers, sequence_before, sweep=False)
    cpu = _cpu_snapshot(workers)
    busy_before = _machine_busy()
    began = time.monotonic()
    sampler.start()
    relay.start()
    recorded_s = None
    while time.monotonic() - began < args.drain_timeout:
        if _head_sequence() - sequence_before >= filled:
            recorded_s = time.monotonic() - began
            break
        time.sleep(0.1)
    relay.join(timeout=60)
    sampler.stopping.set()
    sampler.join(timeout=10)
    cpu_after = _cpu_snapshot(workers)
    busy_after = _machine_busy()
    recorded = _head_sequence() - sequence_before
    print(f"backlog: relayed in {relay.elapsed:.1f} s, {recorded:,} recorded "
          + ("(not all)" if recorded_s is None else f"in {recorded_s:.1f} s"),
          flush=True)  # fmt: skip
    return {
        "filled": filled, "fill_s": fill_s, "relay": relay, "sampler": sampler,
        "recorded": recorded, "recorded_s": recorded_s,
        "cpu": _cpu_spent(cpu, cpu_after),
        "machine": (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]),
        "machine_s": busy_after[0] - busy_before[0],
    }  # fmt: skip


def _backlog_tables(b: dict, args) -> str:
    relay: BacklogRelay = b["relay"]
    lines = _timeline(b["sampler"].samples, "relayed/s")
    cpu, recorded = b["cpu"], b["recorded"]
    took = b["recorded_s"]
    rows = [
        ("backlog written (publish_many, relay=False, 2,000 per transaction)",
         f"{b['filled']:,} events in {b['fill_s']:.1f} s = {b['filled'] / b['fill_s']:,.0f}/s"),
        (f"relayed (relay_pending, chunks of 500, {relay.threads} thread(s))",
         f"{relay.published:,} in {relay.elapsed:.1f} s = "
         f"{relay.published / max(relay.elapsed, 1e-9):,.0f} events/s; {relay.calls:,} chunks"),
        ("recorded by the workers", f"{recorded:,} in "
         + ("(not all within the timeout)" if took is None else
            f"{took:.1f} s = **{recorded / took:,.0f} events/s**") + " from the relay's start"),
        ("CPU (s)", f"workers {cpu['workers']:.1f} ({cpu['workers'] / max(recorded, 1) * 1e6:.0f}"
         f" us per event, {cpu['workers'] / max(relay.calls, 1) * 1000:.0f} ms per task of 500), "
         f"bench process (relay) {cpu['bench']:.1f}, PostgreSQL {cpu['postgres']:.1f}, RabbitMQ "
         f"{cpu['beam.smp']:.1f}, anything else {_others(b):.1f}; machine busy "
         f"{b['machine']:.0%} of {os.cpu_count()} cores"),
        (f"backlog drained at {REQUIRED_RATE:,}/s or more",
         "**yes**" if took and recorded / took >= REQUIRED_RATE else "**no**"),
    ]  # fmt: skip
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _wait_until_drained(sampler: Sampler, producer: Producer, timeout: float) -> dict:
    """Seconds after the producer stopped until the outbox backlog was zero and until every
    published event was recorded (None: not within ``timeout``)."""
    stopped = time.monotonic()
    backlog_zero = recorded_all = None
    while time.monotonic() - stopped < timeout:
        if backlog_zero is None and not sum(_backlog().values()):
            backlog_zero = time.monotonic() - stopped
        recorded = _head_sequence() - sampler.sequence_before
        if recorded_all is None and recorded >= producer.published:
            recorded_all = time.monotonic() - stopped
        if backlog_zero is not None and recorded_all is not None:
            break
        time.sleep(0.1)
    return {"backlog_zero_s": backlog_zero, "recorded_all_s": recorded_all}


def ingestion(args, mix: Mix, workdir: Path) -> dict:
    from django.utils import timezone

    from apps.audit.services import audit_verify
    from opsconductor.events.models import FailedDelivery

    workers = Workers(args.workers, args.worker_threads, workdir)
    try:
        # warm-up: imports, connections and the first tasks of the workers, not measured
        warm = Producer(mix, rate=500, seconds=2, tick=args.tick_ms / 1000)
        warm.start()
        warm.join()
        deadline = time.monotonic() + 60
        while _head_sequence() < warm.published and time.monotonic() < deadline:
            time.sleep(0.1)
        print(f"warm-up: {warm.published} events recorded by the workers", flush=True)

        sequence_before = _head_sequence()
        producer = Producer(mix, args.rate, args.seconds, args.tick_ms / 1000)
        sampler = Sampler(producer, workers, sequence_before)
        cpu = _cpu_snapshot(workers)
        busy_before = _machine_busy()
        started_wall = timezone.now()
        sampler.start()
        producer.start()
        producer.join()
        if producer.error is not None:
            raise RuntimeError("the producer failed") from producer.error
        at_stop = sampler.sample()
        cpu_after = _cpu_snapshot(workers)
        busy_after = _machine_busy()
        print(f"producer stopped after {producer.elapsed:.1f}s: {producer.published:,} "
              f"published, {at_stop['recorded']:,} recorded", flush=True)  # fmt: skip
        drained = _wait_until_drained(sampler, producer, args.drain_timeout)
        sampler.stopping.set()
        sampler.join(timeout=10)
        lag = _lag_by_window(sequence_before, started_wall, args.seconds)
        costs = _costs(mix, show_profiles=True)
        # the relayed 500 of the cost measure are recorded by the workers
        deadline = time.monotonic() + 60
        while sum(_backlog().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        backlog = backlog_phase(args, mix, workers) if args.backlog else None
        began = time.perf_counter()
        verdict = audit_verify()
        verify_s = time.perf_counter() - began
        failed_deliveries = FailedDelivery.objects.using("audit").count()
    finally:
        workers.stop()
    return {
        "producer": producer, "sampler": sampler, "at_stop": at_stop, "drained": drained,
        "lag": lag, "costs": costs, "verdict": verdict, "verify_s": verify_s,
        "failed_deliveries": failed_deliveries,
        "cpu": _cpu_spent(cpu, cpu_after),
        "machine": (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]),
        "machine_s": busy_after[0] - busy_before[0],
        "sequence_before": sequence_before, "backlog": backlog,
    }  # fmt: skip


def _sustained(f: dict, rate: float) -> tuple[bool, list[str]]:
    """Sustained: the producer published >= 99 % of rate x seconds, at its stop less than 2 s of
    events were waiting (published - recorded), and everything was recorded within 10 s."""
    producer, at_stop, drained = f["producer"], f["at_stop"], f["drained"]
    achieved = producer.published / producer.elapsed
    waiting = at_stop["published"] - at_stop["recorded"]
    reasons = []
    if achieved < 0.99 * rate:
        reasons.append(f"the producer reached {achieved:,.0f}/s, not {rate:,.0f}/s")
    if waiting > 2 * rate:
        reasons.append(f"{waiting:,} events were waiting when the producer stopped "
                       f"({waiting / rate:.1f} s of events)")  # fmt: skip
    if drained["recorded_all_s"] is None or drained["recorded_all_s"] > 10:
        reasons.append("the trail did not catch up within 10 s of the stop")
    return not reasons, reasons


def _timeline(samples: list[dict], first_column: str) -> list[str]:
    """Per 5 s of samples: the source's rate, records/s, backlog, broker queue, CPU."""
    lines = [
        f"| t (s) | {first_column} | recorded/s | outbox backlog (max in the 5 s) | broker queue "
        "(tasks, max) | workers CPU (cores) | machine CPU busy |",
        "|---|---|---|---|---|---|---|",
    ]
    step = 5
    for first in range(0, len(samples) - 1, step):
        window = samples[first : first + step + 1]
        a, b = window[0], window[-1]
        dt = b["t"] - a["t"]
        if dt <= 0:
            continue
        backlog = max(sum(s["backlog"].values()) for s in window)
        queued = max((s["queued"] or 0) for s in window)
        busy = (b["machine_busy"] - a["machine_busy"]) / max(
            b["machine_total"] - a["machine_total"], 1e-9
        )
        lines.append(
            f"| {a['t']:.0f}-{b['t']:.0f} | {(b['published'] - a['published']) / dt:,.0f} | "
            f"{(b['recorded'] - a['recorded']) / dt:,.0f} | {backlog:,} | {queued:,} | "
            f"{(b['workers_cpu'] - a['workers_cpu']) / dt:.2f} | {busy:.0%} |"
        )
    return lines


def _ingestion_tables(f: dict, args) -> str:
    producer: Producer = f["producer"]
    sampler: Sampler = f["sampler"]
    samples = sampler.samples
    lines = _timeline(samples, "published/s")
    peaks: Counter[str] = Counter()
    for sample in samples:
        for key, value in sample["backlog"].items():
            peaks[key] = max(peaks[key], value)
    lines.append("")
    lines.append("| lag recorded_at - occurred_at (s) | events | p50 | p99 | max |")
    lines.append("|---|---|---|---|---|")
    for row in f["lag"]:
        name = ("whole run" if row["window"] is None
                else f"occurred {row['window'] * 10}-{row['window'] * 10 + 10} s")  # fmt: skip
        lines.append(f"| {name} | {row['count']:,} | {row['p50']:.3f} | {row['p99']:.3f} | "
                     f"{row['max']:.3f} |")  # fmt: skip
    achieved = producer.published / producer.elapsed
    at_stop, drained, costs, verdict = f["at_stop"], f["drained"], f["costs"], f["verdict"]
    run_recorded = at_stop["recorded"]
    cpu = f["cpu"]
    sustained, reasons = _sustained(f, args.rate)
    tasks = max(producer.relay_calls, 1)

    def after(value):
        return "not within the timeout" if value is None else f"{value:.1f} s after the stop"

    rows = [
        ("target rate", f"{args.rate:,.0f} events/s for {args.seconds:g} s, a tick every "
         f"{args.tick_ms:g} ms"),
        ("published (achieved)", f"{producer.published:,} in {producer.elapsed:.1f} s = "
         f"**{achieved:,.0f} events/s**; {producer.transactions:,} transactions, "
         f"{producer.late_ticks} of {producer.iterations} ticks late"),
        ("producer time", f"publish_many + commit {producer.publish_s:.1f} s, relay "
         f"{producer.relay_s:.1f} s ({producer.relay_calls:,} relay_pending calls = "
         f"deliver_events tasks, {producer.published / tasks:.0f} events each); its thread's "
         f"CPU {producer.cpu_s:.1f} s"),
        ("recorded while the producer ran", f"{run_recorded:,} = "
         f"**{run_recorded / producer.elapsed:,.0f} events/s**"),
        ("waiting at the stop (published - recorded)", f"{at_stop['published'] - run_recorded:,}"
         f" (outbox backlog {sum(at_stop['backlog'].values()):,})"),
        ("outbox backlog zero", after(drained["backlog_zero_s"])),
        ("every event recorded", after(drained["recorded_all_s"])),
        ("largest outbox backlog per database/app", ", ".join(
            f"{key} {value:,}" for key, value in sorted(peaks.items())) or "0"),
        ("relayed by the sweep", f"{sampler.swept:,}"),
        ("CPU over the run (s)", f"workers {cpu['workers']:.1f} ({args.workers} x "
         f"{args.worker_threads} threads; {cpu['workers'] / max(run_recorded, 1) * 1e6:.0f} us "
         f"per event, {cpu['workers'] / tasks * 1000:.1f} ms per task), bench process "
         f"{cpu['bench']:.1f}, PostgreSQL {cpu['postgres']:.1f}, RabbitMQ "
         f"{cpu['beam.smp']:.1f}, anything else {_others(f):.1f}; machine busy "
         f"{f['machine']:.0%} of {os.cpu_count()} cores"),
        ("in-process, 500 events", f"audit_record_events {_ms(costs['record_500_s'])} ms "
         f"({500 / costs['record_500_s']:,.0f} events/s in one thread); publish_many + commit "
         f"{_ms(costs['publish_500_s'])} ms; relay_pending {_ms(costs['relay_500_s'])} ms "
         "(under cProfile)"),
        ("audit_verify() over the trail", f"{'ok' if verdict.ok else 'FAILED: ' + verdict.problem}"
         f", {verdict.checked:,} records in {f['verify_s']:.1f} s"),
        ("failed deliveries", str(f["failed_deliveries"])),
        (f"{REQUIRED_RATE:,}/s sustained" if args.rate >= REQUIRED_RATE else "rate sustained",
         "**yes**" if sustained else "**no**: " + "; ".join(reasons)),
    ]  # fmt: skip
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


# -- part 2: queries on a million records --------------------------------------------------------


def load(mix: Mix, count: int, now: datetime) -> dict:
    """``count`` records through ``audit_record_events`` in batches of 5,000, occurring in
    order over the ``SPAN_DAYS`` days before ``now``."""
    from apps.audit.services import audit_record_events
    from opsconductor.events import Event
    from opsconductor.events.outbox import _json_safe

    start = now - timedelta(days=SPAN_DAYS)
    step = timedelta(days=SPAN_DAYS) / count
    made, batch, took, times = 0, [], 0.0, []
    pending: list = []
    while made < count:
        while len(pending) < LOAD_BATCH:
            for event_type, payloads, actor, context in mix.activity():
                pending += [(event_type, payload, actor, context) for payload in payloads]
        batch = []
        for event_type, payload, actor, context in pending[: min(LOAD_BATCH, count - made)]:
            batch.append(Event(id=uuid.UUID(int=mix.rng.getrandbits(128), version=4),
                               type=event_type, occurred_at=start + step * (made + len(batch)),
                               actor=actor, payload=_json_safe(payload),
                               context=context))  # fmt: skip
        pending = pending[len(batch) :]
        began = time.perf_counter()
        audit_record_events(events=batch)
        times.append(time.perf_counter() - began)
        took += times[-1]
        made += len(batch)
        if len(times) % 20 == 0:
            print(f"  loaded {made:,} records ({made / took:,.0f}/s)", flush=True)
    return {"records": made, "seconds": took, "batch_p50": statistics.median(times),
            "batch_max": max(times), "start": start}  # fmt: skip


class _SqlTimer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began
            self.statements += 1


def _pick(column: str, where: str = "") -> tuple[str, int]:
    """The value of ``column`` with the median number of records (and that number)."""
    from django.db import connections

    from apps.audit.models import AuditRecord

    with connections["audit"].cursor() as cursor:
        cursor.execute(
            f'SELECT {column}, count(*) FROM "{AuditRecord._meta.db_table}" '
            f"{where} GROUP BY 1 ORDER BY 2, 1"
        )
        rows = cursor.fetchall()
    return rows[len(rows) // 2]


def _count(params: dict) -> int:
    from django.test import RequestFactory

    from apps.audit.http.filters import AuditRecordFilter
    from apps.audit.selectors import audit_records

    request = RequestFactory().get("/", params)
    return AuditRecordFilter(request.GET, queryset=audit_records(), request=request).qs.count()


def _explain(client, url: str, params: dict) -> str:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connections["audit"]) as captured:
        client.get(url, params)
    lines = []
    for query in captured.captured_queries:
        if "audit_auditrecord" not in query["sql"]:
            continue
        with connections["audit"].cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
        sql = query["sql"]
        lines.append(f"    SELECT ... FROM audit_auditrecord{sql[sql.find(' WHERE ') :][:700]}")
        lines += ["    " + line for line in plan]
    return "\n".join(lines)


def queries(args, mix: Mix) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.utils import timezone
    from rest_framework.test import APIClient

    from apps.audit.services import audit_verify

    _truncate()
    now = timezone.now()
    print(f"loading {args.records:,} records through audit_record_events "
          f"(batches of {LOAD_BATCH:,})", flush=True)  # fmt: skip
    loaded = load(mix, args.records, now)
    with connections["audit"].cursor() as cursor:
        cursor.execute('ANALYZE "audit_auditrecord"')
        cursor.execute("SELECT pg_total_relation_size('audit_auditrecord'), "
                       "pg_relation_size('audit_auditrecord')")  # fmt: skip
        total_bytes, heap_bytes = cursor.fetchone()
        cursor.execute(
            "SELECT count(DISTINCT action), count(DISTINCT (actor_kind, actor_name)), "
            "count(DISTINCT (object_type, object_id)), count(DISTINCT source_ip), "
            "min(occurred_at), max(occurred_at) FROM audit_auditrecord"
        )
        shape = dict(zip(("actions", "actors", "objects", "addresses", "first", "last"),
                         cursor.fetchone(), strict=True))  # fmt: skip
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_auditrecord'")
        shape["indexes"] = cursor.fetchone()[0]

    user, _ = get_user_model().objects.get_or_create(
        username="bench-audit-admin", defaults={"role": "admin"}
    )
    client = APIClient()
    client.force_login(user)
    url = "/api/v1/audit/events/"
    actor, actor_n = _pick("actor_name", "WHERE actor_kind = 'user'")
    target, target_n = _pick("object_id", "WHERE object_type = 'target'")
    ip, ip_n = _pick("source_ip", "WHERE source_ip IS NOT NULL")
    rare_name = next(name for target_id, name in mix.targets if target_id == target)
    day = (now - timedelta(days=45)).replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=7)
    cases = [
        ("no filter (newest first)", {}),
        (f"actor={actor}", {"actor": actor}),
        ("action_prefix=accounts.", {"action_prefix": "accounts."}),
        ("object=target:<id>", {"object": f"target:{target}"}),
        ("outcome=failure", {"outcome": "failure"}),
        (f"source_ip={ip}", {"source_ip": ip}),
        ("since/until: one day, 45 days ago", {"since": day.isoformat(),
                                               "until": (day + timedelta(days=1)).isoformat()}),
        (f"actor={actor} + action_prefix=accounts. + 7 days", {
            "actor": actor, "action_prefix": "accounts.", "since": week.isoformat(),
            "until": day.isoformat()}),
        (f"q={rare_name} (a target's name)", {"q": rare_name}),
        ("q=login (common text)", {"q": "login"}),
        ("q=zz-nothing (matches nothing)", {"q": "zz-nothing"}),
    ]  # fmt: skip
    first_page = client.get(url)
    cursor_url = first_page.json()["next"]
    cases.append(("second page (cursor of no filter)", {"__url__": cursor_url}))
    actor_page = client.get(url, {"actor": actor}).json()["next"]
    if actor_page:
        cases.append((f"second page (cursor of actor={actor})", {"__url__": actor_page}))

    results = []
    for label, params in cases:
        target_url = params.get("__url__", url)
        query = {k: v for k, v in params.items() if k != "__url__"}
        timer = _SqlTimer()
        times, sql_times = [], []
        with connections["audit"].execute_wrapper(timer):
            began = time.perf_counter()
            response = client.get(target_url, query)
            first = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"{label}: {response.status_code} {response.content[:300]!r}")
            for _ in range(args.runs):
                timer.seconds = 0.0
                began = time.perf_counter()
                response = client.get(target_url, query)
                times.append(time.perf_counter() - began)
                sql_times.append(timer.seconds)
        body = response.json()
        row = {"label": label, "first": first, "p50": _pct(times, 50), "p95": _pct(times, 95),
               "sql_p95": _pct(sql_times, 95), "rows": len(body["results"]),
               "matching": _count(query) if "__url__" not in params else None,
               "explain": ""}  # fmt: skip
        if row["p95"] * 1000 >= QUERY_LIMIT_MS:
            row["explain"] = _explain(client, target_url, query)
        results.append(row)
        print(f"  {label}: p50 {_ms(row['p50'])} ms, p95 {_ms(row['p95'])} ms", flush=True)

    # a streamed export of one day
    began = time.perf_counter()
    response = client.get(
        url + "export/", {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()}
    )
    exported = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    export_s = time.perf_counter() - began
    began = time.perf_counter()
    verdict = audit_verify()
    verify_s = time.perf_counter() - began
    return {
        "loaded": loaded, "total_bytes": total_bytes, "heap_bytes": heap_bytes,
        "results": results, "exported": exported, "export_s": export_s, "verdict": verdict,
        "verify_s": verify_s, "actor_n": actor_n, "target_n": target_n, "ip_n": ip_n,
        "shape": shape,
    }  # fmt: skip


def _query_tables(f: dict, args) -> str:
    loaded, verdict = f["loaded"], f["verdict"]
    lines = [
        f"{loaded['records']:,} records loaded by audit_record_events in batches of "
        f"{LOAD_BATCH:,}: {loaded['seconds']:.1f} s = "
        f"**{loaded['records'] / loaded['seconds']:,.0f} records/s in-process** (a batch: "
        f"median {loaded['batch_p50']:.2f} s, max "
        f"{loaded['batch_max']:.2f} s); table {f['heap_bytes'] / 2**20:,.0f} MiB, with indexes "
        f"{f['total_bytes'] / 2**20:,.0f} MiB ({f['shape']['indexes']} indexes); "
        f"{f['shape']['actions']} actions, {f['shape']['actors']} actors, "
        f"{f['shape']['objects']:,} objects, {f['shape']['addresses']} source addresses, "
        f"occurred {f['shape']['first']:%Y-%m-%d} to {f['shape']['last']:%Y-%m-%d}",
        "",
        f"| query (first page of 50) | matching | first ms | p50 ms | p95 ms | SQL p95 ms | "
        f"< {QUERY_LIMIT_MS:.0f} ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in f["results"]:
        ok = "yes" if row["p95"] * 1000 < QUERY_LIMIT_MS else "**no**"
        matching = "-" if row["matching"] is None else f"{row['matching']:,}"
        lines.append(f"| {row['label']} | {matching} | {_ms(row['first'])} | {_ms(row['p50'])} | "
                     f"{_ms(row['p95'])} | {_ms(row['sql_p95'])} | {ok} |")  # fmt: skip
    lines += [
        "",
        f"({args.runs} runs each after one warm-up; the chosen actor has {f['actor_n']:,} "
        f"records, the target {f['target_n']:,}, the address {f['ip_n']:,})",
        "",
        "| figure | value |",
        "|---|---|",
        f"| export of one day (JSON Lines, streamed) | {f['exported']:,} rows in "
        f"{f['export_s']:.2f} s = {f['exported'] / max(f['export_s'], 1e-9):,.0f} rows/s |",
        f"| audit_verify() over the trail | {'ok' if verdict.ok else 'FAILED: ' + verdict.problem}"
        f", {verdict.checked:,} records in {f['verify_s']:.1f} s = "
        f"{verdict.checked / max(f['verify_s'], 1e-9):,.0f} records/s |",
    ]
    for row in f["results"]:
        if row["explain"]:
            lines += ["", f"EXPLAIN ANALYZE of {row['label']}:", row["explain"]]
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench audit")
    parser.add_argument("--rate", type=float, default=REQUIRED_RATE, help="events/s published")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tick-ms", type=float, default=20.0, help="publishing interval")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument(
        "--backlog", type=int, default=200_000, help="events of the backlog phase (0: none)"
    )
    parser.add_argument(
        "--relay-threads", type=int, default=2, help="threads relaying the backlog at once"
    )
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each query")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the records (default: TRUNCATE the trail and the outbox)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print the cProfile tables even when the rate was sustained",
    )
    args = parser.parse_args(list(argv))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CELERY_QUEUE_PREFIX", f"bench-audit-{os.getpid()}-")
    # queues without x-expires, as in production: kombu does not cache the declaration of an
    # expiring queue and declares it again before every message it publishes (a round trip
    # per relay); the bench deletes its queues at the end
    os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "0")
    django_for_bench()
    _refuse_foreign_databases()
    from django.conf import settings

    if not settings.CELERY_QUEUE_PREFIX:
        sys.exit("bench audit needs a CELERY_QUEUE_PREFIX of its own (it deletes its queues)")

    workdir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    mix = Mix(random.Random(args.seed))
    print(" ".join(platform.uname()), flush=True)
    _truncate()
    try:
        if not args.skip_ingestion:
            _print_ingestion(ingestion(args, mix, workdir), args)
        if not args.skip_queries:
            figures = queries(args, mix)
            print()
            print(_query_tables(figures, args), flush=True)
    finally:
        with contextlib.suppress(Exception):  # the broker may be down: the run's error matters
            delete_queues()
        if not args.keep:
            _truncate()
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"worker logs in {workdir}")


def _print_ingestion(ingested: dict, args) -> None:
    print()
    print(_ingestion_tables(ingested, args))
    if ingested["backlog"]:
        print()
        print(_backlog_tables(ingested["backlog"], args))
    sustained, _ = _sustained(ingested, args.rate)
    if not sustained or args.profile:
        costs = ingested["costs"]
        print("\ncProfile of audit_record_events on 500 events:\n" + costs["record_profile"])
        print("cProfile of relay_pending of 500 events:\n" + costs["relay_profile"])
    print(flush=True)
