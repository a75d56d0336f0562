"""Typed job parameters: their definitions, the checking of values, and masking of secrets.

Pure Python (no models), so services, serializers and workers can all use it.

A definition is a ``ParameterSpec``; ``ParameterSpec.from_dict`` reads one from the definition
format (JSON/YAML) and ``to_dict`` writes its canonical form back (keys at their default value
are left out, so ``from_dict(spec.to_dict()) == spec`` and, for a canonical dict ``d``,
``from_dict(d).to_dict() == d``). Constructing a ``ParameterSpec`` directly runs the same
checks, so an invalid spec cannot exist.

``validate_values`` checks a set of values against the specs and returns them coerced, with
defaults applied, or raises one ``ValidationError`` keyed by parameter name that names every
problem at once. No error message ever repeats a value (a secret's least of all).

``mask`` hides secret values in text (output, logs, events, rendered commands).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

PARAMETER_TYPES = ("string", "integer", "boolean", "choice", "secret", "target_selector")
TEXT_TYPES = ("string", "secret", "target_selector")

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_STRING_LENGTH = 10_000
MAX_PATTERN_LENGTH = 1_000
MAX_CHOICES = 1_000
# Integers are signed 64-bit: what a database column, a JSON client and shell arithmetic hold.
INTEGER_MIN = -(2**63)
INTEGER_MAX = 2**63 - 1
_DIGITS = re.compile(r"-?[0-9]{1,19}")

MASK = "********"

# Which optional keys each type accepts (besides name, type, required, default, description,
# allow_unused, which every type has).
_TYPE_OPTIONS: dict[str, frozenset[str]] = {
    "string": frozenset({"pattern"}),
    "secret": frozenset({"pattern"}),
    "integer": frozenset({"minimum", "maximum"}),
    "boolean": frozenset(),
    "choice": frozenset({"choices"}),
    "target_selector": frozenset(),
}
_OPTIONS = ("pattern", "minimum", "maximum", "choices")

SelectorValidator = Callable[[str], object]


def _error(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


@dataclass(frozen=True)
class ParameterSpec:
    """One typed parameter of a job.

    ``default`` ``None`` means "no default"; a spec with neither a default nor ``required``
    resolves to ``None`` when no value is given (rendered as an empty argument).
    ``allow_unused`` lets a required parameter be used by no step. A ``secret`` may have a
    default: whoever stores the definition must seal it.
    """

    name: str
    type: str
    required: bool = True
    default: Any = None
    description: str = ""
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None
    allow_unused: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.choices, list):
            object.__setattr__(self, "choices", tuple(self.choices))
        rules = _rules(self)
        errors = _spec_errors(rules)
        if errors:
            raise ValidationError(errors)
        if self.default is not None:
            # Keep the default coerced: "12" for an integer parameter is stored as 12.
            object.__setattr__(self, "default", _check_value(rules, self.default, None))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, selector_validator: SelectorValidator | None = None
    ) -> ParameterSpec:
        """Read a spec from the definition format. ``ValidationError`` keyed by the offending
        key (``name``, ``pattern``, an unknown key, ...) lists every problem at once.

        ``selector_validator`` (e.g. ``targets.interface.validate_selector``) also checks the
        default of a ``target_selector`` parameter."""
        if not isinstance(data, Mapping):
            raise ValidationError({NON_FIELD_ERRORS: [_error("Must be an object.", "invalid")]})
        errors: dict[str, list[ValidationError]] = {}
        for key in data:
            if key not in _FIELD_DEFAULTS:
                errors[str(key)] = [_error("Unknown key.", "unknown")]
        rules = {key: data.get(key, default) for key, default in _FIELD_DEFAULTS.items()}
        errors.update(_spec_errors(rules))
        for key in ("name", "type"):
            if key not in data:
                errors[key] = [_error("This field is required.", "required")]
        if errors:
            raise ValidationError(errors)
        spec = cls(**{key: data[key] for key in data})
        if spec.type == "target_selector" and spec.default is not None and selector_validator:
            problem = _selector_problem(spec.default, selector_validator)
            if problem:
                raise ValidationError({"default": [problem]})
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The canonical definition form: ``name`` and ``type`` always, other keys only when
        they differ from their default (``choices`` as a list)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        for key, default in _FIELD_DEFAULTS.items():
            value = getattr(self, key)
            if key not in data and value != default:
                data[key] = list(value) if key == "choices" else value
        return data

    def check(self, value: object, *, selector_validator: SelectorValidator | None = None) -> Any:
        """``value`` coerced for this parameter, or ``ValidationError`` (never naming it)."""
        return _check_value(_rules(self), value, selector_validator)


_FIELD_DEFAULTS: dict[str, Any] = {
    f.name: (None if f.default is MISSING else f.default) for f in fields(ParameterSpec)
}


def _rules(spec: ParameterSpec) -> dict[str, Any]:
    return {key: getattr(spec, key) for key in _FIELD_DEFAULTS}


def _spec_errors(rules: Mapping[str, Any]) -> dict[str, list[ValidationError]]:
    """Every problem of a spec given as field values (``rules``), keyed by field."""
    errors: dict[str, list[ValidationError]] = {}

    def add(key: str, message: str, code: str = "invalid") -> None:
        errors.setdefault(key, []).append(_error(message, code))

    name, kind = rules["name"], rules["type"]
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        add(
            "name",
            "Must start with a letter or underscore and contain only letters, digits and "
            "underscores (at most 64 characters).",
        )
    type_known = isinstance(kind, str) and kind in PARAMETER_TYPES
    if not type_known:
        add("type", f"Must be one of: {', '.join(PARAMETER_TYPES)}.", "invalid_choice")
    for key in ("required", "allow_unused"):
        if not isinstance(rules[key], bool):
            add(key, "Must be true or false.")
    if not isinstance(rules["description"], str):
        add("description", "Must be a string.")
    if type_known:
        for key in _OPTIONS:
            if rules[key] is not None and key not in _TYPE_OPTIONS[kind]:
                add(key, f"Not allowed for a parameter of type {kind}.", "not_allowed")

    pattern = rules["pattern"]
    if pattern is not None:
        if not isinstance(pattern, str):
            add("pattern", "Must be a string.")
        elif len(pattern) > MAX_PATTERN_LENGTH:
            add("pattern", f"Must be at most {MAX_PATTERN_LENGTH} characters long.", "max_length")
        else:
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError, ValueError) as exc:
                add("pattern", f"Not a valid regular expression: {exc}.")

    for key in ("minimum", "maximum"):
        bound = rules[key]
        if bound is None:
            continue
        if not isinstance(bound, int) or isinstance(bound, bool):
            add(key, "Must be an integer.")
        elif not INTEGER_MIN <= bound <= INTEGER_MAX:
            add(key, f"Must be between {INTEGER_MIN} and {INTEGER_MAX}.", "out_of_range")
    if "minimum" not in errors and "maximum" not in errors:
        low, high = rules["minimum"], rules["maximum"]
        if low is not None and high is not None and low > high:
            add("maximum", "Must not be less than minimum.", "out_of_range")

    if rules["choices"] is not None:
        _check_choices(rules["choices"], add)
    elif kind == "choice":
        add("choices", "A choice parameter needs a list of choices.", "required")

    # The default is checked with the rules of its type, once those rules are sound.
    depends_on = {"type", *_OPTIONS}
    if rules["default"] is not None and type_known and not depends_on & errors.keys():
        try:
            _check_value(rules, rules["default"], None)
        except ValidationError as exc:
            errors["default"] = exc.error_list
    return errors


def _check_choices(choices: object, add: Callable[..., None]) -> None:
    if not isinstance(choices, tuple | list):
        add("choices", "Must be a list of strings.")
        return
    if not choices:
        add("choices", "Must not be empty.", "required")
    if len(choices) > MAX_CHOICES:
        add("choices", f"At most {MAX_CHOICES} choices.", "max_length")
    seen: set[str] = set()
    for index, choice in enumerate(choices, start=1):
        if not isinstance(choice, str):
            add("choices", f"Choice {index} is not a string.")
        elif "\x00" in choice:
            add("choices", f"Choice {index} contains a NUL character.", "nul")
        elif len(choice) > MAX_STRING_LENGTH:
            add("choices", f"Choice {index} is longer than {MAX_STRING_LENGTH}.", "max_length")
        elif choice in seen:
            add("choices", f"Choice {index} repeats an earlier choice.", "duplicate")
        else:
            seen.add(choice)


def _selector_problem(value: str, selector_validator: SelectorValidator) -> ValidationError | None:
    try:
        selector_validator(value)
    except Exception as exc:  # the validator reports a bad selector by raising anything
        return _error(f"Not a valid target selector: {exc}", "invalid_selector")
    return None


def _check_text(rules: Mapping[str, Any], value: object) -> str:
    if not isinstance(value, str):
        raise _error("Must be a string.", "invalid_type")
    if "\x00" in value:
        raise _error("Must not contain NUL characters.", "nul")
    if len(value) > MAX_STRING_LENGTH:
        raise _error(f"Must be at most {MAX_STRING_LENGTH} characters long.", "max_length")
    pattern = rules["pattern"]
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise _error(f"Must match the pattern: {pattern}", "pattern")
    return value


def _check_integer(rules: Mapping[str, Any], value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise _error("Must be an integer.", "invalid_type")
    if not INTEGER_MIN <= number <= INTEGER_MAX:
        raise _error(f"Must be between {INTEGER_MIN} and {INTEGER_MAX}.", "out_of_range")
    low, high = rules["minimum"], rules["maximum"]
    if low is not None and number < low:
        raise _error(f"Must be at least {low}.", "min_value")
    if high is not None and number > high:
        raise _error(f"Must be at most {high}.", "max_value")
    return number


def _check_choice(rules: Mapping[str, Any], value: object) -> str:
    if not isinstance(value, str):
        raise _error("Must be a string.", "invalid_type")
    if "\x00" in value:
        raise _error("Must not contain NUL characters.", "nul")
    choices = tuple(rules["choices"] or ())
    if value not in choices:
        shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
        raise _error(f"Must be one of: {shown}.", "invalid_choice")
    return value


def _check_value(
    rules: Mapping[str, Any], value: object, selector_validator: SelectorValidator | None
) -> Any:
    """``value`` coerced by the rules of a (sound) spec, or ``ValidationError`` whose message
    never contains the value."""
    kind = rules["type"]
    if kind in TEXT_TYPES:
        text = _check_text(rules, value)
        if kind == "target_selector" and selector_validator is not None:
            problem = _selector_problem(text, selector_validator)
            if problem:
                raise problem
        return text
    if kind == "integer":
        return _check_integer(rules, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _error("Must be true or false.", "invalid_type")
        return value
    if kind == "choice":
        return _check_choice(rules, value)
    raise AssertionError(f"unknown parameter type {kind!r}")


def validate_values(
    specs: Iterable[ParameterSpec],
    values: Mapping[str, Any],
    *,
    selector_validator: SelectorValidator | None = None,
) -> dict[str, Any]:
    """``values`` checked against ``specs``: every declared parameter's coerced value (its
    default when no value is given, ``None`` for an optional one without default), in the
    order of ``specs``.

    ``ValidationError`` keyed by parameter name lists every problem at once: unknown names,
    missing required parameters, wrong types, pattern, range, choices, length, NUL characters,
    and (with ``selector_validator``, which raises on a bad selector) target selectors. An
    explicit ``null`` counts as not given. No message contains a value.
    """
    specs = list(specs)
    if not isinstance(values, Mapping):
        raise ValidationError(
            {NON_FIELD_ERRORS: [_error("Parameter values must be an object.", "invalid")]}
        )
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError("parameter names must be unique")  # the definition guarantees it
    errors: dict[str, list[ValidationError]] = {}
    declared = set(names)
    for key in values:
        if key not in declared:
            errors[str(key)] = [_error("Unknown parameter.", "unknown")]
    result: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            if spec.default is not None:
                result[spec.name] = spec.default
            elif spec.required:
                errors[spec.name] = [_error("This parameter is required.", "required")]
            else:
                result[spec.name] = None
            continue
        try:
            result[spec.name] = spec.check(value, selector_validator=selector_validator)
        except ValidationError as exc:
            errors[spec.name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return result


# PowerShell treats these as single quotes too; inside a single-quoted literal each is doubled.
_POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def _quoted_forms(secret: str) -> set[str]:
    """``secret`` as it appears inside a rendered command: raw, and with the escaping that POSIX
    and PowerShell single-quoted literals give its quote characters (see ``rendering``)."""
    forms = {secret, secret.replace("'", "'\\''")}
    forms.add("".join(c * 2 if c in _POWERSHELL_SINGLE_QUOTES else c for c in secret))
    return forms


def mask(text: str, secrets: Iterable[str], replacement: str = MASK) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``replacement``.

    Occurrences that overlap (of one secret or of several) are replaced as one, so no part of
    any secret survives, whatever the order of ``secrets``. A secret is also found in the
    escaped form it takes inside a command rendered by ``rendering.render`` (a secret with a
    quote character in it is not written verbatim there).
    """
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _quoted_forms(secret)
    spans: list[tuple[int, int]] = []
    for form in forms:
        start = text.find(form)
        while start != -1:
            spans.append((start, start + len(form)))
            start = text.find(form, start + 1)
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[str] = []
    position = 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)
