"""Settings for the test suite: real PostgreSQL (and RabbitMQ for broker tests).

``make test`` runs with every alias on one PostgreSQL database; ``make test-split`` sets
<APP>_DATABASE_URL so every app has a database of its own (docs/architecture.md, "Databases").
"""

import os
import tempfile

os.environ.setdefault("OPSCONDUCTOR_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsconductor")
os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
# Queues of their own per test run (removed by the broker 10 minutes after the run), so runs
# on one machine never consume each other's messages.
os.environ.setdefault("CELERY_QUEUE_PREFIX", f"test-{os.getpid()}-")
os.environ.setdefault("CELERY_QUEUE_EXPIRES_SECONDS", "600")
os.environ.setdefault("OPSCONDUCTOR_VAR_DIR", tempfile.mkdtemp(prefix="opsconductor-test-"))

from config.settings import *  # noqa: F403

# The suite runs with production's connection pools (config/settings.py; DATABASE_POOL_* as in
# production): a thread gives its connections back to the pool at the end of each unit of work,
# and the pools are closed before the test databases are dropped (conftest.py).
# DATABASE_POOL_MAX_SIZE=0 runs it without pools: then worker threads close their connections
# after each task (so the test databases can be flushed and dropped while the worker is still
# up), unless DATABASE_CONN_MAX_AGE (and CELERY_DB_REUSE_MAX below) give a worker or beat process
# a test starts persistent connections.
for _db in DATABASES.values():  # noqa: F405
    if "pool" not in _db.get("OPTIONS", {}):
        _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Tests that need an event delivered run a real worker; elsewhere nothing leaves the process.
CELERY_TASK_ALWAYS_EAGER = False
INSTALLED_APPS = [*INSTALLED_APPS, "tests.sealing_testapp"]  # noqa: F405
# The in-process test worker does not reap between tests (tests call the reaper themselves;
# the reliability tests run real worker processes that do).
EXECUTION_WORKER_REAPS = env.bool("EXECUTION_WORKER_REAPS", default=False)  # noqa: F405
# Without pools, worker threads close their connections after each task (see CONN_MAX_AGE above).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=0)  # noqa: F405
