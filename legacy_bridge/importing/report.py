"""The end report of an import: per table, what was read, imported, already present, skipped
and failed (with reasons), notes, and the verification of what the new system holds."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# At most this many failures (and skipped rows) are listed one by one per table; all are counted.
MAX_LISTED = 200


@dataclass
class TableReport:
    table: str
    read: int = 0
    imported: int = 0
    present: int = 0
    skipped: int = 0
    failed: int = 0
    # Rows imported earlier whose legacy content changed since (kept as imported; see docs).
    changed_since: int = 0
    skipped_reasons: Counter = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped_rows: list[dict[str, str]] = field(default_factory=list)
    changed_rows: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # extra figures (by method type, ...)
    verification: dict[str, Any] = field(default_factory=dict)
    # Imported rows worth a word each (e.g. schedules whose declared zone the legacy scheduler
    # ignored): {"id", "text", ...}; all of them, in the JSON report.
    remarks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def imported_one(self) -> None:
        self.imported += 1

    def present_one(self, legacy_id: Any = None, *, changed: bool = False) -> None:
        self.present += 1
        if changed:
            self.changed_since += 1
            if len(self.changed_rows) < MAX_LISTED:
                self.changed_rows.append(str(legacy_id))

    def skip(self, legacy_id: Any, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] += 1
        if len(self.skipped_rows) < MAX_LISTED:
            self.skipped_rows.append({"id": str(legacy_id), "reason": reason})

    def fail(self, legacy_id: Any, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED:
            self.failures.append({"id": str(legacy_id), "reason": reason})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def remark(self, entry: dict[str, Any]) -> None:
        self.remarks.append(entry)

    def count(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "read": self.read,
            "imported": self.imported,
            "already_present": self.present,
            "skipped": self.skipped,
            "failed": self.failed,
            "changed_since_import": self.changed_since,
            "skipped_reasons": dict(self.skipped_reasons),
            "skipped_rows": self.skipped_rows,
            "failures": self.failures,
            "changed_rows": self.changed_rows,
            "counts": self.counts,
            "notes": self.notes,
            "verification": self.verification,
            "remarks": self.remarks,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


@dataclass
class Report:
    dry_run: bool
    only: list[str]
    options: dict[str, Any]
    tables: dict[str, TableReport] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    run_id: str = ""
    error: str = ""

    def table(self, name: str) -> TableReport:
        if name not in self.tables:
            self.tables[name] = TableReport(name)
        return self.tables[name]

    @property
    def ok(self) -> bool:
        """No failure and every verification matched."""
        return not self.error and all(
            t.failed == 0 and t.verification.get("ok", True) for t in self.tables.values()
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "only": self.only,
            "options": self.options,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ok": self.ok,
            "error": self.error,
            "tables": {name: table.as_dict() for name, table in self.tables.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=False, default=str)

    def to_text(self) -> str:
        lines = []
        title = "Legacy import report" + (" (DRY RUN: nothing was written)" if self.dry_run else "")
        lines += [title, "=" * len(title)]
        lines.append(f"started {self.started_at}, finished {self.finished_at}")
        if self.only:
            lines.append(f"only: {', '.join(self.only)}")
        header = (
            f"{'table':<30} {'read':>8} {'imported':>9} {'present':>8} {'skipped':>8} "
            f"{'failed':>7} {'rows/s':>9}  verification"
        )
        lines += ["", header, "-" * len(header)]
        for table in self.tables.values():
            verification = table.verification
            verdict = (
                "-"
                if not verification
                else ("ok" if verification.get("ok") else "MISMATCH")
                + (f" ({verification['summary']})" if verification.get("summary") else "")
            )
            lines.append(
                f"{table.table:<30} {table.read:>8} {table.imported:>9} {table.present:>8} "
                f"{table.skipped:>8} {table.failed:>7} {table.rows_per_second:>9.0f}  {verdict}"
            )
        for table in self.tables.values():
            details = []
            if table.counts:
                details.append(
                    "counts: " + ", ".join(f"{k}={v}" for k, v in sorted(table.counts.items()))
                )
            details += [f"note: {note}" for note in table.notes]
            if table.changed_since:
                details.append(
                    f"changed in legacy since imported (kept as imported): {table.changed_since}"
                    f" (ids {', '.join(table.changed_rows[:20])})"
                )
            for remark in table.remarks[:MAX_LISTED]:
                details.append(f"#{remark['id']}: {remark['text']}")
            if len(table.remarks) > MAX_LISTED:
                details.append(
                    f"... {len(table.remarks) - MAX_LISTED} more listed in the JSON report"
                )
            for reason, n in table.skipped_reasons.most_common():
                details.append(f"skipped {n}: {reason}")
            for failure in table.failures[:50]:
                details.append(f"FAILED id {failure['id']}: {failure['reason']}")
            if table.failed > 50:
                details.append(f"... {table.failed - 50} more failures in the JSON report")
            for problem in table.verification.get("problems", [])[:20]:
                details.append(f"verification: {problem}")
            if details:
                lines += ["", f"{table.table}:"] + [f"  {line}" for line in details]
        if self.error:
            lines += ["", f"STOPPED: {self.error}"]
        lines += ["", "Result: " + ("OK" if self.ok else "problems found (see above)")]
        return "\n".join(lines) + "\n"
