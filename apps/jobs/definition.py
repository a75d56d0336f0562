"""The job definition format: what the API accepts, versions store and export/import carry.

    name, description, labels, default_selector, policy, parameters: [...], steps: [...]

``validate_definition(data)`` checks a whole definition (shape, types and the cross-field rules
of the jobs issue) and returns it normalised, or raises ``ValidationError`` naming every bad
field (``steps.1.command``, ``parameters.0.pattern``, ...).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.jobs.models import JobStep
from apps.jobs.parameters import ParameterSpec
from apps.jobs.rendering import TemplateError, check_template, references
from opsconductor.api.serializers import StrictFieldsMixin

MAX_STEPS = 100
MAX_PARAMETERS = 50
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:()/-]{0,99}$"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SHELL_OF = {"sh": "posix", "bash": "posix", "powershell": "powershell"}
WINDOWS_ONLY = {"powershell"}
LINUX_ONLY = {"sh", "bash", "python3"}
NUMERIC_TYPES = ("integer", "boolean")  # may stand inside shell arithmetic (rendering.py)


class PolicySerializer(StrictFieldsMixin, serializers.Serializer):
    """How runs of the job behave by default (each run may override)."""

    max_parallel = serializers.IntegerField(min_value=1, max_value=10000, default=20)
    batch_size = serializers.IntegerField(
        min_value=1, max_value=10000, allow_null=True, default=None
    )
    failure_threshold = serializers.IntegerField(min_value=0, allow_null=True, default=None)
    failure_threshold_percent = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, default=None
    )
    run_timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=MAX_TIMEOUT_SECONDS, default=3600
    )
    connection_retries = serializers.IntegerField(min_value=0, max_value=10, default=0)
    retry_backoff_seconds = serializers.IntegerField(min_value=0, max_value=3600, default=5)
    allow_overlap = serializers.BooleanField(default=False)


class StepSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.RegexField(NAME_PATTERN, max_length=100)
    kind = serializers.ChoiceField(JobStep.Kind.choices)
    command = serializers.CharField(
        required=False, allow_blank=True, max_length=65536, trim_whitespace=False
    )
    interpreter = serializers.ChoiceField(
        JobStep.Interpreter.choices, required=False, allow_blank=True
    )
    script = serializers.CharField(
        required=False, allow_blank=True, max_length=1048576, trim_whitespace=False
    )
    path = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    mode = serializers.RegexField(r"^0?[0-7]{3}$", required=False, allow_blank=True)
    content = serializers.CharField(
        required=False, allow_blank=True, max_length=1048576, trim_whitespace=False
    )
    timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=MAX_TIMEOUT_SECONDS, default=600
    )
    continue_on_error = serializers.BooleanField(default=False)
    os_family = serializers.ChoiceField(JobStep.OsFamily.choices, default=JobStep.OsFamily.ANY)
    env = serializers.DictField(
        child=serializers.CharField(max_length=4096, allow_blank=True), required=False, default=dict
    )
    workdir = serializers.CharField(required=False, allow_blank=True, max_length=1024)

    def validate_env(self, env: dict) -> dict:
        bad = [key for key in env if not ENV_NAME.match(key)]
        if bad:
            raise serializers.ValidationError(f"Not environment variable names: {', '.join(bad)}")
        return env

    def validate(self, attrs: dict) -> dict:
        kind = attrs["kind"]
        errors: dict[str, str] = {}
        required = {
            "command": ("command",),
            "script": ("interpreter", "script"),
            "upload": ("path", "content"),
        }
        for field in required[kind]:
            if not attrs.get(field):
                errors[field] = f"Required for a {kind} step."
        allowed = set(required[kind]) | ({"mode"} if kind == "upload" else set())
        for field in ("command", "interpreter", "script", "path", "mode", "content"):
            if attrs.get(field) and field not in allowed:
                errors[field] = f"Not used by a {kind} step."
        interpreter = attrs.get("interpreter")
        os_family = attrs.get("os_family", "any")
        if interpreter in WINDOWS_ONLY and os_family == "linux":
            errors["interpreter"] = (
                f"{interpreter} runs on windows targets; this step is for linux."
            )
        if interpreter in LINUX_ONLY and os_family == "windows":
            errors["interpreter"] = (
                f"{interpreter} runs on linux targets; this step is for windows."
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ParameterField(serializers.Field):
    """A parameter definition, checked by ``ParameterSpec.from_dict``."""

    def to_internal_value(self, data: Any) -> ParameterSpec:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.")
        try:
            return ParameterSpec.from_dict(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from exc

    def to_representation(self, value: ParameterSpec) -> dict:
        return value.to_dict()


def _shells_for(step: dict, field: str) -> tuple[str, ...]:
    """The shells that will parse ``field`` of ``step`` (where quoting must hold)."""
    if field == "command":
        return {"linux": ("posix",), "windows": ("powershell",)}.get(
            step.get("os_family", "any"), ("posix", "powershell")
        )
    if field == "script" and SHELL_OF.get(step.get("interpreter") or ""):
        return (SHELL_OF[step["interpreter"]],)
    return ()


class JobDefinitionSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default=""
    )
    labels = serializers.DictField(
        child=serializers.CharField(max_length=255, allow_blank=True), required=False, default=dict
    )
    default_selector = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default=""
    )
    policy = PolicySerializer(required=False, default=dict)
    parameters = serializers.ListField(
        child=ParameterField(), required=False, default=list, max_length=MAX_PARAMETERS
    )
    steps = serializers.ListField(child=StepSerializer(), min_length=1, max_length=MAX_STEPS)

    def validate_default_selector(self, value: str) -> str:
        if value:
            from apps.targets.interface import SelectorError, validate_selector

            try:
                validate_selector(value)
            except SelectorError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate(self, attrs: dict) -> dict:
        errors: dict[str, Any] = {}
        steps, specs = attrs["steps"], attrs["parameters"]
        seen: set[str] = set()
        for index, step in enumerate(steps):
            if step["name"] in seen:
                errors[f"steps.{index}.name"] = f"Another step is already named {step['name']!r}."
            seen.add(step["name"])
        names = [spec.name for spec in specs]
        for index, name in enumerate(names):
            if name in names[:index]:
                errors[f"parameters.{index}.name"] = f"Another parameter is already named {name!r}."
        declared = set(names)
        numeric = {spec.name for spec in specs if spec.type in NUMERIC_TYPES}
        used: set[str] = set()
        for index, step in enumerate(steps):
            for field in ("command", "script", "path", "content", "workdir"):
                text = step.get(field) or ""
                try:
                    found = references(text)
                except TemplateError as exc:
                    errors[f"steps.{index}.{field}"] = str(exc)
                    continue
                if field == "script" and found and step.get("interpreter") == "python3":
                    errors[f"steps.{index}.script"] = (
                        "python3 scripts cannot use {{ }}: read parameters from the environment "
                        "(OPSCONDUCTOR_PARAM_<NAME>)."
                    )
                for shell in _shells_for(step, field) if found else ():
                    try:
                        check_template(text, shell=shell, numeric=numeric)
                    except TemplateError as exc:
                        errors[f"steps.{index}.{field}"] = f"{exc} (for {shell} targets)"
                undeclared = [name for name in found if name not in declared]
                if undeclared:
                    errors[f"steps.{index}.{field}"] = (
                        f"Refers to undeclared parameter(s): {', '.join(undeclared)}."
                    )
                used.update(found)
            for key, value in (step.get("env") or {}).items():
                try:
                    used.update(name for name in references(value) if name in declared)
                except TemplateError as exc:
                    errors[f"steps.{index}.env.{key}"] = str(exc)
        for index, spec in enumerate(specs):
            if spec.required and spec.name not in used and not spec.allow_unused:
                errors[f"parameters.{index}.name"] = (
                    f"Required parameter {spec.name!r} is used by no step "
                    "(use it, or set allow_unused)."
                )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


KIND_FIELDS = {
    "command": ("command",),
    "script": ("interpreter", "script"),
    "upload": ("path", "mode", "content"),
}
STEP_DEFAULTS = {"env": {}, "workdir": "", "mode": ""}


def validate_definition(data: Any) -> dict:
    """The definition ``data`` normalised (defaults filled in), or ``ValidationError``.

    Parameters come back as dicts (``ParameterSpec.to_dict()``); a secret parameter's default
    is still in plain text here: ``services`` seals it before anything is stored.
    """
    serializer = JobDefinitionSerializer(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    value = dict(serializer.validated_data)
    if not value["policy"]:  # omitted: the defaults, spelled out (exact round trips)
        policy = PolicySerializer(data={})
        policy.is_valid(raise_exception=True)
        value["policy"] = policy.validated_data
    value["policy"] = dict(value["policy"])
    value["parameters"] = [spec.to_dict() for spec in value["parameters"]]
    value["steps"] = [_clean_step(dict(step)) for step in value["steps"]]
    return value


def _clean_step(step: dict) -> dict:
    """Only the fields that matter for the step's kind, in a fixed order (exact round trips)."""
    fields = (
        "name", "kind", *KIND_FIELDS[step["kind"]],
        "timeout_seconds", "continue_on_error", "os_family", "env", "workdir",
    )  # fmt: skip
    return {field: step.get(field, STEP_DEFAULTS.get(field, "")) for field in fields}
