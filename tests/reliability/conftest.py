from __future__ import annotations

import pytest

from tests.reliability.workers import Workers, queue_prefix


@pytest.fixture
def workers(tmp_path, settings, rabbitmq):
    """Start real worker processes with ``workers.start(name)``; the test's API calls send
    work to their queues (a prefix of this test's own). All are stopped at the end."""
    prefix = queue_prefix()
    settings.CELERY_QUEUE_PREFIX = prefix
    pool = Workers(tmp_path, prefix)
    yield pool
    pool.stop_all()
