"""Real OpenSSH servers on loopback for tests: generated keys, random ports, no system config.

``start_sshd`` starts one ``sshd -D`` with a generated host key (or a given type), an
authorized client key, optionally password authentication for a dedicated local test user, and
its log (``LogLevel VERBOSE``) in a file, so a test can read what the server saw, e.g. that no
authentication was attempted. ``restart_with_new_host_key`` stops a server and starts another
one on the same port with a different host key: what a reinstalled (or impersonated) host looks
like to a client. Targets, execution and the benchmarks use these.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import getpass
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apps.targets.connection import ConnectionParams, KnownHostKey, Secret, fingerprint_sha256

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
INSTALL_HINT = "install it with: apt-get install -y openssh-server"

# A local account for password authentication, created (once) when the tests run as root. Its
# password is random, generated when the account is created and kept in a root-only file, so
# the account is no door into the machine's own sshd.
PASSWORD_USER = "oc-sshtest"
PASSWORD_FILE = Path("/var/lib/opsconductor-test/ssh-test-user-password")

# What sshd (LogLevel VERBOSE) writes once a client has started to authenticate: accepted or
# failed attempts, an unknown user, or a client leaving in the middle of authentication.
AUTH_ATTEMPT_MARKERS = (
    "Accepted ",
    "Failed ",
    "Invalid user",
    "authenticating user",
    "Postponed ",
    "Partial ",
)


_CONNECTION_START = re.compile(r"Connection from \S+ port (\d+) on ")
_CONNECTION_END = re.compile(
    r"(?:Connection closed by|Disconnected from|Read error from remote host|Connection reset by|"
    r"Closing connection to|Timeout before authentication for)"
    r"(?: authenticating| invalid)?(?: user \S+)? \S+ port (\d+)"
)


def sshd_binary() -> str:
    for candidate in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(f"OpenSSH sshd is not installed; {INSTALL_HINT}", pytrace=False)


def _openssh_version(binary: str) -> tuple[int, int]:
    result = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stderr + result.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_free_port = free_port  # the name earlier callers used


@dataclass(frozen=True)
class PasswordUser:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    username: str  # the user the client key logs in as (the user running the tests)
    client_key_path: Path  # private key in OpenSSH format, no passphrase
    host_public_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen
    workdir: Path | None = None
    host_key_path: Path | None = None
    log_path: Path | None = None
    password_user: PasswordUser | None = None  # set when password authentication is on
    extra_config: tuple[str, ...] = ()

    @property
    def host_key_algorithm(self) -> str:
        return self.host_public_key.split()[0]

    @property
    def host_key_base64(self) -> str:
        return self.host_public_key.split()[1]

    @property
    def client_key_text(self) -> str:
        return self.client_key_path.read_text()

    def log(self) -> str:
        """What sshd has logged so far (LogLevel VERBOSE)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def wait_for_connections(self, count: int = 1, *, timeout: float = 10.0) -> str:
        """sshd's log once ``count`` client connections (besides the start-up check) have come
        and gone; sshd writes its log asynchronously, after the client has moved on."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            started = _CONNECTION_START.findall(log)
            ended = set(_CONNECTION_END.findall(log))
            if len(started) >= count + 1 and all(port in ended for port in started):
                return log
            if time.monotonic() > deadline:
                pytest.fail(
                    f"sshd on port {self.port} did not log {count} finished connection(s) "
                    f"within {timeout}s:\n{log}",
                    pytrace=False,
                )
            time.sleep(0.05)

    def auth_attempts(self) -> list[str]:
        """Log lines showing that a client tried to authenticate (empty: nobody did)."""
        return [
            line
            for line in self.log().splitlines()
            if any(marker in line for marker in AUTH_ATTEMPT_MARKERS)
        ]


def ensure_password_user() -> PasswordUser:
    """The local test account for password logins, created once (needs root; skips otherwise)."""
    if os.geteuid() != 0:
        pytest.skip(
            "password authentication needs a local account with a known password; the tests are "
            "not running as root, so none can be created (run as root, as CI does)"
        )
    PASSWORD_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = PASSWORD_FILE.with_suffix(".lock")
    with lock_path.open("w") as lock:  # concurrent test sessions on one machine
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(PASSWORD_USER)
            exists = True
        except KeyError:
            exists = False
        if not exists:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/sh", PASSWORD_USER],
                check=True,
                capture_output=True,
            )
        if exists and PASSWORD_FILE.exists():
            password = PASSWORD_FILE.read_text().strip()
        else:
            password = "oc-test-" + secrets.token_urlsafe(18)
            subprocess.run(
                ["chpasswd"], input=f"{PASSWORD_USER}:{password}\n", text=True, check=True
            )
            PASSWORD_FILE.touch(mode=0o600)
            PASSWORD_FILE.write_text(password + "\n")
    return PasswordUser(username=PASSWORD_USER, password=password)


def generate_key(path: Path, *, key_type: str = "ed25519", passphrase: str = "") -> Path:
    """An SSH key pair at ``path`` / ``path.pub`` (OpenSSH format)."""
    args = ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-f", str(path)]
    if key_type == "rsa":
        args += ["-b", "2048"]
    subprocess.run(args, check=True)
    return path


def start_sshd(
    workdir: Path,
    *,
    port: int | None = None,
    client_key: Path | None = None,
    host_key_type: str = "ed25519",
    password_user: PasswordUser | None = None,
    extra_config: tuple[str, ...] = (),
) -> SshServer:
    """Start ``sshd -D`` on 127.0.0.1 (``port``, or a free one) with its files in ``workdir``.

    ``client_key``: an existing private key to authorize (default: a new ed25519 key in
    ``workdir``). ``password_user``: also accept that account's password. ``extra_config``:
    more sshd_config lines (e.g. ``ForceCommand false``).
    """
    binary = sshd_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    # Traversable (not listable) by others: sshd reads authorized_keys as the user logging in,
    # which may be the password test user. Private keys stay 0600.
    workdir.chmod(0o711)
    host_key = generate_key(workdir / f"ssh_host_{host_key_type}_key", key_type=host_key_type)
    if client_key is None:
        client_key = generate_key(workdir / "client_ed25519")
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    authorized.chmod(0o644)  # read by the password user's session too
    if getpass.getuser() == "root":
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    port = port or free_port()
    log_path = workdir / "sshd.log"
    # Sessions get an empty home of their own: the login shell (bash started by sshd reads
    # ~/.bashrc even for a command) must not run the machine account's start-up files, which
    # can be slow or, like a stale pyenv rehash lock, block every session for a minute.
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    home.chmod(0o1777)  # the password test user's sessions use it too
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {authorized}",
        f"PidFile {workdir / 'sshd.pid'}",
        f"PasswordAuthentication {'yes' if password_user else 'no'}",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
        # Many clients at once (health checks of many targets): never drop connections early.
        "MaxStartups 500",
        f"SetEnv HOME={home}",
    ]
    if password_user:
        lines.append(f"AllowUsers {getpass.getuser()} {password_user.username}")
    if _openssh_version(binary) >= (9, 8):
        # Newer sshd penalises addresses whose connections fail authentication or close before
        # it; the tests do both on purpose, all from 127.0.0.1.
        lines.append("PerSourcePenalties no")
    config = workdir / "sshd_config"
    config.write_text("\n".join([*lines, *extra_config, ""]))
    process = subprocess.Popen(
        [binary, "-D", "-E", str(log_path), "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"sshd exited at start: {stderr}{log}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"sshd did not start listening on port {port} within 10s", pytrace=False)
    return SshServer(
        host="127.0.0.1",
        port=port,
        username=getpass.getuser(),
        client_key_path=client_key,
        host_public_key=" ".join(Path(f"{host_key}.pub").read_text().split()[:2]),
        process=process,
        workdir=workdir,
        host_key_path=host_key,
        log_path=log_path,
        password_user=password_user,
        extra_config=tuple(extra_config),
    )


def stop_sshd(server: SshServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    if server.process.stderr:
        with contextlib.suppress(OSError):
            server.process.stderr.close()


def _wait_until_port_is_free(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.05)
    pytest.fail(f"port {port} was not released within {timeout}s", pytrace=False)


def kill_sessions(server: SshServer) -> None:
    """Kill the per-connection processes ``server`` forked (its clients' connections die at
    the host's end), leaving the listener up."""
    pending, found = [server.process.pid], []
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(pid) for pid in (task / "children").read_text().split()]
                found += children
                pending += children
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def restart_sshd(server: SshServer) -> SshServer:
    """The host's sshd restarted: every connection to ``server`` dies at the host's end, then
    the same sshd (same port, host key, config) listens again. Returns the new process's
    server (the old ``server`` still names the same address and keys)."""
    assert server.workdir is not None
    kill_sessions(server)
    stop_sshd(server)
    _wait_until_port_is_free(server.port)
    config = server.workdir / "sshd_config"
    process = subprocess.Popen(
        [sshd_binary(), "-D", "-E", str(server.log_path), "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"sshd did not listen again on port {server.port}", pytrace=False)
    return dataclasses.replace(server, process=process)


def restart_with_new_host_key(server: SshServer, workdir: Path) -> SshServer:
    """Stop ``server`` and start another sshd on the same address with a different host key.

    Same port, same authorized client key, same password user; files (and log) in ``workdir``.
    """
    stop_sshd(server)
    _wait_until_port_is_free(server.port)
    replacement = start_sshd(
        workdir,
        port=server.port,
        client_key=server.client_key_path,
        host_key_type=server.host_key_algorithm.removeprefix("ssh-").split("-")[0],
        password_user=server.password_user,
        extra_config=server.extra_config,
    )
    assert replacement.host_public_key != server.host_public_key
    return replacement


class SshdFactory:
    """Starts sshd processes for one test (or session) and stops all of them at the end."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self.servers: list[SshServer] = []

    def __call__(
        self,
        *,
        client_key: Path | None = None,
        host_key_type: str = "ed25519",
        password: bool = False,
        extra_config: tuple[str, ...] = (),
    ) -> SshServer:
        server = start_sshd(
            self._tmp.mktemp("sshd"),
            client_key=client_key,
            host_key_type=host_key_type,
            password_user=ensure_password_user() if password else None,
            extra_config=extra_config,
        )
        self.servers.append(server)
        return server

    def restart_with_new_host_key(self, server: SshServer) -> SshServer:
        replacement = restart_with_new_host_key(server, self._tmp.mktemp("sshd"))
        self.servers.append(replacement)
        return replacement

    def restart(self, server: SshServer) -> SshServer:
        """``restart_sshd``: the same sshd again, its clients' connections dead."""
        replacement = restart_sshd(server)
        self.servers.append(replacement)
        return replacement

    def stop_all(self) -> None:
        for server in self.servers:
            stop_sshd(server)
        self.servers.clear()


def known_key(server: SshServer, *, trusted: bool = True) -> KnownHostKey:
    """The fixture sshd's host key as the targets app would know it."""
    return KnownHostKey(
        algorithm=server.host_key_algorithm,
        public_key=server.host_key_base64,
        fingerprint=fingerprint_sha256(base64.b64decode(server.host_key_base64)),
        trusted=trusted,
    )


def params_for(
    server: SshServer | None = None,
    *,
    port: int | None = None,
    username: str | None = None,
    private_key: str | None = None,
    password: str | None = None,
    passphrase: str | None = None,
    policy: str = "strict",
    known: tuple[KnownHostKey, ...] | None = None,
    target_id: uuid.UUID | None = None,
    method_id: uuid.UUID | None = None,
    host: str = "127.0.0.1",
) -> ConnectionParams:
    """``ConnectionParams`` for a fixture sshd (no database involved): its client key (or
    ``password``), its host key trusted unless ``known`` says otherwise."""
    if password is not None:
        kind = "password"
    else:
        kind = "ssh_key"
        if private_key is None and server is not None:
            private_key = server.client_key_text
    if known is None:
        known = (known_key(server),) if server is not None else ()
    return ConnectionParams(
        target_id=target_id or uuid.uuid4(),
        target_name="web-1",
        method_id=method_id or uuid.uuid4(),
        protocol="ssh",
        host=server.host if server else host,
        port=port or (server.port if server else free_port()),
        username=username or (server.username if server else "root"),
        credential_kind=kind,
        password=Secret(password),
        private_key=Secret(private_key),
        passphrase=Secret(passphrase),
        host_key_policy=policy,
        known_host_keys=known,
    )
