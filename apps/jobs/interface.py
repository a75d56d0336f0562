"""The only module of the jobs app other apps may import.

The jobs context owns job definitions: ordered steps, typed parameters, versions and
validation. Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobSnapshot:
    """One version of a job, whole: what a run freezes. Secret defaults stay sealed."""

    job_id: uuid.UUID
    name: str
    version: int
    definition: dict[str, Any]
    archived: bool


def job_snapshot(job_id: uuid.UUID, version: int | None = None) -> JobSnapshot | None:
    """Version ``version`` (default: the latest) of a job, or None if either does not exist."""
    from apps.jobs.models import Job, JobVersion

    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return None
    number = version or job.latest_version
    row = JobVersion.objects.filter(job=job, number=number).first()
    if row is None:
        return None
    return JobSnapshot(
        job_id=job.pk,
        name=job.name,
        version=row.number,
        definition=row.definition,
        archived=job.is_archived,
    )


def resolve_parameters(snapshot: JobSnapshot, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the snapshot's parameters, defaults applied (secret ones
    unsealed). Raises ``django.core.exceptions.ValidationError`` keyed by parameter name."""
    from apps.jobs.parameters import validate_values
    from apps.jobs.selectors import parameter_specs
    from apps.targets.interface import validate_selector

    return validate_values(
        parameter_specs(snapshot.definition), values, selector_validator=validate_selector
    )


def render_steps(
    snapshot: JobSnapshot, values: dict[str, Any], *, os_family: str
) -> list[dict[str, Any]]:
    """The snapshot's steps for a target of ``os_family`` with ``values`` quoted for its shell.
    The result holds secret values in plain text: only a worker may hold it."""
    from apps.jobs.selectors import render_steps as render

    return render(snapshot.definition, values, os_family=os_family)


def secret_values(snapshot: JobSnapshot, values: dict[str, Any]) -> list[str]:
    """The values of the snapshot's secret parameters, to mask in any output."""
    secret_names = {p["name"] for p in snapshot.definition["parameters"] if p["type"] == "secret"}
    return [str(values[name]) for name in secret_names if values.get(name)]


MASK = "********"


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret (also in the quoted forms a rendered
    command gives it) replaced by ``MASK``; overlapping occurrences become one mask."""
    from apps.jobs.parameters import mask as mask_text

    return mask_text(text, secrets, MASK)


def secret_forms(secrets: list[str]) -> set[str]:
    """Every form ``mask`` looks for: each secret raw and as quoted in a rendered command."""
    from apps.jobs.parameters import _quoted_forms

    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _quoted_forms(secret)
    return forms


def run_policy(snapshot: JobSnapshot, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The snapshot's run policy with ``overrides`` (a subset of its fields) applied and
    checked. Raises ``rest_framework.exceptions.ValidationError`` keyed by policy field."""
    from rest_framework import serializers

    from apps.jobs.definition import PolicySerializer

    if overrides is not None and not isinstance(overrides, dict):
        raise serializers.ValidationError({"policy": ["Expected an object."]})
    serializer = PolicySerializer(data={**snapshot.definition["policy"], **(overrides or {})})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
