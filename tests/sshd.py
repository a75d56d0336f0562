"""A real OpenSSH server on loopback for tests: generated keys, random port, no system config.

Later issues (targets, execution) connect to it as a real SSH target.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
INSTALL_HINT = "install it with: apt-get install -y openssh-server"


def sshd_binary() -> str:
    for candidate in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(f"OpenSSH sshd is not installed; {INSTALL_HINT}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    username: str
    client_key_path: Path
    host_public_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen


def start_sshd(workdir: Path) -> SshServer:
    binary = sshd_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o700)
    host_key = workdir / "ssh_host_ed25519_key"
    client_key = workdir / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
        )
    authorized = workdir / "authorized_keys"
    authorized.write_text((client_key.with_suffix(".pub")).read_text())
    authorized.chmod(0o600)
    if getpass.getuser() == "root":
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    port = _free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {workdir / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sshd exited at start: {process.stderr.read().decode()}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("sshd did not start listening within 10s", pytrace=False)
    return SshServer(
        host="127.0.0.1",
        port=port,
        username=getpass.getuser(),
        client_key_path=client_key,
        host_public_key=" ".join(host_key.with_suffix(".pub").read_text().split()[:2]),
        process=process,
    )


def stop_sshd(server: SshServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
