"""Host keys: scan on request (real sshd), approve, reject, add, and what a sighting changes."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from apps.targets.models import HostKey, Target
from apps.targets.probes import SeenHostKey
from apps.targets.services import hostkeys
from apps.targets.tests.test_health import ADMIN, events, ssh_target
from opsconductor.events import SYSTEM

DB = "targets"


def method_of(target: Target):
    return target.connection_methods.get()


@pytest.mark.django_db(databases=[DB])
def test_scan_records_the_presented_key_as_pending_without_logging_in(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server, trusted=False)

    key = hostkeys.host_key_scan(method=method_of(target), actor=ADMIN)

    assert (key.state, key.source) == (HostKey.State.PENDING, HostKey.Source.SCAN)
    assert (key.algorithm, key.public_key) == (server.host_key_algorithm, server.host_key_base64)
    assert key.fingerprint.startswith("SHA256:") and key.last_seen_at is not None
    [seen] = events("targets.host_key.seen")
    assert seen.payload["fingerprint"] == key.fingerprint
    assert seen.payload["target_id"] == str(target.id)
    assert seen.actor["name"] == "alice"
    log = server.wait_for_connections(1)
    assert "[preauth]" in log and server.auth_attempts() == []

    # Scanning again: the same row, seen later, no second event.
    again = hostkeys.host_key_scan(method=method_of(target), actor=ADMIN)
    assert again.pk == key.pk and again.last_seen_at > key.last_seen_at
    assert len(events("targets.host_key.seen")) == 1


@pytest.mark.django_db(databases=[DB])
def test_scan_keeps_a_trusted_key_trusted_and_reopens_a_rejected_one(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)  # its key is trusted
    trusted = HostKey.objects.using(DB).get()

    assert hostkeys.host_key_scan(method=method_of(target), actor=ADMIN).state == "trusted"

    hostkeys.host_key_reject(host_key=trusted, actor=ADMIN)
    reopened = hostkeys.host_key_scan(method=method_of(target), actor=ADMIN)
    assert reopened.pk == trusted.pk
    assert (reopened.state, reopened.source) == (HostKey.State.PENDING, HostKey.Source.SCAN)
    assert reopened.decided_at is None and reopened.decided_by_name == ""


@pytest.mark.django_db(databases=[DB])
def test_scan_of_a_host_that_does_not_answer_is_a_502_naming_why():
    from tests.sshd import free_port

    target = ssh_target(port=free_port())

    with pytest.raises(hostkeys.HostKeyScanFailed, match="refused") as info:
        hostkeys.host_key_scan(method=method_of(target), actor=ADMIN)
    assert info.value.status_code == 502
    assert not HostKey.objects.using(DB).exists()


@pytest.mark.django_db(databases=[DB])
def test_approve_trusts_the_key_and_replaces_the_old_one_of_its_algorithm(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    method = method_of(target)
    old = HostKey.objects.using(DB).get()
    other_type = HostKey.objects.using(DB).create(
        method=method,
        algorithm="ecdsa-sha2-nistp256",
        public_key="AAAAE2VjZHNh",
        fingerprint="SHA256:ecdsa",
        state=HostKey.State.TRUSTED,
        source=HostKey.Source.MANUAL,
    )
    new = hostkeys.host_key_record_seen(
        method=method,
        key=SeenHostKey(algorithm=old.algorithm, public_key="AAAAnew", fingerprint="SHA256:new"),
        source=HostKey.Source.CONNECTION,
        state=HostKey.State.PENDING,
    )

    approved = hostkeys.host_key_approve(host_key=new, actor=ADMIN)

    assert approved.state == HostKey.State.TRUSTED
    assert approved.decided_by_id == uuid.UUID(ADMIN.id)
    assert approved.decided_by_name == "alice" and approved.decided_at is not None
    old.refresh_from_db()
    other_type.refresh_from_db()
    assert old.state == HostKey.State.REJECTED and old.decided_by_name == "alice"
    assert other_type.state == HostKey.State.TRUSTED  # another algorithm: untouched
    [event] = events("targets.host_key.approved")
    assert event.payload["fingerprint"] == "SHA256:new"
    assert event.payload["replaced"] == [old.fingerprint]

    hostkeys.host_key_approve(host_key=approved, actor=ADMIN)  # nothing to change
    assert len(events("targets.host_key.approved")) == 1


@pytest.mark.django_db(databases=[DB])
def test_reject_keeps_the_key_on_record(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    key = HostKey.objects.using(DB).get()

    rejected = hostkeys.host_key_reject(host_key=key, actor=SYSTEM)

    assert rejected.state == HostKey.State.REJECTED
    assert rejected.decided_by_id is None and rejected.decided_by_name == "system"
    [event] = events("targets.host_key.rejected")
    assert event.payload["host_key_id"] == str(key.id)
    # The host still presents the rejected key: refused before logging in, and said so.
    from apps.targets.services import health

    check = health.target_check_health(target_id=target.id)
    assert check.status == "host_key_mismatch"
    assert "was rejected by an admin" in check.message
    assert "[preauth]" in server.wait_for_connections(1)
    assert server.auth_attempts() == []


@pytest.mark.django_db(databases=[DB])
def test_a_sighting_never_lowers_trust(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server)
    method = method_of(target)
    trusted = HostKey.objects.using(DB).get()
    seen = SeenHostKey(trusted.algorithm, trusted.public_key, trusted.fingerprint)

    again = hostkeys.host_key_record_seen(
        method=method, key=seen, source=HostKey.Source.CONNECTION, state=HostKey.State.PENDING
    )
    assert again.pk == trusted.pk and again.state == HostKey.State.TRUSTED

    hostkeys.host_key_reject(host_key=trusted, actor=ADMIN)
    later = hostkeys.host_key_record_seen(
        method=method, key=seen, source=HostKey.Source.FIRST_USE, state=HostKey.State.TRUSTED
    )
    assert later.state == HostKey.State.REJECTED


@pytest.mark.django_db(databases=[DB])
def test_an_admin_can_add_a_key_as_in_known_hosts(sshd_factory):
    server = sshd_factory()
    target = ssh_target(server, trusted=False)

    key = hostkeys.host_key_add(
        method=method_of(target),
        line=f"[127.0.0.1]:{server.port} {server.host_public_key}",
        actor=ADMIN,
    )

    assert (key.state, key.source) == (HostKey.State.TRUSTED, HostKey.Source.MANUAL)
    assert key.public_key == server.host_key_base64
    from apps.targets.services import health

    assert health.target_check_health(target_id=target.id).status == "healthy"


@pytest.mark.parametrize("line", ["", "ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-rsa AAAA"])
@pytest.mark.django_db(databases=[DB])
def test_an_unreadable_key_line_is_a_validation_error(line):
    target = ssh_target()

    with pytest.raises(ValidationError) as info:
        hostkeys.host_key_add(method=method_of(target), line=line, actor=ADMIN)
    assert "key" in info.value.message_dict
    assert not HostKey.objects.using(DB).exists()
