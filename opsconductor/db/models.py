"""The base every OpsConductor model builds on."""

from __future__ import annotations

import uuid

from django.db import models


class BaseModel(models.Model):
    """UUID primary key plus created/updated timestamps.

    UUIDs make cross-app references plain columns that stay valid when an app moves to a
    database of its own (docs/architecture.md, "Boundary rules").
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ("-created_at",)
