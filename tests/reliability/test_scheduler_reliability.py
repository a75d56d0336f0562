"""The scheduler for minutes of real time, with two Celery beats against one database.

Two real ``celery beat`` processes (django-celery-beat's DatabaseScheduler, as in production)
each send the scheduler's tick every second to two real worker processes consuming the
``scheduling`` queue (a queue prefix of this test's own). A ``* * * * *`` schedule in
Europe/Berlin and an every-5-seconds interval schedule run across two minute boundaries: the
first with both beats, then one beat is killed (SIGKILL) a second before the second, which the
other beat fires alone. Every due time must fire exactly once, on time, with one run.

The runs' target is a closed loopback port and the ``execution`` queue has no consumer here:
the runs are created and stay queued, which is all the scheduler is responsible for.

A real-time test of 70 to 135 seconds (it waits for the clock's minute boundaries).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.scheduling.models import Firing
from tests.sshd import free_port

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True, databases="__all__")]

MINUTE = timedelta(minutes=1)
EVERY = timedelta(seconds=5)
TAIL = timedelta(seconds=15)  # the window goes on this long after the second minute boundary
ON_TIME = timedelta(seconds=2)  # fired_at at most this long after the due time
SETTLE = timedelta(seconds=3)  # after the window: the last due time's run has been created


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sleep_until(when: datetime) -> None:
    while (left := (when - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_user(username="beat-admin", password="x", role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_job(api) -> dict:
    """A job whose default selector picks one target: nothing listens at its port (no run
    needs to reach it)."""
    ok(api.post("/api/v1/credentials/", {"name": "beat-cred", "kind": "password",
       "username": "nobody", "password": "pw-not-used"}, format="json"), 201)  # fmt: skip
    ok(api.post("/api/v1/targets/", {
        "name": "beat-target", "tags": ["beat"], "host_key_policy": "accept-new",
        "connection_methods": [{"protocol": "ssh", "host": "127.0.0.1", "port": free_port(),
                                "credential": "beat-cred"}]}, format="json"), 201)  # fmt: skip
    return ok(api.post("/api/v1/jobs/", {
        "name": "beat-job", "default_selector": "tag:beat",
        "steps": [{"name": "hello", "kind": "command", "command": "echo hello"}],
    }, format="json"), 201)  # fmt: skip


def firings(api, schedule_id: str) -> list[dict]:
    page = ok(api.get(f"/api/v1/schedules/{schedule_id}/firings/?page_size=500"))
    assert page["count"] <= 500
    return sorted(page["results"], key=lambda f: f["scheduled_for"])


def runs(api, schedule_id: str) -> list[dict]:
    page = ok(api.get(f"/api/v1/runs/?schedule={schedule_id}&page_size=500"))
    assert page["count"] <= 500
    return page["results"]


def check_exactly_once(api, schedule: dict, expected: list[datetime], until: datetime) -> None:
    """Each ``expected`` due time fired once, on time, with its own run; nothing else fired
    up to ``until``; the schedule's runs are exactly the firings' runs."""
    rows = firings(api, schedule["id"])
    name = schedule["name"]
    doubles = [t for t, n in Counter(f["scheduled_for"] for f in rows).items() if n > 1]
    assert not doubles, f"{name}: due times recorded twice: {doubles}"
    in_window = [f for f in rows if parse(f["scheduled_for"]) <= until]
    assert [parse(f["scheduled_for"]) for f in in_window] == expected, (
        f"{name}: due times fired {[f['scheduled_for'] for f in in_window]}, "
        f"expected {[t.isoformat() for t in expected]}"
    )
    for firing in rows:
        assert firing["outcome"] == "fired" and firing["run_id"], (name, firing)
        late = parse(firing["fired_at"]) - parse(firing["scheduled_for"])
        assert timedelta(0) <= late <= ON_TIME, (name, firing["scheduled_for"], late)
    started = runs(api, schedule["id"])
    assert len(started) == len(rows), f"{name}: {len(started)} runs for {len(rows)} firings"
    assert {r["id"] for r in started} == {f["run_id"] for f in rows}
    assert all(r["trigger"] == "schedule" and r["schedule_id"] == schedule["id"] for r in started)
    current = ok(api.get(f"/api/v1/schedules/{schedule['id']}/"))
    assert current["fired_count"] == len(rows), (name, current["fired_count"], len(rows))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_beats_fire_every_due_time_exactly_once_across_a_beat_kill(api, workers):
    t0 = time.monotonic()
    job = make_job(api)
    # the four processes start side by side (each waits for its own "ready")
    with ThreadPoolExecutor(4) as pool:
        started = [
            pool.submit(workers.start, name, concurrency=4, queues=("scheduling",))
            for name in ("sched-w1", "sched-w2")
        ] + [pool.submit(workers.start_beat, name) for name in ("beat-a", "beat-b")]
    _, _, beat_a, beat_b = (process.result() for process in started)

    while datetime.now(UTC).second >= 55:  # the first minute boundary at least 5 s ahead
        time.sleep(0.2)
    began = datetime.now(UTC)
    print(f"processes ready {time.monotonic() - t0:.1f}s after the start; clock at :{began.second}")
    # the interval's first due time: on a multiple of 5 s, at least 3 s ahead
    ahead = began.replace(microsecond=0) + timedelta(seconds=3)
    anchor = ahead + timedelta(seconds=-ahead.second % 5)
    minutely = ok(api.post("/api/v1/schedules/", {
        "name": "every-minute", "job": job["id"], "kind": "cron", "cron": "* * * * *",
        "timezone": "Europe/Berlin"}, format="json"), 201)  # fmt: skip
    every_5s = ok(api.post("/api/v1/schedules/", {
        "name": "every-5s", "job": job["id"], "kind": "interval", "interval_every": 5,
        "interval_unit": "seconds", "timezone": "Europe/Berlin",
        "start_at": anchor.isoformat()}, format="json"), 201)  # fmt: skip

    first_minute = parse(minutely["next_fire_at"])
    assert first_minute.second == first_minute.microsecond == 0
    assert began < first_minute <= began + MINUTE
    until = first_minute + MINUTE + TAIL
    minutes = [first_minute, first_minute + MINUTE]
    assert parse(every_5s["next_fire_at"]) == anchor
    fives = [anchor + k * EVERY for k in range(40) if anchor + k * EVERY <= until]
    assert len(fives) >= 14, fives

    # kill one beat a second before the second minute: the other alone keeps the clock
    sleep_until(minutes[1] - timedelta(seconds=1))
    ticks_before_kill = beat_b.output().count("scheduling-tick")
    ticks_of_a = beat_a.output().count("scheduling-tick")
    beat_a.kill()
    killed_at = datetime.now(UTC)
    both = (killed_at - began).total_seconds()
    assert min(ticks_of_a, ticks_before_kill) >= 0.8 * both, "both beats were ticking"
    assert beat_a.process.returncode == -9

    sleep_until(until + SETTLE)
    assert beat_b.process.poll() is None, "the other beat kept running"
    for process in workers.started:  # nothing fires while the history is read
        process.stop()

    before_kill = [t for t in minutes + fives if t < killed_at]
    after_kill = [t for t in minutes + fives if t > killed_at]
    assert minutes[0] in before_kill and minutes[1] in after_kill
    assert len(before_kill) >= 10 and len(after_kill) >= 4, "due times fell on both sides"
    ticks_after_kill = beat_b.output().count("scheduling-tick") - ticks_before_kill
    alone = (until + SETTLE - killed_at).total_seconds()
    assert ticks_after_kill >= 0.8 * alone, (ticks_after_kill, alone)

    check_exactly_once(api, minutely, minutes, until)
    check_exactly_once(api, every_5s, fives, until)
    # every firing names the worker process that fired it
    assert "" not in set(Firing.objects.values_list("worker", flat=True))
