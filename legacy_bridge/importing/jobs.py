"""jobs, job_actions and job_targets -> job definitions.

Actions become steps in their order (``command`` -> command step, ``script`` -> script step);
``job_targets`` becomes an explicit selector of the imported targets (``id in (...)``, or a
group of them when the list is too long for a selector); no rows means every active target
(``all``), as before. The job's timeout and retry count carry over; deleted jobs are archived.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.utils import timezone

from legacy_bridge.importing.engine import (
    Context,
    RecordProblem,
    batched,
    derived_id,
    fingerprint,
    import_record,
)
from legacy_bridge.importing.targets import TARGETS
from legacy_bridge.importing.users import LEGACY_TABLE as USERS

JOBS = "jobs"
ACTIONS = "job_actions"
JOB_TARGETS = "job_targets"
GROUPS = "job_target_groups"
BATCH = 500
MAX_SELECTOR = 4000
MAX_TIMEOUT = 7 * 24 * 3600
_STEP_NAME_BAD = re.compile(r"[^A-Za-z0-9 _.:()/-]+")
INTERPRETERS = {
    "bash": "bash",
    "sh": "sh",
    "shell": "bash",
    "python": "python3",
    "python3": "python3",
    "powershell": "powershell",
    "pwsh": "powershell",
    "ps1": "powershell",
}
JOB_COLUMNS = (
    "id, job_uuid, job_serial, name, description, job_type, status, created_by, created_at, "
    "updated_at, priority, timeout, retry_count, is_deleted, deleted_at"
)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def literal(text: str) -> str:
    """Legacy text as a step field: ``{{`` is this system's template syntax, so it is doubled
    (``{{{{`` writes a literal ``{{``) and the command stays exactly what it was."""
    return text.replace("{{", "{{{{")


def job_id_for(row: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(row["job_uuid"]))
    except (TypeError, ValueError):
        return derived_id(JOBS, row["id"])


def step_name(action: dict[str, Any], taken: set[str]) -> str:
    base = _STEP_NAME_BAD.sub(" ", (action.get("action_name") or "").strip())
    base = re.sub(r"^[^A-Za-z0-9]+", "", re.sub(r"\s+", " ", base)).strip()[:90]
    name = base or f"step {action['action_order']}"
    if name in taken:
        name = f"{name[:85]} ({action['action_order']})"
    taken.add(name)
    return name


def convert_step(action: dict[str, Any], timeout: int | None, taken: set[str]) -> dict[str, Any]:
    kind = str(action["action_type"])
    parameters = _json(action.get("action_parameters"))
    config = _json(action.get("action_config"))
    step: dict[str, Any] = {"name": step_name(action, taken), "kind": kind}
    if kind == "command":
        command = parameters.get("command")
        if not isinstance(command, str) or not command.strip():
            raise RecordProblem(f"action {action['id']} (command) has no command")
        step["command"] = literal(command)
    elif kind == "script":
        script = next(
            (
                parameters[k]
                for k in ("script", "script_content", "content", "code")
                if isinstance(parameters.get(k), str) and parameters[k].strip()
            ),
            None,
        )
        if script is None:
            raise RecordProblem(f"action {action['id']} (script) has no script")
        language = str(
            parameters.get("interpreter")
            or parameters.get("language")
            or parameters.get("shell")
            or "bash"
        ).lower()
        interpreter = INTERPRETERS.get(language)
        if interpreter is None:
            raise RecordProblem(f"action {action['id']}: unsupported script language {language!r}")
        step["interpreter"] = interpreter
        step["script"] = literal(script) if interpreter != "python3" else script
        if interpreter == "python3" and "{{" in script:
            raise RecordProblem(f"action {action['id']}: a python script cannot contain '{{{{'")
        step["os_family"] = "windows" if interpreter == "powershell" else "linux"
    else:
        raise RecordProblem(
            f"action {action['id']} is a {kind} action, which has no equivalent step "
            "(only command and script actions are imported)"
        )
    if timeout:
        step["timeout_seconds"] = max(1, min(int(timeout), MAX_TIMEOUT))
    continue_on_error = config.get("continue_on_error", config.get("continueOnError"))
    if continue_on_error is not None:
        step["continue_on_error"] = bool(continue_on_error)
    return step


def is_deleted(row: dict[str, Any]) -> bool:
    return bool(row["is_deleted"]) or str(row["status"]) == "deleted"


def definition_for(row, actions, selector: str) -> dict[str, Any]:
    taken: set[str] = set()
    steps = [convert_step(action, row["timeout"], taken) for action in actions]
    if not steps:
        raise RecordProblem("the job has no actions (a job needs at least one step)")
    policy: dict[str, Any] = {"connection_retries": max(0, min(int(row["retry_count"] or 0), 10))}
    if row["timeout"]:
        policy["run_timeout_seconds"] = max(1, min(int(row["timeout"]), MAX_TIMEOUT))
    labels = {
        "legacy.id": str(row["id"]),
        "legacy.type": str(row["job_type"]),
        "legacy.status": str(row["status"]),
        "legacy.priority": str(row["priority"]),
    }
    if row["job_serial"]:
        labels["legacy.serial"] = str(row["job_serial"])
    return {
        "name": (row["name"] or "").strip()[:100] or f"job {row['job_serial'] or row['id']}",
        "description": (row["description"] or "")[:4000],
        "labels": labels,
        "default_selector": selector,
        "policy": policy,
        "parameters": [],
        "steps": steps,
    }


def selector_for(target_ids: list[uuid.UUID]) -> str | None:
    """``all`` for none, ``id in (...)`` when it fits; None when a group must hold them."""
    if not target_ids:
        return "all"
    if len(target_ids) == 1:
        return f"id={target_ids[0]}"
    text = f"id in ({', '.join(str(t) for t in target_ids)})"
    return text if len(text) <= MAX_SELECTOR else None


def actions_by_job(ctx: Context, job_ids: list[int]) -> dict[int, list[dict]]:
    """The legacy actions of the jobs ``job_ids``, each job's in their order."""
    actions: dict[int, list[dict]] = {}
    for action in ctx.legacy.all(
        "SELECT id, job_id, action_order, action_type::text AS action_type, action_name, "
        "action_parameters, action_config FROM job_actions WHERE job_id = ANY(%s) "
        "ORDER BY job_id, action_order, id",
        (job_ids,),
    ):
        actions.setdefault(action["job_id"], []).append(action)
    return actions


def run(ctx: Context) -> None:
    from apps.jobs.interface import job_import, job_name_taken
    from apps.targets.interface import group_import

    jobs = ctx.report.table(JOBS)
    actions_table = ctx.report.table(ACTIONS)
    targets_table = ctx.report.table(JOB_TARGETS)
    usernames = {r["id"]: r["username"] for r in ctx.legacy.all("SELECT id, username FROM users")}
    sql = f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id"  # noqa: S608
    for batch in ctx.legacy.batches(sql, size=BATCH):
        ids = [row["id"] for row in batch]
        actions = actions_by_job(ctx, ids)
        links: dict[int, list[int]] = {}
        for link in ctx.legacy.all(
            "SELECT job_id, target_id FROM job_targets WHERE job_id = ANY(%s) "
            "ORDER BY job_id, target_id",
            (ids,),
        ):
            links.setdefault(link["job_id"], []).append(link["target_id"])
        with batched(ctx, "jobs", "targets") as tick:
            for row in batch:
                tick()
                row = {**row, "job_type": str(row["job_type"]), "status": str(row["status"])}
                job_actions = actions.get(row["id"], [])
                job_targets = links.get(row["id"], [])
                jobs.read += 1
                actions_table.read += len(job_actions)
                targets_table.read += len(job_targets)
                digest = fingerprint({"row": row, "actions": job_actions, "targets": job_targets})
                mapped = ctx.mapping.get(JOBS, row["id"])
                if mapped is not None:
                    jobs.present_one(row["id"], changed=mapped.fingerprint != digest)
                    actions_table.present += len(job_actions)
                    targets_table.present += len(job_targets)
                    continue

                def create(new_id, row=row, job_actions=job_actions, job_targets=job_targets):
                    target_ids = []
                    for legacy_target in job_targets:
                        target_id = ctx.mapping.new_id(TARGETS, legacy_target)
                        if target_id is None:
                            raise RecordProblem(
                                f"its target {legacy_target} is not imported (import targets "
                                "first, or see the targets' failures)"
                            )
                        target_ids.append(target_id)
                    selector = selector_for(target_ids)
                    if selector is None:
                        group_name = f"legacy-job-{row['id']}"
                        group_import(
                            group_id=derived_id(GROUPS, row["id"]),
                            name=group_name,
                            member_ids=target_ids,
                            description="The targets of legacy job "
                            + str(row["job_serial"] or row["id"]),
                            actor=ctx.actor,
                        )
                        selector = f"group:{group_name}"
                        jobs.count("target lists kept as a group (too long for a selector)")
                    definition = definition_for(row, job_actions, selector)
                    if job_name_taken(definition["name"]):
                        suffix = f" ({row['job_serial'] or row['id']})"
                        definition["name"] = definition["name"][: 100 - len(suffix)] + suffix
                        jobs.count("renamed: name already taken")
                    owner = (
                        ctx.mapping.new_id(USERS, row["created_by"]) if row["created_by"] else None
                    )
                    actor = ctx.actor
                    if owner is not None:
                        from opsconductor.events import Actor

                        actor = Actor(
                            kind="user", id=str(owner), name=usernames.get(row["created_by"], "")
                        )
                    archived_at = None
                    if is_deleted(row):
                        archived_at = row["deleted_at"] or row["updated_at"] or timezone.now()
                    return job_import(
                        job_id=new_id,
                        definition=definition,
                        actor=actor,
                        archived_at=archived_at,
                        message=f"Imported from legacy job {row['job_serial'] or row['id']}",
                    )

                result = import_record(
                    ctx,
                    jobs,
                    legacy_table=JOBS,
                    legacy_id=row["id"],
                    digest=digest,
                    new_id=job_id_for(row),
                    create=create,
                )
                if result is None:
                    actions_table.skipped += len(job_actions)
                    targets_table.skipped += len(job_targets)
                    if job_actions:
                        actions_table.skipped_reasons["its job failed to import"] += len(
                            job_actions
                        )
                    if job_targets:
                        targets_table.skipped_reasons["its job failed to import"] += len(
                            job_targets
                        )
                else:
                    actions_table.imported += len(job_actions)
                    targets_table.imported += len(job_targets)
                    if is_deleted(row) and mapped is None:
                        jobs.count("deleted in legacy: archived")
