"""universal_targets, target_communication_methods and target_credentials -> targets.

A target is imported in one transaction together with its ``ssh``/``winrm`` methods (methods of
other types are reported as skipped, counted by type). Credentials are unsealed with the legacy
scheme, re-sealed under this installation's keys and de-duplicated: identical ones (same kind,
username and secret) become one credential shared by every method that used them. A credential
that cannot be opened is reported as failed and its method is imported without one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

from legacy_bridge.importing.engine import (
    Context,
    RecordProblem,
    batched,
    derived_id,
    describe_error,
    fingerprint,
    import_record,
)
from legacy_bridge.importing.legacy import LegacyCredentialError, legacy_unseal

TARGETS = "universal_targets"
METHODS = "target_communication_methods"
CREDENTIALS = "target_credentials"
CONTENT = "credential_content"  # mapping of de-duplicated credential contents
BATCH = 500

OS_FAMILIES = {"linux", "windows"}
ENVIRONMENTS = {"production", "staging", "development", "testing"}
STATUSES = {"active", "inactive", "maintenance"}
EXECUTION_METHODS = {"ssh", "winrm"}
DEFAULT_PORTS = {"ssh": 22, "winrm": 5985}
WINRM_TRANSPORTS = {"ntlm", "basic", "kerberos", "credssp"}
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")

TARGET_COLUMNS = (
    "id, target_uuid, target_serial, name, target_type, description, os_type, environment, "
    "location, data_center, region, is_active, status, health_status"
)


def _text(value: Any, limit: int) -> str:
    return ("" if value is None else str(value)).strip()[:limit]


def target_id_for(row: dict[str, Any]) -> uuid.UUID:
    """The legacy target's own uuid (API clients that stored it keep a valid reference)."""
    try:
        return uuid.UUID(str(row["target_uuid"]))
    except (TypeError, ValueError):
        return derived_id(TARGETS, row["id"])


def credential_name(raw: str | None, legacy_id: Any) -> str:
    name = _NAME_BAD.sub("-", (raw or "").strip()).strip("-_.:")[:64]
    return name or f"legacy-credential-{legacy_id}"


def method_config(method: dict[str, Any]) -> dict[str, Any]:
    config = method.get("config") or {}
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = {}
    return config if isinstance(config, dict) else {}


def convert_method(method: dict[str, Any]) -> dict[str, Any]:
    """A legacy ssh/winrm method as a connection method of the new system (no credential)."""
    kind = method["method_type"].lower()
    config = method_config(method)
    host = next(
        (str(config[k]).strip() for k in ("host", "hostname", "ip", "address") if config.get(k)),
        "",
    )
    if not host:
        raise RecordProblem(f"{kind} method {method['id']} has no host in its config")
    try:
        port = int(config.get("port") or DEFAULT_PORTS[kind])
    except (TypeError, ValueError):
        raise RecordProblem(f"{kind} method {method['id']}: the port is not a number") from None
    result: dict[str, Any] = {
        "protocol": kind,
        "host": host,
        "port": port,
        "username": _text(config.get("username"), 128),
        "priority": max(0, min(int(method.get("priority") or 0), 32767)),
        "is_primary": bool(method.get("is_primary")),
    }
    if kind == "winrm":
        scheme = str(config.get("scheme") or "").lower()
        https = scheme == "https" or bool(config.get("use_ssl")) or port == 5986
        result["winrm_scheme"] = "https" if https else "http"
        transport = str(config.get("transport") or "ntlm").lower()
        result["winrm_transport"] = transport if transport in WINRM_TRANSPORTS else "ntlm"
        validate = config.get("validate_cert", config.get("cert_validation", True))
        result["winrm_validate_cert"] = validate not in (False, "ignore", "false", 0)
    return result


def convert_target(row: dict[str, Any], methods: list[dict[str, Any]], policy: str) -> dict:
    """The new target's fields and labels for a legacy target row."""
    protocols = {m["protocol"] for m in methods}
    os_type = (row["os_type"] or "").lower()
    if os_type not in OS_FAMILIES:
        os_type = "windows" if protocols == {"winrm"} else "linux"
    environment = (row["environment"] or "").lower()
    status = (row["status"] or "").lower()
    if not row["is_active"]:
        status = "inactive"
    elif status not in STATUSES:
        status = "active"
    labels = {"legacy.id": str(row["id"])}
    for key, column in (
        ("legacy.serial", "target_serial"),
        ("legacy.type", "target_type"),
        ("legacy.health", "health_status"),
    ):
        if row.get(column):
            labels[key] = _text(row[column], 255)
    if environment not in ENVIRONMENTS:
        if environment:
            labels["legacy.environment"] = _text(row["environment"], 255)
        environment = "production"
    data = {
        "name": _text(row["name"], 100) or f"target-{row['target_serial'] or row['id']}",
        "description": _text(row["description"], 4000),
        "os_family": os_type,
        "environment": environment,
        "location": _text(row["location"], 100),
        "data_center": _text(row["data_center"], 100),
        "region": _text(row["region"], 100),
        "status": status,
        "host_key_policy": policy,
    }
    return {"data": data, "labels": labels}


class CredentialImporter:
    """Unseals, de-duplicates and creates credentials; remembers each legacy row's result."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.table = ctx.report.table(CREDENTIALS)
        self._hmac_key = ctx.dedup_key

    def _content_key(self, kind: str, username: str, secret: dict[str, Any]) -> str:
        text = json.dumps([kind, username, secret], sort_keys=True)
        return hmac.new(self._hmac_key, text.encode(), hashlib.sha256).hexdigest()

    def credential_for(self, row: dict[str, Any], protocol: str) -> uuid.UUID | None:
        """The new credential for the legacy credential row (None: reported, none used)."""
        mapped = self.ctx.mapping.get(CREDENTIALS, row["id"])
        digest = fingerprint(
            {
                "text": row["encrypted_credentials"],
                "protocol": protocol,
                "name": row["credential_name"],
            }
        )
        if mapped is not None:
            self.table.present_one(row["id"], changed=mapped.fingerprint != digest)
            return mapped.new_id
        opened = self._open_or_fail(row, protocol)
        if opened is None:
            return None
        kind, username, secret = opened
        content = self._content_key(kind, username, secret)
        credential_id = derived_id(CONTENT, content)
        shared = self.ctx.mapping.get(CONTENT, content)
        name = credential_name(row["credential_name"], row["id"])

        def create(new_id: uuid.UUID) -> bool:
            if shared is not None:
                return True
            created = self._create(new_id, name, kind, username, secret, row)
            self.ctx.mapping.write(CONTENT, content, new_id, content)
            return created

        result = import_record(
            self.ctx,
            self.table,
            legacy_table=CREDENTIALS,
            legacy_id=row["id"],
            digest=digest,
            new_id=credential_id,
            create=create,
        )
        if result is not None:
            if shared is None:
                self.ctx.mapping.remember(CONTENT, content, credential_id, content)
                self.table.count("credentials created")
            else:
                self.table.count("identical to another credential (shared)")
        return result

    def already_imported(self, row: dict[str, Any], protocol: str) -> None:
        """Count the credential of a method whose target was imported by an earlier run: present
        if it was imported with it, else failed again with its reason (nothing is created)."""
        mapped = self.ctx.mapping.get(CREDENTIALS, row["id"])
        if mapped is not None:
            self.table.present_one(row["id"])
            return
        if self._open_or_fail(row, protocol) is None:
            return
        self.table.fail(
            row["id"],
            "not imported: its target was imported without it by an earlier run (give the "
            "imported connection method this credential by hand)",
        )

    def _open_or_fail(
        self, row: dict[str, Any], protocol: str
    ) -> tuple[str, str, dict[str, Any]] | None:
        """The opened credential, or None when it cannot be opened (reported as failed)."""
        if self.ctx.fernet is None:
            self.table.fail(row["id"], "LEGACY_SECRET_KEY is not set: credentials cannot be opened")
            return None
        try:
            return self._open(row, protocol)
        except (LegacyCredentialError, RecordProblem) as exc:
            self.table.fail(row["id"], f"credential cannot be imported: {exc}")
            return None

    def _open(self, row: dict[str, Any], protocol: str) -> tuple[str, str, dict[str, Any]]:
        assert self.ctx.fernet is not None
        data = legacy_unseal(row["encrypted_credentials"], self.ctx.fernet)
        legacy_type = str(data.get("type") or row["credential_type"] or "").lower()
        username = str(data.get("username") or "").strip()
        if not username:
            raise RecordProblem("it has no username")
        if legacy_type == "ssh_key":
            if protocol != "ssh":
                raise RecordProblem(f"an SSH key cannot log in over {protocol}")
            if not data.get("private_key"):
                raise RecordProblem("the ssh_key credential has no private_key")
            passphrase = str(data["passphrase"]) if data.get("passphrase") else None
            secret = {"private_key": str(data["private_key"]), "passphrase": passphrase}
            return "ssh_key", username, secret
        if legacy_type == "password":
            if not data.get("password"):
                raise RecordProblem("the password credential has no password")
            kind = "winrm" if protocol == "winrm" else "password"
            return kind, username, {"password": str(data["password"])}
        raise RecordProblem(f"unknown credential type {legacy_type!r}")

    def _create(self, new_id, name, kind, username, secret, row) -> bool:
        from apps.targets.interface import credential_import, credential_name_taken

        if credential_name_taken(name):
            name = f"{name[: 63 - len(str(row['id'])) - 8]}-legacy-{row['id']}"
            self.table.count("renamed (name taken)")
        return credential_import(
            credential_id=new_id,
            name=name,
            kind=kind,
            username=username,
            description=f"Imported from legacy credential #{row['id']}",
            actor=self.ctx.actor,
            **(secret if kind == "ssh_key" else {"password": secret["password"]}),
        )


def register_method_ids(target_id: uuid.UUID, converted: list[dict[str, Any]]) -> None:
    """The connection methods just created keep their legacy ids (the legacy UI addresses
    methods by id; docs/legacy-bridge.md, "Legacy ids"): each is matched to its legacy method
    by protocol, host and port."""
    from apps.targets.interface import normalise_host, target_details
    from legacy_bridge.legacy_ids import register

    details = target_details([target_id]).get(target_id)
    if details is None:
        return
    free = list(details.methods)
    for method in converted:
        key = (method["protocol"], normalise_host(method["host"]), method["port"])
        found = next((m for m in free if (m.protocol, m.host, m.port) == key), None)
        if found is None:
            continue
        free.remove(found)
        try:
            register("methods", method["_legacy_id"], found.id)
        except ValueError:  # registered by hand meanwhile: the registry keeps what it has
            continue


def run(ctx: Context) -> None:
    from apps.targets.interface import target_import

    targets = ctx.report.table(TARGETS)
    ctx.report.table(METHODS)
    credentials = CredentialImporter(ctx)
    policy = ctx.options.host_key_policy
    sql = f"SELECT {TARGET_COLUMNS} FROM universal_targets ORDER BY id"  # noqa: S608
    for batch in ctx.legacy.batches(sql, size=BATCH):
        ids = [row["id"] for row in batch]
        methods_by_target: dict[int, list[dict]] = {}
        for method in ctx.legacy.all(
            "SELECT id, target_id, method_type, method_name, is_primary, is_active, priority, "
            "config FROM target_communication_methods WHERE target_id = ANY(%s) "
            "ORDER BY target_id, is_primary DESC, priority, id",
            (ids,),
        ):
            methods_by_target.setdefault(method["target_id"], []).append(method)
        method_ids = [m["id"] for ms in methods_by_target.values() for m in ms]
        credentials_by_method: dict[int, list[dict]] = {}
        for credential in ctx.legacy.all(
            "SELECT id, communication_method_id, credential_type, credential_name, is_primary, "
            "is_active, encrypted_credentials FROM target_credentials "
            "WHERE communication_method_id = ANY(%s) "
            "ORDER BY communication_method_id, is_active DESC, is_primary DESC, id",
            (method_ids,),
        ):
            credentials_by_method.setdefault(credential["communication_method_id"], []).append(
                credential
            )
        with batched(ctx, "targets") as tick:
            for row in batch:
                tick()
                try:
                    _import_target(
                        ctx,
                        row,
                        methods_by_target.get(row["id"], []),
                        credentials_by_method,
                        credentials,
                        target_import,
                    )
                except Exception as exc:  # data no rule foresaw: report it, go on
                    targets.fail(row["id"], describe_error(exc))
    if policy == "accept-new":
        targets.note(
            "imported SSH targets have the host-key policy accept-new: the first host key seen "
            "is trusted, a changed one is refused (--host-key-policy strict to approve each)"
        )
    else:
        targets.note(f"imported targets have the host-key policy {policy}")


def _import_target(ctx, row, legacy_methods, credentials_by_method, credentials, target_import):
    targets = ctx.report.table(TARGETS)
    methods_table = ctx.report.table(METHODS)
    credentials_table = ctx.report.table(CREDENTIALS)
    targets.read += 1
    new_id = target_id_for(row)
    digest = fingerprint(
        {
            "row": row,
            "methods": legacy_methods,
            "credentials": {
                m["id"]: credentials_by_method.get(m["id"], []) for m in legacy_methods
            },
        }
    )
    mapped = ctx.mapping.get(TARGETS, row["id"])
    present = mapped is not None
    converted: list[dict[str, Any]] = []
    for method in legacy_methods:
        methods_table.read += 1
        kind = (method["method_type"] or "").lower()
        rows = credentials_by_method.get(method["id"], [])
        credentials_table.read += len(rows)
        methods_table.count(f"type {kind or '?'}")
        if kind not in EXECUTION_METHODS:
            methods_table.skip(method["id"], f"{kind} is not a remote-execution method")
            for credential in rows:
                credentials_table.skip(credential["id"], f"belongs to a skipped {kind} method")
            continue
        if not method["is_active"]:
            methods_table.skip(method["id"], f"inactive {kind} method")
            for credential in rows:
                credentials_table.skip(credential["id"], "belongs to an inactive method")
            continue
        try:
            entry = convert_method(method)
        except RecordProblem as exc:
            methods_table.fail(method["id"], str(exc))
            continue
        usable = [c for c in rows if c["is_active"]]
        for credential in rows:
            if not credential["is_active"]:
                credentials_table.skip(credential["id"], "inactive credential")
        for credential in usable[1:]:
            credentials_table.skip(
                credential["id"], "the method has another (primary) credential: only one is used"
            )
        if present:
            if usable:
                credentials.already_imported(usable[0], entry["protocol"])
            methods_table.present_one()
            continue
        entry["credential_id"] = (
            credentials.credential_for(usable[0], entry["protocol"]) if usable else None
        )
        if usable and entry["credential_id"] is None:
            targets.note("some methods were imported without their credential (see failures)")
        entry["_legacy_id"] = method["id"]
        converted.append(entry)
    if present:
        targets.present_one(row["id"], changed=mapped.fingerprint != digest)
        return
    if converted and not any(m["is_primary"] for m in converted):
        converted[0]["is_primary"] = True
    elif sum(1 for m in converted if m["is_primary"]) > 1:
        first = next(m for m in converted if m["is_primary"])
        for m in converted:
            m["is_primary"] = m is first

    def create(target_id: uuid.UUID) -> bool:
        from apps.targets.interface import credential_allow_hosts

        fields = convert_target(row, converted, ctx.options.host_key_policy)
        # An imported credential may be sent only to the hosts it was used with in the legacy
        # system (its scope: docs/targets.md); widened here, host by host, before the target
        # that uses it is created (which checks the scope).
        for method in converted:
            if method.get("credential_id") is not None:
                credential_allow_hosts(
                    credential_id=method["credential_id"], hosts=[method["host"]], actor=ctx.actor
                )
        created = target_import(
            target_id=target_id,
            data=fields["data"],
            labels=fields["labels"],
            connection_methods=[
                {k: v for k, v in m.items() if not k.startswith("_")} for m in converted
            ],
            actor=ctx.actor,
        )
        if created:
            register_method_ids(target_id, converted)
        return created

    result = import_record(
        ctx,
        targets,
        legacy_table=TARGETS,
        legacy_id=row["id"],
        digest=digest,
        new_id=new_id,
        create=create,
    )
    for method in converted:
        if result is None:
            methods_table.fail(method["_legacy_id"], "its target failed to import")
        else:
            methods_table.imported_one()
    if not converted and legacy_methods:
        targets.note("some targets have no ssh/winrm method: imported without a connection method")
