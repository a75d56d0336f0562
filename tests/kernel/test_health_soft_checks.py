"""Soft checks of /readyz: registered by packages the kernel may not import (the legacy bridge),
they report the service degraded without failing readiness."""

from __future__ import annotations

import pytest

from opsconductor import health

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def soft_check():
    names = []

    def register(name, check):
        names.append(name)
        health.register_soft_check(name, check)

    yield register
    for name in names:
        health.unregister_soft_check(name)


def test_a_failing_soft_check_degrades_but_stays_ready(client, rabbitmq, soft_check):
    soft_check("zz_fine", lambda: None)
    soft_check("zz_sick", lambda: "degraded: upstream unreachable")
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["zz_sick"]
    assert body["checks"]["zz_sick"] == "degraded: upstream unreachable"
    assert body["checks"]["zz_fine"] == "ok"


def test_a_soft_check_that_raises_is_reported_not_propagated(client, rabbitmq, soft_check):
    def broken():
        raise RuntimeError("postgres://user:secret@host/db")

    soft_check("zz_broken", broken)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["zz_broken"] == "check failed"
    assert "secret" not in response.content.decode()


def test_hard_failures_still_answer_503_with_soft_ones_listed(client, soft_check, monkeypatch):
    from celery import current_app

    dead = "amqp://guest:guest@127.0.0.1:1//"
    monkeypatch.setattr(current_app.conf, "broker_url", dead)
    monkeypatch.setattr(current_app.conf, "broker_write_url", dead)
    soft_check("zz_sick", lambda: "degraded: upstream unreachable")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["degraded"] == ["zz_sick"]
