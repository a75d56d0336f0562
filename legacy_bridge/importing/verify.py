"""Verification: what the new system holds for every imported legacy row, compared with what
the legacy row says it should be (counts, and a checksum of the key fields on each side).

For each table, the legacy rows are read again, converted to the key fields the new system must
show (the same conversion the import used), and compared with the new objects read back through
the apps' interfaces. A row whose object is missing or differs is named in ``problems``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from legacy_bridge.importing.engine import Context, RecordProblem

MAX_PROBLEMS = 20
CHUNK = 1000


def _checksum(items: Iterable[tuple[str, Any]]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(items, key=lambda item: item[0]):
        digest.update(json.dumps([key, value], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def compare(
    ctx: Context,
    table_name: str,
    legacy_table: str,
    rows: Iterable[dict[str, Any]],
    expected_of: Callable[[dict[str, Any]], Any],
    actual_of: Callable[[list[uuid.UUID]], dict[uuid.UUID, Any]],
) -> None:
    """Fill ``report.tables[table_name].verification`` for the mapped rows among ``rows``."""
    table = ctx.report.table(table_name)
    legacy_rows = mapped = found = 0
    expected_items: list[tuple[str, Any]] = []
    actual_items: list[tuple[str, Any]] = []
    problems: list[str] = []
    pending: list[tuple[Any, uuid.UUID, Any]] = []

    def flush() -> None:
        nonlocal found
        actual = actual_of([new_id for _, new_id, _ in pending])
        for legacy_id, new_id, want in pending:
            have = actual.get(new_id)
            if have is not None:
                found += 1
                actual_items.append((str(legacy_id), have))
            expected_items.append((str(legacy_id), want))
            if have is None:
                problem = f"{legacy_table} {legacy_id}: imported as {new_id}, which is gone"
            elif have != want:
                fields = (
                    sorted(k for k in want if want.get(k) != have.get(k))
                    if isinstance(want, dict) and isinstance(have, dict)
                    else []
                )
                problem = f"{legacy_table} {legacy_id}: differs ({', '.join(fields) or 'value'})"
            else:
                continue
            if len(problems) < MAX_PROBLEMS:
                problems.append(problem)
        pending.clear()

    for row in rows:
        legacy_rows += 1
        new_id = ctx.mapping.new_id(legacy_table, row["id"])
        if new_id is None:
            continue
        mapped += 1
        try:
            want = expected_of(row)
        except RecordProblem:
            continue
        pending.append((row["id"], new_id, want))
        if len(pending) >= CHUNK:
            flush()
    flush()
    legacy_sum, new_sum = _checksum(expected_items), _checksum(actual_items)
    ok = found == mapped and legacy_sum == new_sum and not problems
    table.verification = {
        "ok": ok,
        "legacy_rows": legacy_rows,
        "imported_rows": mapped,
        "found_in_new_system": found,
        "checksum_legacy": legacy_sum,
        "checksum_new": new_sum,
        "summary": f"{found}/{mapped} imported rows found, checksum "
        + ("equal" if legacy_sum == new_sum else "DIFFERS"),
        "problems": problems,
    }


def verify_users(ctx: Context) -> None:
    from apps.accounts.interface import user_summaries
    from legacy_bridge.importing import users

    def actual(ids):
        return {
            uid: {
                "username": s.username,
                "email": s.email,
                "role": s.role,
                "is_active": s.is_active,
            }
            for uid, s in user_summaries(ids).items()
        }

    rows = ctx.legacy.stream(f"SELECT {users.COLUMNS} FROM users ORDER BY id")  # noqa: S608
    compare(ctx, "users", users.LEGACY_TABLE, rows, users.expected, actual)


def _host(value: str) -> str:
    from apps.targets.interface import normalise_host

    return normalise_host(value)


def verify_targets(ctx: Context) -> None:
    from apps.targets.interface import targets_import_state
    from legacy_bridge.importing import targets

    methods_by_target: dict[int, list[dict]] = {}

    def expected(row):
        kept = []
        for method in methods_by_target.get(row["id"], []):
            if (method["method_type"] or "").lower() in targets.EXECUTION_METHODS and method[
                "is_active"
            ]:
                try:
                    kept.append(targets.convert_method(method))
                except RecordProblem:
                    continue
        fields = targets.convert_target(row, kept, ctx.options.host_key_policy)["data"]
        return {
            "name": fields["name"],
            "os_family": fields["os_family"],
            "environment": fields["environment"],
            "status": fields["status"],
            "legacy.id": str(row["id"]),
            "methods": sorted([m["protocol"], _host(m["host"]), m["port"]] for m in kept),
        }

    def actual(ids):
        return {
            tid: {
                "name": s.name,
                "os_family": s.os_family,
                "environment": s.environment,
                "status": s.status,
                "legacy.id": s.labels.get("legacy.id"),
                "methods": sorted([m.protocol, m.host, m.port] for m in s.methods),
            }
            for tid, s in targets_import_state(ids).items()
        }

    def rows():
        sql = f"SELECT {targets.TARGET_COLUMNS} FROM universal_targets ORDER BY id"  # noqa: S608
        for batch in ctx.legacy.batches(sql, size=targets.BATCH):
            methods_by_target.clear()
            for method in ctx.legacy.all(
                "SELECT id, target_id, method_type, is_primary, is_active, priority, config "
                "FROM target_communication_methods WHERE target_id = ANY(%s)",
                ([r["id"] for r in batch],),
            ):
                methods_by_target.setdefault(method["target_id"], []).append(method)
            yield from batch

    compare(ctx, "universal_targets", targets.TARGETS, rows(), expected, actual)


def verify_jobs(ctx: Context) -> None:
    from apps.jobs.interface import job_snapshots
    from legacy_bridge.importing import jobs

    actions_by_job: dict[int, list[dict]] = {}

    def expected(row):
        row = {**row, "job_type": str(row["job_type"]), "status": str(row["status"])}
        steps = [
            jobs.convert_step(a, row["timeout"], set()) for a in actions_by_job.get(row["id"], [])
        ]
        return {
            "steps": [[s["kind"], s.get("command") or s.get("script")] for s in steps],
            "archived": jobs.is_deleted(row),
            "legacy.id": str(row["id"]),
        }

    def actual(ids):
        return {
            jid: {
                "steps": [
                    [s["kind"], s.get("command") or s.get("script")]
                    for s in snap.definition["steps"]
                ],
                "archived": snap.archived,
                "legacy.id": snap.definition.get("labels", {}).get("legacy.id"),
            }
            for jid, snap in job_snapshots(ids).items()
        }

    def rows():
        sql = f"SELECT {jobs.JOB_COLUMNS} FROM jobs ORDER BY id"  # noqa: S608
        for batch in ctx.legacy.batches(sql, size=jobs.BATCH):
            actions_by_job.clear()
            actions_by_job.update(jobs.actions_by_job(ctx, [r["id"] for r in batch]))
            yield from batch

    compare(ctx, "jobs", jobs.JOBS, rows(), expected, actual)


VERIFIERS: dict[str, Callable[[Context], None]] = {
    "users": verify_users,
    "targets": verify_targets,
    "jobs": verify_jobs,
}


def verify_all(ctx: Context) -> None:
    import importlib

    for name in ("schedules", "history"):
        if name not in VERIFIERS and name in ctx.options.only:
            module = importlib.import_module(f"legacy_bridge.importing.{name}")
            if hasattr(module, "verify"):
                VERIFIERS[name] = module.verify
    for name, verifier in VERIFIERS.items():
        if name in ctx.options.only:
            verifier(ctx)
