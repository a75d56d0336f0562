"""The audit trail's integrity: the hash chain, append-only rows, verification, retention,
export and the compliance report."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit import services
from apps.audit.models import AppendOnlyError, AuditCheckpoint, AuditRecord
from opsconductor.events import Actor, Event

DB = "audit"
CANARY = "canary-secret-4f1d9a"
postgres_only = pytest.mark.skipif(
    "connections['audit'].vendor != 'postgresql'", reason="the trigger exists on PostgreSQL"
)


def event(type_="targets.target.created", *, at=None, payload=None, actor=None, ip="10.0.0.7"):
    return Event(
        id=uuid.uuid4(),
        type=type_,
        occurred_at=at or timezone.now(),
        actor=actor or Actor(kind="user", id="42", name="alice"),
        payload=payload if payload is not None else {"target_id": "t-1", "name": "web-1"},
        context={"ip": ip, "user_agent": "curl/8", "request_id": "req-1"},
    )


def record(n: int = 5, **kwargs) -> list[AuditRecord]:
    return services.audit_record_events(events=[event(**kwargs) for _ in range(n)])


def tamper(sql: str, params=()) -> None:
    """What a database superuser editing rows by hand does (triggers bypassed)."""
    with transaction.atomic(using=DB), connections[DB].cursor() as cursor:
        if connections[DB].vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


@pytest.mark.django_db(databases=[DB])
def test_records_form_a_chain_and_describe_their_object_and_outcome():
    made = services.audit_record_events(events=[
        event(), event("accounts.login.failed", payload={"username": "mallory", "reason": "x"}),
        event("execution.run.finished", payload={"run_id": "r-9", "job_name": "backup",
                                                 "status": "failed"}),
    ])  # fmt: skip

    assert [r.sequence for r in made] == [1, 2, 3]
    assert made[1].prev_hash == made[0].hash and made[2].prev_hash == made[1].hash
    target, login, run = (AuditRecord.objects.get(pk=r.id) for r in made)
    assert (target.object_type, target.object_id, target.object_name, target.outcome) == (
        "target", "t-1", "web-1", "success"
    )  # fmt: skip
    assert (login.object_type, login.object_name, login.outcome) == ("user", "mallory", "failure")
    assert (run.object_type, run.object_id, run.outcome) == ("run", "r-9", "failed")
    assert services.audit_verify().ok


@pytest.mark.django_db(databases=[DB])
def test_a_redelivered_event_is_recorded_once():
    first = event()
    services.audit_record_events(events=[first, first])
    services.audit_record_events(events=[first])
    assert AuditRecord.objects.count() == 1


@pytest.mark.django_db(databases=[DB])
def test_secrets_never_reach_a_record():
    services.audit_record_events(events=[event("targets.credential.updated", payload={
        "credential_id": "c-1", "name": "root-key", "password": CANARY,
        "changes": {"password": {"from": CANARY, "to": CANARY + "2"}, "username": {
            "from": "a", "to": "b"}}})])  # fmt: skip
    (row,) = AuditRecord.objects.all()
    assert CANARY not in json.dumps(row.details) and CANARY not in json.dumps(row.changes)
    assert row.changes["username"] == {"from": "a", "to": "b"}


@pytest.mark.django_db(databases=[DB])
def test_the_model_never_updates_or_deletes_a_record():
    (row,) = record(1)
    row.action = "forged"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AuditRecord.objects.filter(pk=row.pk).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditRecord.objects.all().delete()


@postgres_only
@pytest.mark.django_db(databases=[DB])
def test_the_database_refuses_update_and_delete_from_the_application():
    from django.db import DatabaseError

    (row,) = record(1)
    for sql in ("UPDATE audit_auditrecord SET action = 'x' WHERE id = %s",
                "DELETE FROM audit_auditrecord WHERE id = %s"):  # fmt: skip
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(using=DB),
            connections[DB].cursor() as cursor,
        ):
            cursor.execute(sql, [row.id])
    assert AuditRecord.objects.get(pk=row.pk).action == "targets.target.created"


@postgres_only
@pytest.mark.django_db(databases=[DB])
@pytest.mark.parametrize("kind", ["altered", "deleted", "inserted"])
def test_verification_names_the_first_record_altered_deleted_or_inserted(kind, capsys):
    rows = record(6)
    victim = rows[3]
    if kind == "altered":
        tamper("UPDATE audit_auditrecord SET actor_name = 'eve' WHERE id = %s", [victim.id])
    elif kind == "deleted":
        tamper("DELETE FROM audit_auditrecord WHERE id = %s", [victim.id])
    else:  # a forged row slipped in between 3 and 4 (sequences shifted to make room)
        tamper("UPDATE audit_auditrecord SET sequence = sequence + 1000 WHERE sequence >= 4")
        forged = AuditRecord(id=uuid.uuid4(), sequence=4, action="accounts.user.role_changed",
                             occurred_at=timezone.now(), recorded_at=timezone.now(),
                             actor_kind="user", actor_name="eve", prev_hash=rows[2].hash,
                             hash="f" * 64)  # fmt: skip
        forged.save(using=DB)

    verdict = services.audit_verify()

    assert not verdict.ok
    assert verdict.checked == 3  # records 1-3 are fine
    if kind == "altered":
        assert verdict.record_id == str(victim.id) and "altered" in verdict.problem
    elif kind == "deleted":
        assert "record 4 was removed" in verdict.problem
    else:
        assert "altered" in verdict.problem or "does not follow" in verdict.problem
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify")
    assert exit_.value.code == 1
    assert "FAILED" in capsys.readouterr().err


@pytest.mark.django_db(databases=[DB], transaction=True)
def test_concurrent_writers_cannot_fork_the_chain():
    barrier = threading.Barrier(4)

    def writer():
        try:
            barrier.wait()
            for _ in range(10):
                services.audit_record_events(events=[event() for _ in range(5)])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # (other writers, e.g. a worker ingesting events of earlier tests, may append too)
    sequences = list(AuditRecord.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1)) and len(sequences) >= 200
    assert services.audit_verify().ok


@pytest.mark.django_db(databases=[DB])
def test_retention_purges_exactly_the_old_records_and_the_chain_still_verifies(tmp_path, capsys):
    now = timezone.now()
    old = [event(at=now - timedelta(days=400, minutes=i)) for i in range(5)]
    new = [event(at=now - timedelta(days=10, minutes=i)) for i in range(3)]
    services.audit_record_events(events=old + new)

    done = services.audit_purge(older_than=timedelta(days=365), export_dir=str(tmp_path), batch=2)

    assert done["removed"] == 5
    assert set(AuditRecord.objects.values_list("id", flat=True)) == {e.id for e in new}
    assert services.audit_verify().ok
    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out
    exported = [json.loads(line) for f in sorted(tmp_path.iterdir()) for line in f.open()]
    assert [r["id"] for r in exported] == [str(e.id) for e in old]
    checkpoint = AuditCheckpoint.objects.order_by("-sequence").first()
    assert (checkpoint.kind, checkpoint.sequence, checkpoint.removed_count) == ("retention", 5, 5)
    # a checkpoint changed by hand (to hide more removed records) no longer verifies
    AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(removed_count=1)
    assert "bad signature" in services.audit_verify().problem


@pytest.mark.django_db(databases=[DB])
def test_purging_nothing_changes_nothing():
    record(3)
    assert services.audit_purge(older_than=timedelta(days=1))["removed"] == 0
    assert AuditRecord.objects.count() == 3 and not AuditCheckpoint.objects.exists()


# -- the API ----------------------------------------------------------------------------------


def client_for(django_user_model, role: str, *, auditor: bool = False) -> APIClient:
    user = django_user_model.objects.create_user(username=f"{role}-{auditor}", password="x",
                                                 role=role)  # fmt: skip
    if auditor:
        user.is_auditor = True
        user.save()
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(databases="__all__")
def test_export_round_trips_as_json_lines_and_csv(django_user_model):
    rows = record(7, payload={"target_id": "t-2", "name": "=cmd|' /c calc'!A1"})
    admin = client_for(django_user_model, "admin")

    response = admin.get("/api/v1/audit/events/export/?as=jsonl&action_prefix=targets.")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["id"] for line in lines] == [str(r.id) for r in reversed(rows)]
    assert lines[0]["hash"] == rows[-1].hash and lines[0]["details"]["name"].startswith("=")

    response = admin.get("/api/v1/audit/events/export/?as=csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(table) == 7 and table[0]["sequence"] == "7"
    assert table[0]["object_name"].startswith("'=")  # never run as a spreadsheet formula
    assert admin.get("/api/v1/audit/events/export/?as=xml").status_code == 400


@pytest.mark.django_db(databases="__all__")
def test_only_admins_and_auditors_export_and_report(django_user_model, client):
    record(1)
    manager = client_for(django_user_model, "manager")
    auditor = client_for(django_user_model, "viewer", auditor=True)
    for url in ("/api/v1/audit/events/export/",
                "/api/v1/audit/events/report/?since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z"):  # fmt: skip
        assert manager.get(url).status_code == 403
        assert client.get(url).status_code == 401
        assert auditor.get(url).status_code == 200
    assert auditor.post("/api/v1/audit/events/", {}).status_code == 403


@pytest.mark.django_db(databases="__all__")
def test_cursor_pages_do_not_shift_while_records_arrive(django_user_model):
    record(5)
    admin = client_for(django_user_model, "admin")
    first = admin.get("/api/v1/audit/events/?page_size=2").json()
    record(3)  # newer records arrive meanwhile
    second = admin.get(first["next"]).json()
    assert [r["sequence"] for r in first["results"]] == [5, 4]
    assert [r["sequence"] for r in second["results"]] == [3, 2]


def walk(client, url: str, link: str = "next") -> list[list[int]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append([r["sequence"] for r in body["results"]])
        url = body[link]
    return pages


@pytest.mark.django_db(databases="__all__")
def test_a_time_range_pages_by_occurrence_through_ties_and_back(django_user_model):
    day = datetime(2026, 10, 1, 12, tzinfo=UTC)
    # recorded out of order (a late delivery), and seven of them at the same instant
    services.audit_record_events(events=[event(at=day + timedelta(minutes=5))])  # 1
    services.audit_record_events(events=[event(at=day) for _ in range(7)])  # 2..8
    services.audit_record_events(events=[event(at=day - timedelta(days=2))])  # 9: outside
    services.audit_record_events(events=[event(at=day + timedelta(minutes=1))])  # 10
    admin = client_for(django_user_model, "admin")
    url = "/api/v1/audit/events/?page_size=3&since=2026-10-01T00:00:00Z&until=2026-10-02T00:00:00Z"

    pages = walk(admin, url)
    assert pages == [[1, 10, 8], [7, 6, 5], [4, 3, 2]]  # newest occurrence first, then sequence
    last = admin.get(url).json()
    for _ in range(2):
        last = admin.get(last["next"]).json()
    back = walk(admin, last["previous"], "previous")
    assert back == [[7, 6, 5], [1, 10, 8]]
    assert admin.get(last["previous"]).json()["next"] is not None


@pytest.mark.django_db(databases="__all__")
def test_pages_walk_back_with_previous_and_a_bad_cursor_is_a_400(django_user_model):
    record(5)
    admin = client_for(django_user_model, "admin")
    first = admin.get("/api/v1/audit/events/?page_size=2").json()
    assert first["previous"] is None
    second = admin.get(first["next"]).json()
    third = admin.get(second["next"]).json()
    assert [r["sequence"] for r in third["results"]] == [1] and third["next"] is None
    again = admin.get(third["previous"]).json()
    assert [r["sequence"] for r in again["results"]] == [3, 2]
    assert [r["sequence"] for r in admin.get(again["previous"]).json()["results"]] == [5, 4]

    for cursor in ("not-a-cursor", "eyJ4IjoxfQ"):  # garbage; valid base64 of {"x":1}
        bad = admin.get(f"/api/v1/audit/events/?cursor={cursor}")
        assert bad.status_code == 400 and "cursor" in bad.json()["error"]["fields"]
    # a cursor of the sequence order used with a time range (its position has no time)
    mixed = admin.get(first["next"] + "&since=2026-01-01T00:00:00Z")
    assert mixed.status_code == 400


@pytest.mark.django_db(databases="__all__")
def test_free_text_finds_words_in_action_actor_object_and_agent(django_user_model):
    services.audit_record_events(events=[
        event(payload={"target_id": "t-7", "name": "db-Primary-eu"}),
        event("accounts.login.failed", payload={"username": "mallory"},
              actor=Actor(kind="anonymous", id="", name="mallory")),
        event("jobs.job.created", payload={"job_id": "j-1", "name": "backup 100%"}),
    ])  # fmt: skip
    admin = client_for(django_user_model, "admin")

    def found(text):
        response = admin.get("/api/v1/audit/events/", {"q": text})
        assert response.status_code == 200
        return [r["action"] for r in response.json()["results"]]

    assert found("PRIMARY-eu") == ["targets.target.created"]
    assert found("mallory") == ["accounts.login.failed"]
    assert found("login.fail") == ["accounts.login.failed"]
    assert found("100%") == ["jobs.job.created"]  # a % is a character, not a wildcard
    assert found("10_%") == []
    assert len(found("curl/8")) == 3  # the user agent
    assert len(found("req-1")) == 3  # a request id, exactly
    assert found("zz-nothing") == []


@pytest.mark.django_db(databases="__all__")
def test_the_compliance_report_lists_runs_with_targets_and_access_changes(django_user_model):
    bob = Actor(kind="user", id="7", name="bob")
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    services.audit_record_events(events=[
        event("execution.run.requested", at=at, actor=bob, payload={
            "run_id": "r-1", "job_id": "j-1", "job_name": "patch", "job_version": 3,
            "trigger": "manual", "selector": "tag:web"}),
        event("execution.target.finished", at=at, actor=bob, payload={
            "run_id": "r-1", "target_name": "web-1", "status": "failed", "exit_code": 2,
            "reason": "exit code 2"}),
        event("execution.run.finished", at=at, actor=bob, payload={
            "run_id": "r-1", "status": "failed", "counts": {"failed": 1}}),
        event("accounts.user.role_changed", at=at, payload={
            "user_id": "u-2", "username": "carol", "changes": {"role": {"from": "viewer",
                                                                        "to": "admin"}}}),
        event("targets.target.created", at=at),
    ])  # fmt: skip
    admin = client_for(django_user_model, "admin")
    report = admin.get(
        "/api/v1/audit/events/report/?since=2026-11-01T00:00:00Z&until=2026-11-03T00:00:00Z"
    ).json()

    (run,) = report["runs"]
    assert (run["job"], run["by"]["name"], run["status"]) == ("patch", "bob", "failed")
    assert run["targets"] == [{"target": "web-1", "target_id": None, "status": "failed",
                               "exit_code": 2, "reason": "exit code 2"}]  # fmt: skip
    (change,) = report["access_changes"]
    assert change["object_name"] == "carol"
    assert change["changes"] == {"role": {"from": "viewer", "to": "admin"}}
    bad = admin.get(
        "/api/v1/audit/events/report/?since=2026-11-03T00:00:00Z&until=2026-11-01T00:00:00Z"
    )
    assert bad.status_code == 400 and "until" in bad.json()["error"]["fields"]


@pytest.mark.django_db(databases="__all__")
def test_a_permission_denial_is_an_event_of_the_trail(django_user_model):
    from opsconductor.events.models import OutboxEvent

    viewer = client_for(django_user_model, "viewer")
    assert viewer.post("/api/v1/jobs/", {}, format="json").status_code == 403

    (denied,) = OutboxEvent.objects.using("default").filter(event_type="accounts.permission.denied")
    assert denied.payload["path"] == "/api/v1/jobs/" and denied.payload["method"] == "POST"
    assert denied.actor["name"] == "viewer-False"
    services.audit_record_event(event=Event(
        id=denied.id, type=denied.event_type, occurred_at=denied.occurred_at,
        actor=Actor.from_dict(denied.actor), payload=denied.payload, context=denied.context))  # fmt: skip
    assert AuditRecord.objects.get(pk=denied.id).outcome == "denied"


@pytest.mark.django_db(databases=[DB])
def test_a_credential_scope_refusal_is_recorded_as_denied_on_the_credential():
    (row,) = services.audit_record_events(events=[event("targets.credential.scope_refused",
        payload={"credential_id": "c-7", "credential_name": "prod-root", "credential": "prod-root",
                 "target_id": "t-1", "target_name": "web-1", "address": "10.9.9.9:22",
                 "reason": "10.9.9.9 is not in the credential's allowed_hosts", "via": "run",
                 "actor": "user:mallory"})])  # fmt: skip
    row = AuditRecord.objects.get(pk=row.id)
    assert (row.object_type, row.object_id, row.object_name, row.outcome) == (
        "credential", "c-7", "prod-root", "denied"
    )  # fmt: skip
