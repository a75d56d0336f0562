from __future__ import annotations

import uuid

from django.db import models


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it describes.

    The table exists on every database alias; each app writes to its own alias's copy.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=100, db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.JSONField(default=dict)
    payload = models.JSONField(default=dict)
    context = models.JSONField(default=dict)
    relayed_at = models.DateTimeField(null=True, blank=True)
    relay_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        app_label = "opsconductor"
        db_table = "kernel_outbox_event"
        ordering = ("occurred_at",)
        indexes = [
            models.Index(
                fields=["occurred_at"],
                name="kernel_outbox_pending_idx",
                condition=models.Q(relayed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"


class ConsumedEvent(models.Model):
    """Ledger of (subscriber, event) pairs already handled: makes redelivery harmless."""

    subscriber = models.CharField(max_length=200)
    event_id = models.UUIDField()
    consumed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "opsconductor"
        db_table = "kernel_consumed_event"
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event_id"], name="kernel_consumed_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} consumed {self.event_id}"


class FailedDelivery(models.Model):
    """An event a subscriber kept failing on after every retry: kept for a person to look at
    and replay (``manage.py replay_failed_events``), never silently dropped."""

    subscriber = models.CharField(max_length=200)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    message = models.JSONField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    failed_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        app_label = "opsconductor"
        db_table = "kernel_failed_delivery"
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event_id"], name="kernel_failed_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} failed on {self.event_type} {self.event_id}"


class OutboxCounter(models.Model):
    """Running totals of the outbox (``relayed``: events handed to the broker), one row per name
    and database. Relayed rows are purged after ``OUTBOX_RETENTION_DAYS``, so counting rows
    would go down; this only grows, which is what a Prometheus counter must do."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        app_label = "opsconductor"
        db_table = "kernel_outbox_counter"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
