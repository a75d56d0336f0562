"""Legacy import throughput: ``manage.py import_legacy``'s engine on a generated legacy database.

A legacy PostgreSQL database (our DDL of LEGACY.md, legacy_bridge/importing/tests/) is filled
with ``--targets`` targets (an ssh method each with a Fernet-sealed legacy credential, drawn
from a few hundred distinct ones so de-duplication works; every 10th target also has a winrm
method, every 5th an snmp one), users, jobs with actions and target lists, schedules of every
kind, and executions with ``--results`` per-target/per-action result rows. Then the import runs
into a fresh database of the new system and the rows/s per table are printed, then a second
(no-op) run. Real PostgreSQL on loopback; both databases are dropped at the end.

    python -m bench legacy_import [--targets 10000] [--results 100000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

SERVER = "postgresql://postgres@127.0.0.1:5432"
# the legacy tables the generator fills (each id sequence is moved past the rows written)
TABLES = (
    "users",
    "universal_targets",
    "target_communication_methods",
    "target_credentials",
    "jobs",
    "job_actions",
    "job_targets",
    "job_schedules",
    "job_executions",
    "job_execution_results",
)


def _copy(conn, table: str, columns: list[str], rows) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def generate(db, *, targets: int, results: int, seed: int = 7) -> dict[str, int]:
    """Fill the legacy database ``db`` (a tests.legacydb.LegacyDb); returns row counts."""
    import json

    import psycopg

    from legacy_bridge.importing.legacy import legacy_seal
    from legacy_bridge.importing.tests.legacydb import bcrypt_hash

    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    users = 50
    jobs = max(10, targets // 20)
    actions_per_job = 3
    results_per_execution = 10
    executions = max(1, results // results_per_execution)
    password_hash = bcrypt_hash("bench-password", 12)
    distinct = [
        legacy_seal(
            {"type": "password", "username": f"ops{i}", "password": f"pw-{i}-{uuid.uuid4()}"},
            db.secret_key,
        )
        for i in range(300)
    ]
    roles = ["administrator", "manager", "user", "guest"]
    with psycopg.connect(db.url) as conn:
        _copy(
            conn,
            "users",
            ["id", "username", "email", "password_hash", "role", "is_active"],
            (
                (i, f"user{i}", f"user{i}@example.com", password_hash, roles[i % 4], True)
                for i in range(1, users + 1)
            ),
        )
        envs = ["production", "staging", "development", "testing"]
        _copy(
            conn,
            "universal_targets",
            [
                "id",
                "target_uuid",
                "target_serial",
                "name",
                "target_type",
                "os_type",
                "environment",
                "location",
                "data_center",
                "region",
                "is_active",
                "status",
                "health_status",
            ],
            (
                (
                    i,
                    str(uuid.uuid4()),
                    f"TGT-{i:06d}",
                    f"host-{i % (targets // 2 or 1):05d}",
                    "system",
                    "linux",
                    envs[i % 4],
                    "Frankfurt",
                    f"fra{i % 3}",
                    "eu-central",
                    True,
                    "active",
                    "healthy",
                )
                for i in range(1, targets + 1)
            ),
        )
        method_rows, credential_rows = [], []
        method_id = 0
        for t in range(1, targets + 1):
            method_id += 1
            method_rows.append(
                (
                    method_id,
                    t,
                    "ssh",
                    "ssh",
                    True,
                    True,
                    1,
                    json.dumps(
                        {"host": f"10.{t // 65536 % 256}.{t // 256 % 256}.{t % 256}", "port": 22}
                    ),
                )
            )
            credential_rows.append(
                (
                    t,
                    method_id,
                    "password",
                    f"cred-{t % 300}",
                    True,
                    True,
                    rng.choice(distinct),
                )
            )
            if t % 10 == 0:
                method_id += 1
                method_rows.append(
                    (
                        method_id,
                        t,
                        "winrm",
                        "winrm",
                        False,
                        True,
                        2,
                        json.dumps({"host": f"win-{t}.example.com", "port": 5985}),
                    )
                )
            if t % 5 == 0:
                method_id += 1
                method_rows.append(
                    (
                        method_id,
                        t,
                        "snmp",
                        "snmp",
                        False,
                        True,
                        3,
                        json.dumps({"host": f"10.9.{t // 256 % 256}.{t % 256}"}),
                    )
                )
        _copy(
            conn,
            "target_communication_methods",
            [
                "id",
                "target_id",
                "method_type",
                "method_name",
                "is_primary",
                "is_active",
                "priority",
                "config",
            ],
            method_rows,
        )
        _copy(
            conn,
            "target_credentials",
            [
                "id",
                "communication_method_id",
                "credential_type",
                "credential_name",
                "is_primary",
                "is_active",
                "encrypted_credentials",
            ],
            credential_rows,
        )
        _copy(
            conn,
            "jobs",
            [
                "id",
                "job_uuid",
                "job_serial",
                "name",
                "description",
                "job_type",
                "status",
                "created_by",
                "priority",
                "timeout",
                "retry_count",
                "is_deleted",
            ],
            (
                (
                    j,
                    str(uuid.uuid4()),
                    f"JOB-{j:06d}",
                    f"job {j}",
                    "generated",
                    "command",
                    "completed",
                    1 + j % users,
                    5,
                    600,
                    1,
                    j % 25 == 0,
                )
                for j in range(1, jobs + 1)
            ),
        )
        _copy(
            conn,
            "job_actions",
            ["id", "job_id", "action_order", "action_type", "action_name", "action_parameters"],
            (
                (
                    j * actions_per_job + a,
                    j,
                    a + 1,
                    "command",
                    f"step {a + 1}",
                    json.dumps({"command": f"echo job {j} step {a + 1}"}),
                )
                for j in range(1, jobs + 1)
                for a in range(actions_per_job)
            ),
        )
        links = {(j, rng.randint(1, targets)) for j in range(1, jobs + 1) for _ in range(j % 6)}
        _copy(conn, "job_targets", ["job_id", "target_id"], sorted(links))
        kinds = [
            {"schedule_type": "cron", "cron_expression": "15 3 * * *", "timezone": "Europe/Berlin"},
            {
                "schedule_type": "recurring",
                "recurring_type": "daily",
                "interval": 1,
                "time": "06:00",
                "timezone": "America/New_York",
            },
            {
                "schedule_type": "recurring",
                "recurring_type": "weekly",
                "interval": 1,
                "time": "09:30",
                "days_of_week": "0,2,4",
                "timezone": "Europe/London",
            },
            {
                "schedule_type": "recurring",
                "recurring_type": "monthly",
                "interval": 1,
                "time": "23:00",
                "day_of_month": 31,
                "timezone": "Australia/Sydney",
            },
            {"schedule_type": "once", "execute_at": now + timedelta(days=400)},
        ]
        columns = [
            "id",
            "schedule_uuid",
            "job_id",
            "schedule_type",
            "execute_at",
            "recurring_type",
            "interval",
            "time",
            "days_of_week",
            "day_of_month",
            "cron_expression",
            "timezone",
            "next_run",
        ]
        # the next run the legacy scheduler stored when it saved them (its rule, in UTC; none
        # for the monthly 31st: November has no 31st, so those rows never fire in legacy)
        from legacy_bridge.importing.schedule_conversion import legacy_next_run

        planned = [legacy_next_run({"interval": 1, **kind}, now) for kind in kinds]
        live_jobs = [j for j in range(1, jobs + 1) if j % 25]
        schedules = min(200, len(live_jobs))
        _copy(
            conn,
            "job_schedules",
            columns,
            (
                (
                    s,
                    str(uuid.uuid4()),
                    live_jobs[s - 1],
                    kinds[s % 5]["schedule_type"],
                    kinds[s % 5].get("execute_at"),
                    kinds[s % 5].get("recurring_type"),
                    kinds[s % 5].get("interval", 1),
                    kinds[s % 5].get("time"),
                    kinds[s % 5].get("days_of_week"),
                    kinds[s % 5].get("day_of_month"),
                    kinds[s % 5].get("cron_expression"),
                    kinds[s % 5].get("timezone", "UTC"),
                    planned[s % 5],
                )
                for s in range(1, schedules + 1)
            ),
        )
        execution_rows, result_rows = [], []
        result_id = 0
        numbers: dict[int, int] = {}
        for e in range(1, executions + 1):
            job = 1 + e % jobs
            numbers[job] = numbers.get(job, 0) + 1
            started = now - timedelta(minutes=executions - e)
            failed = e % 7 == 0
            execution_rows.append(
                (
                    e,
                    job,
                    str(uuid.uuid4()),
                    f"EXEC-{e:08d}",
                    numbers[job],
                    "failed" if failed else "completed",
                    started,
                    started + timedelta(seconds=30),
                    results_per_execution // actions_per_job or 1,
                )
            )
            for r in range(results_per_execution):
                result_id += 1
                target = 1 + (e * 7 + r // actions_per_job) % targets
                order = r % actions_per_job + 1
                code = 1 if failed and r == results_per_execution - 1 else 0
                result_rows.append(
                    (
                        result_id,
                        e,
                        target,
                        f"host-{target}",
                        job * actions_per_job + order - 1,
                        order,
                        f"step {order}",
                        "command",
                        "failed" if code else "completed",
                        started + timedelta(seconds=r),
                        started + timedelta(seconds=r + 1),
                        1000,
                        f"output of step {order} on host-{target}\n" * 3,
                        "" if not code else "error: something failed\n",
                        code,
                        f"echo job {job} step {order}",
                    )
                )
        _copy(
            conn,
            "job_executions",
            [
                "id",
                "job_id",
                "execution_uuid",
                "execution_serial",
                "execution_number",
                "status",
                "started_at",
                "completed_at",
                "total_targets",
            ],
            execution_rows,
        )
        _copy(
            conn,
            "job_execution_results",
            [
                "id",
                "execution_id",
                "target_id",
                "target_name",
                "action_id",
                "action_order",
                "action_name",
                "action_type",
                "status",
                "started_at",
                "completed_at",
                "execution_time_ms",
                "output_text",
                "error_text",
                "exit_code",
                "command_executed",
            ],
            result_rows,
        )
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
    return {table: db.count(table) for table in TABLES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench legacy_import")
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep both databases")
    args = parser.parse_args(argv)

    new_db = f"opsconductor_bench_import_{os.getpid()}"
    os.environ["DATABASE_URL"] = f"{SERVER}/{new_db}"
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    from bench.setup import django_for_bench

    django_for_bench()
    import psycopg
    from django.db import connections

    from legacy_bridge.importing.engine import Options, run_import
    from legacy_bridge.importing.tests.legacydb import create_legacy_db, drop_legacy_db

    legacy = create_legacy_db()
    try:
        started = time.monotonic()
        counts = generate(legacy, targets=args.targets, results=args.results)
        print(
            f"legacy database generated in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{k}={v}" for k, v in counts.items())
        )
        for attempt in ("first run", "second run (nothing to do)"):
            started = time.monotonic()
            report = run_import(
                legacy_url=legacy.url, secret_key=legacy.secret_key, options=Options()
            )
            wall = time.monotonic() - started
            print(
                f"\n{attempt}: {wall:.1f} s wall, {sum(t.read for t in report.tables.values())} "
                "legacy rows read"
            )
            print(
                f"{'table':<30} {'read':>8} {'imported':>9} {'present':>8} {'failed':>7} "
                f"{'seconds':>8} {'rows/s':>8}  verification"
            )
            for t in report.tables.values():
                verdict = t.verification.get("summary", "-") if t.verification else "-"
                print(
                    f"{t.table:<30} {t.read:>8} {t.imported:>9} {t.present:>8} {t.failed:>7} "
                    f"{t.seconds:>8.1f} {t.rows_per_second:>8.0f}  {verdict}"
                )
            if report.error:
                print("STOPPED:", report.error)
    finally:
        connections.close_all()
        if not args.keep:
            drop_legacy_db(legacy)
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{new_db}" WITH (FORCE)')
