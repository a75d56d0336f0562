"""A legacy database on the real PostgreSQL, built from ``legacy_schema.sql`` (our DDL written
from LEGACY.md) and filled with rows the way the legacy backend wrote them (bcrypt password
hashes, credentials sealed with the legacy Fernet scheme). Used by the tests and the benchmark.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import psycopg

from legacy_bridge.importing.legacy import legacy_seal

SCHEMA = (Path(__file__).parent / "legacy_schema.sql").read_text()
SERVER = os.environ.get("LEGACY_TEST_SERVER", "postgresql://postgres@127.0.0.1:5432")


def bcrypt_hash(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@dataclass
class LegacyDb:
    """One legacy database; ``add_*`` insert rows and return their legacy ids."""

    name: str
    url: str
    secret_key: str
    _serial: dict[str, int] = field(default_factory=dict)

    def execute(self, sql: str, params: Any = None) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        params = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in values.values()]
        rows = self.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",
            params,
        )
        return rows[0][0]

    def _next(self, kind: str) -> int:
        self._serial[kind] = self._serial.get(kind, 0) + 1
        return self._serial[kind]

    def add_user(
        self,
        username,
        *,
        password=None,
        role="user",
        email=None,
        is_active=True,
        rounds=4,
        password_hash=None,
    ) -> int:
        return self._insert(
            "users",
            {
                "username": username,
                "email": email if email is not None else f"{username}@example.com",
                "password_hash": password_hash
                or bcrypt_hash(password or secrets.token_urlsafe(12), rounds),
                "role": role,
                "is_active": is_active,
            },
        )

    def add_target(self, name, **fields) -> int:
        number = self._next("target")
        values = {
            "target_uuid": str(uuid.uuid4()),
            "target_serial": f"TGT-{number:06d}",
            "name": name,
            "target_type": "system",
            "os_type": "linux",
            "environment": "production",
            "status": "active",
            "health_status": "healthy",
            "is_active": True,
        }
        values.update(fields)
        return self._insert("universal_targets", values)

    def add_method(
        self,
        target_id,
        method_type="ssh",
        *,
        host="127.0.0.1",
        port=None,
        is_primary=True,
        is_active=True,
        priority=1,
        config=None,
    ) -> int:
        config = dict(config or {})
        config.setdefault("host", host)
        if port is not None:
            config["port"] = port
        return self._insert(
            "target_communication_methods",
            {
                "target_id": target_id,
                "method_type": method_type,
                "method_name": f"{method_type} access",
                "is_primary": is_primary,
                "is_active": is_active,
                "priority": priority,
                "config": config,
            },
        )

    def sealed(self, data: dict) -> str:
        return legacy_seal(data, self.secret_key)

    def add_credential(
        self,
        method_id,
        data=None,
        *,
        name="cred",
        encrypted=None,
        credential_type=None,
        is_primary=True,
        is_active=True,
    ) -> int:
        return self._insert(
            "target_credentials",
            {
                "communication_method_id": method_id,
                "credential_type": credential_type or (data or {}).get("type", "password"),
                "credential_name": name,
                "is_primary": is_primary,
                "is_active": is_active,
                "encrypted_credentials": encrypted if encrypted is not None else self.sealed(data),
            },
        )

    def add_job(self, name, *, actions=(), targets=(), created_by=None, **fields) -> int:
        number = self._next("job")
        values = {
            "job_uuid": str(uuid.uuid4()),
            "job_serial": f"JOB-{number:06d}",
            "name": name,
            "description": f"legacy job {name}",
            "job_type": "command",
            "status": "completed",
            "created_by": created_by,
            "retry_count": 0,
        }
        values.update(fields)
        job_id = self._insert("jobs", values)
        for order, action in enumerate(actions, start=1):
            action = dict(action)
            kind = action.pop("type", "command")
            self._insert(
                "job_actions",
                {
                    "job_id": job_id,
                    "action_order": action.pop("order", order),
                    "action_type": kind,
                    "action_name": action.pop("name", f"action {order}"),
                    "action_parameters": action.pop("parameters", {}),
                    "action_config": action.pop("config", {}),
                },
            )
        for target_id in targets:
            self._insert("job_targets", {"job_id": job_id, "target_id": target_id})
        return job_id

    def add_schedule(self, job_id, schedule_type, **fields) -> int:
        values = {
            "schedule_uuid": str(uuid.uuid4()),
            "job_id": job_id,
            "schedule_type": schedule_type,
        }
        values.update(fields)
        return self._insert("job_schedules", values)

    def add_execution(self, job_id, *, number, status="completed", results=(), **fields) -> int:
        values = {
            "job_id": job_id,
            "execution_uuid": str(uuid.uuid4()),
            "execution_serial": f"EXEC-{self._next('execution'):08d}",
            "execution_number": number,
            "status": status,
        }
        values.update(fields)
        execution_id = self._insert("job_executions", values)
        for result in results:
            self._insert("job_execution_results", {"execution_id": execution_id, **result})
        return execution_id

    def count(self, table: str) -> int:
        return self.execute(f"SELECT count(*) FROM {table}")[0][0]


def create_legacy_db(secret_key: str | None = None) -> LegacyDb:
    name = f"oc_legacy_{secrets.token_hex(5)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = LegacyDb(
        name=name, url=f"{SERVER}/{name}", secret_key=secret_key or secrets.token_urlsafe(40)
    )
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return db


def drop_legacy_db(db: LegacyDb) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
