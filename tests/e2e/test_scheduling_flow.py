"""The scheduling issue's acceptance story, through the API, on a real sshd target with the real
(in-process) worker and a real HTTP server receiving the webhook:

A user creates a Berlin-time daily schedule and an every-minute schedule, previews them around
the DST changes, watches schedules fire exactly once per due time in their history with the run
linked, pauses them and sees no further firings, and receives a signed webhook for a failure.

There is no Celery beat here: a thread sends the scheduler's tick (``fire_due``) every second,
as beat does, and the in-process worker runs it. To see many due times within a minute, an
every-5-seconds interval schedule runs beside the every-minute one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.scheduling.tasks import fire_due
from tests.fixtures import wait_for, webhook_receiver

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SECRET = "e2e-webhook-secret-0123456789"
EVERY = timedelta(seconds=5)


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sleep_until(when: datetime) -> None:
    while (left := (when - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 0.5))


@pytest.fixture
def admin(django_user_model):
    user = django_user_model.objects.create_user(username="e2e-sched", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def ticks(celery_worker):
    """The scheduler's clock: ``fire_due`` sent every second (as Celery beat does), run by the
    in-process worker. Stopped at the end of the test, and its last tick let finish."""
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            fire_due.apply_async(expires=5)
            stop.wait(1.0)

    thread = threading.Thread(target=tick, name="scheduler-tick", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)
    time.sleep(1.5)  # a tick waits at most 0.9 s for its due times


@pytest.fixture
def webhook():
    """A real HTTP server on loopback recording each POST (headers, raw body); answers 200."""
    with webhook_receiver(status=200, path="/hooks/opsconductor") as server:
        yield server


def firings(admin, schedule_id: str) -> list[dict]:
    page = ok(admin.get(f"/api/v1/schedules/{schedule_id}/firings/?page_size=500"))
    return sorted(page["results"], key=lambda f: f["scheduled_for"])


def preview(admin, after: str) -> list[dict]:
    body = {"kind": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin", "after": after,
            "count": 4}  # fmt: skip
    return ok(admin.post("/api/v1/schedules/preview/", body, format="json"))["items"]


def check_history(admin, schedule: dict, expected: list[datetime]) -> list[dict]:
    """Exactly one firing per ``expected`` due time, fired on time with its run linked (the
    newest may have been claimed just before the pause and so skipped, never run)."""
    rows = firings(admin, schedule["id"])
    name = schedule["name"]
    assert not [t for t, n in Counter(f["scheduled_for"] for f in rows).items() if n > 1], rows
    assert [parse(f["scheduled_for"]) for f in rows] == expected, (
        name, [f["scheduled_for"] for f in rows], [t.isoformat() for t in expected],
    )  # fmt: skip
    if rows and rows[-1]["outcome"] == "skipped":
        assert "paused" in rows[-1]["reason"], rows[-1]
        rows = rows[:-1]
    for firing in rows:
        assert firing["outcome"] == "fired" and firing["run_id"], (name, firing)
        late = parse(firing["fired_at"]) - parse(firing["scheduled_for"])
        assert timedelta(0) <= late <= timedelta(seconds=2), (name, firing)
    return rows


def test_schedule_preview_watch_pause_and_alert(admin, sshd_factory, ticks, webhook):
    # a real target and a job whose exit code is a parameter
    server = sshd_factory()
    ok(admin.post("/api/v1/credentials/", {
        "name": "sched-key", "kind": "ssh_key", "username": server.username,
        "private_key": server.client_key_path.read_text()}, format="json"), 201)  # fmt: skip
    ok(admin.post("/api/v1/targets/", {
        "name": "sched-host", "tags": ["sched-e2e"], "host_key_policy": "accept-new",
        "connection_methods": [{"protocol": "ssh", "host": server.host, "port": server.port,
                                "credential": "sched-key"}]}, format="json"), 201)  # fmt: skip
    job = ok(admin.post("/api/v1/jobs/", {
        "name": "sched-e2e-job", "default_selector": "tag:sched-e2e",
        "parameters": [{"name": "code", "type": "integer", "minimum": 0, "maximum": 9,
                        "default": 0}],
        "steps": [{"name": "work", "kind": "command", "command": "echo working; exit {{ code }}",
                   "timeout_seconds": 30}],
    }, format="json"), 201)  # fmt: skip
    channel = ok(admin.post("/api/v1/notification-channels/", {
        "name": "ops-hook", "kind": "webhook", "url": webhook.url, "secret": SECRET},
        format="json"), 201)  # fmt: skip
    assert channel["secret_set"] is True and "secret" not in channel

    # a Berlin-time daily schedule, and its fire times previewed around both DST changes
    daily = ok(admin.post("/api/v1/schedules/", {
        "name": "daily-0230-berlin", "job": job["id"], "kind": "cron", "cron": "30 2 * * *",
        "timezone": "Europe/Berlin"}, format="json"), 201)  # fmt: skip
    local = datetime.fromisoformat(daily["next_fire_local"])
    assert (local.hour, local.minute) == (2, 30) and parse(daily["next_fire_at"]) == local
    spring = preview(admin, "2026-03-27T12:00:00Z")
    assert [i["at"] for i in spring] == [
        "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]  # fmt: skip
    assert spring[0]["note"] == "" and spring[0]["abbreviation"] == "CET"
    assert spring[1]["local"] == "2026-03-29T03:00:00+02:00"
    assert "02:30 does not exist on 2026-03-29 in Europe/Berlin" in spring[1]["note"]
    assert spring[2]["local"] == "2026-03-30T02:30:00+02:00" and spring[2]["note"] == ""
    autumn = preview(admin, "2026-10-23T12:00:00Z")
    assert autumn[1]["local"] == "2026-10-25T02:30:00+02:00"
    assert "02:30 happens twice on 2026-10-25" in autumn[1]["note"]
    assert autumn[2]["local"] == "2026-10-26T02:30:00+01:00"

    # an every-minute schedule, an every-5-seconds one, and a one-off that fails and alerts
    created = datetime.now(UTC)
    # on the 5-second grid of the clock (so minutes fall on it), at least 2 s from now
    anchor = datetime.fromtimestamp(math.ceil((created.timestamp() + 2) / 5) * 5, UTC)
    minutely = ok(admin.post("/api/v1/schedules/", {
        "name": "every-minute", "job": job["id"], "kind": "cron", "cron": "* * * * *",
        "timezone": "Europe/Berlin"}, format="json"), 201)  # fmt: skip
    every_5s = ok(admin.post("/api/v1/schedules/", {
        "name": "every-5s", "job": job["id"], "kind": "interval", "interval_every": 5,
        "interval_unit": "seconds", "timezone": "Europe/Berlin",
        "start_at": anchor.isoformat()}, format="json"), 201)  # fmt: skip
    broken = ok(admin.post("/api/v1/schedules/", {
        "name": "broken-once", "job": job["id"], "kind": "once",
        "run_at": (anchor + timedelta(seconds=1)).isoformat(), "timezone": "Europe/Berlin",
        "parameters": {"code": 3}, "notify": [{"channel": "ops-hook", "events": ["failed"]}]},
        format="json"), 201)  # fmt: skip
    assert broken["notify"] == [{"channel": "ops-hook", "events": ["failed"]}]
    first_minute = parse(minutely["next_fire_at"])
    assert created < first_minute <= created + timedelta(minutes=1)
    assert first_minute.second == first_minute.microsecond == 0
    assert parse(every_5s["next_fire_at"]) == anchor

    # the signed webhook for the failed run
    hook = wait_for(lambda: webhook.received and webhook.received[0], timeout=30, interval=0.1,
                    what="the webhook for the failed run")  # fmt: skip
    headers, body = hook["headers"], hook["body"]
    stamp = headers["X-OpsConductor-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-OpsConductor-Signature"], f"sha256={expected}")
    assert abs(time.time() - int(stamp)) < 60
    assert headers["X-OpsConductor-Event"] == "failed"
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    broken_firings = wait_for(lambda: (rows := firings(admin, broken["id"]))
                              and rows[0]["run_status"] == "failed" and rows, timeout=10,
                              what="the one-off's firing to show its failed run")  # fmt: skip
    assert len(broken_firings) == 1 and broken_firings[0]["outcome"] == "fired"
    failed_run = broken_firings[0]["run_id"]
    assert payload["event"] == "failed" and payload["status"] == "failed"
    assert payload["run_id"] == failed_run
    assert payload["schedule_name"] == "broken-once" and payload["schedule_id"] == broken["id"]
    assert payload["subject"] == f"schedule:{broken['id']}"
    assert payload["delivery_id"] == headers["X-OpsConductor-Delivery"]
    assert ok(admin.get(f"/api/v1/runs/{failed_run}/"))["status"] == "failed"
    deliveries = wait_for(
        lambda: (rows := ok(admin.get("/api/v1/notification-deliveries/?channel=ops-hook"))[
            "results"]) and rows[0]["status"] == "delivered" and rows,
        timeout=10, what="the delivery log to show it delivered",
    )  # fmt: skip
    assert [(d["event"], d["attempts"], d["response_status"]) for d in deliveries] == [
        ("failed", 1, 200)
    ]

    # the every-minute one has fired at its minute, and the every-5s one at least 6 times
    wait_for(lambda: any(f["run_status"] == "succeeded" for f in firings(admin, minutely["id"])),
             timeout=75, interval=0.5, what="the every-minute schedule's run")  # fmt: skip
    wait_for(lambda: len(firings(admin, every_5s["id"])) >= 6, timeout=40, interval=0.5,
             what="six firings of the every-5s schedule")  # fmt: skip

    # pause both half-way between two due times: no firing row is added afterwards
    now = datetime.now(UTC)
    pause_at = anchor + (((now - anchor) // EVERY) + 1) * EVERY + EVERY / 2
    sleep_until(pause_at)
    for schedule in (minutely, every_5s):
        paused = ok(admin.post(f"/api/v1/schedules/{schedule['id']}/pause/"))
        assert paused["enabled"] is False and paused["next_fire_at"] is None
    paused_at = datetime.now(UTC)
    before = {s["id"]: {f["id"] for f in firings(admin, s["id"])} for s in (minutely, every_5s)}
    time.sleep(12)  # two more due times of the every-5s schedule pass, ticks keep coming
    for schedule in (minutely, every_5s):
        assert {f["id"] for f in firings(admin, schedule["id"])} == before[schedule["id"]]

    # each due time up to the pause fired exactly once, on time, with its run linked
    minutes = [first_minute + k * timedelta(minutes=1) for k in range(3)]
    minute_rows = check_history(admin, minutely, [t for t in minutes if t <= paused_at])
    fives = [anchor + k * EVERY for k in range(30) if anchor + k * EVERY <= paused_at]
    assert len(fives) >= 6
    five_rows = check_history(admin, every_5s, fives)
    for firing in minute_rows + five_rows:
        run = ok(admin.get(f"/api/v1/runs/{firing['run_id']}/"))
        assert run["trigger"] == "schedule", run
        assert run["schedule_id"] in (minutely["id"], every_5s["id"]), run
    # their runs really ran: each firing shows its run succeeded (kept by run events)
    wait_for(lambda: all(f["run_status"] == "succeeded"
                         for s in (minutely, every_5s) for f in firings(admin, s["id"])
                         if f["outcome"] == "fired"),
             timeout=30, interval=0.5, what="every run to show succeeded")  # fmt: skip
    runs = ok(admin.get(f"/api/v1/runs/?schedule={every_5s['id']}&page_size=500"))
    assert runs["count"] == len(five_rows)
    assert {r["id"] for r in runs["results"]} == {f["run_id"] for f in five_rows}
    assert all(r["status"] == "succeeded" for r in runs["results"])
    assert ok(admin.get(f"/api/v1/schedules/{daily['id']}/firings/"))["count"] == 0
    assert len(webhook.received) == 1  # successes alert no one here
