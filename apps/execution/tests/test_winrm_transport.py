"""The WinRM transport against the WS-Management test server (tests/winrm_server.py) over real
sockets with the real pywinrm: Basic and NTLM (with message encryption) over HTTP, and HTTPS.

No Windows host runs here; docs/winrm-testing.md says what these tests prove and what they do
not (no process really runs or is terminated: the server records what a host would be told).
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time

import pytest

from apps.execution.transports.base import (
    AuthFailed,
    CommandResult,
    ConnectionLost,
    TransportError,
    Unreachable,
)
from apps.execution.transports.winrm import (
    POWERSHELL,
    WinrmSession,
    _StderrCleaner,
    open_winrm_session,
)
from tests.fixtures import wait_for
from tests.sshd import free_port
from tests.winrm_fixtures import winrm_params as params_for
from tests.winrm_server import CommandResult as Fake

CANARY = "canary-Pw-5d1c0e77"


def open_for(server, **options) -> WinrmSession:
    timeouts = {"connect_timeout": 5}
    for name in ("connect_timeout", "operation_timeout"):
        if name in options:
            timeouts[name] = options.pop(name)
    return open_winrm_session(params_for(server, **options), **timeouts)


class Collector:
    """on_output that keeps every chunk with the time it arrived."""

    def __init__(self):
        self.chunks: list[tuple[str, bytes, float]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, chunk: bytes) -> None:
        with self.lock:
            self.chunks.append((stream, chunk, time.monotonic()))

    def text(self, stream: str) -> str:
        with self.lock:
            return b"".join(c for s, c, _ in self.chunks if s == stream).decode()

    def times(self, stream: str) -> list[float]:
        with self.lock:
            return [t for s, _, t in self.chunks if s == stream]


def handler(line_to_match: str, **result):
    """A command handler: ``line_to_match`` gives ``Fake(**result)``, the rest is built in."""
    return lambda line: Fake(**result) if line == line_to_match else None


def decoded_scripts(server) -> list[str]:
    scripts = []
    for line in server.commands_run():
        assert line.startswith(POWERSHELL), line
        scripts.append(base64.b64decode(line[len(POWERSHELL) :]).decode("utf-16-le"))
    return scripts


@pytest.fixture
def session(winrm_server):
    with open_for(winrm_server) as opened:
        yield opened


# -- commands ----------------------------------------------------------------------------------


def test_cmd_commands_exit_codes_and_stdout_in_one_shell(winrm_server, session):
    out = Collector()
    result = session.run_command("hostname", timeout=10, on_output=out)

    assert result.exit_code == 0
    assert not result.timed_out and not result.canceled
    assert out.text("stdout") == f"{winrm_server.computer_name}\r\n"
    assert out.text("stderr") == ""
    assert session.run_command("exit 3", timeout=10).exit_code == 3
    assert session.run_command("cmd /c exit 7", timeout=10).exit_code == 7
    assert winrm_server.commands_run() == ["hostname", "exit 3", "cmd /c exit 7"]
    # one shell for all of them; each command released with the terminate Signal once Done
    actions = winrm_server.actions()
    assert actions.count("Create") == 1
    assert actions.count("Command") == actions.count("Signal") == 3
    assert winrm_server.terminated_commands() == []  # released after Done: not a termination
    assert {r.signal for r in winrm_server.requests if r.action == "Signal"} == {"terminate"}
    assert "Delete" not in actions


def test_close_deletes_the_shell_and_is_idempotent(winrm_server):
    session = open_for(winrm_server)
    assert winrm_server.open_shells() != []
    assert session.is_alive()
    session.close()
    session.close()

    assert winrm_server.open_shells() == []
    assert winrm_server.actions().count("Delete") == 1
    assert not session.is_alive()
    with pytest.raises(TransportError):
        session.run_command("hostname", timeout=5)


def test_powershell_command_travels_encoded(winrm_server, session):
    script = "Write-Output 'hello from powershell'"
    out = Collector()
    result = session.run_command(script, shell="powershell", timeout=10, on_output=out)

    assert result.exit_code == 0
    assert out.text("stdout") == "hello from powershell\r\n"
    (line,) = winrm_server.commands_run()
    assert line.startswith("powershell -NoProfile -NonInteractive -EncodedCommand ")
    assert decoded_scripts(winrm_server) == [script]
    logged = repr(winrm_server.requests)
    assert "hello from powershell" not in logged and "Write-Output" not in logged


def test_script_with_environment_and_exit_code(winrm_server, session):
    tricky = 'it\'s a \u2018quoted\u2019 value; $(Remove-Item C:\\) "x"\nsecond line'
    body = "Write-Output $env:GREETING\nWrite-Output $env:TARGET_ENV\nexit 4\n"
    out = Collector()
    result = session.run_script(
        body,
        "powershell",
        timeout=10,
        env={"GREETING": tricky, "TARGET_ENV": "prod"},
        on_output=out,
    )

    assert result.exit_code == 4
    assert out.text("stdout") == f"{tricky}\r\nprod\r\n"
    (script,) = decoded_scripts(winrm_server)
    assert script.endswith(body)  # the environment is set by statements before the body
    assert "$env:TARGET_ENV = 'prod'" in script
    assert "Write-Output" not in repr(winrm_server.requests)  # never in plain text


def test_cmd_environment_is_set_for_the_command(winrm_server, session):
    out = Collector()
    result = session.run_command(
        "set GREETING", timeout=10, env={"GREETING": "hello & <world> ^|"}, on_output=out
    )

    assert result.exit_code == 0
    assert out.text("stdout") == "GREETING=hello & <world> ^|\r\n"
    assert winrm_server.commands_run() == ['set "GREETING=hello & <world> ^|"&&set GREETING']


@pytest.mark.parametrize(
    ("shell", "env"),
    [
        ("cmd", {"A; del C:\\": "x"}),
        ("powershell", {"A=1;": "x"}),
        ("cmd", {"OK": 'quote " breaks out'}),
        ("cmd", {"OK": "50%PATH%"}),
        ("cmd", {"OK": "line\r\nbreak"}),
        ("powershell", {"OK": "nul\x00"}),
    ],
)
def test_unsafe_environment_is_refused_before_anything_runs(winrm_server, session, shell, env):
    with pytest.raises(ValueError):
        session.run_command("hostname", shell=shell, timeout=5, env=env)
    assert winrm_server.commands_run() == []


def test_unknown_shell_interpreter_and_oversized_script_are_refused(winrm_server, session):
    with pytest.raises(ValueError):
        session.run_command("hostname", shell="bash", timeout=5)
    with pytest.raises(ValueError):
        session.run_script("echo hi", "python3", timeout=5)
    with pytest.raises(ValueError, match="too long"):
        session.run_script("Write-Output 'x'\n" * 300, timeout=5)
    assert winrm_server.commands_run() == []
    # the largest script that fits still runs
    assert session.run_script("#" + "x" * 3000, timeout=10).exit_code == 0


def test_stderr_and_exit_code_of_a_failing_command(winrm_server_factory):
    server = winrm_server_factory(
        command_handler=handler("net session", stderr=b"Access is denied.\r\n", exit_code=5)
    )
    with open_for(server) as session:
        out = Collector()
        result = session.run_command("net session", timeout=10, on_output=out)
        missing = Collector()
        unknown = session.run_command("no-such-tool", timeout=10, on_output=missing)

    assert result.exit_code == 5
    assert out.text("stderr") == "Access is denied.\r\n"
    assert out.text("stdout") == ""
    assert unknown.exit_code == 1
    assert "is not recognized as an internal or external command" in missing.text("stderr")


def test_powershell_clixml_error_stream_is_cleaned(winrm_server, session):
    out = Collector()
    result = session.run_script(
        "Write-Output 'before'\nWrite-Error 'disk full on D:'\nGet-Nothing\n",
        timeout=10,
        on_output=out,
    )

    assert result.exit_code == 1
    assert out.text("stdout") == "before\r\n"
    errors = out.text("stderr")
    assert "disk full on D:" in errors
    assert "Get-Nothing : The term 'Get-Nothing' is not recognized" in errors
    assert "CLIXML" not in errors and "<Objs" not in errors and "Preparing modules" not in errors


def test_clixml_split_over_several_receives_is_cleaned(winrm_server_factory):
    document = (
        b"#< CLIXML\r\n"
        b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<Obj S="progress" RefId="0"><MS><PR N="Record"><AV>Preparing modules for first use.'
        b'</AV></PR></MS></Obj><S S="Error">Stop-Service : cannot stop '
        b"_x0027_W3SVC_x0027__x000D__x000A_</S>"
        b'<S S="Error">caf_x00E9_ _xD83D__xDE00__x000D__x000A_</S></Objs>'
    )
    parts = ((0.0, "stderr", document[:5]), (0.2, "stderr", document[5:60]))
    parts += ((0.4, "stderr", document[60:]),)
    server = winrm_server_factory(command_handler=handler("svc-stop", parts=parts, exit_code=1))
    with open_for(server) as session:
        out = Collector()
        result = session.run_command("svc-stop", timeout=10, on_output=out)

    assert result.exit_code == 1
    assert out.text("stderr") == "Stop-Service : cannot stop 'W3SVC'\r\ncafé 😀\r\n"


def test_stderr_cleaner_leaves_other_text_alone():
    plain = _StderrCleaner()
    assert plain.feed(b"#< CL") == b""  # could still be the marker
    assert plain.feed(b"AIM: not CLIXML <Objs>") == b"#< CLAIM: not CLIXML <Objs>"
    assert plain.flush() == b""

    broken = _StderrCleaner()
    cleaned = broken.feed(b"#< CLIXML\r\n<Objs><S S='Error'>unterminated")
    assert cleaned == b""
    assert broken.flush() == b"<Objs><S S='Error'>unterminated"  # kept, not lost

    many = _StderrCleaner()
    text = b"".join(
        many.feed(bytes([byte]))
        for byte in b"#< CLIXML\r\n<Objs><S S='Error'>one_x000A_</S></Objs>"
        b"#< CLIXML\r\n<Objs><S S='warning'>two</S></Objs>"
    )
    assert text + many.flush() == b"one\ntwo"


def test_output_arrives_in_chunks_while_the_command_runs(winrm_server, session):
    out = Collector()
    started = time.monotonic()
    result = session.run_script(
        "Write-Output 'first'\nStart-Sleep 1\nWrite-Output 'second'\nStart-Sleep 1\n",
        timeout=10,
        on_output=out,
    )
    finished = time.monotonic()

    assert result.exit_code == 0
    assert out.text("stdout") == "first\r\nsecond\r\n"
    first, second = out.times("stdout")
    assert first - started < 0.6  # on_output ran long before the command ended
    assert 0.9 <= second - started < 1.6
    assert finished - first >= 1.8 and finished - second >= 0.8
    assert result.duration_ms >= 2000


def test_interleaved_streams_from_a_handler(winrm_server_factory):
    parts = (
        (0.0, "stdout", b"step 1\r\n"),
        (0.3, "stderr", b"warning: slow disk\r\n"),
        (0.6, "stdout", b"step 2\r\n"),
    )
    server = winrm_server_factory(command_handler=handler("deploy.cmd", parts=parts, exit_code=0))
    with open_for(server) as session:
        out = Collector()
        result = session.run_command("deploy.cmd", timeout=10, on_output=out)

    assert result.exit_code == 0
    assert [(s, c) for s, c, _ in out.chunks] == [(s, c) for _, s, c in parts]
    assert out.times("stdout")[1] - out.times("stdout")[0] >= 0.5


def test_timeout_terminates_the_remote_command_promptly(winrm_server_factory):
    server = winrm_server_factory(
        command_handler=handler("long-job", parts=((0.0, "stdout", b"working\r\n"),), duration=60)
    )
    with open_for(server) as session:  # operation_timeout 5: the deadline still wins
        out = Collector()
        started = time.monotonic()
        result = session.run_command("long-job", timeout=1.5, on_output=out)
        elapsed = time.monotonic() - started

        assert result.timed_out and not result.canceled and result.exit_code is None
        assert 1.5 <= elapsed < 2.8, elapsed  # the OperationTimeout is whole seconds
        assert out.text("stdout") == "working\r\n"
        assert server.terminated_commands() == ["long-job"]
        # the session is still usable afterwards
        assert session.run_command("exit 0", timeout=5).exit_code == 0
    assert server.open_shells() == []


def test_cancel_from_another_thread_terminates_the_remote_command(winrm_server_factory):
    server = winrm_server_factory(command_handler=handler("long-job", duration=60))
    with open_for(server, operation_timeout=1) as session:
        cancel = threading.Event()
        results: list[CommandResult] = []
        thread = threading.Thread(
            target=lambda: results.append(
                session.run_command("long-job", timeout=300, cancel=cancel)
            )
        )
        thread.start()
        wait_for(lambda: server.commands_run() == ["long-job"], timeout=5, what="the command")
        time.sleep(0.3)  # a Receive is waiting on the host
        started = time.monotonic()
        cancel.set()
        thread.join(10)
        elapsed = time.monotonic() - started

        assert not thread.is_alive()
        (result,) = results
        assert result.canceled and not result.timed_out and result.exit_code is None
        assert elapsed < 2.0, elapsed
        assert server.terminated_commands() == ["long-job"]


def test_a_failing_output_consumer_terminates_the_remote_command(winrm_server_factory):
    server = winrm_server_factory(
        command_handler=handler("long-job", parts=((0.0, "stdout", b"hello\r\n"),), duration=60)
    )

    def consumer(stream: str, chunk: bytes) -> None:
        raise RuntimeError("the database went away")

    with open_for(server) as session:
        with pytest.raises(RuntimeError):
            session.run_command("long-job", timeout=60, on_output=consumer)
        assert server.terminated_commands() == ["long-job"]
        assert session.run_command("exit 0", timeout=5).exit_code == 0


# -- connection failures -----------------------------------------------------------------------


def test_wrong_password_is_auth_failed_without_the_password(winrm_server):
    with pytest.raises(AuthFailed) as caught:
        open_winrm_session(params_for(winrm_server, password=CANARY), connect_timeout=5)

    assert repr(winrm_server.username) in str(caught.value)
    assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)
    assert winrm_server.commands_run() == [] and winrm_server.open_shells() == []


def test_missing_password_is_auth_failed_without_contacting_the_host(winrm_server):
    params = params_for(winrm_server, password="")
    with pytest.raises(AuthFailed, match="attach a WinRM credential"):
        open_winrm_session(params, connect_timeout=5)
    assert winrm_server.requests == []


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        ("kerberos", "kerberos transport cannot be used by this worker"),
        ("credssp", "credssp transport cannot be used by this worker"),
        ("plaintext", "unsupported WinRM transport"),
    ],
)
def test_transports_this_worker_cannot_use_are_transport_errors(winrm_server, transport, expected):
    with pytest.raises(TransportError, match=expected) as caught:
        open_winrm_session(params_for(winrm_server, transport=transport), connect_timeout=5)
    assert type(caught.value) is TransportError  # neither Unreachable nor AuthFailed
    assert winrm_server.commands_run() == []


def test_closed_port_is_unreachable_quickly():
    started = time.monotonic()
    with pytest.raises(Unreachable) as caught:
        open_winrm_session(
            params_for(port=free_port(), username="u", password=CANARY), connect_timeout=5
        )

    assert time.monotonic() - started < 1
    assert "refused" in str(caught.value).lower()
    assert "127.0.0.1" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_silent_service_is_unreachable_within_the_connect_timeout(winrm_server_factory):
    server = winrm_server_factory(delay=10)
    started = time.monotonic()
    with pytest.raises(Unreachable, match="did not answer within 1s"):
        open_winrm_session(params_for(server), connect_timeout=1)
    assert time.monotonic() - started < 2


def test_http_service_that_is_not_winrm_is_unreachable():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(Unreachable, match="HTTP 404"):
            open_winrm_session(
                params_for(port=port, username="u", password=CANARY), connect_timeout=5
            )
    finally:
        thread.join(5)
        listener.close()


def test_server_killed_mid_command_is_connection_lost(winrm_server_factory):
    server = winrm_server_factory(
        password=CANARY,
        command_handler=handler("long-job", parts=((0.0, "stdout", b"started\r\n"),), duration=60),
    )
    session = open_for(server, operation_timeout=2)
    out = Collector()
    errors: list[BaseException] = []

    def step() -> None:
        try:
            session.run_command("long-job", timeout=60, on_output=out)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=step)
    thread.start()
    wait_for(lambda: out.text("stdout") == "started\r\n", timeout=5, what="the command to start")
    started = time.monotonic()
    server.stop()
    thread.join(10)

    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert len(errors) == 1 and isinstance(errors[0], ConnectionLost), errors
    message = str(errors[0])
    assert f"127.0.0.1:{server.port}" in message and "broke" in message
    assert CANARY not in message
    assert not session.is_alive()
    with pytest.raises(ConnectionLost):
        session.run_command("exit 0", timeout=5)
    started = time.monotonic()
    session.close()  # does not raise, does not wait
    assert time.monotonic() - started < 1


# -- NTLM and HTTPS ----------------------------------------------------------------------------


def test_ntlm_over_http_with_message_encryption(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",))
    with open_for(server, transport="ntlm") as session:
        out = Collector()
        assert session.run_command("whoami", timeout=10, on_output=out).exit_code == 0
        ps = Collector()
        result = session.run_script("$env:COMPUTERNAME\nexit 2", timeout=10, on_output=ps)

    assert out.text("stdout").strip().endswith(f"\\{server.username}")
    assert result.exit_code == 2
    assert ps.text("stdout") == f"{server.computer_name}\r\n"
    soap = [r for r in server.requests if r.action]
    assert soap and all(r.encrypted and r.authenticated for r in soap)
    assert {r.username for r in soap} == {server.username}
    assert server.open_shells() == []


def test_ntlm_wrong_password_is_auth_failed(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",))
    with pytest.raises(AuthFailed) as caught:
        open_winrm_session(params_for(server, transport="ntlm", password=CANARY), connect_timeout=5)
    assert CANARY not in str(caught.value)
    assert server.commands_run() == []


def test_https_with_the_test_ca(winrm_server_factory, monkeypatch):
    server = winrm_server_factory(tls=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_cert_path))
    with open_for(server) as session:
        out = Collector()
        assert session.run_command("hostname", timeout=10, on_output=out).exit_code == 0
    assert out.text("stdout") == f"{server.computer_name}\r\n"
    assert server.tls_handshake_failures == 0


def test_https_untrusted_certificate_is_unreachable_before_any_credential(
    winrm_server_factory, monkeypatch
):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server = winrm_server_factory(tls=True)
    with pytest.raises(Unreachable, match="no credential was sent") as caught:
        open_winrm_session(params_for(server), connect_timeout=5)
    assert "certificate verify failed" in str(caught.value)
    assert not server.credentials_sent()
    # validation off: the same service is usable
    with open_for(server, validate_cert=False) as session:
        assert session.run_command("exit 0", timeout=10).exit_code == 0


def test_canary_password_never_appears(winrm_server_factory, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server = winrm_server_factory(
        password=CANARY,
        command_handler=handler("long-job", duration=60),
    )
    messages: list[str] = []
    with pytest.raises(AuthFailed) as caught:
        open_winrm_session(params_for(server, password=CANARY + "x"), connect_timeout=5)
    messages += [str(caught.value), repr(caught.value)]
    session = open_for(server, operation_timeout=1)
    messages.append(repr(session))
    assert session.run_command("long-job", timeout=1).timed_out
    session.close()
    with pytest.raises(Unreachable) as caught:
        open_winrm_session(
            params_for(port=free_port(), username="u", password=CANARY), connect_timeout=5
        )
    messages += [str(caught.value), repr(caught.value)]

    captured = capfd.readouterr()
    everything = "\n".join(messages) + caplog.text + captured.out + captured.err
    assert CANARY not in everything
    assert CANARY not in repr(server.requests)
