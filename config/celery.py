"""The Celery app: JSON only, one queue per app, beat on django-celery-beat's database scheduler."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("opsconductor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["opsconductor.events"])


@setup_logging.connect
def use_django_logging(**kwargs):
    """Workers and beat log like the web process: the same format (JSON in production) and
    every line stamped with the request id of the request that caused the task."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
