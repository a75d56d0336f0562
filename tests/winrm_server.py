"""A WS-Management (WinRM) test server on loopback that pywinrm can talk to.

No Windows host can run in this environment, so WinRM code is tested against this server: a real
threaded HTTP(S) server on 127.0.0.1 (random port) that speaks the part of WS-Management that
pywinrm uses — the Windows Remote Shell resource (``.../windows/shell/cmd``) with Create, Command,
Receive, Signal, Send and Delete, SOAP faults shaped like Windows' (``WSManFault`` with a code),
HTTP Basic authentication, optionally NTLM (``Negotiate``) with the MS-WSMV message encryption
pywinrm applies over plain HTTP, and optionally TLS with a generated self-signed certificate.

It does not run anything: a small, fixed set of commands is answered deterministically
(``hostname``, ``whoami``, ``echo``, ``exit N``, ``set NAME`` after ``set "NAME=value"&&``
prefixes, ``powershell -encodedcommand`` with a few statements such as ``$env:COMPUTERNAME``,
``$env:NAME = '...'`` and ``Start-Sleep``), everything else goes to a configurable handler or
fails the way ``cmd.exe`` does. A handler's result may stream: parts of its output appear over
time while the command runs. See ``docs/winrm-testing.md`` for what this proves and what it does
not.

Every HTTP request is recorded (``server.requests``) so tests can assert what happened: which
WS-Management actions ran, which commands, whether credentials were sent and accepted, which
running commands were terminated by a Signal (``terminated_commands()``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hmac
import ipaddress
import os
import re
import shlex
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN_NS = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER_NS = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMANFAULT_NS = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS = {"s": SOAP_NS, "a": ADDRESSING_NS, "w": WSMAN_NS, "rsp": SHELL_NS, "x": TRANSFER_NS}

CMD_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
STATE_RUNNING = SHELL_NS + "/CommandState/Running"
STATE_DONE = SHELL_NS + "/CommandState/Done"
SIGNAL_TERMINATE = SHELL_NS + "/signal/terminate"

ACTIONS = {
    TRANSFER_NS + "/Create": "Create",
    TRANSFER_NS + "/Delete": "Delete",
    SHELL_NS + "/Command": "Command",
    SHELL_NS + "/Receive": "Receive",
    SHELL_NS + "/Signal": "Signal",
    SHELL_NS + "/Send": "Send",
}

# Windows' WSManFault codes for the faults pywinrm reacts to (it only interprets the timeout one).
FAULT_OPERATION_TIMEOUT = 2150858793  # 0x80338029: Receive found no output within the timeout
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B: no shell (or command) with that id
FAULT_ACTION_NOT_SUPPORTED = 2150858757  # 0x80338005: representative; unknown action
FAULT_INVALID_RESOURCE = 2150858770  # 0x80338012: representative; unknown resource URI
FAULT_SCHEMA = 2150858817  # 0x80338041: representative; the envelope could not be processed

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
MIME_BOUNDARY = b"--Encrypted Boundary"


@dataclass(frozen=True)
class CommandResult:
    """What a fake command "prints" and how it ends.

    ``duration``: seconds the command keeps running before it is Done; Receive requests in the
    meantime wait up to their OperationTimeout and then answer Windows' timeout fault, which
    pywinrm retries. ``stdout``/``stderr`` are delivered when that time is up, just before Done.
    ``parts``: output that appears while the command runs, as ``(seconds after the start,
    "stdout" | "stderr", bytes)``; a Receive answers as soon as a part is due, with the command
    still Running, so a client sees it before the command ends. The command is Done at
    ``duration`` or at its last part, whichever is later.
    """

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    duration: float = 0.0
    parts: tuple[tuple[float, str, bytes], ...] = ()

    @property
    def ends_after(self) -> float:
        return max([self.duration, *(at for at, _, _ in self.parts)])


CommandHandler = Callable[[str], "CommandResult | None"]


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request the server received, as tests see it (never a password)."""

    method: str
    path: str
    status: int
    auth_scheme: str | None  # "Basic", "Negotiate", ... (None: no Authorization header)
    username: str | None  # the user that authenticated or tried to (Basic, NTLM)
    authenticated: bool  # the request (or its connection) carried accepted credentials
    encrypted: bool = False  # the body was an MS-WSMV encrypted multipart message
    action: str | None = None  # "Create", "Command", "Receive", "Signal", "Send", "Delete", ...
    shell_id: str | None = None
    command_id: str | None = None
    command_line: str | None = None  # for Command
    fault: str | None = None  # subcode of the SOAP fault answered, if any
    signal: str | None = None  # for Signal: the code's last segment ("terminate", "ctrl_c")


@dataclass
class _Command:
    id: str
    line: str
    result: CommandResult
    started: float
    output_sent: bool = False
    parts_sent: int = 0
    done_sent: bool = False
    stdin: bytes = b""


@dataclass
class _Shell:
    id: str
    owner: str
    codepage: str | None = None
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    commands: dict[str, _Command] = field(default_factory=dict)


class _Fault(Exception):
    def __init__(self, *, code: str, subcode: str, reason: str, wsman_code: int, status=500):
        super().__init__(reason)
        self.code, self.subcode, self.reason = code, subcode, reason
        self.wsman_code, self.status = wsman_code, status


def _new_id() -> str:
    return str(uuid.uuid4()).upper()


def _cmd_not_found(name: str) -> CommandResult:
    return CommandResult(
        stderr=(
            f"'{name}' is not recognized as an internal or external command,\r\n"
            "operable program or batch file.\r\n"
        ).encode(),
        exit_code=1,
    )


def _clixml_error(message: str) -> bytes:
    """PowerShell's serialized error stream, as ``powershell -encodedcommand`` writes it: the
    ``#< CLIXML`` line, then one ``Objs`` document with the progress record PowerShell emits
    while it loads modules (noise) and one ``S="Error"`` string per line of the message."""
    lines = "".join(
        f'<S S="Error">{_clixml_escape(line)}_x000D__x000A_</S>' for line in message.split("\n")
    )
    return (
        b"#< CLIXML\r\n"
        b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
        b'</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record">'
        b"<AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
        b"<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>" + lines.encode() + b"</Objs>"
    )


def _clixml_escape(text: str) -> str:
    return escape(text).replace("\r", "_x000D_").replace("\t", "_x0009_")


class WinRMTestServer:
    """A WS-Management server on 127.0.0.1 for pywinrm. Use as a context manager or start/stop.

    ``auth``: the authentication schemes accepted, any of ``"basic"`` and ``"ntlm"`` (NTLM is
    offered as ``Negotiate``, as Windows does, and then requires message encryption over HTTP).
    ``tls``: serve HTTPS with a freshly generated self-signed certificate (``ca_cert_path``).
    ``command_handler``: consulted first for every command line (as sent, including any
    ``set "NAME=value"&&`` prefixes); return ``None`` to fall back to the built-in commands.
    ``delay``: seconds to wait before answering each request (all of them, or only those whose
    action is in ``delay_actions``) — a slow or hung WinRM service for timeout tests.
    """

    def __init__(
        self,
        *,
        username: str = "opsadmin",
        password: str = "Winrm-Test-Pass-1!",
        computer_name: str = "WIN-OPSTEST01",
        auth: Iterable[str] = ("basic",),
        tls: bool = False,
        command_handler: CommandHandler | None = None,
        delay: float = 0.0,
        delay_actions: Iterable[str] | None = None,
    ):
        self.username = username
        self.password = password
        self.computer_name = computer_name
        self.auth = tuple(a.lower() for a in auth)
        unknown = set(self.auth) - {"basic", "ntlm"}
        if unknown:
            raise ValueError(f"unsupported auth schemes for the test server: {sorted(unknown)}")
        self.tls = tls
        self.command_handler = command_handler
        self.delay = delay
        self.delay_actions = frozenset(delay_actions) if delay_actions is not None else None
        self.host = "127.0.0.1"
        self.port = 0
        self.ca_cert_path: Path | None = None
        self.tls_handshake_failures = 0
        self._requests: list[LoggedRequest] = []
        self._shells: dict[str, _Shell] = {}
        self._terminated: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._workdir: tempfile.TemporaryDirectory | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._ntlm_env: _NtlmUserFile | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> WinRMTestServer:
        self._workdir = tempfile.TemporaryDirectory(prefix="winrm-test-server-")
        workdir = Path(self._workdir.name)
        if self.tls:
            self._ssl_context = self._make_tls_context(workdir)
        if "ntlm" in self.auth:
            self._ntlm_env = _NtlmUserFile.acquire(workdir, self.username, self.password)
        self._httpd = _HTTPServer((self.host, 0), _Handler, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"winrm-test-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._ntlm_env is not None:
            self._ntlm_env.release()
            self._ntlm_env = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> WinRMTestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- what tests look at --------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/wsman"

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._requests)

    def actions(self) -> list[str]:
        return [r.action for r in self.requests if r.action]

    def commands_run(self) -> list[str]:
        return [r.command_line for r in self.requests if r.action == "Command" and r.status == 200]

    def credentials_sent(self) -> bool:
        """Whether any request carried an Authorization header."""
        return any(r.auth_scheme for r in self.requests)

    def open_shells(self) -> list[str]:
        with self._lock:
            return list(self._shells)

    def terminated_commands(self) -> list[str]:
        """Command lines that got a terminate Signal while they were still running (a Signal
        after Done, as pywinrm sends to clean up, is not a termination)."""
        with self._lock:
            return list(self._terminated)

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()
            self._terminated.clear()

    # -- internals -----------------------------------------------------------------------------

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake up when the server stops (no thread outlives the fixture for long)."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def _make_tls_context(self, workdir: Path) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.computer_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_path, key_path = workdir / "server.crt", workdir / "server.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.ca_cert_path = cert_path
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context

    # -- WS-Management -------------------------------------------------------------------------

    def _dispatch(self, envelope: ET.Element, owner: str, info: dict) -> str:
        header = envelope.find("s:Header", NS)
        body = envelope.find("s:Body", NS)
        if header is None or body is None:
            raise _Fault(
                code="s:Sender",
                subcode="w:SchemaValidationError",
                reason="The SOAP XML in the message does not match the corresponding XML schema.",
                wsman_code=FAULT_SCHEMA,
                status=400,
            )
        action_uri = (header.findtext("a:Action", default="", namespaces=NS) or "").strip()
        message_id = (header.findtext("a:MessageID", default="", namespaces=NS) or "").strip()
        resource_uri = (header.findtext("w:ResourceURI", default="", namespaces=NS) or "").strip()
        selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        shell_id = (selector.text or "").strip() if selector is not None else None
        action = ACTIONS.get(action_uri)
        info["action"] = action or action_uri or None
        info["shell_id"] = shell_id
        if action is None:
            raise _Fault(
                code="s:Sender",
                subcode="a:ActionNotSupported",
                reason=f"The WS-Management service cannot process the request. The action "
                f"{action_uri or '(none)'} is not supported by the service.",
                wsman_code=FAULT_ACTION_NOT_SUPPORTED,
            )
        if resource_uri != CMD_SHELL_URI:
            raise _Fault(
                code="s:Sender",
                subcode="w:DestinationUnreachable",
                reason="The WS-Management service cannot process the request. The resource URI "
                f"{resource_uri or '(none)'} is not supported by this test server.",
                wsman_code=FAULT_INVALID_RESOURCE,
            )
        operation_timeout = _parse_duration(
            header.findtext("w:OperationTimeout", default="", namespaces=NS)
        )
        handler = getattr(self, f"_do_{action.lower()}")
        response_action, response_body = handler(
            header=header,
            body=body,
            shell_id=shell_id,
            owner=owner,
            info=info,
            operation_timeout=operation_timeout,
        )
        return _envelope(action=response_action, relates_to=message_id, body=response_body)

    def _shell(self, shell_id: str | None, owner: str) -> _Shell:
        shell = self._shells.get(shell_id or "")
        if shell is None or shell.owner != owner:
            raise _Fault(
                code="s:Sender",
                subcode="w:InvalidSelectors",
                reason=f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
                "because the shell was not found on the server. Possible causes are: the "
                "specified ShellId is incorrect or the shell no longer exists on the server.",
                wsman_code=FAULT_SHELL_NOT_FOUND,
            )
        return shell

    def _command(self, shell: _Shell, command_id: str | None) -> _Command:
        command = shell.commands.get(command_id or "")
        if command is None:
            raise _Fault(
                code="s:Sender",
                subcode="w:InvalidSelectors",
                reason=f"The request for the command with CommandId {command_id} failed because "
                "the command was not found in the shell.",
                wsman_code=FAULT_SHELL_NOT_FOUND,
            )
        return command

    def _do_create(self, *, header, body, owner, info, **_):
        shell_el = body.find("rsp:Shell", NS)
        if shell_el is None:
            raise _Fault(
                code="s:Sender",
                subcode="w:SchemaValidationError",
                reason="Create of a shell needs an rsp:Shell body.",
                wsman_code=FAULT_SCHEMA,
            )
        options = {
            opt.get("Name"): (opt.text or "") for opt in header.findall("w:OptionSet/w:Option", NS)
        }
        shell = _Shell(
            id=_new_id(),
            owner=owner,
            codepage=options.get("WINRS_CODEPAGE"),
            working_directory=shell_el.findtext("rsp:WorkingDirectory", namespaces=NS),
            environment={
                var.get("Name", ""): var.text or ""
                for var in shell_el.findall("rsp:Environment/rsp:Variable", NS)
            },
        )
        with self._lock:
            self._shells[shell.id] = shell
        info["shell_id"] = shell.id
        address = f"{self.scheme}://{self.host}:{self.port}/wsman"
        response = (
            "<x:ResourceCreated>"
            f"<a:Address>{escape(address)}</a:Address>"
            "<a:ReferenceParameters>"
            f"<w:ResourceURI>{CMD_SHELL_URI}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>"
            "</x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{CMD_SHELL_URI}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(owner)}</rsp:Owner>"
            "<rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>"
        )
        return TRANSFER_NS + "/CreateResponse", response

    def _do_command(self, *, body, shell_id, owner, info, **_):
        with self._lock:
            shell = self._shell(shell_id, owner)
        line_el = body.find("rsp:CommandLine", NS)
        if line_el is None:
            raise _Fault(
                code="s:Sender",
                subcode="w:SchemaValidationError",
                reason="Command needs an rsp:CommandLine body.",
                wsman_code=FAULT_SCHEMA,
            )
        command = line_el.findtext("rsp:Command", default="", namespaces=NS) or ""
        arguments = [a.text or "" for a in line_el.findall("rsp:Arguments", NS)]
        command_line = " ".join([command.strip(), *arguments]).strip()
        info["command_line"] = command_line
        with self._lock:
            environment = dict(shell.environment)
        result = self._execute(command_line, environment)
        entry = _Command(id=_new_id(), line=command_line, result=result, started=time.monotonic())
        with self._lock:
            shell.commands[entry.id] = entry
        info["command_id"] = entry.id
        response = (
            f"<rsp:CommandResponse><rsp:CommandId>{entry.id}</rsp:CommandId></rsp:CommandResponse>"
        )
        return SHELL_NS + "/CommandResponse", response

    def _do_receive(self, *, body, shell_id, owner, info, operation_timeout, **_):
        stream = body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = stream.get("CommandId") if stream is not None else None
        info["command_id"] = command_id
        with self._lock:
            command = self._command(self._shell(shell_id, owner), command_id)
        result, cid = command.result, command.id
        parts = sorted(result.parts, key=lambda part: part[0])
        ends_at = command.started + result.ends_after
        limit = time.monotonic() + (operation_timeout if operation_timeout is not None else 60.0)
        while True:
            now = time.monotonic()
            due = [p for p in parts[command.parts_sent :] if command.started + p[0] <= now]
            if due or now >= ends_at:
                break
            pending = [command.started + p[0] for p in parts[command.parts_sent :]]
            wake = min([*pending, ends_at, limit])
            if now >= limit or self._stopping.is_set():
                raise _Fault(
                    code="s:Receiver",
                    subcode="w:TimedOut",
                    reason="The WS-Management service cannot complete the operation within the "
                    "time specified in OperationTimeout.",
                    wsman_code=FAULT_OPERATION_TIMEOUT,
                )
            self._wait(wake - now)

        def stream_element(name: str, data: bytes) -> str:
            encoded = base64.b64encode(data).decode("ascii")
            return f'<rsp:Stream Name="{name}" CommandId="{cid}">{encoded}</rsp:Stream>'

        elements = []
        if due:
            # Output produced while the command runs: sent at once, the command still Running.
            command.parts_sent += len(due)
            elements += [stream_element(name, data) for _, name, data in due if data]
            elements.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>')
        elif not command.output_sent and (result.stdout or result.stderr):
            # Deliver output first, with the command still Running: the client must poll again.
            command.output_sent = True
            for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
                if data:
                    elements.append(stream_element(name, data))
            elements.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>')
        else:
            command.output_sent = command.done_sent = True
            elements.append(f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>')
            elements.append(f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>')
            elements.append(
                f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                f"<rsp:ExitCode>{result.exit_code}</rsp:ExitCode></rsp:CommandState>"
            )
        return SHELL_NS + "/ReceiveResponse", (
            "<rsp:ReceiveResponse>" + "".join(elements) + "</rsp:ReceiveResponse>"
        )

    def _do_send(self, *, body, shell_id, owner, info, **_):
        stream = body.find("rsp:Send/rsp:Stream", NS)
        command_id = stream.get("CommandId") if stream is not None else None
        info["command_id"] = command_id
        with self._lock:
            command = self._command(self._shell(shell_id, owner), command_id)
            if stream is not None and stream.text:
                command.stdin += base64.b64decode(stream.text)
        return SHELL_NS + "/SendResponse", "<rsp:SendResponse/>"

    def _do_signal(self, *, body, shell_id, owner, info, **_):
        signal = body.find("rsp:Signal", NS)
        command_id = signal.get("CommandId") if signal is not None else None
        code = signal.findtext("rsp:Code", default="", namespaces=NS) if signal is not None else ""
        info["command_id"] = command_id
        info["signal"] = code.rsplit("/", 1)[-1] or None
        with self._lock:
            shell = self._shell(shell_id, owner)
            command = self._command(shell, command_id)
            if code == SIGNAL_TERMINATE:
                shell.commands.pop(command_id, None)
                if not command.done_sent:
                    self._terminated.append(command.line)
        return SHELL_NS + "/SignalResponse", "<rsp:SignalResponse/>"

    def _do_delete(self, *, shell_id, owner, **_):
        with self._lock:
            self._shell(shell_id, owner)
            del self._shells[shell_id]
        return TRANSFER_NS + "/DeleteResponse", ""

    # -- the fake "host" -----------------------------------------------------------------------

    def _execute(
        self, command_line: str, environment: dict[str, str] | None = None
    ) -> CommandResult:
        if self.command_handler is not None:
            result = self.command_handler(command_line)
            if result is not None:
                return result
        env: dict[str, str] = {}
        for name, value in {
            "COMPUTERNAME": self.computer_name,
            "USERNAME": self.username,
            **(environment or {}),
        }.items():
            _setenv(env, name, value)
        return self._cmd(command_line, env)

    def _cmd(self, command_line: str, env: dict[str, str]) -> CommandResult:
        # `set "NAME=value"&& rest`: the variable is set for what runs after it (no %NAME%
        # expansion here; cmd.exe would expand those when it reads the line, before the set)
        while match := _SET_PREFIX.match(command_line):
            _setenv(env, match.group(1), match.group(2))
            command_line = match.group(3)
        words = command_line.split(maxsplit=1)
        if not words:
            return CommandResult()
        program, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
        if program in ("powershell", "powershell.exe"):
            return self._powershell(rest, env)
        if program in ("cmd", "cmd.exe") and rest.lower().startswith("/c "):
            return self._cmd(rest[3:], env)
        if program in ("hostname", "hostname.exe") and not rest:
            return CommandResult(stdout=f"{self.computer_name}\r\n".encode())
        if program in ("whoami", "whoami.exe") and not rest:
            who = f"{self.computer_name}\\{self.username}".lower()
            return CommandResult(stdout=f"{who}\r\n".encode())
        if program == "echo":
            return CommandResult(stdout=f"{rest}\r\n".encode())
        if program == "set" and rest.strip():
            # `set NAME` lists the variables whose names start with NAME, as cmd.exe does
            prefix = rest.strip().lower()
            found = [f"{n}={v}\r\n" for n, v in sorted(env.items()) if n.lower().startswith(prefix)]
            if not found:
                return CommandResult(
                    stderr=f"Environment variable {rest.strip()} not defined\r\n".encode(),
                    exit_code=1,
                )
            return CommandResult(stdout="".join(found).encode())
        if program == "exit":
            try:
                return CommandResult(exit_code=int(rest or "0"))
            except ValueError:
                return CommandResult(exit_code=0)
        return _cmd_not_found(words[0])

    def _powershell(self, arguments: str, env: dict[str, str]) -> CommandResult:
        match = re.match(
            r"(?i)(?:-(?:noprofile|nop|noninteractive|noni|nologo)\s+)*"
            r"-(?:encodedcommand|enc|e|ec)\s+(\S+)\s*$",
            arguments,
        )
        if not match:
            return CommandResult(
                stderr=b"This test server runs PowerShell only through -EncodedCommand.\r\n",
                exit_code=1,
            )
        try:
            script = base64.b64decode(match.group(1), validate=True).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError):
            return CommandResult(
                stderr=b"Cannot process the command because the value specified with "
                b"-EncodedCommand is not properly encoded.\r\n",
                exit_code=1,
            )
        return self._run_script(script, dict(env))

    def _run_script(self, script: str, env: dict[str, str]) -> CommandResult:
        """A very small PowerShell: one statement per line or ``;`` (outside quotes), a fixed
        vocabulary. Output appears at the time its statement runs (after the ``Start-Sleep``s
        before it), so a script that sleeps between writes streams; the error stream comes as
        CLIXML at the end."""
        parts: list[tuple[float, str, bytes]] = []
        errors: list[str] = []
        now = 0.0
        exit_code: int | None = None

        def write(text: str) -> None:
            line = f"{text}\r\n".encode()
            if parts and parts[-1][0] == now:
                parts[-1] = (now, "stdout", parts[-1][2] + line)
            else:
                parts.append((now, "stdout", line))

        for statement in _ps_statements(script):
            if statement.startswith("#"):
                continue
            lowered = statement.lower()
            assign = re.fullmatch(r"(?is)\$env:(\w+)\s*=\s*(.+)", statement)
            if assign:
                value = _ps_value(assign.group(2), env)
                if value is None:
                    errors.append(f"cannot evaluate {assign.group(2)!r} in this test server")
                else:
                    _setenv(env, assign.group(1), value)
                continue
            if re.fullmatch(r"(?i)\$env:\w+", statement):
                value = _ps_value(statement, env)
                if value:
                    write(value)
                continue
            if lowered in ("hostname", "[environment]::machinename"):
                write(self.computer_name)
                continue
            if lowered.startswith(("write-output ", "write-host ", "echo ")):
                argument = statement.split(maxsplit=1)[1]
                value = _ps_value(argument, env)
                write(value if value is not None else _unquote(argument))
                continue
            if lowered.startswith("write-error "):
                argument = statement.split(maxsplit=1)[1]
                value = _ps_value(argument, env)
                errors.append(value if value is not None else _unquote(argument))
                continue
            sleep_match = re.fullmatch(r"start-sleep\s+(?:-s(?:econds)?\s+)?([\d.]+)", lowered)
            if sleep_match:
                now += float(sleep_match.group(1))
                continue
            exit_match = re.fullmatch(r"exit(?:\s+(-?\d+))?", lowered)
            if exit_match:
                exit_code = int(exit_match.group(1) or 0)
                break
            name = statement.split()[0]
            errors.append(
                f"{name} : The term '{name}' is not recognized as the name of a cmdlet, "
                "function, script file, or operable program."
            )
        stderr = _clixml_error("\n".join(errors)) if errors else b""
        if exit_code is None:
            exit_code = 1 if errors else 0
        return CommandResult(stderr=stderr, exit_code=exit_code, duration=now, parts=tuple(parts))


_SET_PREFIX = re.compile(r'(?is)set "([^"=]+)=([^"]*)"&&\s*(.*)\Z')
# PowerShell treats all of these as single quotes (and a doubled one as a literal quote).
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def _setenv(env: dict[str, str], name: str, value: str) -> None:
    """Windows' environment names are case-insensitive."""
    for existing in [n for n in env if n.lower() == name.lower()]:
        del env[existing]
    env[name] = value


def _ps_statements(script: str) -> list[str]:
    """Split on ``;`` and line ends that are outside single- or double-quoted strings."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(script):
        char = script[index]
        if quote is not None:
            current.append(char)
            closes = char in _PS_SINGLE_QUOTES if quote == "'" else char == '"'
            if closes:
                following = script[index + 1 : index + 2]
                doubled = following in _PS_SINGLE_QUOTES if quote == "'" else following == '"'
                if following and doubled:
                    current.append(following)
                    index += 1
                else:
                    quote = None
        elif char in _PS_SINGLE_QUOTES:
            quote = "'"
            current.append(char)
        elif char == '"':
            quote = '"'
            current.append(char)
        elif char in ";\r\n":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _ps_value(text: str, env: dict[str, str]) -> str | None:
    """The value of a single-quoted literal or of ``$env:NAME`` (``""`` when unset); ``None``
    for anything else."""
    text = text.strip()
    env_ref = re.fullmatch(r"(?i)\$env:(\w+)", text)
    if env_ref:
        name = env_ref.group(1).lower()
        return next((v for n, v in env.items() if n.lower() == name), "")
    if len(text) >= 2 and text[0] in _PS_SINGLE_QUOTES and text[-1] in _PS_SINGLE_QUOTES:
        inner = text[1:-1]
        value: list[str] = []
        index = 0
        while index < len(inner):
            char = inner[index]
            if char in _PS_SINGLE_QUOTES:
                if inner[index + 1 : index + 2] and inner[index + 1] in _PS_SINGLE_QUOTES:
                    value.append(inner[index + 1])
                    index += 2
                    continue
                return None  # a lone quote inside: not one literal
            value.append(char)
            index += 1
        return "".join(value)
    return None


def _unquote(text: str) -> str:
    try:
        parts = shlex.split(text)
    except ValueError:
        return text
    return " ".join(parts)


def _parse_duration(text: str | None) -> float | None:
    """``PT20S`` / ``PT1.5S`` / ``PT1M`` (the xs:duration forms WS-Management clients send)."""
    match = re.fullmatch(r"PT(?:(\d+)M)?(?:([\d.]+)S)?", (text or "").strip())
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def _envelope(*, action: str, relates_to: str, body: str) -> str:
    return (
        '<s:Envelope xml:lang="en-US"'
        f' xmlns:s="{SOAP_NS}" xmlns:a="{ADDRESSING_NS}" xmlns:x="{TRANSFER_NS}"'
        f' xmlns:w="{WSMAN_NS}" xmlns:rsp="{SHELL_NS}"'
        ' xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{_new_id()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    )


def _fault_envelope(fault: _Fault, relates_to: str, machine: str) -> str:
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.code}</s:Value>"
        f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{WSMANFAULT_NS}" Code="{fault.wsman_code}"'
        f" Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>"
        "</s:Detail>"
        "</s:Fault>"
    )
    return _envelope(
        action="http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
        relates_to=relates_to,
        body=body,
    )


class _NtlmUserFile:
    """pyspnego's NTLM acceptor reads users from the file named by ``NTLM_USER_FILE``.

    That is process-wide state, so only one NTLM-enabled server may run at a time.
    """

    _lock = threading.Lock()
    _active = False

    def __init__(self, previous: str | None):
        self.previous = previous

    @classmethod
    def acquire(cls, workdir: Path, username: str, password: str) -> _NtlmUserFile:
        with cls._lock:
            if cls._active:
                raise RuntimeError("only one NTLM-enabled WinRM test server can run at a time")
            cls._active = True
        path = workdir / "ntlm_users"
        domain, _, user = username.rpartition("\\")
        path.write_text(f"{domain}:{user}:{password}\n")
        path.chmod(0o600)
        holder = cls(os.environ.get("NTLM_USER_FILE"))
        os.environ["NTLM_USER_FILE"] = str(path)
        return holder

    def release(self) -> None:
        if self.previous is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = self.previous
        with self._lock:
            type(self)._active = False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # socketserver's 5 drops SYNs when many probes connect at once

    def __init__(self, address, handler, app: WinRMTestServer):
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.app._ssl_context is not None:
            sock = self.app._ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        with self.connections_lock:
            self.connections.add(sock)
        return sock, address

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            sockets = list(self.connections)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):
        pass  # a client that went away (timeout tests) is expected, not worth a traceback


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    server: _HTTPServer

    def setup(self):
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK costs ~40 ms per request.
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                with self.server.app._lock:
                    self.server.app.tls_handshake_failures += 1
                raise
        super().setup()
        self.ntlm_context = None  # per connection
        self.ntlm_user: str | None = None

    def log_message(self, format, *args):
        pass  # never echo requests (or their headers) to stderr

    @property
    def app(self) -> WinRMTestServer:
        return self.server.app

    def _begin(self, method: str) -> None:
        self._info: dict = {}
        self._entry: dict | None = {
            "method": method,
            "path": self.path,
            "auth_scheme": None,
            "username": None,
            "authenticated": False,
        }

    def do_GET(self):
        self._begin("GET")
        self._plain(405, b"")  # WS-Management is POST only

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        self._begin("POST")
        try:
            self._handle(raw_body, self._info, self._entry)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client went away (a timeout test): expected

    def _record_request(self, status: int) -> None:
        """Log the request once, before its answer goes out (so a test never races the log)."""
        entry, info = getattr(self, "_entry", None), getattr(self, "_info", {})
        if entry is None:
            return
        self._entry = None
        self.app._record(
            LoggedRequest(
                status=status,
                action=info.get("action"),
                shell_id=info.get("shell_id"),
                command_id=info.get("command_id"),
                command_line=info.get("command_line"),
                fault=info.get("fault"),
                signal=info.get("signal"),
                encrypted=info.get("encrypted", False),
                **entry,
            )
        )

    def _handle(self, raw_body: bytes, info: dict, entry: dict) -> int:
        app = self.app
        if app.delay and app.delay_actions is None:
            app._wait(app.delay)  # a slow or hung service: not even the 401 comes quickly
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            return self._plain(404, b"")

        owner = self._authenticate(entry)
        if owner is None:
            return self._last_status

        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        info["encrypted"] = encrypted
        if self.ntlm_context is not None and not raw_body:
            return self._plain(200, b"")  # the empty POST pywinrm sends to set up encryption
        if self.ntlm_context is not None and not encrypted and not app.tls:
            # Windows' default (AllowUnencrypted=false): over HTTP the body must be encrypted.
            return self._plain(400, b"")
        if encrypted:
            if self.ntlm_context is None:
                return self._plain(400, b"")
            try:
                raw_body = _ntlm_unwrap(self.ntlm_context, raw_body)
            except Exception:
                return self._plain(400, b"")
        elif not content_type.lower().startswith("application/soap+xml"):
            return self._plain(415, b"")

        message_id = ""
        try:
            envelope = ET.fromstring(raw_body)
            message_id = (
                envelope.findtext("s:Header/a:MessageID", default="", namespaces=NS) or ""
            ).strip()
            if app.delay and app.delay_actions and _peek_action(envelope, app):
                app._wait(app.delay)
            reply = app._dispatch(envelope, owner, info)
            status = 200
        except ET.ParseError:
            fault = _Fault(
                code="s:Sender",
                subcode="w:SchemaValidationError",
                reason="The WS-Management service cannot process the request because the XML "
                "is invalid.",
                wsman_code=FAULT_SCHEMA,
                status=400,
            )
            info["fault"] = fault.subcode
            reply, status = _fault_envelope(fault, message_id, app.computer_name), fault.status
        except _Fault as fault:
            info["fault"] = fault.subcode
            reply, status = _fault_envelope(fault, message_id, app.computer_name), fault.status
        if app._stopping.is_set():
            self.close_connection = True
        return self._soap(status, reply.encode("utf-8"))

    def _authenticate(self, entry: dict) -> str | None:
        """The authenticated user name, or ``None`` after answering 401."""
        app = self.app
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if header:
            entry["auth_scheme"] = scheme
        if not header and self.ntlm_context is not None and self.ntlm_user:
            entry.update(username=self.ntlm_user, authenticated=True)
            return self.ntlm_user
        if scheme.lower() == "basic" and "basic" in app.auth:
            try:
                user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            entry["username"] = user
            if hmac.compare_digest(user.lower().encode(), app.username.lower().encode()) and (
                hmac.compare_digest(password.encode(), app.password.encode())
            ):
                entry["authenticated"] = True
                return user
        elif scheme.lower() in ("negotiate", "ntlm") and "ntlm" in app.auth:
            return self._ntlm_step(scheme, token, entry)
        self._unauthorized()
        return None

    def _ntlm_step(self, scheme: str, token: str, entry: dict) -> str | None:
        import spnego

        if self.ntlm_context is None or self.ntlm_user:
            self.ntlm_context = spnego.server(
                protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm
            )
            self.ntlm_user = None
        try:
            out = self.ntlm_context.step(base64.b64decode(token))
        except Exception:
            self.ntlm_context = None
            self._unauthorized()
            return None
        if not self.ntlm_context.complete:
            challenge = base64.b64encode(out or b"").decode()
            self._last_status = self._send(
                401, b"", [("WWW-Authenticate", f"{scheme} {challenge}")]
            )
            return None
        principal = self.ntlm_context.client_principal or ""
        self.ntlm_user = principal.rpartition("\\")[2]
        entry.update(username=self.ntlm_user, authenticated=True)
        return self.ntlm_user

    def _unauthorized(self) -> None:
        headers = []
        if "ntlm" in self.app.auth:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if "basic" in self.app.auth:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._last_status = self._send(401, b"", headers)

    def _plain(self, status: int, body: bytes) -> int:
        return self._send(status, body, [])

    def _soap(self, status: int, body: bytes) -> int:
        if self.ntlm_context is not None and self.ntlm_user and not self.app.tls:
            payload = _ntlm_wrap(self.ntlm_context, body)
            content_type = (
                f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
            )
            return self._send(status, payload, [("Content-Type", content_type)])
        return self._send(status, body, [("Content-Type", SOAP_CONTENT_TYPE)])

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> int:
        self._record_request(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()
        self._last_status = status
        return status


def _peek_action(envelope: ET.Element, app: WinRMTestServer) -> bool:
    action = (envelope.findtext("s:Header/a:Action", default="", namespaces=NS) or "").strip()
    return ACTIONS.get(action, action) in (app.delay_actions or ())


def _ntlm_unwrap(context, payload: bytes) -> bytes:
    """Decrypt an MS-WSMV ``multipart/encrypted`` body (2.2.9.1.1, SPNEGO/NTLM)."""
    parts = [p for p in payload.split(MIME_BOUNDARY + b"\r\n") if p]
    message = b""
    for header, data in zip(parts[0::2], parts[1::2], strict=False):
        expected = int(header.split(b"Length=")[1].strip())
        if data.endswith(MIME_BOUNDARY + b"--\r\n"):
            data = data[: -len(MIME_BOUNDARY + b"--\r\n")]
        data = data.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        signature_length = struct.unpack("<i", data[:4])[0]
        signature = data[4 : 4 + signature_length]
        sealed = data[4 + signature_length :]
        plain = context.unwrap(signature + sealed).data
        if len(plain) != expected:
            raise ValueError("decrypted length does not match OriginalContent")
        message += plain
    return message


def _ntlm_wrap(context, message: bytes) -> bytes:
    wrapped = context.wrap(message, encrypt=True).data
    signature, sealed = wrapped[:16], wrapped[16:]
    return (
        MIME_BOUNDARY + b"\r\n"
        b"\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode()
        + b"\r\n"
        + MIME_BOUNDARY
        + b"\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + struct.pack("<i", len(signature))
        + signature
        + sealed
        + MIME_BOUNDARY
        + b"--\r\n"
    )
