"""JSON log lines name the actor: the signed-in user of a request, or whom a task acts for."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from opsconductor.events import Actor, publish, subscriber
from opsconductor.events.registry import unregister
from opsconductor.observability.context import actor_bound, current_actor
from tests.fixtures import wait_for


def request_lines(lines):
    return [line for line in lines if line["logger"] == "django.request"]


@pytest.mark.django_db(databases="__all__")
def test_a_refused_request_names_the_signed_in_user(django_user_model, json_log):
    user = django_user_model.objects.create_user(username="walker", password="x", role="viewer")
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/jobs/", {}, format="json")
    assert response.status_code == 403

    (line,) = request_lines(json_log())
    assert line["actor"] == "user:walker"
    assert line["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db(databases="__all__")
def test_an_anonymous_request_is_logged_as_anonymous(client, json_log):
    assert client.get("/api/v1/me/").status_code == 401
    assert request_lines(json_log())[-1]["actor"] == "anonymous"


def test_a_task_logs_the_actor_it_acts_for_and_nothing_leaks_after(json_log):
    logger = logging.getLogger("opsconductor.test")
    with actor_bound("schedule:nightly"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = (line for line in json_log() if line["logger"] == "opsconductor.test")
    assert inside["actor"] == "schedule:nightly"
    assert outside["actor"] == "-"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_subscriber_acts_for_the_actor_of_its_event(celery_worker):
    seen: list[str] = []

    @subscriber(app="audit", events=["kerneltest.actor.*"])
    def remember(event):
        seen.append(current_actor())

    try:
        with transaction.atomic(using="default"):
            alice = Actor(kind="user", name="alice")
            publish("kerneltest.actor.checked", {}, actor=alice, using="default")
        wait_for(lambda: seen, what="the subscriber to run")
    finally:
        unregister(f"{remember.__module__}.{remember.__qualname__}")
    assert seen == ["user:alice"]
