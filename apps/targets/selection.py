"""The target selector language: parse a selector, turn it into a ``Q``, select targets.

A selector chooses targets everywhere (jobs, schedules, groups, API filters)::

    env=production and tag:web and not label:role=db

The language is documented for users in ``docs/targets-selectors.md``. In short:

    selector := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | term
    term     := "(" or ")" | "all" | "*"
              | FIELD ("=" | "!=") value
              | FIELD ["not"] "in" "(" value ("," value)* ")"
              | "tag:" value
              | "label:" value [("=" value) | (["not"] "in" "(" value ("," value)* ")")]
              | "group:" value
    value    := WORD | STRING        WORD = [A-Za-z0-9_.:*?/-]+, STRING = "..." with \\" and \\\\

Keywords (``and or not in all``) and field names are case-insensitive. In a bare word ``*`` and
``?`` are wildcards; a quoted string is always literal.

``parse`` checks everything that can be checked without the database (syntax, field names,
enum values, UUIDs) and raises ``SelectorError`` carrying the 0-based ``position`` of the
problem. ``to_q`` reads the saved selectors of referenced groups and raises ``SelectorError`` on
a group cycle. Unknown tags, labels and groups are not errors: they match nothing.

Every relation is tested through an ``id__in`` subquery, so negation is exact for multi-valued
relations (``not tag:web`` includes targets without any tag) and no ``distinct()`` is needed.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from apps.targets.models import Target

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "All",
    "And",
    "Compare",
    "HasLabel",
    "HasTag",
    "InGroup",
    "Node",
    "Not",
    "Or",
    "SelectorError",
    "Value",
    "parse",
    "referenced_groups",
    "render",
    "select",
    "to_q",
    "validate",
]

MAX_LENGTH = 4000  # characters of selector text (Group.selector has the same limit)
MAX_DEPTH = 50  # nesting of parentheses and "not"
MAX_WILDCARD_RUNS = 10  # "*" runs in one glob (bounds the cost of the regex on every vendor)
MAX_GROUP_EXPANSIONS = 100  # group:NAME expansions while evaluating one selector
MAX_GROUP_NESTING = 10  # group:A whose selector uses group:B whose selector uses group:C ...
# Nesting of the whole condition, groups' selectors included. One selector nests at most about
# 2 * MAX_DEPTH; Django compiles ~300 levels before Python's recursion limit.
MAX_EVAL_DEPTH = 200

KEYWORDS = frozenset({"and", "or", "not", "in", "all"})
# Reserved where a value is expected; "all" is not (``name=all`` is a name).
RESERVED_VALUES = frozenset({"and", "or", "not", "in"})
PREFIXES = ("tag", "label", "group")


class SelectorError(ValueError):
    """A selector that cannot be parsed or evaluated.

    ``message`` says what is wrong, ``position`` is the 0-based character offset in the
    selector text where it is wrong, ``hint`` (may be empty) says what was expected.
    ``str()`` gives all three: ``unexpected 'and' at position 12: expected a term``.
    """

    def __init__(self, message: str, position: int, hint: str = "") -> None:
        self.message = message
        self.position = position
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.message} at position {self.position}"
        return f"{text}: {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self._format()

    def __reduce__(self):  # pickles with its fields (Celery results, multiprocessing)
        return (type(self), (self.message, self.position, self.hint))


# --- Fields -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str  # canonical name used in the AST
    column: str  # Target model field
    kind: str  # "enum", "text" or "uuid"
    choices: tuple[str, ...] = ()


def _field_specs() -> dict[str, FieldSpec]:
    # Choices are spelled out (not imported from the models) so that parsing needs no app
    # registry; test_selection checks they match the models.
    env = FieldSpec(
        "env", "environment", "enum", ("production", "staging", "development", "testing")
    )
    os_ = FieldSpec("os", "os_family", "enum", ("linux", "windows"))
    status = FieldSpec("status", "status", "enum", ("active", "inactive", "maintenance"))
    health = FieldSpec(
        "health",
        "health_status",
        "enum",
        (
            "unknown",
            "healthy",
            "unreachable",
            "auth_failed",
            "host_key_unknown",
            "host_key_mismatch",
            "scope_refused",
            "error",
        ),
    )
    name = FieldSpec("name", "name", "text")
    region = FieldSpec("region", "region", "text")
    dc = FieldSpec("dc", "data_center", "text")
    location = FieldSpec("location", "location", "text")
    id_ = FieldSpec("id", "id", "uuid")
    return {
        "env": env,
        "environment": env,
        "os": os_,
        "os_family": os_,
        "status": status,
        "health": health,
        "health_status": health,
        "name": name,
        "region": region,
        "dc": dc,
        "data_center": dc,
        "location": location,
        "id": id_,
    }


FIELDS: dict[str, FieldSpec] = _field_specs()
FIELD_NAMES_HINT = (
    "expected one of env (environment), os (os_family), status, health (health_status), name, "
    "region, dc (data_center), location, id; or tag:NAME, label:KEY[=VALUE], group:NAME, all"
)


# --- AST ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A value as written: ``is_glob`` when it is a bare word with ``*`` or ``?``."""

    text: str
    is_glob: bool = False


@dataclass(frozen=True)
class All:
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class Compare:
    """``field=value``, ``field!=value``, ``field in (...)``, ``field not in (...)``.

    ``field`` is the canonical name (``env``, ``os``, ``status``, ``health``, ``name``,
    ``region``, ``dc``, ``location``, ``id``); enum values are lower-cased, ids are canonical
    UUID strings. ``negated`` covers ``!=`` and ``not in``.
    """

    field: str
    values: tuple[Value, ...]
    negated: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class HasTag:
    name: Value
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class HasLabel:
    """``label:KEY`` (``values`` empty), ``label:KEY=V`` or ``label:KEY [not] in (V, ...)``."""

    key: Value
    values: tuple[Value, ...] = ()
    negated: bool = False  # only with values: the label is present with another value
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class InGroup:
    name: str
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    item: Node
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]
    position: int = dataclasses.field(default=0, compare=False)


Node = All | Compare | HasTag | HasLabel | InGroup | Not | And | Or


# --- Lexer --------------------------------------------------------------------------------------

WORD_RE = re.compile(r"[A-Za-z0-9_.:*?/-]+")
SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str  # ( ) , = != WORD STRING PREFIX NAME END
    text: str  # the value (unescaped for STRING; "tag"/"label"/"group" for PREFIX)
    position: int
    raw: str  # as written, for messages

    @property
    def keyword(self) -> str | None:
        if self.kind == "WORD" and self.text.lower() in KEYWORDS:
            return self.text.lower()
        return None


def _describe(token: Token) -> str:
    if token.kind == "END":
        return "end of selector"
    raw = token.raw if len(token.raw) <= 40 else token.raw[:37] + "..."
    return f"'{raw}'"


def _bad_char(char: str) -> bool:
    # PostgreSQL text cannot hold NUL; lone surrogates cannot be encoded to UTF-8.
    return char == "\x00" or "\ud800" <= char <= "\udfff"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        space = SPACE_RE.match(text, i)
        if space:
            i = space.end()
            continue
        if char in "(),=":
            tokens.append(Token(char, char, i, char))
            i += 1
            continue
        if text.startswith("!=", i):
            tokens.append(Token("!=", "!=", i, "!="))
            i += 2
            continue
        if char == '"':
            tokens.append(_string(text, i))
            i += len(tokens[-1].raw)
            continue
        word = WORD_RE.match(text, i)
        if word:
            tokens.extend(_word(word.group(), i))
            i = word.end()
            continue
        shown = repr(char) if not char.isprintable() or _bad_char(char) else f"'{char}'"
        raise SelectorError(f"unexpected character {shown}", i)
    tokens.append(Token("END", "", n, ""))
    return tokens


def _string(text: str, start: int) -> Token:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return Token("STRING", "".join(chars), start, text[start : i + 1])
        if char == "\\":
            if i + 1 < len(text) and text[i + 1] in '"\\':
                chars.append(text[i + 1])
                i += 2
                continue
            raise SelectorError(
                "invalid escape in string", i, 'use \\" for a quote and \\\\ for a backslash'
            )
        if _bad_char(char):
            raise SelectorError(f"invalid character {char!r} in string", i)
        chars.append(char)
        i += 1
    raise SelectorError("unterminated string", start, 'close it with "')


def _word(word: str, position: int) -> Iterator[Token]:
    prefix, colon, rest = word.partition(":")
    if colon and prefix.lower() in PREFIXES:
        yield Token("PREFIX", prefix.lower(), position, word)
        if rest:
            # Glued to its prefix, so never a keyword: tag:and is the tag "and".
            yield Token("NAME", rest, position + len(prefix) + 1, rest)
        return
    yield Token("WORD", word, position, word)


# --- Parser -------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "END":
            self.index += 1
        return token

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def fail(self, hint: str, token: Token | None = None) -> SelectorError:
        token = token or self.token
        return SelectorError(f"unexpected {_describe(token)}", token.position, hint)

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SelectorError("selector nests too deeply", token.position, f"at most {MAX_DEPTH}")

    def parse(self) -> Node:
        node = self.parse_or()
        if self.token.kind != "END":
            hint = "expected 'and', 'or' or end of selector"
            if self.token.kind == ")":
                hint = "no '(' to close"
            raise self.fail(hint)
        return node

    def parse_or(self) -> Node:
        first = self.token
        items = [self.parse_and()]
        while self.token.keyword == "or":
            self.next()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items), first.position)

    def parse_and(self) -> Node:
        first = self.token
        items = [self.parse_not()]
        while self.token.keyword == "and":
            self.next()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items), first.position)

    def parse_not(self) -> Node:
        token = self.token
        if token.keyword != "not":
            return self.parse_term()
        self.next()
        self.enter(token)
        node = Not(self.parse_not(), token.position)
        self.depth -= 1
        return node

    def parse_term(self) -> Node:
        token = self.token
        if token.kind == "(":
            self.next()
            self.enter(token)
            node = self.parse_or()
            if self.token.kind != ")":
                raise self.fail(
                    f"expected ')' to close the '(' at position {token.position}"
                    if self.token.kind == "END"
                    else "expected 'and', 'or' or ')'"
                )
            self.next()
            self.depth -= 1
            return node
        if token.kind == "PREFIX":
            self.next()
            return self.parse_prefixed(token)
        if token.kind == "WORD":
            if token.keyword == "all" or token.text == "*":
                self.next()
                return All(token.position)
            if token.keyword is None:
                return self.parse_compare()
        raise self.fail("expected a term (field=value, tag:NAME, label:KEY, group:NAME or all)")

    # -- terms

    def parse_compare(self) -> Compare:
        name_token = self.next()
        spec = FIELDS.get(name_token.text.lower())
        op = self.token
        is_operator = (
            op.kind in ("=", "!=")
            or op.keyword == "in"
            or (op.keyword == "not" and self.peek().keyword == "in")
        )
        if spec is None:
            if is_operator:
                raise SelectorError(
                    f"unknown field '{name_token.raw}'", name_token.position, FIELD_NAMES_HINT
                )
            raise self.fail(
                "expected a term (field=value, tag:NAME, label:KEY, group:NAME or all)", name_token
            )
        negated, values = self.parse_operator_and_values(f"'{name_token.raw}'")
        checked = tuple(_check_value(spec, value, token) for value, token in values)
        return Compare(spec.name, checked, negated, name_token.position)

    def parse_operator_and_values(
        self, subject: str, *, allow_neq: bool = True
    ) -> tuple[bool, list[tuple[Value, Token]]]:
        op = self.token
        if op.kind == "=" or (op.kind == "!=" and allow_neq):
            self.next()
            return op.kind == "!=", [self.parse_value()]
        negated = False
        if op.keyword == "not" and self.peek().keyword == "in":
            self.next()
            negated = True
        if self.token.keyword == "in":
            self.next()
            return negated, self.parse_value_list()
        ops = "'=', '!=', 'in' or 'not in'" if allow_neq else "'=', 'in' or 'not in'"
        raise self.fail(f"expected {ops} after {subject}")

    def parse_value(self, what: str = "a value") -> tuple[Value, Token]:
        token = self.token
        if token.kind == "STRING":
            self.next()
            return Value(token.text), token
        if token.kind == "NAME" or (
            token.kind == "WORD" and token.text.lower() not in RESERVED_VALUES
        ):
            self.next()
            return Value(token.text, is_glob="*" in token.text or "?" in token.text), token
        hint = f"expected {what}"
        if token.keyword:
            hint += f' (quote a keyword to use it as a value: "{token.text}")'
        raise self.fail(hint)

    def parse_value_list(self) -> list[tuple[Value, Token]]:
        if self.token.kind != "(":
            raise self.fail("expected '(' to start a list of values")
        self.next()
        values = [self.parse_value()]
        while self.token.kind == ",":
            self.next()
            values.append(self.parse_value())
        if self.token.kind != ")":
            raise self.fail("expected ',' or ')'")
        self.next()
        return values

    def parse_prefixed(self, prefix: Token) -> Node:
        kind = prefix.text
        what = {"tag": "a tag name", "label": "a label key", "group": "a group name"}[kind]
        name, name_token = self.parse_value(what)
        if kind == "tag":
            return HasTag(name, prefix.position)
        if kind == "group":
            if name.is_glob:
                raise SelectorError("wildcards are not allowed in group names", name_token.position)
            return InGroup(name.text, prefix.position)
        # label:KEY, label:KEY=VALUE, label:KEY [not] in (...)
        op = self.token
        if op.kind == "!=":
            raise SelectorError(
                "'!=' is ambiguous after a label",
                op.position,
                f"write 'not label:{name_token.raw}=VALUE' (also targets without the label) or "
                f"'label:{name_token.raw} and not label:{name_token.raw}=VALUE'",
            )
        if (
            op.kind == "="
            or (op.keyword == "in")
            or (op.keyword == "not" and self.peek().keyword == "in")
        ):
            negated, values = self.parse_operator_and_values(
                f"label:{name_token.raw}", allow_neq=False
            )
            return HasLabel(name, tuple(v for v, _ in values), negated, prefix.position)
        return HasLabel(name, (), False, prefix.position)


def _check_value(spec: FieldSpec, value: Value, token: Token) -> Value:
    if spec.kind == "enum":
        lowered = value.text.lower()
        if lowered not in spec.choices:
            raise SelectorError(
                f"invalid {spec.column} '{value.text}'",
                token.position,
                "expected one of " + ", ".join(spec.choices),
            )
        return Value(lowered)
    if spec.kind == "uuid":
        try:
            return Value(str(uuid.UUID(value.text)))
        except ValueError:
            raise SelectorError(
                f"invalid id '{value.text}'",
                token.position,
                "expected a UUID such as 6f1c2e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
            ) from None
    if value.is_glob and _wildcard_runs(value.text) > MAX_WILDCARD_RUNS:
        raise SelectorError(
            "too many wildcards", token.position, f"at most {MAX_WILDCARD_RUNS} '*' per value"
        )
    return value


def _wildcard_runs(pattern: str) -> int:
    return len(re.findall(r"\*+", pattern))


def parse(text: str) -> Node:
    """Parse a selector into its AST; raise ``SelectorError`` (with a position) if invalid.

    Checks syntax, field names, enum values (``env=prod`` is an error naming the allowed
    values) and UUIDs. Tags, labels and groups are not looked up.
    """
    if not isinstance(text, str):
        raise SelectorError("a selector must be text", 0)
    if len(text) > MAX_LENGTH:
        raise SelectorError("selector too long", MAX_LENGTH, f"at most {MAX_LENGTH} characters")
    if not text.strip():
        raise SelectorError("empty selector", 0, "use 'all' to select every target")
    return _Parser(text).parse()


def validate(text: str) -> None:
    """Raise ``SelectorError`` if ``text`` is not a valid selector (no database access)."""
    parse(text)


def referenced_groups(node: Node) -> frozenset[str]:
    """Names of the groups a selector refers to directly (not through those groups)."""
    if isinstance(node, InGroup):
        return frozenset({node.name})
    if isinstance(node, Not):
        return referenced_groups(node.item)
    if isinstance(node, And | Or):
        return frozenset().union(*(referenced_groups(item) for item in node.items))
    return frozenset()


# --- Rendering ----------------------------------------------------------------------------------


def _render_value(value: Value) -> str:
    text = value.text
    bare = WORD_RE.fullmatch(text) and text.lower() not in RESERVED_VALUES
    if value.is_glob or (bare and "*" not in text and "?" not in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render_values(values: tuple[Value, ...], negated: bool, *, neq: bool = True) -> str:
    if len(values) == 1 and (neq or not negated):
        return ("!=" if negated else "=") + _render_value(values[0])
    inner = ", ".join(_render_value(v) for v in values)
    return f" {'not in' if negated else 'in'} ({inner})"


def render(node: Node) -> str:
    """The canonical text of a selector: ``parse(render(node)) == node``."""
    if isinstance(node, All):
        return "all"
    if isinstance(node, Compare):
        return node.field + _render_values(node.values, node.negated)
    if isinstance(node, HasTag):
        return "tag:" + _render_value(node.name)
    if isinstance(node, HasLabel):
        text = "label:" + _render_value(node.key)
        return text + (_render_values(node.values, node.negated, neq=False) if node.values else "")
    if isinstance(node, InGroup):
        return "group:" + _render_value(Value(node.name))
    if isinstance(node, Not):
        inner = render(node.item)
        return f"not ({inner})" if isinstance(node.item, And | Or) else f"not {inner}"
    if isinstance(node, And):
        return " and ".join(
            f"({render(i)})" if isinstance(i, Or | And) else render(i) for i in node.items
        )
    if isinstance(node, Or):
        return " or ".join(f"({render(i)})" if isinstance(i, Or) else render(i) for i in node.items)
    raise TypeError(f"not a selector node: {node!r}")


# --- Evaluation ---------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> str:
    parts = []
    for piece in re.split(r"(\*+|\?)", pattern):
        if not piece:
            continue
        if piece.startswith("*"):
            parts.append(".*")
        elif piece == "?":
            parts.append(".")
        else:
            parts.append(re.escape(piece))
    return "^" + "".join(parts) + "$"


def _match(path: str, value: Value, *, ignore_case: bool) -> Q:
    """``path`` equals ``value``, or matches it as a glob; case-insensitively if asked."""
    i = "i" if ignore_case else ""
    if not value.is_glob:
        return Q(**{f"{path}__{i}exact": value.text})
    pattern = re.sub(r"\*+", "*", value.text)
    if pattern == "*":
        return Q(**{f"{path}__isnull": False})  # every value, the empty one too
    core = pattern.strip("*")
    if "*" not in core and "?" not in core:
        starts, ends = pattern.startswith("*"), pattern.endswith("*")
        lookup = {
            (False, True): "startswith",
            (True, False): "endswith",
            (True, True): "contains",
        }[(starts, ends)]
        return Q(**{f"{path}__{i}{lookup}": core})
    return Q(**{f"{path}__{i}regex": _glob_regex(pattern)})


def _any(queries: list[Q]) -> Q:
    return queries[0] if len(queries) == 1 else Q(*queries, _connector=Q.OR)


class _Compiler:
    def __init__(self, using: str | None) -> None:
        self.using = using
        self.groups: list[str] = []  # the group:NAME chain being expanded (cycle detection)
        self.expansions = 0
        self.position: int | None = None  # of the outermost group term being expanded
        self.depth = 0

    def compile(self, node: Node) -> Q:
        if not isinstance(node, Not | And | Or):
            return self.leaf(node)
        self.depth += 1
        if self.depth > MAX_EVAL_DEPTH:
            raise SelectorError(
                "selector nests too deeply through its groups",
                self.position if self.position is not None else node.position,
                f"at most {MAX_EVAL_DEPTH} levels in all",
            )
        try:
            if isinstance(node, Not):
                if isinstance(node.item, Not):  # not not x == x
                    return self.compile(node.item.item)
                return ~self.compile(node.item)
            connector = Q.AND if isinstance(node, And) else Q.OR
            return Q(*(self.compile(item) for item in node.items), _connector=connector)
        finally:
            self.depth -= 1

    def leaf(self, node: Node) -> Q:
        if isinstance(node, All):
            return Q(id__isnull=False)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, HasTag):
            return self.tag(node)
        if isinstance(node, HasLabel):
            return self.label(node)
        if isinstance(node, InGroup):
            return self.group(node)
        raise TypeError(f"not a selector node: {node!r}")

    def compare(self, node: Compare) -> Q:
        spec = FIELDS[node.field]
        if spec.kind == "text":
            q = _any([_match(spec.column, v, ignore_case=True) for v in node.values])
        elif len(node.values) == 1:
            q = Q(**{spec.column: node.values[0].text})
        else:
            q = Q(**{f"{spec.column}__in": [v.text for v in node.values]})
        return ~q if node.negated else q

    def tag(self, node: HasTag) -> Q:
        from apps.targets.models import Target

        through = Target.tags.through.objects.filter(
            _match("tag__name", node.name, ignore_case=False)
        )
        return Q(id__in=through.values("target_id"))

    def label(self, node: HasLabel) -> Q:
        from apps.targets.models import TargetLabel

        key = _match("key", node.key, ignore_case=False)
        has_key = Q(id__in=TargetLabel.objects.filter(key).values("target_id"))
        if not node.values:
            return has_key
        value = _any([_match("value", v, ignore_case=False) for v in node.values])
        if node.negated:  # the label is there, with none of these values
            value = ~value
        return Q(id__in=TargetLabel.objects.filter(key, value).values("target_id"))

    def group(self, node: InGroup) -> Q:
        if self.groups:
            return self.expand(node)
        # Errors met inside groups' saved selectors point at the group:NAME term the user wrote.
        self.position = node.position
        try:
            return self.expand(node)
        finally:
            self.position = None

    def expand(self, node: InGroup) -> Q:
        from apps.targets.models import Group, Target

        position = self.position if self.position is not None else node.position
        chain = " -> ".join([*self.groups, node.name])
        if node.name in self.groups:
            raise SelectorError(f"group cycle ({chain})", position)
        if len(self.groups) >= MAX_GROUP_NESTING:
            raise SelectorError(
                f"groups nest too deeply ({chain})", position, f"at most {MAX_GROUP_NESTING}"
            )
        self.expansions += 1
        if self.expansions > MAX_GROUP_EXPANSIONS:
            raise SelectorError(
                "selector expands too many groups", position, f"at most {MAX_GROUP_EXPANSIONS}"
            )
        members = Group.members.through.objects.filter(group__name=node.name)
        q = Q(id__in=members.values("target_id"))
        groups = Group.objects.db_manager(self.using) if self.using else Group.objects
        selector = groups.filter(name=node.name).values_list("selector", flat=True).first()
        if not selector or not selector.strip():
            return q
        try:
            inner = parse(selector)
        except SelectorError as exc:
            raise SelectorError(
                f"group '{node.name}' has an invalid selector", position, str(exc)
            ) from exc
        self.groups.append(node.name)
        self.depth += 2  # the subquery and the OR with the static members
        try:
            saved = self.compile(inner)
        finally:
            self.groups.pop()
            self.depth -= 2
        # A subquery of its own keeps the group's condition self-contained.
        return q | Q(id__in=Target.objects.filter(saved).values("id"))


def to_q(node: Node, *, using: str | None = None) -> Q:
    """A ``Q`` over ``Target`` matching what ``node`` selects.

    Reads the saved selectors of the groups it refers to (from ``using``, default: where the
    router sends ``Group``); raises ``SelectorError`` on a group cycle, on groups nested more
    than ``MAX_GROUP_NESTING`` deep, or on a group whose saved selector is invalid.
    """
    return _Compiler(using).compile(node)


def select(text: str, queryset: QuerySet[Target] | None = None) -> QuerySet[Target]:
    """The targets ``text`` selects, within ``queryset`` (default: all targets).

    Raises ``SelectorError``. No ``distinct()`` is needed: relations are tested by subquery.
    """
    from apps.targets.models import Target

    node = parse(text)
    if queryset is None:
        queryset = Target.objects.all()
    return queryset.filter(to_q(node, using=queryset.db))
