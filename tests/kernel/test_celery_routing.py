"""One Celery queue per app: a task goes to the queue of the app that defines it."""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app


def test_every_app_queue_has_an_exchange_and_routing_key_of_its_own():
    queues = [app.amqp.queues[name] for name in settings.OPSCONDUCTOR_QUEUES]
    assert len({(q.exchange.name, q.routing_key) for q in queues}) == len(queues)


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("apps.execution.tasks.run_target", "execution"),
        ("apps.scheduling.tasks.fire", "scheduling"),
        ("apps.audit.tasks.purge", "audit"),
        ("opsconductor.events.tasks.sweep_outbox", "kernel"),
    ],
)
def test_tasks_route_to_the_queue_of_the_app_that_defines_them(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == settings.CELERY_QUEUE_PREFIX + queue


def test_an_explicit_queue_wins(settings):
    route = app.amqp.router.route({"queue": settings.CELERY_QUEUE_PREFIX + "audit"}, "x.y.z")
    assert route["queue"].name == settings.CELERY_QUEUE_PREFIX + "audit"
