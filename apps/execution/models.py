"""Models of the execution context: runs, their targets and steps, and the run's event log.

A ``Run`` is an immutable snapshot of what to do (job version, definition, parameter values,
targets, policy, who asked) plus its live state. Each target of a run is a ``RunTarget`` and
each step on it a ``RunStep``; ``RunEvent`` is the ordered log of a run (state changes and output
chunks) that the output endpoint and the live stream read, numbered by a per-run sequence.
"""

from __future__ import annotations

from django.db import models

from opsconductor.db.models import BaseModel


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual (a person)"
    API_TOKEN = "api_token", "API token"
    SCHEDULE = "schedule", "Schedule"
    RETRY = "retry", "Retry of an earlier run"
    IMPORTED = "imported", "Imported history (from the legacy system)"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    TIMED_OUT = "timed_out", "Timed out"


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued (waiting for a worker)"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNREACHABLE = "unreachable", "Unreachable"
    CANCELED = "canceled", "Canceled"
    TIMED_OUT = "timed_out", "Timed out"
    SKIPPED = "skipped", "Skipped"
    LOST = "lost", "Lost (its worker vanished)"


# Steps share the target states, except that a step is never queued.
StepStatus = TargetStatus

RUN_TERMINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.TIMED_OUT}
)
TARGET_TERMINAL = frozenset(
    {
        TargetStatus.SUCCEEDED,
        TargetStatus.FAILED,
        TargetStatus.UNREACHABLE,
        TargetStatus.CANCELED,
        TargetStatus.TIMED_OUT,
        TargetStatus.SKIPPED,
        TargetStatus.LOST,
    }
)
TARGET_ACTIVE = frozenset({TargetStatus.QUEUED, TargetStatus.RUNNING})
# Outcomes that count against a run's failure threshold.
TARGET_FAILURES = frozenset(
    {TargetStatus.FAILED, TargetStatus.UNREACHABLE, TargetStatus.TIMED_OUT, TargetStatus.LOST}
)


class Run(BaseModel):
    job_id = models.UUIDField(db_index=True)
    job_name = models.CharField(max_length=100)
    job_version = models.PositiveIntegerField()
    # The job version's definition as it was (secret parameter defaults stay sealed in it).
    definition = models.JSONField()
    # Parameter values for display and filtering: secret ones masked.
    parameters = models.JSONField(default=dict)
    # Every resolved value, secrets included, sealed; only a worker unseals it.
    sealed_parameters = models.TextField()
    selector = models.TextField(blank=True)
    policy = models.JSONField()

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.JSONField()  # the Actor
    requested_by_user_id = models.UUIDField(null=True, blank=True, db_index=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    schedule_id = models.UUIDField(null=True, blank=True, db_index=True)
    # The schedule firing that started it: at most one run per firing (a redelivered or retried
    # firing finds its run instead of starting a second one).
    schedule_firing_id = models.UUIDField(null=True, blank=True, unique=True)

    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True
    )
    pending_reason = models.CharField(max_length=300, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    canceled_by = models.JSONField(null=True, blank=True)
    target_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # target status -> how many, kept current
    # History brought over from another system: read only (never advanced, canceled, retried or
    # reaped), always in a final state; ``legacy_ref`` (like EXEC-00000001) makes the import
    # idempotent.
    imported = models.BooleanField(default=False)
    legacy_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The last number handed out in this run's event log (see RunEvent).
    event_seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["job_id", "status"]),
            # the runs that finished lately (/metrics); unfinished runs are not in it
            models.Index(
                fields=["finished_at"],
                name="run_finished_idx",
                condition=models.Q(finished_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_name} v{self.job_version} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in RUN_TERMINAL


class RunTarget(BaseModel):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="targets")
    target_id = models.UUIDField(db_index=True)
    target_name = models.CharField(max_length=255)
    os_family = models.CharField(max_length=16)
    position = models.PositiveIntegerField()  # order in the run (targets by name)
    batch = models.PositiveIntegerField(default=0)  # rolling batch, from 0

    status = models.CharField(
        max_length=16, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    pending_reason = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=1000, blank=True)  # why it failed, was skipped, ...
    exit_code = models.IntegerField(null=True, blank=True)  # of the last step that ran

    attempt = models.PositiveIntegerField(default=0)  # times a worker claimed it
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Index of the step a worker has started on this target: a step at or below it may have
    # run, so a redelivered unit never starts it again.
    step_started = models.IntegerField(null=True, blank=True)

    output_bytes = models.BigIntegerField(default=0)
    output_truncated = models.BooleanField(default=False)
    output_digest = models.CharField(max_length=64, blank=True)  # sha256 of the masked output
    output_sample = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("run", "position")
        constraints = [
            models.UniqueConstraint(fields=["run", "target_id"], name="run_target_once"),
        ]
        indexes = [
            models.Index(fields=["run", "status"]),
            models.Index(fields=["status", "heartbeat_at"]),
            # the targets that finished lately (/metrics); partial, so the heartbeats of running
            # targets never touch it
            models.Index(
                fields=["finished_at"],
                name="run_target_finished_idx",
                condition=models.Q(finished_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_name} in {self.run_id} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class RunStep(BaseModel):
    run_target = models.ForeignKey(RunTarget, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    exit_code = models.IntegerField(null=True, blank=True)
    reason = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    command = models.TextField(blank=True)  # imported history: the command the step ran

    class Meta:
        ordering = ("run_target", "index")
        constraints = [
            models.UniqueConstraint(fields=["run_target", "index"], name="run_step_once"),
        ]

    def __str__(self) -> str:
        return f"step {self.index} {self.name} ({self.status})"


class RunEvent(models.Model):
    """One entry of a run's ordered log: a state change or a chunk of output.

    ``seq`` is handed out per run by incrementing ``Run.event_seq`` inside the transaction that
    writes the entry; the increment locks the run's row until commit, so entries become visible
    in ``seq`` order and a reader resuming after ``seq`` N never misses one.
    """

    class Kind(models.TextChoices):
        STATE = "state", "State change"
        OUTPUT = "output", "Output chunk"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    run_target = models.ForeignKey(
        RunTarget, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    step_index = models.IntegerField(null=True, blank=True)
    stream = models.CharField(max_length=8, blank=True)  # stdout | stderr | marker
    data = models.TextField(blank=True)  # output text, or the state change as JSON
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("run", "seq")
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="run_event_seq_once"),
        ]
        indexes = [models.Index(fields=["run_target", "seq"])]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.kind}"
