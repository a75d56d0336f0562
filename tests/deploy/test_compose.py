"""deploy/compose.yaml against the code it runs (no Docker engine here to run it).

Every service of the OpsConductor image runs a command the entrypoint knows and sets only
environment variables something reads; every queue has a worker; one beat; one migrator that
the long-running services wait for; the gateway mounts the nginx configuration the gateway test
runs in real nginx. The Dockerfile keeps the properties docs/deploy.md promises.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from opsconductor.conf import ALIAS_ENV_VARS, APP_ALIASES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENTRYPOINT = (DEPLOY / "entrypoint.sh").read_text()
RENDER = (DEPLOY / "nginx" / "render.sh").read_text()
IMAGE = "opsconductor:latest"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def app_services(compose) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if s.get("image") == IMAGE}


def entrypoint_commands() -> set[str]:
    body = ENTRYPOINT[ENTRYPOINT.index('case "$cmd" in') :]
    return set(re.findall(r"^  ([a-z]+)\)", body, flags=re.MULTILINE))


def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads (env.str("NAME", ...) and the like,
    and the per-app database URLs)."""
    source = (ROOT / "config" / "settings.py").read_text()
    names = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z0-9_]+)\"", source))
    names |= set(re.findall(r"_secret\(\s*\"([A-Z0-9_]+)\"", source))
    return names | set(ALIAS_ENV_VARS.values()) | {"DATABASE_URL"}


def shell_variables(script: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", script))


def test_the_reference_lists_are_not_empty():
    # guards the parsers below: a regex that matched nothing would make every check pass
    assert {"web", "worker", "beat", "migrate", "collectstatic", "healthcheck"} <= (
        entrypoint_commands()
    )
    assert {"SECRET_KEY", "OPSCONDUCTOR_SEAL_KEYS", "CELERY_BROKER_URL", "TRUSTED_PROXIES",
            "STATIC_ROOT", "EXECUTION_DATABASE_URL"} <= settings_variables()  # fmt: skip
    assert {"WEB_WORKERS", "WORKER_THREADS", "WORKER_NAME"} <= shell_variables(ENTRYPOINT)
    assert {"OC_SERVER_NAME", "OC_WEB_SERVERS", "OC_TLS_CERT"} <= shell_variables(RENDER)


def test_every_service_runs_a_command_the_entrypoint_knows(compose):
    services = app_services(compose)
    assert {"migrator", "web1", "web2", "beat"} <= set(services)
    for name, service in services.items():
        command = service["command"]
        assert command[0] in entrypoint_commands(), (name, command)


def test_every_variable_set_is_read_by_the_code_and_documented(compose):
    known = settings_variables() | shell_variables(ENTRYPOINT) | {"DJANGO_SETTINGS_MODULE"}
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                                flags=re.MULTILINE))  # fmt: skip
    for name, service in app_services(compose).items():
        for variable in service["environment"]:
            assert variable in known, f"{name} sets {variable}, which nothing reads"
            assert variable in documented, f"{variable} ({name}) is not in .env.example"
    gateway = compose["services"]["gateway"]
    for variable in gateway["environment"]:
        assert variable in shell_variables(RENDER), f"the gateway sets {variable}; render.sh?"


def test_every_queue_has_a_worker_and_there_is_one_beat_and_one_migrator(compose):
    services = app_services(compose)
    queues: set[str] = set()
    for service in services.values():
        if service["command"][0] == "worker":
            listed = service["command"][1].split(",")
            assert set(listed) <= {"kernel", *APP_ALIASES}, listed
            queues |= set(listed)
    assert queues == {"kernel", *APP_ALIASES}
    assert [n for n, s in services.items() if s["command"] == ["beat"]] == ["beat"]
    migrators = [n for n, s in services.items() if s["command"][0] == "migrate"]
    assert migrators == ["migrator"] and services["migrator"]["restart"] == "no"
    for name, service in services.items():
        if service["command"][0] in {"web", "worker", "beat"}:
            assert service["depends_on"]["migrator"] == {
                "condition": "service_completed_successfully"
            }, name
    web = [n for n, s in services.items() if s["command"] == ["web"]]
    assert len(web) == 2


def test_the_gateway_runs_the_tested_configuration(compose):
    gateway = compose["services"]["gateway"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gateway["volumes"]}
    assert (DEPLOY / mounts["/opt/opsconductor/nginx"]).resolve() == DEPLOY / "nginx"
    command = " ".join(gateway["command"])
    assert "/opt/opsconductor/nginx/render.sh /etc/nginx/conf.d" in command
    assert "rm -f /etc/nginx/conf.d/default.conf" in command  # no second default server
    web = [n for n, s in app_services(compose).items() if s["command"] == ["web"]]
    assert all("PORT" not in app_services(compose)[n]["environment"] for n in web)
    web_ports = {f"{n}:8000" for n in web}  # the image's PORT
    assert set(gateway["environment"]["OC_WEB_SERVERS"].split()) == web_ports
    # static files: written by the static service, read by the gateway, where settings say
    static = compose["services"]["static"]
    assert static["command"] == ["collectstatic"]
    root = static["environment"]["STATIC_ROOT"]
    assert f"static:{root}" in static["volumes"]
    assert (
        gateway["environment"]["OC_STATIC_ROOT"] == root
        and f"static:{root}:ro" in (gateway["volumes"])
    )
    # the web processes believe X-Forwarded-For from the gateway's address only
    address = gateway["networks"]["default"]["ipv4_address"]
    assert all(s["environment"]["TRUSTED_PROXIES"] == address
               for s in app_services(compose).values())  # fmt: skip


def test_the_image_is_multi_stage_unprivileged_and_checks_its_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM ", dockerfile, flags=re.MULTILINE)
    assert len(stages) == 2
    final = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert re.search(r"^USER opsconductor$", final, flags=re.MULTILINE)
    assert 'CMD ["/app/deploy/entrypoint.sh", "healthcheck"]' in final
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in final
    assert "gcc" not in final and "build-essential" not in final
    # no stand-in production secret baked into a layer
    assert "SECRET_KEY=" not in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git/", "var/", ".venv/"} <= set(ignored)


@pytest.mark.parametrize(
    "unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=lambda p: p.name
)
def test_the_systemd_units_run_entrypoint_commands_with_variables_the_code_reads(unit):
    text = unit.read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
    program, command = exec_start.split()[:2]
    assert program == "/opt/opsconductor/deploy/entrypoint.sh"
    assert command in entrypoint_commands()
    known = settings_variables() | shell_variables(ENTRYPOINT) | {"PATH"}
    for name in re.findall(r"^Environment=([A-Z_]+)=", text, flags=re.MULTILINE):
        assert name in known, f"{unit.name} sets {name}, which nothing reads"
    assert "User=opsconductor" in text


# -- the connection budgets add up (docs/deploy.md, "Database connections"; ADR 0018) ----------


def process_budget(role: str, environment: dict) -> int:
    """The connections a process of ``role`` can hold at most with ``environment``."""
    from django.conf import settings

    from opsconductor.conf import ALIAS_ENV_VARS, parse_alias_sizes

    sizes = settings.DATABASE_POOL_ROLE_SIZES[role]
    every = int(environment.get("DATABASE_POOL_MAX_SIZE", -1))
    per_alias = {a: every if every >= 0 else sizes.get(a, sizes["*"]) for a in ALIAS_ENV_VARS}
    per_alias |= parse_alias_sizes(
        environment.get("DATABASE_POOL_MAX_SIZES", ""), ALIAS_ENV_VARS, variable="sizes"
    )
    assert all(size > 0 for size in per_alias.values()), "a pool of 0 has no budget"
    if role == "web":  # no request waits for an app alias while holding another (ADR 0018)
        assert all(size >= per_alias["default"] for size in per_alias.values()), per_alias
    return sum(per_alias.values())


def entrypoint_default(variable: str) -> int:
    return int(re.search(rf"\$\{{{variable}:-(\d+)\}}", ENTRYPOINT).group(1))


def test_the_default_deployment_stays_below_postgresql_default_limit():
    """entrypoint.sh's defaults: WEB_WORKERS web processes, one worker, one beat, the streams
    process and a migration during a deploy; the total docs/deploy.md states."""
    processes = {
        "web": entrypoint_default("WEB_WORKERS") * process_budget("web", {}),
        "worker": process_budget("worker", {}),
        "beat": process_budget("beat", {}),
        "streams": process_budget("streams", {}),
        "migrate": process_budget("migrate", {}),
    }
    total = sum(processes.values())
    assert total <= 100 - 15, processes  # psql, monitoring, the superuser reserve
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"| **total** | **{total}** of 100" in docs, (total, processes)
    for role, budget in processes.items():
        assert f"| {budget} |" in docs, (role, budget)


def test_the_compose_processes_stay_below_its_postgresql_limit(compose):
    services = app_services(compose)
    roles = {"web": "web", "streams": "streams", "worker": "worker", "beat": "beat",
             "migrate": "migrate"}  # fmt: skip
    total = 0
    for service in services.values():
        role = roles.get(service["command"][0])
        if role is None:
            continue  # collectstatic: no database
        environment = service["environment"]
        count = int(environment.get("WEB_WORKERS", entrypoint_default("WEB_WORKERS")))
        total += (count if role == "web" else 1) * process_budget(role, environment)
    command = compose["services"]["postgres"].get("command", [])
    limits = [int(c.split("=")[1]) for c in command if c.startswith("max_connections=")]
    limit = limits[0] if limits else 100
    assert total <= limit - 15, (total, limit)
    stated = re.search(r"hold at most (\d+)", (DEPLOY / "compose.yaml").read_text())
    assert stated and int(stated.group(1)) == total, total
