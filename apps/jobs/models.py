"""Models of the jobs context.

A job is the reusable definition of work: ordered steps, typed parameters, a default target
selector and an execution policy. Every change makes a new immutable ``JobVersion`` holding
the whole definition; runs (execution) snapshot a version, never the live job.
"""

from __future__ import annotations

from django.db import models

from opsconductor.db.models import BaseModel


class Job(BaseModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, max_length=4000)
    labels = models.JSONField(default=dict, blank=True)
    default_selector = models.TextField(blank=True, max_length=4000)
    policy = models.JSONField(default=dict, blank=True)
    # The accounts user who owns it (a reference, not a relation), and a name snapshot.
    owner_id = models.UUIDField(null=True, blank=True, db_index=True)
    owner_name = models.CharField(max_length=150, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    latest_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class JobStep(models.Model):
    """One step of a job's current definition, in order."""

    class Kind(models.TextChoices):
        COMMAND = "command", "Command"
        SCRIPT = "script", "Script"
        UPLOAD = "upload", "Upload a file"

    class Interpreter(models.TextChoices):
        SH = "sh", "sh"
        BASH = "bash", "bash"
        PYTHON3 = "python3", "python3"
        POWERSHELL = "powershell", "PowerShell"

    class OsFamily(models.TextChoices):
        ANY = "any", "Any"
        LINUX = "linux", "Linux"
        WINDOWS = "windows", "Windows"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    command = models.TextField(blank=True, max_length=65536)
    interpreter = models.CharField(max_length=12, choices=Interpreter.choices, blank=True)
    script = models.TextField(blank=True, max_length=1048576)
    path = models.CharField(max_length=1024, blank=True)  # upload destination
    mode = models.CharField(max_length=4, blank=True)  # upload mode, octal, e.g. 0644
    content = models.TextField(blank=True, max_length=1048576)  # upload content
    timeout_seconds = models.PositiveIntegerField(default=600)
    continue_on_error = models.BooleanField(default=False)
    os_family = models.CharField(max_length=10, choices=OsFamily.choices, default=OsFamily.ANY)
    env = models.JSONField(default=dict, blank=True)
    workdir = models.CharField(max_length=1024, blank=True)

    class Meta:
        ordering = ("job", "position")
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="jobs_step_position_once"),
            models.UniqueConstraint(fields=["job", "name"], name="jobs_step_name_once"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class JobParameter(models.Model):
    """One typed parameter of a job's current definition. A secret's default is sealed."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="parameters")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)
    spec = models.JSONField()  # apps.jobs.parameters.ParameterSpec.to_dict(), secrets sealed

    class Meta:
        ordering = ("job", "position")
        constraints = [
            models.UniqueConstraint(fields=["job", "name"], name="jobs_parameter_name_once"),
        ]

    def __str__(self) -> str:
        return self.name


class JobVersion(models.Model):
    """An immutable snapshot of a job's whole definition, numbered 1, 2, 3 ... per job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()  # the export format; secret defaults sealed
    diff = models.JSONField(default=dict, blank=True)  # from the previous version, masked
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_id = models.UUIDField(null=True, blank=True)
    created_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("job", "-number")
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="jobs_version_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.job} v{self.number}"
