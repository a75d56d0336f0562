"""Adapters: migrated legacy routes answered by the new system in the legacy JSON shape.

One module per legacy area (docs/legacy-bridge.md, "Adapters"): ``auth`` (sign-in and the
session calls), ``users``, ``targets``, ``jobs`` (jobs and executions), ``schedules`` (both
URL spaces), ``system`` (info, settings, time, status, health), ``audit``. The machinery
(registration, matching, declared access) is in ``registry``; shared helpers (legacy ids, body
parsing, the legacy error shapes) in ``common``. Adapters read and write the new system through
the apps' ``interface.py`` only.
"""

from legacy_bridge.adapters.registry import (
    Adapter,
    AdapterFunction,
    Area,
    Endpoint,
    Match,
    _adapters,
    adapter_names,
    get_adapter,
    register_adapter,
)

# the areas register themselves on import
from legacy_bridge.adapters import system  # noqa: F401  isort: skip
from legacy_bridge.adapters import auth  # noqa: F401  isort: skip
from legacy_bridge.adapters import users  # noqa: F401  isort: skip
from legacy_bridge.adapters import targets  # noqa: F401  isort: skip
from legacy_bridge.adapters import jobs  # noqa: F401  isort: skip
from legacy_bridge.adapters import schedules  # noqa: F401  isort: skip
from legacy_bridge.adapters import audit  # noqa: F401  isort: skip

__all__ = [
    "Adapter",
    "AdapterFunction",
    "Area",
    "Endpoint",
    "Match",
    "_adapters",
    "adapter_names",
    "get_adapter",
    "register_adapter",
]
