"""``/api/v3/targets``: the legacy UI's targets pages (T1-T11), served by the targets app.

Legacy ``is_active = false`` (the legacy soft delete) is our status ``inactive`` (the importer
maps it so): such targets are left out of the list and answer 404, as deleted legacy targets
did. Health in the legacy vocabulary: ``healthy``, ``warning`` (host key not trusted yet),
``critical`` (unreachable, authentication failed, host key changed, refused, error) and
``unknown`` (never checked here: the legacy health the importer kept, if any).
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError

from apps.targets.interface import (
    TargetDetails,
    target_delete_as,
    target_details,
    target_ids_ordered,
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
    path_int,
    when,
)
from legacy_bridge.adapters.registry import Area
from legacy_bridge.responses import field_error
from opsconductor.roles import Role

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


def _uuid(value) -> uuid.UUID:
    return uuid.UUID(str(value))


area.register()
