"""Contract tests: every recording of the real legacy backend (``recordings/<area>/``, listed
in ``recordings/index.json``) replayed against the bridge, in both modes.

- ``migrated``: the new system is seeded with the legacy fixture (``legacy_fixture.py``), the
  route of the area is flipped to its adapter, and each recorded request is sent with a token
  of the recording's ``as_user`` (a legacy-format token of a session the bridge opened). The
  answer must have the recorded status, the headers that matter (``content-type``,
  ``www-authenticate``, ``allow``, ``location``) and the recorded body field by field; a
  ``volatile`` field (index.json) is compared by its type. Where the answer deliberately
  differs (a legacy bug, or our permissions), the test asserts OUR answer instead, from
  ``DIFFERENCES`` below; docs/legacy-bridge.md ("Adapters") lists the same differences.
- ``proxy``: a local HTTP server answers each request with its recording; the bridge in proxy
  mode must hand the recording back unchanged and the request must reach the server as sent.

The recordings of an area were made one after another on one database: replaying recording N
first replays the area's earlier state-changing requests (anything but GET), silently, so the
state is the recorded one.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings

from legacy_bridge import sessions
from legacy_bridge.models import Mode
from legacy_bridge.tests.legacy_fixture import seed
from legacy_bridge.tests.test_route_auth import set_routes

pytestmark = pytest.mark.django_db(databases="__all__")

RECORDINGS = Path(__file__).parent / "recordings"
INDEX = json.loads((RECORDINGS / "index.json").read_text())["recordings"]
AREAS = ("auth", "users", "targets", "jobs", "schedules", "system", "audit")
ENTRIES = [e for e in INDEX if e["file"].split("/")[0] in AREAS]
PLACEHOLDER = "<legacy-access-token>"
HEADERS_THAT_MATTER = ("content-type", "www-authenticate", "allow", "location")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
# what the bridge adds to every error body (the request id, and the project's error object)
ERROR_EXTRAS = {"request_id", "error"}
# pydantic's documentation link in a 422 item: not sent
OPTIONAL_IN_422 = {"url"}


# --- deliberate differences -----------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """What the adapter answers instead of the recording, and why (docs/legacy-bridge.md)."""

    why: str
    status: int | None = None  # our status instead of the recorded one
    body: object = None  # our body (compared as a recording is), when it differs
    # changes to the recorded body: {json path: value} ("[5]" is the element with id 5)
    patch: dict = field(default_factory=dict)
    volatile: dict = field(default_factory=dict)  # more fields compared by type
    creates: tuple[str, int] | None = None  # (kind, recorded id) this request created
    # a recorded path that, in later requests, names the object this request created
    stands_for: str | None = None
    adjust: object = None  # a function of the (patched) recorded body, for what a patch can't
    check: object = None  # for a body that is not JSON: a function of its text, True if right


USER_SHAPE = {
    "username": "lnew",
    "email": "lnew@legacy.example",
    "role": "user",
    "id": 6,
    "is_active": True,
    "last_login": None,
    "created_at": None,
    "updated_at": None,
}
USER_CLOCKS = {
    "response.body.created_at": "clock",
    "response.body.updated_at": "clock",
    "response.body.last_login": "clock",
}
SNMP_NOT_MIGRATED = (
    "target 5's only method is SNMP, which is not a remote-execution method: the importer "
    "skips it, so the new system shows no method (no address, no primary method)"
)
TARGET_5_IN_LIST = {
    "[5].ip_address": None,
    "[5].primary_method": None,
    "[5].communication_methods_count": 0,
}
NEW_SYSTEM_IDS = (
    "a user created in the new system gets a legacy id from the bridge's own range "
    "(LEGACY_ID_FLOOR and up), not the legacy sequence's next value"
)
CLOCKS = ("created_at", "updated_at")
NEW_TARGET_VOLATILE = {
    "response.body.id": "new legacy id",
    "response.body.target_uuid": "uuid",
    "response.body.target_serial": "serial",
    **{f"response.body.{c}": "clock" for c in CLOCKS},
    "response.body.communication_methods[*].id": "new legacy id",
    "response.body.communication_methods[*].target_id": "new legacy id",
    **{f"response.body.communication_methods[*].{c}": "clock" for c in CLOCKS},
    "response.body.communication_methods[*].credentials[*].id": "new legacy id",
    "response.body.communication_methods[*].credentials[*].communication_method_id": (
        "new legacy id"
    ),
    **{f"response.body.communication_methods[*].credentials[*].{c}": "clock" for c in CLOCKS},
}
UPDATED_TARGET_VOLATILE = {
    **{k: v for k, v in NEW_TARGET_VOLATILE.items() if v == "clock"},
    "response.body.target_uuid": "uuid",
    "response.body.communication_methods[*].credentials[*].id": "new legacy id",
}
METHOD_VOLATILE = {
    "response.body.id": "legacy id",
    **{f"response.body.{c}": "clock" for c in CLOCKS},
    "response.body.credentials[*].id": "new legacy id",
    **{f"response.body.credentials[*].{c}": "clock" for c in CLOCKS},
}


def _method(host: str, **fields) -> dict:
    return {
        "method_type": "ssh",
        "is_primary": True,
        "is_active": True,
        "priority": 0,
        "config": {"host": host, "port": 22},
        "id": 0,
        "target_id": 1,
        "method_name": "ssh_1",
        "created_at": None,
        "updated_at": None,
        "credentials": [],
        **fields,
    }


def _password_credential(name: str, method_id: int) -> dict:
    return {
        "credential_type": "password",
        "credential_name": name,
        "id": 0,
        "communication_method_id": method_id,
        "is_primary": True,
        "is_active": True,
        "created_at": None,
        "updated_at": None,
        "encrypted_credentials": {"username": "fleet"},
    }


TARGET_FIELDS_SENT = {
    "target_type": "system",
    "description": None,
    "os_type": "linux",
    "environment": "development",
    "location": None,
    "data_center": None,
    "region": None,
    "status": "active",
    "is_active": True,
    "created_at": None,
    "updated_at": None,
}
CREATED_TARGET = {
    "name": "legacy-new-1",
    **TARGET_FIELDS_SENT,
    "id": 0,
    "target_uuid": "",
    "target_serial": "",
    "health_status": "unknown",
    "communication_methods": [
        _method("192.0.2.40", credentials=[_password_credential("legacy-new-1-ssh", 0)])
    ],
}
UPDATED_TARGET_1 = {
    "name": "legacy-web-1",
    **TARGET_FIELDS_SENT,
    "id": 1,
    "target_uuid": "",
    "target_serial": "TGT-000001",
    "health_status": "healthy",
    "communication_methods": [
        _method(
            "192.0.2.40", id=1, priority=1,
            credentials=[_password_credential("legacy-web-1-ssh", 1)],
        )
    ],
}  # fmt: skip
ADDED_METHOD = _method("127.0.0.1", is_primary=False, method_name="ssh_2")
PRIMARY_METHOD_1 = _method(
    "192.0.2.40", id=1, priority=1, credentials=[_password_credential("legacy-web-1-ssh", 1)]
)
NEW_TARGET_IN_LIST = {
    "id": 0,
    "target_uuid": "",
    "target_serial": "",
    "name": "legacy-new-1",
    "target_type": "system",
    "os_type": "linux",
    "environment": "development",
    "status": "active",
    "health_status": "unknown",
    "ip_address": "192.0.2.40",
    "primary_method": "ssh",
    "communication_methods_count": 1,
    "is_valid": True,
    "created_at": None,
    "updated_at": None,
}
JOB_2_SCHEDULED = (
    "job 2 has enabled schedules (a one-time run on 2027-01-15 among them): its status is "
    "derived from our data, 'scheduled', and scheduled_at is that one-time run; the legacy "
    "backend showed a stored 'draft' and null that never followed its schedules"
)
JOB_2_IN_LIST = {"[2].status": "scheduled", "[2].scheduled_at": "2027-01-15T10:00:00Z"}
NEW_JOB_EXECUTION = {
    "response.body.id": "new legacy id",
    "response.body.job_id": "new legacy id",
    "response.body.created_at": "clock",
}
RUN_TARGETS = (
    "target_names lists the run's targets (the legacy backend listed only targets with "
    "results: none before a worker ran); ids of runs and jobs made here come from the "
    "bridge's range"
)
ONE_ACTION = [
    {
        "id": 1,
        "action_order": 1,
        "action_name": "hostname",
        "action_type": "command",
        "action_parameters": {"command": "hostname", "captureOutput": True},
    }
]
ONCE_2027 = {
    "scheduleType": "once",
    "enabled": True,
    "executeAt": "2027-01-15T10:00:00Z",
    "recurringType": None,
    "interval": 1,
    "time": None,
    "daysOfWeek": None,
    "dayOfMonth": None,
    "cronExpression": None,
    "timezone": "UTC",
    "nextRun": "2027-01-15T10:00:00Z",
}
SCHEDULED_JOB_4 = {
    "id": 4,
    "name": "legacy recorded job (edited)",
    "description": "edited",
    "status": "scheduled",
    "created_at": None,
    "scheduled_at": "2027-01-15T10:00:00Z",
    "started_at": None,
    "completed_at": None,
    "last_execution": {
        "id": 0,
        "execution_number": 1,
        "status": "scheduled",
        "started_at": None,
        "completed_at": None,
        "total_targets": 2,
        "successful_targets": 0,
        "failed_targets": 0,
    },
    "actions": ONE_ACTION,
    "targets": [{"id": 1, "name": "legacy-web-1"}, {"id": 2, "name": "legacy-web-2"}],
    "schedule_config": ONCE_2027,
}
SAFETY_COUNTS = "count (what the reaper found in this database)"


def _job_4_after_changes(body: list) -> list:
    """Job 4 after J12 (a one-time run) and J13 (its execution cancelled)."""
    return [
        {
            **job,
            "status": "cancelled",
            "scheduled_at": "2027-01-15T10:00:00Z",
            "last_execution": {**job["last_execution"], "status": "cancelled"},
        }
        if job["id"] == 4
        else job
        for job in body
    ]


DIFFERENCES = {
    "auth/me_200.json": Difference(
        "session_id is the caller's session (the legacy backend always answered null)",
        volatile={"response.body.session_id": "session id"},
    ),
    "auth/me_loperator_200.json": Difference(
        "session_id is the caller's session (the legacy backend always answered null)",
        volatile={"response.body.session_id": "session id"},
    ),
    "auth/session_extend_no_body_422.json": Difference(
        "extend (no body, as the legacy UI sends it) extends the caller's session: 200, "
        "where the legacy backend could never succeed",
        status=200,
        body={
            "message": "Session extended successfully",
            "valid": True,
            "expired": False,
            "time_remaining": 28800,
            "warning": False,
            "warning_threshold": 120,
        },
        volatile={"response.body.time_remaining": "clock"},
    ),
    "auth/session_extend_own_session_403.json": Difference(
        "extending one's own session succeeds (the legacy backend compared it with a key it "
        "never set)",
        status=200,
        body={
            "message": "Session extended successfully",
            "valid": True,
            "expired": False,
            "time_remaining": 28800,
            "warning": False,
            "warning_threshold": 120,
        },
        volatile={"response.body.time_remaining": "clock"},
    ),
    "auth/refresh_empty_body_422.json": Difference(
        "refresh takes the token from the Authorization header when the body has none (what "
        "the legacy UI's interceptor sends) and answers a fresh token of the same session",
        status=200,
        body={
            "access_token": PLACEHOLDER,
            "refresh_token": PLACEHOLDER,
            "session_id": "1_0",
            "token_type": "bearer",
        },
        volatile={
            "response.body.access_token": "token",
            "response.body.refresh_token": "token",
            "response.body.session_id": "session id",
        },
    ),
    "users/list_as_guest_200.json": Difference(
        "our roles: users are an admin's to list (as /api/v1/users/); the legacy backend let "
        "any signed-in user list them",
        status=403,
        body={"detail": "Administrator access required"},
    ),
    "users/create_400_but_created.json": Difference(
        "the user is created and the answer says so (200 with the user), where the legacy "
        "backend answered 400 after committing it. " + NEW_SYSTEM_IDS,
        status=200,
        body=USER_SHAPE,
        volatile={**USER_CLOCKS, "response.body.id": "new legacy id"},
        creates=("users", 6),
    ),
    "users/update_400_but_updated.json": Difference(
        "the update is applied and the answer says so (200 with the user), where the legacy "
        "backend answered 400 after committing it",
        status=200,
        body={**USER_SHAPE, "role": "manager"},
        volatile=USER_CLOCKS,
    ),
    "users/delete_500_but_deactivated.json": Difference(
        "the user is deactivated and the answer says so (200), where the legacy backend "
        "answered 500 after committing it",
        status=200,
        body={"message": "User deactivated successfully"},
    ),
    "targets/list_200.json": Difference(SNMP_NOT_MIGRATED, patch=TARGET_5_IN_LIST),
    "targets/list_as_guest_200.json": Difference(SNMP_NOT_MIGRATED, patch=TARGET_5_IN_LIST),
    "targets/list_after_delete_200.json": Difference(
        SNMP_NOT_MIGRATED + "; and the target created (T4) and changed (T5, T7-T10) above, "
        "which the legacy backend could not do, are in the list: target 1 is critical since "
        "T7 checked its primary method, which T5 had moved to an unroutable address",
        patch=TARGET_5_IN_LIST,
        adjust=lambda body: [
            {**NEW_TARGET_IN_LIST},
            *[
                {**t, "environment": "development", "ip_address": "127.0.0.1",
                 "health_status": "critical"}
                if t["id"] == 1 else t
                for t in body
            ],
        ],
        volatile={"response.body[*].id": "legacy id", "response.body[*].target_serial": "serial"},
    ),
    "targets/get_5_snmp_200.json": Difference(
        SNMP_NOT_MIGRATED, patch={"communication_methods": []}
    ),
    "targets/get_1_200.json": Difference(
        "credential names have no spaces in the new system (the importer makes 'deploy key' "
        "'deploy-key')",
        patch={"communication_methods[1].credentials[1].credential_name": "deploy-key"},
    ),
    "targets/delete_500_but_deactivated.json": Difference(
        "the target is deleted and the answer says so (200), where the legacy backend "
        "answered 500 after soft-deleting it",
        status=200,
        body={"message": "Target deleted successfully"},
    ),
    "targets/health_check_batch_no_body_422.json": Difference(
        "the health-check button sends no body: every target of the list is checked (on the "
        "workers), where the legacy backend wanted a list of ids",
        status=200,
        body={"results": {"checked": 7, "status_changes": 0, "batch_id": "x"}},
        volatile={"response.body.results.batch_id": "uuid"},
    ),
    "targets/create_comprehensive_405.json": Difference(
        "the legacy backend had no route (the UI could not create targets): created through "
        "the targets app, with its credential (scoped to the method's host) and a legacy id "
        "from the bridge's range",
        status=200,
        body=CREATED_TARGET,
        volatile=NEW_TARGET_VOLATILE,
    ),
    "targets/update_comprehensive_404.json": Difference(
        "the legacy backend had no route: the target and its method are changed in place (the "
        "method keeps its id; a password sent becomes a new credential)",
        status=200,
        body=UPDATED_TARGET_1,
        volatile=UPDATED_TARGET_VOLATILE,
    ),
    "targets/test_method_config_405.json": Difference(
        "the legacy backend had no route: the typed configuration is checked now, nothing "
        "saved; its unroutable documentation address fails, which is a 200 with success false "
        "(the UI reads success). How it fails depends on the network: message and status by type",
        status=200,
        body={
            "success": False,
            "message": "",
            "host": "192.0.2.40",
            "port": 22,
            "method_type": "ssh",
            "test_duration": 0,
            "details": {
                "status": "",
                "host_key": None,  # no handshake: nothing presented
                "health_check_id": None,  # nothing recorded: the configuration is not saved
                "checked_at": None,
            },
            "username": "fleet",
            "credential_type": "password",
            "debug_info": "",
        },
        volatile={
            "response.body.message": "environment (how the address fails to answer)",
            "response.body.test_duration": "environment (milliseconds)",
            "response.body.details.status": "environment (unreachable, or error)",
            "response.body.details.checked_at": "clock",
            "response.body.debug_info": "environment",
        },
    ),
    "targets/test_method_404.json": Difference(
        "the legacy backend had no route (the UI's Test button failed): the method is checked "
        "now, as a health check; target 1's method, moved by T5 to an unroutable documentation "
        "address, fails, which is a 200 with success false (the UI reads success). How it "
        "fails (no route, a timeout) depends on the network: message and status by type",
        status=200,
        body={
            "success": False,
            "message": "",
            "host": "192.0.2.40",
            "port": 22,
            "method_type": "ssh",
            "test_duration": 0,
            "details": {
                "status": "",
                "host_key": None,  # no handshake: nothing presented
                "health_check_id": "",
                "checked_at": None,
            },
            "username": "fleet",
            "credential_type": "password",
            "debug_info": "",
        },
        volatile={
            "response.body.message": "environment (how the address fails to answer)",
            "response.body.test_duration": "environment (milliseconds)",
            "response.body.details.status": "environment (unreachable, or error)",
            "response.body.details.health_check_id": "uuid",
            "response.body.details.checked_at": "clock",
            "response.body.debug_info": "environment",
        },
    ),
    "targets/add_method_404.json": Difference(
        "the legacy backend had no route: the method is added",
        status=200,
        body=ADDED_METHOD,
        volatile=METHOD_VOLATILE,
    ),
    "targets/update_method_404.json": Difference(
        "the legacy backend had no route: the method becomes the primary one",
        status=200,
        body=PRIMARY_METHOD_1,
        volatile=METHOD_VOLATILE,
    ),
    "targets/delete_method_404.json": Difference(
        "the legacy backend had no route: the method is deleted (the next one becomes primary)",
        status=200,
        body={"message": "Communication method deleted successfully"},
    ),
    "jobs/list_200.json": Difference(JOB_2_SCHEDULED, patch=JOB_2_IN_LIST),
    "jobs/list_as_guest_200.json": Difference(JOB_2_SCHEDULED, patch=JOB_2_IN_LIST),
    "jobs/get_1_200.json": Difference(
        "the schedule is the imported one: in UTC, where the legacy scheduler fired it "
        "whatever its declared zone, and nextRun is its real next firing (the recording's was "
        "in the past)",
        patch={"schedule_config.timezone": "UTC"},
        volatile={"response.body.schedule_config.nextRun": "clock"},
    ),
    "jobs/create_200.json": Difference(
        "a job created here gets a legacy id from the bridge's range",
        volatile={"response.body.id": "new legacy id"},
        creates=("jobs", 4),
    ),
    "jobs/update_same_targets_200.json": Difference(
        "action ids are the step's place in the job (steps have no ids of their own here); "
        "the legacy backend re-created its actions with new ids on every edit",
        patch={"actions[6].id": 1},
    ),
    "jobs/update_new_targets_200.json": Difference(
        "action ids are the step's place in the job (steps have no ids of their own here); "
        "the legacy backend re-created its actions with new ids on every edit",
        patch={"actions[7].id": 1},
    ),
    "jobs/execute_200.json": Difference(
        RUN_TARGETS,
        patch={"target_names": ["legacy-web-1", "legacy-web-2"]},
        volatile=NEW_JOB_EXECUTION,
    ),
    "jobs/execute_not_found_500.json": Difference(
        "an unknown job is a 404 (the legacy backend answered 500)",
        status=404,
        body={"detail": "Job not found"},
    ),
    "jobs/executions_new_job_200.json": Difference(
        RUN_TARGETS,
        patch={"[2].target_names": ["legacy-web-1", "legacy-web-2"]},
        volatile={
            "response.body[*].id": "new legacy id",
            "response.body[*].job_id": "new legacy id",
            "response.body[*].created_at": "clock",
        },
    ),
    "jobs/execution_new_job_200.json": Difference(
        RUN_TARGETS,
        patch={"target_names": ["legacy-web-1", "legacy-web-2"]},
        volatile=NEW_JOB_EXECUTION,
    ),
    "jobs/schedule_404.json": Difference(
        "the legacy backend had no route (the UI's 'Schedule Job' failed): the job runs once at "
        "scheduled_at (a one-time schedule); 200 with the job",
        status=200,
        body=SCHEDULED_JOB_4,
        volatile={
            "response.body.created_at": "clock",
            "response.body.last_execution.id": "new legacy id",
        },
    ),
    "jobs/terminate_404.json": Difference(
        "the legacy backend had no route (the UI's stop button failed): the job's waiting and "
        "running executions are cancelled",
        status=200,
        body={"message": "Job terminated successfully", "terminated_executions": [0]},
        volatile={"response.body.terminated_executions[*]": "new legacy id"},
    ),
    "jobs/safety_cleanup_stale_404.json": Difference(
        "the legacy backend had no route: the reaper runs now and says what it did",
        status=200,
        body={
            "success": True,
            "message": "Cleaned up 0 stale target(s)",
            "data": {
                "lost_targets": 0,
                "requeued_targets": 0,
                "resent_targets": 0,
                "advanced_executions": 0,
                "held_targets": 0,
            },
        },
        volatile={
            "response.body.message": SAFETY_COUNTS,
            **{
                f"response.body.data.{name}": SAFETY_COUNTS
                for name in ("lost_targets", "requeued_targets", "resent_targets",
                             "advanced_executions", "held_targets")
            },
        },
    ),
    "jobs/safety_health_404.json": Difference(
        "the legacy backend had no route: the reaper's facts",
        status=200,
        body={
            "success": True,
            "data": {
                "status": "healthy",
                "running_executions": 0,
                "waiting_executions": 0,
                "running_targets": 0,
                "queued_targets": 0,
                "stale_running_targets": 0,
                "long_queued_targets": 0,
                "executions_past_deadline": 0,
                "oldest_running_started_at": None,
                "lost_after_seconds": 0,
                "requeue_after_seconds": 0,
                "timestamp": None,
            },
        },
        volatile={
            **{
                f"response.body.data.{name}": SAFETY_COUNTS
                for name in ("status", "running_executions", "waiting_executions",
                             "running_targets", "queued_targets", "stale_running_targets",
                             "long_queued_targets", "executions_past_deadline",
                             "lost_after_seconds", "requeue_after_seconds")
            },
            "response.body.data.oldest_running_started_at": "clock",
            "response.body.data.timestamp": "clock",
        },
    ),
    "jobs/list_after_changes_200.json": Difference(
        JOB_2_SCHEDULED + "; job 4's execution was cancelled by J13 and it runs once on "
        "2027-01-15 (J12), which the legacy backend could not do",
        patch=JOB_2_IN_LIST,
        adjust=_job_4_after_changes,
        volatile={
            "response.body[*].id": "legacy id",
            "response.body[*].last_execution.id": "legacy id",
            "response.body[*].last_execution.started_at": "clock",
            "response.body[*].last_execution.completed_at": "clock",
        },
    ),
}  # fmt: skip


def recorded_body(name: str):
    return json.loads((RECORDINGS / name).read_text())["response"]["body"]


# schedules: the fixture's recorded next_run lies in the past (the legacy scheduler was not
# running); here it is each schedule's next due time from now (none while paused)
NEXT_RUNS = {"response.body[*].next_run": "clock (the next due time from now)"}
SCHEDULE_CLOCKS = {
    **NEXT_RUNS,
    "response.body[*].created_at": "clock",
    "response.body[*].updated_at": "clock",
}
CREATED_SCHEDULE = {
    "response.body.id": "new legacy id",
    "response.body.created_at": "clock",
    "response.body.updated_at": "clock",
    "response.body.next_run": "clock",
}
ONCE_CREATED = {
    "id": 0,
    "job_id": 2,
    "schedule_type": "once",
    "enabled": True,
    "timezone": "UTC",
    "description": "once",
    "execute_at": "2027-01-15T10:00:00Z",
    "recurring_type": None,
    "interval": 1,
    "time": None,
    "days_of_week": None,
    "day_of_month": None,
    "cron_expression": None,
    "max_executions": None,
    "execution_count": 0,
    "end_date": None,
    "next_run": "2027-01-15T10:00:00Z",
    "last_run": None,
    "created_at": None,
    "updated_at": None,
}
SETTINGS_READ_ONLY = (
    "session_timeout_minutes is the deployment's LEGACY_SESSION_SECONDS (480 minutes): the "
    "new system's setting, read-only here, so another value is refused with 422 naming it "
    "(the legacy backend stored anything; the page sends back what GET gave it)"
)


def _with_our_zones(body):
    from legacy_bridge.adapters.system import _zones

    zones = _zones()
    assert set(body["timezones"]) <= set(zones), set(body["timezones"]) - set(zones)
    return {"timezones": {**body["timezones"], **zones}}


def _is_csv_of_the_trail(text: str) -> bool:
    from apps.audit.export import COLUMNS

    return text.splitlines()[0] == ",".join(COLUMNS)


DIFFERENCES.update({
    "schedules/v3_list_by_job_404.json": Difference(
        "the legacy UI sends its schedule calls to /api/v3/schedules, where the legacy backend "
        "had no route: served, the list of the job's schedules (as /api/schedules/?job_id=)",
        status=200,
        body=recorded_body("schedules/list_by_job_200.json"),
        volatile=SCHEDULE_CLOCKS,
    ),
    "schedules/v3_create_404.json": Difference(
        "no legacy route under /api/v3: the schedule is created (cron, in UTC as the legacy "
        "scheduler ran it, the declared zone kept), with a legacy id from the bridge's range",
        status=200,
        body=recorded_body("schedules/create_cron_200.json"),
        volatile=CREATED_SCHEDULE,
        stands_for="/api/v3/schedules/1",
    ),
    "schedules/v3_delete_404.json": Difference(
        "no legacy route under /api/v3: the schedule is deleted (replayed on the schedule the "
        "create above made, the one the UI would delete before re-creating it)",
        status=200,
        body={"message": "Schedule deleted successfully"},
    ),
    "schedules/list_200.json": Difference(
        "next_run is the next due time from now", volatile=NEXT_RUNS
    ),
    "schedules/list_by_job_200.json": Difference(
        "next_run is the next due time from now", volatile=NEXT_RUNS
    ),
    "schedules/list_as_guest_200.json": Difference(
        "next_run is the next due time from now", volatile=NEXT_RUNS
    ),
    "schedules/create_cron_200.json": Difference(
        "a legacy id from the bridge's range", volatile=CREATED_SCHEDULE, creates=("schedules", 7)
    ),
    "schedules/create_daily_200.json": Difference(
        "a legacy id from the bridge's range", volatile=CREATED_SCHEDULE, creates=("schedules", 8)
    ),
    "schedules/create_weekly_200.json": Difference(
        "a legacy id from the bridge's range", volatile=CREATED_SCHEDULE, creates=("schedules", 9)
    ),
    "schedules/create_monthly_200.json": Difference(
        "a legacy id from the bridge's range",
        volatile=CREATED_SCHEDULE,
        creates=("schedules", 10),
    ),
    "schedules/create_once_500.json": Difference(
        "one-time schedules work: created, due at execute_at (the legacy backend failed every "
        "one with a 500)",
        status=200,
        body=ONCE_CREATED,
        volatile=CREATED_SCHEDULE,
    ),
    "schedules/list_after_create_200.json": Difference(
        "the schedules created above have legacy ids from the bridge's range (newest first, "
        "as the legacy list), next_run from now",
        volatile=NEXT_RUNS,
    ),
    "schedules/delete_with_history_500.json": Difference(
        "a schedule with history is deleted with its firing history (its runs stay), where "
        "the legacy backend answered 500 with the SQL error",
        status=200,
        body={"message": "Schedule deleted successfully"},
    ),
    "system/settings_put_200.json": Difference(
        SETTINGS_READ_ONLY,
        status=422,
        body={
            "detail": [
                {
                    "type": "read_only",
                    "loc": ["body", "session_timeout_minutes"],
                    "msg": "Set by the deployment (LEGACY_SESSION_SECONDS: 480); it cannot be "
                    "changed here.",
                    "input": 60,
                }
            ]
        },
    ),
    "system/settings_put_as_guest_200.json": Difference(
        "our roles: settings are an admin's to change (the legacy backend let a guest)",
        status=403,
        body={"detail": "Administrator access required"},
    ),
    "system/settings_put_bad_type_200.json": Difference(
        "validated: a timeout that is not a number is a 422 (the legacy backend stored it)",
        status=422,
        body={
            "detail": [
                {
                    "type": "int_parsing",
                    "loc": ["body", "session_timeout_minutes"],
                    "msg": "Input should be a valid integer, unable to parse string as an "
                    "integer",
                    "input": "sixty",
                }
            ]
        },
    ),
    "system/timezones_200.json": Difference(
        "every zone of this system's zone database (it may know zones the legacy backend's "
        "did not)",
        adjust=_with_our_zones,
    ),
    "audit/events_as_guest_200.json": Difference(
        "our roles: the audit trail is an admin's or an auditor's to read (the legacy backend "
        "let any signed-in user read it)",
        status=403,
        body={"detail": "Administrator access required"},
    ),
    "audit/event_types_200.json": Difference(
        "the event types are the new system's (the ones its trail holds, what event_type= "
        "filters on), not the legacy enumeration",
        volatile={"response.body.event_types": "log content (the trail's event types)"},
    ),
    "audit/export_csv_404.json": Difference(
        "no legacy route (the export buttons failed): the trail as CSV (or JSON), streamed",
        status=200,
        check=_is_csv_of_the_trail,
    ),
    "audit/lookups_targets_200.json": Difference(
        "the target is found (the legacy backend answered nothing for an existing target), "
        "with the display_name the UI reads",
        body={"targets": {"1": {"id": 1, "name": "legacy-web-1", "display_name": "legacy-web-1"}}},
    ),
})  # fmt: skip
# Fields the adapters add to what the legacy backend returned, because the legacy UI reads them.
EXTRA_FIELDS = {
    "targets/list": {"description"},
    "targets/get": {"encrypted_credentials"},
    "auth/refresh": {"refresh_token"},
    "jobs/list": {"job_serial", "job_type"},
    "jobs/get_1": {"job_serial", "job_type"},
    "jobs/create_200": {"job_serial", "job_type"},
    "jobs/update_new": {"job_serial", "job_type"},
    "jobs/update_same": {"job_serial", "job_type"},
    "jobs/schedule_404": {"job_serial", "job_type"},
    "system/info": {"timezone"},
    "system/settings_": {
        "warning_time_minutes",
        "job_result_retention_days",
        "archive_old_jobs",
        "audit_log_retention_days",
        "audit_log_export",
    },
    "audit/lookups_users": {"display_name"},
}
HEADER_DIFFERENCES = {
    # FastAPI listed the one method of the path it found; the adapter lists them all
    "targets/create_comprehensive_405.json": {"allow": None},
    "targets/test_method_config_405.json": {"allow": None},
    "audit/export_csv_404.json": {"content-type": "text/csv"},
}


# --- comparing ----------------------------------------------------------------------------------


def _type_ok(reason: str, value) -> bool:
    if reason.startswith("clock"):
        return value is None or isinstance(value, int) or bool(ISO.match(str(value)))
    if reason.startswith("token"):
        return isinstance(value, str) and value.count(".") == 2
    if reason.startswith("session id"):
        return isinstance(value, str) and re.fullmatch(r"\d+_\d+", value) is not None
    if reason.startswith(("random per seed", "uuid")):
        try:
            uuid.UUID(str(value))
        except ValueError:
            return False
        return True
    if reason == "new legacy id":
        return isinstance(value, int) and value >= settings.LEGACY_ID_FLOOR
    if reason == "legacy id":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if reason == "serial":
        return isinstance(value, str) and re.fullmatch(r"TGT-\d{6,}", value) is not None
    return True  # environment, log content: present is enough


def compare(expected, actual, volatile: dict, where: str, extras: set, problems: list) -> None:
    reason = volatile.get(where)
    if reason and not reason.startswith("order"):
        if not _type_ok(reason, actual):
            problems.append(f"{where}: {actual!r} is not a {reason}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(f"{where}: expected an object, got {actual!r}")
            return
        for key, value in expected.items():
            if key not in actual:
                if not (key in OPTIONAL_IN_422 and where.startswith("response.body.detail")):
                    problems.append(f"{where}.{key}: missing")
                continue
            compare(value, actual[key], volatile, f"{where}.{key}", extras, problems)
        unexpected = set(actual) - set(expected) - extras
        if unexpected:
            problems.append(f"{where}: unexpected fields {sorted(unexpected)}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            problems.append(f"{where}: expected {len(expected)} items, got {actual!r}"[:300])
            return
        if reason and reason.startswith("order"):
            expected = sorted(expected, key=_order_key)
            actual = sorted(actual, key=_order_key)
        for left, right in zip(expected, actual, strict=True):
            compare(left, right, volatile, f"{where}[*]", extras, problems)
        return
    if expected != actual:
        problems.append(f"{where}: expected {expected!r}, got {actual!r}")


def _order_key(item) -> str:
    """Lists built from a set: objects by their id, anything else by its value."""
    return json.dumps(item.get("id") if isinstance(item, dict) else item, sort_keys=True)


def apply_patch(body, patch: dict):
    """``{"[5].field": v}`` sets ``field`` of the list element whose id is 5;
    ``{"a[1].b[1].c": v}`` walks elements by id too."""
    body = json.loads(json.dumps(body))
    for path, value in patch.items():
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        node = body
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part.startswith("["):
                wanted = int(part[1:-1])
                found = next(item for item in node if item.get("id") == wanted)
                node = found
            elif last:
                node[part] = value
            else:
                node = node[part]
    return body


# --- replaying ----------------------------------------------------------------------------------


class Replay:
    """Sends recordings to the bridge in migrated mode, as the recording's user."""

    def __init__(self, client, fixture) -> None:
        self.client = client
        self.fixture = fixture
        self.tokens: dict[str, tuple[str, str]] = {}  # as_user -> (token, session id)
        self.aliases: dict[str, str] = {}  # recorded path -> ours (objects created here)
        self.ids: dict[int, int] = {}  # recorded id -> ours

    def token(self, as_user: str) -> tuple[str, str]:
        if as_user not in self.tokens:
            from apps.accounts.interface import user_summary
            from legacy_bridge import legacy_ids

            username = as_user.split("_")[0]
            user = user_summary(self.fixture.users[username])
            token, session = sessions.open_session(
                user_id=user.id,
                legacy_user_id=legacy_ids.legacy_id_for("users", user.id),
                username=user.username,
                role=user.role,
            )
            self.tokens[as_user] = (token, session.session_id)
        return self.tokens[as_user]

    def send(self, entry: dict):
        exchange = json.loads((RECORDINGS / entry["file"]).read_text())
        request = exchange["request"]
        as_user = entry["as_user"]
        token, session_id = self.token(
            as_user if as_user and not as_user.startswith("(") else "ladmin"
        )
        headers = {}
        for name, value in request["headers"].items():
            if name.lower() == "content-type":
                continue
            headers[name] = value.replace(PLACEHOLDER, token)
        body = request["body"]
        if body is not None:
            text = json.dumps(body).replace(PLACEHOLDER, token)
            body = json.loads(text)
            if "request.body.session_id" in entry["volatile"]:
                body["session_id"] = session_id
        path = request["path"]
        for recorded, ours in self.aliases.items():
            if path == recorded or path.startswith(recorded + "/"):
                path = ours + path[len(recorded) :]
        if request["query"]:
            path += "?" + urlencode(request["query"])
        return self.client.generic(
            request["method"],
            path,
            data=json.dumps(body) if body is not None else "",
            content_type=request["headers"].get("Content-Type", "application/json"),
            headers=headers,
        )

    def created(self, difference: Difference, response) -> None:
        if difference and difference.stands_for:
            parent = difference.stands_for.rsplit("/", 1)[0]
            self.aliases[difference.stands_for] = f"{parent}/{response.json()['id']}"
        if difference and difference.creates:
            kind, recorded = difference.creates
            ours = response.json()["id"]
            self.ids[recorded] = ours
            self.aliases[f"/api/v3/{kind}/{recorded}"] = f"/api/v3/{kind}/{ours}"
            if kind == "schedules":  # the legacy backend's own schedule routes
                self.aliases[f"/api/schedules/{recorded}"] = f"/api/schedules/{ours}"


# the route table's rows of an area flipped to its adapters
FLIPS = {
    "schedules": {
        "/api/v3/schedules": "legacy-schedules",
        "/api/schedules": "legacy-api-schedules",
    },
}


def flip(area: str) -> None:
    adapters = FLIPS.get(area, {f"/api/v3/{area}": f"legacy-{area}"})
    set_routes(
        {prefix: {"mode": Mode.MIGRATED, "adapter": name} for prefix, name in adapters.items()}
    )


def expected_of(entry: dict) -> tuple[int, object, dict, dict]:
    exchange = json.loads((RECORDINGS / entry["file"]).read_text())
    recorded = exchange["response"]
    difference = DIFFERENCES.get(entry["file"])
    status, body, volatile = recorded["status"], recorded["body"], dict(entry["volatile"])
    if difference:
        status = difference.status or status
        body = difference.body if difference.body is not None else body
        body = apply_patch(body, difference.patch)
        if difference.adjust is not None:
            body = difference.adjust(body)
        volatile.update(difference.volatile)
    headers = {k: v for k, v in recorded["headers"].items() if k in HEADERS_THAT_MATTER}
    headers.update(HEADER_DIFFERENCES.get(entry["file"], {}))
    return status, body, volatile, headers


def _extras(entry: dict, status: int) -> set:
    extras = set()
    for prefix, fields_ in EXTRA_FIELDS.items():
        if entry["file"].startswith(prefix):
            extras |= fields_
    if status >= 400:
        extras |= ERROR_EXTRAS
    return extras


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """The recordings name documentation addresses (192.0.2.x): a replay that would dial one
    (T7's method test probes the method the T5 replay pointed there) is refused at once, as an
    unreachable network, so no test traffic leaves loopback."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if isinstance(address, tuple):
            try:
                allowed = ipaddress.ip_address(address[0]).is_loopback
            except ValueError:
                allowed = address[0] == "localhost"
            if not allowed:
                raise OSError(
                    errno.ENETUNREACH, "Network is unreachable (tests dial loopback only)"
                )
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def legacy_fixture(db, settings):
    # T7 really checks target 1's method (an unroutable address by then), and is replayed
    # before every later targets recording: a second is enough to fail
    settings.TARGET_HEALTH_TIMEOUT_SECONDS = 1.0
    return seed()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_migrated_adapters_answer_every_recording(client, legacy_fixture, entry):
    area = entry["file"].split("/")[0]
    flip(area)
    replay = Replay(client, legacy_fixture)
    for earlier in ENTRIES[: ENTRIES.index(entry)]:
        if earlier["file"].startswith(area + "/") and earlier["method"] != "GET":
            replay.created(DIFFERENCES.get(earlier["file"]), replay.send(earlier))
    response = replay.send(entry)
    status, body, volatile, headers = expected_of(entry)
    if replay.ids and isinstance(body, dict) and body.get("id") in replay.ids:
        body = {**body, "id": replay.ids[body["id"]]}
    if replay.ids and isinstance(body, list):  # a list showing objects created above
        body = [
            {**item, "id": replay.ids[item["id"]]}
            if isinstance(item, dict) and item.get("id") in replay.ids
            else item
            for item in body
        ]
    problems: list[str] = []
    if response.status_code != status:
        problems.append(f"status {response.status_code}, expected {status}")
    for name, value in headers.items():
        got = response.get(name)
        if name == "location":
            got, value = urlsplit(got or "").path, urlsplit(value).path
        if got != value:
            problems.append(f"header {name}: {got!r}, expected {value!r}")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    difference = DIFFERENCES.get(entry["file"])
    if difference is not None and difference.check is not None:
        assert difference.check(content.decode()), (entry["file"], content[:600])
    else:
        actual = json.loads(content) if content else None
        compare(body, actual, volatile, "response.body", _extras(entry, status), problems)
    assert problems == [], (entry["file"], problems, content[:600])
    assert response["X-Legacy-Bridge"] == "adapter"


def test_every_difference_is_a_recording_and_documented():
    files = {e["file"] for e in ENTRIES}
    assert set(DIFFERENCES) <= files
    docs = (Path(settings.BASE_DIR) / "docs" / "legacy-bridge.md").read_text()
    for name in DIFFERENCES:
        assert name.split("/")[1] in docs, f"{name} is not listed in docs/legacy-bridge.md"


# --- proxy mode: the recordings come back unchanged ----------------------------------------------


class RecordingsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length) if length else b""
        name = self.headers.get("X-Recording", "")
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "body": json.loads(sent) if sent else None,
            }
        )
        recorded = json.loads((RECORDINGS / name).read_text())["response"]
        data = b"" if recorded["body"] is None else json.dumps(recorded["body"]).encode()
        self.send_response(recorded["status"])
        for header, value in recorded["headers"].items():
            self.send_header(header, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


@pytest.fixture
def recordings_backend(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingsHandler)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.LEGACY_BACKEND_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_proxied_recordings_come_back_unchanged(client, recordings_backend, entry):
    set_routes({})  # the defaults: everything proxied
    exchange = json.loads((RECORDINGS / entry["file"]).read_text())
    request, recorded = exchange["request"], exchange["response"]
    path = request["path"] + ("?" + urlencode(request["query"]) if request["query"] else "")
    headers = {k: v for k, v in request["headers"].items() if k.lower() != "content-type"}
    response = client.generic(
        request["method"],
        path,
        data=json.dumps(request["body"]) if request["body"] is not None else "",
        content_type=request["headers"].get("Content-Type", "application/json"),
        headers={**headers, "X-Recording": entry["file"]},
    )
    (seen,) = recordings_backend.seen
    assert (seen["method"], seen["path"]) == (request["method"], path)
    assert seen["authorization"] == request["headers"].get("Authorization")
    assert seen["body"] == request["body"]
    assert response.status_code == recorded["status"]
    for name in HEADERS_THAT_MATTER:
        if name in recorded["headers"]:
            got, value = response.get(name), recorded["headers"][name]
            if name == "location":  # the backend's own address: rewritten or not
                got, value = urlsplit(got).path, urlsplit(value).path
            assert got == value, name
    content = b"".join(response.streaming_content)
    assert (json.loads(content) if content else None) == recorded["body"]
    assert response["X-Legacy-Bridge"] == "proxy"
