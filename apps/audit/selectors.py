"""Reads of the audit context."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.audit.models import AuditRecord


def audit_records() -> QuerySet[AuditRecord]:
    return AuditRecord.objects.all()
