"""Typed parameters: definitions (from_dict/to_dict), value checking and coercion, masking."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.jobs.parameters import (
    INTEGER_MAX,
    INTEGER_MIN,
    MASK,
    MAX_STRING_LENGTH,
    PARAMETER_TYPES,
    ParameterSpec,
    mask,
    validate_values,
)
from apps.jobs.rendering import quote_posix, quote_powershell, render


def errors_of(call, *args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value.message_dict


def spec(**fields) -> ParameterSpec:
    return ParameterSpec.from_dict({"name": "p", "type": "string", **fields})


# --- definitions ---------------------------------------------------------------------------------


def test_minimal_definitions_and_defaults():
    parameter = ParameterSpec.from_dict({"name": "version", "type": "string"})
    assert parameter == ParameterSpec(name="version", type="string")
    assert (parameter.required, parameter.default, parameter.allow_unused) == (True, None, False)
    assert parameter.to_dict() == {"name": "version", "type": "string"}
    assert PARAMETER_TYPES == (
        "string",
        "integer",
        "boolean",
        "choice",
        "secret",
        "target_selector",
    )


def test_to_dict_leaves_out_what_is_at_its_default_and_keeps_falsy_values():
    data = {
        "name": "dry_run",
        "type": "boolean",
        "required": False,
        "default": False,
        "description": "Only print",
        "allow_unused": True,
    }
    parameter = ParameterSpec.from_dict(data)
    assert parameter.to_dict() == {
        "name": "dry_run",
        "type": "boolean",
        "required": False,
        "default": False,
        "description": "Only print",
        "allow_unused": True,
    }
    assert ParameterSpec.from_dict({"name": "n", "type": "integer", "default": 0}).to_dict() == {
        "name": "n",
        "type": "integer",
        "default": 0,
    }
    # Explicit values equal to the defaults read the same, and are left out when written.
    explicit = {"name": "a", "type": "string", "required": True, "description": "", "pattern": None}
    assert ParameterSpec.from_dict(explicit).to_dict() == {"name": "a", "type": "string"}


def test_choices_come_back_as_a_list():
    parameter = ParameterSpec.from_dict({"name": "c", "type": "choice", "choices": ["a", "b"]})
    assert parameter.choices == ("a", "b")
    assert parameter.to_dict()["choices"] == ["a", "b"]
    assert ParameterSpec(name="c", type="choice", choices=["a"]).choices == ("a",)  # type: ignore[arg-type]


def test_an_integer_default_given_as_digits_is_stored_as_an_integer():
    parameter = spec(type="integer", default="12", minimum=1)
    assert parameter.default == 12
    assert parameter.to_dict() == {"name": "p", "type": "integer", "default": 12, "minimum": 1}


def test_a_secret_may_have_a_default():
    # The jobs services seal it before anything is stored.
    assert spec(type="secret", default="hunter2", pattern="[a-z0-9]+").default == "hunter2"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "p", "type": "string", "colour": "red"}, {"colour": ["Unknown key."]}),
        ({"type": "string"}, {"name": ["This field is required."]}),
        ({"name": "p"}, {"type": ["This field is required."]}),
        ({"name": "1p", "type": "string"}, {"name": ["Must start with"]}),
        ({"name": "a-b", "type": "string"}, {"name": ["Must start with"]}),
        ({"name": "a" * 65, "type": "string"}, {"name": ["at most 64"]}),
        ({"name": "", "type": "string"}, {"name": ["Must start with"]}),
        ({"name": 5, "type": "string"}, {"name": ["Must start with"]}),
        ({"name": "p", "type": "float"}, {"type": ["Must be one of: string, integer"]}),
        ({"name": "p", "type": None}, {"type": ["Must be one of"]}),
        ({"name": "p", "type": "string", "required": "yes"}, {"required": ["true or false"]}),
        ({"name": "p", "type": "string", "allow_unused": 1}, {"allow_unused": ["true or false"]}),
        ({"name": "p", "type": "string", "description": 3}, {"description": ["Must be a string"]}),
        ({"name": "p", "type": "string", "pattern": "("}, {"pattern": ["Not a valid regular"]}),
        ({"name": "p", "type": "string", "pattern": "a" * 1001}, {"pattern": ["at most 1000"]}),
        ({"name": "p", "type": "string", "pattern": 5}, {"pattern": ["Must be a string"]}),
        ({"name": "p", "type": "integer", "minimum": 5, "maximum": 1}, {"maximum": ["less than"]}),
        ({"name": "p", "type": "integer", "minimum": "1"}, {"minimum": ["Must be an integer"]}),
        ({"name": "p", "type": "integer", "maximum": True}, {"maximum": ["Must be an integer"]}),
        ({"name": "p", "type": "integer", "maximum": 1.5}, {"maximum": ["Must be an integer"]}),
        ({"name": "p", "type": "integer", "maximum": 2**63}, {"maximum": ["Must be between"]}),
        ({"name": "p", "type": "choice"}, {"choices": ["needs a list of choices"]}),
        ({"name": "p", "type": "choice", "choices": []}, {"choices": ["Must not be empty"]}),
        ({"name": "p", "type": "choice", "choices": "ab"}, {"choices": ["list of strings"]}),
        ({"name": "p", "type": "choice", "choices": ["a", "a"]}, {"choices": ["Choice 2 repeats"]}),
        ({"name": "p", "type": "choice", "choices": ["a", 1]}, {"choices": ["Choice 2 is not"]}),
        ({"name": "p", "type": "choice", "choices": ["a\x00"]}, {"choices": ["NUL"]}),
        ({"name": "p", "type": "choice", "choices": ["a"] * 2 + ["b"]}, {"choices": ["repeats"]}),
        ({"name": "p", "type": "choice", "choices": ["x" * 10_001]}, {"choices": ["longer than"]}),
        (
            {"name": "p", "type": "choice", "choices": [str(i) for i in range(1001)]},
            {"choices": ["At most 1000"]},
        ),
        (
            {"name": "p", "type": "integer", "choices": ["a"]},
            {"choices": ["Not allowed for a parameter of type integer"]},
        ),
        ({"name": "p", "type": "boolean", "pattern": "a"}, {"pattern": ["Not allowed"]}),
        ({"name": "p", "type": "string", "minimum": 1}, {"minimum": ["Not allowed"]}),
        (
            {"name": "p", "type": "choice", "choices": ["a"], "maximum": 1},
            {"maximum": ["Not allowed"]},
        ),
        ({"name": "p", "type": "target_selector", "pattern": "a"}, {"pattern": ["Not allowed"]}),
        ({"name": "p", "type": "string", "default": 5}, {"default": ["Must be a string"]}),
        (
            {"name": "p", "type": "string", "pattern": "[a-z]+", "default": "A"},
            {"default": ["Must match the pattern: [a-z]+"]},
        ),
        ({"name": "p", "type": "integer", "maximum": 3, "default": 4}, {"default": ["at most 3"]}),
        ({"name": "p", "type": "integer", "default": "x"}, {"default": ["Must be an integer"]}),
        ({"name": "p", "type": "boolean", "default": "true"}, {"default": ["true or false"]}),
        (
            {"name": "p", "type": "choice", "choices": ["a"], "default": "b"},
            {"default": ["Must be one of: a."]},
        ),
        ({"name": "p", "type": "secret", "default": "a\x00b"}, {"default": ["NUL"]}),
    ],
)
def test_bad_definitions_name_the_key(data, expected):
    errors = errors_of(ParameterSpec.from_dict, data)
    assert set(errors) == set(expected)
    for key, fragments in expected.items():
        for fragment in fragments:
            assert any(fragment in message for message in errors[key]), (key, errors[key])


def test_every_problem_of_a_definition_at_once():
    errors = errors_of(
        ParameterSpec.from_dict,
        {"name": "1x", "type": "integer", "pattern": "(", "choices": ["a", "a"], "extra": 1},
    )
    assert set(errors) == {"name", "pattern", "choices", "extra"}
    assert len(errors["pattern"]) == 2  # not allowed for integer, and does not compile
    assert len(errors["choices"]) == 2  # not allowed for integer, and repeats


def test_a_default_is_not_judged_by_broken_rules():
    # With a pattern that does not compile, the default cannot be checked: only the pattern
    # is reported.
    assert set(errors_of(spec, pattern="(", default="x")) == {"pattern"}


def test_a_definition_that_is_not_an_object():
    assert errors_of(ParameterSpec.from_dict, ["name"]) == {
        NON_FIELD_ERRORS: ["Must be an object."]
    }


def test_direct_construction_runs_the_same_checks():
    with pytest.raises(ValidationError) as info:
        ParameterSpec(name="1x", type="integer", minimum=3, maximum=2)
    assert set(info.value.message_dict) == {"name", "maximum"}


def test_selector_default_is_checked_when_a_validator_is_given():
    def validator(text: str) -> None:
        if "(" in text:
            raise ValueError(f"unexpected '(' at position {text.index('(')}")

    data = {"name": "where", "type": "target_selector", "default": "env=(prod"}
    assert ParameterSpec.from_dict(data).default == "env=(prod"  # no validator: a string
    errors = errors_of(ParameterSpec.from_dict, data, selector_validator=validator)
    assert errors == {"default": ["Not a valid target selector: unexpected '(' at position 4"]}


# Generated valid definitions round-trip exactly, through JSON too.
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,63}", fullmatch=True)
TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30
)
PATTERNS = ["[a-z]+", ".*", r"\d{1,3}", "x|y", "(?i)abc"]


@st.composite
def definitions(draw) -> dict:
    kind = draw(st.sampled_from(PARAMETER_TYPES))
    data: dict = {"name": draw(NAMES), "type": kind}
    if draw(st.booleans()):
        data["description"] = draw(TEXT.filter(bool))
    if draw(st.booleans()):
        data["required"] = False
    default = None
    if kind in ("string", "secret"):
        if draw(st.booleans()):
            data["pattern"] = draw(st.sampled_from(PATTERNS))
            default = draw(
                st.from_regex(data["pattern"], fullmatch=True).filter(lambda v: "\x00" not in v)
            )
        else:
            default = draw(TEXT)
    elif kind == "integer":
        low = draw(st.none() | st.integers(INTEGER_MIN, INTEGER_MAX))
        high = draw(st.none() | st.integers(low if low is not None else INTEGER_MIN, INTEGER_MAX))
        if low is not None:
            data["minimum"] = low
        if high is not None:
            data["maximum"] = high
        default = draw(
            st.integers(
                low if low is not None else INTEGER_MIN, high if high is not None else INTEGER_MAX
            )
        )
    elif kind == "choice":
        data["choices"] = draw(st.lists(TEXT, min_size=1, max_size=6, unique=True))
        default = draw(st.sampled_from(data["choices"]))
    elif kind == "boolean":
        default = draw(st.booleans())
    else:
        default = draw(TEXT)
    if draw(st.booleans()):
        data["default"] = default
    if draw(st.booleans()):
        data["allow_unused"] = True
    return data


@settings(max_examples=500)
@given(data=definitions())
def test_definitions_round_trip_exactly(data):
    parameter = ParameterSpec.from_dict(data)
    assert parameter.to_dict() == data
    assert ParameterSpec.from_dict(parameter.to_dict()) == parameter
    assert ParameterSpec.from_dict(json.loads(json.dumps(parameter.to_dict()))) == parameter
    # Key order does not matter.
    assert ParameterSpec.from_dict(dict(reversed(list(data.items())))) == parameter


@settings(max_examples=200)
@given(data=definitions())
def test_a_definitions_own_default_passes_its_own_check(data):
    parameter = ParameterSpec.from_dict(data)
    if parameter.default is not None:
        assert validate_values([parameter], {}) == {parameter.name: parameter.default}


# --- values --------------------------------------------------------------------------------------

SPECS = [
    ParameterSpec.from_dict({"name": "version", "type": "string", "pattern": r"\d+\.\d+"}),
    ParameterSpec.from_dict({"name": "count", "type": "integer", "minimum": 1, "maximum": 10}),
    ParameterSpec.from_dict({"name": "dry_run", "type": "boolean", "default": False}),
    ParameterSpec.from_dict({"name": "channel", "type": "choice", "choices": ["stable", "beta"]}),
    ParameterSpec.from_dict({"name": "token", "type": "secret"}),
    ParameterSpec.from_dict({"name": "where", "type": "target_selector", "required": False}),
    ParameterSpec.from_dict({"name": "note", "type": "string", "required": False}),
]
GOOD = {"version": "1.2", "count": 3, "channel": "beta", "token": "s3cr3t"}


def test_values_come_back_coerced_with_defaults_in_spec_order():
    result = validate_values(SPECS, {**GOOD, "count": "07"})
    assert result == {
        "version": "1.2",
        "count": 7,
        "dry_run": False,
        "channel": "beta",
        "token": "s3cr3t",
        "where": None,
        "note": None,
    }
    assert list(result) == [s.name for s in SPECS]


def test_null_counts_as_not_given():
    result = validate_values(SPECS, {**GOOD, "dry_run": None, "note": None})
    assert result["dry_run"] is False
    assert result["note"] is None
    assert errors_of(validate_values, SPECS, {**GOOD, "token": None}) == {
        "token": ["This parameter is required."]
    }


def test_a_given_value_beats_the_default():
    assert validate_values(SPECS, {**GOOD, "dry_run": True})["dry_run"] is True


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("version", "1.2.3", "Must match the pattern"),
        ("version", "x1.2", "Must match the pattern"),
        ("version", 1.2, "Must be a string"),
        ("version", "1.2\x00", "NUL"),
        ("version", "1." + "2" * MAX_STRING_LENGTH, "at most 10000 characters"),
        ("count", 0, "at least 1"),
        ("count", 11, "at most 10"),
        ("count", "11", "at most 10"),
        ("count", True, "Must be an integer"),
        ("count", 3.0, "Must be an integer"),
        ("count", "3.0", "Must be an integer"),
        ("count", " 3", "Must be an integer"),
        ("count", "+3", "Must be an integer"),
        ("count", "", "Must be an integer"),
        ("count", "٣", "Must be an integer"),  # an Arabic-Indic digit is not ASCII
        ("count", "9" * 20, "Must be an integer"),
        ("count", [3], "Must be an integer"),
        ("dry_run", "true", "true or false"),
        ("dry_run", 1, "true or false"),
        ("channel", "alpha", "Must be one of: stable, beta."),
        ("channel", "stable\x00", "NUL"),
        ("channel", 1, "Must be a string"),
        ("token", 1234, "Must be a string"),
        ("token", "a\x00b", "NUL"),
        ("token", "x" * (MAX_STRING_LENGTH + 1), "at most 10000"),
        ("where", {"env": "prod"}, "Must be a string"),
        ("where", "a\x00", "NUL"),
        ("note", "x" * (MAX_STRING_LENGTH + 1), "at most 10000"),
    ],
)
def test_bad_values_are_keyed_by_parameter(name, value, fragment):
    errors = errors_of(validate_values, SPECS, {**GOOD, name: value})
    assert list(errors) == [name]
    assert len(errors[name]) == 1
    assert fragment in errors[name][0]


def test_integer_range_of_64_bits():
    wide = [ParameterSpec(name="n", type="integer")]
    assert validate_values(wide, {"n": INTEGER_MAX}) == {"n": INTEGER_MAX}
    assert validate_values(wide, {"n": str(INTEGER_MIN)}) == {"n": INTEGER_MIN}
    assert "Must be between" in errors_of(validate_values, wide, {"n": INTEGER_MAX + 1})["n"][0]
    assert (
        "Must be between" in errors_of(validate_values, wide, {"n": str(INTEGER_MIN - 1)})["n"][0]
    )


def test_a_long_choice_list_is_shortened_in_the_message():
    many = [ParameterSpec(name="c", type="choice", choices=tuple(f"c{i}" for i in range(30)))]
    message = errors_of(validate_values, many, {"c": "nope"})["c"][0]
    assert "c19, ..." in message
    assert "c20" not in message


def test_every_problem_at_once():
    errors = errors_of(
        validate_values,
        SPECS,
        {"version": "x", "count": "many", "channel": "alpha", "surprise": 1, "other": 2},
    )
    assert set(errors) == {"version", "count", "channel", "token", "surprise", "other"}
    assert errors["token"] == ["This parameter is required."]
    assert errors["surprise"] == ["Unknown parameter."]


def test_error_codes_for_clients():
    with pytest.raises(ValidationError) as info:
        validate_values(SPECS, {"count": 0, "channel": "x", "extra": 1})
    codes = {name: [e.code for e in errors] for name, errors in info.value.error_dict.items()}
    assert codes == {
        "extra": ["unknown"],
        "version": ["required"],
        "count": ["min_value"],
        "channel": ["invalid_choice"],
        "token": ["required"],
    }


def test_values_that_are_not_an_object():
    assert errors_of(validate_values, SPECS, ["1.2"]) == {
        NON_FIELD_ERRORS: ["Parameter values must be an object."]
    }


def test_duplicate_parameter_names_are_a_programming_error():
    with pytest.raises(ValueError, match="unique"):
        validate_values([ParameterSpec("a", "string"), ParameterSpec("a", "integer")], {})


def test_no_specs_no_values():
    assert validate_values([], {}) == {}


def test_selector_values_are_checked_by_the_validator():
    seen = []

    def validator(text: str) -> None:
        seen.append(text)
        if text.startswith("("):
            raise ValueError("unexpected end at position 5: expected ')'")

    assert (
        validate_values(SPECS, {**GOOD, "where": "env=prod"}, selector_validator=validator)["where"]
        == "env=prod"
    )
    errors = errors_of(
        validate_values,
        SPECS,
        {**GOOD, "where": "(env=", "version": "1.0"},
        selector_validator=validator,
    )
    assert errors == {
        "where": ["Not a valid target selector: unexpected end at position 5: expected ')'"]
    }
    assert seen == ["env=prod", "(env="]
    # Without a validator a selector is checked as a string only.
    assert validate_values(SPECS, {**GOOD, "where": "(("})["where"] == "(("


def test_the_real_selector_validator_fits():
    from apps.targets.interface import validate_selector

    errors = errors_of(
        validate_values, SPECS, {**GOOD, "where": "env = "}, selector_validator=validate_selector
    )
    assert errors["where"][0].startswith("Not a valid target selector: ")
    result = validate_values(
        SPECS, {**GOOD, "where": "env=production"}, selector_validator=validate_selector
    )
    assert result["where"] == "env=production"


def test_spec_check_is_one_value():
    assert SPECS[1].check("4") == 4
    with pytest.raises(ValidationError, match="at most 10"):
        SPECS[1].check(40)


# --- secrets never appear in errors --------------------------------------------------------------

SECRET_SPECS = [
    ParameterSpec.from_dict({"name": "token", "type": "secret", "pattern": "tok_[a-z0-9]{8}"}),
]
NASTY_SECRETS = [
    "hunter2-hunter2",
    "S3cr3t!! with spaces",
    "tok_UPPERCASE1",
    "x" * (MAX_STRING_LENGTH + 5),
    "bad\x00byte-secret",
    "'quoted' \"secret\" `value`",
]


@pytest.mark.parametrize("secret", NASTY_SECRETS)
def test_a_secret_value_is_never_in_an_error(secret):
    with pytest.raises(ValidationError) as info:
        validate_values(SECRET_SPECS, {"token": secret})
    text = str(info.value) + repr(info.value) + json.dumps(info.value.message_dict)
    for fragment in (secret, secret[:8], secret[-8:], secret.replace("\x00", "")):
        assert fragment not in text
    params = [e.params for errors in info.value.error_dict.values() for e in errors]
    assert all(not p for p in params)


@settings(max_examples=300)
@given(first=st.text(min_size=1), second=st.text(min_size=1))
def test_messages_do_not_depend_on_the_value(first, second):
    # Two values failing the same way get the same message: it cannot contain either.
    def messages(value: str) -> dict:
        try:
            validate_values(SECRET_SPECS + SPECS[:1], {"token": value, "version": value})
        except ValidationError as exc:
            return exc.message_dict
        return {}

    def shape(value: str) -> tuple:
        return (
            "\x00" in value,
            len(value) > MAX_STRING_LENGTH,
            bool(re.fullmatch("tok_[a-z0-9]{8}", value)),
            bool(re.fullmatch(r"\d+\.\d+", value)),
        )

    if shape(first) == shape(second):
        assert messages(first) == messages(second)


def test_a_secret_default_stays_out_of_definition_errors():
    errors = errors_of(spec, type="secret", pattern="[0-9]+", default="hunter2-secret")
    assert "hunter2" not in json.dumps(errors)


# --- mask ----------------------------------------------------------------------------------------


def test_mask_every_occurrence():
    assert mask("a s3cr3t b s3cr3t", ["s3cr3t"]) == f"a {MASK} b {MASK}"
    assert mask("nothing here", ["s3cr3t"]) == "nothing here"
    assert mask("", ["x"]) == ""
    assert mask("abc", []) == "abc"
    assert mask("abc", ["", "b"]) == f"a{MASK}c"
    assert mask("user=x", ["x"], replacement="[hidden]") == "user=[hidden]"


def test_mask_longest_first_and_overlaps_leave_nothing():
    # "abcd" contains "abc" and "bcd": any order of replacement would leave a piece behind.
    assert mask("xabcdx", ["abc", "bcd"]) == f"x{MASK}x"
    assert mask("xabcdx", ["bcd", "abc"]) == f"x{MASK}x"
    # A secret inside a longer one: the longer one goes whole.
    assert mask("password123", ["password", "password123"]) == MASK
    assert mask("aaaa", ["aa"]) == MASK  # overlapping occurrences of one secret
    assert mask("abab", ["ab"]) == MASK * 2  # adjacent occurrences stay two


def test_mask_secrets_inside_rendered_commands():
    secret = "it's \u2018a\u2019 secret"
    for shell, quote in (("posix", quote_posix), ("powershell", quote_powershell)):
        command = render("login --token {{ t }}", {"t": secret}, shell=shell)
        assert quote(secret) in command
        shown = mask(command, [secret])
        assert shown == f"login --token '{MASK}'"
        for piece in ("it", "secret", "\u2018a\u2019"):
            assert piece not in shown.replace("login --token", "")


@settings(max_examples=300)
@given(
    secrets=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4),
    parts=st.lists(st.text(max_size=8), max_size=6),
)
def test_mask_leaves_no_secret_behind(secrets, parts):
    text = "".join(part + secrets[i % len(secrets)] for i, part in enumerate(parts))
    shown = mask(text, secrets, replacement="\x00")
    for secret in secrets:
        assert secret not in shown or "\x00" in secret
