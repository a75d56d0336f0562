"""Stable legacy ids: the integer a legacy client knows an object by (docs/legacy-bridge.md,
"Legacy ids").

The legacy UI puts integer ids in its URLs (``/api/v3/targets/7``), while the new system's ids
are UUIDs. Every adapter translates through this module, both ways:

- an **imported** object keeps the id it had in the legacy system: the importer's mapping
  (``ImportedRecord``: legacy table + legacy id -> new id) is read when the registry does not
  know an object yet, and the pair is copied into the registry (``LegacyId``);
- an object **created in the new system** (through ``/api/v1``, the console, or an adapter)
  gets an id the first time an adapter shows it, from a range of its own that starts at
  ``LEGACY_ID_FLOOR`` (1,000,000,000 by default): the legacy backend, while it still runs side
  by side, keeps handing out ids from its own sequences, and the importer brings those objects
  over later with those ids; the two ranges never meet. The floor is below 2**53, so the ids
  stay exact as JavaScript numbers.

Ids are never reused: registry rows are never deleted (a legacy id of a deleted object keeps
pointing at nothing, a 404), and the counter only grows. Allocation is one ``UPDATE ...
RETURNING`` on the kind's counter row (it holds the row lock until the transaction ends), and
the registry's two unique constraints settle a race between two first exposures of one object.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import connections, transaction

from legacy_bridge.models import LegacyId, LegacyIdCounter

DB = "default"
IMPORTED = "imported"
ALLOCATED = "allocated"

# kind -> the legacy table the importer's mapping names
KINDS = {
    "users": "users",
    "targets": "universal_targets",
    "methods": "target_communication_methods",
    "credentials": "target_credentials",
    "jobs": "jobs",
    "executions": "job_executions",
    "results": "job_execution_results",
    "schedules": "job_schedules",
}
# Largest integer a JavaScript number (the legacy UI's) holds exactly.
MAX_SAFE_INTEGER = 2**53 - 1


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown legacy id kind {kind!r} (one of {', '.join(KINDS)})")
    return kind


def _imported(kind: str, *, new_ids=None, legacy_ids=None) -> list[tuple[int, uuid.UUID]]:
    """(legacy id, new id) pairs of the importer's mapping for ``kind``, smallest legacy id
    first (several legacy credentials may have become one credential: the smallest wins)."""
    from legacy_bridge.importing.models import ImportedRecord

    rows = ImportedRecord.objects.using(DB).filter(legacy_table=KINDS[kind])
    if new_ids is not None:
        rows = rows.filter(new_id__in=list(new_ids))
    if legacy_ids is not None:
        rows = rows.filter(legacy_id__in=[str(i) for i in legacy_ids])
    pairs = []
    for legacy_id, new_id in rows.values_list("legacy_id", "new_id"):
        try:
            pairs.append((int(legacy_id), new_id))
        except ValueError:  # a credential content digest, not an id
            continue
    return sorted(pairs)


def _register(kind: str, pairs: Iterable[tuple[int, uuid.UUID]], source: str) -> None:
    """Insert pairs the registry does not hold yet; a pair whose id or object another
    transaction registered first is skipped (the caller reads the registry back)."""
    rows = [LegacyId(kind=kind, legacy_id=lid, new_id=nid, source=source) for lid, nid in pairs]
    if rows:
        LegacyId.objects.using(DB).bulk_create(rows, ignore_conflicts=True)


def allocate(kind: str, count: int = 1) -> list[int]:
    """``count`` fresh ids of ``kind`` from the bridge's range (never handed out before)."""
    _check_kind(kind)
    floor = settings.LEGACY_ID_FLOOR
    table = LegacyIdCounter._meta.db_table
    with transaction.atomic(using=DB), connections[DB].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, next_value) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (kind) DO UPDATE SET next_value = "
            f"GREATEST({table}.next_value, %s) + %s RETURNING next_value",
            [kind, floor + count, floor, count],
        )
        end = cursor.fetchone()[0]
    first = end - count
    if end - 1 > MAX_SAFE_INTEGER:
        raise OverflowError("legacy ids exhausted: above 2**53 - 1")
    return list(range(first, end))


def legacy_ids_for(kind: str, new_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, int]:
    """The legacy id of each object of ``new_ids`` (allocated now for those that have none),
    in a few queries whatever their number."""
    _check_kind(kind)
    wanted = {uuid.UUID(str(i)) for i in new_ids}
    if not wanted:
        return {}
    found = dict(
        LegacyId.objects.using(DB)
        .filter(kind=kind, new_id__in=wanted)
        .values_list("new_id", "legacy_id")
    )
    missing = wanted - set(found)
    if missing:
        imported = {}
        for legacy_id, new_id in _imported(kind, new_ids=missing):
            imported.setdefault(new_id, legacy_id)
        _register(kind, [(lid, nid) for nid, lid in imported.items()], IMPORTED)
        fresh = sorted(missing - set(imported))
        if fresh:
            _register(kind, zip(allocate(kind, len(fresh)), fresh, strict=True), ALLOCATED)
        found.update(
            LegacyId.objects.using(DB)
            .filter(kind=kind, new_id__in=missing)
            .values_list("new_id", "legacy_id")
        )
        # an imported id another object holds already (a mapping edited by hand): a fresh one
        clashing = sorted(wanted - set(found))
        if clashing:
            _register(kind, zip(allocate(kind, len(clashing)), clashing, strict=True), ALLOCATED)
            found.update(
                LegacyId.objects.using(DB)
                .filter(kind=kind, new_id__in=clashing)
                .values_list("new_id", "legacy_id")
            )
    return found


def legacy_id_for(kind: str, new_id: uuid.UUID | str) -> int:
    return legacy_ids_for(kind, [new_id])[uuid.UUID(str(new_id))]


def new_id_for(kind: str, legacy_id: int) -> uuid.UUID | None:
    """The object the legacy id names, or None (never handed out, or not imported yet). The
    object may since have been deleted: the caller looks it up and answers 404 then."""
    _check_kind(kind)
    row = LegacyId.objects.using(DB).filter(kind=kind, legacy_id=legacy_id).first()
    if row is not None:
        return row.new_id
    pairs = _imported(kind, legacy_ids=[legacy_id])
    if not pairs:
        return None
    _register(kind, pairs[:1], IMPORTED)
    row = LegacyId.objects.using(DB).filter(kind=kind, legacy_id=legacy_id).first()
    return row.new_id if row is not None else None


def register(kind: str, legacy_id: int, new_id: uuid.UUID | str, *, source: str = IMPORTED):
    """Record that ``legacy_id`` names ``new_id`` (the importer, for objects whose legacy id is
    not in its mapping; tests seeding a legacy fixture). Raises ``ValueError`` when either
    side is already taken by another pair."""
    _check_kind(kind)
    new_id = uuid.UUID(str(new_id))
    _register(kind, [(legacy_id, new_id)], source)
    if not LegacyId.objects.using(DB).filter(kind=kind, legacy_id=legacy_id, new_id=new_id):
        raise ValueError(f"{kind}: legacy id {legacy_id} or object {new_id} is taken")
