from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a user, an API token, a schedule, or the system itself."""

    kind: str  # "user" | "token" | "schedule" | "system" | "anonymous"
    id: str | None = None
    name: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Actor:
        if not data:
            return SYSTEM
        return cls(kind=data.get("kind", "system"), id=data.get("id"), name=data.get("name", ""))

    @property
    def user_id(self) -> uuid.UUID | None:
        """The accounts user behind a ``user`` actor (None for tokens, schedules, the system)."""
        if self.kind != "user" or not self.id:
            return None
        try:
            return uuid.UUID(str(self.id))
        except ValueError:
            return None

    @property
    def label(self) -> str:
        if self.kind == "system":
            return "system"
        return f"{self.kind}:{self.name or self.id}"


SYSTEM = Actor(kind="system", name="system")
ANONYMOUS = Actor(kind="anonymous", name="anonymous")
