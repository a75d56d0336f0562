from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from opsconductor.events.actor import Actor


@dataclass(frozen=True)
class Event:
    """One domain event as subscribers receive it (JSON-safe on the wire)."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    actor: Actor
    payload: dict
    context: dict = field(default_factory=dict)

    def to_message(self) -> dict:
        return {
            "id": str(self.id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor.as_dict(),
            "payload": self.payload,
            "context": self.context,
        }

    @classmethod
    def from_message(cls, message: dict) -> Event:
        return cls(
            id=uuid.UUID(message["id"]),
            type=message["type"],
            occurred_at=datetime.fromisoformat(message["occurred_at"]),
            actor=Actor.from_dict(message.get("actor")),
            payload=message.get("payload") or {},
            context=message.get("context") or {},
        )
