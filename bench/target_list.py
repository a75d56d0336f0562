"""The target list and selector evaluation under load: CPU per request and latency.

``python -m bench target_list [--targets 5000] [--runs 200] [--profile]``

On a database of its own (default ``oc_bench_targets``, created and migrated if missing; the
bench refuses a database name without "bench" because it empties the targets tables at its
start), it writes ``--targets`` targets as an operator's inventory looks: 3-6 tags each out of
~40, 3-5 labels (role, site, team, tier, sometimes owner), one SSH or WinRM method each and a
second one for a fifth of them, 12 credentials, 15 groups (static members, saved selectors, a
group whose selector uses another), health statuses with check times and messages. Then, in
this process through the Django test client (the whole stack: middleware, session
authentication, filters, pagination, serializer, JSON rendering; settings as in production:
``DEBUG=false``), each request runs ``--warmup`` times, then ``--runs`` times measured, the
cases in turn (round robin: the shared machine's other load weighs on every case alike):

- ``GET /api/v1/me/``: the reference (the smallest authenticated endpoint);
- ``GET /api/v1/targets/?page_size=1``: what a list costs besides its rows;
- ``GET /api/v1/targets/?page_size=100``: the first page of 100;
- ``GET /api/v1/targets/?page_size=100&selector=...``: the page with a selector (tags, labels, a
  group whose saved selector uses another group, a negation);
- ``POST /api/v1/targets/select/?page_size=100``: the selector preview (page + count);
- ``GET /api/v1/targets/?page_size=100&page=20``: a page further on.

For each: CPU time of this process per request (``time.process_time()``; the database server's
CPU is not in it), wall-clock latency p50/p95, SQL queries per request and the response size.
``--profile`` prints a cProfile table (cumulative, top 35) of the page of 100 and of the
selector page. The database is disposable: ``dropdb oc_bench_targets``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.setup import django_for_bench

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oc_bench_targets"

ROLES = ("web", "db", "app", "cache", "lb", "batch", "mq", "edge", "win-app", "win-sql")
SITES = ("fra1", "ams2", "nyc3", "sfo2", "sin1")
REGIONS = {"fra1": "eu-central", "ams2": "eu-west", "nyc3": "us-east", "sfo2": "us-west",
           "sin1": "ap-southeast"}  # fmt: skip
TEAMS = ("payments", "search", "platform", "identity", "data", "growth")
EXTRA_TAGS = ("nginx", "postgres", "redis", "rabbitmq", "java", "python", "go", "docker",
              "k8s-node", "pci", "gdpr", "backup", "monitoring", "legacy", "canary", "blue",
              "green", "ipv6", "public", "internal", "ubuntu-22", "ubuntu-24", "rhel-9",
              "windows-2022", "iis", "mssql", "dotnet", "arm64", "x86_64", "spot")  # fmt: skip
HEALTH = (("healthy", 80), ("unreachable", 8), ("unknown", 6), ("auth_failed", 2),
          ("host_key_unknown", 2), ("error", 2))  # fmt: skip
MESSAGES = {"healthy": "ok ({host})", "unreachable": "connection timed out after 10 s",
            "unknown": "", "auth_failed": "authentication failed for user deploy",
            "host_key_unknown": "host key ssh-ed25519 SHA256:{fp} is not trusted yet",
            "error": "hostname exited with status 127"}  # fmt: skip
SELECTOR = (
    "env=production and tag:web and (label:site in (fra1, ams2) or group:payments-prod) "
    "and not label:tier=3"
)


def _refuse_foreign_databases() -> None:
    from django.conf import settings

    for alias, config in settings.DATABASES.items():
        if "bench" not in config["NAME"]:
            sys.exit(f"refusing to empty {alias}={config['NAME']}: not a bench database")


def seed(n: int, rng: random.Random) -> dict:
    """Write the inventory with bulk inserts (the services would publish 5,000 events)."""
    from django.db import connections, transaction

    from apps.targets.models import (
        ConnectionMethod,
        Credential,
        Group,
        Tag,
        Target,
        TargetLabel,
    )
    from opsconductor.sealing import seal

    db = "targets"
    with connections[db].cursor() as cursor:
        cursor.execute(
            "TRUNCATE targets_healthcheck, targets_hostkey, targets_connectionmethod, "
            "targets_credential, targets_group_members, targets_group, targets_targetlabel, "
            "targets_target_tags, targets_tag, targets_target CASCADE"
        )
    now = datetime.now(UTC)
    started = time.perf_counter()
    with transaction.atomic(using=db):
        tags = {
            name: Tag(name=name)
            for name in (*ROLES, *EXTRA_TAGS, *SITES, "linux", "windows", "prod", "staging")
        }
        Tag.objects.using(db).bulk_create(tags.values())
        credentials = [
            Credential(
                name=f"cred-{i:02d}",
                kind="winrm" if i >= 10 else "password",
                username="deploy" if i < 10 else "Administrator",
                secret=seal({"password": f"bench-secret-{i}"}),
                secret_set_at=now,
                secret_set_by_name="bench",
            )
            for i in range(12)
        ]
        Credential.objects.using(db).bulk_create(credentials)
        targets, labels, methods, through = [], [], [], []
        envs = ("production",) * 6 + ("staging",) * 2 + ("development", "testing")
        statuses, weights = zip(*HEALTH, strict=True)
        for i in range(n):
            role = rng.choice(ROLES)
            site = rng.choice(SITES)
            windows = role.startswith("win")
            env = rng.choice(envs)
            health = rng.choices(statuses, weights)[0]
            name = f"{role}-{site}-{i:05d}"
            host = f"{name}.{site}.example.net"
            target = Target(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                name=name,
                description=f"{role} server {i} in {site}, owned by {rng.choice(TEAMS)}",
                os_family="windows" if windows else "linux",
                environment=env,
                location=f"rack {rng.randint(1, 40)}",
                data_center=site,
                region=REGIONS[site],
                status=rng.choices(("active", "inactive", "maintenance"), (90, 5, 5))[0],
                host_key_policy=rng.choice(("strict", "accept-new")),
                health_status=health,
                health_checked_at=None
                if health == "unknown"
                else now - timedelta(seconds=rng.randint(0, 86400)),
                health_latency_ms=None if health == "unknown" else rng.randint(5, 900),
                health_message=MESSAGES[health].format(host=host, fp=uuid.uuid4().hex),
                created_by_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            )
            targets.append(target)
            names = {role, site, "windows" if windows else "linux"}
            names.update(rng.sample(EXTRA_TAGS, rng.randint(0, 3)))
            if env in ("production", "staging"):
                names.add("prod" if env == "production" else "staging")
            through.extend(
                Target.tags.through(target_id=target.id, tag_id=tags[t].id) for t in names
            )
            pairs = {"role": role, "site": site, "team": rng.choice(TEAMS),
                     "tier": str(rng.randint(1, 3))}  # fmt: skip
            if rng.random() < 0.4:
                pairs["owner"] = f"{rng.choice(TEAMS)}-oncall@example.net"
            labels.extend(TargetLabel(target=target, key=k, value=v) for k, v in pairs.items())
            protocols = ["winrm" if windows else "ssh"]
            if rng.random() < 0.2:
                protocols.append("ssh")
            for priority, protocol in enumerate(protocols):
                methods.append(
                    ConnectionMethod(
                        target=target,
                        protocol=protocol,
                        host=host if priority == 0 else f"10.{i // 250}.{i % 250}.{priority + 9}",
                        port={"ssh": 22, "winrm": 5985}[protocol],
                        username="" if rng.random() < 0.7 else "ops",
                        credential=rng.choice(
                            credentials[10:] if protocol == "winrm" else credentials[:10]
                        ),
                        priority=priority,
                        is_primary=priority == 0,
                        winrm_scheme="http" if protocol == "winrm" else "",
                        winrm_transport="ntlm" if protocol == "winrm" else "",
                    )
                )
        Target.objects.using(db).bulk_create(targets, batch_size=1000)
        Target.tags.through.objects.using(db).bulk_create(through, batch_size=5000)
        TargetLabel.objects.using(db).bulk_create(labels, batch_size=5000)
        ConnectionMethod.objects.using(db).bulk_create(methods, batch_size=2000)
        groups = [
            Group(name=f"{team}-prod", selector=f"env=production and label:team={team}")
            for team in TEAMS
        ]
        groups += [Group(name=f"site-{site}", selector=f"tag:{site}") for site in SITES]
        groups += [
            Group(name="eu-web", selector="tag:web and (group:site-fra1 or group:site-ams2)"),
            Group(name="pets", description="hand-picked"),
            Group(name="on-call", description="hand-picked", selector="label:owner"),
            Group(name="canaries", selector="tag:canary"),
        ]
        Group.objects.using(db).bulk_create(groups)
        by_name = {g.name: g for g in groups}
        members = [
            Group.members.through(group_id=by_name[g].id, target_id=t.id)
            for g in ("pets", "on-call", "payments-prod")
            for t in rng.sample(targets, 200)
        ]
        Group.members.through.objects.using(db).bulk_create(members)
    with connections[db].cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "targets": n,
        "tags": len(through),
        "labels": len(labels),
        "methods": len(methods),
        "groups": len(groups),
        "seconds": time.perf_counter() - started,
    }


class _Queries:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(client, cases: list[tuple], runs: int, warmup: int) -> list[dict]:
    """Every case ``runs`` times, round robin (one request of each in turn), so that the
    machine's other load weighs on all of them alike."""
    from django.db import connections

    def call(method, url, body):
        if method == "post":
            return client.post(url, body, format="json")
        return client.get(url)

    for _, method, url, body in cases:
        for _ in range(warmup):
            response = call(method, url, body)
            assert response.status_code == 200, (url, response.status_code, response.content[:500])
    counters = [_Queries() for _ in cases]
    cpu: list[list[float]] = [[] for _ in cases]
    wall: list[list[float]] = [[] for _ in cases]
    last = [None] * len(cases)
    for _ in range(runs):
        for i, (_, method, url, body) in enumerate(cases):
            with (
                connections["targets"].execute_wrapper(counters[i]),
                connections["default"].execute_wrapper(counters[i]),
            ):
                c0, w0 = time.process_time(), time.perf_counter()
                last[i] = call(method, url, body)
                cpu[i].append(time.process_time() - c0)
                wall[i].append(time.perf_counter() - w0)
    figures = []
    for i, response in enumerate(last):
        assert response.status_code == 200
        body = response.json()
        figures.append(
            {
                "cpu_ms": statistics.mean(cpu[i]) * 1000,
                "cpu_median_ms": statistics.median(cpu[i]) * 1000,
                "p50_ms": _pct(wall[i], 50) * 1000,
                "p95_ms": _pct(wall[i], 95) * 1000,
                "rps": 1 / statistics.mean(wall[i]),
                "queries": counters[i].count / runs,
                "bytes": len(response.content),
                "count": body.get("count") if isinstance(body, dict) else None,
            }
        )
    return figures


def profile(client, url: str, runs: int = 20) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    return out.getvalue()


def main(argv=()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench target_list")
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200, help="measured requests per case")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the inventory already there")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables")
    args = parser.parse_args(list(argv))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    django_for_bench()
    _refuse_foreign_databases()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from apps.targets.models import Target

    print(" ".join(platform.uname()), flush=True)
    if not (args.reuse and Target.objects.using("targets").count() == args.targets):
        shape = seed(args.targets, random.Random(args.seed))
        print(f"seeded {shape['targets']:,} targets, {shape['tags']:,} tag links, "
              f"{shape['labels']:,} labels, {shape['methods']:,} methods, {shape['groups']} "
              f"groups in {shape['seconds']:.1f} s", flush=True)  # fmt: skip
    user, _ = get_user_model().objects.get_or_create(
        username="bench-targets-manager", defaults={"role": "manager"}
    )
    client = APIClient()
    client.force_login(user)
    page = "/api/v1/targets/?page_size=100"
    with_selector = f"{page}&selector={SELECTOR}"
    cases = [
        ("GET /me/ (reference)", "get", "/api/v1/me/", None),
        ("GET /targets/?page_size=1", "get", "/api/v1/targets/?page_size=1", None),
        ("GET /targets/?page_size=100", "get", page, None),
        ("GET /targets/?page_size=100&selector=…", "get", with_selector, None),
        (
            "POST /targets/select/?page_size=100",
            "post",
            "/api/v1/targets/select/?page_size=100",
            {"selector": SELECTOR},
        ),
        ("GET /targets/?page_size=100&page=20", "get", f"{page}&page=20", None),
    ]
    print(f"selector: {SELECTOR}")
    print(f"{args.runs} measured requests per case (round robin) after {args.warmup} warm-up, "
          "in-process "
          "(Django test client, session auth, DEBUG=false)\n")  # fmt: skip
    print("| request | CPU ms/request (mean / median) | p50 ms | p95 ms | requests/s (1 thread) "
          "| SQL queries | bytes | count |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for (label, *_), f in zip(cases, measure(client, cases, args.runs, args.warmup), strict=True):
        print(f"| {label} | {f['cpu_ms']:.1f} / {f['cpu_median_ms']:.1f} | {f['p50_ms']:.1f} | "
              f"{f['p95_ms']:.1f} | {f['rps']:.0f} | {f['queries']:.0f} | {f['bytes']:,} | "
              f"{'' if f['count'] is None else f['count']} |", flush=True)  # fmt: skip
    if args.profile:
        for url in (page, with_selector):
            print(f"\ncProfile of 20 x GET {url}\n")
            print(profile(client, url))
