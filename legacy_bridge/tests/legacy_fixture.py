"""The legacy backend's recording fixture, rebuilt in the new system (recordings/README.md):
users ``ladmin`` (1), ``lmanager`` (2), ``loperator`` (3), ``lguest`` (4), ``lformer`` (5,
inactive), all with the password ``legacy-pass-1``; targets 1-6 with their connection methods
and credentials, as the importer would bring them over (the importer's mapping rows included,
so the legacy id registry finds them the way it finds imported objects).

Target 5's only method is SNMP, which the importer skips (not a remote-execution method): it
has no connection method here.

Jobs (``seed_jobs``), through the importer's own conversions: job 1 ``legacy whoami`` (two
command actions on targets 1-3, one completed execution with six results), job 2 ``legacy
disk report`` (no targets: every active target), job 3 deleted (archived here); the six
schedules of jobs 1 and 2, converted as the importer converts them (in UTC).
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


@dataclass
class Fixture:
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    targets: dict[int, uuid.UUID] = field(default_factory=dict)
    jobs: dict[int, uuid.UUID] = field(default_factory=dict)
    executions: dict[int, uuid.UUID] = field(default_factory=dict)


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
SCHEDULE_COLUMNS = (
    "id", "job_id", "schedule_type", "enabled", "timezone", "description", "execute_at",
    "recurring_type", "interval", "time", "days_of_week", "day_of_month", "cron_expression",
    "next_run",
)  # fmt: skip
SCHEDULES = (
    (1, 1, "cron", True, "America/New_York", "weekday 03:15 NY", None, None, 1, None, None,
     None, "15 3 * * 1-5", "2025-09-02T03:15:00+00:00"),
    (2, 2, "once", True, "UTC", "once", "2027-01-15T10:00:00+00:00", None, 1, None, None, None,
     None, "2027-01-15T10:00:00+00:00"),
    (3, 1, "recurring", True, "Europe/Berlin", "daily Berlin", None, "daily", 1, "06:30", None,
     None, None, "2025-09-02T06:30:00+00:00"),
    (4, 2, "recurring", True, "Asia/Tokyo", "Mon Wed Fri Tokyo", None, "weekly", 1, "22:00",
     "0,2,4", None, None, "2025-09-01T22:00:00+00:00"),
    (5, 2, "recurring", True, "UTC", "15th monthly", None, "monthly", 1, "09:00", None, 15, None,
     "2025-09-15T09:00:00+00:00"),
    (6, 1, "cron", False, "UTC", "disabled hourly", None, None, 1, None, None, None, "0 * * * *",
     "2025-09-01T13:00:00+00:00"),
)  # fmt: skip


def seed_jobs(fixture: Fixture) -> None:
    """The legacy jobs, their execution history and schedules, converted and stored as the
    importer does (its own functions), with the importer's mapping rows."""
    from types import SimpleNamespace

    from apps.execution import interface as execution
    from apps.jobs.interface import job_import
    from apps.scheduling.interface import schedule_import
    from legacy_bridge import execution_numbers
    from legacy_bridge.importing.history import build_run
    from legacy_bridge.importing.jobs import definition_for, selector_for
    from legacy_bridge.importing.schedule_conversion import convert

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
    spec = build_run(
        ctx, EXECUTION, RESULTS, job_id=job_id, job_name="legacy whoami",
        requester=(fixture.users["ladmin"], "ladmin"), interface=execution,
    )  # fmt: skip
    run_id = execution.run_import_history(run=spec, actor=ACTOR).run_id
    _mapping("job_executions", EXECUTION["id"], run_id)
    execution_numbers.record_imported(job_id, run_id, EXECUTION["execution_number"])
    fixture.executions[EXECUTION["id"]] = run_id
    for values in SCHEDULES:
        row = dict(zip(SCHEDULE_COLUMNS, values, strict=True))
        row.update(
            execute_at=_at(row["execute_at"]), next_run=_at(row["next_run"]), max_executions=None,
            execution_count=0, end_date=None, last_run=None, schedule_uuid=None,
            created_at=datetime(2025, 9, 1, tzinfo=UTC),
        )  # fmt: skip
        spec = convert(
            row,
            job_id=fixture.jobs[row["job_id"]],
            created_by_user_id=fixture.users["ladmin"],
        )
        schedule_id = schedule_import(spec=spec, actor=ACTOR)
        _mapping("job_schedules", row["id"], schedule_id)
