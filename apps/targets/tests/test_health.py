"""Health checks of targets against real sshd processes, synchronously and through a worker."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.targets import selectors, tasks
from apps.targets.connection import fingerprint_sha256
from apps.targets.models import ConnectionMethod, Credential, HealthCheck, HostKey, Target
from apps.targets.services import health, hostkeys
from opsconductor.events import Actor
from opsconductor.events.models import OutboxEvent
from opsconductor.sealing import seal
from tests.fixtures import wait_for
from tests.sshd import SshServer, free_port

DB = "targets"
ADMIN = Actor(kind="user", id=str(uuid.uuid4()), name="alice")


# --- building targets (used by test_hostkeys too) --------------------------------------------


def make_credential(
    *,
    kind: str = Credential.Kind.SSH_KEY,
    username: str = "root",
    private_key: str | None = None,
    passphrase: str | None = None,
    password: str | None = None,
) -> Credential:
    if kind == Credential.Kind.SSH_KEY:
        secret = {"private_key": private_key, "passphrase": passphrase}
    else:
        secret = {"password": password}
    return Credential.objects.using(DB).create(
        name=f"cred-{uuid.uuid4().hex[:12]}",
        kind=kind,
        username=username,
        secret=seal(secret),
        secret_set_at=timezone.now(),
    )


def trust(method: ConnectionMethod, server: SshServer) -> HostKey:
    blob = base64.b64decode(server.host_key_base64)
    return HostKey.objects.using(DB).create(
        method=method,
        algorithm=server.host_key_algorithm,
        public_key=server.host_key_base64,
        fingerprint=fingerprint_sha256(blob),
        state=HostKey.State.TRUSTED,
        source=HostKey.Source.MANUAL,
    )


def ssh_target(
    server: SshServer | None = None,
    *,
    name: str = "web-1",
    port: int | None = None,
    credential: Credential | None = None,
    policy: str = Target.HostKeyPolicy.STRICT,
    trusted: bool = True,
    status: str = Target.Status.ACTIVE,
) -> Target:
    """A target reaching ``server`` with its client key (by default) and trusted host key."""
    target = Target.objects.using(DB).create(name=name, host_key_policy=policy, status=status)
    if credential is None and server is not None:
        credential = make_credential(username=server.username, private_key=server.client_key_text)
    method = ConnectionMethod.objects.using(DB).create(
        target=target,
        protocol=ConnectionMethod.Protocol.SSH,
        host="127.0.0.1",
        port=port or (server.port if server else free_port()),
        credential=credential,
        is_primary=True,
    )
    if server is not None and trusted:
        trust(method, server)
    return target


def events(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.using(DB).filter(event_type=event_type).order_by("occurred_at"))


def assert_no_auth_attempted(server: SshServer, connections: int = 1) -> None:
    log = server.wait_for_connections(connections)
    assert "[preauth]" in log
    assert server.auth_attempts() == [], log


# --- one target, synchronously ----------------------------------------------------------------


@pytest.mark.django_db(databases=[DB])
def test_a_reachable_target_with_a_working_key_is_healthy(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)

    check = health.target_check_health(target_id=target.id, actor=ADMIN)

    assert check.status == Target.Health.HEALTHY, check.message
    assert check.finished_at and check.started_at and check.latency_ms is not None
    assert check.method == target.connection_methods.get()
    assert HealthCheck.objects.using(DB).get(pk=check.pk).requested_by_id == uuid.UUID(ADMIN.id)
    target.refresh_from_db()
    assert target.health_status == Target.Health.HEALTHY
    assert target.health_checked_at == check.finished_at
    assert target.health_latency_ms == check.latency_ms
    assert target.health_message == check.message
    [changed] = events("targets.target.health_changed")
    assert changed.payload == {
        "target_id": str(target.id),
        "name": "web-1",
        "from": "unknown",
        "to": "healthy",
        "message": check.message,
    }
    assert changed.actor["name"] == "alice"
    # The trusted key was seen again.
    assert HostKey.objects.using(DB).get().last_seen_at is not None

    again = health.target_check_health(target_id=target.id)

    assert again.status == Target.Health.HEALTHY
    assert len(events("targets.target.health_changed")) == 1  # no change, no event
    assert HealthCheck.objects.using(DB).filter(target=target).count() == 2


@pytest.mark.django_db(databases=[DB])
def test_password_credential_is_healthy(sshd_factory):
    server = sshd_factory(password=True)
    user = server.password_user
    credential = make_credential(
        kind=Credential.Kind.PASSWORD, username=user.username, password=user.password
    )
    target = ssh_target(server, credential=credential)

    check = health.target_check_health(target_id=target.id)

    assert check.status == Target.Health.HEALTHY, check.message
    assert f"Accepted password for {user.username}" in server.wait_for_connections(1)


@pytest.mark.django_db(databases=[DB])
def test_the_method_username_overrides_the_credentials(sshd_factory):
    server = sshd_factory(password=True)
    user = server.password_user
    credential = make_credential(
        kind=Credential.Kind.PASSWORD, username="somebody-else", password=user.password
    )
    target = ssh_target(server, credential=credential)
    ConnectionMethod.objects.using(DB).filter(target=target).update(username=user.username)

    assert health.target_check_health(target_id=target.id).status == Target.Health.HEALTHY


@pytest.mark.django_db(databases=[DB])
def test_a_key_the_host_refuses_is_auth_failed(sshd_factory, tmp_path):
    from tests.sshd import generate_key

    server = sshd_factory()
    other = generate_key(tmp_path / "other").read_text()
    target = ssh_target(server, credential=make_credential(private_key=other))

    check = health.target_check_health(target_id=target.id)

    assert check.status == Target.Health.AUTH_FAILED
    target.refresh_from_db()
    assert target.health_status == Target.Health.AUTH_FAILED
    assert "Failed publickey" in server.wait_for_connections(1)


@pytest.mark.django_db(databases=[DB])
def test_a_closed_port_is_unreachable_within_the_configured_timeout(settings):
    settings.TARGET_HEALTH_TIMEOUT_SECONDS = 2.0
    target = ssh_target(port=free_port(), credential=make_credential(private_key="unused"))

    started = time.monotonic()
    check = health.target_check_health(target_id=target.id)

    assert time.monotonic() - started < settings.TARGET_HEALTH_TIMEOUT_SECONDS
    assert check.status == Target.Health.UNREACHABLE
    assert "refused" in check.message


@pytest.mark.django_db(databases=[DB])
def test_a_silent_host_is_unreachable_within_the_configured_timeout(settings):
    import socket

    settings.TARGET_HEALTH_TIMEOUT_SECONDS = 1.0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        target = ssh_target(
            port=listener.getsockname()[1], credential=make_credential(private_key="unused")
        )
        started = time.monotonic()
        check = health.target_check_health(target_id=target.id)
        elapsed = time.monotonic() - started

    assert check.status == Target.Health.UNREACHABLE
    assert elapsed < 2.0


@pytest.mark.django_db(databases=[DB])
def test_a_target_without_a_connection_method_is_an_error():
    target = Target.objects.using(DB).create(name="bare")

    check = health.target_check_health(target_id=target.id)

    assert (check.status, check.message) == (Target.Health.ERROR, "no connection method")
    assert check.method is None
    target.refresh_from_db()
    assert target.health_status == Target.Health.ERROR


@pytest.mark.django_db(databases=[DB])
def test_a_credential_that_cannot_be_unsealed_is_an_error(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    Credential.objects.using(DB).update(secret="not-a-sealed-value")

    check = health.target_check_health(target_id=target.id)

    assert check.status == Target.Health.ERROR
    assert "cannot be unsealed" in check.message


@pytest.mark.django_db(databases=[DB])
def test_the_primary_method_is_used(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    ConnectionMethod.objects.using(DB).filter(target=target).update(is_primary=False, priority=5)
    ConnectionMethod.objects.using(DB).create(
        target=target, protocol="ssh", host="127.0.0.1", port=free_port(), priority=9
    )
    assert selectors.primary_method(target=target).port == server.port  # lower priority first

    ConnectionMethod.objects.using(DB).filter(target=target, port=server.port).update(priority=10)
    assert selectors.primary_method(target=target).port != server.port
    ConnectionMethod.objects.using(DB).filter(target=target, port=server.port).update(
        is_primary=True
    )
    assert selectors.primary_method(target=target).port == server.port  # primary wins

    assert health.target_check_health(target_id=target.id).status == Target.Health.HEALTHY


@pytest.mark.django_db(databases=[DB])
def test_connection_params_carry_the_unsealed_credential_in_wrappers(sshd_factory):
    server = sshd_factory()
    canary = f"canary-{uuid.uuid4()}"
    target = ssh_target(server, credential=make_credential(private_key="KEY", passphrase=canary))
    method = target.connection_methods.get()
    HostKey.objects.using(DB).create(
        method=method,
        algorithm="ssh-ed25519",
        public_key="AAAA",
        fingerprint="SHA256:x",
        state=HostKey.State.PENDING,
        source=HostKey.Source.SCAN,
    )

    params = selectors.connection_params(method=method)

    assert params.private_key.reveal() == "KEY"
    assert params.passphrase.reveal() == canary
    assert not params.password
    assert canary not in repr(params)
    assert params.username == server.username
    assert params.host_key_policy == "strict"
    assert sorted(k.trusted for k in params.known_host_keys) == [False, True]
    assert (params.winrm_scheme, params.winrm_transport) == ("http", "ntlm")


# --- one given connection method -------------------------------------------------------------


@pytest.mark.django_db(databases=[DB])
def test_one_method_is_checked_and_only_the_primary_sets_the_targets_health(sshd_factory):
    from apps.targets.interface import connection_method_check_as

    server = sshd_factory()
    target = ssh_target(server)
    primary = target.connection_methods.get()
    closed = ConnectionMethod.objects.using(DB).create(
        target=target, protocol="ssh", host="127.0.0.1", port=free_port(), priority=5,
        credential=primary.credential,
    )  # fmt: skip

    # another method: probed and recorded, but the target's health is its primary method's
    other = connection_method_check_as(target_id=target.id, method_id=closed.id, actor=ADMIN)

    assert (other.ok, other.status) == (False, Target.Health.UNREACHABLE)
    assert "refused" in other.message
    assert (other.host, other.port, other.protocol) == ("127.0.0.1", closed.port, "ssh")
    assert (other.username, other.credential_kind) == (server.username, "ssh_key")
    assert other.host_key_verdict is None and other.duration_ms >= 0
    row = HealthCheck.objects.using(DB).get(pk=other.check_id)
    assert (row.method_id, row.status, row.requested_by_id) == (
        closed.id, "unreachable", uuid.UUID(ADMIN.id),
    )  # fmt: skip
    target.refresh_from_db()
    assert (target.health_status, target.health_checked_at) == (Target.Health.UNKNOWN, None)
    assert events("targets.target.health_changed") == []

    # the primary method: exactly a health check of the target
    checked = connection_method_check_as(target_id=target.id, method_id=primary.id, actor=ADMIN)

    assert (checked.ok, checked.status) == (True, Target.Health.HEALTHY), checked.message
    assert checked.host_key_verdict == "trusted"
    assert checked.host_key_fingerprint == HostKey.objects.using(DB).get().fingerprint
    target.refresh_from_db()
    assert target.health_status == Target.Health.HEALTHY
    assert target.health_checked_at == checked.checked_at
    [changed] = events("targets.target.health_changed")
    assert (changed.payload["to"], changed.actor["name"]) == ("healthy", "alice")


@pytest.mark.django_db(databases=[DB])
def test_a_method_check_applies_the_host_key_policy_and_sends_nothing_to_an_unknown_key(
    sshd_factory,
):
    from apps.targets.interface import connection_method_check_as

    server = sshd_factory()
    target = ssh_target(server, trusted=False)  # strict, the host's key not approved
    method = target.connection_methods.get()

    checked = connection_method_check_as(target_id=target.id, method_id=method.id, actor=ADMIN)

    assert (checked.ok, checked.status) == (False, Target.Health.HOST_KEY_UNKNOWN)
    key = HostKey.objects.using(DB).get()
    assert (key.method_id, key.state) == (method.id, HostKey.State.PENDING)
    assert checked.host_key_verdict == "unknown"
    assert checked.host_key_fingerprint == key.fingerprint
    assert key.fingerprint in checked.message
    assert_no_auth_attempted(server)


@pytest.mark.django_db(databases=[DB])
def test_a_method_of_another_target_cannot_be_checked():
    from apps.targets.interface import connection_method_check_as

    mine, other = ssh_target(name="mine"), ssh_target(name="other")
    method = other.connection_methods.get()
    for target_id, method_id in ((mine.id, method.id), (uuid.uuid4(), method.id),
                                 (mine.id, uuid.uuid4())):  # fmt: skip
        with pytest.raises(LookupError):
            connection_method_check_as(target_id=target_id, method_id=method_id, actor=ADMIN)
    assert HealthCheck.objects.using(DB).count() == 0


# --- host keys ---------------------------------------------------------------------------------


@pytest.mark.django_db(databases=[DB])
def test_strict_and_an_unknown_key_is_refused_recorded_and_nothing_is_sent(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server, trusted=False)

    check = health.target_check_health(target_id=target.id)

    assert check.status == Target.Health.HOST_KEY_UNKNOWN
    key = HostKey.objects.using(DB).get()
    assert (key.state, key.source) == (HostKey.State.PENDING, HostKey.Source.CONNECTION)
    assert key.public_key == server.host_key_base64
    assert key.fingerprint in check.message
    assert [e.payload["fingerprint"] for e in events("targets.host_key.seen")] == [key.fingerprint]
    assert_no_auth_attempted(server)

    health.target_check_health(target_id=target.id)  # seen again: no new row, no new event
    assert HostKey.objects.using(DB).count() == 1
    assert len(events("targets.host_key.seen")) == 1


@pytest.mark.django_db(databases=[DB])
def test_accept_new_trusts_the_first_key_then_refuses_a_changed_one(sshd_factory, sshd_rekey):
    first = sshd_factory()
    target = ssh_target(first, policy=Target.HostKeyPolicy.ACCEPT_NEW, trusted=False)

    # 1. First use: the key is recorded as trusted and the check goes on.
    check = health.target_check_health(target_id=target.id)
    assert check.status == Target.Health.HEALTHY, check.message
    old = HostKey.objects.using(DB).get()
    assert (old.state, old.source) == (HostKey.State.TRUSTED, HostKey.Source.FIRST_USE)
    assert old.public_key == first.host_key_base64
    assert old.decided_at is not None

    # 2. Another sshd on the same address with another host key: refused before any login.
    second = sshd_rekey(first)
    check = health.target_check_health(target_id=target.id)

    assert check.status == Target.Health.HOST_KEY_MISMATCH
    new = HostKey.objects.using(DB).exclude(pk=old.pk).get()
    assert (new.state, new.source) == (HostKey.State.PENDING, HostKey.Source.CONNECTION)
    assert new.public_key == second.host_key_base64
    assert f"changed: expected {old.fingerprint}, got {new.fingerprint}" in check.message
    assert_no_auth_attempted(second)
    [refused] = events("targets.host_key.changed_refused")
    assert refused.payload["expected"] == [old.fingerprint]
    assert refused.payload["presented"] == new.fingerprint
    assert refused.payload["target_id"] == str(target.id)
    changed = events("targets.target.health_changed")
    assert [(e.payload["from"], e.payload["to"]) for e in changed] == [
        ("unknown", "healthy"),
        ("healthy", "host_key_mismatch"),
    ]

    # 3. Still refused on the next check; the refusal is not announced twice.
    assert health.target_check_health(target_id=target.id).status == "host_key_mismatch"
    assert len(events("targets.host_key.changed_refused")) == 1
    assert_no_auth_attempted(second, connections=2)

    # 4. An admin approves the new key: the old one is rejected and the target is healthy.
    hostkeys.host_key_approve(host_key=new, actor=ADMIN)
    old.refresh_from_db()
    assert old.state == HostKey.State.REJECTED
    check = health.target_check_health(target_id=target.id)
    assert check.status == Target.Health.HEALTHY, check.message


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.django_db(databases=[DB])
def test_the_secret_never_appears_in_results_rows_events_or_logs(sshd_factory, tmp_path, caplog):
    from tests.sshd import generate_key

    caplog.set_level(logging.DEBUG)  # paramiko's debug log included
    canary = f"canary-{uuid.uuid4()}"
    # A passphrase-protected key that works, and a wrong password, both carrying the canary.
    key_path = generate_key(tmp_path / "canary_key", passphrase=canary)
    key_server = sshd_factory(client_key=key_path)
    ok = ssh_target(
        key_server,
        name="with-key",
        credential=make_credential(private_key=key_path.read_text(), passphrase=canary),
    )
    pw_server = sshd_factory(password=True)
    bad = ssh_target(
        pw_server,
        name="with-password",
        credential=make_credential(
            kind=Credential.Kind.PASSWORD,
            username=pw_server.password_user.username,
            password=canary,
        ),
    )
    unknown = ssh_target(
        key_server,
        name="unknown-key",
        trusted=False,
        credential=make_credential(private_key=key_path.read_text(), passphrase=canary),
    )

    results = [health.target_check_health(target_id=t.id) for t in (ok, bad, unknown)]

    assert [c.status for c in results] == ["healthy", "auth_failed", "host_key_unknown"]
    rows = list(HealthCheck.objects.using(DB).values())
    targets = list(Target.objects.using(DB).values())
    outbox = list(OutboxEvent.objects.using(DB).values("event_type", "payload", "actor"))
    host_keys = list(HostKey.objects.using(DB).values())
    assert len(outbox) >= 3
    dump = json.dumps([rows, targets, outbox, host_keys], default=str)
    assert canary not in dump
    assert canary not in "\n".join(r.getMessage() for r in caplog.records)
    assert canary not in caplog.text
    assert any(r.name.startswith("paramiko") for r in caplog.records)  # the log was captured


# --- many targets, through the real worker -----------------------------------------------------


@pytest.mark.django_db(databases=[DB])
def test_unknown_targets_cannot_be_checked():
    with pytest.raises(ValidationError, match="No such target"):
        health.targets_check_health(target_ids=[uuid.uuid4()], actor=ADMIN)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_batch_runs_on_the_worker_and_reports_each_target(celery_worker, sshd_factory):
    servers = [sshd_factory() for _ in range(3)]
    healthy = [ssh_target(server, name=f"web-{i}") for i, server in enumerate(servers)]
    closed = ssh_target(name="gone", port=free_port(), credential=make_credential(private_key="x"))
    untrusted = ssh_target(servers[0], name="new-host", trusted=False)
    all_ids = [t.id for t in (*healthy, closed, untrusted)]

    batch_id = health.targets_check_health(target_ids=all_ids, actor=ADMIN)

    queued = list(selectors.health_batch(batch_id=batch_id))
    assert len(queued) == 5
    wait_for(
        lambda: selectors.health_batch_done(batch_id=batch_id),
        timeout=60,
        what="the batch's health checks to finish",
    )
    statuses = {c.target.name: c.status for c in selectors.health_batch(batch_id=batch_id)}
    assert statuses == {
        "web-0": "healthy",
        "web-1": "healthy",
        "web-2": "healthy",
        "gone": "unreachable",
        "new-host": "host_key_unknown",
    }
    for check in selectors.health_batch(batch_id=batch_id):
        assert check.started_at and check.finished_at and check.method_id
        assert check.requested_by_id == uuid.UUID(ADMIN.id)
    assert {t.health_status for t in Target.objects.filter(pk__in=[t.id for t in healthy])} == {
        "healthy"
    }
    changed = OutboxEvent.objects.using(DB).filter(event_type="targets.target.health_changed")
    assert changed.count() == 5
    assert {e.actor["name"] for e in changed} == {"alice"}


@pytest.mark.broker
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_periodic_check_covers_every_active_target(celery_worker, sshd_factory):
    server = sshd_factory()
    active = ssh_target(server, name="active")
    resting = ssh_target(server, name="resting", status=Target.Status.MAINTENANCE)

    batch_id = tasks.check_all_targets()

    wait_for(
        lambda: selectors.health_batch_done(batch_id=uuid.UUID(batch_id)),
        timeout=60,
        what="the periodic batch to finish",
    )
    [check] = selectors.health_batch(batch_id=uuid.UUID(batch_id))
    assert check.target_id == active.id and check.status == "healthy"
    resting.refresh_from_db()
    assert resting.health_status == Target.Health.UNKNOWN


@pytest.mark.django_db(databases=[DB])
def test_a_check_is_run_once_even_if_its_task_is_delivered_twice(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    check = HealthCheck.objects.using(DB).create(target=target, batch_id=uuid.uuid4())

    assert tasks.check_target_health(str(check.id)) == "healthy"
    assert tasks.check_target_health(str(check.id)) == "healthy"

    server.wait_for_connections(1)
    assert server.log().count("Accepted publickey") == 1
    assert tasks.check_target_health(str(uuid.uuid4())) is None


@pytest.mark.django_db(databases=[DB])
def test_checks_no_worker_took_are_closed():
    target = Target.objects.using(DB).create(name="t")
    stale = HealthCheck.objects.using(DB).create(target=target, batch_id=uuid.uuid4())
    HealthCheck.objects.using(DB).filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    fresh = HealthCheck.objects.using(DB).create(target=target, batch_id=uuid.uuid4())

    assert health.health_checks_expire(older_than=timedelta(hours=1)) == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Target.Health.ERROR and stale.finished_at
    assert fresh.status == ""


@pytest.mark.django_db(databases=[DB])
def test_a_connection_outcome_from_a_run_sets_the_health():
    target = Target.objects.using(DB).create(name="t")

    health.target_record_outcome(target_id=target.id, status="auth_failed", message="denied")
    health.target_record_outcome(target_id=target.id, status="auth_failed", message="denied")

    target.refresh_from_db()
    assert (target.health_status, target.health_message) == ("auth_failed", "denied")
    assert len(events("targets.target.health_changed")) == 1
    with pytest.raises(ValueError):
        health.target_record_outcome(target_id=target.id, status="fine")


@pytest.mark.django_db(databases=[DB])
def test_connection_outcomes_of_many_targets_are_recorded_together():
    a, b, c = (Target.objects.using(DB).create(name=n) for n in ("a", "b", "c"))
    health.targets_record_outcomes([(a.id, "healthy", ""), (b.id, "healthy", "")])
    before = len(events("targets.target.health_changed"))

    # b unchanged (one UPDATE with a, also unchanged), c changes; the last outcome per target wins
    health.targets_record_outcomes(
        [
            (a.id, "healthy", ""),
            (b.id, "unreachable", "x"),
            (b.id, "healthy", ""),
            (c.id, "auth_failed", "denied"),
        ]
    )

    rows = {t.name: t for t in Target.objects.using(DB).all()}
    assert rows["a"].health_status == rows["b"].health_status == "healthy"
    assert (rows["c"].health_status, rows["c"].health_message) == ("auth_failed", "denied")
    assert rows["a"].health_checked_at is not None
    changed = events("targets.target.health_changed")[before:]
    assert [e.payload["name"] for e in changed] == ["c"]
    with pytest.raises(ValueError):
        health.targets_record_outcomes([(a.id, "fine", "")])


@pytest.mark.django_db(databases=[DB])
def test_connection_params_of_many_targets_in_a_few_queries(
    sshd_factory, django_assert_max_num_queries
):
    from apps.targets.interface import connections_for_targets

    server = sshd_factory()
    credential = make_credential(username=server.username, private_key=server.client_key_text)
    targets = [ssh_target(server, name=f"web-{i}", credential=credential) for i in range(5)]
    broken = ssh_target(server, name="broken", credential=make_credential(private_key="K"))
    Credential.objects.using(DB).filter(pk=broken.connection_methods.get().credential_id).update(
        secret="not-sealed"
    )
    bare = Target.objects.using(DB).create(name="no-method")
    ids = [t.id for t in targets] + [broken.id, bare.id, uuid.uuid4()]

    with django_assert_max_num_queries(3, using=DB):
        found, unsealable = connections_for_targets(ids)

    assert set(found) == {t.id for t in targets}
    assert unsealable == {broken.id}
    one = found[targets[0].id]
    assert one.private_key.reveal() == server.client_key_text
    assert [k.trusted for k in one.known_host_keys] == [True]
    single = selectors.connection_params(method=targets[0].connection_methods.get())
    assert (one.host, one.port, one.username, one.known_host_keys) == (
        single.host, single.port, single.username, single.known_host_keys
    )  # fmt: skip
