"""Writes of the jobs context: create, change (a new version each time), revert, archive."""

from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from apps.jobs.definition import validate_definition
from apps.jobs.models import Job, JobParameter, JobStep, JobVersion
from opsconductor.api.errors import Conflict
from opsconductor.events import Actor, publish
from opsconductor.sealing import SealError, seal, unseal

DB = "jobs"
MASK = "********"
META_FIELDS = ("name", "description", "labels", "default_selector", "policy")


# --- Secrets in definitions ---------------------------------------------------------------------


def _split_sealed(data: Any) -> tuple[Any, dict[int, str]]:
    """Take ``default_sealed`` out of secret parameters (an export of this installation) so the
    rest can be validated; returns the data and {parameter index: sealed default}."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), list):
        return data, {}
    data = copy.deepcopy(data)
    sealed: dict[int, str] = {}
    for index, parameter in enumerate(data["parameters"]):
        if isinstance(parameter, dict) and "default_sealed" in parameter:
            token = parameter.pop("default_sealed")
            try:
                unseal(str(token))
            except SealError as exc:
                raise serializers.ValidationError(
                    {
                        f"parameters.{index}.default_sealed": [
                            "Cannot be opened with this installation's keys: give the secret's "
                            "default as `default` instead."
                        ]
                    }
                ) from exc
            sealed[index] = str(token)
    return data, sealed


def _seal_secret_defaults(definition: dict, sealed: dict[int, str]) -> dict:
    """The definition as stored: every secret default sealed, never in plain text."""
    for index, parameter in enumerate(definition["parameters"]):
        if parameter.get("type") != "secret":
            continue
        if "default" in parameter and parameter["default"] is not None:
            parameter["default_sealed"] = seal({"value": parameter.pop("default")})
        elif index in sealed:
            parameter["default_sealed"] = sealed[index]
        parameter.pop("default", None)
    return definition


def keep_masked_secrets(data: Any, current: dict) -> Any:
    """A definition sent back as GET showed it (secret defaults as the mask) keeps the stored
    secrets: the mask is replaced by the current sealed default of the same parameter."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), list):
        return data
    sealed = {
        p["name"]: p["default_sealed"]
        for p in current.get("parameters", [])
        if p.get("default_sealed")
    }
    data = copy.deepcopy(data)
    for parameter in data["parameters"]:
        if isinstance(parameter, dict) and parameter.get("default") == MASK:
            parameter.pop("default")
            if parameter.get("name") in sealed:
                parameter["default_sealed"] = sealed[parameter["name"]]
    return data


def prepare_definition(data: Any) -> dict:
    """Validate ``data`` (API body or import) into the stored form; ``ValidationError`` if bad."""
    data, sealed = _split_sealed(data)
    return _seal_secret_defaults(validate_definition(data), sealed)


def secret_default(parameter: dict) -> str | None:
    token = parameter.get("default_sealed")
    return unseal(token)["value"] if token else None


def masked(definition: dict) -> dict:
    """The definition for display: secret defaults shown as a mask, never sealed or plain."""
    shown = copy.deepcopy(definition)
    for parameter in shown.get("parameters", []):
        if parameter.pop("default_sealed", None):
            parameter["default"] = MASK
    return shown


# --- Diffs --------------------------------------------------------------------------------------


def _comparable(definition: dict) -> dict:
    """Secret defaults compared by a digest of their value (each sealing differs)."""
    result = copy.deepcopy(definition)
    for parameter in result.get("parameters", []):
        token = parameter.pop("default_sealed", None)
        if token:
            digest = hashlib.sha256(unseal(token)["value"].encode()).hexdigest()
            parameter["default"] = f"{MASK}#{digest}"
    return result


def _mask_value(value: Any) -> Any:
    return MASK if isinstance(value, str) and value.startswith(MASK) else value


def definition_diff(old: dict | None, new: dict) -> dict:
    """What changed from ``old`` to ``new``: top-level fields, and steps/parameters by name."""
    if old is None:
        return {"created": True}
    old, new = _comparable(old), _comparable(new)
    diff: dict[str, Any] = {}
    for key in META_FIELDS:
        if old.get(key) != new.get(key):
            diff[key] = {"from": old.get(key), "to": new.get(key)}
    for key in ("parameters", "steps"):
        before = {item["name"]: item for item in old.get(key, [])}
        after = {item["name"]: item for item in new.get(key, [])}
        changed = {
            name: {
                field: {
                    "from": _mask_value(before[name].get(field)),
                    "to": _mask_value(after[name].get(field)),
                }
                for field in sorted(set(before[name]) | set(after[name]))
                if before[name].get(field) != after[name].get(field)
            }
            for name in after
            if name in before and before[name] != after[name]
        }
        section = {
            "added": [name for name in after if name not in before],
            "removed": [name for name in before if name not in after],
            "changed": changed,
        }
        kept_before = [name for name in before if name in after]
        kept_after = [name for name in after if name in before]
        if kept_before != kept_after:
            section["reordered"] = {"from": kept_before, "to": kept_after}
        if section["added"] or section["removed"] or changed or "reordered" in section:
            diff[key] = section
    return diff


# --- Jobs ---------------------------------------------------------------------------------------


def current_definition(job: Job) -> dict:
    loaded = getattr(job, "loaded_definition", None)  # selectors.jobs() loads it with the job
    if loaded is not None:
        return copy.deepcopy(loaded)
    version = job.versions.using(DB).order_by("-number").first()
    return copy.deepcopy(version.definition) if version else {}


def _write_current(job: Job, definition: dict) -> None:
    for field in META_FIELDS:
        setattr(job, field, definition[field])
    job.save(using=DB)
    JobStep.objects.using(DB).filter(job=job).delete()
    JobParameter.objects.using(DB).filter(job=job).delete()
    JobStep.objects.using(DB).bulk_create(
        JobStep(job=job, position=index, **step) for index, step in enumerate(definition["steps"])
    )
    JobParameter.objects.using(DB).bulk_create(
        JobParameter(job=job, position=index, name=parameter["name"], spec=parameter)
        for index, parameter in enumerate(definition["parameters"])
    )


def _new_version(job: Job, definition: dict, diff: dict, actor: Actor, message: str) -> JobVersion:
    job.latest_version += 1
    job.save(using=DB, update_fields=["latest_version", "updated_at"])
    return JobVersion.objects.using(DB).create(
        job=job,
        number=job.latest_version,
        definition=definition,
        diff=diff,
        message=message[:500],
        created_by_id=actor.user_id,
        created_by_name=actor.name,
    )


def _unique_name(name: str, *, exclude: Job | None = None) -> None:
    taken = Job.objects.using(DB).filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise serializers.ValidationError({"name": [f"A job named {name!r} already exists."]})


def _event(job: Job, version: JobVersion | None, **extra: Any) -> dict:
    payload = {"job_id": str(job.pk), "name": job.name, **extra}
    if version is not None:
        payload["version"] = version.number
        payload["diff"] = version.diff
    return payload


def job_create(
    *,
    data: Any,
    actor: Actor,
    message: str = "",
    pk: uuid.UUID | None = None,
    publish_event: bool = True,
) -> Job:
    definition = prepare_definition(data)
    with transaction.atomic(using=DB):
        _unique_name(definition["name"])
        job = Job(
            owner_id=actor.user_id,
            owner_name=actor.name,
            **{field: definition[field] for field in META_FIELDS},
        )
        if pk is not None:  # an import keeps the id it derived from the source row
            job.pk = pk
        job.save(using=DB, force_insert=True)
        _write_current(job, definition)
        version = _new_version(job, definition, definition_diff(None, definition), actor, message)
        if publish_event:
            publish("jobs.job.created", _event(job, version), actor=actor)
    return job


def job_update(*, job: Job, data: Any, actor: Actor, message: str = "") -> tuple[Job, bool]:
    """Replace the definition; a new version when anything changed. Returns (job, changed)."""
    definition = prepare_definition(keep_masked_secrets(data, current_definition(job)))
    with transaction.atomic(using=DB):
        locked = Job.objects.using(DB).select_for_update().get(pk=job.pk)
        if locked.is_archived:
            raise Conflict("The job is archived: unarchive it before changing it.")
        _unique_name(definition["name"], exclude=locked)
        diff = definition_diff(current_definition(locked), definition)
        if not diff:
            return locked, False
        _write_current(locked, definition)
        version = _new_version(locked, definition, diff, actor, message)
        publish("jobs.job.updated", _event(locked, version), actor=actor)
    return locked, True


def job_revert(*, job: Job, number: int, actor: Actor) -> Job:
    """Make version ``number`` current again, as a new version."""
    source = JobVersion.objects.using(DB).filter(job=job, number=number).first()
    if source is None:
        raise serializers.ValidationError({"version": [f"The job has no version {number}."]})
    with transaction.atomic(using=DB):
        locked = Job.objects.using(DB).select_for_update().get(pk=job.pk)
        if locked.is_archived:
            raise Conflict("The job is archived: unarchive it before changing it.")
        definition = copy.deepcopy(source.definition)
        definition["name"] = locked.name  # a rename is not undone by a revert
        diff = definition_diff(current_definition(locked), definition)
        if not diff:
            return locked
        _write_current(locked, definition)
        version = _new_version(locked, definition, diff, actor, f"Revert to version {number}")
        publish("jobs.job.reverted", _event(locked, version, reverted_to=number), actor=actor)
    return locked


def job_set_archived(
    *,
    job: Job,
    archived: bool,
    actor: Actor,
    at: datetime | None = None,
    publish_event: bool = True,
) -> Job:
    with transaction.atomic(using=DB):
        locked = Job.objects.using(DB).select_for_update().get(pk=job.pk)
        if locked.is_archived == archived:
            return locked
        locked.archived_at = (at or timezone.now()) if archived else None
        locked.save(using=DB, update_fields=["archived_at", "updated_at"])
        verb = "archived" if archived else "unarchived"
        if publish_event:
            publish(f"jobs.job.{verb}", _event(locked, None), actor=actor)
    return locked


def job_clone(*, job: Job, name: str, actor: Actor) -> Job:
    definition = current_definition(job)
    definition["name"] = name
    return job_create(data=definition, actor=actor, message=f"Cloned from {job.name}")


def job_delete(*, job: Job, actor: Actor) -> None:
    """Delete a job that never ran. A job with runs is archived instead: its runs keep their
    snapshot, but the history of who defined what would lose its subject."""
    from apps.execution.interface import job_has_runs
    from apps.scheduling.interface import schedules_of_job

    if job_has_runs(job.pk):
        raise Conflict(
            "This job has runs; archive it instead (POST .../archive/) to keep their history."
        )
    if schedules := schedules_of_job(job.pk):
        raise Conflict(
            f"{len(schedules)} schedule(s) run this job; delete them first "
            "(GET /api/v1/schedules/?job=<id>)."
        )
    with transaction.atomic(using=DB):
        payload = _event(job, None, versions=job.latest_version)
        Job.objects.using(DB).filter(pk=job.pk).delete()
        publish("jobs.job.deleted", payload, actor=actor)
