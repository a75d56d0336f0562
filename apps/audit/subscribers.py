"""The audit app consumes every event of every app (docs/architecture.md, "Events"), in
batches: one chain append per relay chunk (services.audit_record_events skips events it
already holds)."""

from apps.audit.services import audit_record_events
from opsconductor.events import Event, subscriber


@subscriber(app="audit", events=["*"], batch=True)
def record_every_event(events: list[Event]) -> None:
    audit_record_events(events=events)
