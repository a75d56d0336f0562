"""Celery tasks of the execution app (queue ``execution``): thin wrappers around the runner.

``execute_targets`` runs a slice of a run's targets (``services._send`` cuts them); it is
acknowledged when it starts (not ``acks_late``): recovering from a worker
that dies mid-target is the reaper's job (heartbeats, ``lost`` / requeue), which also holds for
steps longer than the broker's unacknowledged-message timeout. See docs/adr/0008.
"""

from __future__ import annotations

import uuid

from celery import shared_task
from celery.signals import worker_shutdown

from apps.execution import runner, services
from apps.execution.worker import runtime, shutdown


@shared_task(name="apps.execution.tasks.execute_targets", bind=True, acks_late=False)
def execute_targets(self, run_target_ids: list[str]) -> dict[str, str]:
    """Run some targets of a run (those another worker has, or that have finished, are left
    alone); their final statuses."""
    ids = [uuid.UUID(value) for value in run_target_ids]
    return runner.execute(ids, runtime(self.request.hostname))


@shared_task(name="apps.execution.tasks.execute_target", bind=True, acks_late=False)
def execute_target(self, run_target_id: str) -> str | None:
    """One target (the unit of work before slices; kept for messages already queued)."""
    done = runner.execute([uuid.UUID(run_target_id)], runtime(self.request.hostname))
    return done.get(run_target_id)


_beat_reap_gate = services.ReapGate()


@shared_task(name="apps.execution.tasks.reap_runs")
def reap_runs() -> dict[str, int]:
    """Periodic (Celery beat) safety net beside the workers' own reaper threads (through this
    process's ``ReapGate``, as they do)."""
    return _beat_reap_gate.run()


@worker_shutdown.connect
def _stop_runtime(**_kwargs) -> None:
    """A worker stopping writes what its targets reported and closes its pooled sessions."""
    shutdown()
