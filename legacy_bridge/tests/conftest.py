from __future__ import annotations

import pytest

from legacy_bridge import breaker, routing
from legacy_bridge.tests.backend import LegacyBackend

LEGACY_SECRET = "legacy-jwt-secret-of-the-bridge-tests"


@pytest.fixture(autouse=True)
def _bridge_settings(settings):
    """Counts written per request (no background flusher in tests), fresh breakers and route
    cache, the legacy JWT secret set (no legacy Redis unless a test sets one), and sign-in
    throttling counts of earlier tests forgotten."""
    from django.core.cache import caches

    settings.LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS = 0
    settings.LEGACY_JWT_SECRET_KEY = LEGACY_SECRET
    settings.LEGACY_REDIS_URL = ""
    if "LocMemCache" in type(caches["default"]).__name__:  # never a shared Redis
        caches["default"].clear()
    breaker.reset_breakers()
    routing.forget_cached_table()
    yield
    breaker.reset_breakers()
    routing.forget_cached_table()


@pytest.fixture
def legacy(settings):
    """A real legacy backend on loopback, and the bridge pointed at it."""
    server = LegacyBackend().start()
    settings.LEGACY_BACKEND_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def api(db):
    from rest_framework.test import APIClient

    from apps.accounts.factories import UserFactory

    def client_for(**traits):
        client = APIClient()
        client.force_authenticate(UserFactory(**traits))
        return client

    return client_for
