"""Models of the scheduling context: schedules, their firing history, and alerts.

- ``Schedule``: when (cron / interval / calendar / once, in an IANA time zone, between optional
  start and end, at most ``max_firings`` times) to run which job (pinned version or latest,
  parameter values with secrets sealed, optional selector), and what to do after downtime (misfire
  policy) or while its previous run still goes (overlap policy). ``next_fire_at`` is the next
  due time in UTC, kept by ``services``; the scheduler only ever reads the due ones.
- ``Firing``: one row per due time of a schedule, unique per (schedule, scheduled_for): the
  guard that makes a due time fire at most once, and the history users read.
- ``NotificationChannel`` (a webhook or an email list, defined once), ``AlertRule`` (a schedule
  or a job notifies a channel on some outcomes), ``NotificationDelivery`` (each attempt's log)
  and ``AlertState`` (the last outcome per schedule/job, to tell a recovery).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from opsconductor.db.models import BaseModel


class Kind(models.TextChoices):
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Every N units from an anchor"
    CALENDAR = "calendar", "At a time of day, every N days, weeks (on weekdays) or months"
    ONCE = "once", "Once, at a date-time"


class IntervalUnit(models.TextChoices):
    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


class Frequency(models.TextChoices):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class MisfirePolicy(models.TextChoices):
    SKIP = "skip", "Record missed due times, run nothing late"
    RUN_ONCE = "run_once", "One catch-up run, the other missed due times recorded"


class OverlapPolicy(models.TextChoices):
    ALLOW = "allow", "Start a new run even if the previous one still goes"
    SKIP = "skip", "Skip the due time while the previous run still goes"
    QUEUE = "queue", "Start the run; it waits until the previous one ends"


class Schedule(BaseModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    job_id = models.UUIDField(db_index=True)
    job_name = models.CharField(max_length=100)  # as it was when the schedule was last saved
    job_version = models.PositiveIntegerField(null=True, blank=True)  # None: the latest
    # Parameter values for display (secrets masked) and, sealed, all of them.
    parameters = models.JSONField(default=dict)
    sealed_parameters = models.TextField(blank=True)
    selector = models.TextField(blank=True)  # empty: the job's default selector

    kind = models.CharField(max_length=16, choices=Kind.choices)
    cron = models.CharField(max_length=200, blank=True)
    interval_every = models.PositiveIntegerField(null=True, blank=True)
    interval_unit = models.CharField(max_length=16, choices=IntervalUnit.choices, blank=True)
    run_at = models.DateTimeField(null=True, blank=True)  # kind once
    # kind calendar: at time_of_day (wall clock in the zone) every `every` days / weeks (on
    # days_of_week, 0 = Monday) / months (on day_of_month, the last day in shorter months),
    # counted from start_at (see timing.py)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, blank=True)
    every = models.PositiveIntegerField(null=True, blank=True)
    time_of_day = models.TimeField(null=True, blank=True)
    days_of_week = models.JSONField(default=list, blank=True)
    day_of_month = models.PositiveSmallIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64)  # IANA name
    start_at = models.DateTimeField(null=True, blank=True)  # also the interval's anchor
    end_at = models.DateTimeField(null=True, blank=True)
    max_firings = models.PositiveIntegerField(null=True, blank=True)

    enabled = models.BooleanField(default=True)  # False: paused
    misfire_policy = models.CharField(
        max_length=16, choices=MisfirePolicy.choices, default=MisfirePolicy.SKIP
    )
    misfire_grace_seconds = models.PositiveIntegerField(default=60)
    overlap_policy = models.CharField(
        max_length=16, choices=OverlapPolicy.choices, default=OverlapPolicy.ALLOW
    )

    # Kept by services: the next due time (UTC), None when nothing is due any more (paused,
    # past its end, its one time or its maximum reached). ``revision`` grows with every change
    # of the definition; a firing records the revision it fired.
    next_fire_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=1)
    fired_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    finished_reason = models.CharField(max_length=200, blank=True)  # why nothing is due

    created_by = models.JSONField(default=dict)  # the Actor
    updated_by = models.JSONField(default=dict)

    class Meta:
        ordering = ("name",)
        indexes = [models.Index(fields=["enabled", "next_fire_at"], name="schedule_due")]

    def __str__(self) -> str:
        return self.name


class FiringOutcome(models.TextChoices):
    STARTING = "starting", "Starting (claimed, the run is being created)"
    FIRED = "fired", "Fired: a run was started"
    SKIPPED = "skipped", "Skipped"
    MISSED = "missed", "Missed (the scheduler was down)"
    FAILED_TO_START = "failed_to_start", "Failed to start"


class Firing(BaseModel):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="firings")
    scheduled_for = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=FiringOutcome.choices)
    reason = models.CharField(max_length=1000, blank=True)
    catch_up = models.BooleanField(default=False)  # the run_once misfire policy's late run
    revision = models.PositiveIntegerField()  # of the schedule's definition it fired
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    run_status = models.CharField(max_length=16, blank=True)  # the run's status, kept current
    worker = models.CharField(max_length=255, blank=True)  # which scheduler process fired it

    class Meta:
        ordering = ("-scheduled_for",)
        constraints = [
            models.UniqueConstraint(fields=["schedule", "scheduled_for"], name="firing_once")
        ]
        indexes = [models.Index(fields=["outcome", "created_at"])]


# -- alerts ---------------------------------------------------------------------------------------


class AlertEvent(models.TextChoices):
    FAILED = "failed", "A run failed (or timed out)"
    SUCCEEDED = "succeeded", "A run succeeded"
    MISSED = "missed", "A due time was missed"
    RECOVERED = "recovered", "The first success after failures"
    TEST = "test", "A test notice sent from the channel (no run behind it)"


class NotificationChannel(BaseModel):
    class ChannelKind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON POST)"
        EMAIL = "email", "Email"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    url = models.URLField(max_length=1000, blank=True)  # webhook
    sealed_secret = models.TextField(blank=True)  # webhook: the HMAC key, sealed
    recipients = models.JSONField(default=list)  # email addresses
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class AlertRule(BaseModel):
    """``channel`` is told when ``schedule`` (or any run of ``job_id``) has one of ``events``."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="rules")
    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules"
    )
    job_id = models.UUIDField(null=True, blank=True, db_index=True)
    events = models.JSONField(default=list)  # AlertEvent values

    class Meta:
        ordering = ("created_at",)
        constraints = [
            models.CheckConstraint(
                condition=(Q(schedule__isnull=False) & Q(job_id__isnull=True))
                | (Q(schedule__isnull=True) & Q(job_id__isnull=False)),
                name="alert_rule_one_subject",
            )
        ]


class AlertState(BaseModel):
    """The last run outcome of a schedule or a job (``subject``: ``schedule:<id>``/``job:<id>``)."""

    subject = models.CharField(max_length=64, unique=True)
    last_status = models.CharField(max_length=16)
    failures = models.PositiveIntegerField(default=0)  # consecutive


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (being delivered or waiting for a retry)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (no retries left)"


class NotificationDelivery(BaseModel):
    channel = models.ForeignKey(
        NotificationChannel, null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel_name = models.CharField(max_length=100)
    event = models.CharField(max_length=16, choices=AlertEvent.choices)
    subject = models.CharField(max_length=64)  # schedule:<id> or job:<id>
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    response_status = models.IntegerField(null=True, blank=True)
    # the start of the receiver's last answer (whitespace collapsed, at most 200 characters)
    response_excerpt = models.CharField(max_length=300, blank=True)
    # one entry per attempt, oldest first: {"number", "at", "outcome" (delivered / failed),
    # "response_status", "detail"} (the error or the answer's excerpt)
    attempt_log = models.JSONField(default=list, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "notification deliveries"
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
