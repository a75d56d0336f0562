"""``/api/v3/targets``: the legacy UI's targets pages (T1-T11), served by the targets app.

Legacy ``is_active = false`` (the legacy soft delete) is our status ``inactive`` (the importer
maps it so): such targets are left out of the list and answer 404, as deleted legacy targets
did. Health in the legacy vocabulary: ``healthy``, ``warning`` (host key not trusted yet),
``critical`` (unreachable, authentication failed, host key changed, refused, error) and
``unknown`` (never checked here: the legacy health the importer kept, if any).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.targets.interface import (
    MethodCheck,
    TargetDetails,
    connection_config_check_as,
    connection_method_check_as,
    connection_method_delete_as,
    connection_method_write_as,
    normalise_host,
    target_delete_as,
    target_details,
    target_ids_ordered,
    target_write_as,
    targets_check_health_as,
)
from legacy_bridge import legacy_ids
from legacy_bridge.adapters.common import (
    NO_BODY,
    actor,
    answer,
    body,
    detail,
    empty_as_null,
    endpoint,
    from_validation,
    invalid,
    new_id,
    object_body,
    path_int,
    when,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.responses import field_error
from opsconductor.roles import Role, has_role

HIDDEN = ("inactive",)  # the legacy soft delete
LEGACY_HEALTH = {
    "healthy": "healthy",
    "unknown": "unknown",
    "host_key_unknown": "warning",
}
CREDENTIAL_TYPES = {"password": "password", "winrm": "password", "ssh_key": "ssh_key"}

area = Area(
    "legacy-targets",
    "/api/v3/targets: list, show, delete, create and edit targets with their communication "
    "methods, test a method, check health, in the legacy shapes, through the targets app.",
    root="/api/v3/targets",
)


def not_found(number) -> dict:
    return detail(404, f"Target with ID {number} not found")


def health(target: TargetDetails) -> str:
    if target.health_status == "unknown":
        legacy = target.labels.get("legacy.health")
        return legacy if legacy in ("healthy", "warning", "critical", "unknown") else "unknown"
    return LEGACY_HEALTH.get(target.health_status, "critical")


def serial(target: TargetDetails, legacy_id: int) -> str:
    return target.labels.get("legacy.serial") or f"TGT-{legacy_id:06d}"


def list_item(target: TargetDetails, legacy_id: int) -> dict:
    primary = target.methods[0] if target.methods else None
    return {
        "id": legacy_id,
        "target_uuid": str(target.id),
        "target_serial": serial(target, legacy_id),
        "name": target.name,
        "target_type": target.labels.get("legacy.type", "system"),
        "os_type": target.os_family,
        "environment": target.environment,
        "status": target.status,
        "health_status": health(target),
        "ip_address": primary.host if primary else None,
        "primary_method": primary.protocol if primary else None,
        "communication_methods_count": len(target.methods),
        "is_valid": True,
        "created_at": when(target.created_at),
        "updated_at": when(target.updated_at),
        # not in the legacy list, but the legacy UI's list shows it
        "description": empty_as_null(target.description),
    }


def full(target: TargetDetails, legacy_id: int) -> dict:
    method_ids = legacy_ids.legacy_ids_for("methods", [m.id for m in target.methods])
    credential_ids = legacy_ids.legacy_ids_for(
        "credentials", [m.credential.id for m in target.methods if m.credential]
    )
    methods = []
    for index, method in enumerate(target.methods, start=1):
        method_id = method_ids[method.id]
        credentials = []
        if method.credential is not None:
            credential = method.credential
            credentials.append(
                {
                    "credential_type": CREDENTIAL_TYPES.get(credential.kind, credential.kind),
                    "credential_name": credential.name,
                    "id": credential_ids[credential.id],
                    "communication_method_id": method_id,
                    "is_primary": True,
                    "is_active": True,
                    "created_at": when(credential.created_at),
                    "updated_at": when(credential.updated_at),
                    # the legacy UI shows the username from here; never a secret
                    "encrypted_credentials": {"username": method.username or credential.username},
                }
            )
        methods.append(
            {
                "method_type": method.protocol,
                "is_primary": method.is_primary,
                "is_active": True,
                "priority": method.priority,
                "config": {"host": method.host, "port": method.port},
                "id": method_id,
                "target_id": legacy_id,
                "method_name": f"{method.protocol}_{index}",
                "created_at": when(method.created_at),
                "updated_at": when(method.updated_at),
                "credentials": credentials,
            }
        )
    return {
        "name": target.name,
        "target_type": target.labels.get("legacy.type", "system"),
        "description": empty_as_null(target.description),
        "os_type": target.os_family,
        "environment": target.environment,
        "location": empty_as_null(target.location),
        "data_center": empty_as_null(target.data_center),
        "region": empty_as_null(target.region),
        "status": target.status,
        "id": legacy_id,
        "target_uuid": str(target.id),
        "target_serial": serial(target, legacy_id),
        "is_active": True,
        "health_status": health(target),
        "created_at": when(target.created_at),
        "updated_at": when(target.updated_at),
        "communication_methods": methods,
    }


def visible_target(target_id: str) -> tuple[int, TargetDetails | None]:
    number = path_int(target_id, "target_id")
    found = new_id("targets", number)
    target = target_details([found]).get(found) if found else None
    if target is not None and target.status in HIDDEN:
        target = None
    return number, target


@area.endpoint("GET", r"/", calls="T1", example="/", role=Role.VIEWER)
@endpoint
def target_list(request):
    ids = target_ids_ordered(exclude_statuses=HIDDEN)
    details = target_details(ids)
    legacy = legacy_ids.legacy_ids_for("targets", ids)
    return answer([list_item(details[i], legacy[i]) for i in ids if i in details])


@area.endpoint(
    "POST", r"/health-check-batch", calls="T11", example="/health-check-batch", role=Role.OPERATOR
)
@endpoint
def health_check_batch(request):
    """A list of legacy target ids in the body; no body (what the legacy UI's button sends):
    every target shown in the list. The checks run on the workers."""
    data = body(request, required=False)
    if data is NO_BODY:
        ids = target_ids_ordered(exclude_statuses=HIDDEN)
    else:
        if not isinstance(data, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in data
        ):
            raise invalid(
                field_error(
                    ("body",), "Input should be a valid list of integers", "list_type", input=data
                )
            )
        ids, missing = [], []
        for number in data:
            found = new_id("targets", number)
            (ids if found else missing).append(found or number)
        if missing:
            return detail(404, f"Target with ID {missing[0]} not found")
    try:
        batch_id = targets_check_health_as(target_ids=ids, actor=actor(request)) if ids else None
    except ValidationError as exc:
        return from_validation(exc).response
    return answer(
        {
            "results": {
                "checked": len(ids),
                "status_changes": 0,  # the checks run on the workers: see the list afterwards
                "batch_id": str(batch_id) if batch_id else None,
            }
        }
    )


@area.endpoint("GET", r"/(?P<target_id>[^/]+)", calls="T2", example="/1", role=Role.VIEWER)
@endpoint
def target_detail(request, target_id):
    number, target = visible_target(target_id)
    if target is None:
        return not_found(number)
    return answer(full(target, number))


@area.endpoint("DELETE", r"/(?P<target_id>[^/]+)", calls="T3", example="/1", role=Role.MANAGER)
@endpoint
def target_delete(request, target_id):
    number, target = visible_target(target_id)
    if target is None or not target_delete_as(target_id=target.id, actor=actor(request)):
        return not_found(number)
    return answer({"message": "Target deleted successfully"})


# --- writes: T4, T5, T8-T10 -----------------------------------------------------------------------

TARGET_FIELDS = {
    "name": "name",
    "description": "description",
    "os_type": "os_family",
    "environment": "environment",
    "location": "location",
    "data_center": "data_center",
    "region": "region",
    "status": "status",
}
CREDENTIALS_NEED_ADMIN = (
    "Administrator access required: only an administrator may store a password or key. Save "
    "the target without one, or ask an administrator."
)


def _legacy_loc(key: str) -> str:
    """A field of the new system's error as the legacy client named it."""
    if key == "os_family":
        return "os_type"
    if not key.startswith("connection_methods."):
        return key
    parts = key.split(".")
    index, rest = parts[1], parts[2:]
    mapped = {
        "host": ["config", "host"],
        "port": ["config", "port"],
        "protocol": ["method_type"],
    }.get(rest[0] if rest else "", rest)
    if rest and rest[0] == "credential":
        field = {"private_key": "ssh_key"}.get(rest[-1], rest[-1])
        mapped = ["credentials", "0", "encrypted_credentials", field]
    return ".".join(["communication_methods", index, *mapped])


def _invalid_write(exc: ValidationError):
    messages = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return from_validation(ValidationError({_legacy_loc(k): v for k, v in messages.items()}))


def _text(data: dict, key: str, where: tuple) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(
            field_error((*where, key), "Input should be a valid string", "string_type", input=value)
        )
    return value


def _new_credential(method: dict, index: int, *, where: tuple | None = None) -> dict | None:
    """The secret a legacy method brings (its first credential with a password or a key), as
    a new credential; None when it brings none."""
    where = where or ("body", "communication_methods", index, "credentials")
    credentials = method.get("credentials") or []
    if not isinstance(credentials, list):
        raise invalid(field_error(where, "Input should be a valid list", "list_type"))
    for position, credential in enumerate(credentials):
        if not isinstance(credential, dict) or credential.get("is_active") is False:
            continue
        sealed = credential.get("encrypted_credentials") or {}
        if not isinstance(sealed, dict):
            raise invalid(
                field_error(
                    (*where, position, "encrypted_credentials"),
                    "Input should be a valid dictionary",
                    "dict_type",
                )
            )
        key = sealed.get("ssh_key") or sealed.get("private_key")
        kind = "ssh_key" if credential.get("credential_type") == "ssh_key" or key else "password"
        if kind == "ssh_key" and key:
            return {
                "kind": "ssh_key",
                "username": sealed.get("username") or "",
                "private_key": key,
                "passphrase": sealed.get("ssh_passphrase") or sealed.get("passphrase") or None,
            }
        if kind == "password" and sealed.get("password"):
            return {
                "kind": "password",
                "username": sealed.get("username") or "",
                "password": sealed["password"],
            }
    return None


def _method(method, index: int, *, creating: bool, where: tuple | None = None) -> dict:
    """A legacy communication method as one method of ``target_write_as``."""
    where = where or ("body", "communication_methods", index)
    if not isinstance(method, dict):
        raise invalid(field_error(where, "Input should be a valid dictionary", "dict_type"))
    method_type = (_text(method, "method_type", where) or "").lower()
    if method_type not in ("ssh", "winrm"):
        raise invalid(
            field_error(
                (*where, "method_type"),
                "Only ssh and winrm methods are supported (the remote-execution methods).",
                input=method.get("method_type"),
            )
        )
    config = method.get("config") or {}
    if not isinstance(config, dict):
        raise invalid(
            field_error((*where, "config"), "Input should be a valid dictionary", "dict_type")
        )
    host = config.get("host")
    if not isinstance(host, str) or not host.strip():
        raise invalid(
            field_error((*where, "config", "host"), "Field required", "missing", input=config)
        )
    port = config.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        try:
            port = int(str(port))
        except ValueError:
            raise invalid(
                field_error(
                    (*where, "config", "port"),
                    "Input should be a valid integer",
                    "int_parsing",
                    input=port,
                )
            ) from None
    values = {"protocol": method_type, "host": host.strip(), "port": port}
    if isinstance(method.get("is_primary"), bool):
        values["is_primary"] = method["is_primary"]
    credential = _new_credential(method, index, where=(*where, "credentials"))
    if credential is not None:
        values["credential"] = credential
    elif creating:
        values["credential"] = None
    return values


def _target_data(data: dict) -> tuple[dict, dict]:
    values = {}
    for legacy, ours in TARGET_FIELDS.items():
        value = _text(data, legacy, ("body",))
        if value is not None:
            values[ours] = value
    labels = {}
    target_type = _text(data, "target_type", ("body",))
    if target_type:
        labels["legacy.type"] = target_type
    return values, labels


def _legacy_methods(data: dict) -> list:
    methods = data.get("communication_methods")
    if methods is None:
        methods = []
    if not isinstance(methods, list):
        raise invalid(
            field_error(
                ("body", "communication_methods"), "Input should be a valid list", "list_type"
            )
        )
    if not methods and data.get("ip_address"):
        # the create dialog's flat fields, when it sends no method list
        methods = [
            {
                "method_type": data.get("method_type") or "ssh",
                "config": {"host": data["ip_address"]},
                "is_primary": True,
                "credentials": [
                    {
                        "credential_type": "ssh_key" if data.get("ssh_key") else "password",
                        "encrypted_credentials": {
                            "username": data.get("username"),
                            "password": data.get("password"),
                            "ssh_key": data.get("ssh_key"),
                            "ssh_passphrase": data.get("ssh_passphrase"),
                        },
                    }
                ],
            }
        ]
    return methods


def _may_store_credentials(request, methods: list[dict]) -> bool:
    return has_role(request.user, Role.ADMIN) or not any(
        isinstance(m.get("credential"), dict) for m in methods
    )


def _written(target_uuid):
    details = target_details([target_uuid]).get(target_uuid)
    legacy_id = legacy_ids.legacy_id_for("targets", target_uuid)
    return answer(full(details, legacy_id))


def _write(request, *, target_uuid=None, data, labels, methods):
    from rest_framework.exceptions import PermissionDenied

    if methods is not None and not _may_store_credentials(request, methods):
        return detail(403, CREDENTIALS_NEED_ADMIN)
    try:
        written = target_write_as(
            actor=actor(request), target_id=target_uuid, data=data, labels=labels, methods=methods
        )
    except ValidationError as exc:
        return _invalid_write(exc).response
    except PermissionDenied as exc:
        return detail(403, str(exc.detail))
    except LookupError:
        return None
    return _written(written)


@area.endpoint("POST", r"/comprehensive", calls="T4", example="/comprehensive", role=Role.MANAGER)
@endpoint
def target_create(request):
    data = object_body(request)
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise invalid(field_error(("body", "name"), "Field required", "missing", input=data))
    values, labels = _target_data(data)
    methods = [_method(m, i, creating=True) for i, m in enumerate(_legacy_methods(data))]
    if methods and not any(m.get("is_primary") for m in methods):
        methods[0]["is_primary"] = True
    return _write(request, data=values, labels=labels, methods=methods)


@area.endpoint(
    "PUT",
    r"/(?P<target_id>[^/]+)/comprehensive",
    calls="T5",
    example="/1/comprehensive",
    role=Role.MANAGER,
)
@endpoint
def target_update(request, target_id):
    data = object_body(request)
    number, target = visible_target(target_id)
    if target is None:
        return not_found(number)
    values, labels = _target_data(data)
    methods = None
    if "communication_methods" in data:
        methods = []
        free = list(target.methods)
        legacy_of = legacy_ids.legacy_ids_for("methods", [m.id for m in free])
        for index, sent in enumerate(_legacy_methods(data)):
            method = _method(sent, index, creating=False)
            found = None
            if isinstance(sent.get("id"), int):
                found = next((m for m in free if legacy_of[m.id] == sent["id"]), None)
            if found is None:
                key = (method["protocol"], normalise_host(method["host"]), method["port"])
                found = next(
                    (m for m in free if (m.protocol, m.host, m.port) == key
                     or (key[2] is None and (m.protocol, m.host) == key[:2])),
                    None,
                ) or next(
                    # the one method of that protocol, edited (a new address)
                    (m for m in free if m.protocol == key[0]), None
                )  # fmt: skip
            if found is not None:
                free.remove(found)
                method["id"] = found.id
            elif "credential" not in method:
                method["credential"] = None
            methods.append(method)
    response = _write(request, target_uuid=target.id, data=values, labels=labels, methods=methods)
    return response if response is not None else not_found(number)


def _method_of(target: TargetDetails, legacy_id: int, method_uuid) -> dict | None:
    shaped = full(target, legacy_id)
    wanted = legacy_ids.legacy_id_for("methods", method_uuid)
    return next((m for m in shaped["communication_methods"] if m["id"] == wanted), None)


def _visible_method(target_id: str, method_id: str):
    number, target = visible_target(target_id)
    method_number = path_int(method_id, "method_id")
    method_uuid = new_id("methods", method_number)
    if target is not None and not any(m.id == method_uuid for m in target.methods):
        method_uuid = None
    return number, target, method_number, method_uuid


def method_not_found(number) -> dict:
    return detail(404, f"Communication method with ID {number} not found")


def _method_write(request, number, target, method_uuid, values):
    from rest_framework.exceptions import PermissionDenied

    if not _may_store_credentials(request, [values]):
        return detail(403, CREDENTIALS_NEED_ADMIN)
    try:
        written = connection_method_write_as(
            actor=actor(request), target_id=target.id, method_id=method_uuid, data=values
        )
    except ValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {}
        return _invalid_write(
            ValidationError({f"connection_methods.0.{k}": v for k, v in messages.items()})
        ).response
    except PermissionDenied as exc:
        return detail(403, str(exc.detail))
    except LookupError:
        return not_found(number)
    fresh = target_details([target.id])[target.id]
    return answer(_method_of(fresh, number, written))


@area.endpoint(
    "POST",
    r"/(?P<target_id>[^/]+)/communication-methods",
    calls="T8",
    example="/1/communication-methods",
    role=Role.MANAGER,
)
@endpoint
def method_create(request, target_id):
    data = object_body(request)
    number, target = visible_target(target_id)
    if target is None:
        return not_found(number)
    values = _method(data, 0, creating=True)
    return _method_write(request, number, target, None, values)


@area.endpoint(
    "PUT",
    r"/(?P<target_id>[^/]+)/communication-methods/(?P<method_id>[^/]+)",
    calls="T9",
    example="/1/communication-methods/1",
    role=Role.MANAGER,
)
@endpoint
def method_update(request, target_id, method_id):
    """The legacy UI sends ``{"is_primary": true}`` (set as primary); a whole method changes
    it all."""
    data = object_body(request)
    number, target, method_number, method_uuid = _visible_method(target_id, method_id)
    if target is None:
        return not_found(number)
    if method_uuid is None:
        return method_not_found(method_number)
    if set(data) <= {"is_primary", "is_active", "priority"}:
        values = {k: data[k] for k in ("is_primary",) if isinstance(data.get(k), bool)}
    else:
        values = _method(data, 0, creating=False)
    return _method_write(request, number, target, method_uuid, values)


@area.endpoint(
    "DELETE",
    r"/(?P<target_id>[^/]+)/communication-methods/(?P<method_id>[^/]+)",
    calls="T10",
    example="/1/communication-methods/1",
    role=Role.MANAGER,
)
@endpoint
def method_delete(request, target_id, method_id):
    number, target, method_number, method_uuid = _visible_method(target_id, method_id)
    if target is None:
        return not_found(number)
    if method_uuid is None or not connection_method_delete_as(
        actor=actor(request), target_id=target.id, method_id=method_uuid
    ):
        return method_not_found(method_number)
    return answer({"message": "Communication method deleted successfully"})


# --- T7: test one saved method ---------------------------------------------------------------


def _test_result(check: MethodCheck, *, saved: bool = True) -> dict:
    """A method check in the shape the legacy UI reads (its test dialogs show ``message``,
    ``method_type``, ``host``:``port``, ``username``, ``credential_type``, ``test_duration``
    followed by "ms", ``debug_info`` as text and ``details`` as JSON). Never a secret."""
    host_key = None
    if check.host_key_verdict is not None:
        host_key = {"state": check.host_key_verdict, "fingerprint": check.host_key_fingerprint}
    return {
        "success": check.ok,
        "message": check.message,
        "host": check.host,
        "port": check.port,
        "method_type": check.protocol,
        "test_duration": check.duration_ms,
        "details": {
            "status": check.status,
            "host_key": host_key,
            "health_check_id": str(check.check_id) if check.check_id else None,
            "checked_at": when(check.checked_at),
        },
        "username": check.username or None,
        "credential_type": (
            CREDENTIAL_TYPES.get(check.credential_kind, check.credential_kind)
            if check.credential_kind
            else None
        ),
        "debug_info": (
            f"{f'health check {check.check_id}' if saved else 'configuration not saved'}: "
            f"{check.status} ({check.protocol} {check.host}:{check.port}, "
            f"host key {check.host_key_verdict or 'not checked'})"
        ),
    }


@area.endpoint(
    "POST",
    r"/(?P<target_id>[^/]+)/communication-methods/(?P<method_id>[^/]+)/test",
    calls="T7",
    example="/1/communication-methods/1/test",
    role=Role.OPERATOR,  # who may run a health check (POST /api/v1/targets/{id}/check/)
)
@endpoint
def method_test(request, target_id, method_id):
    """Check this one saved method now, as a health check does (the UI's ``?cache=`` is
    ignored). A failed check is still a 200 with ``success: false``: the UI reads ``success``
    and shows ``message``."""
    number, target, method_number, method_uuid = _visible_method(target_id, method_id)
    if target is None:
        return not_found(number)
    if method_uuid is None:
        return method_not_found(method_number)
    try:
        check = connection_method_check_as(
            target_id=target.id, method_id=method_uuid, actor=actor(request)
        )
    except LookupError:  # deleted meanwhile
        return method_not_found(method_number)
    return answer(_test_result(check))


# --- T6: test a configuration not saved yet --------------------------------------------------


@area.endpoint(
    "POST",
    r"/test-method-config",
    calls="T6",
    example="/test-method-config",
    role=Role.MANAGER,  # the create and edit dialogs it is called from: who may change targets
)
@endpoint
def method_config_test(request):
    """Check a method typed into the create or edit dialog, with the credential typed there,
    before anything is saved (``connection_config_check_as``). The answer is T7's shape; a
    failed check is still a 200 with ``success: false``. A host key this system has never
    trusted is reported with its fingerprint and the credential is not sent (docs/legacy-
    bridge.md, T6). Never a secret in the answer, the logs or the event."""
    data = object_body(request)
    method = dict(data)
    if isinstance(method.get("credentials"), dict):  # one credential here, a list in T4
        method["credentials"] = [method["credentials"]]
    values = _method(method, 0, creating=True, where=("body",))
    credential = values.get("credential") or {}
    try:
        check = connection_config_check_as(
            protocol=values["protocol"],
            host=values["host"],
            port=values.get("port"),
            username=credential.get("username", ""),
            credential_kind=credential.get("kind"),
            password=credential.get("password"),
            private_key=credential.get("private_key"),
            passphrase=credential.get("passphrase"),
            actor=actor(request),
        )
    except ValidationError as exc:
        raise from_validation(
            exc,
            {
                "protocol": "method_type",
                "host": "config.host",
                "port": "config.port",
                "credential": "credentials.encrypted_credentials",
            },
        ) from None
    return answer(_test_result(check, saved=False))


area.register()
