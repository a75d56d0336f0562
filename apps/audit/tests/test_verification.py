"""The chain's verification as a stored result: scheduled, requested by an admin through the API,
or run by ``manage.py audit_verify``; what ``GET /api/v1/audit/verification/`` tells."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections  # noqa: F401 (postgres_only evaluates it here)
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit import services, tasks
from apps.audit.models import AuditRecord, AuditVerification
from apps.audit.tests.test_integrity import postgres_only, record, tamper

DB = "audit"
URL = "/api/v1/audit/verification/"


@pytest.fixture
def api(django_user_model):
    def client_for(role: str, *, is_auditor: bool = False) -> APIClient:
        user = django_user_model.objects.create_user(
            username=f"{role}-{uuid.uuid4().hex[:6]}", password="x", role=role,
            is_auditor=is_auditor,
        )  # fmt: skip
        client = APIClient()
        client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The verifications sent to a worker (run by the test itself)."""
    calls: list[dict] = []
    monkeypatch.setattr(tasks.verify_chain, "delay", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.django_db(databases="__all__")
def test_nothing_verified_yet_says_so(api):
    body = api("admin").get(URL).json()
    assert body == {"last": None, "pending": None, "interval_seconds": 86400.0}


@pytest.mark.django_db(databases="__all__")
def test_an_admin_runs_it_now_once_and_everyone_who_reads_the_trail_sees_the_result(api, sent):
    record(4)
    admin = api("admin")
    first = admin.post(URL)
    second = admin.post(URL)  # a second click while the first is queued: the same verification
    assert first.status_code == second.status_code == 202
    pending = first.json()["pending"]
    assert pending["state"] == "queued" and pending["trigger"] == "manual"
    assert second.json()["pending"]["id"] == pending["id"]
    assert len(sent) == 1 and sent[0]["verification_id"] == pending["id"]

    tasks.verify_chain(**sent[0])

    body = api("viewer", is_auditor=True).get(URL).json()
    assert body["pending"] is None
    last = body["last"]
    assert last["id"] == pending["id"]
    assert last["state"] == "passed" and last["checked"] == 4
    assert (last["first_sequence"], last["last_sequence"], last["broken_sequence"]) == (1, 4, None)
    assert last["requested_by"].startswith("admin-")
    assert last["finished_at"] and last["started_at"]
    # the verification is itself in the trail, by whom it was asked
    entry = AuditRecord.objects.using(DB).filter(action="audit.verification.finished").first()
    if entry is not None:  # (relayed after commit: only when the outbox row was relayed)
        assert entry.outcome == "passed"


@pytest.mark.django_db(databases="__all__")
def test_who_may_read_and_who_may_run_it(api, client, sent):
    assert client.get(URL).status_code == 401
    assert api("manager").get(URL).status_code == 403
    assert api("viewer").get(URL).status_code == 403
    auditor = api("viewer", is_auditor=True)
    assert auditor.get(URL).status_code == 200
    refused = auditor.post(URL)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Running the verification is for admins only."
    assert api("manager", is_auditor=True).post(URL).status_code == 403
    assert sent == [] and not AuditVerification.objects.using(DB).exists()


@postgres_only
@pytest.mark.django_db(databases="__all__")
def test_a_broken_chain_is_reported_with_where_it_broke(api):
    rows = record(6)
    tamper("UPDATE audit_auditrecord SET actor_name = 'eve' WHERE id = %s", [rows[2].id])

    tasks.verify_chain()  # as the schedule runs it

    last = api("admin").get(URL).json()["last"]
    assert last["state"] == "failed" and last["trigger"] == "schedule"
    assert last["checked"] == 2 and last["broken_sequence"] == 3
    assert last["record_id"] == str(rows[2].id)
    assert "altered" in last["problem"]


@pytest.mark.django_db(databases="__all__")
def test_the_command_line_verification_is_stored_too(api, capsys):
    record(2)
    call_command("audit_verify")
    assert "OK: the audit chain is intact (2 records 1..2)" in capsys.readouterr().out
    last = api("admin").get(URL).json()["last"]
    assert (last["trigger"], last["state"], last["checked"]) == ("command", "passed", 2)


@pytest.mark.django_db(databases="__all__")
def test_a_verification_lost_with_its_worker_does_not_block_a_new_one(api, sent):
    AuditVerification.objects.using(DB).create(
        trigger="manual", requested_at=timezone.now() - timedelta(days=1), requested_by="x"
    )
    body = api("admin").post(URL).json()
    assert body["pending"]["requested_by"] != "x"
    assert len(sent) == 1


@pytest.mark.django_db(databases=[DB])
def test_records_appended_during_a_walk_are_not_taken_for_removed_ones(monkeypatch):
    record(3)
    walk = services._records_from

    def appending(*args, **kwargs):
        yield from walk(*args, **kwargs)
        record(2)  # the trail grew while the walk ran

    monkeypatch.setattr(services, "_records_from", appending)
    verdict = services.audit_verify()
    assert verdict.ok, verdict.problem
    assert verdict.checked == 3
