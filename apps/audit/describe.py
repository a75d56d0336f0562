"""What an event means for the trail: its object, its outcome, its changes; secrets masked.

Events are named ``<app>.<entity>.<verb>`` (``targets.target.created``,
``execution.run.finished``, ``accounts.login.failed``) with a JSON payload. The trail reads:
- **object**: the entity (``target``; a login's is the ``user``), its id
  (``<entity>_id``, ``id``, ``user_id``) and display name (``name``, ``<entity>_name``,
  ``username``);
- **outcome**: ``failure`` for ``*.failed`` / ``*.failed_to_start``, ``denied`` for
  ``*.denied`` and ``*.scope_refused`` (a credential kept from a host outside its scope),
  ``missed`` for ``*.missed``, the run's or target's ``status`` for
  ``*.finished``, else ``success``;
- **changes**: the payload's ``changes`` (``{field: {"from": ..., "to": ...}}``), or a job
  version's ``diff`` (fields, and steps/parameters added, removed, changed).
Values under secret-looking keys (password, passphrase, secret, private_key, token values,
api keys) are replaced by ``********`` wherever they appear, in details and in changes.
"""

from __future__ import annotations

from typing import Any

MASK = "********"
SECRET_KEYS = frozenset(
    {
        "password",
        "passphrase",
        "secret",
        "private_key",
        "token",
        "access",
        "refresh",
        "api_key",
        "apikey",
        "authorization",
        "new_password",
        "old_password",
        "secret_value",
        "client_secret",
    }
)
SECRET_SUFFIXES = ("_password", "_passphrase", "_secret", "_private_key", "_api_key")
ENTITY_ALIASES = {"login": "user", "logout": "user"}


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES)


def masked(value: Any) -> Any:
    """``value`` with every value under a secret-looking key replaced by ``MASK``."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_key(str(k)) and v not in (None, "", MASK) else masked(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _first(payload: dict, *keys: str) -> str:
    for key in keys:
        value = payload.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


def describe(event_type: str, payload: dict) -> dict[str, Any]:
    """``object_type``, ``object_id``, ``object_name``, ``outcome``, ``changes`` of an event."""
    parts = event_type.split(".")
    entity = parts[1] if len(parts) >= 3 else parts[0]
    verb = parts[-1]
    object_type = ENTITY_ALIASES.get(entity, entity)
    object_id = _first(payload, f"{entity}_id", f"{object_type}_id", "id", "user_id")
    object_name = _first(payload, "name", f"{entity}_name", f"{object_type}_name", "username",
                         "target_name", "job_name", "schedule_name")  # fmt: skip
    if verb in ("failed", "failed_to_start"):
        outcome = "failure"
    elif verb in ("denied", "scope_refused"):
        outcome = "denied"
    elif verb == "missed":
        outcome = "missed"
    elif verb == "tested" and payload.get("outcome") == "failed":  # a channel's test notice
        outcome = "failure"
    elif verb == "finished" and payload.get("status"):
        outcome = str(payload["status"])
    else:
        outcome = "success"
    changes = payload.get("changes") or payload.get("diff")  # a job version's diff
    return {
        "object_type": object_type[:50],
        "object_id": object_id[:64],
        "object_name": object_name[:255],
        "outcome": outcome[:20],
        "changes": masked(changes) if isinstance(changes, dict) else {},
    }
