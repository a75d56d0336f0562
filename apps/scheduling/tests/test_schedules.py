"""Schedules through the API and the scheduler with a controlled clock: validation, DST, misfires,
overlap, pause/edit/delete, never twice."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from apps.scheduling import services
from apps.scheduling.models import Firing, Schedule
from apps.scheduling.tests.conftest import ok
from opsconductor.events import SYSTEM
from opsconductor.events.models import OutboxEvent
from opsconductor.sealing import unseal

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def schedule_body(the_job, **overrides):
    body = {"name": "nightly", "job": the_job["id"], "kind": "cron", "cron": "0 2 * * *",
            "timezone": "Europe/Berlin"}  # fmt: skip
    body.update(overrides)
    return body


def create(job, now: datetime, **overrides) -> Schedule:
    """A schedule made by the service with a controlled clock (the API uses the real one)."""
    from apps.scheduling.http.serializers import ScheduleSerializer

    serializer = ScheduleSerializer(data=schedule_body(job, **overrides))
    serializer.is_valid(raise_exception=True)
    return services.schedule_create(data=serializer.validated_data, actor=SYSTEM, now=now)


def run_clock(schedule: Schedule, until: datetime) -> list[Firing]:
    """Advance a controlled clock from due time to due time (and once at ``until``), letting
    the scheduler fire at each; the firings it recorded."""
    while True:
        schedule.refresh_from_db()
        due = schedule.next_fire_at
        if due is None or due > until:
            break
        services.schedules_fire_due(now=due)
    services.schedules_fire_due(now=until)
    return list(Firing.objects.filter(schedule=schedule).order_by("scheduled_for"))


# -- the API ---------------------------------------------------------------------------------


def test_a_manager_creates_a_berlin_daily_schedule_and_everyone_reads_it(
    manager_api, viewer_api, make_job
):
    job = make_job()
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(job), format="json"), 201)

    assert made["job_name"] == "nightly" and made["enabled"] is True
    due = datetime.fromisoformat(made["next_fire_at"])
    local = datetime.fromisoformat(made["next_fire_local"])
    assert (local.hour, local.minute) == (2, 0) and local.utcoffset() in (
        timedelta(hours=1), timedelta(hours=2)
    )  # fmt: skip
    assert due == local and due > datetime.now(UTC)
    listed = ok(viewer_api.get("/api/v1/schedules/?timezone=Europe/Berlin"))
    assert [s["name"] for s in listed["results"]] == ["nightly"]
    events = OutboxEvent.objects.using("scheduling").filter(
        event_type="scheduling.schedule.created"
    )
    assert events.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cron": "61 2 * * *"}, "cron"),
        ({"cron": "0 2 * *"}, "cron"),
        ({"cron": "0 0 31 2 *"}, "cron"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        (
            {"kind": "interval", "cron": "", "interval_every": 0, "interval_unit": "minutes"},
            "interval_every",
        ),
        ({"kind": "interval", "cron": "", "interval_every": 5}, "interval_unit"),
        ({"kind": "interval", "interval_every": 5, "interval_unit": "minutes"}, "cron"),
        ({"kind": "once", "cron": ""}, "run_at"),
        ({"start_at": "2027-01-02T00:00:00Z", "end_at": "2027-01-01T00:00:00Z"}, "end_at"),
        ({"kind": "weekly"}, "kind"),
        ({"job": str(uuid.uuid4())}, "job"),
        ({"misfire_policy": "later"}, "misfire_policy"),
        ({"overlap_policy": "maybe"}, "overlap_policy"),
        ({"notify": [{"channel": "nope", "events": ["failed"]}]}, "notify.0.channel"),
        ({"notify": [{"channel": "x", "events": ["exploded"]}]}, "notify.0.events.0"),
        ({"selector": "tag:"}, "selector"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field_and_nothing_is_saved(
    manager_api, make_job, overrides, field
):
    job = make_job()
    response = manager_api.post(
        "/api/v1/schedules/", schedule_body(job, **overrides), format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Schedule.objects.exists()


def test_a_bad_cron_names_its_bad_field(manager_api, make_job):
    job = make_job()
    body = manager_api.post("/api/v1/schedules/", schedule_body(job, cron="0 25 * * *"),
                            format="json").json()  # fmt: skip
    assert "hour" in str(body)


def test_roles_and_authentication(manager_api, operator_api, viewer_api, make_job, client):
    job = make_job()
    assert (
        operator_api.post("/api/v1/schedules/", schedule_body(job), format="json").status_code
        == 403
    )
    assert viewer_api.get("/api/v1/schedules/").status_code == 200
    assert client.get("/api/v1/schedules/").status_code == 401
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(job), format="json"), 201)
    assert operator_api.post(f"/api/v1/schedules/{made['id']}/pause/").status_code == 403
    assert client.post(f"/api/v1/schedules/{made['id']}/pause/").status_code == 401


def test_secret_parameter_values_are_sealed_and_masked(manager_api, make_job):
    job = make_job(
        parameters=[{"name": "token", "type": "secret", "required": True, "allow_unused": True}]
    )
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(
        job, parameters={"token": "s3cr3t-value"}), format="json"), 201)  # fmt: skip

    assert made["parameters"] == {"token": "********"}
    row = Schedule.objects.get(pk=made["id"])
    assert "s3cr3t-value" not in row.sealed_parameters
    for event in OutboxEvent.objects.using("scheduling").all():
        assert "s3cr3t-value" not in str(event.payload)
    missing = manager_api.post("/api/v1/schedules/", schedule_body(job, name="other"),
                               format="json")  # fmt: skip
    assert missing.status_code == 400 and "parameters.token" in str(missing.json())


def test_an_edit_that_sends_a_secret_back_masked_keeps_it_and_a_new_value_replaces_it(
    manager_api, make_job
):
    job = make_job(parameters=[
        {"name": "token", "type": "secret", "required": True, "allow_unused": True},
        {"name": "level", "type": "string", "required": False, "allow_unused": True},
    ])  # fmt: skip
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(
        job, parameters={"token": "s3cr3t-value"}), format="json"), 201)  # fmt: skip
    url = f"/api/v1/schedules/{made['id']}/"

    edited = ok(manager_api.patch(
        url, {"parameters": {"token": "********", "level": "debug"}}, format="json"))  # fmt: skip

    assert edited["parameters"] == {"token": "********", "level": "debug"}
    sealed = Schedule.objects.get(pk=made["id"]).sealed_parameters
    assert unseal(sealed)["values"] == {"token": "s3cr3t-value", "level": "debug"}
    ok(manager_api.patch(url, {"parameters": {"token": "new-value"}}, format="json"))
    sealed = Schedule.objects.get(pk=made["id"]).sealed_parameters
    assert unseal(sealed)["values"] == {"token": "new-value"}


def test_preview_shows_fire_times_in_both_zones_with_dst_changes_marked(manager_api):
    body = {"kind": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin",
            "after": "2026-03-27T12:00:00Z", "count": 4}  # fmt: skip
    items = ok(manager_api.post("/api/v1/schedules/preview/", body, format="json"))["items"]

    assert [i["at"] for i in items] == [
        "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]  # fmt: skip
    assert items[0]["local"] == "2026-03-28T02:30:00+01:00" and items[0]["note"] == ""
    assert items[1]["local"] == "2026-03-29T03:00:00+02:00" and "does not exist" in items[1]["note"]
    # the rule that applied, as facts a client can render without reading the note
    assert [(i["dst_rule"], i["wall_time"]) for i in items] == [
        ("", ""), ("gap", "2026-03-29T02:30"), ("", ""), ("", ""),
    ]  # fmt: skip
    assert items[2]["abbreviation"] == "CEST"
    bad = manager_api.post("/api/v1/schedules/preview/", {**body, "cron": "* * *"}, format="json")
    assert bad.status_code == 400 and "cron" in str(bad.json())


def test_next_lists_the_coming_fire_times(manager_api, viewer_api, make_job):
    job = make_job()
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(
        job, cron="*/15 * * * *", timezone="UTC"), format="json"), 201)  # fmt: skip
    data = ok(viewer_api.get(f"/api/v1/schedules/{made['id']}/next/?count=3"))

    times = [datetime.fromisoformat(i["at"].replace("Z", "+00:00")) for i in data["items"]]
    assert len(times) == 3 and all(t.minute % 15 == 0 for t in times)
    assert times[1] - times[0] == timedelta(minutes=15)
    assert viewer_api.get(f"/api/v1/schedules/{made['id']}/next/?count=0").status_code == 400


# -- firing with a controlled clock ----------------------------------------------------------


def test_berlin_daily_at_the_missing_and_doubled_hour_fires_once_a_day(make_job):
    job = make_job()
    spring = create(job, utc(2026, 3, 27, 12), name="spring")
    fired = run_clock(spring, utc(2026, 3, 31, 12))
    assert [f.scheduled_for for f in fired] == [
        utc(2026, 3, 28, 1),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30, 0),
        utc(2026, 3, 31, 0),
    ]  # 02:00 CET, 03:00 CEST (02:00 does not exist), then 02:00 CEST
    assert all(f.outcome == "fired" and f.run_id for f in fired)
    assert all(f.fired_at == f.scheduled_for for f in fired)  # the clock stood at the due time

    fall = create(job, utc(2026, 10, 23, 12), name="fall")
    fired = run_clock(fall, utc(2026, 10, 27, 12))
    assert [f.scheduled_for for f in fired] == [
        utc(2026, 10, 24, 0),
        utc(2026, 10, 25, 0),
        utc(2026, 10, 26, 1),
        utc(2026, 10, 27, 1),
    ]  # 02:00 CEST; on the 25th 02:00 happens twice: the first (CEST) only


def test_new_york_hourly_across_fall_back_fires_each_instant_once(make_job):
    job = make_job()
    hourly = create(job, utc(2026, 11, 1, 3), cron="0 * * * *", timezone="America/New_York")
    fired = run_clock(hourly, utc(2026, 11, 1, 9))
    # wall clock 00:00 EDT (04 UTC), 01:00 EDT (05 UTC); 01:00 again (EST, 06 UTC) is the same
    # wall time: not again; 02:00 EST (07 UTC) ...
    assert [f.scheduled_for for f in fired] == [
        utc(2026, 11, 1, 4), utc(2026, 11, 1, 5), utc(2026, 11, 1, 7), utc(2026, 11, 1, 8),
        utc(2026, 11, 1, 9),
    ]  # fmt: skip
    assert len({f.run_id for f in fired}) == 5


def test_downtime_skip_records_missed_due_times_and_runs_nothing_late(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), name="hourly", cron="0 * * * *", timezone="UTC")
    # the scheduler is down from 12:00 to 15:30: due 13:00, 14:00 and 15:00 pass unseen
    done = services.schedules_fire_due(now=utc(2026, 6, 1, 15, 30))

    rows = list(Firing.objects.filter(schedule=every).order_by("scheduled_for"))
    assert [(r.scheduled_for.hour, r.outcome) for r in rows] == [
        (13, "missed"),
        (14, "missed"),
        (15, "missed"),
    ]
    assert all(r.run_id is None and "grace period" in r.reason for r in rows)
    assert done["missed"] == 3
    every.refresh_from_db()
    assert every.next_fire_at == utc(2026, 6, 1, 16)


def test_downtime_run_once_starts_one_catch_up_run_and_records_the_rest_missed(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), name="hourly", cron="0 * * * *", timezone="UTC",
                   misfire_policy="run_once")  # fmt: skip
    services.schedules_fire_due(now=utc(2026, 6, 1, 15, 30))

    rows = list(Firing.objects.filter(schedule=every).order_by("scheduled_for"))
    assert [(r.scheduled_for.hour, r.outcome, r.catch_up) for r in rows] == [
        (13, "missed", False),
        (14, "missed", False),
        (15, "fired", True),
    ]
    assert rows[2].run_id is not None and "catch-up" in rows[2].reason


def test_a_late_tick_within_the_grace_period_still_fires_on_time(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    services.schedules_fire_due(now=utc(2026, 6, 1, 13, 0, 45))  # grace 60 s

    (row,) = Firing.objects.filter(schedule=every)
    assert (row.outcome, row.catch_up, row.fired_at) == ("fired", False, utc(2026, 6, 1, 13, 0, 45))


def test_overlap_skip_records_a_skip_while_the_previous_run_is_still_going(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC",
                   overlap_policy="skip")  # fmt: skip
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))  # no worker: the run stays active
    services.schedules_fire_due(now=utc(2026, 6, 1, 14))

    first, second = Firing.objects.filter(schedule=every).order_by("scheduled_for")
    assert first.outcome == "fired"
    assert second.outcome == "skipped"
    assert second.reason == f"previous run still active (run {first.run_id})"


def test_overlap_queue_starts_a_run_that_waits_for_the_previous_one(make_job, manager_api):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC",
                   overlap_policy="queue")  # fmt: skip
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))
    services.schedules_fire_due(now=utc(2026, 6, 1, 14))

    first, second = Firing.objects.filter(schedule=every).order_by("scheduled_for")
    assert first.outcome == second.outcome == "fired"
    run = ok(manager_api.get(f"/api/v1/runs/{second.run_id}/"))
    assert run["status"] == "pending" and "another run" in run["pending_reason"]
    assert run["trigger"] == "schedule" and run["requested_by"]["kind"] == "schedule"


def test_pause_edit_and_delete_take_effect_for_the_next_due_time(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    services.schedule_set_enabled(schedule=every, enabled=False, actor=SYSTEM,
                                  now=utc(2026, 6, 1, 12, 30))  # fmt: skip
    services.schedules_fire_due(now=utc(2026, 6, 1, 15, 30))
    assert not Firing.objects.filter(schedule=every).exists()  # paused: nothing, not even missed

    services.schedule_set_enabled(schedule=every, enabled=True, actor=SYSTEM,
                                  now=utc(2026, 6, 1, 15, 30))  # fmt: skip
    every.refresh_from_db()
    assert every.next_fire_at == utc(2026, 6, 1, 16)

    services.schedule_update(schedule=every, data={"cron": "30 * * * *"}, actor=SYSTEM,
                             now=utc(2026, 6, 1, 15, 40))  # fmt: skip
    every.refresh_from_db()
    assert (every.next_fire_at, every.revision) == (utc(2026, 6, 1, 16, 30), 2)
    services.schedules_fire_due(now=utc(2026, 6, 1, 16, 0, 5))  # the old 16:00: nothing
    assert not Firing.objects.filter(schedule=every).exists()
    services.schedules_fire_due(now=utc(2026, 6, 1, 16, 30))
    (row,) = Firing.objects.filter(schedule=every)
    assert (row.scheduled_for, row.revision) == (utc(2026, 6, 1, 16, 30), 2)

    services.schedule_delete(schedule=every, actor=SYSTEM)
    assert services.schedules_fire_due(now=utc(2026, 6, 1, 17, 30)).get("fired", 0) == 0


def test_a_firing_claimed_before_an_edit_does_not_start_the_old_definition(make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    from collections import Counter

    to_start, _ = services._claim_due(utc(2026, 6, 1, 13), 10, "test", Counter())
    services.schedule_update(schedule=every, data={"cron": "30 * * * *"}, actor=SYSTEM,
                             now=utc(2026, 6, 1, 13))  # fmt: skip
    for item in to_start:
        services._start(item, Counter())

    (row,) = Firing.objects.filter(schedule=every)
    assert row.outcome == "skipped" and "changed" in row.reason and row.run_id is None


def test_max_firings_and_once(make_job):
    job = make_job()
    twice = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC", max_firings=2)
    fired = run_clock(twice, utc(2026, 6, 1, 18))
    assert [f.scheduled_for.hour for f in fired] == [13, 14]
    twice.refresh_from_db()
    assert twice.next_fire_at is None and "maximum of 2" in twice.finished_reason

    once = create(job, utc(2026, 6, 1, 12), name="once", kind="once", cron="",
                  run_at="2026-06-01T14:15:00", timezone="Europe/Berlin")  # fmt: skip
    assert once.next_fire_at == utc(2026, 6, 1, 12, 15)  # 14:15 CEST, given as wall-clock time
    fired = run_clock(once, utc(2026, 6, 2))
    assert [f.scheduled_for for f in fired] == [utc(2026, 6, 1, 12, 15)]


def test_a_run_that_cannot_start_is_recorded_as_failed_to_start(make_job, manager_api):
    job = make_job(
        parameters=[{"name": "count", "type": "integer", "required": True, "allow_unused": True}]
    )
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC",
                   parameters={"count": 3})  # fmt: skip
    # a new job version makes the stored value invalid (the schedule follows the latest)
    definition = {k: job[k] for k in ("name", "steps", "default_selector")}
    ok(manager_api.put(f"/api/v1/jobs/{job['id']}/", {**definition, "parameters": [
        {"name": "count", "type": "string", "required": True, "allow_unused": True,
         "pattern": "^[a-z]+$"}]}, format="json"))  # fmt: skip
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))

    (row,) = Firing.objects.filter(schedule=every)
    assert row.outcome == "failed_to_start" and "parameters.count" in row.reason
    assert OutboxEvent.objects.using("scheduling").filter(
        event_type="scheduling.firing.failed_to_start").count() == 1  # fmt: skip


@pytest.mark.skipif("connections['scheduling'].vendor != 'postgresql'")
def test_two_schedulers_at_once_fire_each_due_time_once(make_job):
    job = make_job()
    schedules = [create(job, utc(2026, 6, 1, 12), name=f"s{i}", cron="*/5 * * * *",
                        timezone="UTC") for i in range(20)]  # fmt: skip
    barrier = threading.Barrier(4)

    def scheduler():
        try:
            barrier.wait()
            for minute in range(0, 31, 5):
                services.schedules_fire_due(now=utc(2026, 6, 1, 12, minute))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for schedule in schedules:
        times = list(Firing.objects.filter(schedule=schedule).values_list("scheduled_for",
                                                                             flat=True))  # fmt: skip
        assert sorted(times) == [utc(2026, 6, 1, 12, m) for m in range(5, 31, 5)], schedule.name
    assert Firing.objects.exclude(outcome="fired").count() == 0


def test_the_firings_api_links_each_firing_to_its_run(manager_api, viewer_api, make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))
    services.schedules_fire_due(now=utc(2026, 6, 1, 16, 30))  # 14, 15, 16 missed

    page = ok(viewer_api.get(f"/api/v1/schedules/{every.id}/firings/"))
    assert [f["outcome"] for f in page["results"]] == ["missed", "missed", "missed", "fired"]
    fired = page["results"][-1]
    run = ok(viewer_api.get(f"/api/v1/runs/{fired['run_id']}/"))
    assert run["schedule_id"] == str(every.id)
    only = ok(viewer_api.get(f"/api/v1/schedules/{every.id}/firings/?outcome=fired"))
    assert [f["id"] for f in only["results"]] == [fired["id"]]


def test_schedules_show_their_latest_firing_outcome(manager_api, viewer_api, make_job):
    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    never = create(job, utc(2026, 6, 1, 12), name="never", cron="0 3 * * *", timezone="UTC")
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))
    listed = {s["name"]: s for s in ok(viewer_api.get("/api/v1/schedules/"))["results"]}
    last = listed[every.name]["last_firing"]
    assert last["outcome"] == "fired" and last["scheduled_for"] == "2026-06-01T13:00:00Z"
    assert last["run_id"] and ok(viewer_api.get(f"/api/v1/runs/{last['run_id']}/"))
    assert listed[never.name]["last_firing"] is None

    services.schedules_fire_due(now=utc(2026, 6, 1, 14, 30))  # 14:00 noticed 30 min late
    one = ok(viewer_api.get(f"/api/v1/schedules/{every.id}/"))["last_firing"]
    assert (one["outcome"], one["scheduled_for"], one["run_id"]) == (
        "missed", "2026-06-01T14:00:00Z", None,
    )  # fmt: skip
    assert one["reason"]


def test_a_firing_left_starting_by_a_crashed_scheduler_is_finished_once(make_job, manager_api):
    from collections import Counter

    from apps.execution.interface import start_run

    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    # the scheduler claims the 13:00 due time, creates the run, and dies before recording it
    (claimed,) = services._claim_due(utc(2026, 6, 1, 13), 10, "crashed", Counter())[0]
    made = start_run(job_id=every.job_id, parameters={}, actor=SYSTEM, schedule_id=every.id,
                     schedule_firing_id=claimed.firing_id)  # fmt: skip
    assert Firing.objects.get(pk=claimed.firing_id).outcome == "starting"
    # and another claim died before even creating its run
    every.refresh_from_db()
    (lost,) = services._claim_due(utc(2026, 6, 1, 14), 10, "crashed", Counter())[0]

    Firing.objects.filter(pk__in=[claimed.firing_id, lost.firing_id]).update(
        created_at=utc(2026, 6, 1, 14)
    )
    done = services.schedules_fire_due(now=utc(2026, 6, 1, 14, 10))

    first, second = Firing.objects.filter(schedule=every).order_by("scheduled_for")
    assert (first.outcome, first.run_id) == ("fired", made.id)  # linked, not started again
    assert second.outcome == "fired" and second.run_id not in (None, made.id)
    assert done["recovered"] == 2
    runs = ok(manager_api.get(f"/api/v1/runs/?schedule={every.id}"))
    assert runs["count"] == 2


def test_a_job_with_schedules_cannot_be_deleted(manager_api, make_job):
    job = make_job()
    made = ok(manager_api.post("/api/v1/schedules/", schedule_body(job), format="json"), 201)

    refused = manager_api.delete(f"/api/v1/jobs/{job['id']}/")
    assert refused.status_code == 409 and "schedule" in refused.json()["error"]["message"]
    ok(manager_api.delete(f"/api/v1/schedules/{made['id']}/"), 204)
    ok(manager_api.delete(f"/api/v1/jobs/{job['id']}/"), 204)


def test_a_run_that_ends_before_its_firing_is_recorded_still_shows_its_final_status(
    make_job, monkeypatch
):
    from django.db import transaction

    job = make_job()
    every = create(job, utc(2026, 6, 1, 12), cron="0 * * * *", timezone="UTC")
    real_start_runs = services.start_runs

    def start_and_finish_at_once(starts):
        refs = real_start_runs(starts)
        for ref, start in zip(refs, starts, strict=True):  # the run fails at once (refused)
            with transaction.atomic(using="scheduling"):
                services.run_finished(payload={
                    "run_id": str(ref.id), "job_id": job["id"], "status": "failed",
                    "schedule_id": str(every.id),
                    "schedule_firing_id": str(start.schedule_firing_id)})  # fmt: skip
        return refs

    monkeypatch.setattr(services, "start_runs", start_and_finish_at_once)
    services.schedules_fire_due(now=utc(2026, 6, 1, 13))

    (row,) = Firing.objects.filter(schedule=every)
    assert (row.outcome, row.run_status) == ("fired", "failed") and row.run_id is not None
