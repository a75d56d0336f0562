"""Templates and quoting: references, rendering, where a reference may stand, and the proof by
real shells that a rendered value is one argument, byte for byte, and runs nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.jobs.rendering import (
    POWERSHELL_SINGLE_QUOTES,
    PathError,
    TemplateError,
    check_template,
    quote_posix,
    quote_powershell,
    references,
    render,
    render_path,
    render_plain,
)

# /bin/sh, and dash and bash where installed (each program once).
SHELLS = list(
    {
        os.path.realpath(path): path
        for path in ("/bin/sh", shutil.which("dash"), shutil.which("bash"))
        if path
    }.values()
)
ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}

# Any text a parameter can hold (no NUL, no lone surrogates), weighted toward shell syntax.
SHELL_SYNTAX = "'\"`$\\;&|()<>{}[]#!*?~=%^ \t\n\r-"
UNICODE_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e"
VALUES = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))),
    st.text(alphabet=SHELL_SYNTAX + UNICODE_QUOTES + "ab"),
    st.sampled_from(
        [
            "",
            "'",
            "''",
            "'\\''",
            "$(id)",
            "`id`",
            "a; echo INJECTED",
            "&& echo INJECTED",
            "\necho INJECTED\n",
            "-n",
            "--",
            "*",
            "~",
            "$HOME",
            "${IFS}",
            "é✓ 日本 \u200b\ufeff",
        ]
    ),
)


def run(shell: str, command: str, cwd: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [shell, "-c", command],
        capture_output=True,
        env=ENV,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=10,
        check=False,
    )


# --- references ----------------------------------------------------------------------------------


def test_references_in_order_each_once():
    assert references("a {{ x }} b {{y}} {{\tx\t}} {{ z  }}") == ["x", "y", "z"]
    assert references("no references, } }} { here") == []
    assert references("") == []


def test_doubled_braces_write_a_literal():
    assert references("docker inspect -f '{{{{.State.Running}}' {{ c }}") == ["c"]
    assert render_plain("{{{{ x }} {{ x }}", {"x": "1"}) == "{{ x }} 1"
    assert render("echo '{{{{.Name}}' {{ x }}", {"x": "a"}, shell="posix") == (
        "echo '{{.Name}}' 'a'"
    )


def test_escapes_next_to_each_other_and_to_references():
    assert render_plain("{{{{{{{{", {}) == "{{{{"
    assert render_plain("{{{{{{ x }}}}", {"x": "v"}) == "{{v}}"
    assert references("{{{{{{ x }}") == ["x"]
    assert render("echo {{{{{{ x }}", {"x": "v"}, shell="posix") == "echo {{'v'"


def test_a_backslash_does_not_escape_a_reference():
    # Windows paths are full of backslashes: the reference after one must stay a reference.
    assert references("Copy-Item C:\\logs\\{{ file }} D:\\") == ["file"]
    assert render("Copy-Item C:\\logs\\{{ file }}", {"file": "a b"}, shell="powershell") == (
        "Copy-Item C:\\logs\\'a b'"
    )


@pytest.mark.parametrize(
    ("template", "position", "fragment"),
    [
        ("echo {{ 1x }}", 8, "expected a parameter name"),
        ("echo {{}}", 7, "expected a parameter name"),
        ("echo {{ .State }}", 8, "expected a parameter name"),
        ("echo {{ a b }}", 10, "expected '}}'"),
        ("echo {{ a }", 10, "expected '}}'"),
        ("echo {{ a-b }}", 9, "expected '}}'"),
        ("echo {{", 5, "unclosed"),
        ("echo {{ name", 5, "unclosed"),
        ("echo {{ name  ", 5, "unclosed"),
        ("{{{ x }}", 2, "expected a parameter name"),
        ("{{ " + "a" * 65 + " }}", 3, "at most 64"),
    ],
)
def test_malformed_references_are_positioned_errors(template, position, fragment):
    with pytest.raises(TemplateError) as info:
        references(template)
    assert info.value.position == position
    assert fragment in info.value.message
    assert str(info.value).endswith(f"at position {position}")


def test_longest_name_is_accepted():
    name = "a" * 64
    assert references("{{ " + name + " }}") == [name]


def test_template_error_pickles():
    import pickle

    error = pickle.loads(pickle.dumps(TemplateError("bad", 3)))
    assert (error.message, error.position, str(error)) == ("bad", 3, "bad at position 3")


# --- quoting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", "''"),
        ("abc", "'abc'"),
        ("it's", "'it'\\''s'"),
        ("'", "''\\'''"),
        ("a b\nc", "'a b\nc'"),
        ("$(x) `y` \\", "'$(x) `y` \\'"),
    ],
)
def test_quote_posix(value, quoted):
    assert quote_posix(value) == quoted


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", "''"),
        ("abc", "'abc'"),
        ("it's", "'it''s'"),
        ("\u2018x\u2019", "'\u2018\u2018x\u2019\u2019'"),
        ("\u201a\u201b", "'\u201a\u201a\u201b\u201b'"),
        ('"$(x)" `n', "'\"$(x)\" `n'"),
    ],
)
def test_quote_powershell(value, quoted):
    assert quote_powershell(value) == quoted


@pytest.mark.parametrize("quote", [quote_posix, quote_powershell])
def test_nul_cannot_be_quoted(quote):
    with pytest.raises(ValueError, match="NUL"):
        quote("a\x00b")


# --- render --------------------------------------------------------------------------------------


def test_render_quotes_each_kind_of_value():
    values = {"s": "it's", "n": -12, "t": True, "f": False, "o": None}
    template = "cmd {{ s }} {{ n }} {{ t }} {{ f }} {{ o }}"
    assert render(template, values, shell="posix") == "cmd 'it'\\''s' '-12' 'true' 'false' ''"
    assert render(template, values, shell="powershell") == ("cmd 'it''s' '-12' 'true' 'false' ''")


def test_render_plain_inserts_raw_text():
    values = {"s": "it's $(x)", "n": 3, "t": True, "o": None}
    assert render_plain("{{ s }}|{{ n }}|{{ t }}|{{ o }}", values) == "it's $(x)|3|true|"


def test_a_missing_value_is_a_positioned_error():
    with pytest.raises(TemplateError, match="no value for parameter 'b'") as info:
        render("echo {{ a }} {{ b }}", {"a": "1"}, shell="posix")
    assert info.value.position == 13
    with pytest.raises(TemplateError, match="no value"):
        render_plain("{{ b }}", {})


def test_render_refuses_other_shells_and_types():
    with pytest.raises(ValueError, match="unknown shell"):
        render("echo", {}, shell="cmd")
    with pytest.raises(TypeError):
        render("echo {{ a }}", {"a": 1.5}, shell="posix")
    with pytest.raises(TypeError):
        render_plain("{{ a }}", {"a": ["x"]})


# --- POSIX: a real shell receives the value as one argument, byte for byte ---------------------


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_posix_value_reaches_printf_byte_for_byte(shell, value):
    command = render("printf '%s' {{ v }}", {"v": value}, shell="posix")
    result = run(shell, command)
    assert result.returncode == 0, result.stderr
    assert result.stdout == value.encode()
    assert result.stderr == b""


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_posix_value_is_exactly_one_argument(shell, value):
    command = render("set -- {{ v }}; echo $#", {"v": value}, shell="posix")
    result = run(shell, command)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"1\n", b"")


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=150, deadline=None)
@given(first=VALUES, second=VALUES)
def test_posix_values_stay_apart_and_intact(shell, first, second):
    # Two references, one of them glued to literal text: the words come out exactly as given.
    command = render(
        "set -- {{ a }} pre{{ b }}post; printf '%s\\n' \"$#\"; printf '%s\\0' \"$@\"",
        {"a": first, "b": second},
        shell="posix",
    )
    result = run(shell, command)
    assert result.returncode == 0, result.stderr
    count, _, rest = result.stdout.partition(b"\n")
    assert count == b"2"
    assert rest.split(b"\0")[:-1] == [first.encode(), f"pre{second}post".encode()]


# Each of these creates the file M if any part of it is ever parsed as shell code. Redirections
# (not commands such as touch) so that word splitting of a value can never create M by itself.
PAYLOADS = [
    "$(>M)",
    "`>M`",
    "'; >M; '",
    '"; >M; "',
    "'\n>M\n'",
    "\n>M\n",
    ";>M",
    "&& >M",
    "| >M",
    "\\'; >M; echo \\",
    "'$(>M)'",
    '"$(>M)"',
    "a\nEOF\n>M\nEOF\n",
    "x #\n>M\n",
    ") ; >M ; (",
    "} ; >M ; {",
    "')' ; >M ; '('",
    "$'\\'' ; >M ; '",
    "\u2019; >M; \u2018",
]

SAFE_TEMPLATES = [
    "echo {{ v }}",
    "printf '%s\\n' {{ v }}",
    "x={{ v }}; printf '%s' \"$x\"",
    "echo pre{{ v }}post",
    'echo "a b"{{ v }}"c d"',
    "echo 'a b'{{ v }}'c d'",
    "x=$(printf '%s' {{ v }}); echo \"$x\"",
    'x="$(printf %s {{ v }})"; echo "$x"',
    "echo $(echo {{ v }}) # a comment's quote",
    'cat <<EOF\nit\'s a "here" document\nEOF\necho {{ v }}',
    "cat <<'EOF'\n$(not run) '\nEOF\necho {{ v }}",
    "cat <<-EOF\n\tindented '\n\tEOF\necho {{ v }}",
    "cat <<EOF | wc -l; echo {{ v }}\nbody\nEOF",
    "if true; then echo {{ v }}; fi",
    'for x in {{ v }} b; do echo "$x"; done',
    "f() { echo {{ v }}; }; f",
    "( echo {{ v }} )",
    "test -n {{ v }} && echo {{ v }}",
    "cat <<< {{ v }}",
    "echo a#{{ v }}",
    "echo {{ v }}\\\n{{ v }}",
    "case {{ v }} in *) echo {{ v }};; esac",
]


@pytest.mark.parametrize("template", SAFE_TEMPLATES)
@pytest.mark.parametrize("shell", SHELLS)
def test_marker_payloads_never_run(template, shell, tmp_path):
    check_template(template, shell="posix")
    for payload in PAYLOADS:
        command = render(template, {"v": payload}, shell="posix")
        run(shell, command, cwd=str(tmp_path))
        assert not (tmp_path / "M").exists(), (template, payload)


@pytest.mark.parametrize("shell", SHELLS)
def test_marker_payloads_are_echoed_as_given(shell, tmp_path):
    for payload in PAYLOADS:
        result = run(
            shell, render("printf %s {{ v }}", {"v": payload}, shell="posix"), str(tmp_path)
        )
        assert result.stdout == payload.encode()
    assert not (tmp_path / "M").exists()


# Random templates made of shell syntax: whenever the check accepts one, no payload may run.
FRAGMENTS = [
    "echo",
    ":",
    "true",
    "a",
    "x=",
    "$x",
    " ",
    " ",
    "\t",
    "\n",
    ";",
    "&&",
    "|",
    "'",
    '"',
    "'a b'",
    '"a b"',
    "\\",
    "\\\n",
    "`",
    "$",
    "$(",
    "(",
    ")",
    "$((",
    "((",
    "))",
    "${x:-",
    "{",
    "}",
    "#",
    "<<EOF\n",
    "<<'EOF'\n",
    "<<-EOF\n",
    "EOF\n",
    "\tEOF\n",
    "<<<",
    "case a in a)",
    ";;",
    "esac",
    "$'",
    "$[",
    "[",
    "]",
    "arr[",
    "{{{{",
    "}}",
    "{{ v }}",
    "{{ v }}",
    "{{ v }}",
    "{{ v }}",
]


@pytest.mark.parametrize("shell", SHELLS)
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fragments=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14),
    payload=st.sampled_from(PAYLOADS),
)
def test_accepted_random_templates_never_run_a_value(shell, fragments, payload):
    template = "".join(fragments)
    try:
        check_template(template, shell="posix")
    except TemplateError:
        event("refused")
        return
    event("accepted")
    command = render(template, {"v": payload}, shell="posix")
    with tempfile.TemporaryDirectory() as directory:
        run(shell, command, cwd=directory)
        assert not Path(directory, "M").exists(), (template, payload)


# --- POSIX: where a reference may stand ----------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("echo '{{ v }}'", "inside single quotes"),
        ('echo "{{ v }}"', "inside double quotes"),
        ('echo "a $(echo "{{ v }}")"', "inside double quotes"),
        ("echo `echo {{ v }}`", "inside backquotes"),
        ('echo "`{{ v }}`"', "inside backquotes"),
        ("echo ${x:-{{ v }}}", "inside ${...}"),
        ("echo $(( {{ v }} + 1 ))", "inside arithmetic"),
        ("(( {{ v }} ))", "inside arithmetic"),
        ("echo hi # {{ v }}", "inside a comment"),
        ("echo $(: # {{ v }}\n)", "inside a comment"),
        ("#{{ v }}", "inside a comment"),
        ("echo ${{ v }}", "follows '$'"),
        ("echo \\{{ v }}", "follows a backslash"),
        ("cat <<EOF\n{{ v }}\nEOF", "inside a here-document"),
        ("cat <<'EOF'\nx {{ v }}\nEOF", "inside a here-document"),
        ("cat <<{{ v }}\nx\n", "here-document delimiter"),
        ("x=$(case a in a) echo;; esac); echo {{ v }}", "'case' inside $(...)"),
        ("echo $'a' {{ v }}", "$'...'"),
        ('cat <<E"$x"F\nbody\nE$xF\necho {{ v }}', "unusual here-document delimiter"),
        ("cat <<EOF\nline \\\nEOF\nEOF\necho {{ v }}", "ending in a backslash"),
        ("echo ${x:-'}'} {{ v }}", "inside ${...}"),
        ("echo $[ {{ v }} + 1 ]", "inside arithmetic"),
        ("arr[{{ v }}]=1", "inside arithmetic"),
        ("declare -a arr; arr[1+{{ v }}]=x", "inside arithmetic"),
    ],
)
def test_posix_refuses_references_where_quoting_cannot_protect(template, reason):
    with pytest.raises(TemplateError) as info:
        check_template(template, shell="posix")
    assert reason in str(info.value)
    assert info.value.position == template.index("{{ v }}")
    with pytest.raises(TemplateError):
        render(template, {"v": "x"}, shell="posix")


@pytest.mark.parametrize("shell", SHELLS)
def test_refused_places_would_really_run_the_value(shell, tmp_path):
    # Why the check matters: the same quoted value in these places runs code.
    for template, value in [
        ('echo "{{ v }}"', "$(>M)"),
        ("echo hi # {{ v }}", "x\n>M\n"),
        ("echo \\{{ v }}", " ; >M ; '"),
        ("cat <<EOF\n{{ v }}\nEOF", "\nEOF\n>M\n"),
    ]:
        run(shell, template.replace("{{ v }}", quote_posix(value)), str(tmp_path))
        assert (tmp_path / "M").exists(), template
        (tmp_path / "M").unlink()


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed here")
def test_bash_arithmetic_runs_quoted_values(tmp_path):
    # bash expands $( ) inside single quotes in arithmetic: $[ ], (( )), name[subscript].
    for template in ("echo $[ {{ v }} ]", "(( {{ v }} ))", "arr[{{ v }}]=1"):
        run(
            shutil.which("bash") or "bash",
            template.replace("{{ v }}", quote_posix("$(>M)")),
            str(tmp_path),
        )
        assert (tmp_path / "M").exists(), template
        (tmp_path / "M").unlink()


def test_posix_accepts_brackets_that_are_not_subscripts():
    check_template("[ -n {{ v }} ] && echo [{{ v }}] && test {{ v }}", shell="posix")
    check_template("arr=(); arr[0]={{ v }}; arr+=({{ v }})", shell="posix")


def test_nothing_to_check_without_references():
    check_template("echo \"unbalanced '", shell="posix")
    check_template("x=$(case a in a) echo;; esac)", shell="posix")
    check_template('Write-Output a#b "unbalanced', shell="powershell")


# --- PowerShell: single-quoted literals, checked with a reference reader -----------------------


def read_powershell_literal(text: str, start: int = 0) -> tuple[str, int]:
    """Read the single-quoted PowerShell literal at ``text[start]`` the way PowerShell's
    tokenizer does (ScanStringLiteral): any single-quote character followed by another one
    stands for the second; any other single-quote character ends the literal. Returns the
    value and the index after the closing quote."""
    assert text[start] in POWERSHELL_SINGLE_QUOTES
    out: list[str] = []
    index = start + 1
    while index < len(text):
        c = text[index]
        if c in POWERSHELL_SINGLE_QUOTES:
            if index + 1 < len(text) and text[index + 1] in POWERSHELL_SINGLE_QUOTES:
                out.append(text[index + 1])
                index += 2
                continue
            return "".join(out), index + 1
        out.append(c)
        index += 1
    raise AssertionError("unterminated literal")


POWERSHELL_VALUES = st.one_of(
    VALUES,
    st.text(alphabet=POWERSHELL_SINGLE_QUOTES + '"\u201c\u201d\u201e`$@#()\n ab'),
)


# A single quote right after the literal would pair with its closing quote: check_template
# refuses a reference followed by a quote (test_powershell_refuses), so none follows here.
NOT_A_QUOTE_FIRST = st.text(max_size=5).filter(
    lambda text: not text or text[0] not in POWERSHELL_SINGLE_QUOTES
)


@settings(max_examples=1000)
@given(value=POWERSHELL_VALUES, before=st.text(max_size=5), after=NOT_A_QUOTE_FIRST)
def test_powershell_literal_reads_back_as_the_value(value, before, after):
    quoted = quote_powershell(value)
    assert read_powershell_literal(quoted) == (value, len(quoted))
    # Embedded in a command, the literal ends exactly where it was meant to end.
    command = f"Write-Output{before} {quoted}{after}"
    start = len(f"Write-Output{before} ")
    assert read_powershell_literal(command, start) == (value, start + len(quoted))


@settings(max_examples=500)
@given(value=POWERSHELL_VALUES)
def test_powershell_literal_has_no_lone_quote_before_its_end(value):
    # Inside the literal every quote character comes doubled, so none can end it early.
    body = quote_powershell(value)[1:-1]
    index = 0
    while index < len(body):
        if body[index] in POWERSHELL_SINGLE_QUOTES:
            assert index + 1 < len(body) and body[index + 1] == body[index]
            index += 2
        else:
            index += 1


@settings(max_examples=300)
@given(first=POWERSHELL_VALUES, second=POWERSHELL_VALUES)
def test_powershell_rendered_arguments_read_back(first, second):
    command = render(
        "Copy-Item {{ a }} -Destination {{ b }}", {"a": first, "b": second}, shell="powershell"
    )
    start = len("Copy-Item ")
    value, end = read_powershell_literal(command, start)
    assert value == first
    assert command[end:].startswith(" -Destination ")
    value, end = read_powershell_literal(command, end + len(" -Destination "))
    assert (value, end) == (second, len(command))


# --- PowerShell: where a reference may stand -----------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "Write-Output {{ v }}",
        "Copy-Item -Path {{ v }} -Destination C:\\temp\\{{ w }}",
        "$x = {{ v }}; Write-Output $x",
        "Write-Output $({{ v }})",
        "if ($x) { Write-Output {{ v }} } else { Write-Output ({{ w }}) }",
        "Write-Output \"it's\" {{ v }} # a comment's quote",
        "<# it's a block comment #> Write-Output {{ v }}",
        "$t = @'\nit's \"literal\"\n'@\nWrite-Output {{ v }}",
        '$t = @"\nHello $($env:USERNAME) it\'s\n"@\nWrite-Output {{ v }}',
        '$t = @"\n$(\n"@\n)\n"@\nWrite-Output {{ v }}',
        "Write-Output \u2018curly\u2019 {{ v }}",
        "Write-Output ${env:TEMP} {{ v }}",
        "Write-Output `' {{ v }}",
        "Get-Item -Path:{{ v }}",
        "Write-Output '{{{{ literal }}' {{ v }}",
    ],
)
def test_powershell_accepts(template):
    check_template(template, shell="powershell")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("Write-Output '{{ v }}'", "inside a single-quoted string"),
        ("Write-Output \u2018{{ v }}\u2019", "inside a single-quoted string"),
        ('Write-Output "{{ v }}"', "inside a double-quoted string"),
        ("Write-Output \u201c{{ v }}\u201d", "inside a double-quoted string"),
        ('Write-Output "$(Get-Item {{ v }})"', "inside $(...) within a string or word"),
        ("Write-Output a$(Get-Item {{ v }})", "inside $(...) within a string or word"),
        ("$t = @'\n{{ v }}\n'@", "inside a here-string"),
        ('$t = @"\nx {{ v }}\n"@', "inside a here-string"),
        ("Write-Output 1 # {{ v }}", "inside a comment"),
        ("<# {{ v }} #>", "inside a comment"),
        ("Write-Output ${a{{ v }}}", "inside ${...}"),
        ("cmd /c --% echo {{ v }}", "after the stop-parsing token --%"),
        ("Write-Output `{{ v }}", "follows '`'"),
        ("Write-Output ${{ v }}", "follows '$'"),
        ("Write-Output @{{ v }}", "follows '@'"),
        ("Write-Output 'a'{{ v }}", "follows a quote"),
        ("Write-Output {{ v }}'a'", "followed by a quote"),
        ("Write-Output {{ v }}{{ w }}", "touches another parameter"),
        ("Write-Output a#b {{ v }}", "may or may not start a comment"),
        ("Write-Output a<#b#> {{ v }}", "may or may not start a comment"),
        ("Write-Output a$('(') {{ v }}", "inside $(...) within a word"),
        ("Write-Output ) {{ v }}", "unbalanced"),
        ("cmd --% a | b\nWrite-Output {{ v }}", "after --%"),
    ],
)
def test_powershell_refuses(template, reason):
    with pytest.raises(TemplateError) as info:
        check_template(template, shell="powershell")
    assert reason in str(info.value)
    assert info.value.position == template.index("{{ v }}")


def test_powershell_backtick_newline_does_not_end_a_here_string():
    # PowerShell reads "@ only at the start of a line that a real newline began.
    template = '$t = @"\nx `\n"@ {{ v }}\n"@\nWrite-Output {{ w }}'
    with pytest.raises(TemplateError, match="'v' is inside a here-string"):
        check_template(template, shell="powershell")


def test_powershell_quote_after_a_literal_would_merge():
    # Why check_template refuses a reference touching a quote: the literal would swallow it.
    assert read_powershell_literal(quote_powershell("a") + "'b'") == ("a'b", 6)


# --- numbers inside arithmetic -----------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "echo $(( {{ n }} * 2 ))",
        'echo "$(( {{ n }} * 2 ))"',
        "x=$(( {{ n }} + {{ flag }} )); echo $x",
    ],
)
def test_integer_and_boolean_parameters_may_stand_inside_arithmetic(template):
    check_template(template, shell="posix", numeric={"n", "flag"})
    # a string (or secret, or choice) there is still refused, naming the rule
    with pytest.raises(TemplateError, match="only integer and boolean parameters"):
        check_template(template, shell="posix", numeric={"flag"} if "flag" in template else ())


@pytest.mark.parametrize("shell", SHELLS)
def test_numbers_in_arithmetic_render_bare_and_compute(shell):
    template = "echo $(( {{ n }} * 2 )) $(( 10 - {{ m }} )) $(( {{ flag }} + {{ off }} )) {{ n }}"
    values = {"n": 21, "m": -5, "flag": True, "off": False}
    text = render(template, values, shell="posix", numeric={"n", "m", "flag", "off"})
    # outside arithmetic the value is still one quoted word
    assert text == "echo $(( 21 * 2 )) $(( 10 - (-5) )) $(( 1 + 0 )) '21'"
    result = run(shell, text)
    assert (result.returncode, result.stdout) == (0, b"42 15 1 21\n"), result.stderr


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed here")
def test_numbers_in_bash_arithmetic_commands_and_subscripts():
    template = "(( {{ n }} > 1 )) && a[{{ n }}]=x && echo ${#a[@]} $[ {{ n }} + 1 ]"
    text = render(template, {"n": 3}, shell="posix", numeric={"n"})
    result = run(shutil.which("bash") or "bash", text)
    assert result.stdout == b"1 4\n", result.stderr


def test_a_non_number_value_in_arithmetic_is_refused_at_render_time():
    # the caller said "n" is numeric, but the value is not: never written bare
    with pytest.raises(TemplateError, match="only an integer or a boolean"):
        render("echo $(( {{ n }} ))", {"n": "1+$(id)"}, shell="posix", numeric={"n"})


# --- upload paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("/tmp/apps/{{ app }}.conf", {"app": "web"}, "/tmp/apps/web.conf"),
        (
            "/tmp/apps/{{ app }}/{{ file }}",
            {"app": "web", "file": "a.conf"},
            "/tmp/apps/web/a.conf",
        ),
        ("/srv/app-{{ v }}.tar", {"v": "1.2.3"}, "/srv/app-1.2.3.tar"),
        ("conf/{{ app }}.conf", {"app": "web"}, "conf/web.conf"),
        ("{{ dest }}", {"dest": "/etc/app/release"}, "/etc/app/release"),
        ("{{ dir }}/app.conf", {"dir": "/opt/x"}, "/opt/x/app.conf"),
        ("/etc/app/release", {}, "/etc/app/release"),
        ("/tmp/apps/./{{ app }}", {"app": "x"}, "/tmp/apps/x"),
    ],
)
def test_upload_paths_render_inside_their_directory(template, values, expected):
    assert render_path(template, values) == expected


SEGMENT = "holds '/', '\\' or '..'"


@pytest.mark.parametrize(
    ("template", "value", "reason"),
    [
        ("/tmp/apps/{{ app }}.conf", "../../home/fleet/x", SEGMENT),
        ("/tmp/apps/{{ app }}.conf", "sub/x", SEGMENT),
        ("/tmp/apps/{{ app }}.conf", "..", SEGMENT),
        ("/tmp/apps/{{ app }}.conf", "..\\..\\x", SEGMENT),
        ("/tmp/apps/{{ app }}", "", "would not name something inside /tmp/apps/"),
        ("/tmp/apps/{{ app }}", ".", "would not name something inside /tmp/apps/"),
        ("/tmp/apps/{{ app }}", "a\x00b", "NUL"),
        ("app-{{ app }}.conf", "../x", SEGMENT),
        ("{{ app }}", "/tmp/../etc/x", "'..' segment"),
    ],
)
def test_upload_path_values_that_would_leave_their_directory_are_refused(template, value, reason):
    with pytest.raises(PathError) as info:
        render_path(template, {"app": value})
    assert info.value.name == "app"
    assert reason in info.value.message
    if len(value) > 2:
        assert value not in str(info.value)  # the value (maybe a secret) is never repeated


def test_values_that_together_make_dot_dot_are_refused_by_the_normalised_check():
    with pytest.raises(PathError, match="would not name something inside /tmp/apps/") as info:
        render_path("/tmp/apps/{{ a }}{{ b }}/../x", {"a": ".", "b": "."})
    assert info.value.name == "a"
