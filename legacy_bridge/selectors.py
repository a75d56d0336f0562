"""Reads: the route table with each prefix's traffic over the last day and week."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from legacy_bridge import traffic
from legacy_bridge.models import Route, TrafficBucket
from legacy_bridge.routing import RouteRule, load_table, table_version

DB = "default"


@dataclass
class Traffic:
    total: int = 0
    by_status_class: dict[str, int] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)

    def add(self, *, method: str, status_class: str, count: int) -> None:
        self.total += count
        self.by_status_class[status_class] = self.by_status_class.get(status_class, 0) + count
        self.by_method[method] = self.by_method.get(method, 0) + count


@dataclass
class RouteView:
    rule: RouteRule | None
    prefix: str
    last_day: Traffic
    last_week: Traffic
    last_seen: datetime | None
    route: Route | None = None


def routes_with_traffic(*, now: datetime | None = None) -> list[RouteView]:
    """Every prefix of the route table (defaults and rows), plus prefixes that no longer have a
    rule but still got traffic this week, each with its traffic of the last 24 hours and the
    last 7 days (hourly buckets: the window starts at the top of the hour 24 h / 7 d ago).

    This process's pending counts are written first, so a reader sees its own requests."""
    traffic.flush()
    now = now or timezone.now()
    day_start = traffic.hour_of(now - timedelta(hours=24))
    week_start = traffic.hour_of(now - timedelta(days=7))
    rows = {route.prefix: route for route in Route.objects.using(DB).all()}
    table = load_table(table_version(), rows.values())
    views: dict[str, RouteView] = {
        rule.prefix: RouteView(
            rule=rule,
            prefix=rule.prefix,
            last_day=Traffic(),
            last_week=Traffic(),
            last_seen=None,
            route=rows.get(rule.prefix),
        )
        for rule in sorted(table.rules, key=lambda r: r.prefix)
    }
    buckets = (
        TrafficBucket.objects.using(DB)
        .filter(hour__gte=week_start)
        .values("prefix", "method", "status_class", "hour")
        .annotate(n=Sum("count"))
    )
    last_seen: dict[str, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=now.tzinfo))
    for bucket in buckets:
        view = views.get(bucket["prefix"])
        if view is None:
            view = views[bucket["prefix"]] = RouteView(
                rule=None,
                prefix=bucket["prefix"],
                last_day=Traffic(),
                last_week=Traffic(),
                last_seen=None,
            )
        keys = {"method": bucket["method"], "status_class": bucket["status_class"]}
        view.last_week.add(count=bucket["n"], **keys)
        if bucket["hour"] >= day_start:
            view.last_day.add(count=bucket["n"], **keys)
        last_seen[bucket["prefix"]] = max(last_seen[bucket["prefix"]], bucket["hour"])
    older = (
        TrafficBucket.objects.using(DB)
        .filter(prefix__in=[p for p in views if p not in last_seen])
        .values("prefix")
        .annotate(hour=Max("hour"))
    )
    for row in older:
        last_seen[row["prefix"]] = row["hour"]
    for prefix, view in views.items():
        view.last_seen = last_seen.get(prefix)
    return sorted(views.values(), key=lambda v: v.prefix)
