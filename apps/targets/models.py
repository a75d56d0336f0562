"""Models of the targets context.

Targets (the machines jobs run on), their tags and labels, groups, connection methods,
credentials (sealed), SSH host keys and health-check results.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from opsconductor.db.models import BaseModel
from opsconductor.sealing import SealedField

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
name_validator = RegexValidator(
    NAME_PATTERN,
    "Use 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit.",
)


class Tag(BaseModel):
    name = models.CharField(max_length=64, unique=True, validators=[name_validator])

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Target(BaseModel):
    """A machine jobs run on. Names are not unique (as in the legacy system); ids are."""

    class OsFamily(models.TextChoices):
        LINUX = "linux", "Linux"
        WINDOWS = "windows", "Windows"

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        STAGING = "staging", "Staging"
        DEVELOPMENT = "development", "Development"
        TESTING = "testing", "Testing"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active (selected for runs)"
        INACTIVE = "inactive", "Inactive"
        MAINTENANCE = "maintenance", "Maintenance"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        HEALTHY = "healthy", "Healthy"
        UNREACHABLE = "unreachable", "Unreachable"
        AUTH_FAILED = "auth_failed", "Authentication failed"
        HOST_KEY_UNKNOWN = "host_key_unknown", "Host key not trusted yet"
        HOST_KEY_MISMATCH = "host_key_mismatch", "Host key changed"
        SCOPE_REFUSED = "scope_refused", "Refused: outside the credential's scope"
        ERROR = "error", "Error"

    class HostKeyPolicy(models.TextChoices):
        STRICT = "strict", "Strict: only approved keys"
        ACCEPT_NEW = "accept-new", "Accept new: trust the first key seen, refuse changes"

    name = models.CharField(max_length=100, db_index=True)
    description = models.TextField(blank=True, max_length=4000)
    os_family = models.CharField(max_length=10, choices=OsFamily.choices, default=OsFamily.LINUX)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.PRODUCTION, db_index=True
    )
    location = models.CharField(max_length=100, blank=True)
    data_center = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="targets")
    host_key_policy = models.CharField(
        max_length=20, choices=HostKeyPolicy.choices, default=HostKeyPolicy.STRICT
    )
    health_status = models.CharField(
        max_length=20, choices=Health.choices, default=Health.UNKNOWN, db_index=True
    )
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    health_message = models.TextField(blank=True)
    # Who registered it: a user id of the accounts app (a reference, not a relation).
    created_by_id = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class TargetLabel(models.Model):
    """A free-form ``key=value`` label of a target (one value per key)."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="labels")
    key = models.CharField(max_length=63, validators=[name_validator])
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("key",)
        constraints = [
            models.UniqueConstraint(fields=["target", "key"], name="targets_label_key_once")
        ]
        indexes = [models.Index(fields=["key", "value"], name="targets_label_kv_idx")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class Group(BaseModel):
    """A named set of targets: static members plus, optionally, a saved selector."""

    name = models.CharField(max_length=64, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, max_length=4000)
    members = models.ManyToManyField(Target, blank=True, related_name="static_groups")
    selector = models.TextField(
        blank=True, max_length=4000, help_text="Targets matching it are members too."
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Credential(BaseModel):
    """A secret used to log in to targets; one credential may serve many targets.

    The secret is sealed (opsconductor.sealing) and never leaves this app except unsealed in a
    worker's memory through ``interface.connection_for_target``.
    """

    class Kind(models.TextChoices):
        PASSWORD = "password", "Password (SSH)"
        SSH_KEY = "ssh_key", "SSH private key"
        WINRM = "winrm", "Password (WinRM)"

    class HostKeyPolicy(models.TextChoices):
        TARGET = "target", "As the target says (strict or accept-new)"
        STRICT = "strict", "Strict: only keys an admin approved, never trust on first use"

    name = models.CharField(max_length=64, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, max_length=4000)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    username = models.CharField(max_length=128)
    secret = SealedField()
    key_type = models.CharField(max_length=40, blank=True)  # e.g. ssh-ed25519
    key_fingerprint = models.CharField(max_length=100, blank=True)  # SHA256:...
    secret_set_at = models.DateTimeField()
    secret_set_by_id = models.UUIDField(null=True, blank=True)
    secret_set_by_name = models.CharField(max_length=150, blank=True)
    # The scope (docs/targets.md, "Credential scope"); set by admins only.
    allowed_targets = models.TextField(
        blank=True,
        max_length=4000,
        help_text="A target selector; only targets it selects may use the credential (empty: any).",
    )
    allowed_hosts = models.JSONField(
        default=list,
        blank=True,
        help_text="Host names (exact or *.suffix) and IP addresses/CIDR networks the credential "
        "may be sent to (empty: any).",
    )
    attach_roles = models.JSONField(
        default=list,
        blank=True,
        help_text="Roles besides admin that may attach the credential to a connection method.",
    )
    host_key_policy = models.CharField(
        max_length=10, choices=HostKeyPolicy.choices, default=HostKeyPolicy.TARGET
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.username})"

    def __repr__(self) -> str:  # never the sealed text either
        return f"<Credential {self.name} kind={self.kind}>"


class ConnectionMethod(BaseModel):
    """How to reach a target: SSH or WinRM, host and port, with which credential."""

    class Protocol(models.TextChoices):
        SSH = "ssh", "SSH"
        WINRM = "winrm", "WinRM"

    class WinrmScheme(models.TextChoices):
        HTTP = "http", "HTTP"
        HTTPS = "https", "HTTPS"

    class WinrmTransport(models.TextChoices):
        NTLM = "ntlm", "NTLM"
        BASIC = "basic", "Basic"
        KERBEROS = "kerberos", "Kerberos"
        CREDSSP = "credssp", "CredSSP"

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="connection_methods")
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    # Empty: the credential's username.
    username = models.CharField(max_length=128, blank=True)
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.PROTECT, related_name="methods"
    )
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower is tried first.")
    is_primary = models.BooleanField(default=False)
    winrm_scheme = models.CharField(max_length=5, choices=WinrmScheme.choices, blank=True)
    winrm_transport = models.CharField(max_length=10, choices=WinrmTransport.choices, blank=True)
    winrm_validate_cert = models.BooleanField(default=True)

    class Meta:
        ordering = ("target", "-is_primary", "priority", "created_at")
        constraints = [
            models.UniqueConstraint(
                fields=["target"],
                condition=models.Q(is_primary=True),
                name="targets_one_primary_method",
            )
        ]

    def __str__(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"


class HostKey(BaseModel):
    """An SSH host key seen at or approved for a connection method's address."""

    class State(models.TextChoices):
        TRUSTED = "trusted", "Trusted"
        PENDING = "pending", "Seen, waiting for approval"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        SCAN = "scan", "Scanned on request"
        FIRST_USE = "first_use", "Trusted on first use (accept-new)"
        CONNECTION = "connection", "Presented at a connection and refused"
        MANUAL = "manual", "Entered by a user"

    method = models.ForeignKey(ConnectionMethod, on_delete=models.CASCADE, related_name="host_keys")
    algorithm = models.CharField(max_length=40)
    public_key = models.TextField()  # base64, as in known_hosts
    fingerprint = models.CharField(max_length=100, db_index=True)  # SHA256:...
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    source = models.CharField(max_length=12, choices=Source.choices)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_id = models.UUIDField(null=True, blank=True)
    decided_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("method", "-created_at")
        constraints = [
            models.UniqueConstraint(
                fields=["method", "algorithm", "public_key"], name="targets_host_key_once"
            )
        ]
        indexes = [
            # the keys waiting for a decision (the dashboard, ?host_key_pending=true): few
            models.Index(
                fields=["method"],
                name="targets_host_key_pending_idx",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.fingerprint} ({self.state})"


class HealthCheck(BaseModel):
    """One health check of one target: the history behind the target's current health."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="health_checks")
    method = models.ForeignKey(
        ConnectionMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    # Empty while the check is still running.
    status = models.CharField(max_length=20, choices=Target.Health.choices, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.target_id} {self.status}"
