"""A circuit breaker in front of the legacy backend, one per backend URL and web process.

- **closed**: requests go through; each connect failure or timeout adds one to a run of
  consecutive failures, any answer from the backend (whatever its status) ends the run.
- **open** after ``LEGACY_BRIDGE_BREAKER_FAILURES`` consecutive failures: requests are answered
  503 at once, without touching the backend, for ``LEGACY_BRIDGE_BREAKER_COOLDOWN_SECONDS``.
- **half-open** after the cool-down: one trial request goes through (the others still get 503);
  its success closes the breaker, its failure opens it for another cool-down.

State is shared by the threads of a process (a lock) and not between processes: each web
process finds out about a dead backend by itself, after N failures of its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerState:
    state: str
    consecutive_failures: int
    retry_in_seconds: float  # until the next trial request is allowed (0 when closed)
    opened_count: int  # times it opened since the process started


class CircuitBreaker:
    def __init__(self, *, failures: int, cooldown: float, clock=time.monotonic):
        self.failures = max(1, failures)
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._opened_count = 0

    def allow(self) -> bool:
        """Whether a request may go to the backend now (a trial when half-open)."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown:
                self._state = HALF_OPEN
            if self._state == HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._consecutive = 0
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._state == HALF_OPEN or self._consecutive >= self.failures:
                if self._state != OPEN:
                    self._opened_count += 1
                self._state = OPEN
                self._opened_at = self._clock()
            self._trial_running = False

    def release_trial(self) -> None:
        """A trial that ended without telling anything about the backend (the client left)."""
        with self._lock:
            self._trial_running = False

    def snapshot(self) -> BreakerState:
        with self._lock:
            state = self._state
            retry_in = 0.0
            if state == OPEN:
                retry_in = max(0.0, self.cooldown - (self._clock() - self._opened_at))
                if retry_in == 0.0:
                    state = HALF_OPEN
            return BreakerState(
                state=state,
                consecutive_failures=self._consecutive,
                retry_in_seconds=retry_in,
                opened_count=self._opened_count,
            )


_breakers: dict[tuple[str, int, float], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(backend_url: str) -> CircuitBreaker:
    """This process's breaker for ``backend_url`` (a new one when the settings change)."""
    key = (
        backend_url,
        settings.LEGACY_BRIDGE_BREAKER_FAILURES,
        settings.LEGACY_BRIDGE_BREAKER_COOLDOWN_SECONDS,
    )
    with _breakers_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = CircuitBreaker(failures=key[1], cooldown=key[2])
        return breaker


def reset_breakers() -> None:
    with _breakers_lock:
        _breakers.clear()
