"""SSH targets for the benchmarks: N real OpenSSH servers on loopback, one ``sshd`` per target.

Both sides of the OpsConductor-vs-ansible benchmark run against the same targets. Each target is
an ``sshd -D`` from the test fixture (tests/sshd.py) on 127.0.0.1 and a random port, with a
host key of its own and one client key shared by all targets (one credential, as an operator
would have). When this runs as root the targets are logged into as the fixture's dedicated
account (login shell ``/bin/sh``), so neither side pays for a heavy shell start-up of the user
running the benchmark; otherwise as the current user.

    with start_targets(200, workdir=Path("var/bench")) as targets:
        for t in targets:
            t.host, t.port, t.username, t.private_key_path, t.known_hosts_line

The servers are started in parallel (threads: each start is mostly waiting for ``ssh-keygen``
and for the server to listen). ``stop()`` (or leaving the ``with`` block) stops every server
and the per-connection ``sshd`` processes below it, which a bare SIGTERM to the listener leaves
running when a client (e.g. an ssh control master) is still connected.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import resource
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.sshd import (
    SshServer,
    ensure_password_user,
    free_port,
    generate_key,
    start_sshd,
    stop_sshd,
)

# File descriptors this process needs per target: the pipe to each sshd's stderr (held by the
# fixture's Popen), plus head room for the clients (an ssh process or socket per target).
FDS_PER_TARGET = 4
START_ATTEMPTS = 3  # a random port taken between choosing and binding it: try another one


@dataclass(frozen=True)
class BenchTarget:
    name: str
    host: str
    port: int
    username: str
    private_key_path: Path  # OpenSSH format, no passphrase, mode 0600
    host_key_algorithm: str  # e.g. "ssh-ed25519"
    host_key_base64: str
    server: SshServer = field(repr=False, compare=False)

    @property
    def private_key(self) -> str:
        """The client private key (PEM / OpenSSH text)."""
        return self.private_key_path.read_text()

    @property
    def host_public_key(self) -> str:
        return f"{self.host_key_algorithm} {self.host_key_base64}"

    @property
    def known_hosts_line(self) -> str:
        """This target's line for an OpenSSH known_hosts file."""
        address = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return f"{address} {self.host_public_key}"


class BenchTargets(list[BenchTarget]):
    """The started targets (a list), and a context manager that stops them all at its end."""

    def __init__(self, items: Iterable[BenchTarget] = (), *, rundir: Path, keep_files: bool):
        super().__init__(items)
        self.rundir = rundir
        self.keep_files = keep_files
        self.start_seconds = 0.0

    def __enter__(self) -> BenchTargets:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pids(self) -> set[int]:
        """The sshd listeners' pids (e.g. to leave them out of a memory sample of this process
        tree: ``ProcessTreeSampler(os.getpid(), exclude=targets.pids())``)."""
        return {t.server.process.pid for t in self}

    def known_hosts(self) -> str:
        """A known_hosts file's text with every target's host key."""
        return "".join(f"{t.known_hosts_line}\n" for t in self)

    def stop(self) -> None:
        stop_servers([t.server for t in self])
        self.clear()
        if not self.keep_files:
            shutil.rmtree(self.rundir, ignore_errors=True)


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft limit of open files to ``needed`` (at most the hard limit);
    children (sshd, ansible, ssh) inherit it. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new_soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = new_soft
    return soft


def _traversable_by_others(path: Path) -> bool:
    """Can another account reach files below ``path``? (sshd reads authorized_keys as the user
    logging in.)"""
    return all(directory.stat().st_mode & stat.S_IXOTH for directory in (path, *path.parents))


def login_user(login: str, rundir: Path) -> str:
    """The account the targets are logged into as: the fixture's ``/bin/sh`` test account when
    ``login == "test-user"`` and this runs as root (and it can read the authorized keys), else
    the current user."""
    if login == "test-user" and os.geteuid() == 0 and _traversable_by_others(rundir):
        return ensure_password_user().username
    return getpass.getuser()


class _PortPool:
    """Random free ports, never the same one twice in a run (threads choose concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: set[int] = set()

    def take(self) -> int:
        with self._lock:
            while True:
                port = free_port()
                if port not in self._taken:
                    self._taken.add(port)
                    return port


def _start_one(workdir: Path, client_key: Path, ports: _PortPool) -> SshServer:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            path = workdir if attempt == 1 else workdir.with_name(f"{workdir.name}-{attempt}")
            return start_sshd(path, port=ports.take(), client_key=client_key)
        except pytest.fail.Exception:
            if attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def start_targets(
    n: int,
    *,
    workdir: Path,
    login: str = "test-user",
    parallel: int | None = None,
    keep_files: bool = False,
) -> BenchTargets:
    """Start ``n`` sshd targets on 127.0.0.1 with their files in a new directory below
    ``workdir`` (removed by ``stop()`` unless ``keep_files``).

    ``login``: "test-user" (the fixture's ``/bin/sh`` account, when root) or "current".
    ``parallel``: how many servers are started at once (default: 8 per CPU, at most 32).
    """
    raise_fd_limit(n * FDS_PER_TARGET + 256)
    workdir.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="targets-", dir=workdir)).absolute()
    rundir.chmod(0o711)  # traversable by the test account: its sshd session reads the keys
    username = login_user(login, rundir)
    client_key = generate_key(rundir / "client_ed25519")
    ports = _PortPool()
    parallel = parallel or min(32, 8 * (os.cpu_count() or 1))
    started = time.perf_counter()
    slots: list[SshServer | None] = [None] * n

    def start(i: int) -> None:
        slots[i] = _start_one(rundir / f"sshd-{i:04d}", client_key, ports)

    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="sshd-start")
    try:
        for future in [pool.submit(start, i) for i in range(n)]:
            future.result()
    except BaseException as exc:  # pytest.fail raises a BaseException; so does Ctrl-C
        pool.shutdown(wait=True, cancel_futures=True)
        stop_servers([s for s in slots if s is not None])
        shutil.rmtree(rundir, ignore_errors=True)
        if isinstance(exc, Exception | pytest.fail.Exception):
            raise RuntimeError(f"could not start {n} sshd targets: {exc}") from exc
        raise
    pool.shutdown()
    servers = [s for s in slots if s is not None]
    targets = BenchTargets(
        (
            BenchTarget(
                name=f"target-{i:04d}",
                host=server.host,
                port=server.port,
                username=username,
                private_key_path=server.client_key_path,
                host_key_algorithm=server.host_key_algorithm,
                host_key_base64=server.host_key_base64,
                server=server,
            )
            for i, server in enumerate(servers)
        ),
        rundir=rundir,
        keep_files=keep_files,
    )
    targets.start_seconds = time.perf_counter() - started
    return targets


def read_proc(path: str) -> bytes | None:
    """A /proc file's bytes; None when the process is gone (or it cannot be read)."""
    try:
        with open(path, "rb") as f:  # noqa: PTH123 (cheapest way, read thousands of times)
            return f.read()
    except OSError:
        return None


def proc_stat(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on: [state, ppid, ...]; None when it is gone."""
    data = read_proc(f"/proc/{pid}/stat")
    if not data:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return data[data.rindex(b")") + 2 :].split()


def proc_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]  # noqa: PTH208


def _parent_map() -> dict[int, int]:
    """pid -> parent pid of every process."""
    parents = {}
    for pid in proc_pids():
        fields = proc_stat(pid)
        if fields is not None:
            parents[pid] = int(fields[1])
    return parents


def descendants(pids: Iterable[int]) -> set[int]:
    """Every process below ``pids`` (children, their children, ...), not ``pids`` themselves."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parent_map().items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop_servers(servers: list[SshServer]) -> None:
    """Stop the listeners and the per-connection sshd processes below them, all at once."""
    live = [s for s in servers if s.process.poll() is None]
    below = descendants(s.process.pid for s in live)
    for server in live:
        with contextlib.suppress(ProcessLookupError):
            server.process.terminate()
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for server in servers:
        stop_sshd(server)  # waits (and kills what ignores SIGTERM); closes the stderr pipe
    deadline = time.monotonic() + 5
    while below and time.monotonic() < deadline:
        below = {pid for pid in below if _alive(pid)}
        if below:
            time.sleep(0.05)
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != b"Z"
