from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from opsconductor.events.message import Event

Handler = Callable[[Event], None]
BatchHandler = Callable[[list[Event]], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    app: str  # the app label: its Celery queue and the database alias of its ledger
    patterns: tuple[str, ...]
    handler: Handler | BatchHandler  # with ``batch``: called with a list of events
    batch: bool = False

    def wants(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, pattern) for pattern in self.patterns)


_subscribers: dict[str, Subscriber] = {}


def subscriber(
    *, app: str, events: Iterable[str], batch: bool = False
) -> Callable[[Handler], Handler]:
    """Register the decorated function to receive events whose type matches a pattern.

    Patterns are shell-style (``accounts.*``, ``*``). The handler runs in a Celery task on the
    ``app`` queue, inside a transaction on ``app``'s database alias, at most once per event id.

    ``batch=True``: the handler gets a *list* of events (up to a relay chunk, one task per
    chunk instead of one per event: for a subscriber of every event, like audit). No ledger is
    kept for it: the handler must itself skip events it has already handled (by event id).
    """

    def register(handler: Handler) -> Handler:
        name = f"{handler.__module__}.{handler.__qualname__}"
        _subscribers[name] = Subscriber(
            name=name, app=app, patterns=tuple(events), handler=handler, batch=batch
        )
        return handler

    return register


def subscribers_for(event_type: str) -> list[Subscriber]:
    return [sub for sub in _subscribers.values() if sub.wants(event_type)]


def get_subscriber(name: str) -> Subscriber | None:
    return _subscribers.get(name)


def unregister(name: str) -> None:
    _subscribers.pop(name, None)
