"""SSH sessions for running steps: commands, scripts on stdin, SFTP uploads.

An ``SshSession`` is one authenticated paramiko ``Transport``; each command gets its own
channel, so a session can be reused for many steps (see ``pool.py``). The host key is judged
with ``host_key_verdict`` after the key exchange and BEFORE any authentication request, exactly
like the targets app's probe: a host whose key is unknown (strict), changed or rejected never
sees the user name or the credential (never AutoAddPolicy).

What the host sees: every step is started with one fixed command line, ``printf <pid marker>;
exec sh -s``; the step itself (environment exports, the working directory, then the command in a
``{ }`` group, or ``exec <interpreter>`` with the script as a quoted here-document) travels on
the channel's stdin. So the host's process list shows ``sh -s`` (or ``bash -s``, ``python3
-``) and never a command, a script or a value, a secret one included (docs/execution.md,
"What the target can see").

Killing remote work: the wrapper first prints a marker line with its pid on stdout (stripped
before output is reported), then ``exec``s ``sh -s``. sshd starts a non-pty session as a
session and process-group leader, so that pid is the process group of everything the command
starts. On timeout or cancel a second channel sends SIGTERM (then SIGKILL) to that whole
group, and the channel is closed.

A stale session (the host's end died, e.g. sshd was restarted, and the pool's health check
did not catch it in time) fails when the step's channel is opened or its command line is
sent. The step cannot have started then (it travels on stdin, which was never sent), so the
session reconnects once (``reopen``, set by the pool) and tries again; a failure once the
step's stdin went out is never retried.

Secrets: messages of exceptions raised here never contain the password, key or passphrase
(they are scrubbed as a second line of defence), and nothing here logs them.
"""

from __future__ import annotations

import contextlib
import logging
import select
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

# Shared with the WinRM transport; imported here, so ``from ...ssh import CommandResult`` etc.
# keep working.
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
    Deadline,
    HostKeyVerdict,
    SshAuthFailed,
    SshConnectionBroke,
    SshProtocolError,
    SshUnreachable,
    authenticate,
    connect_tcp,
    describe_refusal,
    handshake,
    host_key_verdict,
    preferred_algorithms,
    scrub,
    server_key,
)

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
_READ_SIZE = 32768
_POLL_SECONDS = 0.1
_KILL_GRACE_SECONDS = 2.0
_IDLE_WAKEUP_SECONDS = 1.0
_PID_GRACE_SECONDS = 2.0  # how long a cancel waits for the wrapper's pid line to arrive
_PID_MARKER = b"__OC_PID__:"
_MARKER_SEARCH_BYTES = 65536  # login-shell noise tolerated before the marker line
INTERPRETERS = {
    "sh": "sh -s",
    "bash": "bash -s",
    "python3": "python3 -",
    "python": "python3 -",
}


@dataclass(frozen=True)
class PresentedHostKey:
    algorithm: str
    public_key: str  # base64 blob, as in known_hosts
    fingerprint: str  # SHA256:...


class HostKeyRefused(TransportError):
    """The host presented a key that is unknown (strict policy), changed or rejected.

    Nothing (no user name, no credential) was sent to the host.
    """

    def __init__(self, message: str, *, verdict: HostKeyVerdict, host_key: PresentedHostKey):
        super().__init__(message)
        self.message = message
        self.verdict = verdict
        self.host_key = host_key


def open_ssh_session(
    params: ConnectionParams,
    *,
    connect_timeout: float,
    auth_timeout: float,
    keepalive: int = KEEPALIVE_SECONDS,
) -> SshSession:
    """Connect, check the host key, authenticate; an ``SshSession`` ready for commands.

    Raises ``ScopeRefused`` (the credential may not be used there; nothing was dialled),
    ``Unreachable`` (DNS/TCP/handshake, within ``connect_timeout``),
    ``HostKeyRefused`` (nothing was sent to the host) or ``AuthFailed``. A verdict of
    ``TRUST_ON_FIRST_USE`` proceeds; the caller records ``session.host_key`` as trusted.
    """
    deadline = Deadline(connect_timeout)
    try:
        sock = connect_tcp(params.host, params.port, deadline, scope=params.scope)
        transport = handshake(sock, params.address, deadline, preferred_algorithms(params))
    except CredentialOutOfScope as exc:  # nothing was sent to the host
        raise ScopeRefused(exc) from None
    except (SshUnreachable, SshProtocolError) as exc:
        raise Unreachable(scrub(str(exc), params)) from None
    try:
        algorithm, public_key, fingerprint = server_key(transport)
        presented = PresentedHostKey(
            algorithm=algorithm, public_key=public_key, fingerprint=fingerprint
        )
        verdict = host_key_verdict(
            policy=params.host_key_policy,
            known=params.known_host_keys,
            algorithm=presented.algorithm,
            public_key=presented.public_key,
        )
        if verdict not in (HostKeyVerdict.TRUSTED, HostKeyVerdict.TRUST_ON_FIRST_USE):
            raise HostKeyRefused(
                describe_refusal(params, verdict, presented.fingerprint),
                verdict=verdict,
                host_key=presented,
            )
        transport.auth_timeout = auth_timeout
        try:
            authenticate(transport, params)
        except SshAuthFailed as exc:
            raise AuthFailed(scrub(str(exc), params)) from None
        except SshConnectionBroke as exc:
            raise Unreachable(scrub(str(exc), params)) from None
        if keepalive:
            transport.set_keepalive(keepalive)
        # paramiko's reader thread wakes up every 0.1 s (its socket timeout) to look at its own
        # state; a worker holding hundreds of pooled sessions then spends its CPU and the GIL
        # on those wake-ups. Once authenticated, once a second is plenty (keepalives are 15 s).
        with contextlib.suppress(OSError):
            transport.sock.settimeout(_IDLE_WAKEUP_SECONDS)
        return SshSession(transport, params, host_key=presented, host_key_verdict=verdict)
    except BaseException:
        transport.close()
        raise


# The only command line the host ever sees (the login shell parses it, then becomes ``sh -s``):
# report our pid, then read everything else (environment, directory, the step) from stdin.
WIRE_COMMAND = f"printf '{_PID_MARKER.decode()}%s\\n' \"$$\"; exec sh -s"


def _preamble(env: dict[str, str] | None, workdir: str = "") -> str:
    """What ``sh -s`` reads first on stdin: export ``env``, change to ``workdir`` (failing the
    step if it cannot)."""
    lines = []
    for name, value in (env or {}).items():
        check_env_name(name)
        lines.append(f"export {name}={shlex.quote(str(value))}\n")
    if workdir:
        lines.append(f"cd -- {shlex.quote(workdir)} || exit 1\n")
    return "".join(lines)


def _command_stdin(command: str, env: dict[str, str] | None, workdir: str = "") -> bytes:
    """A command step as ``sh -s`` reads it: the preamble, then the command in a ``{ }`` group
    with stdin from /dev/null (the shell parses the whole group before running it, so the
    command cannot read its own text, and it sees an empty stdin as with ``sh -c``)."""
    return f"{_preamble(env, workdir)}{{\n{command}\n}} </dev/null\n".encode()


def _script_stdin(inner: str, body: str, env: dict[str, str] | None, workdir: str = "") -> bytes:
    """A script step as ``sh -s`` reads it: the preamble, then ``exec <interpreter>`` with the
    body as a quoted here-document (no expansion) under a delimiter the body does not hold."""
    delimiter = f"OC_SCRIPT_{uuid.uuid4().hex}"
    while delimiter in body:  # pragma: no cover - 128 random bits
        delimiter = f"OC_SCRIPT_{uuid.uuid4().hex}"
    text = body if body.endswith("\n") or not body else body + "\n"
    return f"{_preamble(env, workdir)}exec {inner} <<'{delimiter}'\n{text}{delimiter}\n".encode()


def _split_pid_marker(head: bytes) -> tuple[int | None, bytes]:
    """``(pid, output)`` once the wrapper's marker line is in ``head`` (what the login shell
    printed before it, e.g. from a chatty ``.bashrc``, is kept as output); ``(None, b"")`` while
    it may still come; ``(0, head)`` when it will not (the pid is then unknown)."""
    start = 0 if head.startswith(_PID_MARKER) else head.find(b"\n" + _PID_MARKER) + 1
    if start > 0 or head.startswith(_PID_MARKER):
        end = head.find(b"\n", start)
        if end < 0:
            return (None, b"") if len(head) < _MARKER_SEARCH_BYTES else (0, head)
        digits = head[start + len(_PID_MARKER) : end]
        pid = int(digits) if digits.isdigit() else 0
        return pid, head[:start] + head[end + 1 :]
    if len(head) >= _MARKER_SEARCH_BYTES:
        return 0, head
    return None, b""


def _kill_script(pid: int) -> str:
    return (
        f"P={pid}; pkill -TERM -g $P 2>/dev/null || kill -TERM -- -$P 2>/dev/null; i=0; "
        f"while [ $i -lt 20 ]; do pgrep -g $P >/dev/null 2>&1 || exit 0; sleep 0.1; "
        f"i=$((i+1)); done; pkill -KILL -g $P 2>/dev/null || kill -KILL -- -$P 2>/dev/null; "
        f"exit 0"
    )


class SshSession(Session):
    """One authenticated SSH connection; one channel per command. Thread-safe for use by one
    step at a time (the pool hands it out exclusively)."""

    def __init__(
        self,
        transport: paramiko.Transport,
        params: ConnectionParams,
        *,
        host_key: PresentedHostKey,
        host_key_verdict: HostKeyVerdict,
    ):
        super().__init__(params)
        self._transport = transport
        self.host_key = host_key
        self.host_key_verdict = host_key_verdict
        # opens a fresh session to the same target (the pool sets it): used once per step when
        # this one turns out dead before the step started
        self.reopen: Callable[[], SshSession] | None = None
        self.reconnects = 0

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<SshSession {self._params.username}@{self.address} "
            f"target={self._params.target_name!r} {state}>"
        )

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):  # closing a broken transport must not raise
            self._transport.close()

    def is_alive(self, timeout: float = 3.0) -> bool:
        """Transport up and authenticated, and the host answers a channel open in ``timeout``."""
        if self.closed or not self._transport.is_active():
            return False
        if not self._transport.is_authenticated():
            return False
        try:
            channel = self._transport.open_session(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError):
            return False
        channel.close()
        return True

    # -- commands ---------------------------------------------------------------------------

    def run_command(
        self,
        command: str,
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        workdir: str = "",
        on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run ``command`` with ``sh`` (started through the login shell); stream output
        chunks to ``on_output(stream, chunk)`` as they arrive (``"stdout"``/``"stderr"``, in
        order within a stream; the two streams are not ordered relative to each other).

        The command, ``env`` and ``workdir`` travel on the channel's stdin to ``sh -s``: the
        host's process list shows ``sh -s``, never the command or a value (a secret rendered
        into it). The command's own stdin is empty (``/dev/null``).

        On ``timeout`` seconds or ``cancel`` being set the remote process group is killed and
        the channel closed. Raises ``ConnectionLost`` when the session breaks."""
        return self._run(
            WIRE_COMMAND, _command_stdin(command, env, workdir), timeout, on_output, cancel
        )

    def run_script(
        self,
        body: str,
        interpreter: str = "sh",
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        workdir: str = "",
        on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run ``body`` with ``interpreter`` (``sh``, ``bash``, ``python3``), delivered on stdin
        (with ``env`` and ``workdir``) so neither the body nor a value ever appears in a command
        line. Same streaming/timeout/cancel as ``run_command``."""
        inner = INTERPRETERS.get(interpreter)
        if inner is None:
            raise ValueError(f"unsupported interpreter {interpreter!r} ({', '.join(INTERPRETERS)})")
        stdin = _script_stdin(inner, body, env, workdir)
        return self._run(WIRE_COMMAND, stdin, timeout, on_output, cancel)

    def _open_channel(self) -> paramiko.Channel:
        try:
            return self._transport.open_session(timeout=10)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectionLost(
                f"the session to {self.address} is gone ({type(exc).__name__})"
            ) from None

    def _start(self, wire_command: str) -> paramiko.Channel:
        """A channel running ``wire_command``. When the connection turns out dead before that
        (nothing of the step was sent yet), reconnect once and try again."""
        for attempt in (1, 2):
            channel: paramiko.Channel | None = None
            try:
                channel = self._open_channel()
                channel.exec_command(wire_command)
                return channel
            except (ConnectionLost, paramiko.SSHException, EOFError, OSError) as exc:
                if channel is not None:
                    channel.close()
                failure = (
                    exc
                    if isinstance(exc, ConnectionLost)
                    else ConnectionLost(
                        f"could not start the command on {self.address} ({type(exc).__name__})"
                    )
                )
                if attempt == 2 or self.reopen is None or self.closed:  # closed on purpose
                    raise failure from None
            self._reconnect(failure)
        raise AssertionError("unreachable")  # pragma: no cover

    def _reconnect(self, failure: ConnectionLost) -> None:
        """Replace the dead connection with a fresh one to the same target (same host-key
        checks and credential). ``HostKeyRefused`` as it is; any other failure to connect is a
        ``ConnectionLost`` saying both."""
        assert self.reopen is not None
        logger.info("the session to %s is gone; reconnecting once", self.address)
        try:
            fresh = self.reopen()
        except HostKeyRefused:
            raise
        except TransportError as exc:
            raise ConnectionLost(f"{failure}; reconnecting failed: {exc}") from None
        with contextlib.suppress(Exception):
            self._transport.close()
        self._transport = fresh._transport
        self.host_key, self.host_key_verdict = fresh.host_key, fresh.host_key_verdict
        self.reconnects += 1

    def _run(
        self,
        wire_command: str,
        stdin: bytes | None,
        timeout: float,
        on_output: OutputCallback | None,
        cancel: threading.Event | None,
    ) -> CommandResult:
        self.last_used = time.monotonic()
        started = time.monotonic()
        deliver = on_output or (lambda stream, chunk: None)
        channel = self._start(wire_command)
        sender: threading.Thread | None = None
        pid: int | None = None
        head = b""  # stdout until the pid marker line has been seen
        timed_out = canceled = False
        pid_grace_end = 0.0
        try:
            if stdin is not None:
                sender = threading.Thread(
                    target=self._send_stdin, args=(channel, stdin), daemon=True
                )
                sender.start()
            else:
                channel.shutdown_write()
            deadline = started + timeout
            channel.setblocking(False)
            # poll, not select: a worker holding hundreds of sessions has fds above 1024
            poller = select.poll()
            poller.register(channel.fileno(), select.POLLIN)
            while True:
                got = False
                while channel.recv_ready():
                    chunk = channel.recv(_READ_SIZE)
                    if not chunk:
                        break
                    got = True
                    if pid is None:
                        head += chunk
                        pid, chunk = _split_pid_marker(head)
                        if pid is None:
                            continue
                        head = b""
                    if chunk:
                        deliver(STDOUT, chunk)
                while channel.recv_stderr_ready():
                    chunk = channel.recv_stderr(_READ_SIZE)
                    if not chunk:
                        break
                    got = True
                    deliver(STDERR, chunk)
                if got:
                    continue
                if not self._transport.is_active() and channel.exit_status < 0:
                    raise ConnectionLost(
                        f"the connection to {self.address} broke while the command ran"
                    )
                if channel.exit_status_ready() and (channel.eof_received or channel.closed):
                    break
                if channel.closed:
                    raise ConnectionLost(
                        f"the channel to {self.address} closed before the command ended"
                    )
                now = time.monotonic()
                if not (canceled or timed_out):
                    if cancel is not None and cancel.is_set():
                        canceled = True
                    elif now >= deadline:
                        timed_out = True
                    if canceled or timed_out:
                        pid_grace_end = now + _PID_GRACE_SECONDS
                if canceled or timed_out:
                    # to kill the process group we need its pid, which may still be in flight
                    if pid is not None or now >= pid_grace_end:
                        break
                    wait = _POLL_SECONDS / 4
                else:
                    wait = min(_POLL_SECONDS, deadline - now)
                poller.poll(wait * 1000)
                # the pipe behind fileno() stays readable while data is buffered; the loop
                # above drains it, and paramiko clears it when the buffers are empty
            if head and pid is None:
                deliver(STDOUT, head)
            if timed_out or canceled:
                self._kill(pid)
                return CommandResult(
                    exit_code=None,
                    timed_out=timed_out,
                    canceled=canceled,
                    duration_ms=round((time.monotonic() - started) * 1000),
                )
            code = channel.recv_exit_status()
            return CommandResult(
                exit_code=code if code >= 0 else None,
                timed_out=False,
                canceled=False,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
        except BaseException:
            # the consumer failed (on_output raised), or the session broke: leave nothing
            # running on the host if we can still reach it
            if not channel.exit_status_ready() and self._transport.is_active():
                self._kill(pid)
            raise
        finally:
            channel.close()
            self.last_used = time.monotonic()

    @staticmethod
    def _send_stdin(channel: paramiko.Channel, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                if channel.closed:
                    return
                if not channel.send_ready():
                    time.sleep(0.01)
                    continue
                sent = channel.send(view[:_READ_SIZE])
                view = view[sent:]
            channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException, TimeoutError):
            pass

    def _kill(self, pid: int | None) -> None:
        """SIGTERM then SIGKILL the remote process group ``pid`` (over a new channel)."""
        if not pid:
            logger.warning("no remote pid for a command on %s; only closing it", self.address)
            return
        try:
            channel = self._transport.open_session(timeout=5)
        except (paramiko.SSHException, EOFError, OSError):
            logger.warning("could not open a channel to kill pid %s on %s", pid, self.address)
            return
        try:
            channel.settimeout(_KILL_GRACE_SECONDS + 5)
            channel.exec_command(_kill_script(pid))
            channel.recv_exit_status()
        except (paramiko.SSHException, EOFError, OSError, TimeoutError):
            logger.warning("killing pid %s on %s did not confirm", pid, self.address)
        finally:
            channel.close()

    # -- files ------------------------------------------------------------------------------

    def upload(self, content: bytes, path: str, mode: int = 0o644) -> None:
        """Write ``content`` to ``path`` via SFTP: a temporary name beside it, chmod ``mode``,
        then an atomic rename over ``path``."""
        self.last_used = time.monotonic()
        directory, _, name = path.rpartition("/")
        temp = (
            f"{directory}/.{name}.oc-{uuid.uuid4().hex[:12]}"
            if directory
            else (f".{name}.oc-{uuid.uuid4().hex[:12]}")
        )
        try:
            sftp = paramiko.SFTPClient.from_transport(self._transport)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectionLost(
                f"could not open SFTP on {self.address} ({type(exc).__name__})"
            ) from None
        if sftp is None:
            raise ConnectionLost(f"could not open SFTP on {self.address}")
        try:
            try:
                with sftp.open(temp, "wb") as handle:
                    handle.set_pipelined(True)
                    handle.write(content)
                sftp.chmod(temp, mode)
                sftp.posix_rename(temp, path)
            except BaseException as exc:
                with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
                    sftp.remove(temp)
                if isinstance(exc, OSError | paramiko.SSHException | EOFError):
                    raise TransportError(f"upload to {self.address}:{path} failed: {exc}") from None
                raise
        finally:
            sftp.close()
        self.last_used = time.monotonic()
