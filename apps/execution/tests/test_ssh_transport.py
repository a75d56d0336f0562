"""The SSH transport against real OpenSSH servers on loopback (no database involved)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import threading
import time

import pytest

from apps.execution.tests.sshhelpers import known_key, params_for, remote_running
from apps.execution.transports.ssh import (
    AuthFailed,
    HostKeyRefused,
    Unreachable,
    open_ssh_session,
)
from apps.targets.interface import HostKeyVerdict
from tests.fixtures import wait_for
from tests.sshd import free_port, generate_key

TIMEOUTS = {"connect_timeout": 5, "auth_timeout": 5}


class Collector:
    def __init__(self):
        self.chunks: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, chunk: bytes) -> None:
        with self.lock:
            self.chunks.append((stream, chunk))

    def text(self, stream: str) -> str:
        with self.lock:
            return b"".join(c for s, c in self.chunks if s == stream).decode()


@pytest.fixture
def session(sshd):
    with open_ssh_session(params_for(sshd), **TIMEOUTS) as opened:
        yield opened


def test_command_output_streams_in_order_with_exit_code(session):
    out = Collector()
    result = session.run_command(
        "for i in 1 2 3 4 5; do echo line$i; sleep 0.05; done; echo oops >&2; exit 3",
        timeout=10,
        on_output=out,
    )
    assert result.exit_code == 3
    assert not result.timed_out and not result.canceled
    assert out.text("stdout") == "line1\nline2\nline3\nline4\nline5\n"
    assert out.text("stderr") == "oops\n"
    assert "__OC_PID__" not in out.text("stdout")
    # streamed: several stdout chunks arrived, not one buffered blob
    assert len([c for s, c in out.chunks if s == "stdout"]) >= 3
    assert result.duration_ms >= 250


def test_chunks_arrive_while_the_command_runs(session):
    seen_at: list[float] = []
    started = time.monotonic()
    session.run_command(
        "echo first; sleep 1; echo second",
        timeout=10,
        on_output=lambda stream, chunk: seen_at.append(time.monotonic() - started),
    )
    assert len(seen_at) == 2
    assert seen_at[0] < 0.8 <= seen_at[1]


def test_exit_code_zero_env_and_large_output(session):
    out = Collector()
    result = session.run_command(
        'echo "$GREETING"; head -c 300000 /dev/zero | tr "\\0" x',
        timeout=10,
        env={"GREETING": "hello 'quoted' world"},
        on_output=out,
    )
    assert result.exit_code == 0
    text = out.text("stdout")
    assert text.startswith("hello 'quoted' world\n")
    assert len(text) == len("hello 'quoted' world\n") + 300000


def test_bad_env_name_is_refused(session):
    with pytest.raises(ValueError):
        session.run_command("true", timeout=5, env={"A; rm -rf /": "x"})


def test_timeout_kills_the_remote_process(session):
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"
    started = time.monotonic()
    result = session.run_command(f"{tag}; echo after", timeout=1)
    assert result.timed_out and not result.canceled and result.exit_code is None
    assert time.monotonic() - started < 5
    wait_for(lambda: not remote_running(tag), timeout=5, what="the remote sleep to be gone")
    # the session is still usable afterwards
    assert session.run_command("exit 0", timeout=5).exit_code == 0


def test_cancel_within_seconds_kills_the_remote_process_group(session):
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"
    child = f"sleep 4{secrets.randbelow(10**6):06d}"
    cancel = threading.Event()
    results = []
    thread = threading.Thread(
        target=lambda: results.append(
            session.run_command(f"{child} & {tag}; wait", timeout=300, cancel=cancel)
        )
    )
    thread.start()
    wait_for(lambda: remote_running(tag), timeout=5, what="the remote sleep to start")
    started = time.monotonic()
    cancel.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    (result,) = results
    assert result.canceled and not result.timed_out and result.exit_code is None
    assert not remote_running(tag)
    assert not remote_running(child)  # the background child of the same group, too


def test_script_body_travels_on_stdin_not_the_command_line(session):
    canary = f"CANARY_{secrets.token_hex(8)}"
    body = f"""
# {canary}
echo "args: $(ps -o args= -p $$)"
ps -eo args | grep -c {canary[:10]}X || true
exit 7
"""
    out = Collector()
    result = session.run_script(body, "sh", timeout=10, on_output=out)
    assert result.exit_code == 7
    text = out.text("stdout")
    args_line = text.splitlines()[0]
    assert args_line.startswith("args: ")
    assert canary not in args_line
    assert "sh -s" in args_line


def test_script_body_is_absent_from_every_remote_command_line(session):
    canary = f"CANARY_{secrets.token_hex(8)}"
    out = Collector()
    body = f"V={canary}\nps -eo args > /tmp/oc-ps-$$.txt; cat /tmp/oc-ps-$$.txt; rm /tmp/oc-ps-$$.txt\n"
    result = session.run_script(body, "bash", timeout=10, on_output=out)
    assert result.exit_code == 0
    assert canary not in out.text("stdout")


def test_python_script_and_unknown_interpreter(session):
    out = Collector()
    result = session.run_script(
        "import sys\nprint('py', sys.version_info[0])\nsys.exit(4)\n",
        "python3",
        timeout=10,
        on_output=out,
    )
    assert result.exit_code == 4
    assert out.text("stdout") == "py 3\n"
    with pytest.raises(ValueError):
        session.run_script("x", "perl; rm -rf /", timeout=5)


def test_upload_with_mode_then_run(session, tmp_path):
    target = tmp_path / "deploy" / "tool.sh"
    target.parent.mkdir()
    target.parent.chmod(0o777)
    session.upload(b"#!/bin/sh\necho uploaded ok\n", str(target), 0o750)
    assert target.read_bytes() == b"#!/bin/sh\necho uploaded ok\n"
    assert target.stat().st_mode & 0o777 == 0o750
    assert [p.name for p in target.parent.iterdir()] == ["tool.sh"]  # no temp file left
    out = Collector()
    assert session.run_command(str(target), timeout=5, on_output=out).exit_code == 0
    assert out.text("stdout") == "uploaded ok\n"
    # replacing an existing file
    session.upload(b"v2", str(target), 0o600)
    assert target.read_bytes() == b"v2"
    assert target.stat().st_mode & 0o777 == 0o600


def test_is_alive_and_close(sshd):
    session = open_ssh_session(params_for(sshd), **TIMEOUTS)
    assert session.is_alive()
    session.close()
    assert not session.is_alive()


def test_unknown_host_key_refused_before_any_authentication(sshd_factory):
    server = sshd_factory()
    params = params_for(server, known=())
    with pytest.raises(HostKeyRefused) as caught:
        open_ssh_session(params, **TIMEOUTS)
    assert caught.value.verdict is HostKeyVerdict.UNKNOWN
    assert caught.value.host_key.public_key == server.host_key_base64
    assert caught.value.host_key.fingerprint in caught.value.message
    log = server.wait_for_connections(1)
    assert server.auth_attempts() == [], log


def test_changed_host_key_refused_before_any_authentication(sshd_factory, sshd_rekey):
    server = sshd_factory()
    params = params_for(server)  # trusts the first key
    with open_ssh_session(params, **TIMEOUTS) as session:
        assert session.host_key_verdict is HostKeyVerdict.TRUSTED
    replacement = sshd_rekey(server)
    with pytest.raises(HostKeyRefused) as caught:
        open_ssh_session(params, **TIMEOUTS)
    assert caught.value.verdict is HostKeyVerdict.CHANGED
    assert caught.value.host_key.public_key == replacement.host_key_base64
    assert "changed" in str(caught.value)
    replacement.wait_for_connections(1)
    assert replacement.auth_attempts() == []


def test_rejected_key_refused_and_accept_new_proceeds(sshd_factory):
    server = sshd_factory()
    rejected = known_key(server, trusted=False)
    rejected = type(rejected)(**{**rejected.__dict__, "rejected": True})
    with pytest.raises(HostKeyRefused) as caught:
        open_ssh_session(params_for(server, known=(rejected,), policy="accept-new"), **TIMEOUTS)
    assert caught.value.verdict is HostKeyVerdict.REJECTED
    with open_ssh_session(params_for(server, known=(), policy="accept-new"), **TIMEOUTS) as s:
        assert s.host_key_verdict is HostKeyVerdict.TRUST_ON_FIRST_USE
        assert s.host_key.public_key == server.host_key_base64


def test_wrong_key_is_auth_failed(sshd, tmp_path):
    other = generate_key(tmp_path / "other")
    with pytest.raises(AuthFailed) as caught:
        open_ssh_session(params_for(sshd, private_key=other.read_text()), **TIMEOUTS)
    assert "authentication failed" in str(caught.value)


def test_closed_port_is_unreachable_fast():
    started = time.monotonic()
    with pytest.raises(Unreachable) as caught:
        open_ssh_session(params_for(port=free_port(), known=()), **TIMEOUTS)
    assert "refused" in str(caught.value)
    assert time.monotonic() - started < 1


def test_silent_host_is_unreachable_within_connect_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        started = time.monotonic()
        with pytest.raises(Unreachable) as caught:
            open_ssh_session(
                params_for(port=listener.getsockname()[1], known=()),
                connect_timeout=1,
                auth_timeout=1,
            )
        assert time.monotonic() - started < 3
        assert "handshake" in str(caught.value)
    finally:
        listener.close()


def test_unresolvable_host_is_unreachable():
    params = params_for(port=22, known=())
    params = type(params)(**{**params.__dict__, "host": "no-such-host.invalid"})
    with pytest.raises(Unreachable):
        open_ssh_session(params, **TIMEOUTS)


def test_secrets_never_appear_in_errors_reprs_or_logs(sshd_factory, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{secrets.token_hex(12)}"
    key = generate_key(tmp_path / "enc", passphrase=canary)
    server = sshd_factory(password=True, client_key=key)
    messages: list[str] = []
    password_params = params_for(server, username=server.password_user.username, password=canary)
    with pytest.raises(AuthFailed) as caught:
        open_ssh_session(password_params, **TIMEOUTS)
    messages += [str(caught.value), repr(caught.value), repr(password_params)]
    # the authorized key is encrypted with the canary as passphrase: wrong and no passphrase
    for passphrase in (canary + "x", None):
        params = params_for(server, private_key=key.read_text(), passphrase=passphrase)
        with pytest.raises(AuthFailed) as caught:
            open_ssh_session(params, **TIMEOUTS)
        messages += [str(caught.value), repr(caught.value), repr(params)]
    # a working session
    params = params_for(server, private_key=key.read_text(), passphrase=canary)
    server_key_text = key.read_text()
    with open_ssh_session(params, **TIMEOUTS) as session:
        messages.append(repr(session))
    # a refused host key with a credential present
    with pytest.raises(HostKeyRefused) as caught:
        open_ssh_session(params_for(server, known=(), password=canary), **TIMEOUTS)
    messages += [str(caught.value), repr(caught.value)]
    everything = "\n".join(messages) + caplog.text
    assert canary not in everything
    assert server_key_text.splitlines()[1] not in everything


def test_password_login_works(sshd_factory):
    server = sshd_factory(password=True)
    user = server.password_user
    params = params_for(server, username=user.username, password=user.password)
    with open_ssh_session(params, **TIMEOUTS) as session:
        out = Collector()
        assert session.run_command("id -un", timeout=5, on_output=out).exit_code == 0
    assert out.text("stdout").strip() == user.username


def test_sshd_killed_mid_command_raises_connection_lost(sshd_factory):
    from apps.execution.tests.test_pool import descendants
    from apps.execution.transports.ssh import ConnectionLost

    server = sshd_factory()
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"
    with open_ssh_session(params_for(server), **TIMEOUTS) as session:
        out = Collector()
        errors: list[BaseException] = []

        def step() -> None:
            try:
                session.run_command(f"echo started; {tag}", timeout=60, on_output=out)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=step)
        thread.start()
        wait_for(lambda: out.text("stdout") == "started\n", timeout=5, what="the step to start")
        started = time.monotonic()
        for pid in [server.process.pid, *descendants(server.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - started < 5
        assert len(errors) == 1 and isinstance(errors[0], ConnectionLost), errors
        assert "broke" in str(errors[0])
        assert not session.is_alive()
    # Known limit: a command whose connection broke is orphaned on the host (no pty, so no
    # SIGHUP); clean up the one this test started, by pid.
    found = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout.split()
    for pid in map(int, found):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_large_script_body_while_the_script_writes_a_lot(session):
    # the script writes ~1 MB before the interpreter reads the rest of a ~1 MB body: the body
    # is sent beside the output reader, so neither side blocks the other
    filler = "# " + "x" * 98 + "\n"
    body = "head -c 1000000 /dev/zero\n" + filler * 10000 + "echo done >&2\n"
    out = Collector()
    result = session.run_script(body, "sh", timeout=30, on_output=out)
    assert result.exit_code == 0
    assert len(out.text("stdout")) == 1000000
    assert out.text("stderr") == "done\n"


def test_pid_marker_is_found_after_login_shell_noise():
    from apps.execution.transports.ssh import _split_pid_marker

    assert _split_pid_marker(b"__OC_PID__:42\nhello") == (42, b"hello")
    assert _split_pid_marker(b"welcome\n__OC_PID__:7\nout\n") == (7, b"welcome\nout\n")
    assert _split_pid_marker(b"welcome\n__OC_PID") == (None, b"")
    assert _split_pid_marker(b"__OC_PID__:12") == (None, b"")
    assert _split_pid_marker(b"x" * 70000) == (0, b"x" * 70000)


def test_cancel_before_the_command_reported_its_pid_still_kills_it(session):
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"
    cancel = threading.Event()
    cancel.set()
    result = session.run_command(tag, timeout=60, cancel=cancel)
    assert result.canceled
    assert result.duration_ms < 5000
    wait_for(lambda: not remote_running(tag), timeout=5, what="the remote sleep to be gone")
    result = session.run_command(tag, timeout=0.001)
    assert result.timed_out
    wait_for(lambda: not remote_running(tag), timeout=5, what="the remote sleep to be gone")


def test_a_failing_output_consumer_stops_the_remote_command(session):
    tag = f"sleep 3{secrets.randbelow(10**6):06d}"

    def consumer(stream: str, chunk: bytes) -> None:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        session.run_command(f"echo hello; {tag}", timeout=60, on_output=consumer)
    wait_for(lambda: not remote_running(tag), timeout=5, what="the remote sleep to be gone")
    assert session.run_command("true", timeout=5).exit_code == 0


def test_a_command_its_env_and_a_secret_in_them_never_appear_in_the_process_list(session):
    canary = f"CANARY_{secrets.token_hex(8)}"
    tag = f"sleep 2.{secrets.randbelow(10**6):06d}"
    out = Collector()
    results = []
    thread = threading.Thread(
        target=lambda: results.append(
            session.run_command(
                f"{tag}; printf '%s' '{canary}' | wc -c; echo \"$TOKEN\" | wc -c; exit 5",
                timeout=20,
                env={"TOKEN": canary},
                workdir="/tmp",
                on_output=out,
            )
        )
    )
    thread.start()
    listings = []
    while thread.is_alive():
        listings.append(
            subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        )
        time.sleep(0.05)
    thread.join()
    # the step was running while the process list was read (its sleep shows there) ...
    assert any(tag in listing for listing in listings)
    running = [listing for listing in listings if tag in listing]
    # ... and the shell running it reads it from stdin: no command text, no value
    assert all(canary not in listing for listing in listings)
    assert any("sh -s" in listing for listing in running)
    (result,) = results
    assert result.exit_code == 5
    assert out.text("stdout").split() == [str(len(canary)), str(len(canary) + 1)]


def test_a_command_reads_an_empty_stdin_not_its_own_text(session):
    out = Collector()
    result = session.run_command(
        'read line; echo "read:[$line]"\necho second line runs', timeout=10, on_output=out
    )
    assert out.text("stdout") == "read:[]\nsecond line runs\n"
    assert result.exit_code == 0


def test_a_script_without_a_trailing_newline_and_its_env_from_stdin(session):
    out = Collector()
    result = session.run_script(
        'echo "$A $(pwd)"; exit 4', "bash", timeout=10, env={"A": "x'y"}, workdir="/tmp",
        on_output=out,
    )  # fmt: skip
    assert (result.exit_code, out.text("stdout")) == (4, "x'y /tmp\n")
