"""The audit app consumes every event of every app (DESIGN.md, rule 4)."""

from apps.audit.services import audit_record_event
from opsconductor.events import Event, subscriber


@subscriber(app="audit", events=["*"])
def record_every_event(event: Event) -> None:
    audit_record_event(event=event)
