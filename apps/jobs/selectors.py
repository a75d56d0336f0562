"""Reads of the jobs context, including the plan of what a run would do."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import JSONField, OuterRef, QuerySet, Subquery

from apps.jobs.definition import NUMERIC_TYPES
from apps.jobs.models import Job, JobVersion
from apps.jobs.parameters import ParameterSpec, mask, validate_values
from apps.jobs.rendering import PathError, TemplateError, render, render_path, render_plain
from apps.jobs.services import current_definition, secret_default

DB = "jobs"
SHELL_FOR_FAMILY = {"linux": "posix", "windows": "powershell"}
SHELL_FOR_INTERPRETER = {"sh": "posix", "bash": "posix", "powershell": "powershell"}


def jobs() -> QuerySet[Job]:
    """Jobs with their current definition loaded in the same query (``current_definition``)."""
    latest = JobVersion.objects.filter(job=OuterRef("pk"), number=OuterRef("latest_version"))
    return Job.objects.annotate(
        loaded_definition=Subquery(latest.values("definition")[:1], output_field=JSONField())
    )


def job_versions(*, job: Job) -> QuerySet[JobVersion]:
    return JobVersion.objects.using(DB).filter(job=job).order_by("-number")


def parameter_specs(definition: dict) -> list[ParameterSpec]:
    """The definition's parameters, with secret defaults unsealed (for resolving values only)."""
    specs = []
    for parameter in definition.get("parameters", []):
        data = {k: v for k, v in parameter.items() if k != "default_sealed"}
        if parameter.get("default_sealed"):
            data["default"] = secret_default(parameter)
        specs.append(ParameterSpec.from_dict(data))
    return specs


def render_steps(definition: dict, values: dict[str, Any], *, os_family: str) -> list[dict]:
    """Each step as it would run on a target of ``os_family``, values quoted for its shell.

    Steps for the other OS family come back ``skipped`` with the reason. The result holds
    secret values in plain text: mask it before showing it to anyone. ``PathError`` (naming
    the parameter) when a value would take an upload path out of its directory.
    """
    numeric = {p["name"] for p in definition.get("parameters", []) if p["type"] in NUMERIC_TYPES}
    steps = []
    for number, step in enumerate(definition["steps"], start=1):
        out: dict[str, Any] = {"name": step["name"], "kind": step["kind"]}
        if step["os_family"] not in ("any", os_family):
            out.update(skipped=True, reason=f"step is for {step['os_family']} targets")
            steps.append(out)
            continue
        out["skipped"] = False
        if step["kind"] == "command":
            out["command"] = render(
                step["command"], values, shell=SHELL_FOR_FAMILY[os_family], numeric=numeric
            )
        elif step["kind"] == "script":
            out["interpreter"] = step["interpreter"]
            shell = SHELL_FOR_INTERPRETER.get(step["interpreter"])
            out["script"] = (
                render(step["script"], values, shell=shell, numeric=numeric)
                if shell
                else step["script"]
            )
        else:
            out["path"] = _upload_path(step, number, values)
            out["mode"] = step["mode"]
            out["content"] = render_plain(step["content"], values)
        out["env"] = {key: render_plain(value, values) for key, value in step["env"].items()}
        out["workdir"] = render_plain(step["workdir"], values)
        out["timeout_seconds"] = step["timeout_seconds"]
        out["continue_on_error"] = step["continue_on_error"]
        steps.append(out)
    return steps


def _upload_path(step: dict, number: int, values: dict[str, Any]) -> str:
    try:
        return render_path(step["path"], values)
    except PathError as exc:
        raise PathError(
            f"step {number} ({step['name']}), path: {exc.message}", exc.position, exc.name
        ) from None


def path_problems(definition: dict, values: dict[str, Any]) -> dict[str, list[str]]:
    """Why ``values`` cannot be used for the definition's upload paths, by parameter name
    (empty when they can): a value that would take a path out of its author's directory."""
    problems: dict[str, list[str]] = {}
    for number, step in enumerate(definition["steps"], start=1):
        if step["kind"] != "upload":
            continue
        try:
            _upload_path(step, number, values)
        except PathError as exc:
            problems.setdefault(exc.name, []).append(exc.message)
        except TemplateError:
            continue  # a missing value or a bad template is reported where it is checked
    return problems


def _masked(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, dict):
        return {key: _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    return value


def job_plan(*, job: Job, values: dict[str, Any], selector: str | None = None) -> dict:
    """What a run of ``job`` with ``values`` would do, without running anything: the targets
    it would hit, the rendered steps per OS family (secrets masked), and every problem."""
    from apps.targets.interface import (
        SelectorError,
        resolve_selector,
        target_summaries,
        validate_selector,
    )

    definition = current_definition(job)
    specs = parameter_specs(definition)
    problems: list[dict] = []
    resolved: dict[str, Any] | None = None
    try:
        resolved = validate_values(specs, values, selector_validator=validate_selector)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            problems.extend({"field": f"parameters.{name}", "message": m} for m in messages)
    if resolved is not None and (paths := path_problems(definition, resolved)):
        for name, messages in paths.items():
            problems.extend({"field": f"parameters.{name}", "message": m} for m in messages)
        resolved = None  # nothing to show: the steps cannot be rendered with these values
    secrets = [
        str(resolved[spec.name])
        for spec in specs
        if spec.type == "secret" and resolved and resolved.get(spec.name)
    ]

    selector = selector or definition.get("default_selector") or ""
    targets: list[dict] = []
    if not selector:
        problems.append({"field": "selector", "message": "No selector given and no default."})
    else:
        try:
            ids = resolve_selector(selector)
        except SelectorError as exc:
            problems.append({"field": "selector", "message": str(exc)})
        else:
            summaries = target_summaries(ids)
            targets = [
                {"id": str(i), "name": summaries[i].name, "os_family": summaries[i].os_family}
                for i in ids
                if i in summaries
            ]
            if not targets:
                problems.append(
                    {"field": "selector", "message": "The selector matches no active target."}
                )
    if job.is_archived:
        problems.append({"field": "job", "message": "The job is archived."})

    families = sorted({t["os_family"] for t in targets}) or ["linux", "windows"]
    plan = {}
    if resolved is not None:
        for family in families:
            try:
                plan[family] = render_steps(definition, resolved, os_family=family)
            except TemplateError as exc:  # a version saved before the placement rules
                problems.append({"field": "steps", "message": f"{exc} ({family} targets)"})
    return {
        "job_id": str(job.pk),
        "version": job.latest_version,
        "selector": selector,
        "target_count": len(targets),
        "targets": targets,
        "plan": _masked(plan, secrets),
        "problems": problems,
        "valid": not problems,
    }
