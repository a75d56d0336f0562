"""``{{ name }}`` templates in job steps, and quoting values for the target's shell.

Pure Python (no models), used by validation, the plan preview and workers alike.

Syntax
    ``{{ name }}`` (spaces or tabs inside the braces optional) refers to a parameter; ``{{{{``
    writes a literal ``{{`` (``}}`` outside a reference is plain text). Anything else that
    starts with ``{{`` is a ``TemplateError`` with the position of the problem. Doubling is the
    escape, not a backslash, because backslashes are everyday text in both shells
    (``C:\\logs\\{{ file }}`` must stay a reference).

Shell commands (``render``)
    Each reference becomes the value as ONE single-quoted shell word (POSIX ``'...'`` or a
    PowerShell ``'...'`` literal), so no value can end its quoting and run something. That
    guarantee also needs the reference to stand where the shell reads a quoted word as plain
    data, so ``check_template`` (which ``render`` runs first) refuses a reference inside quotes,
    a comment, a here-document or here-string, backquotes, ``${...}``, arithmetic (``$(( ))``,
    ``(( ))``, ``$[ ]``, a bash array subscript ``name[...]``, where bash expands ``$( )`` even
    inside single quotes), right after ``$`` or an escape character, and after any construct it
    cannot follow with certainty. In PowerShell a reference may not touch a single quote or
    another reference either (``'a''b'`` is one string). Write ``echo "prefix-"{{ v }}``
    instead of ``echo "prefix-{{ v }}"``.

    What a template does with the word is its author's business. A command that treats an
    argument as code runs the value: ``eval``, ``sh -c``, ``ssh host {{ v }}`` (the remote
    shell parses it), ``su -c``, ``trap``, ``xargs sh -c``, ``Invoke-Expression``, ``&``,
    ``cmd /c`` and batch files (cmd.exe parses ``& | < > ^`` inside arguments), and bash
    arithmetic or variable names given a string (``[[ $n -eq {{ v }} ]]``, ``let``,
    ``printf -v``, ``read``, ``declare``). Integer parameters are safe there (plain digits).

    Integer and boolean parameters (``numeric``: their values are checked to be numbers before
    anything renders) may also stand inside POSIX arithmetic (``$(( {{ count }} * 2 ))``,
    ``(( ))``, ``$[ ]``, a subscript), written there as a bare number: an integer in decimal
    (a negative one as ``(-5)``), a boolean as ``1`` or ``0``. Strings, secrets and choices
    stay refused there.

    The rendered text must reach the shell it was quoted for and nothing else: POSIX text is
    for ``sh``/``bash`` (not csh/fish: deliver it on the stdin of ``sh -s`` rather than as the
    SSH command line, which the login shell parses), PowerShell text for PowerShell
    (``-EncodedCommand`` or a script file, never through ``cmd.exe``).

Data (``render_plain``)
    The value's text as is, for fields no shell parses: environment values, upload content,
    working directories handed to an API. NEVER for text a shell will read.

Upload paths (``render_path``)
    Plain text too, but a value may not take the path out of the directory the template's
    author wrote before the first reference (no ``/``, ``\\`` or ``..`` in a value there; the
    normalised result must lie inside that directory). ``PathError`` names the parameter.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

SHELLS = ("posix", "powershell")
MAX_NAME_LENGTH = 64

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")


class TemplateError(ValueError):
    """A template that cannot be used. ``message`` says why, ``position`` is the 0-based
    character offset in the template; ``str()`` gives both."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} at position {self.position}"


@dataclass(frozen=True)
class _Reference:
    name: str
    start: int
    end: int


class _Template:
    """A parsed template: the text, its references by start offset, and the offsets of the
    two halves of each ``{{{{`` escape (each half stands for one ``{``)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError("a template is a string")
        self.text = text
        self.references: dict[int, _Reference] = {}
        self.halves: set[int] = set()
        position = 0
        while (start := text.find("{{", position)) != -1:
            if text.startswith("{{{{", start):
                self.halves.update((start, start + 2))
                position = start + 4
                continue
            match = _REFERENCE.match(text, start)
            if match is None:
                raise _malformed(text, start)
            name = match.group(1)
            if len(name) > MAX_NAME_LENGTH:
                raise TemplateError(
                    f"parameter names are at most {MAX_NAME_LENGTH} characters", match.start(1)
                )
            self.references[start] = _Reference(name, start, match.end())
            position = match.end()

    def item(self, index: int) -> str | _Reference | None:
        """What stands at ``index``: a reference, one character, or None past the end."""
        if index >= len(self.text):
            return None
        return self.references.get(index) or self.text[index]

    def step(self, index: int) -> int:
        """The index of the item after the one at ``index``."""
        reference = self.references.get(index)
        if reference is not None:
            return reference.end
        return index + (2 if index in self.halves else 1)

    def pieces(self) -> list[str | _Reference]:
        """Literal text and references, in order (escapes resolved)."""
        out: list[str | _Reference] = []
        position = 0
        for start in sorted([*self.references, *self.halves]):
            if start < position:  # the second half of an escape, already written
                continue
            out.append(self.text[position:start])
            if start in self.halves:
                out.append("{{")
                position = start + 4
            else:
                out.append(self.references[start])
                position = self.references[start].end
        out.append(self.text[position:])
        return [piece for piece in out if piece != ""]


def _malformed(text: str, start: int) -> TemplateError:
    index = start + 2
    while index < len(text) and text[index] in " \t":
        index += 1
    if index == len(text):
        return TemplateError("unclosed '{{': expected a parameter name and '}}'", start)
    if not re.match(r"[A-Za-z_]", text[index]):
        return TemplateError(
            "expected a parameter name after '{{' (write '{{{{' for a literal '{{')", index
        )
    while index < len(text) and re.match(r"[A-Za-z0-9_]", text[index]):
        index += 1
    while index < len(text) and text[index] in " \t":
        index += 1
    if index == len(text):
        return TemplateError("unclosed '{{': expected '}}'", start)
    return TemplateError("expected '}}' after the parameter name", index)


def references(template: str) -> list[str]:
    """The parameter names ``template`` refers to, in order of first use, each once.
    ``TemplateError`` if a reference is malformed."""
    names: dict[str, None] = {}
    for reference in _Template(template).references.values():
        names.setdefault(reference.name)
    return list(names)


# --- Quoting -------------------------------------------------------------------------------------

# PowerShell reads each of these as a single quote (and “ ” „ as double quotes).
POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
POWERSHELL_DOUBLE_QUOTES = '"\u201c\u201d\u201e'


def _no_nul(value: str) -> None:
    if not isinstance(value, str):
        raise TypeError("only strings can be quoted")
    if "\x00" in value:
        raise ValueError("a NUL character cannot be passed to a shell")


def quote_posix(value: str) -> str:
    """``value`` as one POSIX shell word: ``'...'``, each ``'`` written ``'\\''``; ``''`` for
    the empty string. ``ValueError`` for a NUL character."""
    _no_nul(value)
    return "'" + value.replace("'", "'\\''") + "'"


def quote_powershell(value: str) -> str:
    """``value`` as a PowerShell single-quoted string literal, every single-quote character
    (``'`` and U+2018, U+2019, U+201A, U+201B, which PowerShell treats alike) doubled.
    ``ValueError`` for a NUL character."""
    _no_nul(value)
    body = "".join(c + c if c in POWERSHELL_SINGLE_QUOTES else c for c in value)
    return "'" + body + "'"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"cannot render a value of type {type(value).__name__}")


def render(
    template: str,
    values: Mapping[str, object],
    *,
    shell: str,
    numeric: Iterable[str] = (),
) -> str:
    """``template`` with each ``{{ name }}`` replaced by ``values[name]`` quoted for ``shell``
    (``"posix"`` or ``"powershell"``): strings as they are, integers in decimal, booleans as
    ``true``/``false``, ``None`` (an optional parameter left out) as an empty string.

    ``numeric`` names the integer and boolean parameters: those may also stand inside POSIX
    arithmetic (``$(( ))``...), where they are written bare: an integer in decimal (a negative
    one in parentheses), a boolean as ``1``/``0``; any other value there is a ``TemplateError``.

    ``TemplateError`` for a malformed reference, a reference where quoting cannot protect it
    (see ``check_template``) or a name missing from ``values``."""
    parsed = _Template(template)
    bare = _check(parsed, shell, frozenset(numeric))
    quote = quote_posix if shell == "posix" else quote_powershell
    return _substitute(parsed, values, quote, bare)


def render_plain(template: str, values: Mapping[str, object]) -> str:
    """``template`` with each ``{{ name }}`` replaced by the value's plain text, unquoted.

    ONLY for data that no shell ever parses (environment values, upload content, a working
    directory passed to an API): here a value's quotes and ``$`` are just text. Upload paths
    use ``render_path``, which also keeps values from leaving the author's directory."""
    return _substitute(_Template(template), values, lambda text: text)


class PathError(TemplateError):
    """A parameter value that would take a path out of the directory its template fixes.
    ``name`` is the parameter; the message never repeats the value."""

    def __init__(self, message: str, position: int, name: str = "") -> None:
        super().__init__(message, position)
        self.args = (message, position, name)
        self.name = name


def render_path(template: str, values: Mapping[str, object]) -> str:
    """An upload path: ``template`` with the values' plain text, checked so that no value can
    move the path out of the directory the template's author fixed.

    The fixed directory is the literal text before the first reference, up to its last ``/``
    (``/tmp/apps/`` in ``/tmp/apps/{{ app }}.conf``; the login directory for a relative path
    such as ``app-{{ v }}.conf``). Each value substituted after a literal start must be part of
    one path segment: it may not hold ``/``, ``\\`` (a separator on Windows) or ``..``. The
    rendered path is normalised (``/a/./b`` -> ``/a/b``) and must name something strictly
    inside the fixed directory. A template that starts with a reference (``{{ dest }}``,
    ``{{ dir }}/app.conf``) leaves the whole location to whoever gives the value: that value
    may hold ``/`` but no ``..`` segment. A path without references is returned as written.

    ``PathError`` (naming the parameter) when a value breaks these rules; ``TemplateError``
    for a malformed template or a missing value."""
    parsed = _Template(template)
    pieces = parsed.pieces()
    if not any(isinstance(piece, _Reference) for piece in pieces):
        return _substitute(parsed, values, lambda text: text)
    leading = isinstance(pieces[0], _Reference)
    out: list[str] = []
    for number, piece in enumerate(pieces):
        if isinstance(piece, str):
            out.append(piece)
            continue
        if piece.name not in values:
            raise TemplateError(f"no value for parameter {piece.name!r}", piece.start)
        text = _text(values[piece.name])
        if "\x00" in text:
            raise PathError(
                f"parameter {piece.name!r} holds a NUL character, which no path can",
                piece.start,
                piece.name,
            )
        if leading and number == 0:
            if ".." in re.split(r"[/\\]", text):
                raise PathError(
                    f"parameter {piece.name!r} holds a '..' segment, which is not allowed in "
                    "a path",
                    piece.start,
                    piece.name,
                )
        elif "/" in text or "\\" in text or ".." in text:
            raise PathError(
                f"parameter {piece.name!r} holds '/', '\\' or '..', which would let it leave "
                f"the directory {_fixed_directory(pieces) or 'the path starts in'}: it may only "
                "fill in a file or directory name",
                piece.start,
                piece.name,
            )
        out.append(text)
    rendered = "".join(out)
    if leading:
        return rendered
    directory = _fixed_directory(pieces)
    normalised = posixpath.normpath(rendered)
    base = posixpath.normpath(directory) if directory else ""
    if base:
        inside = normalised != base and normalised.startswith(base.rstrip("/") + "/")
    else:
        inside = not (normalised in (".", "..") or normalised.startswith(("../", "/")))
    if not inside:
        first = next(piece for piece in pieces if isinstance(piece, _Reference))
        raise PathError(
            f"with the value of parameter {first.name!r} the path would not name something "
            f"inside {directory or 'the directory the path starts in'}",
            first.start,
            first.name,
        )
    return normalised


def _fixed_directory(pieces: list[str | _Reference]) -> str:
    """The literal text before the first reference, up to and including its last ``/``."""
    prefix = ""
    for piece in pieces:
        if isinstance(piece, _Reference):
            break
        prefix += piece
    return prefix[: prefix.rfind("/") + 1]


def _substitute(
    parsed: _Template,
    values: Mapping[str, object],
    quote: Callable[[str], str],
    bare: frozenset[int] = frozenset(),
) -> str:
    out: list[str] = []
    for piece in parsed.pieces():
        if isinstance(piece, str):
            out.append(piece)
            continue
        if piece.name not in values:
            raise TemplateError(f"no value for parameter {piece.name!r}", piece.start)
        value = values[piece.name]
        out.append(_number(piece, value) if piece.start in bare else quote(_text(value)))
    return "".join(out)


def _number(reference: _Reference, value: object) -> str:
    """An integer or boolean value as an arithmetic operand: plain digits, never quoted."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    raise TemplateError(
        f"parameter {reference.name!r} is inside arithmetic, where only an integer or a "
        "boolean value may stand",
        reference.start,
    )


def check_template(template: str, *, shell: str, numeric: Iterable[str] = ()) -> None:
    """``TemplateError`` unless every reference in ``template`` stands where a quoted word of
    ``shell`` is read as data: not inside quotes, comments, here-documents or here-strings,
    backquotes, ``${...}``, arithmetic, nor right after ``$`` or an escape character (and, for
    PowerShell, not touching a single quote or another reference, which would merge with it).
    A reference after a construct this check does not model (``case`` inside ``$(...)``, an
    unusual here-document delimiter, ``$'...'``, a ``#`` that may or may not start a comment,
    ...) is refused too, naming that construct. The parameters named in ``numeric`` (integers
    and booleans, whose values are checked to be plain numbers) may also stand inside POSIX
    arithmetic. ``render`` runs this check itself."""
    _check(_Template(template), shell, frozenset(numeric))


def _check(parsed: _Template, shell: str, numeric: frozenset[str] = frozenset()) -> frozenset[int]:
    """Run the placement check; the start offsets of the references to write bare (numbers
    inside arithmetic)."""
    if shell == "posix":
        checker: _Checker = _PosixChecker(parsed, numeric)
    elif shell == "powershell":
        checker = _PowerShellChecker(parsed, numeric)
    else:
        raise ValueError(f"unknown shell {shell!r}; expected one of {', '.join(SHELLS)}")
    checker.run()
    return frozenset(checker.bare)


# --- Where references may stand ------------------------------------------------------------------


class _Unmodelled(Exception):
    """The scan met something it does not follow with certainty: no reference may come after."""

    def __init__(self, what: str, position: int) -> None:
        super().__init__(what, position)
        self.what = what
        self.position = position


@dataclass
class _Frame:
    kind: str
    closer: str = ""  # the character that ends the frame, where that is not implied
    depth: int = 0  # parentheses open inside this frame
    word_start: bool = True  # at the start of a word/token (a '#' here starts a comment)
    word: str = ""  # POSIX: the plain characters of the current word so far
    last: str | _Reference | None = None  # the item before the current one, in this frame


class _Checker:
    contexts: dict[str, str] = {}

    def __init__(self, parsed: _Template, numeric: frozenset[str] = frozenset()) -> None:
        self.t = parsed
        self.frames: list[_Frame] = []
        self.numeric = numeric  # parameters whose values are plain numbers
        self.bare: set[int] = set()  # references standing in arithmetic, written unquoted

    def run(self) -> None:
        if not self.t.references:
            return  # nothing to protect
        try:
            self.scan()
        except _Unmodelled as exc:
            later = [r for start, r in sorted(self.t.references.items()) if start >= exc.position]
            if later:
                raise TemplateError(
                    f"cannot tell how the shell reads parameter {later[0].name!r}: it comes "
                    f"after {exc.what} (position {exc.position})",
                    later[0].start,
                ) from None

    def scan(self) -> None:
        raise NotImplementedError

    def refuse(self, reference: _Reference, where: str) -> TemplateError:
        return TemplateError(f"parameter {reference.name!r} {where}", reference.start)

    def refuse_in(self, reference: _Reference, kind: str) -> TemplateError:
        return self.refuse(
            reference, f"is {self.contexts[kind]}, where its value would not stay one quoted word"
        )

    def push(self, kind: str, *, depth: int = 0, closer: str = "") -> None:
        if self.frames:
            self.frames[-1].word_start = False
            self.frames[-1].word = ""
        self.frames.append(_Frame(kind, depth=depth, closer=closer))

    def pop(self) -> None:
        self.frames.pop()

    def escaped(self, index: int, where: str) -> int:
        """Skip the item an escape character at ``index`` applies to; a reference there is
        refused (the escape would eat its opening quote)."""
        following = self.t.step(index)
        target = self.t.item(following)
        if isinstance(target, _Reference):
            raise self.refuse(target, where)
        return following if target is None else self.t.step(following)


class _PosixChecker(_Checker):
    """Follows POSIX sh (and bash) quoting closely enough to know, for every reference,
    whether the shell would read a single-quoted word there as one plain word."""

    contexts = {
        "sq": "inside single quotes",
        "dq": "inside double quotes",
        "bq": "inside backquotes",
        "param": "inside ${...}",
        "arith": "inside arithmetic",
        "comment": "inside a comment",
    }

    def scan(self) -> None:
        t = self.t
        self.frames = [_Frame("cmd")]
        heredocs: list[tuple[str, bool, bool]] = []  # delimiter, strip tabs, quoted
        heredoc_depth = 0
        index = 0
        while index < len(t.text):
            item, following, frame = t.item(index), t.step(index), self.frames[-1]
            kind = frame.kind
            if isinstance(item, _Reference):
                if kind == "arith" and item.name in self.numeric:
                    # an integer or boolean: written as a bare number, which arithmetic reads
                    # as a number and nothing else
                    self.bare.add(item.start)
                    index = following
                    continue
                if kind not in ("cmd", "sub"):
                    if kind == "arith":
                        raise self.refuse(
                            item,
                            "is inside arithmetic, where only integer and boolean parameters "
                            "may stand",
                        )
                    raise self.refuse_in(item, kind)
                frame.word_start = False
                index = following
                continue
            assert item is not None
            c = item
            if c == "\n" and heredocs and kind in ("bq", "param", "arith"):
                raise _Unmodelled("a here-document whose line continues inside " + kind, index)
            if kind == "sq":
                if c == "'":
                    self.pop()
            elif kind in ("dq", "bq"):
                if c == "\\":
                    following = self.escaped(index, f"is {self.contexts[kind]}")
                elif c == ('"' if kind == "dq" else "`"):
                    self.pop()
                elif kind == "dq" and c == "`":
                    self.push("bq")
                elif kind == "dq" and c == "$":
                    following = self.dollar(index, in_quotes=True)
            elif kind == "param":
                if c == "}":
                    self.pop()
                elif c in "'\"`\\{" or (c == "$" and t.item(following) in ("(", "{")):
                    raise _Unmodelled("quoting or nesting inside ${...}", index)
            elif kind == "arith":  # $(( )), (( )), $[ ] or a bash array subscript name[ ]
                opener = "[" if frame.closer == "]" else "("
                if c == opener:
                    frame.depth += 1
                elif c == frame.closer:
                    frame.depth -= 1
                    if frame.depth == 0:
                        self.pop()
                elif c in "'\"`\\" or (c == "$" and t.item(following) in ("(", "{")):
                    raise _Unmodelled("quoting or nesting inside arithmetic", index)
            elif kind == "comment":
                if c == "\n":
                    self.pop()
                    continue  # the newline also ends the command line: scan it there
            else:  # "cmd" (top level) or "sub" (inside $( ))
                if c == "\\":
                    target = t.item(following)
                    if target == "\n":  # a line continuation vanishes before parsing
                        index = t.step(following)
                        continue
                    following = self.escaped(index, "follows a backslash")
                    frame.word_start = False
                elif c == "'":
                    self.push("sq")
                elif c == '"':
                    self.push("dq")
                elif c == "`":
                    self.push("bq")
                elif c == "$":
                    following = self.dollar(index, in_quotes=False)
                elif c == "#" and frame.word_start:
                    self.push("comment")
                elif c == "\n":
                    frame.word_start = True
                    if heredocs:
                        if len(self.frames) != heredoc_depth:
                            raise _Unmodelled("a here-document across $(...)", index)
                        following = self.heredoc_bodies(following, heredocs)
                        heredocs = []
                elif c in " \t":
                    frame.word_start = True
                elif c == "<" and t.item(following) == "<":
                    after = t.step(following)
                    if t.item(after) == "<":  # <<< here-string: a plain word follows
                        following = t.step(after)
                    else:
                        following = self.heredoc_operator(after, heredocs)
                        heredoc_depth = len(self.frames)
                    frame.word_start = True
                elif c in ";&|<>":
                    frame.word_start = True
                elif c == "(":
                    if frame.word_start and t.item(following) == "(":  # bash (( arithmetic ))
                        self.push("arith", depth=2, closer=")")
                        following = t.step(following)
                    else:
                        frame.depth += 1
                        frame.word_start = True
                elif c == ")":
                    if kind == "sub" and frame.depth == 0:
                        self.pop()
                    else:
                        frame.depth = max(0, frame.depth - 1)
                        frame.word_start = True
                else:
                    if kind == "sub" and frame.word_start and self.word(index) == "case":
                        # its patterns' unbalanced ')' would end $( ) early for this scan
                        raise _Unmodelled("'case' inside $(...)", index)
                    if c == "[" and not frame.word_start and _NAME.fullmatch(frame.word):
                        # bash evaluates name[...] (array subscripts) as arithmetic, and
                        # arithmetic expands $( ) even inside single quotes
                        self.push("arith", depth=1, closer="]")
                        index = following
                        continue
                    frame.word = c if frame.word_start else frame.word + c
                    frame.word_start = False
            index = following

    def word(self, index: int) -> str:
        match = re.match(r"[A-Za-z0-9_]*", self.t.text[index : index + 32])
        return match.group(0) if match else ""

    def dollar(self, index: int, *, in_quotes: bool) -> int:
        t = self.t
        following = t.step(index)
        target = t.item(following)
        if isinstance(target, _Reference):
            raise self.refuse(target, "follows '$'")
        if target == "'" and not in_quotes:
            raise _Unmodelled("$'...' (quoted differently by bash and dash)", index)
        if target == "(":
            after = t.step(following)
            if t.item(after) == "(":
                self.push("arith", depth=2, closer=")")
                return t.step(after)
            self.push("sub")
            return after
        if target == "{":
            self.push("param")
            return t.step(following)
        if target == "[":  # bash's old $[ arithmetic ]
            self.push("arith", depth=1, closer="]")
            return t.step(following)
        if not in_quotes:
            self.frames[-1].word_start = False
        return following

    def heredoc_operator(self, index: int, heredocs: list[tuple[str, bool, bool]]) -> int:
        """Read the delimiter after ``<<`` (or ``<<-``) at ``index``; return the index after."""
        t = self.t
        start = index
        strip = t.item(index) == "-"
        if strip:
            index = t.step(index)
        while t.item(index) in (" ", "\t"):
            index = t.step(index)
        delimiter: list[str] = []
        quoted = False
        while True:
            item = t.item(index)
            if isinstance(item, _Reference):
                raise self.refuse(item, "cannot be a here-document delimiter")
            if item is None or item in " \t\n;&|<>()":
                break
            if item in "'\"":
                quoted = True
                index = t.step(index)
                while (inner := t.item(index)) != item:
                    if isinstance(inner, _Reference):
                        raise self.refuse(inner, "cannot be a here-document delimiter")
                    if inner is None or (item == '"' and inner in "$`\\"):
                        raise _Unmodelled("an unusual here-document delimiter", start)
                    delimiter.append(inner)
                    index = t.step(index)
            elif item == "\\":
                quoted = True
                index = t.step(index)
                inner = t.item(index)
                if inner is None or isinstance(inner, _Reference) or inner == "\n":
                    raise _Unmodelled("an unusual here-document delimiter", start)
                delimiter.append(inner)
            elif item in "$`":
                raise _Unmodelled("an unusual here-document delimiter", start)
            else:
                delimiter.append(item)
            index = t.step(index)
        if not delimiter:
            raise _Unmodelled("a here-document without a delimiter", start)
        heredocs.append(("".join(delimiter), strip, quoted))
        return index

    def heredoc_bodies(self, index: int, heredocs: list[tuple[str, bool, bool]]) -> int:
        """Skip the bodies of ``heredocs``, which start at ``index``; return the index after."""
        t = self.t
        for delimiter, strip, quoted in heredocs:
            while True:
                line: list[str] = []
                while (item := t.item(index)) is not None and item != "\n":
                    if isinstance(item, _Reference):
                        raise self.refuse(
                            item,
                            "is inside a here-document, where a line of its value could end it",
                        )
                    line.append(item)
                    index = t.step(index)
                text = "".join(line)
                if item is not None:
                    index = t.step(index)
                if (text.lstrip("\t") if strip else text) == delimiter:
                    break
                if not quoted and text.endswith("\\"):
                    raise _Unmodelled("a here-document line ending in a backslash", index)
                if item is None:
                    return index
        return index


def _powershell_space(c: str) -> bool:
    if c in " \t\v\f\u00a0\u0085":
        return True
    return ord(c) > 127 and unicodedata.category(c) in ("Zs", "Zl", "Zp")


def _powershell_token_end(c: str) -> bool:
    """After this character a new token starts (PowerShell's ForceStartNewToken)."""
    return c in "\r\n&(),;{|}" or _powershell_space(c)


_DASHES = "-\u2013\u2014\u2015"


class _PowerShellChecker(_Checker):
    """Follows the PowerShell tokenizer closely enough to know, for every reference, whether a
    single-quoted literal there is read as one plain string.

    Strings, here-strings, ``${...}`` and the ``$(...)`` inside strings and words are skipped
    the way PowerShell's tokenizer scans them (the last by counting parentheses only, quotes
    and all); code frames (``(``, ``{``, a ``$(`` that starts a token) are followed on a stack.
    """

    contexts = {
        "sq": "inside a single-quoted string",
        "dq": "inside a double-quoted string",
        "here": "inside a here-string",
        "parens": "inside $(...) within a string or word",
        "bvar": "inside ${...}",
        "comment": "inside a comment",
        "verbatim": "after the stop-parsing token --%",
    }

    def scan(self) -> None:
        t = self.t
        self.frames = [_Frame("code")]
        index = 0
        while index < len(t.text):
            item, frame = t.item(index), self.frames[-1]
            if isinstance(item, _Reference):
                following = t.step(index)
                self.check_neighbours(item, frame.last, t.item(following))
                frame.word_start = False
                frame.last = item
                index = following
            else:
                index = self.code(index, frame)

    def check_neighbours(
        self, reference: _Reference, before: str | _Reference | None, after: str | _Reference | None
    ) -> None:
        if isinstance(before, _Reference) or isinstance(after, _Reference):
            raise self.refuse(
                reference, "touches another parameter: the two literals would merge into one"
            )
        if isinstance(before, str) and before in POWERSHELL_SINGLE_QUOTES:
            raise self.refuse(
                reference, "follows a quote: the quotes would merge (put a space between)"
            )
        if isinstance(after, str) and after in POWERSHELL_SINGLE_QUOTES:
            raise self.refuse(
                reference, "is followed by a quote: the quotes would merge (put a space between)"
            )

    def code(self, index: int, frame: _Frame) -> int:
        """Scan the code item at ``index`` (not a reference); return the index after it."""
        t = self.t
        c = t.text[index]
        following = t.step(index)
        nxt = t.item(following)
        at_start = frame.word_start
        frame.word_start = False
        frame.last = c
        if isinstance(nxt, _Reference) and c in "`$@":
            raise self.refuse(nxt, f"follows {c!r}")
        if c == "`":
            return self.escaped(index, "follows '`'")
        if c in POWERSHELL_SINGLE_QUOTES:
            following, frame.last = self.single_quoted(following)
        elif c in POWERSHELL_DOUBLE_QUOTES:
            following, frame.last = self.double_quoted(following)
        elif c == "@" and isinstance(nxt, str) and nxt in _QUOTES:
            body = self.here_string_header(t.step(following))
            if body is None:
                return following  # an ordinary string follows: the next item starts it
            if not at_start:
                raise _Unmodelled("'@' and a quote inside a word", index)
            following, frame.last = self.here_string(body, expandable=nxt not in _SINGLE)
        elif c == "$":
            if nxt == "(":
                if at_start:
                    self.frames.append(_Frame("code", closer=")"))
                    return t.step(following)
                # Inside a word PowerShell finds the end of $( ) by counting parentheses only;
                # code would skip strings and comments. Both agree only without them.
                return self.parentheses(t.step(following), strict=True)
            if nxt == "{":
                return self.braced_variable(t.step(following))
        elif c == "#":
            if not at_start:
                raise _Unmodelled("a '#' that may or may not start a comment", index)
            return self.to_line_end(following, "comment")
        elif c == "<" and nxt == "#":
            if not at_start:
                raise _Unmodelled("a '<#' that may or may not start a comment", index)
            return self.block_comment(t.step(following))
        elif c in _DASHES and at_start and self.stop_parsing(following):
            return self.to_line_end(t.step(t.step(following)), "verbatim")
        elif c in "({":
            self.frames.append(_Frame("code", closer=")" if c == "(" else "}"))
        elif c in ")}":
            if frame.closer != c:
                raise _Unmodelled(f"an unbalanced {c!r}", index)
            self.frames.pop()
            outer = self.frames[-1]
            outer.word_start, outer.last = True, c
        else:
            frame.word_start = _powershell_token_end(c)
        return following

    def stop_parsing(self, index: int) -> bool:
        second, third = self.t.item(index), self.t.item(self.t.step(index))
        return isinstance(second, str) and second in _DASHES and third == "%"

    def single_quoted(self, index: int) -> tuple[int, str | None]:
        """Skip a '...' string whose body starts at ``index``: (index after, closing quote)."""
        t = self.t
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "sq")
            following = t.step(index)
            if item in _SINGLE:
                nxt = t.item(following)
                if not (isinstance(nxt, str) and nxt in _SINGLE):
                    return following, item
                following = t.step(following)  # a doubled quote stands for one
            index = following
        return index, None

    def double_quoted(self, index: int) -> tuple[int, str | None]:
        """Skip a "..." string whose body starts at ``index``: (index after, closing quote)."""
        t = self.t
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "dq")
            following = t.step(index)
            nxt = t.item(following)
            if item in _DOUBLE:
                if not (isinstance(nxt, str) and nxt in _DOUBLE):
                    return following, item
                following = t.step(following)  # a doubled quote stands for one
            elif item == "`":
                following = self.escaped(index, f"is {self.contexts['dq']}")
            elif item == "$" and nxt == "(":
                following = self.parentheses(t.step(following), strict=False)
            elif item == "$" and nxt == "{":
                following = self.braced_variable(t.step(following))
            index = following
        return index, None

    def here_string_header(self, index: int) -> int | None:
        """After ``@'`` or ``@"`` at ``index``: if only whitespace and a newline follow, the index
        where the body starts; None otherwise."""
        t = self.t
        while isinstance(item := t.item(index), str) and _powershell_space(item):
            index = t.step(index)
        return self.after_newline(index)

    def after_newline(self, index: int) -> int | None:
        t = self.t
        item = t.item(index)
        if item == "\r":
            index = t.step(index)
            return t.step(index) if t.item(index) == "\n" else index
        return t.step(index) if item == "\n" else None

    def here_string(self, index: int, *, expandable: bool) -> tuple[int, str | None]:
        """Skip a here-string whose body starts at ``index``; the footer (a quote and ``@``)
        counts only at the very start of a line that a real newline began."""
        t = self.t
        quotes = _DOUBLE if expandable else _SINGLE
        at_line_start = True
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "here")
            following = t.step(index)
            if at_line_start and item in quotes and t.item(following) == "@":
                return t.step(following), "@"
            at_line_start = False
            if item in "\r\n":
                following = self.after_newline(index) or following
                at_line_start = True
            elif expandable and item == "`":
                following = self.escaped(index, f"is {self.contexts['here']}")
            elif expandable and item == "$" and t.item(following) == "(":
                following = self.parentheses(t.step(following), strict=False)
            elif expandable and item == "$" and t.item(following) == "{":
                following = self.braced_variable(t.step(following))
            index = following
        return index, None

    def parentheses(self, index: int, *, strict: bool) -> int:
        """Skip to after the ')' that closes a '$(' (counting parentheses only)."""
        t = self.t
        depth = 1
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "parens")
            if item == "(":
                depth += 1
            elif item == ")":
                depth -= 1
                if depth == 0:
                    return t.step(index)
            elif strict and item in _QUOTES + "`#":
                raise _Unmodelled("a quote, '`' or '#' inside $(...) within a word", index)
            index = t.step(index)
        return index

    def braced_variable(self, index: int) -> int:
        t = self.t
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "bvar")
            if item == "}":
                return t.step(index)
            if item == "`":
                index = self.escaped(index, f"is {self.contexts['bvar']}")
            else:
                index = t.step(index)
        return index

    def to_line_end(self, index: int, kind: str) -> int:
        """Skip a line comment or a --% argument up to (not over) the end of its line."""
        t = self.t
        while (item := t.item(index)) is not None and item not in ("\r", "\n"):
            if isinstance(item, _Reference):
                raise self.refuse_in(item, kind)
            if kind == "verbatim" and item in "|&":
                raise _Unmodelled("'|' or '&' after --%", index)
            index = t.step(index)
        return index

    def block_comment(self, index: int) -> int:
        t = self.t
        while (item := t.item(index)) is not None:
            if isinstance(item, _Reference):
                raise self.refuse_in(item, "comment")
            following = t.step(index)
            if item == "#" and t.item(following) == ">":
                return t.step(following)
            index = following
        return index


_SINGLE = POWERSHELL_SINGLE_QUOTES
_DOUBLE = POWERSHELL_DOUBLE_QUOTES
_QUOTES = _SINGLE + _DOUBLE
