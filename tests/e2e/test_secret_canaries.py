"""Secrets never leak: canary values planted in every kind of secret must not show up anywhere.

Each secret gets a distinct random canary (``CANARY-<purpose>-<hex>+<hex>``):

- a password credential (sent to a real sshd that refuses it: the login fails),
- the passphrase of an encrypted SSH key (a real sshd accepts the key: the run succeeds),
- a job's secret parameter, given by a run (API) and by a schedule (stored, sealed), used in a
  command, in an environment variable and in an uploaded file, and a secret parameter's default,
- a webhook channel's signing secret (the receiver answers 500: the delivery fails, is retried
  and logged),
- the admin's own password (a real login over HTTP).

Then a run on the real targets (watched over SSE on a real HTTP server), a schedule firing
(the scheduler's tick sent as beat does, run by the real in-process worker), a health check of
both targets and the failed, retried notification happen, and the canaries are searched for,
in clear and in common encodings (base64 at every alignment, URL-encoded, hex), in:

- every answer of every GET operation of the API schema (path parameters filled with the ids
  of what exists), the run output, the SSE stream, the exports (job, audit CSV and JSON Lines),
  the compliance report, /metrics;
- every change list and change page of the admin site;
- every log record of every logger at DEBUG level (a handler on the root logger; the Celery
  worker runs in this process, so its records are there too), as the production JSON log line
  and with every attribute of the record;
- every Celery message published (body and headers);
- what the webhook receiver got;
- a pg_dump of every database of every alias (the outbox tables included).

Sealed (encrypted) secrets in the database are expected. To prove the search can fail, the
target side keeps what it received (the secret in clear, its base64 and its hash), which the
same search must find, and the output must show the mask where the secrets were echoed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_plus

import pytest
import requests
from celery.signals import before_task_publish
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.jobs.interface import MASK
from apps.scheduling.tasks import retry_notifications
from opsconductor.observability.logging import JsonFormatter, RequestContextFilter
from tests.fixtures import wait_for, wait_for_first_firing, webhook_receiver
from tests.sshd import generate_key

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, databases="__all__")]

DONE = {"succeeded", "failed", "canceled", "timed_out"}
PURPOSES = ("password", "passphrase", "run-param", "schedule-param", "param-default", "webhook",
            "login")  # fmt: skip


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


# --- the canaries and the search ----------------------------------------------------------------


def make_canary(purpose: str) -> str:
    # "+" so that the URL-encoded form differs from the raw one
    return f"CANARY-{purpose}-{uuid.uuid4().hex[:16]}+{uuid.uuid4().hex[:16]}"


def base64_forms(secret: str) -> set[str]:
    """The part of base64 that the secret alone determines, at each of the 3 byte alignments it
    can have inside longer encoded data (standard and URL-safe alphabets)."""
    forms = set()
    data = secret.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        start = 4 * -(-offset // 3)  # the first 4-char group free of the padding bytes
        end = 4 * ((offset + len(data)) // 3)  # the last group made of whole secret bytes
        piece = encoded[start:end]
        forms |= {piece, piece.replace("+", "-").replace("/", "_")}
    return forms


def encodings(secret: str) -> dict[str, str]:
    """Every form of ``secret`` searched for, named."""
    forms = {"clear": secret, "url-encoded": quote(secret, safe=""),
             "form-encoded": quote_plus(secret), "hex": secret.encode().hex()}  # fmt: skip
    forms.update({f"base64:{piece}": piece for piece in sorted(base64_forms(secret))})
    return forms


class Canaries:
    def __init__(self):
        self.values = {purpose: make_canary(purpose) for purpose in PURPOSES}
        self._needles = [
            (purpose, form, needle)
            for purpose, value in self.values.items()
            for form, needle in encodings(value).items()
        ]

    def add(self, purpose: str, value: str) -> None:
        """Search for a secret the system made (from now on)."""
        self.values[purpose] = value
        self._needles += [(purpose, form, needle) for form, needle in encodings(value).items()]

    def __getitem__(self, purpose: str) -> str:
        return self.values[purpose]

    def found(self, text: str | bytes) -> list[str]:
        """``purpose (form)`` of each canary form in ``text``."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return sorted({f"{purpose} ({form.split(':')[0]})" for purpose, form, needle
                       in self._needles if needle in text})  # fmt: skip


class Leaks:
    """Where a canary was found: ``{place: [canary (form), ...]}``, reported all at once."""

    def __init__(self, canaries: Canaries):
        self.canaries = canaries
        self.places: dict[str, list[str]] = {}
        self.searched = 0

    def check(self, place: str, text: str | bytes) -> None:
        self.searched += 1
        found = self.canaries.found(text)
        if found:
            self.places[place] = found


# --- what is captured during the test -------------------------------------------------------------


class EveryRecord(logging.Handler):
    """Every log record of every logger: as the production JSON log line (request context
    included), with its exception, and all its attributes."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestContextFilter())
        self.lines: list[str] = []
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception as exc:  # a record that cannot be formatted is still searched
            text = f"{record.msg!r} {record.args!r} ({exc!r})"
        with self.lock_:
            self.lines.append(f"{text} {vars(record)!r}")


@pytest.fixture
def every_log_record():
    """A DEBUG handler on the root logger; every logger that has a level set is lowered to
    DEBUG for the test (and restored)."""
    handler = EveryRecord()
    root = logging.getLogger()
    changed = {}
    for logger in [root, *logging.root.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger) and logger.level not in (logging.NOTSET,
                                                                       logging.DEBUG):  # fmt: skip
            changed[logger] = logger.level
            logger.setLevel(logging.DEBUG)
    disabled = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    logging.disable(disabled)
    for logger, level in changed.items():
        logger.setLevel(level)


@pytest.fixture
def published_messages():
    """Body and headers of every Celery message this process publishes (the API, the relay
    and the in-process worker's tasks all publish from here)."""
    messages: list[str] = []

    def record(sender=None, body=None, headers=None, routing_key=None, **kwargs):
        messages.append(f"{sender} {routing_key} {json.dumps(body, default=repr)} {headers!r}")

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


@pytest.fixture
def failing_webhook():
    """A real HTTP server on loopback that answers every POST with 500 (and records it)."""
    with webhook_receiver(status=500, path="/hooks/canary") as server:
        yield server


# --- reading everything ---------------------------------------------------------------------------


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def described(response) -> str:
    return f"{response.status_code} {dict(response.items())!r} " + body_of(response).decode(
        "utf-8", errors="replace"
    )


def items_of(page) -> list[dict]:
    if isinstance(page, dict):
        page = page.get("results", [])
    return [item for item in page if isinstance(item, dict)] if isinstance(page, list) else []


def read_all_pages(api, path: str, leaks: Leaks) -> list[dict]:
    """Every item of a list endpoint, following ``next`` (each page searched)."""
    items, url, pages = [], f"{path}?page_size=500", 0
    while url and pages < 50:
        response = api.get(url)
        assert response.status_code == 200, (path, response.status_code, body_of(response))
        text = body_of(response)
        leaks.check(f"GET {url}", described(response))
        data = json.loads(text)
        items += items_of(data)
        url = data.get("next") if isinstance(data, dict) else None
        pages += 1
    return items


PARAM = re.compile(r"\{([^}]+)\}")


def walk_schema(api, leaks: Leaks, query: dict[str, str], extra_ids: dict[str, list[str]]):
    """GET every GET operation of ``/api/schema/``, each path parameter filled with every id the
    list above it shows (``/runs/{id}/targets/{target_id}/`` for every run and each of its
    targets); required query parameters from ``query``. Returns the paths fetched."""
    schema = json.loads(body_of(api.get("/api/schema/?format=json")))
    leaks.check("GET /api/schema/", json.dumps(schema))
    fetched: list[str] = []
    listed: dict[str, list[dict]] = {}

    def listing(path: str) -> list[dict]:
        if path not in listed:
            listed[path] = read_all_pages(api, path, leaks)
        return listed[path]

    def expand(template: str) -> list[str]:
        match = PARAM.search(template)
        if match is None:
            return [template]
        name, prefix = match.group(1), template[: match.start()]
        rest = template[match.end() :]
        concrete = []
        for head in expand(prefix.rstrip("/") + "/") if PARAM.search(prefix) else [prefix]:
            if name in extra_ids:
                values = extra_ids[name]
            else:
                key = "id" if name == "id" or name.endswith("_pk") else name
                values = [str(item[key]) for item in listing(head) if item.get(key) is not None]
            concrete += [head + value + rest for value in values]
        return [path for c in concrete for path in expand(c)]

    for template, operations in sorted(schema["paths"].items()):
        operation = operations.get("get")
        if operation is None:
            continue
        params = {
            p["name"]: query[p["name"]]
            for p in operation.get("parameters", [])
            if p.get("in") == "query" and p.get("required")
        }
        for path in expand(template):
            variants = [params]
            if path.endswith("/audit/events/export/"):
                variants = [{**params, "as": "jsonl"}, {**params, "as": "csv"}]
            for variant in variants:
                response = api.get(path, variant)
                assert response.status_code == 200, (path, variant, response.status_code,
                                                      body_of(response)[:500])  # fmt: skip
                leaks.check(f"GET {path} {variant or ''}".strip(), described(response))
                fetched.append(path)
    return fetched


def walk_admin(user, leaks: Leaks) -> int:
    """GET the admin's change list of every registered model and the change page of each of
    its objects (50 at most per model); returns how many pages were read."""
    client = Client()
    client.force_login(user)
    pages = 0
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        for obj in model._default_manager.all()[:50]:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            leaks.check(f"admin GET {url}", described(response))
            pages += 1
    return pages


class CheckedClient(APIClient):
    """An API client whose every answer (but a stream's, read by its caller) is searched."""

    def __init__(self, leaks: Leaks, **defaults):
        super().__init__(**defaults)
        self.leaks = leaks

    def request(self, **kwargs):
        response = super().request(**kwargs)
        if not getattr(response, "streaming", False):
            place = f"{kwargs.get('REQUEST_METHOD')} {kwargs.get('PATH_INFO')}"
            self.leaks.check(
                f"{place} {kwargs.get('QUERY_STRING', '')}".strip(), described(response)
            )
        return response


def sse_events(url: str, token: str) -> tuple[str, list[tuple[str, dict]]]:
    """The raw SSE text and its parsed events, read from a real HTTP server until ``end``."""
    raw, events, block = [], [], {}
    with requests.get(url, stream=True, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as response:  # fmt: skip
        assert response.status_code == 200, response.text
        for line in response.iter_lines(chunk_size=1):
            line = line.decode()
            raw.append(line)
            if line:
                key, _, value = line.partition(": ")
                block[key] = value
                continue
            if "data" in block:
                events.append((block.get("event", ""), json.loads(block["data"])))
                if block.get("event") == "end":
                    break
            block = {}
    return "\n".join(raw), events


def database_dumps() -> dict[str, str]:
    """``{description: text}``: a pg_dump of each database behind the aliases (once per
    database); when pg_dump's major version differs from the server's, every row of every
    table as text instead."""
    dumps: dict[str, str] = {}
    seen: set[tuple] = set()
    client = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True)
    client_major = int(re.search(r"(\d+)\.\d+", client.stdout).group(1))
    for alias, db in django_settings.DATABASES.items():
        assert db["ENGINE"].endswith("postgresql"), alias
        host, port = db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432)
        key = (host, port, db["NAME"])
        if key in seen:
            continue
        seen.add(key)
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            server_major = int(cursor.fetchone()[0]) // 10000
        name = f"database {db['NAME']} (alias {alias})"
        if server_major == client_major:
            env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
            result = subprocess.run(
                ["pg_dump", "--no-owner", "-h", host, "-p", port, "-U", db.get("USER") or
                 "postgres", db["NAME"]], capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            dumps[f"pg_dump of {name}"] = result.stdout
            continue
        rows = []
        with connections[alias].cursor() as cursor:
            for table in connections[alias].introspection.table_names(include_views=False):
                quoted = connections[alias].ops.quote_name(table)
                cursor.execute(f"SELECT t::text FROM {quoted} t")
                rows += [f"{table}: {row[0]}" for row in cursor.fetchall()]
        dumps[f"every row of {name}"] = "\n".join(rows)
    return dumps


# --- the test -------------------------------------------------------------------------------------


def test_secrets_appear_nowhere(
    django_user_model, sshd_factory, celery_worker, live_server, failing_webhook,
    every_log_record, published_messages, settings, tmp_path,
):  # fmt: skip
    started = datetime.now(UTC) - timedelta(minutes=1)
    canaries = Canaries()
    leaks = Leaks(canaries)
    settings.SCHEDULING_WEBHOOK_BACKOFF_SECONDS = 0.2
    settings.SCHEDULING_WEBHOOK_MAX_ATTEMPTS = 2
    settings.SCHEDULING_WEBHOOK_TIMEOUT_SECONDS = 5

    # the admin logs in over real HTTP with a canary password
    django_user_model.objects.create_user(username="canary-admin", password=canaries["login"],
                                          role="admin")  # fmt: skip
    login = requests.post(f"{live_server.url}/api/v1/auth/token/", timeout=10, json={
        "username": "canary-admin", "password": canaries["login"]})  # fmt: skip
    leaks.check("POST /api/v1/auth/token/ (its tokens decoded too: base64)", login.text)
    token = ok(login)["access"]
    wrong = requests.post(f"{live_server.url}/api/v1/auth/token/", timeout=10, json={
        "username": "canary-admin", "password": canaries["login"] + "-wrong"})  # fmt: skip
    assert wrong.status_code == 401, wrong.text
    leaks.check("POST /api/v1/auth/token/ (a wrong password)", f"{wrong.headers!r} {wrong.text}")
    api = CheckedClient(leaks)  # every answer it gets is searched
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    # an API token: shown once (that answer is searched before it becomes a canary), then used
    # for every later call; its secret part (after the public prefix) must not show up again
    api_token = ok(api.post("/api/v1/tokens/", {"name": "canary-token"}, format="json"), 201)
    token_value = api_token["token"]
    canaries.add("api-token", token_value.rsplit("_", 1)[1])
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_value}")
    assert ok(api.get("/api/v1/me/"))["username"] == "canary-admin"
    stranger = CheckedClient(leaks, HTTP_AUTHORIZATION=f"Token {token_value}x")
    assert stranger.get("/api/v1/me/").status_code == 401

    # a target that takes an encrypted key (canary passphrase), one that refuses the password
    key_path = generate_key(tmp_path / "canary_key", passphrase=canaries["passphrase"])
    key_server = sshd_factory(client_key=key_path)
    password_server = sshd_factory(password=True)
    remote = tmp_path / "remote"  # what the target keeps (the target is this machine)
    remote.mkdir()
    remote.chmod(0o777)
    ok(api.post("/api/v1/credentials/", {
        "name": "canary-key", "kind": "ssh_key", "username": key_server.username,
        "private_key": key_path.read_text(), "passphrase": canaries["passphrase"]},
        format="json"), 201)  # fmt: skip
    ok(api.post("/api/v1/credentials/", {
        "name": "canary-password", "kind": "password",
        "username": password_server.password_user.username, "password": canaries["password"]},
        format="json"), 201)  # fmt: skip
    for name, server, credential in (
        ("canary-ok", key_server, "canary-key"),
        ("canary-denied", password_server, "canary-password"),
    ):
        ok(api.post("/api/v1/targets/", {
            "name": name, "tags": ["canary"], "host_key_policy": "accept-new",
            "connection_methods": [{"protocol": "ssh", "host": server.host, "port": server.port,
                                    "credential": credential}]}, format="json"), 201)  # fmt: skip

    # a job using its secrets in a command, an environment variable and an uploaded file
    command = (
        'echo "token="{{ token }} "key="{{ api_key }}\n'
        'echo "env=$OC_TOKEN param=$OPSCONDUCTOR_PARAM_TOKEN" >&2\n'
        f"printf '%s\\n' \"$OC_TOKEN\" >> {remote}/tokens\n"
        f"printf '%s' \"$OC_TOKEN\" | base64 -w0 >> {remote}/tokens.b64; echo >> {remote}/tokens.b64\n"
        f"printf '%s' {{{{ token }}}} | sha256sum | cut -d' ' -f1 >> {remote}/hashes\n"
        f"printf '%s' {{{{ api_key }}}} | sha256sum | cut -d' ' -f1 >> {remote}/hashes\n"
    )
    job = ok(api.post("/api/v1/jobs/", {
        "name": "canary-job", "default_selector": "tag:canary",
        "parameters": [
            {"name": "token", "type": "secret"},
            {"name": "api_key", "type": "secret", "required": False,
             "default": canaries["param-default"]},
        ],
        "steps": [
            {"name": "use", "kind": "command", "command": command, "env": {"OC_TOKEN": "{{ token }}"},
             "timeout_seconds": 30},
            {"name": "drop", "kind": "upload", "path": f"{remote}/uploaded",
             "content": "{{ token }}\n"},
        ]}, format="json"), 201)  # fmt: skip

    # answers to bad input that carries secrets (searched like every answer)
    plan = ok(api.post(f"/api/v1/jobs/{job['id']}/validate/", {"parameters": {
        "token": canaries["run-param"]}}, format="json"))  # fmt: skip
    assert MASK in json.dumps(plan), plan
    for path, body in (
        ("/api/v1/runs/", {"job": job["id"], "parameters": {"token": canaries["run-param"],
                                                            "unknown": canaries["run-param"]}}),
        ("/api/v1/runs/", {"job": job["id"], "parameters": {"token": [canaries["run-param"]]}}),
        ("/api/v1/credentials/", {"name": "canary-bad", "kind": "nope", "username": "x",
                                  "password": canaries["password"],
                                  "passphrase": canaries["passphrase"]}),
        ("/api/v1/notification-channels/", {"name": "bad-hook", "kind": "webhook",
                                            "url": "ftp://127.0.0.1/", "secret": canaries["webhook"]}),
        ("/api/v1/schedules/", {"name": "canary-bad", "job": job["id"], "kind": "once",
                                "run_at": "yesterday", "parameters": {"token": canaries["schedule-param"]}}),
    ):  # fmt: skip
        assert api.post(path, body, format="json").status_code == 400, (path, body)

    # a webhook channel with a canary signing secret, alerted when a run of the job fails
    ok(api.post("/api/v1/notification-channels/", {
        "name": "canary-hook", "kind": "webhook", "url": failing_webhook.url,
        "secret": canaries["webhook"]}, format="json"), 201)  # fmt: skip
    ok(api.post("/api/v1/alert-rules/", {"job": job["id"], "channel": "canary-hook",
                                         "events": ["failed"]}, format="json"), 201)  # fmt: skip

    # a run from the API, watched live over SSE on a real HTTP server
    run = ok(api.post("/api/v1/runs/", {"job": job["id"], "parameters": {
        "token": canaries["run-param"]}}, format="json"), 201)  # fmt: skip
    stream_text, events = sse_events(f"{live_server.url}/api/v1/runs/{run['id']}/stream/", token)
    leaks.check("SSE stream of the API run (live)", stream_text)
    assert events[-1] == ("end", {"status": "failed"}), events[-3:]
    streamed = "".join(data.get("text", "") for kind, data in events if kind == "output")
    assert f"token={MASK} key={MASK}" in streamed, streamed
    assert f"env={MASK} param={MASK}" in streamed, streamed

    # a schedule firing the job with its own (stored, sealed) secret value
    run_at = datetime.now(UTC) + timedelta(seconds=2)
    schedule = ok(api.post("/api/v1/schedules/", {
        "name": "canary-once", "job": job["id"], "kind": "once", "run_at": run_at.isoformat(),
        "timezone": "UTC", "parameters": {"token": canaries["schedule-param"]},
        "notify": [{"channel": "canary-hook", "events": ["failed"]}]}, format="json"), 201)  # fmt: skip

    scheduled_run = wait_for_first_firing(api, schedule, run_at, timeout=20)
    wait_for(lambda: ok(api.get(f"/api/v1/runs/{scheduled_run}/"))["status"] in DONE,
             timeout=40, interval=0.2, what="the scheduled run to end")  # fmt: skip

    # a health check of both targets (the credentials used once more, by the health checker):
    # one answered at once (its error in the answer), then both on the workers
    denied = ok(api.get("/api/v1/targets/?name=canary-denied"))["results"][0]
    assert ok(api.post(f"/api/v1/targets/{denied['id']}/check/"))["status"] == "auth_failed"
    batch = ok(api.post("/api/v1/targets/check/", {"selector": "tag:canary"}, format="json"), 202)
    wait_for(lambda: [c["status"] for c in ok(api.get(
        f"/api/v1/targets/checks/{batch['batch_id']}/"))["results"] if c["status"]] == [
        "auth_failed", "healthy"], timeout=30, interval=0.2, what="the health checks")  # fmt: skip

    # both runs failed (the password target refuses the canary password): two alerts, each
    # tried twice against a receiver answering 500, then given up
    def deliveries_given_up():
        retry_notifications.apply_async()  # the retry sweep, as beat sends it
        rows = ok(api.get("/api/v1/notification-deliveries/?page_size=50"))["results"]
        return len(rows) == 2 and all(r["status"] == "failed" for r in rows) and rows

    deliveries = wait_for(deliveries_given_up, timeout=30, interval=0.5,
                          what="both alert deliveries to fail after their retries")  # fmt: skip
    assert all(d["attempts"] == 2 and d["response_status"] == 500 for d in deliveries), deliveries
    assert len(failing_webhook.received) == 4

    # --- sanity: every canary was really used, and the search finds what is there ------------
    runs = {r["id"]: r for r in ok(api.get(f"/api/v1/runs/?job={job['id']}"))["results"]}
    assert set(runs) == {run["id"], scheduled_run}
    for run_id in runs:
        targets = {t["target_name"]: t for t in ok(api.get(f"/api/v1/runs/{run_id}/targets/"))[
            "results"]}  # fmt: skip
        assert targets["canary-ok"]["status"] == "succeeded", targets  # the passphrase worked
        assert targets["canary-denied"]["status"] == "failed", targets
        output = ok(api.get(f"/api/v1/runs/{run_id}/targets/{targets['canary-ok']['target_id']}"
                            "/output/"))  # fmt: skip
        assert f"token={MASK} key={MASK}" in json.dumps(output), output
    # the password was offered to (and refused by) the real sshd
    assert any(f"Failed password for {password_server.password_user.username}" in line
               for line in password_server.auth_attempts()), password_server.log()  # fmt: skip
    received_tokens = (remote / "tokens").read_text()
    assert received_tokens.split() == [canaries["run-param"], canaries["schedule-param"]]
    assert canaries.found(received_tokens) == ["run-param (clear)", "schedule-param (clear)"]
    assert canaries.found((remote / "tokens.b64").read_text()) == [
        "run-param (base64)", "schedule-param (base64)"]  # fmt: skip
    assert "schedule-param (clear)" in canaries.found((remote / "uploaded").read_text())
    digest = {p: hashlib.sha256(canaries[p].encode()).hexdigest() for p in PURPOSES}
    assert (remote / "hashes").read_text().split() == [
        digest["run-param"], digest["param-default"], digest["schedule-param"],
        digest["param-default"]]  # fmt: skip
    for hook in failing_webhook.received:  # signed with the canary signing secret
        stamp = hook["headers"]["X-OpsConductor-Timestamp"]
        expected = hmac.new(canaries["webhook"].encode(), f"{stamp}.".encode() + hook["body"],
                            hashlib.sha256).hexdigest()  # fmt: skip
        assert hook["headers"]["X-OpsConductor-Signature"] == f"sha256={expected}"
    for purpose in canaries.values:  # the search finds each canary in each form it looks for
        value = canaries[purpose]
        embedded = {"clear": f"x{value}y", "url-encoded": quote(f"a={value}&b"),
                    "hex": f"00{value.encode().hex()}ff"}  # fmt: skip
        for offset in range(3):
            embedded[f"base64 {offset}"] = base64.b64encode(b"p" * offset + value.encode() + b"q")
        for form, text in embedded.items():
            assert f"{purpose} (" in " ".join(canaries.found(text)), (purpose, form)

    # --- the search -----------------------------------------------------------------------
    for index, hook in enumerate(failing_webhook.received):
        leaks.check(f"webhook request {index} (headers, body)",
                    f"{hook['path']} {hook['headers']!r} {hook['body']!r}")  # fmt: skip

    # every GET of the API schema, with every id filled in
    window = {"since": started.isoformat(), "until": (datetime.now(UTC) + timedelta(minutes=1))
              .isoformat()}  # fmt: skip
    fetched = walk_schema(api, leaks, window, {"batch_id": [batch["batch_id"]]})
    for must in (f"/api/v1/runs/{scheduled_run}/stream/", f"/api/v1/jobs/{job['id']}/export/",
                 "/api/v1/audit/events/export/", "/api/v1/audit/events/report/",
                 f"/api/v1/schedules/{schedule['id']}/", "/api/v1/credentials/"):  # fmt: skip
        assert must in fetched, must
    assert len(fetched) > 60, fetched
    # the run output as each target's log, the exports, the report and the metrics again, by name
    report = ok(api.get("/api/v1/audit/events/report/", window))
    assert report and canaries.found(json.dumps(report)) == []
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    leaks.check("GET /metrics", described(metrics))

    # the audit trail (every record of this test) and its exports
    audit = body_of(api.get("/api/v1/audit/events/export/", {"as": "jsonl"}))
    actions = {json.loads(line)["action"] for line in audit.splitlines()}
    assert {"targets.credential.created", "scheduling.schedule.created",
            "execution.run.finished"} <= actions, actions  # fmt: skip
    leaks.check("audit export (JSON Lines)", audit)

    # the messages published, the logs, and this process's stdout/stderr
    assert published_messages, "no Celery message was seen"
    for index, message in enumerate(published_messages):
        leaks.check(f"Celery message {index}: {message[:120]}", message)
    logged = "\n".join(every_log_record.lines)
    assert "notification delivery" in logged and "HTTP 500" in logged  # the failed webhook
    assert "DEBUG" in logged  # DEBUG records were captured
    for index, line in enumerate(every_log_record.lines):
        leaks.check(f"log record {index}: {line[:160]}", line)

    # the cache (login throttling lives there): local memory here, Redis in production
    store = getattr(cache, "_cache", None)
    if store is not None:
        leaks.check("the cache", repr(dict(store)))

    # the admin site: every change list and change page
    admin_user = django_user_model.objects.get(username="canary-admin")
    assert walk_admin(admin_user, leaks) > 20

    # every database, dumped
    dumps = database_dumps()
    everything = "\n".join(dumps.values())  # the rows of every app are in some dump
    for name in ("canary-password", "canary-key", "canary-job", "canary-once", "canary-hook"):
        assert name in everything, (name, list(dumps))
    for place, text in dumps.items():
        leaks.check(place, text)

    assert leaks.searched > 100
    assert not leaks.places, "canaries leaked:\n" + "\n".join(
        f"- {place}: {', '.join(found)}" for place, found in leaks.places.items()
    )
