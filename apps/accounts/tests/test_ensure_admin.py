"""manage.py ensure_admin: prints a generated password once, then never again."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.factories import UserFactory
from apps.accounts.models import User
from apps.accounts.tests.helpers import assert_no_secret, events
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def test_creates_an_admin_and_prints_the_password_once(login):
    output = run()

    username = re.search(r"^username: (\S+)$", output, re.M).group(1)
    password = re.search(r"^password: (\S+)$", output, re.M).group(1)
    assert username == "admin"
    assert len(password) >= 20
    user = User.objects.get(username="admin")
    assert user.role == Role.ADMIN and user.is_active and user.is_superuser
    assert login("admin", password).status_code == 200
    [event] = events("accounts.user.created")
    assert event.actor["kind"] == "system"
    assert_no_secret(event, password)

    again = run()

    assert "already exists" in again
    assert password not in again
    assert "password" not in again.lower()
    assert User.objects.count() == 1
    assert len(events("accounts.user.created")) == 1


def test_respects_username_and_email():
    output = run("--username", "ops-admin", "--email", "ops@example.com")

    assert "username: ops-admin" in output
    assert User.objects.get(username="ops-admin").email == "ops@example.com"


def test_does_nothing_when_an_admin_exists():
    UserFactory(username="root", role=Role.ADMIN)

    output = run()

    assert output.strip() == "An active admin user already exists; nothing to do."
    assert not User.objects.filter(username="admin").exists()


def test_an_inactive_admin_does_not_count():
    UserFactory(username="root", role=Role.ADMIN, is_active=False)

    assert "username: admin" in run()


def test_refuses_to_take_over_an_existing_non_admin():
    UserFactory(username="admin", role=Role.VIEWER)

    with pytest.raises(CommandError, match="--username"):
        run()
    assert User.objects.get(username="admin").role == Role.VIEWER
