"""Models of the audit context: the tamper-evident trail of every domain event of every app.

``AuditRecord`` rows form a hash chain in ``sequence`` order: each stores the SHA-256 of its
canonical content together with the previous record's hash (``integrity.py``). They are never
updated; they are deleted only by retention (``services.audit_purge``), which leaves an
``AuditCheckpoint`` (signed) so the rest of the chain stays verifiable. ``AuditChainHead`` is the
one row every writer locks to append: concurrent writers cannot fork the chain.
"""

from __future__ import annotations

from django.db import models

# What free text (``?q=``) searches, upper-cased; a trigram index on PostgreSQL serves it.
SEARCH_TEXT_SQL = "UPPER(action || ' ' || actor_name || ' ' || object_name || ' ' || user_agent)"


class AppendOnlyError(Exception):
    """An audit record was about to be changed or deleted outside retention."""


class AuditRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit records are never updated")

    def delete(self):
        raise AppendOnlyError("audit records are deleted only by retention (audit_purge)")


class AuditRecord(models.Model):
    """One event as recorded by audit. Its id is the event id, so ingestion is idempotent."""

    id = models.UUIDField(primary_key=True, editable=False)
    sequence = models.BigIntegerField(unique=True)  # position in the chain, from 1
    action = models.CharField(max_length=100)  # the event type
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=20)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=20, blank=True)
    details = models.JSONField(default=dict)  # the event's payload, secrets masked
    changes = models.JSONField(default=dict)  # field -> {"from": ..., "to": ...}, masked
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ("-sequence",)
        # Each filter of the API has an index that also yields its newest-first order; nothing
        # else is indexed (every index is paid for by every append under the chain's lock).
        # Free text (``q``) has a trigram index on PostgreSQL (migration 0003).
        indexes = [
            models.Index(fields=["occurred_at", "sequence"], name="audit_time"),
            models.Index(fields=["actor_id"], name="audit_actor_id"),
            models.Index(fields=["request_id"], name="audit_request"),
            models.Index(fields=["object_type", "object_id", "sequence"], name="audit_object"),
            models.Index(fields=["actor_name", "sequence"], name="audit_actor"),
            models.Index(fields=["action", "sequence"], name="audit_action"),
            models.Index(fields=["outcome", "sequence"], name="audit_outcome"),
            models.Index(fields=["source_ip", "sequence"], name="audit_ip"),
        ]

    def __str__(self) -> str:
        who = self.actor_name or self.actor_kind
        return f"#{self.sequence} {self.occurred_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit records are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit records are deleted only by retention (audit_purge)")


class AuditChainHead(models.Model):
    """The last record of the chain (one row, id 1): appending locks it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain head at {self.sequence}"


class AuditCheckpoint(models.Model):
    """A verified point of the chain: ``sequence`` and its ``hash``. Retention makes one before
    it removes records up to ``sequence`` (with what it removed); ``audit_verify
    --from-checkpoint`` starts there. ``signature``: HMAC-SHA256 of the checkpoint's content
    with the audit key."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=20)  # "retention" | "manual"
    sequence = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    removed_count = models.BigIntegerField(default=0)
    removed_until = models.DateTimeField(null=True, blank=True)  # records older than this
    first_removed_sequence = models.BigIntegerField(null=True, blank=True)
    export_path = models.CharField(max_length=500, blank=True)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ("-sequence",)

    def __str__(self) -> str:
        return f"{self.kind} checkpoint at {self.sequence}"


class AuditVerification(models.Model):
    """One walk of the hash chain (``services.audit_verify``) and its result: by the schedule
    (beat, ``AUDIT_VERIFY_SECONDS``), on an admin's request (``POST
    /api/v1/audit/verification/``) or by ``manage.py audit_verify``. Queued while
    ``started_at`` is empty, running while ``finished_at`` is; ``ok`` then says whether the
    chain was intact, and ``problem`` names the first bad record when it was not."""

    id = models.BigAutoField(primary_key=True)
    trigger = models.CharField(max_length=20)  # "schedule" | "manual" | "command"
    requested_at = models.DateTimeField()
    requested_by = models.CharField(max_length=150, blank=True)  # the actor's name
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, blank=True)
    checked = models.BigIntegerField(default=0)
    first_sequence = models.BigIntegerField(null=True, blank=True)
    last_sequence = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    record_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"verification {self.id} ({self.state})"

    @property
    def state(self) -> str:
        if self.finished_at is not None:
            return "passed" if self.ok else "failed"
        return "running" if self.started_at is not None else "queued"
