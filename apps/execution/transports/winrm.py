"""WinRM sessions for running steps on Windows targets: cmd commands, PowerShell commands and
scripts, with streamed output, timeouts and cancellation.

A ``WinrmSession`` is one Windows Remote Shell (WS-Management ``Create``) opened through one
pywinrm ``Protocol``, built by the same rules as the targets app's health probe (transport,
scheme, certificate validation, private CA, no proxy from the environment). Each command is a
``Command`` in that shell; its output is read with repeated ``Receive`` requests, each answered
as soon as the command writes something, or after the WS-Management ``OperationTimeout`` with
Windows' timeout fault, which just means "nothing yet: ask again". Every chunk goes to
``on_output`` as it arrives. A finished command gets the ``terminate`` Signal that pywinrm also
sends to release it; ``close()`` deletes the shell.

What runs on the host:

- ``shell="cmd"``: the command line as given; Windows runs it through ``cmd.exe /c``.
  Environment variables become ``set "NAME=value"&&`` prefixes: the programs the line starts see
  them, but ``%NAME%`` written in the same line is expanded by cmd.exe when it reads the line,
  before the ``set`` ran (cmd's rule). Values holding ``"``, ``%`` or a line break are refused:
  cmd has no way to quote them there; use PowerShell for those.
- PowerShell (``shell="powershell"`` and ``run_script``): ``powershell -NoProfile
  -NonInteractive -EncodedCommand <base64 of the UTF-16LE script>``, so the script never appears
  as plain text in a command line. Environment variables are ``$env:NAME = '...'`` statements
  put before the script. The command line passes through cmd.exe, whose limit of 8191
  characters caps a script at about 3000 characters (``ValueError`` beyond that).
- PowerShell writes its error, warning and progress streams to stderr as CLIXML (``#< CLIXML``
  and serialized records) when its output is redirected. When a command's stderr starts with
  that marker it is cleaned the way pywinrm's ``run_ps`` does it: progress records are dropped,
  the text of the error (and warning, verbose...) strings is kept; what cannot be parsed is
  passed on as it came.

Timeouts and cancellation: between two Receive requests the session checks ``cancel`` and the
deadline; a Receive waits at most ``operation_timeout`` seconds on the host (less when the
deadline is nearer). On timeout or cancel the command gets the ``terminate`` Signal, which makes
Windows end its process, and ``CommandResult(exit_code=None, timed_out=..., canceled=...)`` is
returned. So a timeout is honoured within about a second, a cancel within ``operation_timeout``
plus one round trip. (Windows' documentation does not promise that processes the command
started itself end with it; deleting the shell in ``close()`` ends whatever the shell started.)

Failures: ``Unreachable`` (no TCP, TLS, HTTP or WinRM service at the endpoint, or no answer
within ``connect_timeout``), ``AuthFailed`` (credentials rejected or missing), ``ConnectionLost``
(the connection broke, the host stopped answering, or the shell vanished while a command ran;
the session is then unusable), ``TransportError`` for the rest. Messages name the endpoint and
never contain the password (they are also scrubbed of it); nothing here logs a secret.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import re
import threading
import time
import xml.etree.ElementTree as ET

import requests
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from apps.execution.transports.base import (
    STDERR,
    STDOUT,
    AuthFailed,
    CommandResult,
    ConnectionLost,
    OutputCallback,
    ScopeRefused,
    Session,
    TransportError,
    Unreachable,
    check_env_name,
)
from apps.targets.interface import (
    ConnectionParams,
    CredentialOutOfScope,
    scrub,
    tls_failure_reason,
    winrm_endpoint,
    winrm_protocol,
)

logger = logging.getLogger(__name__)

SHELLS = ("cmd", "powershell")
INTERPRETERS = ("powershell",)
POWERSHELL = "powershell -NoProfile -NonInteractive -EncodedCommand "
CMD_LINE_LIMIT = 8191  # cmd.exe's longest command line; WinRM runs commands through cmd /c
CODEPAGE_UTF8 = 65001  # the shell's console code page: output comes as UTF-8
FAULT_SHELL_NOT_FOUND = 2150858843  # WSManFault: no shell (or command) with that id
_MESSAGE_LIMIT = 300
# PowerShell takes all of these as a single quote; inside '...' each is escaped by doubling it
_PS_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
_CMD_UNSAFE = re.compile(r'["%\r\n\x00]')
_CLIXML_MARKER = b"#< CLIXML"
_CLIXML_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# what the answer parsers of pywinrm raise on an answer that is not what they expect
_MALFORMED = (ET.ParseError, StopIteration, AssertionError, KeyError, ValueError, TypeError)


def open_winrm_session(
    params: ConnectionParams, *, connect_timeout: float, operation_timeout: float = 5
) -> WinrmSession:
    """Open a Windows Remote Shell on the target; a ``WinrmSession`` ready for commands.

    ``connect_timeout`` bounds each request of the set-up (TCP, TLS, the NTLM handshake, the
    shell's creation). ``operation_timeout`` (whole seconds, at least 1) is how long a Receive
    may wait on the host for output: it bounds how late a cancel is noticed.

    Raises ``Unreachable`` (connection, TLS, HTTP or WinRM-level failure, or no answer within
    ``connect_timeout``; with certificate validation on, an untrusted certificate fails before
    any credential is sent), ``AuthFailed`` (rejected or missing credentials) or
    ``TransportError`` (a method this worker cannot use)."""
    operation = max(1, math.ceil(operation_timeout))
    if not params.username or not params.password:
        raise AuthFailed(
            f"no username/password is set for the WinRM method of {params.target_name}: "
            "attach a WinRM credential"
        )
    try:
        protocol = winrm_protocol(params, read_timeout=operation + 1)
    except CredentialOutOfScope as exc:  # checked before any request: nothing was sent
        raise ScopeRefused(exc) from None
    except ValueError as exc:
        raise TransportError(scrub(str(exc), params)) from None
    except WinRMError as exc:
        raise TransportError(scrub(f"WinRM client set-up failed: {exc}", params)) from None
    endpoint = winrm_endpoint(params)
    protocol.transport.read_timeout_sec = connect_timeout
    try:
        shell_id = protocol.open_shell(codepage=CODEPAGE_UTF8)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            protocol.transport.close_session()
        if not isinstance(exc, Exception):
            raise
        raise _open_failure(exc, params, endpoint, connect_timeout) from None
    return WinrmSession(
        protocol,
        shell_id,
        params,
        endpoint=endpoint,
        connect_timeout=connect_timeout,
        operation_timeout=operation,
    )


def _open_failure(
    exc: Exception, params: ConnectionParams, endpoint: str, connect_timeout: float
) -> TransportError:
    def fail(kind: type[TransportError], message: str) -> TransportError:
        return kind(scrub(message, params))

    if isinstance(exc, AuthenticationError):
        return fail(
            AuthFailed,
            f"WinRM at {endpoint} rejected the credentials of {params.username!r} (transport "
            f"{params.winrm_transport}); check the username and password, and that the "
            f"{params.winrm_transport} transport is enabled on the host",
        )
    if isinstance(exc, UnicodeError):
        # the exception's text would quote part of the secret: not shown
        return fail(
            AuthFailed,
            f"the WinRM credential for {params.address} cannot be encoded for the "
            f"{params.winrm_transport} transport (characters it cannot carry)",
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return fail(
            Unreachable,
            f"TLS with {endpoint} failed: {tls_failure_reason(exc)}; no credential was sent",
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return fail(Unreachable, f"WinRM at {endpoint} did not answer within {connect_timeout:g}s")
    if isinstance(exc, requests.exceptions.RequestException):
        return fail(Unreachable, f"connection to {endpoint} failed: {_connection_reason(exc)}")
    if isinstance(exc, WSManFaultError):
        return fail(Unreachable, f"WinRM at {endpoint} refused to open a shell: {_fault(exc)}")
    if isinstance(exc, WinRMTransportError):
        hint = " (is this a WinRM endpoint?)" if exc.code in (404, 405, 415) else ""
        return fail(Unreachable, f"WinRM at {endpoint} answered HTTP {exc.code}{hint}")
    if isinstance(exc, WinRMError):
        if "is not installed" in str(exc):  # kerberos / credssp without their libraries
            return fail(
                TransportError,
                f"the {params.winrm_transport} transport cannot be used by this worker: {exc}",
            )
        return fail(Unreachable, f"WinRM error with {endpoint}: {_short(str(exc))}")
    if isinstance(exc, _MALFORMED):
        return fail(Unreachable, f"{endpoint} did not answer like a WinRM service")
    return fail(
        TransportError,
        f"unexpected error opening a WinRM shell on {endpoint}: {type(exc).__name__}",
    )


class WinrmSession(Session):
    """One Windows Remote Shell on a target; one WS-Management command per step. For one step
    at a time (a pool hands it out exclusively): a pywinrm protocol is not thread-safe."""

    def __init__(
        self,
        protocol,
        shell_id: str,
        params: ConnectionParams,
        *,
        endpoint: str,
        connect_timeout: float,
        operation_timeout: int,
    ):
        super().__init__(params)
        self._protocol = protocol
        self._shell_id = shell_id
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.operation_timeout = operation_timeout
        self.broken = False  # the connection failed: is_alive() is False from now on

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("broken" if self.broken else "open")
        return (
            f"<WinrmSession {self._params.username}@{self.endpoint} "
            f"target={self._params.target_name!r} {state}>"
        )

    def close(self) -> None:
        """Delete the shell on the host (ending what it still runs) and drop the connection.
        Never raises; at most ``connect_timeout`` seconds when the host does not answer."""
        if self.closed:
            return
        self.closed = True
        try:
            if not self.broken:
                self._protocol.transport.read_timeout_sec = self.connect_timeout
                self._protocol.close_shell(self._shell_id, close_session=False)
        except Exception as exc:  # closing must not raise; the shell times out on the host
            logger.info(
                "could not delete the WinRM shell on %s (%s)", self.address, type(exc).__name__
            )
        finally:
            with contextlib.suppress(Exception):
                self._protocol.transport.close_session()

    def is_alive(self, timeout: float = 3.0) -> bool:
        """The shell answers: a trivial command (``exit 0``) completes within ``timeout``."""
        if self.closed or self.broken:
            return False
        try:
            result = self._run("exit 0", timeout, None, None, answer_timeout=timeout)
        except TransportError:
            return False
        return result.exit_code == 0

    # -- commands ---------------------------------------------------------------------------

    def run_command(
        self,
        command: str,
        *,
        shell: str = "cmd",
        timeout: float,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run ``command`` with ``cmd`` (as a ``cmd.exe`` line) or ``powershell`` (as a
        PowerShell script, encoded); stream output chunks to ``on_output(stream, chunk)`` as
        they arrive (``"stdout"``/``"stderr"``, in order within a stream).

        On ``timeout`` seconds or ``cancel`` being set the command is terminated on the host.
        Raises ``ValueError`` for an unknown shell, a bad environment variable name or value,
        or a script too long for a command line; ``ConnectionLost`` when the session breaks."""
        if shell == "cmd":
            line = _cmd_line(command, env)
        elif shell == "powershell":
            line = _powershell_line(command, env)
        else:
            raise ValueError(f"unsupported shell {shell!r} ({', '.join(SHELLS)})")
        return self._run(line, timeout, on_output, cancel)

    def run_script(
        self,
        body: str,
        interpreter: str = "powershell",
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run the script ``body`` with ``interpreter`` (``powershell``); it travels base64
        encoded (``-EncodedCommand``), never as plain text in a command line. Same streaming,
        timeout and cancel as ``run_command``."""
        if interpreter not in INTERPRETERS:
            raise ValueError(f"unsupported interpreter {interpreter!r} ({', '.join(INTERPRETERS)})")
        return self._run(_powershell_line(body, env), timeout, on_output, cancel)

    def _run(
        self,
        line: str,
        timeout: float,
        on_output: OutputCallback | None,
        cancel: threading.Event | None,
        *,
        answer_timeout: float | None = None,
    ) -> CommandResult:
        if self.closed:
            raise TransportError(f"the WinRM session to {self.address} is closed")
        if self.broken:
            raise ConnectionLost(f"the WinRM session to {self.address} is gone")
        started = time.monotonic()
        self.last_used = started
        deadline = started + timeout
        # how long the host may take to answer a request beyond what it is asked to wait
        grace = self.connect_timeout if answer_timeout is None else answer_timeout
        deliver = on_output or (lambda stream, chunk: None)
        stderr = _StderrCleaner()
        transport = self._protocol.transport
        try:
            transport.read_timeout_sec = grace
            command_id = self._protocol.run_command(self._shell_id, line)
        except Exception as exc:
            raise self._failure(exc, "could not start the command") from None
        timed_out = canceled = False
        exit_code: int | None = None
        failure: Exception | None = None
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    canceled = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                wait = max(1, min(self.operation_timeout, math.ceil(left)))
                self._protocol.operation_timeout_sec = wait
                transport.read_timeout_sec = wait + grace
                try:
                    out, err, code, done = self._protocol.get_command_output_raw(
                        self._shell_id, command_id
                    )
                except WinRMOperationTimeoutError:
                    continue  # nothing written within the wait: ask again
                except Exception as exc:
                    failure = exc
                    break
                if out:
                    deliver(STDOUT, out)
                if err and (cleaned := stderr.feed(err)):
                    deliver(STDERR, cleaned)
                if done:
                    exit_code = code
                    break
            if rest := stderr.flush():  # an unfinished CLIXML document, as it came
                deliver(STDERR, rest)
        except BaseException:
            # the consumer failed (on_output raised): leave nothing running on the host
            self._signal_terminate(command_id)
            raise
        finally:
            self._protocol.operation_timeout_sec = self.operation_timeout
            self.last_used = time.monotonic()
        # a finished command is released with the terminate Signal (as pywinrm does), a running
        # one (timeout, cancel, a failed Receive) is terminated by it
        if failure is not None and _is_session_failure(failure):
            self.broken = True  # nothing more can be sent; the Signal is not attempted
        self._signal_terminate(command_id)
        if failure is not None:
            raise self._failure(failure, "the command's output could not be read")
        self.last_used = time.monotonic()
        return CommandResult(
            exit_code=exit_code,
            timed_out=timed_out,
            canceled=canceled,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def _signal_terminate(self, command_id: str) -> None:
        """Send the terminate Signal for ``command_id`` (best effort, within connect_timeout)."""
        if self.broken:
            return
        try:
            self._protocol.transport.read_timeout_sec = self.connect_timeout
            self._protocol.cleanup_command(self._shell_id, command_id)
        except Exception as exc:
            if _is_session_failure(exc):
                self.broken = True
            logger.warning(
                "could not signal a WinRM command on %s to terminate (%s)",
                self.address,
                type(exc).__name__,
            )

    def _failure(self, exc: Exception, doing: str) -> TransportError:
        """The exception to raise for ``exc`` met while ``doing``; marks the session broken
        when it cannot be used any more."""
        where = f"{self.endpoint} ({self._params.target_name})"
        if isinstance(exc, AuthenticationError):
            self.broken = True
            message, kind = (
                f"{doing}: WinRM at {where} no longer accepts the credentials",
                AuthFailed,
            )
        elif isinstance(exc, requests.exceptions.Timeout):
            self.broken = True
            message, kind = f"{doing}: WinRM at {where} stopped answering", ConnectionLost
        elif isinstance(exc, requests.exceptions.RequestException):
            self.broken = True
            message = f"{doing}: the connection to {where} broke ({_connection_reason(exc)})"
            kind = ConnectionLost
        elif isinstance(exc, WSManFaultError) and exc.wsman_fault_code == FAULT_SHELL_NOT_FOUND:
            self.broken = True
            message = (
                f"{doing}: the WinRM shell on {where} is gone (the service restarted or the "
                "shell expired)"
            )
            kind = ConnectionLost
        elif isinstance(exc, WSManFaultError):
            message, kind = f"{doing}: WinRM at {where} answered {_fault(exc)}", TransportError
        elif isinstance(exc, WinRMTransportError):
            message, kind = f"{doing}: WinRM at {where} answered HTTP {exc.code}", TransportError
        elif isinstance(exc, WinRMError):
            message, kind = f"{doing}: WinRM error with {where}: {_short(str(exc))}", TransportError
        elif isinstance(exc, _MALFORMED):
            message, kind = f"{doing}: {where} sent an answer that is not WinRM", TransportError
        else:
            message = f"{doing} on {where}: {type(exc).__name__}"
            kind = TransportError
        return kind(scrub(message, self._params))


def _is_session_failure(exc: Exception) -> bool:
    """Failures after which the connection (or the shell) cannot be used any more."""
    return isinstance(exc, requests.exceptions.RequestException | AuthenticationError) or (
        isinstance(exc, WSManFaultError) and exc.wsman_fault_code == FAULT_SHELL_NOT_FOUND
    )


# -- command lines ---------------------------------------------------------------------------


def _cmd_line(command: str, env: dict[str, str] | None) -> str:
    prefix = []
    for name, value in (env or {}).items():
        check_env_name(name)
        text = str(value)
        if _CMD_UNSAFE.search(text):
            raise ValueError(
                f"the value of {name} cannot be passed to cmd.exe (it holds a double quote, %, "
                "a line break or NUL): run the step with PowerShell"
            )
        prefix.append(f'set "{name}={text}"&&')
    line = "".join(prefix) + command
    if len(line) > CMD_LINE_LIMIT:
        raise ValueError(
            f"the command line is {len(line)} characters long; cmd.exe takes at most "
            f"{CMD_LINE_LIMIT}"
        )
    return line


def _ps_quote(value: str) -> str:
    return "'" + _PS_SINGLE_QUOTES.sub(r"\1\1", value) + "'"


def _powershell_line(script: str, env: dict[str, str] | None) -> str:
    statements = []
    for name, value in (env or {}).items():
        check_env_name(name)
        text = str(value)
        if "\x00" in text:
            raise ValueError(f"the value of {name} holds a NUL character")
        statements.append(f"$env:{name} = {_ps_quote(text)}")
    full = "\n".join([*statements, script]) if statements else script
    line = POWERSHELL + base64.b64encode(full.encode("utf-16-le")).decode("ascii")
    if len(line) > CMD_LINE_LIMIT:
        most = (CMD_LINE_LIMIT - len(POWERSHELL)) // 4 * 3 // 2
        raise ValueError(
            f"the PowerShell script is too long for a WinRM command line ({len(full)} "
            f"characters with its environment; at most about {most} fit)"
        )
    return line


# -- PowerShell's CLIXML on stderr -------------------------------------------------------------


class _StderrCleaner:
    """Turns a command's stderr into readable text when it is PowerShell's CLIXML.

    Decided on the first bytes: a stderr that does not start with ``#< CLIXML`` passes through
    untouched. Otherwise each ``<Objs>...</Objs>`` document is replaced, once complete (it may
    span several chunks), by the text of its ``S`` strings (error, warning, verbose...);
    progress records are dropped. A document that does not parse is passed on as it came."""

    def __init__(self) -> None:
        self._clixml: bool | None = None
        self._buffer = b""

    def feed(self, chunk: bytes) -> bytes:
        self._buffer += chunk
        if self._clixml is None:
            if len(self._buffer) < len(_CLIXML_MARKER) and _CLIXML_MARKER.startswith(self._buffer):
                return b""
            self._clixml = self._buffer.startswith(_CLIXML_MARKER)
        if not self._clixml:
            out, self._buffer = self._buffer, b""
            return out
        return self._drain(final=False)

    def flush(self) -> bytes:
        if not self._clixml:
            out, self._buffer = self._buffer, b""
            return out
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> bytes:
        out: list[bytes] = []
        while self._buffer:
            buffer = self._buffer
            if buffer.startswith(_CLIXML_MARKER):
                end = buffer.find(b"\n")
                if end < 0 and not final:
                    break
                self._buffer = buffer[end + 1 :] if end >= 0 else b""
                continue
            if buffer.startswith(b"<Objs"):
                close = buffer.find(b"</Objs>")
                if close < 0:
                    if final:
                        out.append(buffer)
                        self._buffer = b""
                    break
                document, self._buffer = buffer[: close + 7], buffer[close + 7 :]
                out.append(_clixml_text(document))
                continue
            # text between documents (line breaks, or something else): up to the next one
            starts = [i for i in (buffer.find(_CLIXML_MARKER), buffer.find(b"<Objs")) if i > 0]
            if starts:
                text, self._buffer = buffer[: min(starts)], buffer[min(starts) :]
            elif final:
                text, self._buffer = buffer, b""
            else:
                keep = _partial_tail(buffer)
                text, self._buffer = buffer[: len(buffer) - keep], buffer[len(buffer) - keep :]
                if not text:
                    break
            if text.strip():
                out.append(text)
        return b"".join(out)


def _partial_tail(buffer: bytes) -> int:
    """How many bytes at the end of ``buffer`` may be the start of a marker or a document."""
    for size in range(min(len(buffer), len(_CLIXML_MARKER) - 1), 0, -1):
        tail = buffer[-size:]
        if _CLIXML_MARKER.startswith(tail) or b"<Objs".startswith(tail):
            return size
    return 0


def _clixml_text(document: bytes) -> bytes:
    try:
        # the host's own output, parsed as pywinrm parses its answers: expat fetches no
        # external entities and (2.4.1+) refuses entity-expansion bombs
        root = ET.fromstring(document)  # noqa: S314
    except ET.ParseError:
        return document
    texts = [node.text for node in root if node.tag in (f"{_CLIXML_NS}S", "S") and node.text]
    text = _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), "".join(texts))
    # escaped UTF-16 surrogate pairs (characters beyond the BMP) become one character again
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.encode("utf-8", "replace")


# -- messages ----------------------------------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _fault(exc: WSManFaultError) -> str:
    code = f" (WSManFault {exc.wsman_fault_code})" if exc.wsman_fault_code else ""
    return f"a fault{code}: {_short(str(exc.reason))}"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for pattern in (r"Caused by \w+\('?(.*?)'?\)\)?$", r"\((.*)\)$"):
        match = re.search(pattern, text)
        if match:
            return _short(match.group(1))
    return _short(text) or type(exc).__name__
