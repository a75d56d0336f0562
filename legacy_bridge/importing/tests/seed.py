"""A realistic small legacy installation for the import tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OLD_PASSWORD = "Legacy-Passw0rd!"
SHARED_PASSWORD = "shared-s3cret-pw"


@dataclass
class Seeded:
    users: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)
    credentials: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    schedules: dict[str, int] = field(default_factory=dict)
    executions: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def seed(db, *, ssh_server=None) -> Seeded:
    """Users of every role, targets with ssh/winrm/other methods and credentials (one key
    credential that logs in to ``ssh_server`` when given, two identical passwords, one corrupt
    credential), jobs (targets, all targets, deleted, duplicate name, file transfer)."""
    s = Seeded()
    s.users["alice"] = db.add_user("alice", password=OLD_PASSWORD, role="administrator", rounds=12)
    s.users["bob"] = db.add_user("bob", role="user")
    s.users["carol"] = db.add_user("carol", role="guest", is_active=False)
    s.users["dave"] = db.add_user("dave", role="manager", email="Dave@Example.com")
    s.users["eve"] = db.add_user("eve", role="superuser")  # not a legacy role: fails

    host = ssh_server.host if ssh_server else "127.0.0.1"
    port = ssh_server.port if ssh_server else 2222
    username = ssh_server.username if ssh_server else "deploy"
    key = ssh_server.client_key_text if ssh_server else None

    s.targets["web1"] = db.add_target(
        "web",
        location="Frankfurt",
        data_center="fra1",
        region="eu-central",
        description="first web server",
    )
    s.methods["web1-ssh"] = db.add_method(s.targets["web1"], "ssh", host=host, port=port)
    if key:
        s.credentials["key"] = db.add_credential(
            s.methods["web1-ssh"],
            {"type": "ssh_key", "username": username, "private_key": key},
            name="deploy key",
        )
    else:
        s.credentials["key"] = db.add_credential(
            s.methods["web1-ssh"],
            {"type": "password", "username": username, "password": "k3y-less"},
            name="deploy key",
        )
    s.methods["web1-snmp"] = db.add_method(
        s.targets["web1"], "snmp", is_primary=False, config={"community": "public"}
    )
    # a second target with the same (non-unique) name, and an identical password credential
    s.targets["web2"] = db.add_target("web", environment="staging")
    s.methods["web2-ssh"] = db.add_method(s.targets["web2"], "ssh", host="10.0.0.12")
    s.credentials["pw-a"] = db.add_credential(
        s.methods["web2-ssh"],
        {"type": "password", "username": "ops", "password": SHARED_PASSWORD},
        name="ops password",
    )
    s.targets["db1"] = db.add_target("db-1", status="maintenance")
    s.methods["db1-ssh"] = db.add_method(s.targets["db1"], "ssh", host="db1.example.com", port=2202)
    s.credentials["pw-b"] = db.add_credential(
        s.methods["db1-ssh"],
        {"type": "password", "username": "ops", "password": SHARED_PASSWORD},
        name="ops password",
    )
    s.methods["db1-pg"] = db.add_method(s.targets["db1"], "postgresql", is_primary=False)
    s.targets["win1"] = db.add_target("win-1", os_type="windows", environment="testing")
    s.methods["win1-winrm"] = db.add_method(
        s.targets["win1"], "winrm", host="10.0.0.30", port=5986, config={"transport": "basic"}
    )
    s.credentials["win"] = db.add_credential(
        s.methods["win1-winrm"],
        {"type": "password", "username": "Administrator", "password": "W1n-pass"},
        name="win admin",
    )
    s.targets["broken"] = db.add_target("broken-cred", is_active=False)
    s.methods["broken-ssh"] = db.add_method(s.targets["broken"], "ssh", host="10.0.0.40")
    s.credentials["corrupt"] = db.add_credential(
        s.methods["broken-ssh"],
        encrypted="bm90LWEtZmVybmV0LXRva2Vu",
        name="corrupt",
        credential_type="password",
    )
    s.targets["mail"] = db.add_target("mail", target_type="email")
    s.methods["mail-smtp"] = db.add_method(s.targets["mail"], "smtp")

    s.jobs["deploy"] = db.add_job(
        "deploy",
        created_by=s.users["dave"],
        timeout=300,
        retry_count=2,
        actions=[
            {
                "name": "say hello",
                "parameters": {
                    "command": "echo hello-from-legacy {{ not a template }}",
                    "captureOutput": True,
                },
            },
            {
                "type": "script",
                "name": "check disk",
                "parameters": {"script": "df -h / | tail -1\necho done", "language": "bash"},
            },
        ],
        targets=[s.targets["web1"]],
    )
    s.jobs["everywhere"] = db.add_job(
        "uptime everywhere",
        created_by=s.users["alice"],
        actions=[{"parameters": {"command": "uptime"}}],
    )
    s.jobs["old"] = db.add_job(
        "old cleanup",
        status="deleted",
        is_deleted=True,
        deleted_at=datetime(2025, 3, 1, tzinfo=UTC),
        actions=[{"parameters": {"command": "rm -rf /tmp/old"}}],
        targets=[s.targets["web2"], s.targets["db1"]],
    )
    s.jobs["deploy-dup"] = db.add_job("deploy", actions=[{"parameters": {"command": "true"}}])
    s.jobs["transfer"] = db.add_job(
        "copy files",
        job_type="file_transfer",
        actions=[{"type": "file_transfer", "parameters": {"source": "/a", "destination": "/b"}}],
    )
    return s
