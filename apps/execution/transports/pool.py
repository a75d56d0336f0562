"""A per-worker pool of authenticated SSH sessions.

Sessions are keyed by what makes one reusable: the target, the connection method, the address,
the credential (a keyed hash of user and secrets, so a new credential version never reuses a
session opened with the old one) and the trusted host keys (a newly approved or revoked key
opens a fresh, re-verified session). An idle session is health-checked before reuse and closed
after ``idle_timeout`` by ``prune()``, and at once when the same target is next asked for
under a new credential or host-key decision (the old session can never be used again). At
most ``max_per_key`` sessions (busy + idle) exist per key; further ``acquire`` calls wait for
one to be released.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from apps.execution.transports.ssh import SshSession, TransportError, open_ssh_session
from apps.targets.interface import ConnectionParams

# Process-local: the credential part of a key can be compared within this worker but is
# useless to anyone who sees a key (a log, a debugger) without the process memory.
_KEY_SECRET = secrets.token_bytes(32)


class PoolExhausted(TransportError):
    """No session for this key became free within the wait timeout."""


@dataclass(frozen=True)
class PoolKey:
    target_id: uuid.UUID
    method_id: uuid.UUID
    address: str
    credential: str = field(repr=False)
    host_keys: tuple[str, ...]
    host_key_policy: str
    # The credential's scope as of now: a changed scope (or a target now outside it) never
    # reuses a session opened before; the new dial is checked (ssh_connect.connect_tcp).
    scope: object = None


def pool_key(params: ConnectionParams) -> PoolKey:
    material = "\x00".join(
        [
            params.username,
            params.credential_kind or "",
            params.password.reveal() or "",
            params.private_key.reveal() or "",
            params.passphrase.reveal() or "",
        ]
    )
    credential = hmac.new(_KEY_SECRET, material.encode(), hashlib.sha256).hexdigest()[:32]
    return PoolKey(
        target_id=params.target_id,
        method_id=params.method_id,
        address=params.address,
        credential=credential,
        host_keys=tuple(
            sorted(
                f"{k.fingerprint}:{'trusted' if k.trusted else ''}"
                f"{':rejected' if k.rejected else ''}"
                for k in params.known_host_keys
            )
        ),
        host_key_policy=params.host_key_policy,
        scope=params.scope,
    )


@dataclass
class PoolStats:
    opened: int = 0  # handshakes paid
    reused: int = 0  # acquisitions served by an idle session
    closed: int = 0  # sessions closed (idle, dead, surplus, close_all)
    dead: int = 0  # idle sessions found dead at health check
    reconnected: int = 0  # checked-out sessions found dead when a step started, reconnected


@dataclass
class _Bucket:
    idle: list[SshSession] = field(default_factory=list)
    busy: int = 0  # checked out, or being opened


class SshPool:
    """Thread-safe pool of ``SshSession``; one per worker process."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        auth_timeout: float = 10.0,
        idle_timeout: float = 300.0,
        max_per_key: int = 4,
        wait_timeout: float = 60.0,
        health_timeout: float = 3.0,
        opener: Callable[..., SshSession] = open_ssh_session,
    ):
        self.connect_timeout = connect_timeout
        self.auth_timeout = auth_timeout
        self.idle_timeout = idle_timeout
        self.max_per_key = max_per_key
        self.wait_timeout = wait_timeout
        self.health_timeout = health_timeout
        self._opener = opener
        self._buckets: dict[PoolKey, _Bucket] = {}
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self.stats = PoolStats()

    def __repr__(self) -> str:
        return f"<SshPool keys={len(self._buckets)} stats={self.stats}>"

    @contextlib.contextmanager
    def acquire(self, params: ConnectionParams) -> Iterator[SshSession]:
        """A live session for ``params``, exclusively for the ``with`` block; returned to the
        pool afterwards (closed instead if it broke). Raises what ``open_ssh_session`` raises,
        or ``PoolExhausted``."""
        key = pool_key(params)
        session = self._checkout(key, params)
        broken = False
        try:
            yield session
        except BaseException:
            broken = not session.is_alive(self.health_timeout)
            raise
        finally:
            self._checkin(key, session, broken=broken)

    def _checkout(self, key: PoolKey, params: ConnectionParams) -> SshSession:
        self._close_superseded(key)
        end = time.monotonic() + self.wait_timeout
        while True:
            candidate: SshSession | None = None
            with self._lock:
                bucket = self._buckets.setdefault(key, _Bucket())
                if bucket.idle:
                    candidate = bucket.idle.pop()  # most recently used: the likeliest alive
                    bucket.busy += 1
                elif bucket.busy < self.max_per_key:
                    bucket.busy += 1
                else:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        raise PoolExhausted(
                            f"all {self.max_per_key} sessions to {params.address} stayed busy "
                            f"for {self.wait_timeout:g}s"
                        )
                    self._freed.wait(remaining)
                    continue
            if candidate is not None:
                if candidate.is_alive(self.health_timeout):
                    with self._lock:
                        self.stats.reused += 1
                    candidate.reopen = functools.partial(self._reopen, params)
                    return candidate
                candidate.close()
                with self._lock:
                    self.stats.dead += 1
                    self.stats.closed += 1
                # fall through: open a fresh one in the slot we hold
            try:
                session = self._opener(
                    params, connect_timeout=self.connect_timeout, auth_timeout=self.auth_timeout
                )
            except BaseException:
                with self._lock:
                    bucket.busy -= 1
                    self._freed.notify()
                raise
            with self._lock:
                self.stats.opened += 1
            session.reopen = functools.partial(self._reopen, params)
            return session

    def _reopen(self, params: ConnectionParams) -> SshSession:
        """A fresh connection for a checked-out session whose own one died (it adopts it)."""
        session = self._opener(
            params, connect_timeout=self.connect_timeout, auth_timeout=self.auth_timeout
        )
        with self._lock:
            self.stats.opened += 1
            self.stats.reconnected += 1
        return session

    def _close_superseded(self, key: PoolKey) -> None:
        """Close the idle sessions of ``key``'s target opened under another credential, host
        key decision or address: they will never be used again."""
        victims: list[SshSession] = []
        with self._lock:
            for other, bucket in self._buckets.items():
                if other.target_id == key.target_id and other != key and bucket.idle:
                    victims.extend(bucket.idle)
                    bucket.idle = []
            self.stats.closed += len(victims)
        for session in victims:
            session.close()

    def _checkin(self, key: PoolKey, session: SshSession, *, broken: bool) -> None:
        drop = broken or session.closed
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket())
            bucket.busy -= 1
            if not drop:
                session.last_used = time.monotonic()
                bucket.idle.append(session)
            else:
                self.stats.closed += 1
            self._freed.notify()
        if drop:
            session.close()

    def prune(self) -> int:
        """Close sessions idle longer than ``idle_timeout`` or no longer connected; how many."""
        now = time.monotonic()
        victims: list[SshSession] = []
        with self._lock:
            for key, bucket in list(self._buckets.items()):
                keep = []
                for session in bucket.idle:
                    expired = now - session.last_used > self.idle_timeout
                    if expired or session.closed:
                        victims.append(session)
                    else:
                        keep.append(session)
                bucket.idle = keep
                if not bucket.idle and not bucket.busy:
                    del self._buckets[key]
            self.stats.closed += len(victims)
        for session in victims:
            session.close()
        return len(victims)

    def discard_target(self, target_id: uuid.UUID) -> int:
        """Close the idle sessions of a target (its credential or host key changed)."""
        victims: list[SshSession] = []
        with self._lock:
            for key, bucket in self._buckets.items():
                if key.target_id == target_id:
                    victims.extend(bucket.idle)
                    bucket.idle = []
            self.stats.closed += len(victims)
        for session in victims:
            session.close()
        return len(victims)

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(b.idle) for b in self._buckets.values())

    def close_all(self) -> None:
        """Close every idle session (busy ones are closed when they come back broken or by the
        next ``prune``/``close_all``)."""
        with self._lock:
            victims = [s for b in self._buckets.values() for s in b.idle]
            for bucket in self._buckets.values():
                bucket.idle = []
            self.stats.closed += len(victims)
        for session in victims:
            session.close()
