"""API tokens: created once-visible, stored hashed, accepted as ``Authorization: Token``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.factories import ApiTokenFactory, UserFactory
from apps.accounts.models import ApiToken
from apps.accounts.tests.helpers import assert_error, assert_no_secret, events

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens/"
ME = "/api/v1/me/"


def token_client(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {value}")
    return client


def test_created_token_is_shown_once_and_works(as_user, viewer):
    client = as_user(viewer)

    response = client.post(TOKENS, {"name": "ci deploy"})

    assert response.status_code == 201
    body = response.json()
    value = body["token"]
    assert value.startswith(f"oct_{body['prefix']}_")
    assert body["name"] == "ci deploy"
    assert body["user"] == str(viewer.pk)
    assert body["revoked_at"] is None
    assert body["expires_at"] is None
    assert body["is_active"] is True
    assert "digest" not in body

    me = token_client(value).get(ME)
    assert me.status_code == 200
    assert me.json()["username"] == "vera"

    # Never again: not in the list, not in the detail.
    listed = client.get(TOKENS)
    detail = client.get(f"{TOKENS}{body['id']}/")
    for response in (listed, detail):
        assert response.status_code == 200
        assert value not in response.content.decode()
        assert "token" not in (detail.json())
    assert listed.json()["results"][0]["id"] == body["id"]


def test_only_a_digest_of_the_secret_is_stored(as_user, viewer):
    value = as_user(viewer).post(TOKENS, {"name": "ci"}).json()["token"]
    secret = value.split("_", 2)[2]

    row = ApiToken.objects.get()
    stored = " ".join(str(getattr(row, f.attname)) for f in ApiToken._meta.concrete_fields)
    assert secret not in stored
    assert len(row.digest) == 64


def test_token_creation_and_revocation_are_published_without_the_secret(as_user, viewer):
    client = as_user(viewer)
    body = client.post(TOKENS, {"name": "ci"}).json()
    secret = body["token"].split("_", 2)[2]

    client.delete(f"{TOKENS}{body['id']}/")

    [created] = events("accounts.token.created")
    [revoked] = events("accounts.token.revoked")
    for event in (created, revoked):
        assert event.payload["token_id"] == body["id"]
        assert event.payload["user_id"] == str(viewer.pk)
        assert event.payload["name"] == "ci"
        assert event.payload["prefix"] == body["prefix"]
        assert_no_secret(event, secret, body["token"])
        assert "digest" not in event.payload


def test_revoked_token_is_refused(as_user, viewer):
    client = as_user(viewer)
    body = client.post(TOKENS, {"name": "ci"}).json()

    response = client.delete(f"{TOKENS}{body['id']}/")

    assert response.status_code == 204
    assert_error(token_client(body["token"]).get(ME), 401)
    shown = client.get(f"{TOKENS}{body['id']}/").json()
    assert shown["revoked_at"] is not None
    assert shown["is_active"] is False


def test_revoking_twice_answers_204_and_publishes_once(as_user, viewer):
    client = as_user(viewer)
    body = client.post(TOKENS, {"name": "ci"}).json()

    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 204
    first_revoked_at = ApiToken.objects.get().revoked_at
    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 204

    assert ApiToken.objects.get().revoked_at == first_revoked_at
    assert len(events("accounts.token.revoked")) == 1


def test_expired_token_is_refused(viewer):
    token = ApiTokenFactory(user=viewer, expires_at=timezone.now() - timedelta(seconds=1))

    assert_error(token_client(token.value).get(ME), 401)


def test_token_with_a_future_expiry_works_until_then(as_user, viewer):
    expires = timezone.now() + timedelta(days=30)
    body = as_user(viewer).post(TOKENS, {"name": "ci", "expires_at": expires.isoformat()}).json()

    assert body["expires_at"] is not None
    assert token_client(body["token"]).get(ME).status_code == 200


def test_expiry_in_the_past_is_rejected(as_user, viewer):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()

    assert_error(
        as_user(viewer).post(TOKENS, {"name": "ci", "expires_at": past}), 400, field="expires_at"
    )
    assert not ApiToken.objects.exists()


def test_name_is_required_and_unique_among_active_tokens(as_user, viewer):
    client = as_user(viewer)
    assert_error(client.post(TOKENS, {}), 400, field="name")
    assert_error(client.post(TOKENS, {"name": "   "}), 400, field="name")
    first = client.post(TOKENS, {"name": "ci"}).json()

    assert_error(client.post(TOKENS, {"name": "ci"}), 400, field="name")

    client.delete(f"{TOKENS}{first['id']}/")
    assert client.post(TOKENS, {"name": "ci"}).status_code == 201


def test_wrong_or_malformed_token_is_refused(viewer):
    token = ApiTokenFactory(user=viewer)
    prefix = token.prefix

    for header in (
        f"Token oct_{prefix}_wrong-secret",
        "Token oct_nope_nope",
        "Token garbage",
        "Token",
        f"Token {token.value} extra",
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert_error(client.get(ME), 401)


def test_token_of_a_deactivated_user_is_refused(viewer):
    token = ApiTokenFactory(user=viewer)
    viewer.is_active = False
    viewer.save()

    assert_error(token_client(token.value).get(ME), 401)


def test_use_is_recorded(viewer):
    token = ApiTokenFactory(user=viewer)
    assert token.last_used_at is None

    token_client(token.value).get(ME)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_acts_with_its_users_role(viewer, admin):
    viewer_token = ApiTokenFactory(user=viewer)
    admin_token = ApiTokenFactory(user=admin)

    assert_error(token_client(viewer_token.value).get("/api/v1/users/"), 403)
    assert token_client(admin_token.value).get("/api/v1/users/").status_code == 200


def test_a_token_cannot_create_tokens(viewer):
    token = ApiTokenFactory(user=viewer)

    assert_error(token_client(token.value).post(TOKENS, {"name": "more"}), 403)
    assert ApiToken.objects.count() == 1


def test_a_token_can_revoke_itself(viewer):
    token = ApiTokenFactory(user=viewer)
    client = token_client(token.value)

    assert client.delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert_error(client.get(ME), 401)
    [event] = events("accounts.token.revoked")
    assert event.actor["kind"] == "token"
    assert event.actor["id"] == str(token.pk)


def test_users_see_and_revoke_only_their_own_tokens(as_user, viewer):
    other = UserFactory(username="olga")
    mine = ApiTokenFactory(user=viewer)
    theirs = ApiTokenFactory(user=other)
    client = as_user(viewer)

    listed = client.get(TOKENS).json()
    assert [t["id"] for t in listed["results"]] == [str(mine.pk)]
    assert_error(client.get(f"{TOKENS}{theirs.pk}/"), 404)
    assert_error(client.delete(f"{TOKENS}{theirs.pk}/"), 404)
    assert_error(client.get(TOKENS, {"user": str(other.pk)}), 403)
    assert client.get(TOKENS, {"user": str(viewer.pk)}).status_code == 200
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_admins_see_every_token_and_may_filter_by_user(as_user, admin, viewer):
    other = UserFactory(username="olga")
    ApiTokenFactory(user=viewer)
    theirs = ApiTokenFactory(user=other)
    ApiTokenFactory(user=admin)
    client = as_user(admin)

    assert client.get(TOKENS).json()["count"] == 3
    filtered = client.get(TOKENS, {"user": str(other.pk)}).json()
    assert [t["id"] for t in filtered["results"]] == [str(theirs.pk)]
    assert filtered["results"][0]["username"] == "olga"
    assert_error(client.get(TOKENS, {"user": "not-a-uuid"}), 400, field="user")

    assert client.delete(f"{TOKENS}{theirs.pk}/").status_code == 204
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None


def test_active_filter(as_user, viewer):
    usable = ApiTokenFactory(user=viewer)
    ApiTokenFactory(user=viewer, revoked_at=timezone.now())
    ApiTokenFactory(user=viewer, expires_at=timezone.now() - timedelta(days=1))
    client = as_user(viewer)

    active = client.get(TOKENS, {"active": "true"}).json()
    inactive = client.get(TOKENS, {"active": "false"}).json()

    assert [t["id"] for t in active["results"]] == [str(usable.pk)]
    assert inactive["count"] == 2


def test_anonymous_gets_401(api):
    assert_error(api.get(TOKENS), 401)
    assert_error(api.post(TOKENS, {"name": "x"}), 401)


def test_tokens_cannot_be_edited(as_user, viewer):
    token = ApiTokenFactory(user=viewer)

    assert_error(as_user(viewer).patch(f"{TOKENS}{token.pk}/", {"name": "new"}), 405)
