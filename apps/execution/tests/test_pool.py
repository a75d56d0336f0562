"""The SSH session pool against real OpenSSH servers on loopback (no database involved)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from apps.execution.tests.sshhelpers import known_key, params_for
from apps.execution.transports.pool import PoolExhausted, SshPool, pool_key
from apps.execution.transports.ssh import ConnectionLost, HostKeyRefused, Unreachable
from apps.targets.interface import Secret
from tests.sshd import start_sshd, stop_sshd


def descendants(pid: int) -> list[int]:
    """Pids of the processes below ``pid`` (read from /proc, no name matching)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if task.exists() else []
            for child in map(int, children):
                found.append(child)
                pending.append(child)
    return found


@pytest.fixture
def pool():
    opened = SshPool(connect_timeout=5, auth_timeout=5, idle_timeout=60, max_per_key=2)
    yield opened
    opened.close_all()


def run(session, command: str = "echo hi") -> tuple[int | None, bytes]:
    out = bytearray()
    result = session.run_command(command, timeout=10, on_output=lambda s, c: out.extend(c))
    return result.exit_code, bytes(out)


def test_second_acquire_reuses_the_session_without_a_handshake(pool, sshd):
    params = params_for(sshd)
    with pool.acquire(params) as first:
        assert run(first) == (0, b"hi\n")
    before = sshd.log().count("Accepted publickey")
    with pool.acquire(params) as second:
        assert run(second) == (0, b"hi\n")
    assert second is first
    assert (pool.stats.opened, pool.stats.reused) == (1, 1)
    assert sshd.log().count("Accepted publickey") == before  # no new login on the server


def test_concurrent_acquires_open_separate_sessions_up_to_max(pool, sshd):
    params = params_for(sshd)
    with pool.acquire(params) as a, pool.acquire(params) as b:
        assert a is not b
        pool.wait_timeout = 0.3
        with pytest.raises(PoolExhausted), pool.acquire(params):
            pass
    assert pool.stats.opened == 2
    assert pool.idle_count() == 2


def test_a_new_credential_or_host_key_does_not_reuse(pool, sshd):
    params = params_for(sshd)
    with pool.acquire(params):
        pass
    rotated = dataclasses.replace(params, private_key=Secret(sshd.client_key_text + "\n"))
    assert pool_key(rotated) != pool_key(params)
    with pool.acquire(rotated):
        pass
    other_key = dataclasses.replace(
        params, known_host_keys=(*params.known_host_keys, known_key(sshd, trusted=False))
    )
    assert pool_key(other_key) != pool_key(params)
    assert pool.stats.opened == 2
    # the session opened with the old credential was closed when the new one was asked for
    assert pool.idle_count() == 1 and pool.stats.closed == 1
    assert "BEGIN" not in repr(pool_key(params))


def test_a_dead_idle_session_is_dropped_and_reopened(pool, tmp_path):
    server = start_sshd(tmp_path / "a")
    try:
        params = params_for(server)
        with pool.acquire(params) as session:
            assert run(session)[0] == 0
        # the host goes away: the listener and the session processes it forked
        sessions = descendants(server.process.pid)
        stop_sshd(server)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        with pytest.raises(Unreachable), pool.acquire(params):
            pass
        assert pool.stats.dead == 1
        server = start_sshd(tmp_path / "b", port=server.port, client_key=server.client_key_path)
        params = params_for(server)
        with pool.acquire(params) as fresh:
            assert fresh is not session
            assert run(fresh)[0] == 0
    finally:
        stop_sshd(server)


def test_a_session_that_broke_during_use_is_not_returned(pool, sshd):
    params = params_for(sshd)
    with pytest.raises(ConnectionLost), pool.acquire(params) as session:
        session.close()  # stands in for the connection breaking under a step
        run(session)
    assert pool.idle_count() == 0
    with pool.acquire(params) as again:
        assert again is not session
    assert pool.stats.opened == 2


def test_idle_sessions_are_pruned(sshd):
    pool = SshPool(connect_timeout=5, auth_timeout=5, idle_timeout=0.2)
    params = params_for(sshd)
    with pool.acquire(params) as session:
        pass
    assert pool.prune() == 0
    time.sleep(0.3)
    assert pool.prune() == 1
    assert session.closed and pool.idle_count() == 0
    with pool.acquire(params):
        pass
    assert pool.stats.opened == 2 and pool.stats.closed == 1
    pool.close_all()
    assert pool.stats.closed == 2


def test_failures_to_open_release_the_slot(pool, sshd):
    params = params_for(sshd, known=())
    for _ in range(3):  # more than max_per_key: the slots were given back
        with pytest.raises(HostKeyRefused), pool.acquire(params):
            pass
    assert pool.stats.opened == 0


def test_twenty_concurrent_sessions_over_a_few_servers(sshd_factory):
    servers = [sshd_factory() for _ in range(4)]
    pool = SshPool(connect_timeout=10, auth_timeout=10, max_per_key=5)
    targets = [params_for(server) for server in servers]
    errors: list[BaseException] = []
    outputs: list[bytes] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def work(index: int) -> None:
        try:
            params = targets[index % len(targets)]
            barrier.wait(10)
            for round_ in range(2):
                with pool.acquire(params) as session:
                    code, out = run(session, f"sleep 0.2; echo {index}-{round_}")
                    assert code == 0
                    with lock:
                        outputs.append(out)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    pool.close_all()
    assert errors == []
    assert sorted(outputs) == sorted(f"{i}-{r}\n".encode() for i in range(20) for r in range(2))
    assert pool.stats.opened <= 20
    assert pool.stats.opened + pool.stats.reused == 40
    assert pool.stats.reused >= 20


def test_a_canceled_step_leaves_the_session_reusable(pool, sshd):
    params = params_for(sshd)
    cancel = threading.Event()
    with pool.acquire(params) as session:
        threading.Timer(0.3, cancel.set).start()
        result = session.run_command("sleep 30", timeout=60, cancel=cancel)
        assert result.canceled
    with pool.acquire(params) as again:
        assert again is session
        assert run(again) == (0, b"hi\n")
    assert (pool.stats.opened, pool.stats.reused) == (1, 1)


def test_discard_target_closes_its_idle_sessions(pool, sshd):
    first, second = params_for(sshd), params_for(sshd)
    with pool.acquire(first) as kept, pool.acquire(second) as dropped:
        pass
    assert pool.discard_target(second.target_id) == 1
    assert dropped.closed and not kept.closed
    assert pool.idle_count() == 1


def test_a_stale_session_reconnects_once_when_sshd_restarted(pool, sshd_factory):
    from tests.sshd import restart_sshd

    server = sshd_factory()
    params = params_for(server)
    with pool.acquire(params) as session:
        assert run(session) == (0, b"hi\n")
        # between two steps the host's sshd restarts: this connection is dead at its end, and
        # the session (already checked out) does not know yet
        sshd_factory.servers.append(restart_sshd(server))
        assert run(session, "echo again") == (0, b"again\n")
        assert session.reconnects == 1
    assert (pool.stats.opened, pool.stats.reconnected) == (2, 1)
    # the reconnected session went back to the pool and serves the next step as it is
    with pool.acquire(params) as again:
        assert again is session
        assert run(again) == (0, b"hi\n")


def test_a_command_that_may_have_started_is_never_run_again(pool, sshd_factory, tmp_path):
    from tests.sshd import kill_sessions

    server = sshd_factory()
    params = params_for(server)
    marker = tmp_path / "started"
    errors = []
    with pool.acquire(params) as session:
        assert run(session)[0] == 0

        def step():
            try:
                run(session, f"echo once >> {marker}; sleep 5")
            except ConnectionLost as exc:
                errors.append(exc)

        thread = threading.Thread(target=step)
        thread.start()
        deadline = time.monotonic() + 5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        kill_sessions(server)  # the connection dies while the command runs
        thread.join(10)
    assert len(errors) == 1
    assert marker.read_text() == "once\n"  # not started a second time on a fresh connection
    assert session.reconnects == 0 and pool.stats.reconnected == 0
