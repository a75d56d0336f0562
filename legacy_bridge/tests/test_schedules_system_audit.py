"""The schedules, system and audit adapters as the legacy UI uses them: writes through the
apps' services with our roles and validation (the legacy 422 shape), schedules with the legacy
scheduler's semantics that really fire, settings an admin's to change, and the audit page's
paging, export and lookups over the real trail."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.scheduling.interface import schedule_details
from legacy_bridge import legacy_ids
from legacy_bridge.tests.legacy_fixture import PASSWORD, seed
from legacy_bridge.tests.test_route_auth import set_routes
from opsconductor.events import Actor, Event
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")

ROUTES = {
    "/api/v3/auth": "legacy-auth",
    "/api/v3/schedules": "legacy-schedules",
    "/api/schedules": "legacy-api-schedules",
    "/api/v3/system": "legacy-system",
    "/api/v3/audit": "legacy-audit",
    "/api/v3/targets": "legacy-targets",
}
# what the job dialog sends (S3): camelCase, the browser's zone
CRON_NY = {
    "job_id": 1,
    "schedule_type": "cron",
    "enabled": True,
    "timezone": "America/New_York",
    "description": "Auto-created schedule for job: legacy whoami",
    "cronExpression": "15 3 * * 1-5",
}


@pytest.fixture
def ui(client):
    """``ui(username)`` -> headers of a legacy session of that fixture user (areas migrated)."""
    fixture = seed()
    set_routes({p: {"mode": "migrated", "adapter": a} for p, a in ROUTES.items()})

    def headers(username: str) -> dict:
        answer = client.post(
            "/api/v3/auth/login",
            {"username": username, "password": PASSWORD},
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    headers.fixture = fixture
    return headers


def send(client, method, path, headers, body=None):
    return client.generic(
        method,
        path,
        data=json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers=headers,
    )


def outbox(event_type: str | None = None) -> list:
    """The events published (each app's outbox is on its own database alias)."""
    from django.db import connections

    rows = {}
    for alias in connections:
        found = OutboxEvent.objects.using(alias).all()
        if event_type:
            found = found.filter(event_type=event_type)
        rows.update({row.id: row for row in found})
    return sorted(rows.values(), key=lambda row: row.occurred_at)


def our_schedule(legacy_id: int):
    schedule_id = legacy_ids.new_id_for("schedules", legacy_id)
    return schedule_details([schedule_id]).get(schedule_id)


# --- schedules ------------------------------------------------------------------------------------


def test_the_ui_creates_a_schedule_where_it_sends_it_and_it_fires_in_utc(client, ui):
    manager = ui("lmanager")
    # the UI posts to /api/v3/schedules, no slash (the legacy backend: 404)
    created = send(client, "POST", "/api/v3/schedules", manager, CRON_NY)
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["id"] >= settings.LEGACY_ID_FLOOR
    assert body["timezone"] == "America/New_York"  # what was declared, echoed
    assert body["cron_expression"] == "15 3 * * 1-5"
    next_run = datetime.fromisoformat(body["next_run"].replace("Z", "+00:00"))
    # 03:15 UTC on a weekday, as the legacy scheduler fired it (not 03:15 in New York)
    assert (next_run.hour, next_run.minute, next_run.weekday() < 5) == (3, 15, True)
    ours = our_schedule(body["id"])
    assert (ours.kind, ours.cron, ours.timezone) == ("cron", "15 3 * * 1-5", "UTC")
    assert "Declared time zone America/New_York" in ours.description
    (event,) = outbox("scheduling.schedule.created")
    assert event.actor["name"] == "lmanager"
    # S1 then lists it for the job, under both URL spaces, newest first
    for path in ("/api/v3/schedules?job_id=1", "/api/schedules/?job_id=1"):
        listed = send(client, "GET", path, ui("lguest"))
        assert listed.status_code == 200
        assert listed.json()[0]["id"] == body["id"]
        assert {s["job_id"] for s in listed.json()} == {1}
    shown = send(client, "GET", f"/api/schedules/{body['id']}", manager)
    assert shown.json() == {**body, "updated_at": shown.json()["updated_at"]}


def test_a_one_time_schedule_created_through_the_legacy_route_really_fires(client, ui):
    from apps.execution.interface import job_has_runs
    from apps.scheduling import services

    manager = ui("lmanager")
    at = (timezone.now() + timedelta(minutes=5)).replace(microsecond=0)
    created = send(
        client,
        "POST",
        "/api/v3/schedules",
        manager,
        {
            "job_id": 2,
            "schedule_type": "once",
            "enabled": True,
            "timezone": "Europe/Berlin",
            "description": "one shot",
            "executeAt": at.astimezone(UTC).isoformat().replace("+00:00", ".000Z"),
        },
    )
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["next_run"] == at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert body["execute_at"] == body["next_run"]
    job = ui.fixture.jobs[2]
    assert not job_has_runs(job)
    done = services.schedules_fire_due(now=at + timedelta(seconds=1))  # the scheduler's tick
    assert done["started"] == 1, done
    assert job_has_runs(job)
    after = send(client, "GET", f"/api/schedules/{body['id']}", manager).json()
    assert after["execution_count"] == 1
    assert after["last_run"] is not None
    assert after["next_run"] is None  # once: nothing left
    # a schedule with history is deleted (the legacy backend: 500), its runs stay
    deleted = send(client, "DELETE", f"/api/v3/schedules/{body['id']}", manager)
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "Schedule deleted successfully"}
    assert send(client, "GET", f"/api/schedules/{body['id']}", manager).status_code == 404
    assert job_has_runs(job)


def test_viewers_and_operators_read_schedules_but_every_write_is_refused(client, ui):
    manager = ui("lmanager")
    existing = send(client, "POST", "/api/schedules/", manager, CRON_NY).json()["id"]
    for username in ("lguest", "loperator"):
        headers = ui(username)
        assert send(client, "GET", "/api/v3/schedules?job_id=1", headers).status_code == 200
        for method, path, body in (
            ("POST", "/api/v3/schedules", CRON_NY),
            ("POST", "/api/schedules/", CRON_NY),
            ("PUT", f"/api/schedules/{existing}", {"cronExpression": "0 4 * * *"}),
            ("DELETE", f"/api/v3/schedules/{existing}", None),
            ("DELETE", "/api/schedules/1", None),
        ):
            response = send(client, method, path, headers, body)
            assert response.status_code == 403, (username, method, path)
            assert response.json()["detail"] == "Your role does not allow this action."
    assert our_schedule(existing) is not None
    assert our_schedule(1) is not None


def test_invalid_schedules_are_the_legacy_errors_naming_the_field_the_ui_sent(client, ui):
    manager = ui("lmanager")

    def create(**changes):
        body = {**CRON_NY, **changes}
        body = {k: v for k, v in body.items() if v is not None}
        return send(client, "POST", "/api/v3/schedules", manager, body)

    def loc(response):
        assert response.status_code == 422, response.content
        return [tuple(item["loc"]) for item in response.json()["detail"]]

    no_job = {k: v for k, v in CRON_NY.items() if k != "job_id"}
    assert loc(send(client, "POST", "/api/v3/schedules", manager, no_job)) == [("body", "job_id")]
    assert loc(create(cronExpression="61 * * * *")) == [("body", "cronExpression")]
    assert loc(create(cron_expression="* *", cronExpression=None)) == [("body", "cron_expression")]
    assert loc(create(timezone="Mars/Olympus")) == [("body", "timezone")]
    assert loc(create(job_id="one")) == [("body", "job_id")]
    assert loc(create(schedule_type="yearly")) == [("body", "schedule_type")]
    daily = {"schedule_type": "recurring", "recurringType": "daily", "interval": 1}
    assert loc(create(**daily, time="25:00")) == [("body", "time")]
    assert loc(create(**{**daily, "interval": 0}, time="06:30")) == [("body", "interval")]
    weekly = {**daily, "recurringType": "weekly", "time": "06:30"}
    assert loc(create(**weekly, daysOfWeek="0,9")) == [("body", "daysOfWeek")]
    assert loc(create(schedule_type="once", executeAt="tomorrow")) == [("body", "executeAt")]
    assert loc(create(schedule_type="once")) == [("body", "execute_at")]
    unknown_job = create(job_id=999)
    assert (unknown_job.status_code, unknown_job.json()["detail"]) == (400, "Job 999 not found")
    yearly = create(**{**daily, "recurringType": "yearly", "time": "06:30"})
    assert (yearly.status_code, yearly.json()["detail"]) == (400, "Invalid recurring type: yearly")
    assert loc(send(client, "GET", "/api/v3/schedules?job_id=x", manager)) == [("query", "job_id")]
    assert loc(send(client, "DELETE", "/api/schedules/x", manager)) == [("path", "schedule_id")]
    missing = send(client, "DELETE", "/api/schedules/999", manager)
    assert (missing.status_code, missing.json()["detail"]) == (404, "Schedule not found")
    assert outbox("scheduling.schedule.created") == []


def test_changing_a_schedule_replans_it_by_the_legacy_rule(client, ui):
    manager = ui("lmanager")
    changed = send(
        client,
        "PUT",
        "/api/schedules/3",
        manager,
        {"time": "07:45", "timezone": "Europe/Paris"},
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["recurring_type"], body["time"], body["timezone"]) == (
        "daily",
        "07:45",
        "Europe/Paris",
    )
    next_run = datetime.fromisoformat(body["next_run"].replace("Z", "+00:00"))
    assert (next_run.hour, next_run.minute) == (7, 45)  # UTC, as the legacy scheduler
    ours = our_schedule(3)
    assert (ours.kind, ours.time_of_day.hour, ours.timezone) == ("calendar", 7, "UTC")
    assert len(outbox("scheduling.schedule.updated")) == 1
    assert send(client, "PUT", "/api/schedules/999", manager, {"time": "07:45"}).status_code == 404


# --- system -------------------------------------------------------------------------------------


def test_info_says_the_deployments_time_zone_as_the_ui_reads_it(client, ui, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    info = send(client, "GET", "/api/v3/system/info", ui("lguest")).json()
    assert info["timezone"]["display_name"] in ("Europe/Berlin (CET)", "Europe/Berlin (CEST)")
    assert info["timezone"]["current_utc_offset"] in ("+01:00", "+02:00")
    assert info["hostname"] == "opsconductor"
    time = send(client, "GET", "/api/v3/system/time", ui("lguest")).json()
    assert time["timezone"] == "Europe/Berlin"
    assert time["utc_offset_hours"] in (1.0, 2.0)


def test_settings_are_an_admins_to_change_and_the_deployments_keys_read_only(client, ui):
    admin, manager = ui("ladmin"), ui("lmanager")
    page = send(client, "GET", "/api/v3/system/settings", admin).json()["settings"]
    assert page["session_timeout_minutes"] == settings.LEGACY_SESSION_SECONDS // 60
    edited = {**page, "max_concurrent_jobs": 25, "audit_log_export": "weekly"}
    refused = send(client, "PUT", "/api/v3/system/settings", manager, edited)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "Administrator access required",
    )
    saved = send(client, "PUT", "/api/v3/system/settings", admin, edited)
    assert saved.status_code == 200, saved.content
    assert saved.json()["updated_settings"] == ["max_concurrent_jobs", "audit_log_export"]
    again = send(client, "GET", "/api/v3/system/settings", ui("lguest")).json()["settings"]
    assert (again["max_concurrent_jobs"], again["audit_log_export"]) == (25, "weekly")
    (event,) = outbox("legacy_bridge.settings.changed")
    assert event.actor["name"] == "ladmin"
    assert event.payload["changes"]["max_concurrent_jobs"] == {"from": 10, "to": 25}
    read_only = send(
        client, "PUT", "/api/v3/system/settings", admin, {**edited, "audit_log_retention_days": 7}
    )
    assert read_only.status_code == 422
    assert [e["loc"] for e in read_only.json()["detail"]] == [["body", "audit_log_retention_days"]]
    assert "AUDIT_RETENTION_DAYS" in read_only.json()["detail"][0]["msg"]
    bad = send(
        client,
        "PUT",
        "/api/v3/system/settings",
        admin,
        {"max_concurrent_jobs": 0, "log_compression_enabled": "yes", "theme": "neon"},
    )
    assert [e["loc"][1] for e in bad.json()["detail"]] == [
        "max_concurrent_jobs",
        "log_compression_enabled",
        "theme",
    ]
    assert send(client, "GET", "/api/v3/system/settings", admin).json()["settings"] == again


def test_health_is_public_and_names_no_address_or_host(client, ui):
    for path in ("health", "health/", "health/system", "health/database", "health/application"):
        response = client.get(f"/api/v3/system/{path}", headers={"Authorization": ""})
        assert response.status_code == 200, path
        text = response.content.decode()
        for secret in ("127.0.0.1", "postgres://", settings.DATABASES["default"]["NAME"]):
            assert secret not in text, (path, secret)
    overview = client.get("/api/v3/system/health/").json()
    assert overview["status"] == "healthy"
    assert overview["health_checks"]["docker_containers"]["details"]["summary"]["total"] == 0
    assert overview["health_checks"]["services"]["details"]["services"]["broker"]["healthy"]
    assert client.get("/api/v3/system/health").json()["overall_health"] == "healthy"


# --- audit --------------------------------------------------------------------------------------


def deliver_to_trail() -> None:
    """What the audit app's subscriber does with every published event (without a worker)."""
    from apps.audit.services import audit_record_event

    for row in outbox():
        audit_record_event(
            event=Event(
                id=row.id,
                type=row.event_type,
                occurred_at=row.occurred_at,
                actor=Actor.from_dict(row.actor),
                payload=row.payload,
                context=row.context,
            )
        )


def test_the_audit_page_pages_through_the_real_trail(client, ui):
    manager = ui("lmanager")
    for _ in range(3):
        assert send(client, "POST", "/api/v3/schedules", manager, CRON_NY).status_code == 200
    assert send(client, "DELETE", "/api/v3/targets/2", manager).status_code == 200
    deliver_to_trail()
    admin = ui("ladmin")

    def page(number, limit=2, **query):
        params = "&".join(f"{k}={v}" for k, v in {"page": number, "limit": limit, **query}.items())
        response = send(client, "GET", f"/api/v3/audit/events?{params}&sort=timestamp", admin)
        assert response.status_code == 200, response.content
        return response.json()

    first, second = page(1), page(2)
    total = first["total"]
    assert total >= 4 and second["total"] == total
    assert (first["skip"], second["skip"]) == (0, 2)
    assert {e["id"] for e in first["events"]}.isdisjoint(e["id"] for e in second["events"])
    assert first["events"][0]["event_type"] == "legacy_bridge.request.forwarded"  # the DELETE
    newest = page(1, event_type="targets.target.deleted")["events"][0]
    assert (newest["resource_type"], newest["resource_id"]) == ("target", "2")
    assert newest["user_id"] == 2  # lmanager's legacy id
    oldest = page(1, order="asc")["events"][0]
    assert oldest["timestamp"] <= newest["timestamp"]
    created = page(1, limit=10, event_type="scheduling.schedule.created")
    assert created["total"] == 3
    types = send(client, "GET", "/api/v3/audit/event-types", admin).json()["event_types"]
    assert {"name": "TARGETS_TARGET_DELETED", "value": "targets.target.deleted"}.items() <= {
        k: v for t in types if t["value"] == "targets.target.deleted" for k, v in t.items()
    }.items()
    # enrichment: display names of the users and targets the events name
    users = send(client, "GET", "/api/v3/audit/lookups/users?user_ids=2,999", admin).json()
    assert users == {
        "users": {
            "2": {
                "id": 2,
                "username": "lmanager",
                "email": "lmanager@legacy.example",
                "role": "manager",
                "is_active": True,
                "display_name": "lmanager",
            }
        }
    }
    targets = send(client, "GET", "/api/v3/audit/lookups/targets?target_ids=1,2", admin).json()
    assert targets["targets"]["1"]["display_name"] == "legacy-web-1"


def test_the_audit_export_is_the_filtered_trail(client, ui):
    manager = ui("lmanager")
    send(client, "POST", "/api/v3/schedules", manager, CRON_NY)
    send(client, "DELETE", "/api/v3/targets/2", manager)
    deliver_to_trail()
    admin = ui("ladmin")
    response = send(client, "GET", "/api/v3/audit/export?format=csv", admin)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    actions = [row["action"] for row in rows]
    assert "targets.target.deleted" in actions and "scheduling.schedule.created" in actions
    assert rows[0]["actor_name"] in ("lmanager", "ladmin")
    filtered = send(
        client, "GET", "/api/v3/audit/export?format=json&event_type=targets.target.deleted", admin
    )
    records = json.loads(b"".join(filtered.streaming_content))
    assert [r["action"] for r in records] == ["targets.target.deleted"]
    assert records[0]["object_name"] == "legacy-web-2"
    wrong = send(client, "GET", "/api/v3/audit/export?format=xml", admin)
    assert wrong.status_code == 422


def test_the_trail_is_an_admins_or_an_auditors_to_read(client, ui):
    from apps.accounts.models import User  # test set-up: make lguest an auditor

    for username in ("lguest", "loperator", "lmanager"):
        response = send(client, "GET", "/api/v3/audit/events?page=1&limit=1", ui(username))
        assert response.status_code == 403, username
        assert response.json()["detail"] == "Administrator access required"
    User.objects.filter(username="lguest").update(is_auditor=True)
    for path in ("events?page=1&limit=1", "event-types", "export?format=json"):
        response = send(client, "GET", f"/api/v3/audit/{path}", ui("lguest"))
        assert response.status_code == 200, path
