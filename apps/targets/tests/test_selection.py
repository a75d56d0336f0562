"""The target selector language: parsing, errors, evaluation on PostgreSQL, and properties."""

from __future__ import annotations

import fnmatch
import pickle
import uuid

import pytest
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.targets.models import Group, Tag, Target, TargetLabel
from apps.targets.selection import (
    FIELDS,
    MAX_DEPTH,
    MAX_LENGTH,
    All,
    And,
    Compare,
    HasLabel,
    HasTag,
    InGroup,
    Not,
    Or,
    SelectorError,
    Value,
    parse,
    referenced_groups,
    render,
    select,
    to_q,
    validate,
)

DB = "targets"
db = pytest.mark.django_db(databases=[DB])


def env(value):
    return Compare("env", (Value(value),))


def tag(name):
    return HasTag(Value(name))


# --- Parsing ------------------------------------------------------------------------------------


def test_the_example_from_the_issue():
    assert parse("env=production and tag:web and not label:role=db") == And(
        (env("production"), tag("web"), Not(HasLabel(Value("role"), (Value("db"),))))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag:a or tag:b and tag:c", Or((tag("a"), And((tag("b"), tag("c")))))),
        ("tag:a and tag:b or tag:c", Or((And((tag("a"), tag("b"))), tag("c")))),
        ("not tag:a and tag:b", And((Not(tag("a")), tag("b")))),
        ("not tag:a or tag:b", Or((Not(tag("a")), tag("b")))),
        ("not (tag:a or tag:b)", Not(Or((tag("a"), tag("b"))))),
        ("(tag:a or tag:b) and tag:c", And((Or((tag("a"), tag("b"))), tag("c")))),
        ("tag:a or tag:b or tag:c", Or((tag("a"), tag("b"), tag("c")))),
        ("not not tag:a", Not(Not(tag("a")))),
        ("((tag:a))", tag("a")),
        ("TAG:a AND Not tag:b OR tag:c", Or((And((tag("a"), Not(tag("b")))), tag("c")))),
    ],
)
def test_precedence_is_not_then_and_then_or(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env=production", env("production")),
        ("environment = Production", env("production")),
        ("os=linux", Compare("os", (Value("linux"),))),
        ("os_family!=WINDOWS", Compare("os", (Value("windows"),), negated=True)),
        ("status=maintenance", Compare("status", (Value("maintenance"),))),
        ("health=auth_failed", Compare("health", (Value("auth_failed"),))),
        ("health_status=host_key_mismatch", Compare("health", (Value("host_key_mismatch"),))),
        ("name=web-1.example.com", Compare("name", (Value("web-1.example.com"),))),
        ("region=eu-west", Compare("region", (Value("eu-west"),))),
        ("dc=fra1", Compare("dc", (Value("fra1"),))),
        ("data_center!=fra1", Compare("dc", (Value("fra1"),), negated=True)),
        ('location="Frankfurt am Main"', Compare("location", (Value("Frankfurt am Main"),))),
        (
            "ID=6F1C2E7A-1B2C-4D3E-8F90-A1B2C3D4E5F6",
            Compare("id", (Value("6f1c2e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6"),)),
        ),
        (
            "env in (production, staging)",
            Compare("env", (Value("production"), Value("staging"))),
        ),
        ("env not in (testing)", Compare("env", (Value("testing"),), negated=True)),
        ("env IN(production,staging)", Compare("env", (Value("production"), Value("staging")))),
        ('name in (a, "b c")', Compare("name", (Value("a"), Value("b c")))),
        ("all", All()),
        ("ALL", All()),
        ("*", All()),
        ("not *", Not(All())),
        ("tag:web", tag("web")),
        ('tag:"web server"', HasTag(Value("web server"))),
        ("tag: web", tag("web")),
        ("tag:and", tag("and")),  # glued to its prefix: a name, not a keyword
        ("label:role", HasLabel(Value("role"))),
        ("label:role=db", HasLabel(Value("role"), (Value("db"),))),
        ('label:role = ""', HasLabel(Value("role"), (Value(""),))),
        ("label:role in (db, cache)", HasLabel(Value("role"), (Value("db"), Value("cache")))),
        ("label:role not in (db)", HasLabel(Value("role"), (Value("db"),), negated=True)),
        ("group:frontends", InGroup("frontends")),
        ('group:"front ends"', InGroup("front ends")),
        ("name=all", Compare("name", (Value("all"),))),
    ],
)
def test_every_field_operator_and_term(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("name=web-*", Value("web-*", is_glob=True)),
        ("name=*.example.com", Value("*.example.com", is_glob=True)),
        ("name=web-?", Value("web-?", is_glob=True)),
        ("name=*", Value("*", is_glob=True)),
        ('name="web-*"', Value("web-*")),  # quoted: literal
    ],
)
def test_bare_words_with_wildcards_are_globs_and_quoted_strings_are_literal(text, value):
    assert parse(text) == Compare("name", (value,))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'name="say \"hi\""', 'say "hi"'),
        (r'name="back\\slash"', "back\\slash"),
        ('name="and"', "and"),
        ('name="a,b (c)"', "a,b (c)"),
        ('name="tab\there"', "tab\there"),
        ('name="ünïcödé"', "ünïcödé"),
        ('name=""', ""),
    ],
)
def test_quoted_strings(text, value):
    assert parse(text) == Compare("name", (Value(value),))


def test_terms_know_their_positions():
    node = parse("env=production and  not tag:web")
    assert isinstance(node, And)
    assert [item.position for item in node.items] == [0, 20]
    assert node.items[1].item.position == 24


def test_field_choices_match_the_models():
    assert FIELDS["env"].choices == tuple(Target.Environment.values)
    assert FIELDS["os"].choices == tuple(Target.OsFamily.values)
    assert FIELDS["status"].choices == tuple(Target.Status.values)
    assert FIELDS["health"].choices == tuple(Target.Health.values)
    for spec in FIELDS.values():
        Target._meta.get_field(spec.column)


def test_referenced_groups():
    assert referenced_groups(parse("group:a or not (group:b and tag:c)")) == {"a", "b"}
    assert referenced_groups(parse("tag:x")) == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "env=production and tag:web and not label:role=db",
        'name in (a, "b c", web-*) or not (tag:"x y" and label:k not in (a, b))',
        "not not all or group:g and (dc=x or region!=y)",
        'label:"a b"="c\\"d" and name="*"',
    ],
)
def test_render_gives_text_that_parses_to_the_same_tree(text):
    assert parse(render(parse(text))) == parse(text)


# --- Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "empty selector at position 0"),
        ("   \n ", 0, "empty selector"),
        ("env=production and and tag:web", 19, "unexpected 'and' at position 19: expected a term"),
        ("env=production and", 18, "unexpected end of selector at position 18: expected a term"),
        ("or tag:a", 0, "unexpected 'or' at position 0: expected a term"),
        (
            "env=prod",
            4,
            "invalid environment 'prod' at position 4: expected one of production, staging, development, testing",
        ),
        ("os=mac", 3, "invalid os_family 'mac' at position 3: expected one of linux, windows"),
        ("status in (active, broken)", 19, "invalid status 'broken' at position 19"),
        ("health=*", 7, "invalid health_status '*'"),
        (
            "colour=blue",
            0,
            "unknown field 'colour' at position 0: expected one of env (environment), os",
        ),
        ("tag:a and colour in (x)", 10, "unknown field 'colour' at position 10"),
        ("web", 0, "unexpected 'web' at position 0: expected a term"),
        ("env:production", 0, "unexpected 'env:production' at position 0"),
        (
            "env",
            3,
            "unexpected end of selector at position 3: expected '=', '!=', 'in' or 'not in' after 'env'",
        ),
        ("env=", 4, "unexpected end of selector at position 4: expected a value"),
        ("name=and", 5, "unexpected 'and' at position 5: expected a value (quote a keyword"),
        (
            "(tag:a or tag:b",
            15,
            "unexpected end of selector at position 15: expected ')' to close the '(' at position 0",
        ),
        ("(tag:a tag:b)", 7, "unexpected 'tag:b' at position 7: expected 'and', 'or' or ')'"),
        ("tag:a)", 5, "unexpected ')' at position 5: no '(' to close"),
        (
            "tag:a tag:b",
            6,
            "unexpected 'tag:b' at position 6: expected 'and', 'or' or end of selector",
        ),
        ("()", 1, "unexpected ')' at position 1: expected a term"),
        ("tag:", 4, "unexpected end of selector at position 4: expected a tag name"),
        ("label:=x", 6, "unexpected '=' at position 6: expected a label key"),
        ("group:(x)", 6, "unexpected '(' at position 6: expected a group name"),
        ("group:front*", 6, "wildcards are not allowed in group names at position 6"),
        (
            "label:role!=db",
            10,
            "'!=' is ambiguous after a label at position 10: write 'not label:role=VALUE'",
        ),
        (
            "env in production",
            7,
            "unexpected 'production' at position 7: expected '(' to start a list",
        ),
        ("env in ()", 8, "unexpected ')' at position 8: expected a value"),
        ("env in (production,)", 19, "unexpected ')' at position 19: expected a value"),
        (
            "env in (production staging)",
            19,
            "unexpected 'staging' at position 19: expected ',' or ')'",
        ),
        ("id=42", 3, "invalid id '42' at position 3: expected a UUID"),
        ('name="web', 5, "unterminated string at position 5"),
        (r'name="a\n"', 7, "invalid escape in string at position 7"),
        ("name=web!", 8, "unexpected character '!' at position 8"),
        ("tag:a && tag:b", 6, "unexpected character '&' at position 6"),
        ("name=a\x00", 6, "unexpected character '\\x00' at position 6"),
        ('name="a\x00"', 7, "invalid character '\\x00' in string at position 7"),
        ("name=" + "*a" * 11, 5, "too many wildcards at position 5"),
    ],
)
def test_errors_say_what_and_where(text, position, message):
    with pytest.raises(SelectorError) as caught:
        parse(text)
    assert caught.value.position == position
    assert str(caught.value).startswith(message)
    with pytest.raises(SelectorError):
        validate(text)


def test_a_selector_error_is_a_value_error_with_fields_and_pickles():
    with pytest.raises(ValueError, match="at position 4") as caught:
        parse("env=prod")
    error = caught.value
    assert (error.message, error.position) == ("invalid environment 'prod'", 4)
    assert error.hint.startswith("expected one of production")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position, copy.hint, str(copy)) == (
        error.message, error.position, error.hint, str(error),
    )  # fmt: skip


def test_length_is_limited():
    parse("tag:" + "a" * (MAX_LENGTH - 4))
    with pytest.raises(SelectorError, match="selector too long") as caught:
        parse("tag:" + "a" * (MAX_LENGTH - 3))
    assert caught.value.position == MAX_LENGTH


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("(", ")"), ("not ", ""), ("not (", ")")],
)
def test_nesting_is_limited(opening, closing):
    levels = MAX_DEPTH if opening != "not (" else MAX_DEPTH // 2
    parse(opening * levels + "tag:a" + closing * levels)
    too_deep = opening * (MAX_DEPTH + 1) + "tag:a" + closing * (MAX_DEPTH + 1)
    with pytest.raises(SelectorError, match="nests too deeply"):
        parse(too_deep)
    with pytest.raises(SelectorError, match="nests too deeply"):
        parse("(" * 3000)


def test_non_text_is_an_error():
    with pytest.raises(SelectorError, match="must be text"):
        parse(None)  # type: ignore[arg-type]


# --- Evaluation ---------------------------------------------------------------------------------

# name: (environment, os_family, status, health, region, data_center, location, tags, labels)
INVENTORY = {
    "web-1": ("production", "linux", "active", "healthy", "eu-west", "fra1", "Frankfurt",
              ["web", "nginx"], {"role": "frontend", "tier": "1"}),
    "web-2": ("production", "linux", "active", "unknown", "eu-west", "fra2", "",
              ["web"], {"role": "db"}),
    "db-1": ("production", "linux", "active", "unreachable", "us-east", "iad1", "Virginia",
             ["db"], {"role": "db", "tier": ""}),
    "Win-1": ("staging", "windows", "maintenance", "healthy", "", "", "",
              [], {}),
    "dev box": ("development", "linux", "inactive", "error", "eu-west", "", "Home office",
                [], {"owner": "alice"}),
}  # fmt: skip
# name: (static members, saved selector)
GROUPS = {
    "frontends": (["web-1"], "label:role=db and env=production"),
    "nested": ([], "group:frontends and not tag:db"),
    "static-only": (["Win-1", "dev box"], ""),
    "cycle-a": (["db-1"], "group:cycle-b"),
    "cycle-b": ([], "tag:web or group:cycle-c"),
    "cycle-c": ([], "group:cycle-a"),
    "self": ([], "group:self"),
    "broken": ([], "env=prod"),
}


@pytest.fixture
def inventory():
    targets = {}
    for name, (env_, os_, status, health, region, dc, location, tags, labels) in INVENTORY.items():
        target = Target.objects.create(
            name=name, environment=env_, os_family=os_, status=status, health_status=health,
            region=region, data_center=dc, location=location,
        )  # fmt: skip
        target.tags.set([Tag.objects.get_or_create(name=t)[0] for t in tags])
        for key, value in labels.items():
            TargetLabel.objects.create(target=target, key=key, value=value)
        targets[name] = target
    for name, (members, selector) in GROUPS.items():
        group = Group.objects.create(name=name, selector=selector)  # bypasses validation
        group.members.set([targets[m] for m in members])
    return targets


def names(text, queryset=None):
    return set(select(text, queryset).values_list("name", flat=True))


@db
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env=production and tag:web and not label:role=db", {"web-1"}),
        ("all", set(INVENTORY)),
        ("*", set(INVENTORY)),
        ("not all", set()),
        ("env=production", {"web-1", "web-2", "db-1"}),
        ("env!=production", {"Win-1", "dev box"}),
        ("env in (staging, development)", {"Win-1", "dev box"}),
        ("env not in (staging, development)", {"web-1", "web-2", "db-1"}),
        ("os=windows", {"Win-1"}),
        ("status=active", {"web-1", "web-2", "db-1"}),
        ("health=healthy", {"web-1", "Win-1"}),
        ("region=EU-WEST", {"web-1", "web-2", "dev box"}),
        ('region=""', {"Win-1"}),
        ('region!=""', {"web-1", "web-2", "db-1", "dev box"}),
        ("dc=fra*", {"web-1", "web-2"}),
        ("location=*o*", {"dev box"}),
        ("location=frankfurt", {"web-1"}),
        # names: case-insensitive, globs in bare words, literal in quotes
        ("name=win-1", {"Win-1"}),
        ('name="dev box"', {"dev box"}),
        ("name=web-*", {"web-1", "web-2"}),
        ("name=*-1", {"web-1", "db-1", "Win-1"}),
        ("name=*B*", {"web-1", "web-2", "db-1", "dev box"}),
        ("name=?eb-?", {"web-1", "web-2"}),
        ("name=w*-*", {"web-1", "web-2", "Win-1"}),
        ("name=*", set(INVENTORY)),
        ('name="web-*"', set()),
        ("name=web.1", set()),  # "." is literal in a glob, not "any character"
        ("name in (web-1, db-*)", {"web-1", "db-1"}),
        ("name not in (web-1, db-*)", {"web-2", "Win-1", "dev box"}),
        # tags and labels: negation includes targets with no tags / labels at all
        ("tag:web", {"web-1", "web-2"}),
        ("not tag:web", {"db-1", "Win-1", "dev box"}),
        ("tag:nope", set()),
        ("not tag:nope", set(INVENTORY)),
        ("tag:Web", set()),  # tag names are exact
        ("tag:*", {"web-1", "web-2", "db-1"}),
        ("not tag:*", {"Win-1", "dev box"}),
        ("tag:ng*", {"web-1"}),
        ("label:role", {"web-1", "web-2", "db-1"}),
        ("not label:role", {"Win-1", "dev box"}),
        ("label:role=db", {"web-2", "db-1"}),
        ("not label:role=db", {"web-1", "Win-1", "dev box"}),
        ("label:role not in (db)", {"web-1"}),
        ("label:role in (db, frontend)", {"web-1", "web-2", "db-1"}),
        ('label:tier=""', {"db-1"}),
        ("label:tier=*", {"web-1", "db-1"}),
        ("label:*=alice", {"dev box"}),
        ("tag:web and tag:nginx", {"web-1"}),
        ("tag:web and not tag:nginx", {"web-2"}),
        ("tag:db or label:owner", {"db-1", "dev box"}),
        ("not (tag:web or tag:db)", {"Win-1", "dev box"}),
        ("not not tag:db", {"db-1"}),
        # groups: static members or the saved selector, recursively
        ("group:frontends", {"web-1", "web-2", "db-1"}),
        ("not group:frontends", {"Win-1", "dev box"}),
        ("group:nested", {"web-1", "web-2"}),
        ("group:static-only", {"Win-1", "dev box"}),
        ("group:static-only and status=maintenance", {"Win-1"}),
        ("group:nope", set()),
        ("not group:nope", set(INVENTORY)),
    ],
)
def test_evaluation(inventory, text, expected):
    assert names(text) == expected


@db
def test_ids(inventory):
    web1, db1 = inventory["web-1"].pk, inventory["db-1"].pk
    assert names(f"id={web1}") == {"web-1"}
    assert names(f"id={str(web1).upper()}") == {"web-1"}
    assert names(f"id in ({web1}, {db1})") == {"web-1", "db-1"}
    assert names(f"id!={web1}") == set(INVENTORY) - {"web-1"}
    assert names(f"id={uuid.uuid4()}") == set()


@db
def test_select_narrows_a_given_queryset_and_needs_no_distinct(inventory):
    active = Target.objects.filter(status="active")
    assert names("tag:web or tag:nginx or label:role", active) == {"web-1", "web-2", "db-1"}
    assert select("tag:web or tag:nginx", active).count() == 2
    assert select("all").db == DB


@db
def test_to_q_is_a_q_over_targets(inventory):
    q = to_q(parse("tag:web and not label:role=db"))
    assert isinstance(q, Q)
    assert set(Target.objects.filter(q).values_list("name", flat=True)) == {"web-1"}


@db
@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("group:self", 0, "group cycle (self -> self) at position 0"),
        (
            "tag:x or group:cycle-a",
            9,
            "group cycle (cycle-a -> cycle-b -> cycle-c -> cycle-a) at position 9",
        ),
        ("all and not group:cycle-b", 12, "group cycle (cycle-b -> cycle-c -> cycle-a -> cycle-b)"),
        (
            "group:broken",
            0,
            "group 'broken' has an invalid selector at position 0: invalid environment 'prod' at position 4",
        ),
    ],
)
def test_group_cycles_and_broken_saved_selectors_are_errors(inventory, text, position, message):
    with pytest.raises(SelectorError) as caught:
        list(select(text))
    assert caught.value.position == position
    assert str(caught.value).startswith(message)
    validate(text)  # without the database, the text itself is fine


@db
def test_the_same_group_twice_is_not_a_cycle(inventory):
    assert names("group:frontends and group:nested") == {"web-1", "web-2"}
    Group.objects.create(name="diamond", selector="group:frontends or group:nested")
    assert names("group:diamond") == {"web-1", "web-2", "db-1"}


def deep(levels, innermost):
    """A selector nesting ``levels`` parentheses, each adding an OR and an AND level."""
    text = innermost
    for _ in range(levels):
        text = f"(tag:x or tag:web and {text})"
    return text


@db
def test_deep_group_nesting_is_an_error_not_a_crash(inventory):
    Group.objects.create(name="deep-leaf", selector=deep(MAX_DEPTH - 1, "tag:web"))
    # About 100 levels inside a group under about 90 outside: still compiled and evaluated.
    assert names(deep(MAX_DEPTH - 5, "group:deep-leaf")) == {"web-1", "web-2"}
    # Without a limit, this chain would nest ~900 levels: a RecursionError inside Django.
    for i in range(8):
        Group.objects.create(name=f"deep-{i}", selector=deep(MAX_DEPTH - 1, f"group:deep-{i + 1}"))
    Group.objects.create(name="deep-8", selector="all")
    with pytest.raises(SelectorError, match="nests too deeply through its groups") as caught:
        list(select("tag:x or group:deep-0"))
    assert caught.value.position == 9


@db
def test_group_chains_and_fan_outs_are_limited(inventory):
    for i in range(12):
        Group.objects.create(name=f"chain-{i}", selector=f"group:chain-{i + 1}")
    with pytest.raises(SelectorError, match=r"groups nest too deeply \(chain-0 -> .*chain-10\)"):
        list(select("group:chain-0"))
    assert names("group:chain-3") == set()  # 9 levels down to chain-12, which does not exist
    Group.objects.create(name="fan", selector=" or ".join(["group:frontends"] * 101))
    with pytest.raises(SelectorError, match="expands too many groups"):
        list(select("group:fan"))


# --- Properties ---------------------------------------------------------------------------------

TOKENS = [
    "(", ")", ",", "=", "!=", "and", "or", "not", "in", "all", "*", "AND", "Not",
    "env", "environment", "os", "status", "health", "name", "region", "dc", "data_center",
    "location", "id", "colour", "production", "prod", "linux", "active", "healthy",
    "tag:", "tag:web", "label:", "label:role", "group:", "group:frontends", "group:self",
    "web-*", "?", "db", '"', '"x y"', '"a\\"b"', '"\\', "\\", "6f1c2e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
    "!", "&", "\x00", "é", " ", "\n",
]  # fmt: skip


@settings(max_examples=500)
@given(st.text())
def test_parse_never_raises_anything_but_selector_error_on_any_text(text):
    try:
        parse(text)
    except SelectorError as exc:
        assert 0 <= exc.position <= max(len(text), MAX_LENGTH)


token_soup = st.lists(st.sampled_from(TOKENS), max_size=30).map(
    lambda tokens: " ".join(tokens)
) | st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


@settings(max_examples=1000)
@given(token_soup)
def test_parse_never_raises_anything_but_selector_error_on_token_soup(text):
    try:
        node = parse(text)
    except SelectorError as exc:
        assert 0 <= exc.position <= len(text)
    else:
        assert parse(render(node)) == node


# Selectors built from the grammar, over values that exist in INVENTORY / GROUPS and some that
# do not, so that evaluation can be checked against a reference evaluator written in Python.
text_values = st.sampled_from(
    ["web-1", "WEB-2", "db-1", "win-1", '"dev box"', "web-*", "*-1", "*B*", "?eb-?", "*",
     '"web-*"', "eu-west", "fra*", '""', "frankfurt", "nope", '"a\\"b"']
)  # fmt: skip
enum_fields = {
    "env": ["production", "staging", "Development", "testing"],
    "os": ["linux", "windows"],
    "status": ["active", "inactive", "maintenance"],
    "health": ["healthy", "unknown", "error", "unreachable", "auth_failed"],
}
tag_values = st.sampled_from(["web", "nginx", "db", "Web", "nope", "*", "ng*", '"web"'])
label_keys = st.sampled_from(["role", "tier", "owner", "nope", "*", '"role"'])
label_values = st.sampled_from(["db", "frontend", "1", '""', "alice", "*", "fr*"])


@st.composite
def value_list(draw, values):
    return "(" + ", ".join(draw(st.lists(values, min_size=1, max_size=3))) + ")"


def comparison(field, values):
    return st.one_of(
        st.builds(lambda v: f"{field}={v}", values),
        st.builds(lambda v: f"{field} != {v}", values),
        st.builds(lambda v: f"{field} in {v}", value_list(values)),
        st.builds(lambda v: f"{field} not in {v}", value_list(values)),
    )


terms = st.one_of(
    st.sampled_from(["all", "*"]),
    *[comparison(f, st.sampled_from(vs)) for f, vs in enum_fields.items()],
    *[comparison(f, text_values) for f in ["name", "region", "dc", "location"]],
    st.builds("tag:{}".format, tag_values),
    st.builds("label:{}".format, label_keys),
    st.builds("label:{}={}".format, label_keys, label_values),
    st.builds("label:{} in {}".format, label_keys, value_list(label_values)),
    st.builds("label:{} not in {}".format, label_keys, value_list(label_values)),
    st.sampled_from(["group:frontends", "group:nested", "group:static-only", "group:nope"]),
)
selectors = st.recursive(
    terms,
    lambda inner: st.one_of(
        st.builds("not {}".format, inner),
        st.builds("({})".format, inner),
        st.builds(" and ".join, st.lists(inner, min_size=2, max_size=3)),
        st.builds(" or ".join, st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)


def reference(node, target, groups_seen=()):
    """What ``node`` selects, computed in Python from INVENTORY and GROUPS."""
    env_, os_, status, health, region, dc, location, tags, labels = INVENTORY[target]

    def match(actual, value, *, ignore_case):
        a, v = (actual.lower(), value.text.lower()) if ignore_case else (actual, value.text)
        return fnmatch.fnmatchcase(a, v) if value.is_glob else a == v

    if isinstance(node, All):
        return True
    if isinstance(node, Not):
        return not reference(node.item, target, groups_seen)
    if isinstance(node, And):
        return all(reference(item, target, groups_seen) for item in node.items)
    if isinstance(node, Or):
        return any(reference(item, target, groups_seen) for item in node.items)
    if isinstance(node, Compare):
        actual = {
            "env": env_, "os": os_, "status": status, "health": health, "name": target,
            "region": region, "dc": dc, "location": location,
        }[node.field]  # fmt: skip
        found = any(match(actual, v, ignore_case=True) for v in node.values)
        return found != node.negated
    if isinstance(node, HasTag):
        return any(match(t, node.name, ignore_case=False) for t in tags)
    if isinstance(node, HasLabel):
        pairs = [(k, v) for k, v in labels.items() if match(k, node.key, ignore_case=False)]
        if not node.values:
            return bool(pairs)
        return any(
            any(match(v, want, ignore_case=False) for want in node.values) != node.negated
            for _, v in pairs
        )
    if isinstance(node, InGroup):
        if node.name not in GROUPS:
            return False
        members, selector = GROUPS[node.name]
        return target in members or (bool(selector) and reference(parse(selector), target))
    raise AssertionError(node)


@settings(max_examples=300)
@given(selectors)
def test_generated_selectors_parse_and_render_back(text):
    node = parse(text)
    assert parse(render(node)) == node


@db
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=selectors)
def test_generated_selectors_select_what_the_reference_evaluator_selects(inventory, text):
    node = parse(text)
    expected = {name for name in INVENTORY if reference(node, name)}
    assert names(text) == expected, render(node)


@db
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=token_soup | selectors)
def test_whatever_parses_evaluates_without_a_database_error(inventory, text):
    try:
        parse(text)
    except SelectorError:
        return
    try:
        list(select(text).values_list("id", flat=True))
    except SelectorError as exc:  # group cycles and broken saved selectors, nothing else
        assert "group" in exc.message
