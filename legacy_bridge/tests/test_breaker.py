"""The circuit breaker's states on a clock the test moves, and with threads racing for the
half-open trial."""

from __future__ import annotations

import threading

from legacy_bridge.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_consecutive_failures_only():
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # an answer ends the run of failures
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow() and breaker.snapshot().state == CLOSED
    breaker.record_failure()
    assert breaker.snapshot().state == OPEN
    assert not breaker.allow()
    assert breaker.snapshot().retry_in_seconds == 10
    clock.now += 4
    assert breaker.snapshot().retry_in_seconds == 6


def test_half_open_lets_exactly_one_trial_through_among_racing_threads():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.snapshot().state == HALF_OPEN
    allowed = []
    barrier = threading.Barrier(16)

    def ask():
        barrier.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 1


def test_failed_trial_reopens_for_a_full_cooldown_and_a_good_one_closes():
    clock = Clock()
    breaker = CircuitBreaker(failures=2, cooldown=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()  # the trial
    breaker.record_failure()
    assert breaker.snapshot().state == OPEN
    assert breaker.snapshot().opened_count == 2
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    breaker.record_success()
    assert breaker.snapshot().state == CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_trial_the_client_abandoned_frees_the_slot():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow()
    assert not breaker.allow()
    breaker.release_trial()
    assert breaker.allow()
