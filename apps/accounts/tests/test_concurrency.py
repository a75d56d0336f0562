"""Invariants that must hold when two requests race (real PostgreSQL row locks)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from apps.accounts import services
from apps.accounts.factories import UserFactory
from apps.accounts.models import User
from opsconductor.events import SYSTEM
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls):
    """Run the calls in threads started together; returns each one's result or exception."""
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index, call):
        try:
            start.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def slow_down(monkeypatch, name: str, seconds: float = 0.3):
    """Hold the transaction open a little after ``services.<name>`` so the callers overlap."""
    original = getattr(services, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(seconds)
        return result

    monkeypatch.setattr(services, name, slow)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(monkeypatch):
    a = UserFactory(username="a", role=Role.ADMIN)
    b = UserFactory(username="b", role=Role.ADMIN)
    slow_down(monkeypatch, "_require_another_admin")

    results = race(
        lambda: services.user_update(user=a, data={"role": Role.VIEWER}, actor=SYSTEM),
        lambda: services.user_update(user=b, data={"is_active": False}, actor=SYSTEM),
    )

    assert sum(isinstance(r, services.LastAdminError) for r in results) == 1, results
    assert User.objects.filter(role=Role.ADMIN, is_active=True).count() == 1


def test_one_refresh_token_used_twice_at_once_gives_one_new_session(monkeypatch):
    user = UserFactory(username="r")
    tokens = services.auth_login(username="r", password="correct horse battery staple")
    slow_down(monkeypatch, "_issue_tokens")

    results = race(
        lambda: services.auth_refresh(refresh=tokens.refresh),
        lambda: services.auth_refresh(refresh=tokens.refresh),
    )

    assert sum(isinstance(r, services.TokenPair) for r in results) == 1, results
    assert sum(isinstance(r, services.TokenRejected) for r in results) == 1, results
    assert user.pk
