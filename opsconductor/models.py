"""Kernel models Django discovers: the event outbox tables (present on every alias)."""

from opsconductor.events.models import ConsumedEvent, FailedDelivery, OutboxEvent

__all__ = ["ConsumedEvent", "FailedDelivery", "OutboxEvent"]
