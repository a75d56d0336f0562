"""Domain events: a transactional outbox, relayed after commit to subscribers' Celery queues.

Publishing::

    from opsconductor.events import publish
    publish("targets.target.created", {"target_id": str(t.id), "name": t.name}, actor=actor)

Subscribing (in ``apps/<app>/subscribers.py``, discovered at start-up)::

    from opsconductor.events import subscriber

    @subscriber(app="audit", events=["*"])
    def record(event): ...

See docs/architecture.md, "Events".
"""

from opsconductor.events.actor import SYSTEM, Actor
from opsconductor.events.message import Event
from opsconductor.events.outbox import publish
from opsconductor.events.registry import subscriber

__all__ = ["SYSTEM", "Actor", "Event", "publish", "subscriber"]
