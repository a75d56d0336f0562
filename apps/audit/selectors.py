"""Reads of the audit context: the trail, filtered; the compliance report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from apps.audit.models import AuditRecord

DB = "audit"
# what the compliance report lists as changes to who may do what
ACCESS_ACTIONS = ("targets.credential.", "accounts.user.", "accounts.token.")


def audit_records() -> QuerySet[AuditRecord]:
    return AuditRecord.objects.using(DB).all()


def compliance_report(*, since: datetime, until: datetime) -> dict[str, Any]:
    """For a time range: who ran what on which targets with what outcome, and every change to
    credentials, users, roles and API tokens."""
    window = audit_records().filter(occurred_at__gte=since, occurred_at__lt=until)
    requested = {
        r.object_id: r for r in window.filter(action="execution.run.requested").order_by("sequence")
    }
    finished = {
        r.object_id: r for r in window.filter(action="execution.run.finished").order_by("sequence")
    }
    targets: dict[str, list[dict]] = {}
    for record in window.filter(action="execution.target.finished").order_by("sequence"):
        targets.setdefault(str(record.details.get("run_id", "")), []).append(
            {
                "target": record.details.get("target_name", ""),
                "target_id": record.details.get("target_id"),
                "status": record.details.get("status"),
                "exit_code": record.details.get("exit_code"),
                "reason": record.details.get("reason", ""),
            }
        )
    runs = []
    for run_id, record in requested.items():
        end = finished.get(run_id)
        runs.append({
            "run_id": run_id, "at": record.occurred_at, "job": record.details.get("job_name"),
            "job_id": record.details.get("job_id"),
            "job_version": record.details.get("job_version"),
            "trigger": record.details.get("trigger"),
            "by": {"kind": record.actor_kind, "id": record.actor_id or None,
                   "name": record.actor_name},
            "source_ip": record.source_ip, "selector": record.details.get("selector"),
            "status": end.outcome if end else "not finished in the range",
            "counts": end.details.get("counts", {}) if end else {},
            "targets": targets.get(run_id, []),
        })  # fmt: skip
    access = Q()
    for prefix in ACCESS_ACTIONS:
        access |= Q(action__startswith=prefix)
    changes = [
        {
            "at": r.occurred_at,
            "action": r.action,
            "object_type": r.object_type,
            "object_id": r.object_id,
            "object_name": r.object_name,
            "outcome": r.outcome,
            "by": {"kind": r.actor_kind, "id": r.actor_id or None, "name": r.actor_name},
            "source_ip": r.source_ip,
            "changes": r.changes,
            "sequence": r.sequence,
        }
        for r in window.filter(access).order_by("sequence")
    ]
    return {"since": since, "until": until, "runs": runs, "access_changes": changes}
