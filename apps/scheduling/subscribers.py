"""The scheduling app listens to runs: a firing shows its run's status, and a run's end may
alert the channels of its schedule and its job."""

from __future__ import annotations

import uuid

from apps.scheduling import services
from opsconductor.events import Event, subscriber


@subscriber(app="scheduling", events=["execution.run.started"])
def run_started(event: Event) -> None:
    firing_id = event.payload.get("schedule_firing_id")
    services.firing_run_status(
        run_id=uuid.UUID(event.payload["run_id"]),
        status="running",
        firing_id=uuid.UUID(firing_id) if firing_id else None,
    )


@subscriber(app="scheduling", events=["execution.run.finished"])
def run_finished(event: Event) -> None:
    services.run_finished(payload=event.payload)
