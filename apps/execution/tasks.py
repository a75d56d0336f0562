"""Celery tasks of the execution app (queue ``execution``): thin wrappers around the runner.

``execute_target`` is acknowledged when it starts (not ``acks_late``): recovering from a worker
that dies mid-target is the reaper's job (heartbeats, ``lost`` / requeue), which also holds for
steps longer than the broker's unacknowledged-message timeout. See docs/adr/0008.
"""

from __future__ import annotations

import uuid

from celery import shared_task

from apps.execution import runner, services
from apps.execution.worker import runtime


@shared_task(name="apps.execution.tasks.execute_target", bind=True, acks_late=False)
def execute_target(self, run_target_id: str) -> str | None:
    """Run one target of a run (a no-op if another worker has it or it has finished)."""
    return runner.execute(uuid.UUID(run_target_id), runtime(self.request.hostname))


@shared_task(name="apps.execution.tasks.reap_runs")
def reap_runs() -> dict[str, int]:
    """Periodic (Celery beat) safety net beside the workers' own reaper threads."""
    return services.run_reap()
