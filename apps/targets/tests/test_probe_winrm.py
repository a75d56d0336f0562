"""WinRM health probe against the WS-Management test server (tests/winrm_server.py).

No Windows host runs here; docs/winrm-testing.md says what these tests prove and what they do not.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import winrm
import xmltodict
from winrm.exceptions import InvalidCredentialsError, WSManFaultError
from winrm.protocol import Protocol

from apps.targets.connection import ConnectionParams
from apps.targets.probes import probe
from apps.targets.probes import winrm as winrm_probe
from apps.targets.probes.winrm import probe_winrm
from tests.winrm_fixtures import winrm_params as params_for
from tests.winrm_server import FAULT_OPERATION_TIMEOUT, FAULT_SHELL_NOT_FOUND, CommandResult

CANARY = "canary-Pw-7f3e9a2b"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_for(server, *, password: str | None = None, transport: str = "basic"):
    """pywinrm's own high-level client, direct to the test server (no env proxy or CA)."""
    return winrm.Session(
        server.endpoint,
        auth=(server.username, password if password is not None else server.password),
        transport=transport,
        proxy=None,
        ca_trust_path=None,
    )


def protocol_for(server, **options) -> Protocol:
    return Protocol(
        server.endpoint,
        transport="basic",
        username=server.username,
        password=server.password,
        proxy=None,
        ca_trust_path=None,
        **options,
    )


def timed_probe(params: ConnectionParams, timeout: float):
    started = time.monotonic()
    result = probe_winrm(params, timeout=timeout)
    return result, time.monotonic() - started


# -- the probe ---------------------------------------------------------------------------------


def test_healthy_with_basic_auth(winrm_server):
    result = probe_winrm(params_for(winrm_server), timeout=5)

    assert result.status == "healthy", result.message
    assert result.hostname == winrm_server.computer_name
    assert winrm_server.computer_name in result.message
    assert result.latency_ms is not None and 0 <= result.latency_ms < 5000
    assert result.host_key is None and result.host_key_verdict is None  # no SSH keys in WinRM
    assert winrm_server.commands_run() == ["hostname"]
    # Receive polled until Done, then the command was signalled and the shell deleted.
    assert winrm_server.actions() == ["Create", "Command", "Receive", "Receive", "Signal", "Delete"]
    assert winrm_server.open_shells() == []
    assert all(r.auth_scheme == "Basic" and r.authenticated for r in winrm_server.requests)


def test_many_probes_in_parallel_against_one_service(winrm_server):
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(lambda _: probe_winrm(params_for(winrm_server), timeout=10), range(32))
        )

    assert {r.status for r in results} == {"healthy"}
    assert len(winrm_server.commands_run()) == 32
    assert winrm_server.open_shells() == []


def test_probe_dispatches_winrm_methods(winrm_server):
    result = probe(params_for(winrm_server), timeout=5)

    assert result.status == "healthy"
    assert result.hostname == winrm_server.computer_name


def test_wrong_password_is_auth_failed_and_nothing_runs(winrm_server):
    result = probe_winrm(params_for(winrm_server, password="not-the-password"), timeout=5)

    assert result.status == "auth_failed"
    assert repr(winrm_server.username) in result.message
    assert "not-the-password" not in result.message
    attempts = winrm_server.requests
    assert attempts and all(r.status == 401 and not r.authenticated for r in attempts)
    assert attempts[0].auth_scheme == "Basic"
    assert winrm_server.commands_run() == []


def test_wrong_username_is_auth_failed(winrm_server):
    result = probe_winrm(params_for(winrm_server, username="someone-else"), timeout=5)

    assert result.status == "auth_failed"
    assert winrm_server.commands_run() == []


def test_missing_password_is_auth_failed_without_contacting_the_service(winrm_server):
    result = probe_winrm(params_for(winrm_server, password=""), timeout=5)

    assert result.status == "auth_failed"
    assert "credential" in result.message
    assert winrm_server.requests == []


def test_closed_port_is_unreachable_quickly():
    result, elapsed = timed_probe(params_for(port=free_port(), username="u", password="p"), 5)

    assert result.status == "unreachable"
    assert "cannot connect" in result.message
    assert elapsed < 1.0
    assert result.latency_ms is not None


def test_unresolvable_host_is_unreachable():
    params = params_for(host="no-such-host.invalid", port=5985, username="u", password="p")

    result = probe_winrm(params, timeout=3)

    assert result.status == "unreachable"
    assert "resolve" in result.message


def test_slow_service_is_unreachable_within_the_timeout(winrm_server_factory):
    server = winrm_server_factory(delay=10)

    result, elapsed = timed_probe(params_for(server), 1.0)

    assert result.status == "unreachable"
    assert "did not answer within 1s" in result.message
    assert elapsed < 1.5
    assert server.commands_run() == []


def test_command_that_never_finishes_is_an_error_within_the_timeout(winrm_server_factory):
    server = winrm_server_factory(delay=10, delay_actions={"Receive"})

    result, elapsed = timed_probe(params_for(server), 1.0)

    assert result.status == "error"
    assert "did not finish within 1s" in result.message
    assert "authenticated" in result.message
    # Past the deadline only the short clean-up grace: the shell is not left on the host.
    assert elapsed < 1.0 + winrm_probe.CLEANUP_GRACE + 0.5
    assert server.open_shells() == []
    assert server.actions()[-2:] == ["Signal", "Delete"]


def test_receive_operation_timeouts_are_retried(winrm_server_factory):
    # A command that runs longer than the OperationTimeout (1s with a 2s probe timeout): the
    # service answers Windows' TimedOut fault to Receive, and the probe asks again.
    server = winrm_server_factory(
        command_handler=lambda line: (
            CommandResult(stdout=b"SLOWHOST\r\n", duration=1.3) if line == "hostname" else None
        )
    )

    result = probe_winrm(params_for(server), timeout=2)

    assert result.status == "healthy", result.message
    assert result.hostname == "SLOWHOST"
    assert "w:TimedOut" in [r.fault for r in server.requests if r.action == "Receive"]


def test_failing_command_is_an_error_with_its_stderr(winrm_server_factory):
    server = winrm_server_factory(
        command_handler=lambda line: CommandResult(stderr=b"Access is denied.\r\n", exit_code=5)
    )

    result = probe_winrm(params_for(server), timeout=5)

    assert result.status == "error"
    assert "exited with 5" in result.message
    assert "Access is denied." in result.message
    assert server.open_shells() == []


def test_http_server_that_is_not_winrm_is_an_error():
    class NotFound(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        params = params_for(port=httpd.server_address[1], username="u", password="pw-unused-1")
        result = probe_winrm(params, timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()

    assert result.status == "error"
    assert "HTTP 404" in result.message
    assert "WinRM endpoint" in result.message


def test_https_with_validation_refuses_an_untrusted_certificate_before_any_credential(
    winrm_server_factory, monkeypatch
):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server = winrm_server_factory(tls=True)

    result = probe_winrm(params_for(server, validate_cert=True), timeout=5)

    assert result.status == "error"
    assert "certificate verify failed" in result.message
    assert "no credential was sent" in result.message
    assert server.requests == []  # not one HTTP request, so no Authorization header either


def test_https_with_validation_off_is_healthy(winrm_server_factory):
    server = winrm_server_factory(tls=True)

    result = probe_winrm(params_for(server, validate_cert=False), timeout=5)

    assert result.status == "healthy", result.message
    assert result.hostname == server.computer_name


def test_https_with_validation_trusts_a_configured_ca_bundle(winrm_server_factory, monkeypatch):
    server = winrm_server_factory(tls=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_cert_path))

    result = probe_winrm(params_for(server, validate_cert=True), timeout=5)

    assert result.status == "healthy", result.message


def test_http_scheme_against_an_https_service_is_not_healthy(winrm_server_factory):
    server = winrm_server_factory(tls=True)

    result = probe_winrm(params_for(server, scheme="http"), timeout=3)

    assert result.status == "unreachable"
    assert "set the scheme to https" in result.message
    assert server.requests == []


def test_https_scheme_against_an_http_service_is_an_error_before_any_credential(winrm_server):
    result = probe_winrm(params_for(winrm_server, scheme="https"), timeout=3)

    assert result.status == "error"
    assert "should the scheme be http?" in result.message
    assert winrm_server.requests == []


def test_ntlm_with_message_encryption_is_healthy(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",))

    result = probe_winrm(params_for(server, transport="ntlm"), timeout=5)

    assert result.status == "healthy", result.message
    assert result.hostname == server.computer_name
    assert server.commands_run() == ["hostname"]
    negotiated = [r for r in server.requests if r.auth_scheme == "Negotiate"]
    assert negotiated and negotiated[-1].authenticated
    # Over plain HTTP every WS-Management message went encrypted (MS-WSMV 2.2.9.1).
    assert all(r.encrypted for r in server.requests if r.action)


def test_ntlm_over_https_is_healthy_without_message_encryption(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",), tls=True)

    result = probe_winrm(params_for(server, transport="ntlm", validate_cert=False), timeout=5)

    assert result.status == "healthy", result.message
    assert not any(r.encrypted for r in server.requests)  # TLS protects the messages instead


def test_ntlm_with_wrong_password_is_auth_failed(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",))

    result = probe_winrm(params_for(server, transport="ntlm", password=CANARY), timeout=5)

    assert result.status == "auth_failed"
    assert CANARY not in result.message
    assert server.commands_run() == []


def test_basic_against_a_service_without_basic_is_auth_failed(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm",))

    result = probe_winrm(params_for(server, transport="basic"), timeout=5)

    assert result.status == "auth_failed"
    assert "basic transport is enabled" in result.message


@pytest.mark.parametrize("transport", ["kerberos", "credssp"])
def test_transports_without_their_libraries_or_realm_are_errors_not_crashes(
    winrm_server, transport
):
    # requirements.txt installs plain pywinrm: no pykerberos (nor a realm) and no requests-credssp.
    # The probe says so as a result instead of raising.
    result = probe_winrm(params_for(winrm_server, transport=transport), timeout=5)

    assert result.status == "error"
    assert f"{transport} transport cannot be used by this worker" in result.message
    assert winrm_server.commands_run() == []


def test_unknown_transport_is_an_error(winrm_server):
    result = probe_winrm(params_for(winrm_server, transport="plaintext"), timeout=5)

    assert result.status == "error"
    assert "unsupported WinRM transport" in result.message
    assert winrm_server.requests == []


# -- the password never shows ------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", ["healthy", "wrong_password", "slow", "closed_port", "failing_command"]
)
def test_canary_password_never_appears(winrm_server_factory, caplog, capfd, scenario):
    caplog.set_level(logging.DEBUG)
    options = {"password": CANARY}
    if scenario == "slow":
        options["delay"] = 10
    if scenario == "failing_command":
        options["command_handler"] = lambda line: CommandResult(
            stderr=f"bad password {CANARY}\r\n".encode(), exit_code=1
        )
    server = winrm_server_factory(**options)
    params = params_for(server)
    if scenario == "wrong_password":
        server.password = "the-real-one"
    if scenario == "closed_port":
        params = params_for(server, port=free_port())

    result = probe_winrm(params, timeout=1.0 if scenario == "slow" else 5)

    expected = {
        "healthy": "healthy",
        "wrong_password": "auth_failed",
        "slow": "unreachable",
        "closed_port": "unreachable",
        "failing_command": "error",
    }[scenario]
    assert result.status == expected, result.message
    captured = capfd.readouterr()
    for text in (result.message, result.hostname, repr(result), repr(params), caplog.text):
        assert CANARY not in text
    assert CANARY not in captured.out + captured.err
    assert CANARY not in repr(server.requests)  # the test server's own log keeps no secret
    assert f"probe of {params.target_name}" in caplog.text  # the probe does log its outcome


def test_unexpected_exception_is_an_error_and_masked(winrm_server, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError(f"library bug echoing {CANARY}")

    monkeypatch.setattr(winrm_probe, "Protocol", explode)

    result = probe_winrm(params_for(winrm_server, password=CANARY), timeout=5)

    assert result.status == "error"
    assert "RuntimeError" in result.message
    assert CANARY not in result.message
    assert "********" in result.message


def test_password_that_basic_cannot_carry_is_an_error_without_quoting_it(winrm_server):
    secret = "pässwörd-€-only"

    result = probe_winrm(params_for(winrm_server, password=secret), timeout=5)

    assert result.status == "error"
    assert "cannot be encoded" in result.message
    assert "€" not in result.message and secret not in result.message


# -- protocol fidelity: pywinrm's own API against the test server -------------------------------


def test_pywinrm_session_run_cmd_hostname(winrm_server):
    session = session_for(winrm_server)

    response = session.run_cmd("hostname")

    assert response.status_code == 0
    assert response.std_out == f"{winrm_server.computer_name}\r\n".encode()
    assert response.std_err == b""
    assert winrm_server.commands_run() == ["hostname"]


def test_pywinrm_session_run_ps_computername(winrm_server):
    session = session_for(winrm_server)

    response = session.run_ps("$env:COMPUTERNAME")

    assert response.status_code == 0
    assert response.std_out.decode().strip() == winrm_server.computer_name
    (command_line,) = winrm_server.commands_run()
    encoded = command_line.split()[-1]
    assert command_line.startswith("powershell -encodedcommand ")
    assert base64.b64decode(encoded).decode("utf-16-le") == "$env:COMPUTERNAME"


def test_pywinrm_run_ps_error_stream_is_clixml_that_pywinrm_cleans(winrm_server):
    session = session_for(winrm_server)

    response = session.run_ps("Get-Nothing")

    assert response.status_code == 1
    assert response.std_err.startswith(b"Get-Nothing : The term 'Get-Nothing' is not recognized")


def test_pywinrm_exit_codes_and_unknown_commands(winrm_server):
    session = session_for(winrm_server)

    assert session.run_cmd("cmd", ["/c", "exit", "3"]).status_code == 3
    missing = session.run_cmd("no-such-tool")
    assert missing.status_code == 1
    assert b"is not recognized as an internal or external command" in missing.std_err


def test_pywinrm_protocol_step_by_step(winrm_server):
    protocol = protocol_for(winrm_server)

    shell_id = protocol.open_shell(env_vars={"A": "1"}, working_directory="C:\\Temp")
    assert winrm_server.open_shells() == [shell_id]
    command_id = protocol.run_command(shell_id, "echo", ["hello", "world"])
    first = protocol.get_command_output_raw(shell_id, command_id)
    assert first == (b"hello world\r\n", b"", -1, False)  # output first, still Running
    assert protocol.get_command_output_raw(shell_id, command_id) == (b"", b"", 0, True)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)

    assert winrm_server.open_shells() == []
    assert winrm_server.commands_run() == ["echo hello world"]


def test_pywinrm_sees_windows_faults(winrm_server):
    protocol = protocol_for(winrm_server)

    with pytest.raises(WSManFaultError) as unknown_shell:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "hostname")
    assert unknown_shell.value.wsman_fault_code == FAULT_SHELL_NOT_FOUND
    assert unknown_shell.value.fault_subcode == "w:InvalidSelectors"

    message = protocol.build_wsman_header(
        action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
        resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
    )
    message["env:Body"] = {}
    with pytest.raises(WSManFaultError) as unknown_action:
        protocol.send_message(xmltodict.unparse({"env:Envelope": message}))
    assert unknown_action.value.fault_subcode == "a:ActionNotSupported"
    assert {r.fault for r in winrm_server.requests} == {
        "w:InvalidSelectors",
        "a:ActionNotSupported",
    }


def test_pywinrm_retries_receive_after_operation_timeout(winrm_server_factory):
    server = winrm_server_factory(
        command_handler=lambda line: CommandResult(stdout=b"done\r\n", duration=1.2)
    )
    protocol = protocol_for(server, read_timeout_sec=3, operation_timeout_sec=1)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "long-job")

    assert protocol.get_command_output(shell_id, command_id) == (b"done\r\n", b"", 0)
    protocol.close_shell(shell_id)
    faults = [r for r in server.requests if r.fault == "w:TimedOut"]
    assert faults and all(r.status == 500 for r in faults)
    assert FAULT_OPERATION_TIMEOUT == 2150858793  # the code pywinrm turns into a retry


def test_pywinrm_wrong_credentials_get_a_401(winrm_server):
    session = session_for(winrm_server, password="nope")

    with pytest.raises(InvalidCredentialsError):
        session.run_cmd("hostname")
    (attempt,) = winrm_server.requests
    assert (attempt.status, attempt.auth_scheme, attempt.authenticated) == (401, "Basic", False)


def test_pywinrm_ntlm_session_round_trip(winrm_server_factory):
    server = winrm_server_factory(auth=("ntlm", "basic"))
    session = session_for(server, transport="ntlm")

    response = session.run_ps("$env:COMPUTERNAME")

    assert response.status_code == 0
    assert response.std_out.decode().strip() == server.computer_name
