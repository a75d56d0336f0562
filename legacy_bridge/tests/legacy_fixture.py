"""The legacy backend's recording fixture, rebuilt in the new system (recordings/README.md):
users ``ladmin`` (1), ``lmanager`` (2), ``loperator`` (3), ``lguest`` (4), ``lformer`` (5,
inactive), all with the password ``legacy-pass-1``; targets 1-6 with their connection methods
and credentials, as the importer would bring them over (the importer's mapping rows included,
so the legacy id registry finds them the way it finds imported objects).

Target 5's only method is SNMP, which the importer skips (not a remote-execution method): it
has no connection method here.

Jobs (``seed_jobs``), through the importer's own conversions: job 1 ``legacy whoami`` (two
command actions on targets 1-3, one completed execution with six results), job 2 ``legacy
disk report`` (no targets: every active target), job 3 deleted (archived here). The schedules
1-6 of jobs 1 and 2 (``seed_schedules``: cron, once, daily, weekly, monthly, a disabled cron),
imported as the importer does (``schedule_conversion.convert``, in UTC where the legacy
scheduler fired them, the legacy definition kept for the legacy routes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.contrib.auth.hashers import make_password

from legacy_bridge import legacy_ids
from legacy_bridge.importing.models import ImportedRecord
from opsconductor.events import Actor

PASSWORD = "legacy-pass-1"
ACTOR = Actor(kind="system", id=None, name="legacy import")

USERS = (
    # legacy id, username, our role (administrator, manager, user, guest), active
    (1, "ladmin", "admin", True),
    (2, "lmanager", "manager", True),
    (3, "loperator", "operator", True),
    (4, "lguest", "viewer", True),
    (5, "lformer", "operator", False),
)

TARGETS = (
    # legacy id, uuid, name, os, environment, status, health, description, location, dc, region,
    # method (protocol, host, port, legacy method id, credential (legacy id, name, kind, user))
    (1, "1aa13b0e-2696-4803-a0a8-fb10255f1540", "legacy-web-1", "linux", "production",
     "active", "healthy", "legacy linux box 1", "rack 4", "fra1", "eu-central",
     ("ssh", "127.0.0.1", 22, 1, (1, "deploy-key", "ssh_key", "deploy"))),
    (2, "26b600e9-d0d4-44c3-aa6f-8d159e9391b2", "legacy-web-2", "linux", "production",
     "active", "healthy", "", "", "", "", ("ssh", "127.0.0.2", 22, 2, None)),
    (3, "5722ad11-8860-4587-ab19-752c00986fb2", "legacy-web-3", "linux", "production",
     "active", "healthy", "", "", "", "", ("ssh", "127.0.0.3", 22, 3, None)),
    (4, "cbe622fd-89b4-4ca7-99f0-a28b9809221a", "legacy-win-1", "windows", "staging",
     "active", "unknown", "", "", "", "",
     ("winrm", "192.0.2.10", 5985, 4, (4, "admin", "winrm", "Administrator"))),
    (5, "9d3f8139-54cd-4b13-93ac-a9d85ccaf333", "legacy-switch-1", "linux", "production",
     "maintenance", "unknown", "", "", "", "", None),
    (6, "7cd2a4a9-c014-4e03-8f0b-72b34b611b02", "legacy-broken-1", "linux", "development",
     "active", "unknown", "", "", "", "", ("ssh", "192.0.2.30", 22, 6, None)),
)  # fmt: skip


SCHEDULES = (
    # the legacy rows of job_schedules, as the recording fixture had them
    {"id": 1, "job_id": 1, "schedule_type": "cron", "enabled": True,
     "timezone": "America/New_York", "description": "weekday 03:15 NY",
     "cron_expression": "15 3 * * 1-5", "next_run": "2025-09-02T03:15:00+00:00"},
    {"id": 2, "job_id": 2, "schedule_type": "once", "enabled": True, "timezone": "UTC",
     "description": "once", "execute_at": "2027-01-15T10:00:00+00:00",
     "next_run": "2027-01-15T10:00:00+00:00"},
    {"id": 3, "job_id": 1, "schedule_type": "recurring", "enabled": True,
     "timezone": "Europe/Berlin", "description": "daily Berlin", "recurring_type": "daily",
     "interval": 1, "time": "06:30", "next_run": "2025-09-02T06:30:00+00:00"},
    {"id": 4, "job_id": 2, "schedule_type": "recurring", "enabled": True,
     "timezone": "Asia/Tokyo", "description": "Mon Wed Fri Tokyo", "recurring_type": "weekly",
     "interval": 1, "time": "22:00", "days_of_week": "0,2,4",
     "next_run": "2025-09-01T22:00:00+00:00"},
    {"id": 5, "job_id": 2, "schedule_type": "recurring", "enabled": True, "timezone": "UTC",
     "description": "15th monthly", "recurring_type": "monthly", "interval": 1, "time": "09:00",
     "day_of_month": 15, "next_run": "2025-09-15T09:00:00+00:00"},
    {"id": 6, "job_id": 1, "schedule_type": "cron", "enabled": False, "timezone": "UTC",
     "description": "disabled hourly", "cron_expression": "0 * * * *",
     "next_run": "2025-09-01T13:00:00+00:00"},
)  # fmt: skip


@dataclass
class Fixture:
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    targets: dict[int, uuid.UUID] = field(default_factory=dict)
    jobs: dict[int, uuid.UUID] = field(default_factory=dict)
    executions: dict[int, uuid.UUID] = field(default_factory=dict)
    schedules: dict[int, uuid.UUID] = field(default_factory=dict)


def private_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def _mapping(table: str, legacy_id: int, new_id: uuid.UUID) -> None:
    ImportedRecord.objects.create(
        legacy_table=table, legacy_id=str(legacy_id), new_id=new_id, fingerprint="fixture"
    )


def seed() -> Fixture:
    from apps.accounts.interface import user_import
    from apps.targets.interface import credential_import, target_details, target_import

    fixture = Fixture()
    password_hash = make_password(PASSWORD)
    for legacy_id, username, role, active in USERS:
        user_id = uuid.uuid4()
        user_import(
            user_id=user_id,
            username=username,
            email=f"{username}@legacy.example",
            password_hash=password_hash,
            role=role,
            is_active=active,
            actor=ACTOR,
        )
        _mapping("users", legacy_id, user_id)
        fixture.users[username] = user_id
    for row in TARGETS:
        legacy_id, target_uuid, name, os_family, environment, status, health = row[:7]
        description, location, data_center, region, method = row[7:]
        target_id = uuid.UUID(target_uuid)
        methods = []
        if method is not None:
            protocol, host, port, _, credential = method
            entry = {"protocol": protocol, "host": host, "port": port, "priority": 1}
            entry["is_primary"] = True
            if credential is not None:
                credential_legacy_id, credential_name, kind, username = credential
                credential_id = uuid.uuid4()
                secret = {"private_key": private_key()} if kind == "ssh_key" else {"password": "pw"}
                credential_import(
                    credential_id=credential_id,
                    name=credential_name,
                    kind=kind,
                    username=username,
                    actor=ACTOR,
                    **secret,
                )
                _mapping("target_credentials", credential_legacy_id, credential_id)
                entry["credential_id"] = credential_id
            methods.append(entry)
        target_import(
            target_id=target_id,
            data={
                "name": name,
                "description": description,
                "os_family": os_family,
                "environment": environment,
                "location": location,
                "data_center": data_center,
                "region": region,
                "status": status,
                "host_key_policy": "accept-new",
            },
            labels={
                "legacy.id": str(legacy_id),
                "legacy.serial": f"TGT-{legacy_id:06d}",
                "legacy.type": "system",
                "legacy.health": health,
            },
            connection_methods=methods,
            actor=ACTOR,
        )
        _mapping("universal_targets", legacy_id, target_id)
        fixture.targets[legacy_id] = target_id
        if method is not None:
            (created,) = target_details([target_id])[target_id].methods
            legacy_ids.register("methods", method[3], created.id)
    seed_jobs(fixture)
    seed_schedules(fixture)
    return fixture


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


JOBS = (
    # legacy id, uuid, name, description, deleted, target ids, actions (name, command)
    (1, "3f1d7c55-0b53-4f1e-9a55-3d7b2a0c0001", "legacy whoami", "two commands", False,
     (1, 2, 3), (("who", "id -un"), ("mark", "echo legacy-ok"))),
    (2, "3f1d7c55-0b53-4f1e-9a55-3d7b2a0c0002", "legacy disk report", None, False,
     (), (("disk", "df -h /"),)),
    (3, "3f1d7c55-0b53-4f1e-9a55-3d7b2a0c0003", "legacy retired job", "deleted", True,
     (1,), (("old", "uptime"),)),
)  # fmt: skip
# legacy execution 1 of job 1 (number 1): each action on targets 1-3, results 1-6
EXECUTION = {
    "id": 1, "job_id": 1, "execution_uuid": None, "execution_serial": "EXEC-00000001",
    "execution_number": 1, "status": "completed", "scheduled_at": None,
    "started_at": _at("2025-09-01T03:15:00+00:00"), "completed_at": _at("2025-09-01T03:15:04+00:00"),
    "total_targets": 3, "successful_targets": 3, "failed_targets": 0,
    "created_at": _at("2025-09-01T03:14:59+00:00"),
}  # fmt: skip
RESULTS = [
    {"id": result_id, "execution_id": 1, "target_id": target, "target_name": f"legacy-web-{target}",
     "action_order": order, "action_name": name, "action_type": "command", "status": "completed",
     "started_at": _at("2025-09-01T03:15:01+00:00"), "completed_at": _at("2025-09-01T03:15:02+00:00"),
     "execution_time_ms": 812, "output_text": output, "error_text": "", "exit_code": 0,
     "command_executed": command}
    for result_id, target, order, name, command, output in (
        (1, 1, 1, "who", "id -un", "fleet\n"), (2, 1, 2, "mark", "echo legacy-ok", "legacy-ok\n"),
        (3, 2, 1, "who", "id -un", "fleet\n"), (4, 2, 2, "mark", "echo legacy-ok", "legacy-ok\n"),
        (5, 3, 1, "who", "id -un", "fleet\n"), (6, 3, 2, "mark", "echo legacy-ok", "legacy-ok\n"),
    )
]  # fmt: skip


def seed_jobs(fixture: Fixture) -> None:
    """The legacy jobs, their execution history and schedules, converted and stored as the
    importer does (its own functions), with the importer's mapping rows."""
    from types import SimpleNamespace

    from apps.execution import interface as execution
    from apps.jobs.interface import job_import
    from legacy_bridge import execution_numbers
    from legacy_bridge.importing.history import build_run
    from legacy_bridge.importing.jobs import definition_for, selector_for

    owner = Actor(kind="user", id=str(fixture.users["ladmin"]), name="ladmin")
    for legacy_id, job_uuid, name, description, deleted, targets, actions in JOBS:
        row = {
            "id": legacy_id, "job_serial": f"JOB-{legacy_id:06d}", "name": name,
            "description": description, "job_type": "command",
            "status": "deleted" if deleted else "draft", "priority": 5, "timeout": None,
            "retry_count": 0,
        }  # fmt: skip
        legacy_actions = [
            {"id": legacy_id * 10 + order, "action_order": order, "action_type": "command",
             "action_name": action_name, "action_parameters": {"command": command},
             "action_config": {}}
            for order, (action_name, command) in enumerate(actions, start=1)
        ]  # fmt: skip
        selector = selector_for([fixture.targets[t] for t in targets])
        job_id = uuid.UUID(job_uuid)
        job_import(
            job_id=job_id,
            definition=definition_for(row, legacy_actions, selector),
            actor=owner,
            archived_at=datetime(2025, 9, 3, tzinfo=UTC) if deleted else None,
        )
        _mapping("jobs", legacy_id, job_id)
        fixture.jobs[legacy_id] = job_id
    ctx = SimpleNamespace(
        mapping=SimpleNamespace(new_id=lambda table, legacy_id: fixture.targets.get(legacy_id))
    )
    job_id = fixture.jobs[EXECUTION["job_id"]]
    spec, placed = build_run(
        ctx, EXECUTION, RESULTS, job_id=job_id, job_name="legacy whoami",
        requester=(fixture.users["ladmin"], "ladmin"), interface=execution,
    )  # fmt: skip
    imported = execution.run_import_history(run=spec, actor=ACTOR)
    run_id = imported.run_id
    _mapping("job_executions", EXECUTION["id"], run_id)
    for position, order, step_id in imported.steps:  # results keep their ids, as the importer's
        _mapping("job_execution_results", placed[(position, order)]["id"], step_id)
    execution_numbers.record_imported(job_id, run_id, EXECUTION["execution_number"])
    fixture.executions[EXECUTION["id"]] = run_id


def seed_schedules(fixture: Fixture) -> None:
    from datetime import UTC, datetime

    from apps.scheduling.interface import schedule_import
    from legacy_bridge.importing.schedule_conversion import convert, with_planned_run
    from legacy_bridge.legacy_schedules import remember

    now = datetime.now(UTC)
    for legacy in SCHEDULES:
        row = {"interval": 1, "execution_count": 0, "created_at": now, **legacy}
        for column in ("next_run", "execute_at"):
            if row.get(column):
                row[column] = datetime.fromisoformat(row[column])
        spec = convert(with_planned_run(row, now), job_id=fixture.jobs[row["job_id"]])
        schedule_id = uuid.uuid4()
        schedule_import(spec=spec, actor=ACTOR, schedule_id=schedule_id, now=now)
        remember(schedule_id, row)
        _mapping("job_schedules", row["id"], schedule_id)
        fixture.schedules[row["id"]] = schedule_id
