"""The parts the suite runs against are really there (and say what to start when not)."""

from __future__ import annotations

import base64
import socket

import paramiko
import pytest
import redis
from kombu import Connection

from tests.fixtures import require_service


def test_ssh_target_accepts_a_verified_connection(sshd):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key_type, key_data = sshd.host_public_key.split()
    host_key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data))
    client.get_host_keys().add(f"[{sshd.host}]:{sshd.port}", key_type, host_key)
    client.connect(
        sshd.host, port=sshd.port, username=sshd.username,
        key_filename=str(sshd.client_key_path), look_for_keys=False, allow_agent=False, timeout=10,
    )  # fmt: skip
    try:
        _, stdout, _ = client.exec_command("echo opsconductor-$((40 + 2))")
        assert stdout.read().decode().strip() == "opsconductor-42"
        assert stdout.channel.recv_exit_status() == 0
    finally:
        client.close()


def test_ssh_target_with_unknown_host_key_is_refused(sshd):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        client.connect(
            sshd.host, port=sshd.port, username=sshd.username,
            key_filename=str(sshd.client_key_path), look_for_keys=False, allow_agent=False,
            timeout=10,
        )  # fmt: skip


def test_rabbitmq_accepts_a_connection(rabbitmq):
    with Connection(rabbitmq, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.connected


def test_redis_answers():
    require_service("Redis", "127.0.0.1", 6379)
    assert redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5).ping() is True


def test_postgresql_is_the_test_database(django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql"
        socket.getaddrinfo(connection.settings_dict["HOST"] or "127.0.0.1", None)
