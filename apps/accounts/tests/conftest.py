from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.accounts.factories import DEFAULT_PASSWORD, UserFactory
from opsconductor.roles import Role


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login throttling lives in the cache: no test may inherit another's failures."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def admin(db):
    return UserFactory(username="root", role=Role.ADMIN)


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera", role=Role.VIEWER)


@pytest.fixture
def as_user():
    """An API client authenticated (without a JWT round trip) as the given user."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def login(api):
    """Sign in through the real endpoint; returns the response."""

    def do(username, password=DEFAULT_PASSWORD, **extra):
        return api.post(
            "/api/v1/auth/token/", {"username": username, "password": password}, **extra
        )

    return do


@pytest.fixture
def bearer():
    def make(access):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make
