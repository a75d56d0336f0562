"""What other packages may ask of the bridge (docs/architecture.md: interface.py is the only
module others import). The apps themselves never import the bridge (import-linter contract)."""

from __future__ import annotations

from legacy_bridge.routing import RouteRule, current_table

__all__ = ["RouteRule", "route_for_path"]


def route_for_path(*, path: str) -> RouteRule | None:
    """The rule the bridge applies to ``path`` now (longest matching prefix), or ``None``."""
    return current_table().match(path)
