"""The Celery app: JSON only, one queue per app, beat on django-celery-beat's database scheduler."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

from opsconductor import broker
from opsconductor.db.reconnect import install_celery_hooks

broker.register()  # the embedded broker's transport (settings.CELERY_BROKER_URL default)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Every task runs as a unit of database work that survives a database restart
# (opsconductor.db.reconnect): retried on a lost connection, its thread's connections checked
# before and after it.
app = Celery("opsconductor", task_cls="opsconductor.db.reconnect:ReconnectingTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["opsconductor.events"])
install_celery_hooks()


@setup_logging.connect
def use_django_logging(**kwargs):
    """Workers and beat log like the web process: the same format (JSON in production) and
    every line stamped with the request id of the request that caused the task."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
