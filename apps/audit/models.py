"""Models of the audit context: the trail of every domain event of every app."""

from __future__ import annotations

from django.db import models


class AuditRecord(models.Model):
    """One event as recorded by audit. Its id is the event id, so ingestion is idempotent."""

    id = models.UUIDField(primary_key=True, editable=False)
    action = models.CharField(max_length=100, db_index=True)  # the event type
    occurred_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor_kind = models.CharField(max_length=20)
    actor_id = models.CharField(max_length=64, blank=True, db_index=True)
    actor_name = models.CharField(max_length=150, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ("-occurred_at",)

    def __str__(self) -> str:
        who = self.actor_name or self.actor_kind
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"
