"""The bridge's tables: the route table, its version counter, and hourly traffic buckets."""

from __future__ import annotations

import uuid

from django.db import models

from opsconductor.db.models import BaseModel


class Mode(models.TextChoices):
    PROXY = "proxy", "Proxy: forwarded to the legacy backend"
    MIGRATED = "migrated", "Migrated: served by the new system"
    RETIRED = "retired", "Retired: 410 Gone"


class Route(BaseModel):
    """One prefix of the legacy URL space and what the bridge does with it.

    ``prefix`` is a path without a trailing slash (``/api/v3/targets``); it matches itself and
    everything below it (``/api/v3/targets/7``), never a sibling (``/api/v3/targets-old``).
    The longest matching prefix wins. Rows override the defaults of
    ``LEGACY_BRIDGE_DEFAULT_ROUTES``.
    """

    prefix = models.CharField(max_length=300, unique=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # migrated: where the new system serves it (a path or an absolute URL)
    new_url = models.CharField(max_length=500, blank=True, default="")
    # migrated: the registered adapter answering in the legacy shape (legacy_bridge.adapters)
    adapter = models.CharField(max_length=100, blank=True, default="")
    # shown to callers of a retired or migrated prefix
    message = models.CharField(max_length=500, blank=True, default="")
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("prefix",)

    def __str__(self) -> str:
        return f"{self.prefix} -> {self.mode}"


class RouteTableVersion(models.Model):
    """One row (id 1) whose ``version`` grows with every change of the route table: every web
    process compares it with the version it has cached, once per request (one primary-key
    read), and reloads the table when it moved. That is how a flip takes effect everywhere
    without a restart."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"route table v{self.version}"


class TrafficBucket(models.Model):
    """Requests the bridge answered in one hour for one route prefix, method and status class.

    Written by upserts that add to ``count`` (``legacy_bridge.traffic``), so several processes
    can write the same bucket."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hour = models.DateTimeField()
    prefix = models.CharField(max_length=300)
    method = models.CharField(max_length=10)
    status_class = models.CharField(max_length=3)  # "2xx", "3xx", "4xx", "5xx"
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("hour", "prefix", "method", "status_class"),
                name="legacy_bridge_traffic_bucket_unique",
            )
        ]
        indexes = [models.Index(fields=("prefix", "hour"), name="legacy_bridge_traffic_prefix")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.prefix} {self.method} {self.status_class}"


class LegacyId(models.Model):
    """The integer id a legacy client knows an object of the new system by (docs/legacy-bridge.md,
    "Legacy ids"). Unique both ways per kind: a legacy id names one object for ever, and an
    object has one legacy id. Imported objects keep the id they had in the legacy system;
    objects created in the new system get one from ``LegacyIdCounter`` the first time an
    adapter shows them. Rows are never deleted, so an id is never handed out twice."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=20)  # users, targets, methods, credentials, jobs, ...
    legacy_id = models.BigIntegerField()
    new_id = models.UUIDField()
    # "imported" (the legacy system's own id) or "allocated" (from the bridge's range)
    source = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("kind", "legacy_id")
        constraints = [
            models.UniqueConstraint(fields=("kind", "legacy_id"), name="legacy_id_once_per_kind"),
            models.UniqueConstraint(fields=("kind", "new_id"), name="legacy_id_one_per_object"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.legacy_id} -> {self.new_id}"


class LegacyIdCounter(models.Model):
    """The next legacy id the bridge hands out for one kind, from ``LEGACY_ID_FLOOR`` up (far
    above what the legacy system's own sequences reach). Incremented by one UPDATE ...
    RETURNING, which holds the row's lock until the allocating transaction ends."""

    kind = models.CharField(max_length=20, primary_key=True)
    next_value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.kind}: next {self.next_value}"


class LegacySession(models.Model):
    """A sign-in of the legacy UI, whichever system minted its token (docs/adr/0020).

    ``origin`` ``bridge``: minted by the bridge's ``/api/v3/auth/login`` adapter; ``legacy``: a
    session the legacy backend minted, adopted at its first use on a migrated prefix. Sliding:
    every authenticated request moves ``expires_at`` to now + ``LEGACY_SESSION_SECONDS``."""

    class Origin(models.TextChoices):
        BRIDGE = "bridge", "Signed in through the bridge"
        LEGACY = "legacy", "Signed in at the legacy backend"

    id = models.BigAutoField(primary_key=True)
    session_id = models.CharField(max_length=64, unique=True)
    user_id = models.UUIDField(db_index=True)  # a user of accounts (a reference, not a relation)
    legacy_user_id = models.BigIntegerField()
    origin = models.CharField(max_length=10, choices=Origin.choices)
    # A keyed digest of the user's credentials when the session began: a password change ends it.
    marker = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"legacy session {self.session_id} ({self.origin})"


class ExecutionNumber(models.Model):
    """The legacy ``execution_number`` of a run: 1, 2, 3 ... per job, never renumbered.

    An imported execution keeps its legacy number (the importer writes it); a run of the new
    system gets the job's next number the first time an adapter shows it, runs numbered in
    the order they were created. Rows are never deleted, so a number is never reused."""

    id = models.BigAutoField(primary_key=True)
    job_id = models.UUIDField()  # a job of the jobs app (a reference, not a relation)
    run_id = models.UUIDField(unique=True)  # a run of the execution app
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=10)  # "imported" or "allocated"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("job_id", "number")
        constraints = [
            models.UniqueConstraint(fields=("job_id", "number"), name="execution_number_once"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id}: execution {self.number} of job {self.job_id}"


class LegacyScheduleDefinition(models.Model):
    """A schedule's definition as the legacy UI wrote it (``job_schedules``' columns:
    ``schedule_type``, ``recurring_type``, ``interval``, ``time``, ``days_of_week``,
    ``day_of_month``, ``cron_expression``, ``execute_at``, ``end_date``, ``max_executions``,
    and the declared ``timezone``, which the legacy scheduler ignored), kept so the legacy
    routes answer what was sent. Written by the schedules adapter and by the importer; the
    schedule itself (``schedule_id``, of the scheduling app: a reference, not a relation) is
    what fires."""

    schedule_id = models.UUIDField(primary_key=True)
    definition = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"legacy definition of schedule {self.schedule_id}"


class LegacySetting(models.Model):
    """A value of the legacy settings page (``PUT /api/v3/system/settings``) that the new
    system has no setting for: kept for the page, with no effect (docs/legacy-bridge.md,
    "System"). Keys the new system does have are its deployment's settings, never stored here."""

    key = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField(null=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.JSONField(default=dict)  # the Actor

    def __str__(self) -> str:
        return self.key
