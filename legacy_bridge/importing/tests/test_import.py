"""The importer against a legacy database on the real PostgreSQL (built from our DDL of
LEGACY.md, filled like the legacy backend filled it), checked through the product's API."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from legacy_bridge.importing.models import ImportedRecord, ImportRun
from legacy_bridge.importing.tests import legacy_rule
from legacy_bridge.importing.tests.seed import OLD_PASSWORD, SHARED_PASSWORD, seed
from opsconductor.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases="__all__")

CORE = ("users", "targets", "jobs", "schedules")


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def listing(client, path):
    return ok(client.get(path, {"page_size": 500}))["results"]


def by_name(items):
    out = {}
    for item in items:
        out.setdefault(item["name"], []).append(item)
    return out


SCHEDULE_COLUMNS = ("next_run", "last_run", "execution_count", "enabled", "created_at")


def add_schedule(legacy, job_id, kind, created, **fields):
    """A job_schedules row as the legacy backend leaves it: created at ``created``, its next
    run planned by the legacy rule (in UTC) and its scheduler run on time until now."""
    row = legacy_rule.run_until({"schedule_type": kind, **fields}, created, datetime.now(UTC))
    fields.update({column: row[column] for column in SCHEDULE_COLUMNS if column in row})
    return legacy.add_schedule(job_id, kind, **fields)


def add_schedules(legacy, s):
    ago = datetime.now(UTC) - timedelta(days=10)
    s.schedules["cron"] = add_schedule(
        legacy,
        s.jobs["deploy"],
        "cron",
        ago,
        cron_expression="30 2 * * 1-5",
        timezone="Europe/Berlin",
        description="weekday nights",
    )
    s.schedules["once"] = add_schedule(
        legacy, s.jobs["deploy"], "once", ago, execute_at=datetime(2031, 1, 15, 10, 0, tzinfo=UTC)
    )
    s.schedules["daily"] = add_schedule(
        legacy,
        s.jobs["everywhere"],
        "recurring",
        ago,
        recurring_type="daily",
        interval=1,
        time="06:15",
        timezone="America/New_York",
    )
    s.schedules["weekly"] = add_schedule(
        legacy,
        s.jobs["everywhere"],
        "recurring",
        ago,
        recurring_type="weekly",
        interval=2,
        time="09:00",
        days_of_week="0,2,4",
        timezone="Europe/London",
        description="every other week",
    )
    s.schedules["fortnightly"] = add_schedule(
        legacy,
        s.jobs["everywhere"],
        "recurring",
        ago,
        recurring_type="weekly",
        interval=2,
        time="21:00",
        days_of_week="3",
        timezone="Asia/Kolkata",
    )
    s.schedules["monthly"] = add_schedule(
        legacy,
        s.jobs["deploy"],
        "recurring",
        ago,
        recurring_type="monthly",
        interval=1,
        time="23:30",
        day_of_month=15,
        timezone="Australia/Sydney",
    )
    s.schedules["paused"] = add_schedule(
        legacy,
        s.jobs["everywhere"],
        "cron",
        ago,
        cron_expression="0 * * * *",
        enabled=False,
        max_executions=10,
        execution_count=4,
        end_date=datetime(2032, 1, 1, tzinfo=UTC),
    )
    # saved in April: there is no 31 April, so the legacy rule planned no run at all
    s.schedules["dormant"] = add_schedule(
        legacy,
        s.jobs["deploy"],
        "recurring",
        datetime(2026, 4, 5, tzinfo=UTC),
        recurring_type="monthly",
        time="08:00",
        day_of_month=31,
    )
    s.schedules["of-deleted-job"] = add_schedule(
        legacy, s.jobs["old"], "cron", ago, cron_expression="0 0 * * *"
    )
    s.schedules["bad-zone"] = add_schedule(
        legacy,
        s.jobs["deploy"],
        "cron",
        ago,
        cron_expression="0 0 * * *",
        timezone="Mars/Olympus",
    )


@pytest.fixture
def seeded(legacy):
    s = seed(legacy)
    add_schedules(legacy, s)
    return s


def table(report, name):
    return report.tables[name]


def events(**filters):
    """Outbox events on every alias (each app publishes on its own; in split mode they are
    different databases), as (alias, id, type) triples."""
    from django.conf import settings

    return {
        (alias, str(e.id), e.event_type)
        for alias in settings.DATABASES
        for e in OutboxEvent.objects.using(alias).filter(**filters)
    }


def test_users_sign_in_with_their_legacy_password_and_roles_map(seeded, run_import):
    report = run_import(only=CORE)
    users = table(report, "users")
    assert (users.read, users.imported, users.failed) == (5, 4, 1)
    assert "superuser" in users.failures[0]["reason"]

    client = APIClient()
    token = ok(
        client.post(
            "/api/v1/auth/token/", {"username": "alice", "password": OLD_PASSWORD}, format="json"
        )
    )
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access']}")
    me = ok(client.get("/api/v1/me/"))
    assert (me["username"], me["role"], me["email"]) == ("alice", "admin", "alice@example.com")
    wrong = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 401
    # carol was inactive in legacy: she stays locked out
    inactive = APIClient().post(
        "/api/v1/auth/token/", {"username": "carol", "password": "x"}, format="json"
    )
    assert inactive.status_code == 401
    roles = {u["username"]: u["role"] for u in listing(client, "/api/v1/users/")}
    assert roles == {"alice": "admin", "bob": "operator", "carol": "viewer", "dave": "manager"}


def test_targets_methods_and_credentials(seeded, run_import, admin_api, legacy):
    report = run_import(only=CORE)
    targets = by_name(listing(admin_api, "/api/v1/targets/"))
    assert sorted(targets) == ["broken-cred", "db-1", "mail", "web", "win-1"]
    assert len(targets["web"]) == 2  # the legacy name was not unique, and need not be
    web1 = next(t for t in targets["web"] if t["environment"] == "production")
    assert (web1["location"], web1["data_center"], web1["region"]) == (
        "Frankfurt",
        "fra1",
        "eu-central",
    )
    assert web1["description"] == "first web server"
    assert web1["labels"]["legacy.serial"] == "TGT-000001"
    assert web1["labels"]["legacy.id"] == str(seeded.targets["web1"])
    assert web1["host_key_policy"] == "accept-new"
    [method] = web1["connection_methods"]  # the snmp method is not a connection method
    assert (method["protocol"], method["host"], method["port"]) == ("ssh", "127.0.0.1", 2222)
    assert targets["db-1"][0]["status"] == "maintenance"
    assert targets["broken-cred"][0]["status"] == "inactive"
    assert targets["broken-cred"][0]["connection_methods"][0]["credential"] is None
    [win] = targets["win-1"]
    assert win["os_family"] == "windows"
    [winrm] = win["connection_methods"]
    assert (winrm["protocol"], winrm["port"], winrm["winrm_scheme"], winrm["winrm_transport"]) == (
        "winrm",
        5986,
        "https",
        "basic",
    )
    assert targets["mail"][0]["connection_methods"] == []
    # the legacy UI addresses methods by id: each imported method keeps its legacy id
    from legacy_bridge.legacy_ids import new_id_for

    assert str(new_id_for("methods", seeded.methods["web1-ssh"])) == method["id"]
    assert str(new_id_for("methods", seeded.methods["win1-winrm"])) == winrm["id"]
    assert new_id_for("methods", seeded.methods["web1-snmp"]) is None  # not imported

    methods = table(report, "target_communication_methods")
    assert methods.skipped_reasons == {
        "snmp is not a remote-execution method": 1,
        "postgresql is not a remote-execution method": 1,
        "smtp is not a remote-execution method": 1,
    }
    assert methods.counts["type ssh"] == 4 and methods.counts["type winrm"] == 1
    assert any("accept-new" in note for note in table(report, "universal_targets").notes)

    # identical credentials became one; the corrupt one is reported and skipped
    credentials = listing(admin_api, "/api/v1/credentials/")
    assert len(credentials) == 3
    ops = [c for c in credentials if c["username"] == "ops"]
    assert len(ops) == 1
    db1_method = targets["db-1"][0]["connection_methods"][0]
    web2_method = next(t for t in targets["web"] if t is not web1)["connection_methods"][0]
    assert db1_method["credential"]["name"] == web2_method["credential"]["name"] == ops[0]["name"]
    # each is scoped to the hosts it was used with (the shared one: both of its targets'),
    # admins only, as the legacy system's targets had them
    hosts = {m["host"] for t in (targets["db-1"][0], next(t for t in targets["web"]
             if t is not web1)) for m in t["connection_methods"]}  # fmt: skip
    assert sorted(ops[0]["allowed_hosts"]) == sorted(
        f"{h}/32" if h.replace(".", "").isdigit() else h for h in hosts
    )
    assert all(c["allowed_hosts"] and c["attach_roles"] == [] for c in credentials)
    creds = table(report, "target_credentials")
    assert creds.failed == 1
    assert creds.failures[0]["id"] == str(seeded.credentials["corrupt"])
    assert "cannot be decrypted" in creds.failures[0]["reason"]
    # no secret anywhere in the report or the credentials API
    text = report.to_json() + report.to_text() + json.dumps(credentials)
    for secret in (SHARED_PASSWORD, "W1n-pass", "k3y-less", legacy.secret_key):
        assert secret not in text


def test_jobs_keep_steps_selection_timeout_and_retries(seeded, run_import, admin_api):
    run_import(only=CORE)
    targets = {t["labels"]["legacy.id"]: t["id"] for t in listing(admin_api, "/api/v1/targets/")}
    jobs = by_name(listing(admin_api, "/api/v1/jobs/?archived=all"))
    if "old cleanup" not in jobs:  # the list hides archived jobs by default
        jobs.update(by_name(listing(admin_api, "/api/v1/jobs/?archived=true")))
    [deploy] = jobs["deploy"]
    assert [(s["name"], s["kind"]) for s in deploy["steps"]] == [
        ("say hello", "command"),
        ("check disk", "script"),
    ]
    assert deploy["steps"][1]["interpreter"] == "bash"
    assert deploy["default_selector"] == f"id={targets[str(seeded.targets['web1'])]}"
    assert deploy["policy"]["run_timeout_seconds"] == 300
    assert deploy["policy"]["connection_retries"] == 2
    assert all(s["timeout_seconds"] == 300 for s in deploy["steps"])
    assert deploy["owner"]["name"] == "dave"
    assert jobs["uptime everywhere"][0]["default_selector"] == "all"
    [renamed] = jobs["deploy (JOB-000004)"]  # job names are unique here
    assert renamed["steps"][0]["command"] == "true"
    [old] = jobs["old cleanup"]
    assert old["archived"] is True
    selected = ok(
        admin_api.post(
            "/api/v1/targets/select/", {"selector": old["default_selector"]}, format="json"
        )
    )
    assert sorted(t["id"] for t in selected["results"]) == sorted(
        [targets[str(seeded.targets["web2"])], targets[str(seeded.targets["db1"])]]
    )
    assert "copy files" not in jobs


def legacy_rows(legacy) -> dict[int, dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(legacy.url, row_factory=dict_row) as conn:
        return {r["id"]: r for r in conn.execute("SELECT * FROM job_schedules").fetchall()}


def imported_schedules(admin_api) -> dict[str, dict]:
    """The imported schedules by legacy id (their names start "Legacy schedule #<id>")."""
    return {
        int(s["name"].split(":")[0].removeprefix("Legacy schedule #")): s
        for s in listing(admin_api, "/api/v1/schedules/")
    }


def next_times(admin_api, schedule, count=20) -> tuple[list[datetime], datetime]:
    """The schedule's next fire times from the API, and the moment they were asked for."""
    asked = datetime.now(UTC)
    data = ok(admin_api.get(f"/api/v1/schedules/{schedule['id']}/next/", {"count": count}))
    return [datetime.fromisoformat(i["at"].replace("Z", "+00:00")) for i in data["items"]], asked


def in_zone(instants: list[datetime], zone: str) -> list[datetime]:
    """The same wall-clock times read in ``zone`` (none of the tested ones is in a DST gap)."""
    return [t.replace(tzinfo=None).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC) for t in instants]


MOVED = ("cron", "daily", "weekly", "fortnightly", "monthly")


def test_schedules_fire_when_they_fired_before(seeded, run_import, admin_api, legacy):
    report = run_import(only=CORE)
    schedules = table(report, "job_schedules")
    assert (schedules.read, schedules.imported, schedules.skipped, schedules.failed) == (
        10,
        9,
        1,
        0,
    )
    assert schedules.verification["ok"] is True
    rows = legacy_rows(legacy)
    imported = imported_schedules(admin_api)
    assert len(imported) == 9

    # every cron and recurring schedule is in UTC, where the legacy scheduler evaluated it,
    # and fires at the legacy next_run, then where the legacy rule goes on
    for key in (*MOVED, "bad-zone"):
        legacy_id = seeded.schedules[key]
        schedule = imported[legacy_id]
        assert schedule["timezone"] == "UTC", key
        at, asked = next_times(admin_api, schedule)
        expected = [t for t in legacy_rule.firings(rows[legacy_id], 40) if t > asked]
        assert at == expected[: len(at)] and at, key
        if rows[legacy_id]["next_run"] > asked:
            assert at[0] == rows[legacy_id]["next_run"], key
    at, _ = next_times(admin_api, imported[seeded.schedules["cron"]])
    assert {t.time() for t in at} == {time(2, 30)}  # 02:30 UTC, not Berlin time
    # the legacy routes answer each schedule as it was defined, the declared zone included
    from legacy_bridge.legacy_schedules import definitions

    kept = definitions([uuid.UUID(s["id"]) for s in imported.values()])
    cron = kept[uuid.UUID(imported[seeded.schedules["cron"]]["id"])]
    legacy_cron = rows[seeded.schedules["cron"]]
    assert (cron["timezone"], cron["cron_expression"]) == (
        legacy_cron["timezone"],
        legacy_cron["cron_expression"],
    )
    assert len(kept) == 9
    at, _ = next_times(admin_api, imported[seeded.schedules["daily"]])
    assert {t.time() for t in at} == {time(6, 15)}  # 06:15 UTC, summer and winter
    # the legacy scheduler ignored "every other week" on several days: every week
    at, _ = next_times(admin_api, imported[seeded.schedules["weekly"]], 6)
    assert max(b - a for a, b in itertools.pairwise(at)) <= timedelta(days=3)
    weekly = imported[seeded.schedules["weekly"]]
    assert "fired it every week, as it still does" in weekly["description"]
    assert weekly["description"].startswith("every other week\n\nLegacy import: Declared time")
    at, _ = next_times(admin_api, imported[seeded.schedules["fortnightly"]], 4)
    assert {b - a for a, b in itertools.pairwise(at)} == {timedelta(weeks=2)}
    at, _ = next_times(admin_api, imported[seeded.schedules["monthly"]])
    assert {(t.day, t.time()) for t in at} == {(15, time(23, 30))}
    at, _ = next_times(admin_api, imported[seeded.schedules["once"]])
    assert at == [datetime(2031, 1, 15, 10, 0, tzinfo=UTC)]
    paused = imported[seeded.schedules["paused"]]
    assert paused["enabled"] is False and paused["max_firings"] == 10
    assert len(next_times(admin_api, paused)[0]) == 6  # 10 at most, 4 made in legacy
    # enabled in legacy, but with no next run it never fired: imported paused, and said so;
    # resumed, it fires on the next 31st, and stops where the legacy rule stops (the next
    # month without a 31st)
    dormant = imported[seeded.schedules["dormant"]]
    assert dormant["enabled"] is False and "imported paused" in dormant["description"]
    assert (
        "The legacy scheduler stops this schedule after its firing of" in (dormant["description"])
    )
    at, _ = next_times(admin_api, dormant)
    assert 1 <= len(at) <= 2 and {(t.day, t.time()) for t in at} == {(31, time(8))}
    assert dormant["end_at"] is not None

    # the report lists every schedule whose declared zone is not UTC, and what
    # --schedule-zones=declared would do to it
    remarks = {int(r["id"]): r for r in schedules.remarks}
    zoned = {seeded.schedules[k] for k in (*MOVED, "bad-zone")}
    assert {i for i, r in remarks.items() if "declared_zone" in r} == zoned
    assert set(remarks) == zoned | {seeded.schedules["dormant"]}
    cron = remarks[seeded.schedules["cron"]]
    assert (cron["declared_zone"], cron["effective_zone"], cron["imported_zone"]) == (
        "Europe/Berlin",
        "UTC",
        "UTC",
    )
    assert cron["moves"] == "-1 h (CET) / -2 h (CEST)"
    assert cron["text"].startswith("declared Europe/Berlin, fires in UTC as before (next ")
    assert (
        "--schedule-zones=declared would move it to Europe/Berlin wall-clock time" in (cron["text"])
    )
    assert remarks[seeded.schedules["daily"]]["moves"] == "+5 h (EST) / +4 h (EDT)"
    assert remarks[seeded.schedules["fortnightly"]]["moves"] == "-5 h 30 min (IST)"
    assert (
        "'Mars/Olympus', which is not a time zone"
        in (remarks[seeded.schedules["bad-zone"]]["text"])
    )
    assert schedules.counts["declared zone ignored by legacy (imported in UTC)"] == 6
    assert schedules.counts["paused: no legacy next run"] == 1
    text = report.to_text()
    assert f"#{seeded.schedules['daily']}: declared America/New_York, fires in UTC" in text
    assert "6 schedule(s) declare a time zone the legacy scheduler ignored" in text
    daily = imported[seeded.schedules["daily"]]
    assert daily["description"] == (
        "Legacy import: Declared time zone America/New_York; the legacy scheduler ignored it "
        "and fired this schedule in UTC, as it still does."
    )


def test_declared_zones_move_the_schedules_and_say_by_how_much(
    seeded, run_import, admin_api, legacy
):
    dry = run_import(only=CORE, schedule_zones="declared", dry_run=True)
    assert listing(admin_api, "/api/v1/schedules/") == []
    report = run_import(only=CORE, schedule_zones="declared")
    assert report.options["schedule_zones"] == "declared"
    assert ImportRun.objects.get().options["schedule_zones"] == "declared"
    schedules = table(report, "job_schedules")
    assert (schedules.imported, schedules.failed) == (8, 1)
    assert schedules.failures[0]["id"] == str(seeded.schedules["bad-zone"])
    assert "'Mars/Olympus' is not an IANA time zone" in schedules.failures[0]["reason"]
    assert table(dry, "job_schedules").remarks == schedules.remarks

    rows = legacy_rows(legacy)
    imported = imported_schedules(admin_api)
    for key in MOVED:
        legacy_id = seeded.schedules[key]
        zone = rows[legacy_id]["timezone"]
        schedule = imported[legacy_id]
        assert schedule["timezone"] == zone, key
        at, asked = next_times(admin_api, schedule)
        # the legacy firings' wall-clock times, read in the declared zone
        expected = [t for t in in_zone(legacy_rule.firings(rows[legacy_id], 40), zone) if t > asked]
        assert at == expected[: len(at)] and at, key
    at, _ = next_times(admin_api, imported[seeded.schedules["daily"]])
    assert {t.astimezone(ZoneInfo("America/New_York")).time() for t in at} == {time(6, 15)}
    assert {t.time() for t in at} <= {time(10, 15), time(11, 15)}  # 06:15 EDT / EST
    at, _ = next_times(admin_api, imported[seeded.schedules["once"]])
    assert at == [datetime(2031, 1, 15, 10, 0, tzinfo=UTC)]  # an instant: unaffected

    remarks = {int(r["id"]): r for r in schedules.remarks}
    daily = remarks[seeded.schedules["daily"]]
    assert (daily["declared_zone"], daily["imported_zone"], daily["moves"]) == (
        "America/New_York",
        "America/New_York",
        "+5 h (EST) / +4 h (EDT)",
    )
    assert sorted(m["hours"] for m in daily["move_hours"]) == [4.0, 5.0]
    assert daily["text"].startswith(
        "declared America/New_York, imported in it: fired in UTC before, now at the same "
        "wall-clock time in America/New_York: +5 h (EST) / +4 h (EDT) (next firing "
    )
    assert remarks[seeded.schedules["cron"]]["moves"] == "-1 h (CET) / -2 h (CEST)"
    assert remarks[seeded.schedules["fortnightly"]]["moves"] == "-5 h 30 min (IST)"
    assert (
        "imported in Asia/Kolkata, so it fires at the same wall-clock time there"
        in (imported[seeded.schedules["fortnightly"]]["description"])
    )
    assert schedules.counts["declared zone ignored by legacy (imported in it: moved)"] == 5
    assert "--schedule-zones=declared: 5 schedule(s) imported in their declared zone" in (
        report.to_text()
    )

    # a later run with the default leaves the imported schedules as they are (in their
    # declared zone); only the row that failed comes over, in UTC
    before = listing(admin_api, "/api/v1/schedules/")
    again = run_import(only=CORE)
    assert (table(again, "job_schedules").imported, table(again, "job_schedules").present) == (
        1,
        8,
    )
    after = listing(admin_api, "/api/v1/schedules/")
    assert [s for s in after if s["id"] in {b["id"] for b in before}] == before
    assert imported_schedules(admin_api)[seeded.schedules["bad-zone"]]["timezone"] == "UTC"
    assert any(
        "keep the zone they were imported with" in n for n in table(again, "job_schedules").notes
    )


def test_second_run_creates_and_changes_nothing(seeded, run_import, admin_api):
    first = run_import(only=CORE)
    paths = [
        "/api/v1/users/",
        "/api/v1/targets/",
        "/api/v1/credentials/",
        "/api/v1/jobs/",
        "/api/v1/schedules/",
    ]
    before = {path: listing(admin_api, path) for path in paths}
    events_before = {e for e in events() if not e[2].startswith("legacy_import.")}
    records_before = ImportedRecord.objects.count()
    second = run_import(only=CORE)
    assert {path: listing(admin_api, path) for path in paths} == before
    assert ImportedRecord.objects.count() == records_before
    assert {e for e in events() if not e[2].startswith("legacy_import.")} == events_before
    for name, t in second.tables.items():
        assert t.imported == 0, name
        assert t.read == first.tables[name].read, name
        assert t.failed == first.tables[name].failed, name
        assert t.changed_since == 0, name
    assert table(second, "users").present == 4
    assert table(second, "universal_targets").present == 6


def test_dry_run_writes_nothing_and_reports_the_same(seeded, run_import, admin_api):
    users_before = len(listing(admin_api, "/api/v1/users/"))
    events_before = events()
    dry = run_import(only=CORE, dry_run=True)
    assert dry.dry_run and "DRY RUN" in dry.to_text()
    assert len(listing(admin_api, "/api/v1/users/")) == users_before
    for path in ("/api/v1/targets/", "/api/v1/credentials/", "/api/v1/jobs/", "/api/v1/schedules/"):
        assert listing(admin_api, path) == [], path
    assert ImportedRecord.objects.count() == 0 and ImportRun.objects.count() == 0
    assert events() == events_before
    # dependencies resolve inside the dry run as they will for real: jobs find their targets
    assert table(dry, "jobs").imported == 4 and table(dry, "job_schedules").imported == 9

    real = run_import(only=CORE)

    def summary(r):
        return {
            n: (t.read, t.imported, t.present, t.skipped, t.failed) for n, t in r.tables.items()
        }

    assert summary(dry) == summary(real)


def test_interrupted_run_resumes_without_duplicates(seeded, run_import, admin_api):
    run_import(only=("users", "targets"))
    # a crash after creating the objects but before their mapping rows were written
    ImportedRecord.objects.filter(legacy_table="universal_targets").delete()
    report = run_import(only=CORE)
    targets = table(report, "universal_targets")
    assert (targets.imported, targets.present) == (0, 6)
    assert any("interrupted" in note for note in targets.notes)
    assert len(listing(admin_api, "/api/v1/targets/")) == 6
    assert table(report, "jobs").imported == 4  # continued with what was not done yet


def test_one_summary_audit_event_per_table(seeded, run_import):
    report = run_import(only=CORE)
    summaries = OutboxEvent.objects.filter(event_type="legacy_import.table.imported")
    assert sorted(e.payload["table"] for e in summaries) == sorted(report.tables)
    users = next(e for e in summaries if e.payload["table"] == "users")
    assert (users.payload["imported"], users.payload["failed"]) == (4, 1)
    assert users.actor["name"] == "legacy import"
    per_row = [
        "accounts.user.created",
        "targets.target.created",
        "jobs.job.created",
        "targets.credential.created",
        "scheduling.schedule.created",
    ]
    assert events(event_type__in=per_row) == set()
    from apps.audit.describe import describe

    described = describe(users.event_type, users.payload)
    assert (described["object_type"], described["object_name"]) == ("table", "legacy users")


def test_wrong_legacy_secret_key_fails_credentials_but_not_targets(
    seeded, run_import, settings, legacy
):
    legacy.secret_key = "not-the-legacy-key"
    report = run_import(only=("users", "targets"))
    creds = table(report, "target_credentials")
    assert creds.failed == 5 and creds.imported == 0
    assert table(report, "universal_targets").imported == 6


def test_command_prints_the_report_and_writes_json(seeded, tmp_path, settings):
    out = tmp_path / "report.json"
    from io import StringIO

    stdout = StringIO()
    with pytest.raises(CommandError, match=r"problems: 2 row\(s\) failed") as caught:
        call_command(
            "import_legacy", "--only", "users,targets", "--report", str(out), stdout=stdout
        )
    assert caught.value.returncode == 2  # the report is written and printed all the same
    text = stdout.getvalue()
    assert "universal_targets" in text and "FAILED id" in text
    data = json.loads(out.read_text())
    assert data["tables"]["users"]["imported"] == 4
    assert data["tables"]["target_credentials"]["failures"][0]["id"] == str(
        seeded.credentials["corrupt"]
    )
    assert ImportRun.objects.get().report["tables"]["users"]["imported"] == 4

    with pytest.raises(CommandError, match="unknown table"):
        call_command("import_legacy", "--only", "users,widgets", stdout=StringIO())
    with pytest.raises(CommandError, match="invalid choice: 'sideways'"):
        call_command("import_legacy", "--schedule-zones", "sideways", stdout=StringIO())
    with pytest.raises(CommandError):  # the failed user row, as above
        call_command(
            "import_legacy", "--only", "users", "--schedule-zones", "declared", stdout=StringIO()
        )
    assert ImportRun.objects.order_by("started_at").last().options == {
        "host_key_policy": "accept-new",
        "schedule_zones": "declared",
    }
    settings.LEGACY_SECRET_KEY = ""
    with pytest.raises(CommandError, match="LEGACY_SECRET_KEY"):
        call_command("import_legacy", "--only", "targets", stdout=StringIO())
    settings.LEGACY_DATABASE_URL = ""
    with pytest.raises(CommandError, match="LEGACY_DATABASE_URL"):
        call_command("import_legacy", stdout=StringIO())


def test_legacy_database_is_read_in_a_read_only_transaction(legacy):
    import psycopg

    from legacy_bridge.importing.legacy import LegacyDatabase

    with LegacyDatabase(legacy.url) as db, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        db.all("INSERT INTO users (username, password_hash) VALUES ('x', 'y') RETURNING id")
    assert legacy.count("users") == 0


def add_executions(legacy, s):
    start = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    s.executions["nightly"] = legacy.add_execution(
        s.jobs["deploy"],
        number=1,
        status="failed",
        started_at=start,
        completed_at=start + timedelta(seconds=9),
        total_targets=2,
        successful_targets=1,
        failed_targets=1,
        created_at=start,
        results=[
            {
                "target_id": s.targets["web1"],
                "target_name": "web",
                "action_order": 1,
                "action_name": "say hello",
                "action_type": "command",
                "status": "completed",
                "started_at": start,
                "completed_at": start + timedelta(seconds=1),
                "execution_time_ms": 1000,
                "output_text": "hello-from-legacy\n",
                "exit_code": 0,
                "command_executed": "echo hello-from-legacy",
            },
            {
                "target_id": s.targets["web1"],
                "target_name": "web",
                "action_order": 2,
                "action_name": "check disk",
                "action_type": "script",
                "status": "completed",
                "started_at": start + timedelta(seconds=1),
                "completed_at": start + timedelta(seconds=2),
                "execution_time_ms": 1000,
                "output_text": "/dev/sda1 40G\ndone\n",
                "exit_code": 0,
            },
            {
                "target_id": s.targets["db1"],
                "target_name": "db-1",
                "action_order": 1,
                "action_name": "say hello",
                "action_type": "command",
                "status": "completed",
                "started_at": start,
                "completed_at": start + timedelta(seconds=1),
                "output_text": "hello-from-legacy\n",
                "exit_code": 0,
            },
            {
                "target_id": s.targets["db1"],
                "target_name": "db-1",
                "action_order": 2,
                "action_name": "check disk",
                "action_type": "script",
                "status": "failed",
                "started_at": start + timedelta(seconds=1),
                "completed_at": start + timedelta(seconds=9),
                "output_text": "",
                "error_text": "df: /data: No such file\n",
                "exit_code": 2,
            },
        ],
    )
    legacy._insert(
        "schedule_executions",
        {
            "execution_uuid": "6a7b2a0e-6f55-4cf5-9a51-2b0f7c7c0001",
            "job_schedule_id": s.schedules["cron"],
            "job_execution_id": s.executions["nightly"],
            "scheduled_at": start,
            "status": "failed",
        },
    )
    s.executions["manual"] = legacy.add_execution(
        s.jobs["everywhere"],
        number=3,  # its first two were deleted in legacy: the legacy UI knows it as number 3
        status="running",
        started_at=start,
        created_at=start,
        results=[
            {
                "target_id": s.targets["web2"],
                "target_name": "web",
                "action_order": 1,
                "action_name": "action 1",
                "action_type": "command",
                "status": "completed",
                "output_text": " 03:00 up 5 days\n",
                "exit_code": 0,
            }
        ],
    )
    s.executions["of-failed-job"] = legacy.add_execution(
        s.jobs["transfer"],
        number=1,
        status="completed",
        results=[
            {
                "target_id": s.targets["web1"],
                "target_name": "web",
                "action_order": 1,
                "status": "completed",
                "exit_code": 0,
            }
        ],
    )


def test_history_becomes_read_only_imported_runs(seeded, legacy, run_import, admin_api):
    add_executions(legacy, seeded)
    report = run_import()
    executions = table(report, "job_executions")
    assert (executions.read, executions.imported, executions.failed) == (3, 2, 1)
    assert "is not imported" in executions.failures[0]["reason"]
    results = table(report, "job_execution_results")
    assert (results.read, results.imported, results.skipped) == (6, 5, 1)
    assert executions.verification["ok"] is True

    runs = {r["legacy_ref"]: r for r in listing(admin_api, "/api/v1/runs/?imported=true")}
    assert sorted(runs) == ["EXEC-00000001", "EXEC-00000002"]
    nightly = ok(admin_api.get(f"/api/v1/runs/{runs['EXEC-00000001']['id']}/"))
    assert (nightly["status"], nightly["imported"], nightly["job_name"]) == (
        "failed",
        True,
        "deploy",
    )
    assert nightly["created_at"].startswith("2025-06-02T03:00:00")
    assert nightly["requested_by"]["name"] == f"legacy schedule #{seeded.schedules['cron']}"
    targets = {
        t["target_name"]: t for t in listing(admin_api, f"/api/v1/runs/{nightly['id']}/targets/")
    }
    assert (targets["web"]["status"], targets["db-1"]["status"]) == ("succeeded", "failed")
    assert [(s["status"], s["exit_code"]) for s in targets["db-1"]["steps"]] == [
        ("succeeded", 0),
        ("failed", 2),
    ]
    web_targets = {t["id"]: t for t in listing(admin_api, "/api/v1/targets/")}
    assert targets["web"]["target_id"] in web_targets  # the imported target, by its new id
    output = ok(
        admin_api.get(
            f"/api/v1/runs/{nightly['id']}/targets/{targets['db-1']['target_id']}/output/"
        )
    )
    assert [(c["step"], c["stream"], c["text"]) for c in output["chunks"]] == [
        (1, "stdout", "hello-from-legacy\n"),
        (2, "stderr", "df: /data: No such file\n"),
    ]
    manual = ok(admin_api.get(f"/api/v1/runs/{runs['EXEC-00000002']['id']}/"))
    assert manual["status"] == "canceled"
    assert manual["requested_by"]["name"] == "alice"
    # read only: an imported run cannot be retried
    assert admin_api.post(f"/api/v1/runs/{nightly['id']}/retry/").status_code == 409
    # the legacy UI names executions by job and number: each keeps its legacy number
    from legacy_bridge.models import ExecutionNumber

    numbers = {str(row.run_id): (row.number, row.source) for row in ExecutionNumber.objects.all()}
    assert numbers == {nightly["id"]: (1, "imported"), manual["id"]: (3, "imported")}
    # ... and each result its legacy id: the step results the legacy UI lists are the
    # imported rows, shown under the ids they had
    from apps.execution.interface import run_step_results
    from legacy_bridge import legacy_ids
    from legacy_bridge.importing.models import ImportedRecord

    mapped = dict(
        ImportedRecord.objects.filter(legacy_table="job_execution_results").values_list(
            "new_id", "legacy_id"
        )
    )
    steps = [r.id for run in (nightly, manual) for r in run_step_results(uuid.UUID(run["id"]))]
    assert len(steps) == 5 and set(steps) == set(mapped)
    shown = legacy_ids.legacy_ids_for("results", steps)
    assert {step: str(number) for step, number in shown.items()} == mapped
    legacy_result_ids = {
        str(row[0])
        for row in legacy.execute(
            "SELECT id FROM job_execution_results WHERE execution_id = ANY(%s)",
            ([seeded.executions["nightly"], seeded.executions["manual"]],),
        )
    }
    assert set(mapped.values()) == legacy_result_ids

    again = run_import()
    assert table(again, "job_executions").imported == 0
    assert table(again, "job_executions").present == 2
    assert len(listing(admin_api, "/api/v1/runs/?imported=true")) == 2


def test_a_second_import_at_the_same_time_is_refused(seeded, run_import):
    import psycopg
    from django.db import connection

    from legacy_bridge.importing.engine import LOCK_KEY, ImportBusy

    if connection.vendor != "postgresql":
        pytest.skip("the lock is PostgreSQL's; the embedded SQLite default serialises writers")
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with pytest.raises(ImportBusy, match="another legacy import is running"):
            run_import(only=("users",))
        other.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        assert table(run_import(only=("users",)), "users").imported == 4
    finally:
        other.close()


def test_a_clean_import_exits_normally_and_says_ok(legacy, tmp_path):
    from io import StringIO

    legacy.add_user("frank", role="manager")
    stdout = StringIO()
    call_command("import_legacy", "--report", str(tmp_path / "r.json"), stdout=stdout)
    assert "Result: OK" in stdout.getvalue()
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True


def test_a_legacy_user_whose_name_is_taken_here_fails_alone(legacy, run_import, admin_api):
    legacy.add_user("import-admin", role="administrator")  # admin_api's user already has it
    legacy.add_user("grace", role="user")
    report = run_import(only=("users",))
    users = table(report, "users")
    assert (users.imported, users.failed) == (1, 1)
    assert "username" in users.failures[0]["reason"] and "exists" in users.failures[0]["reason"]
    roles = {u["username"]: u["role"] for u in listing(admin_api, "/api/v1/users/")}
    assert roles == {"import-admin": "admin", "grace": "operator"}


def test_passphrase_protected_keys_come_over_and_a_wrong_passphrase_fails_alone(
    legacy, run_import, admin_api, tmp_path
):
    from tests.sshd import generate_key

    key = generate_key(tmp_path / "id_ed25519", passphrase="open sesame").read_text()
    good = legacy.add_method(legacy.add_target("with-passphrase"), "ssh", host="10.0.0.50")
    legacy.add_credential(
        good,
        {"type": "ssh_key", "username": "deploy", "private_key": key, "passphrase": "open sesame"},
        name="deploy key",
    )
    bad = legacy.add_method(legacy.add_target("wrong-passphrase"), "ssh", host="10.0.0.51")
    legacy.add_credential(
        bad,
        {"type": "ssh_key", "username": "deploy", "private_key": key, "passphrase": "not it"},
        name="deploy key",
    )
    report = run_import(only=("users", "targets"))
    credentials = table(report, "target_credentials")
    assert (credentials.imported, credentials.failed) == (1, 1)
    assert "passphrase" in credentials.failures[0]["reason"]
    assert "open sesame" not in report.to_json() and "not it" not in report.to_json()
    [made] = listing(admin_api, "/api/v1/credentials/")
    assert (made["kind"], made["username"], made["key_type"]) == (
        "ssh_key",
        "deploy",
        "ssh-ed25519",
    )
    assert "open sesame" not in json.dumps(made)
    targets = by_name(listing(admin_api, "/api/v1/targets/"))
    assert (
        targets["with-passphrase"][0]["connection_methods"][0]["credential"]["name"] == made["name"]
    )
    assert targets["wrong-passphrase"][0]["connection_methods"][0]["credential"] is None
