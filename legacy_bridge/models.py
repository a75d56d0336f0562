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
