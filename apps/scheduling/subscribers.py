"""The scheduling app listens to runs: a firing shows its run's status, and a run's end may
alert the channels of its schedule and its job."""

from __future__ import annotations

import uuid

from apps.scheduling import services
from opsconductor.events import Event, subscriber


@subscriber(app="scheduling", events=["execution.run.started"])
def run_started(event: Event) -> None:
    services.firing_run_status(run_id=uuid.UUID(event.payload["run_id"]), status="running")


@subscriber(app="scheduling", events=["execution.run.finished"])
def run_finished(event: Event) -> None:
    services.run_finished(payload=event.payload)
