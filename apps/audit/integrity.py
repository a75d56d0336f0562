"""The audit trail's integrity scheme: canonical content, the hash chain, signed checkpoints.

Each record's ``hash`` is ``SHA-256(prev_hash + "\\n" + canonical(record))``, where
``canonical`` is the JSON of every recorded field (id, sequence, times, actor, where, what,
object, outcome, details, changes) with sorted keys, no spaces, times in UTC ISO 8601 with
microseconds. ``prev_hash`` of the first record (or of the first after a retention purge) is the
hash of the checkpoint that precedes it; of the very first record, 64 zeros (``GENESIS``).

So changing any field of a record changes its hash (an **altered** record); removing a record
leaves a gap in ``sequence`` and a ``prev_hash`` that no longer matches (**removed**); adding one
breaks the sequence or the link (**inserted**). A checkpoint is signed with HMAC-SHA256 under the
audit key (``AUDIT_SIGNING_KEY``, default derived from ``SECRET_KEY``), so that a purge cannot be
faked by someone who can write to the database but does not hold the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

GENESIS = "0" * 64
FIELDS = (
    "id", "sequence", "action", "occurred_at", "recorded_at", "actor_kind", "actor_id",
    "actor_name", "source_ip", "user_agent", "request_id", "object_type", "object_id",
    "object_name", "outcome", "details", "changes",
)  # fmt: skip


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(values: dict[str, Any]) -> bytes:
    """The canonical bytes of a record's content (``values``: the fields above)."""
    content = {}
    for name in FIELDS:
        value = values.get(name)
        if isinstance(value, datetime):
            value = _time(value)
        elif name in ("id",) and value is not None:
            value = str(value)
        elif name == "source_ip" and value is None:
            value = ""
        content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()  # fmt: skip


def chain_hash(prev_hash: str, values: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical(values))
    return digest.hexdigest()


def canonical_parts(values: dict[str, Any]) -> tuple[bytes, bytes]:
    """``canonical(values)`` without its sequence, cut where the sequence goes: a writer
    prepares these before it knows the record's place in the chain (outside the chain's lock)
    and finishes with ``chain_hash_of_parts``. ``FIELDS`` are dumped with sorted keys, so the
    fields before "sequence" and those after it are two runs of the same JSON."""
    text = canonical({**values, "sequence": 0}).decode()
    marker = ',"sequence":0,'
    cut = text.rindex(marker)  # the last one: only user_agent and source_ip, strings, follow
    return text[: cut + len(marker) - 2].encode(), text[cut + len(marker) - 1 :].encode()


def chain_hash_of_parts(prev_hash: str, parts: tuple[bytes, bytes], sequence: int) -> str:
    """``chain_hash`` of the record whose ``canonical_parts`` are ``parts``."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(parts[0])
    digest.update(str(sequence).encode())
    digest.update(parts[1])
    return digest.hexdigest()


def record_values(record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in FIELDS}


def signing_key() -> bytes:
    key = getattr(settings, "AUDIT_SIGNING_KEY", "") or ""
    if key:
        return key.encode()
    return hashlib.sha256(b"opsconductor-audit-checkpoint:" + settings.SECRET_KEY.encode()).digest()


def checkpoint_content(checkpoint) -> bytes:
    return json.dumps(
        {
            "kind": checkpoint.kind,
            "sequence": checkpoint.sequence,
            "hash": checkpoint.hash,
            "removed_count": checkpoint.removed_count,
            "removed_until": _time(checkpoint.removed_until) if checkpoint.removed_until else None,
            "first_removed_sequence": checkpoint.first_removed_sequence,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def sign_checkpoint(checkpoint) -> str:
    return hmac.new(signing_key(), checkpoint_content(checkpoint), hashlib.sha256).hexdigest()


def checkpoint_is_authentic(checkpoint) -> bool:
    return hmac.compare_digest(sign_checkpoint(checkpoint), checkpoint.signature)
