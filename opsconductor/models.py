"""Kernel models Django discovers: the event outbox tables and its counters (present on every
alias)."""

from opsconductor.events.models import ConsumedEvent, FailedDelivery, OutboxCounter, OutboxEvent

__all__ = ["ConsumedEvent", "FailedDelivery", "OutboxCounter", "OutboxEvent"]
