"""The route table as every web process sees it: defaults from settings, rows from the
database on top, the longest matching prefix wins.

Each process caches the table with the version it was read at. ``current_table()`` reads the
version row (one primary-key lookup, measured in docs/benchmarks.md) on every request and
reloads the rows only when another process (or this one) changed them: a flip takes effect on
the next request everywhere, without a restart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router

from legacy_bridge.models import Mode, Route, RouteTableVersion

# The URL space config/urls.py sends to the bridge; a prefix elsewhere could never match.
BRIDGE_URL_SPACES = ("/api/v3", "/api/schedules")
_PREFIX = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


@dataclass(frozen=True)
class RouteRule:
    """One entry of the route table as the bridge applies it."""

    prefix: str
    mode: str
    new_url: str = ""
    adapter: str = ""
    message: str = ""
    source: str = "settings"  # "settings" (a default) or "database" (a row)
    id: str | None = None

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


def normalize_prefix(text: str) -> str:
    """``/api/v3/targets/`` -> ``/api/v3/targets``; raises ``ValueError`` with the reason."""
    prefix = (text or "").strip()
    if not prefix.startswith("/"):
        raise ValueError("Must be a path starting with '/'.")
    if "?" in prefix or "#" in prefix or not _PREFIX.match(prefix):
        raise ValueError("Must be a plain path (no query string, fragment or spaces).")
    while "//" in prefix:
        prefix = prefix.replace("//", "/")
    prefix = prefix.rstrip("/") or "/"
    if any(part in (".", "..") for part in prefix.split("/")):
        raise ValueError("Must not contain '.' or '..' segments.")
    if not any(prefix == s or prefix.startswith(s + "/") for s in BRIDGE_URL_SPACES):
        raise ValueError(
            "Must lie in the legacy URL space the bridge serves: "
            + " or ".join(f"{s}/..." for s in BRIDGE_URL_SPACES)
            + "."
        )
    return prefix


def default_rules() -> list[RouteRule]:
    """``LEGACY_BRIDGE_DEFAULT_ROUTES`` (``"prefix=mode"`` items) as rules."""
    rules = []
    for item in settings.LEGACY_BRIDGE_DEFAULT_ROUTES:
        prefix, sep, mode = item.partition("=")
        try:
            if not sep or mode.strip() not in Mode.values:
                raise ValueError(f"mode must be one of {', '.join(Mode.values)}")
            rules.append(RouteRule(prefix=normalize_prefix(prefix), mode=mode.strip()))
        except ValueError as exc:
            raise ImproperlyConfigured(f"LEGACY_BRIDGE_DEFAULT_ROUTES: {item!r}: {exc}") from exc
    return rules


def _rule_of(row: Route) -> RouteRule:
    return RouteRule(
        prefix=row.prefix,
        mode=row.mode,
        new_url=row.new_url,
        adapter=row.adapter,
        message=row.message,
        source="database",
        id=str(row.id),
    )


@dataclass(frozen=True)
class RouteTable:
    version: int
    defaults: tuple[str, ...]  # the settings the defaults were read from
    rules: tuple[RouteRule, ...]  # longest prefix first

    def match(self, path: str) -> RouteRule | None:
        for rule in self.rules:
            if rule.matches(path):
                return rule
        return None


def load_table(version: int, rows: Iterable[Route] | None = None) -> RouteTable:
    """The settings' defaults with ``rows`` (all the Route rows when not given) on top."""
    by_prefix = {rule.prefix: rule for rule in default_rules()}
    for row in Route.objects.all() if rows is None else rows:
        by_prefix[row.prefix] = _rule_of(row)
    rules = sorted(by_prefix.values(), key=lambda r: (-len(r.prefix), r.prefix))
    return RouteTable(
        version=version, defaults=tuple(settings.LEGACY_BRIDGE_DEFAULT_ROUTES), rules=tuple(rules)
    )


def table_version() -> int:
    """The route table's version: one primary-key read per request, in plain SQL (the ORM's
    query building costs more than the read itself; docs/benchmarks.md)."""
    connection = connections[router.db_for_read(RouteTableVersion)]
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0


_VERSION_SQL = f"SELECT version FROM {RouteTableVersion._meta.db_table} WHERE id = 1"  # noqa: S608


_lock = threading.Lock()
_cached: RouteTable | None = None
_checked_at = 0.0


def current_table() -> RouteTable:
    """The route table, reloaded when its version moved since this process last read it.

    The version is read on every call, or at most every ``LEGACY_BRIDGE_ROUTES_CHECK_SECONDS``
    when that is set (a flip then takes up to that long to reach every process)."""
    global _cached, _checked_at
    defaults = tuple(settings.LEGACY_BRIDGE_DEFAULT_ROUTES)
    table = _cached
    interval = settings.LEGACY_BRIDGE_ROUTES_CHECK_SECONDS
    if (
        interval > 0
        and table is not None
        and table.defaults == defaults
        and time.monotonic() - _checked_at < interval
    ):
        return table
    version = table_version()
    _checked_at = time.monotonic()
    if table is not None and (table.version, table.defaults) == (version, defaults):
        return table
    with _lock:
        if _cached is None or (_cached.version, _cached.defaults) != (version, defaults):
            _cached = load_table(version)
        return _cached


def last_known_table() -> RouteTable:
    """The table this process read last, or the settings' defaults alone (the database is
    unreachable: the bridge keeps forwarding rather than failing every request)."""
    table = _cached
    if table is not None:
        return table
    rules = sorted(default_rules(), key=lambda r: (-len(r.prefix), r.prefix))
    return RouteTable(
        version=-1, defaults=tuple(settings.LEGACY_BRIDGE_DEFAULT_ROUTES), rules=tuple(rules)
    )


def forget_cached_table() -> None:
    """Drop this process's cached table (tests that change settings defaults)."""
    global _cached
    with _lock:
        _cached = None
