"""The API fuzzed against its own OpenAPI schema, over a real HTTP server, as every role.

Schemathesis reads ``/api/schema/`` from the live test server and, for every operation, sends a
few generated requests (valid ones, then invalid ones) signed in with a JWT as the role of the
test; path parameters name real objects made beforehand (a target, a job, a run, a schedule...).
Every answer must be no 5xx, a status code the operation declares, a declared content type, and
a body that conforms to the declared schema. Deletes run last, so the other operations find
their objects. The seed is fixed: the same requests every time.

Run it alone: ``pytest tests/e2e/test_api_fuzz.py`` (``-k admin`` for one role). Findings are
printed as the request that reproduces them.
"""

from __future__ import annotations

import itertools
import re
import time

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.cache import cache
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.architecture.test_api_requires_auth import LADDER, needed_role

pytestmark = pytest.mark.once

ROLES = ("viewer", "auditor", "operator", "manager", "admin")
# Examples per operation the role may call: valid ones, then invalid ones. An operation a viewer
# may not call gets one as the viewer (its 403 is checked against the schema); tests/architecture's
# role matrix proves every operation refuses every role below the one it needs.
POSITIVE = {"viewer": 1, "auditor": 1, "operator": 1, "manager": 1, "admin": 2}
NEGATIVE = {"viewer": 1, "auditor": 1, "operator": 1, "manager": 1, "admin": 1}


def no_server_error(ctx, response, case) -> None:
    """No 5xx, but for a gateway error the operation declares (a host-key scan of a host that
    does not answer is a 502 naming why: the host is the upstream there)."""
    code = response.status_code
    declared = case.operation.responses.status_codes
    if code >= 500 and (code == 500 or str(code) not in declared):
        raise AssertionError(f"Server error {code}: {response.content[:300]!r}")


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PASSWORD = "fuzz-password-1"
_PARAM = re.compile(r"\{(\w+)\}")


def _public_key() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def ok(response, status=201) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def seed(django_user_model) -> dict[str, str]:
    """Objects for the operations to find, made through the API; by the collection naming
    them in a path (``/targets/{id}/``: ``targets``)."""
    root = django_user_model.objects.create_user(
        username="fuzz-seeder", password=PASSWORD, role="admin"
    )
    api = APIClient()
    api.force_authenticate(root)
    ok(api.post("/api/v1/credentials/", {"name": "fuzz-cred", "kind": "password",
       "username": "nobody", "password": "pw-not-used"}, format="json"))  # fmt: skip
    credential = api.get("/api/v1/credentials/").json()["results"][0]
    target = ok(api.post("/api/v1/targets/", {
        "name": "fuzz-target", "tags": ["fuzz"], "host_key_policy": "accept-new",
        "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1", "port": 9,
                                "credential": "fuzz-cred"}]}, format="json"))  # fmt: skip
    method = target["connection_methods"][0]
    host_key = ok(api.post(f"/api/v1/targets/{target['id']}/host-keys/",
                           {"key": _public_key()}, format="json"))  # fmt: skip
    group = ok(api.post("/api/v1/groups/", {"name": "fuzz-group", "selector": "tag:fuzz"},
                        format="json"))  # fmt: skip
    batch = ok(api.post("/api/v1/targets/check/", {"selector": "tag:fuzz"}, format="json"), 202)
    job = ok(api.post("/api/v1/jobs/", {"name": "fuzz-job", "default_selector": "tag:fuzz",
       "steps": [{"name": "hi", "kind": "command", "command": "echo hi"}]}, format="json"))  # fmt: skip
    run = ok(api.post("/api/v1/runs/", {"job": job["id"]}, format="json"))
    # ended, so its live stream ends too (no worker runs it here)
    ok(api.post(f"/api/v1/runs/{run['id']}/cancel/", format="json"), 200)
    schedule = ok(api.post("/api/v1/schedules/", {"name": "fuzz-schedule", "job": job["id"],
       "kind": "cron", "cron": "0 2 * * *", "timezone": "Europe/Berlin"}, format="json"))  # fmt: skip
    channel = ok(api.post("/api/v1/notification-channels/", {"name": "fuzz-mail",
       "kind": "email", "recipients": ["ops@example.com"]}, format="json"))  # fmt: skip
    rule = ok(api.post("/api/v1/alert-rules/", {"job": job["id"], "channel": "fuzz-mail",
       "events": ["failed"]}, format="json"))  # fmt: skip
    route = ok(api.post("/api/v1/bridge/routes/", {"prefix": "/api/v3/fuzz", "mode": "proxy"},
                        format="json"))  # fmt: skip
    # another user: the fuzzer's own account is not the one /users/{id}/ changes or deletes
    other = ok(api.post("/api/v1/users/", {"username": "fuzz-other", "role": "viewer",
       "password": "Another-password-9"}, format="json"))  # fmt: skip
    token = ok(api.post("/api/v1/tokens/", {"name": "fuzz-token"}, format="json"))
    return {
        "targets": target["id"], "methods": method["id"], "host-keys": host_key["id"],
        "groups": group["id"], "checks": batch["batch_id"], "credentials": credential["id"],
        "jobs": job["id"], "versions": "1", "runs": run["id"], "schedules": schedule["id"],
        "notification-channels": channel["id"], "alert-rules": rule["id"],
        "routes": str(route["id"]), "users": other["id"], "tokens": token["id"],
    }  # fmt: skip


def path_parameters(path: str, ids: dict[str, str]) -> dict[str, str]:
    """``/targets/{target_pk}/methods/{id}/`` -> the seeded target's and method's ids."""
    found = {}
    segments = path.strip("/").split("/")
    for before, segment in itertools.pairwise(segments):
        name = _PARAM.fullmatch(segment)
        if name and before in ids:
            found[name.group(1)] = ids[before]
    return found


def sign_in(base: str, django_user_model, role: str) -> str:
    django_user_model.objects.create_user(
        username=f"fuzz-{role}", password=PASSWORD,
        role="viewer" if role == "auditor" else role, is_auditor=role == "auditor",
    )  # fmt: skip
    cache.clear()  # no lockout inherited from another role's fuzzed sign-ins
    response = requests.post(f"{base}/api/v1/auth/token/", timeout=10,
                             json={"username": f"fuzz-{role}", "password": PASSWORD})  # fmt: skip
    return ok(response, 200)["access"]


def may_call(role: str, needed: str | None) -> bool:
    if needed is None or role == "admin":
        return True
    if needed == "auditor":
        return role == "auditor"
    rank = LADDER.index("viewer" if role == "auditor" else role)
    return rank >= LADDER.index(needed)


_schemas: dict[str, schemathesis.BaseSchema] = {}


def load_schema(base: str):
    """The schema as served (read once per server: every role's test fuzzes the same one)."""
    if base not in _schemas:
        _schemas[base] = schemathesis.openapi.from_url(f"{base}/api/schema/?format=json")
    return _schemas[base]


def _order(operation) -> tuple:
    # deletes last, the deepest paths first, so the rest find their objects
    return (operation.method.lower() == "delete", -operation.path.count("/"), operation.path)


def _describe(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
    return "\n".join(f"  - {part}".strip() for part in parts)


def _reproduce(case) -> str:
    return case.as_curl_command(headers={"Authorization": "Bearer ***"})


def fuzz(operation, mode: str, count: int, fixed: dict, session, label: str) -> list[str]:
    """``count`` generated requests to one operation; what each distinct failure was."""
    findings: dict[str, str] = {}

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode),
                                      path_parameters=fixed or None))  # fmt: skip
    def run(case):
        try:
            case.call_and_validate(session=session, checks=CHECKS, timeout=20)
        except (Exception, BaseExceptionGroup) as exc:  # every finding is kept, the run goes on
            what = _describe(exc)
            findings.setdefault(what, f"{operation.label} {label}:\n{what}\n{_reproduce(case)}")

    try:
        run()
    except Unsatisfiable:
        # an operation that takes nothing (no parameter, no body, no credential: the console's
        # session state and sign-out) has no invalid request to make
        if mode != "negative":
            raise
    return list(findings.values())


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("role", ROLES)
def test_every_answer_matches_the_schema(live_server, django_user_model, role):
    started = time.monotonic()
    ids = seed(django_user_model)
    access = sign_in(live_server.url, django_user_model, role)
    schema = load_schema(live_server.url)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access}"
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    findings: list[str] = []
    slowest: list[tuple[float, str]] = []
    for operation in operations:
        begun = time.monotonic()
        fixed = path_parameters(operation.path, ids)
        if may_call(role, needed_role(operation.method.lower(), operation.path)):
            plan = (("positive", POSITIVE[role]), ("negative", NEGATIVE[role]))
        elif role == "viewer":  # the refusal's body, once: it is the same for every role
            plan = (("positive", 1),)
        else:
            continue
        for mode, count in plan:
            findings += fuzz(operation, mode, count, fixed, session, f"as {role} ({mode})")
        slowest.append((time.monotonic() - begun, operation.label))
    took = time.monotonic() - started
    worst = ", ".join(f"{label} {spent:.1f}s" for spent, label in sorted(slowest)[-3:])
    print(f"fuzzed {len(slowest)} operations as {role} in {took:.1f}s (slowest: {worst})")
    assert not findings, f"{len(findings)} findings:\n\n" + "\n\n".join(findings)


def test_path_parameters_name_the_seeded_objects():
    ids = {"targets": "t", "methods": "m", "jobs": "j", "versions": "1", "users": "u"}
    assert path_parameters("/api/v1/targets/{target_pk}/methods/{id}/", ids) == {
        "target_pk": "t", "id": "m"}  # fmt: skip
    assert path_parameters("/api/v1/jobs/{id}/versions/{number}/", ids) == {
        "id": "j", "number": "1"}  # fmt: skip
    assert path_parameters("/api/v1/audit/events/{id}/", ids) == {}


def test_who_may_call_what():
    assert may_call("viewer", "viewer") and not may_call("viewer", "operator")
    assert may_call("auditor", "auditor") and may_call("admin", "auditor")
    assert not may_call("manager", "auditor") and may_call("auditor", "viewer")
    assert may_call("operator", None) and not may_call("auditor", "operator")
