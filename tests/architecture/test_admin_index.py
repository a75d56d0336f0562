"""The Django admin shows only what is OpsConductor's to edit, each under a plural that reads
right.

Third-party models stay out of it: django-celery-beat's periodic tasks are the clock's own
bookkeeping (ADR 0010; a task added there would run outside the scheduler's rules), simplejwt's
token blacklist is written by sign-out and password changes (editing it would revive or end
sessions unaudited), Django's groups have no effect (roles decide).
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from apps.accounts.factories import UserFactory
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db(databases="__all__")

# The packages whose models are ours; every model in the admin comes from one of them.
OURS = ("apps.", "legacy_bridge")
FOREIGN = ("django_celery_beat", "token_blacklist", "auth")


def english_plural(noun: str) -> str:
    """The regular English plural of the last word of ``noun`` (enough for model names)."""
    head, _, word = noun.rpartition(" ")
    if re.search(r"[^aeiou]y$", word):
        word = word[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", word):
        word += "es"
    else:
        word += "s"
    return f"{head} {word}".strip()


@pytest.fixture
def index():
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN))
    response = client.get("/admin/")
    assert response.status_code == 200
    return client, response


def test_the_admin_index_lists_only_our_models(index):
    _, response = index
    listed = {
        (app["app_label"], model["object_name"])
        for app in response.context["app_list"]
        for model in app["models"]
    }
    registered = {(m._meta.app_label, m._meta.object_name) for m in admin.site._registry}
    assert listed == registered  # an admin sees everything registered
    for label, name in sorted(listed):
        package = apps.get_app_config(label).name
        assert package.startswith(OURS), f"{label}.{name} ({package}) is not ours to edit"
    assert not {label for label, _ in listed} & set(FOREIGN)
    page = response.content.decode()
    assert "Periodic tasks" not in page and "Blacklisted" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/admin/django_celery_beat/periodictask/add/",
        "/admin/django_celery_beat/crontabschedule/",
        "/admin/token_blacklist/outstandingtoken/",
        "/admin/token_blacklist/blacklistedtoken/",
        "/admin/auth/group/",
    ],
)
def test_foreign_models_have_no_admin_pages(index, path):
    client, _ = index
    assert client.get(path).status_code == 404


def test_every_model_in_the_admin_has_a_plural_that_reads_right(index):
    _, response = index
    page = response.content.decode()
    for model in admin.site._registry:
        singular = str(model._meta.verbose_name)
        plural = str(model._meta.verbose_name_plural)
        assert plural == english_plural(singular), f"{model._meta.label}: {plural!r}"
        assert plural[:1].upper() + plural[1:] in page, plural  # the index shows it as such
    assert "Notification deliveries" in page
    assert "deliverys" not in page


def test_the_plural_rule_itself():
    assert english_plural("notification delivery") == "notification deliveries"
    assert english_plural("API token") == "API tokens"
    assert english_plural("traffic bucket") == "traffic buckets"
    assert english_plural("key") == "keys"
    assert english_plural("match") == "matches"
