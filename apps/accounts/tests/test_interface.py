"""What other apps see of accounts."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from rest_framework.test import APIRequestFactory

from apps.accounts import interface
from apps.accounts.factories import ApiTokenFactory, UserFactory
from opsconductor.roles import Role

pytestmark = pytest.mark.django_db


def test_user_summary():
    user = UserFactory(username="ann", first_name="Ann", last_name="Lee", role=Role.MANAGER)

    summary = interface.user_summary(user.pk)

    assert summary == interface.UserSummary(
        id=user.pk,
        username="ann",
        display_name="Ann Lee",
        email="ann@example.com",
        role="manager",
        is_auditor=False,
        is_active=True,
    )
    assert interface.user_summary(str(user.pk)) == summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.role = "admin"


def test_user_summary_of_nobody_is_none():
    assert interface.user_summary(uuid.uuid4()) is None
    assert interface.user_summary("not-a-uuid") is None


def test_user_summaries_in_bulk(django_assert_num_queries):
    a, b = UserFactory(username="a", first_name="", last_name=""), UserFactory(username="b")

    with django_assert_num_queries(1):
        found = interface.user_summaries([a.pk, str(b.pk), uuid.uuid4(), "junk"])

    assert set(found) == {a.pk, b.pk}
    assert found[a.pk].display_name == "a"


def test_actor_for_request():
    user = UserFactory(username="ann")
    token = ApiTokenFactory(user=user, name="ci")
    request = APIRequestFactory().get("/")

    request.user, request.auth = user, None
    assert interface.actor_for_request(request).as_dict() == {
        "kind": "user",
        "id": str(user.pk),
        "name": "ann",
    }
    request.auth = token
    assert interface.actor_for_request(request).as_dict() == {
        "kind": "token",
        "id": str(token.pk),
        "name": "ann via ci",
    }
    anonymous = APIRequestFactory().get("/")
    assert interface.actor_for_request(anonymous).kind == "anonymous"
