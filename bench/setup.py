"""Django set-up for benchmarks: PostgreSQL and RabbitMQ on loopback, a database of their own."""

from __future__ import annotations

import os


def django_for_bench() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("OPSCONDUCTOR_ENV", "development")
    os.environ.setdefault("DEBUG", "false")  # as in production: no query log kept in memory
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsconductor_bench")
    os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_all", verbosity=0)


def delete_queues() -> None:
    """Delete the application's queues under this process's CELERY_QUEUE_PREFIX (a benchmark's
    own prefix), so nothing a run left behind is consumed by the next."""
    from django.conf import settings

    from config.celery import app
    from opsconductor.conf import APP_ALIASES

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for label in ("kernel", *APP_ALIASES):
            try:
                channel.queue_delete(settings.CELERY_QUEUE_PREFIX + label)
            except Exception:  # not there (never declared): the broker closed the channel
                channel = connection.channel()
