"""GET /api/v1/system/status/: every dependency's state, workers and queues, the scheduler,
the outbox backlog; a dependency that is down is reported down (never a 500, never a secret);
answers cached for a few seconds."""

from __future__ import annotations

import json
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from opsconductor import health, system
from opsconductor.events.models import OutboxEvent
from tests.sshd import free_port

pytestmark = pytest.mark.django_db(databases="__all__")
PATH = "/api/v1/system/status/"


@pytest.fixture
def viewer(django_user_model):
    client = APIClient()
    client.force_authenticate(
        django_user_model.objects.create_user(username="sys-viewer", password="x", role="viewer")
    )
    return client


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.SYSTEM_STATUS_CACHE_SECONDS = 0
    settings.SYSTEM_STATUS_INSPECT_TIMEOUT_SECONDS = 0.5


def states(body) -> dict[str, str]:
    return {d["name"]: d["state"] for d in body["dependencies"]}


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_viewer_sees_every_dependency_and_the_outbox_backlog(viewer, client, rabbitmq, settings):
    OutboxEvent.objects.using("targets").create(
        event_type="targets.target.created", occurred_at=timezone.now(), payload={}
    )
    assert client.get(PATH).status_code == 401

    response = viewer.get(PATH)

    assert response.status_code == 200, response.content
    body = response.json()
    found = states(body)
    assert {f"database:{alias}" for alias in settings.DATABASES} <= set(found)
    assert found["broker"] == "ok"
    assert all(found[f"database:{alias}"] == "ok" for alias in settings.DATABASES)
    pending = {row["app"]: row["pending"] for row in body["outbox"]["pending"]}
    assert pending.get("targets", 0) >= 1
    assert "scheduler" in body["sections"]
    assert set(body["sections"]["scheduler"]) >= {"overdue_seconds", "beat_alive", "last_firing"}
    assert "opsconductor_scheduler_lag_seconds" in [m["name"] for m in body["metrics"]]
    # queues are named without this installation's prefix
    assert all(not q["name"].startswith(settings.CELERY_QUEUE_PREFIX) for q in body["queues"])


def test_the_workers_that_answer_are_listed_with_their_queues(viewer, celery_worker):
    body = viewer.get(PATH).json()
    workers = body["workers"]
    assert workers["workers"], workers
    queues = {q for worker in workers["workers"] for q in worker["queues"]}
    assert {"kernel", "scheduling", "execution"} <= queues


def test_a_broker_that_is_down_is_reported_down_without_its_password(viewer, settings):
    settings.CELERY_BROKER_URL = f"amqp://ops:hunter2-broker@127.0.0.1:{free_port()}//"

    response = viewer.get(PATH)

    assert response.status_code == 200
    body = response.json()
    assert states(body)["broker"] == "down"
    assert body["status"] == "unavailable"
    assert body["workers"]["state"] == "unknown" and body["queues"] == []
    assert "hunter2" not in response.content.decode()


def test_a_database_alias_that_is_down_is_reported_down(viewer, monkeypatch):
    real = health._check_database

    def check(alias):
        return "unreachable (OperationalError)" if alias == "audit" else real(alias)

    monkeypatch.setattr(health, "_check_database", check)
    body = viewer.get(PATH).json()
    assert states(body)["database:audit"] == "down"
    assert states(body)["database:default"] == "ok"
    assert body["status"] == "unavailable"


def test_a_section_that_fails_is_reported_not_raised(viewer):
    def broken():
        raise RuntimeError("postgres://user:s3cret@db/x")

    system.register_status_section("broken", broken)
    try:
        response = viewer.get(PATH)
    finally:
        system.unregister_status_section("broken")
    assert response.status_code == 200
    assert response.json()["sections"]["broken"] == {"error": "RuntimeError"}
    assert "s3cret" not in response.content.decode()


def test_answers_are_cached_for_a_few_seconds(viewer, settings, monkeypatch):
    settings.SYSTEM_STATUS_CACHE_SECONDS = 30
    system.cache.delete(system.CACHE_KEY)
    calls = []
    real = system.collect
    monkeypatch.setattr(system, "collect", lambda: calls.append(1) or real())
    first = viewer.get(PATH).json()
    second = viewer.get(PATH).json()
    assert len(calls) == 1 and first["checked_at"] == second["checked_at"]
    assert second["cached_for_seconds"] == 30
    system.cache.delete(system.CACHE_KEY)


def test_the_scheduler_section_says_how_late_the_last_firing_was():
    from datetime import timedelta

    from apps.scheduling.models import Firing, Schedule
    from apps.scheduling.selectors import record_tick, scheduler_status

    now = timezone.now()
    schedule = Schedule.objects.using("scheduling").create(
        name=f"s-{uuid.uuid4().hex[:6]}", job_id=uuid.uuid4(), job_name="j", kind="cron",
        cron="* * * * *", timezone="UTC", next_fire_at=now - timedelta(seconds=90),
    )  # fmt: skip
    Firing.objects.using("scheduling").create(
        schedule=schedule, scheduled_for=now - timedelta(seconds=60),
        fired_at=now - timedelta(seconds=58), outcome="fired", revision=1,
    )  # fmt: skip
    record_tick()
    status = scheduler_status()
    assert status["last_firing"]["schedule_name"] == schedule.name
    assert status["last_firing"]["late_seconds"] == pytest.approx(2.0, abs=0.01)
    assert status["overdue_seconds"] >= 90
    assert status["beat_alive"] is True
    json.dumps(status, default=str)
