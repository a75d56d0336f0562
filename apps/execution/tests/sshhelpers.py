"""Helpers for the transport tests (the sshd targets run on this machine)."""

from __future__ import annotations

import subprocess

from tests.sshd import known_key, params_for

__all__ = ["known_key", "params_for", "remote_running"]


def remote_running(pattern: str) -> bool:
    """Whether a process whose command line matches ``pattern`` runs on this machine (the
    sshd targets are local)."""
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
