"""The audit issue's acceptance story: after a session of API use (login, create a target, edit
a job, run it, schedule it) the trail shows every step with actor, IP and diffs;
``audit_verify`` passes, then fails on a row edited by hand naming that row; ``/metrics``
shows the run; an export of the day's records downloads."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditRecord
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
IP = "203.0.113.77"
DONE = {"succeeded", "failed", "canceled", "timed_out"}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def test_a_session_of_api_use_is_in_the_trail_verifiable_and_exportable(
    django_user_model, sshd_factory, celery_worker, capsys
):
    django_user_model.objects.create_user(username="dana", password="dana-pass-1", role="admin")
    client = APIClient(REMOTE_ADDR=IP, HTTP_USER_AGENT="audit-e2e/1.0")
    token = ok(client.post("/api/v1/auth/token/", {"username": "dana",
                                                  "password": "dana-pass-1"}, format="json"))  # fmt: skip
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access']}")
    server = sshd_factory()
    ok(client.post("/api/v1/credentials/", {"name": "audit-key", "kind": "ssh_key",
       "username": server.username, "private_key": server.client_key_path.read_text()},
       format="json"), 201)  # fmt: skip
    target = ok(client.post("/api/v1/targets/", {"name": "audit-web-1", "tags": ["audit"],
                "host_key_policy": "accept-new", "connection_methods": [{"protocol": "ssh",
                "host": server.host, "port": server.port, "credential": "audit-key"}]},
                format="json"), 201)  # fmt: skip
    job = ok(client.post("/api/v1/jobs/", {"name": "audit-job", "default_selector": "tag:audit",
             "steps": [{"name": "hi", "kind": "command", "command": "echo hi"}]},
             format="json"), 201)  # fmt: skip
    ok(client.put(f"/api/v1/jobs/{job['id']}/", {"name": "audit-job", "default_selector":
       "tag:audit", "steps": [{"name": "hi", "kind": "command", "command": "echo hello"}]},
       format="json"))  # fmt: skip
    run = ok(client.post("/api/v1/runs/", {"job": job["id"]}, format="json"), 201)
    wait_for(lambda: ok(client.get(f"/api/v1/runs/{run['id']}/"))["status"] in DONE,
             timeout=40, what="the run to end")  # fmt: skip
    ok(client.post("/api/v1/schedules/", {"name": "audit-nightly", "job": job["id"],
       "kind": "cron", "cron": "0 3 * * *", "timezone": "Europe/Berlin"}, format="json"), 201)  # fmt: skip

    wanted = [
        "accounts.login.succeeded", "targets.credential.created", "targets.target.created",
        "jobs.job.created", "jobs.job.updated", "execution.run.requested",
        "execution.run.started", "execution.target.finished", "execution.run.finished",
        "scheduling.schedule.created",
    ]  # fmt: skip

    def recorded():
        actions = set(AuditRecord.objects.values_list("action", flat=True))
        return all(action in actions for action in wanted)

    wait_for(recorded, timeout=30, what="every step in the trail")
    trail = {r.action: r for r in AuditRecord.objects.filter(action__in=wanted)}
    for action in ("targets.target.created", "jobs.job.updated", "execution.run.requested",
                   "scheduling.schedule.created", "accounts.login.succeeded"):  # fmt: skip
        assert trail[action].source_ip == IP, action
        assert trail[action].user_agent == "audit-e2e/1.0", action
        assert trail[action].request_id, action
    assert trail["targets.target.created"].actor_name == "dana"
    assert trail["targets.target.created"].object_id == target["id"]
    assert "steps" in json.dumps(trail["jobs.job.updated"].changes)  # the version's diff
    assert trail["execution.run.finished"].outcome == "succeeded"

    # through the API, as an admin reads it
    page = ok(client.get(f"/api/v1/audit/events/?object=job:{job['id']}"))
    assert {r["action"] for r in page["results"]} >= {"jobs.job.created", "jobs.job.updated"}
    day = timezone.now().strftime("%Y-%m-%d")
    export = client.get(f"/api/v1/audit/events/export/?as=jsonl&since={day}T00:00:00Z")
    assert export.status_code == 200
    lines = [json.loads(line) for line in b"".join(export.streaming_content).splitlines()]
    assert {line["action"] for line in lines} >= set(wanted)

    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out
    # a row edited by hand in the database (a superuser bypassing the trigger)
    edited = trail["targets.target.created"]
    with transaction.atomic(using="audit"), connections["audit"].cursor() as cursor:
        if connections["audit"].vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditrecord SET actor_name = 'mallory' WHERE id = %s",
                       [edited.id])  # fmt: skip
    with pytest.raises(SystemExit):
        call_command("audit_verify")
    assert str(edited.id) in capsys.readouterr().err
