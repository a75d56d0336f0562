"""The SSH probe against real OpenSSH servers on loopback (no database involved)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from apps.targets.probes import probe
from apps.targets.probes.ssh import ScanError, probe_ssh, scan_host_key
from tests.sshd import SshServer, free_port, generate_key, known_key, params_for


def wait_for_disconnect(server: SshServer) -> str:
    """sshd's log once the probe's connection is over (sshd writes it asynchronously)."""
    return server.wait_for_connections(1)


def assert_no_auth_attempted(server: SshServer) -> None:
    log = wait_for_disconnect(server)
    assert "[preauth]" in log  # the probe's connection ended before any login...
    assert server.auth_attempts() == [], log  # ... and no authentication was even tried


def test_healthy_with_a_key(sshd_factory):
    server = sshd_factory()

    result = probe_ssh(params_for(server), timeout=10)

    assert result.status == "healthy", result.message
    assert result.hostname == socket.gethostname()
    assert result.host_key_verdict == "trusted"
    assert result.host_key.public_key == server.host_key_base64
    assert result.host_key.algorithm == "ssh-ed25519"
    assert result.latency_ms is not None and 0 <= result.latency_ms < 10_000
    assert "Accepted publickey for " in wait_for_disconnect(server)


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa", "rsa"])
def test_healthy_with_a_passphrase_protected_key_of_each_type(sshd_factory, tmp_path, key_type):
    canary = f"canary-{uuid.uuid4()}"
    client_key = generate_key(tmp_path / f"id_{key_type}", key_type=key_type, passphrase=canary)
    server = sshd_factory(client_key=client_key)

    result = probe_ssh(
        params_for(server, private_key=client_key.read_text(), passphrase=canary), timeout=10
    )

    assert result.status == "healthy", result.message
    assert canary not in repr(result)


def test_healthy_with_a_password(sshd_factory):
    server = sshd_factory(password=True)
    user = server.password_user

    result = probe_ssh(
        params_for(server, username=user.username, password=user.password), timeout=10
    )

    assert result.status == "healthy", result.message
    assert user.password not in repr(result)
    assert f"Accepted password for {user.username}" in wait_for_disconnect(server)


def test_wrong_password_is_auth_failed_and_never_echoed(sshd_factory):
    server = sshd_factory(password=True)
    canary = f"canary-{uuid.uuid4()}"

    result = probe_ssh(
        params_for(server, username=server.password_user.username, password=canary), timeout=10
    )

    assert result.status == "auth_failed"
    assert canary not in repr(result)
    assert "Failed password for" in wait_for_disconnect(server)


def test_a_key_the_host_does_not_authorize_is_auth_failed(sshd_factory, tmp_path):
    server = sshd_factory()
    other = generate_key(tmp_path / "other")

    result = probe_ssh(params_for(server, private_key=other.read_text()), timeout=10)

    assert result.status == "auth_failed"
    assert f"{server.username}@{server.host}:{server.port}" in result.message
    assert result.host_key_verdict == "trusted"
    assert "Failed publickey for" in wait_for_disconnect(server)


def test_an_unreadable_key_is_auth_failed_without_trying_it(sshd_factory, tmp_path):
    server = sshd_factory()
    canary = f"canary-{uuid.uuid4()}"
    locked = generate_key(tmp_path / "locked", passphrase=canary)

    result = probe_ssh(
        params_for(server, private_key=locked.read_text(), passphrase="not-it"), timeout=10
    )

    assert result.status == "auth_failed"
    assert "cannot be read" in result.message
    assert canary not in repr(result)


def test_closed_port_is_unreachable_at_once():
    started = time.monotonic()
    result = probe_ssh(params_for(port=free_port()), timeout=5)

    assert result.status == "unreachable"
    assert "refused" in result.message
    assert time.monotonic() - started < 5
    assert result.host_key is None and result.host_key_verdict is None


def test_a_host_that_never_answers_is_unreachable_within_the_timeout():
    with socket.socket() as listener:  # accepts TCP (backlog) but never speaks SSH
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = probe_ssh(params_for(port=port), timeout=1.0)
        elapsed = time.monotonic() - started

    assert result.status == "unreachable"
    assert "within 1s" in result.message
    assert elapsed < 2.0


def test_an_unknown_name_is_unreachable():
    result = probe_ssh(params_for(host="no-such-host.invalid", port=22), timeout=5)

    assert result.status == "unreachable"
    assert "cannot resolve no-such-host.invalid" in result.message


def test_a_server_that_is_not_ssh_is_an_error():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer_http():
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                time.sleep(0.5)

        thread = threading.Thread(target=answer_http, daemon=True)
        thread.start()
        result = probe_ssh(params_for(port=port), timeout=3)
        thread.join(5)

    assert result.status == "error"
    assert "SSH handshake" in result.message


def test_strict_and_unknown_host_key_is_refused_before_any_authentication(sshd_factory):
    server = sshd_factory()

    result = probe_ssh(params_for(server, known=()), timeout=10)

    assert result.status == "host_key_unknown"
    assert result.host_key_verdict == "unknown"
    assert result.host_key.public_key == server.host_key_base64
    assert result.host_key.fingerprint in result.message
    assert "not trusted yet" in result.message
    assert_no_auth_attempted(server)


def test_a_rejected_key_is_not_trusted_under_strict(sshd_factory):
    server = sshd_factory()

    result = probe_ssh(params_for(server, known=(known_key(server, trusted=False),)), timeout=10)

    assert result.status == "host_key_unknown"
    assert_no_auth_attempted(server)


def test_a_changed_host_key_is_refused_naming_both_fingerprints(sshd_factory, sshd_rekey):
    first = sshd_factory()
    expected = known_key(first)
    second = sshd_rekey(first)  # same port, another host key

    result = probe_ssh(params_for(second, known=(expected,)), timeout=10)

    assert result.status == "host_key_mismatch"
    assert result.host_key_verdict == "changed"
    presented = result.host_key.fingerprint
    assert presented != expected.fingerprint
    assert f"expected {expected.fingerprint}, got {presented}" in result.message
    assert f"host key for web-1 (127.0.0.1:{second.port}) changed" in result.message
    assert_no_auth_attempted(second)


def test_accept_new_trusts_the_first_key_and_goes_on(sshd_factory):
    server = sshd_factory()

    result = probe_ssh(params_for(server, policy="accept-new", known=()), timeout=10)

    assert result.status == "healthy", result.message
    assert result.host_key_verdict == "trust_on_first_use"
    assert result.host_key.public_key == server.host_key_base64


@pytest.mark.parametrize("host_key_type", ["rsa", "ecdsa"])
def test_other_host_key_types_are_verified_too(sshd_factory, host_key_type):
    server = sshd_factory(host_key_type=host_key_type)

    result = probe_ssh(params_for(server), timeout=10)

    assert result.status == "healthy", result.message
    assert result.host_key.algorithm == server.host_key_algorithm


def test_a_failing_command_is_an_error(sshd_factory):
    server = sshd_factory(extra_config=("ForceCommand exit 3",))

    result = probe_ssh(params_for(server), timeout=10)

    assert result.status == "error"
    assert "exited with 3" in result.message


def test_probe_dispatches_ssh(sshd_factory):
    server = sshd_factory()

    assert probe(params_for(server), timeout=10).status == "healthy"


def test_scan_fetches_the_host_key_without_logging_in(sshd_factory):
    server = sshd_factory()

    seen = scan_host_key(server.host, server.port, timeout=10)

    assert (seen.algorithm, seen.public_key) == (server.host_key_algorithm, server.host_key_base64)
    assert seen.fingerprint.startswith("SHA256:")
    assert_no_auth_attempted(server)


def test_scan_of_a_closed_port_says_why():
    with pytest.raises(ScanError, match="refused"):
        scan_host_key("127.0.0.1", free_port(), timeout=5)


def test_the_test_server_log_records_authentication_attempts(sshd_factory, tmp_path):
    """The no-authentication assertions above rely on sshd logging every attempt."""
    server = sshd_factory()
    probe_ssh(params_for(server, private_key=generate_key(tmp_path / "x").read_text()), timeout=10)

    wait_for_disconnect(server)
    assert server.auth_attempts()
    assert Path(server.log_path).exists()
