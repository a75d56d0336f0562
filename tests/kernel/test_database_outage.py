"""The API while its database is down: 503 with Retry-After in the error shape, never a 500 or
the connection string; /readyz names the databases; afterwards it recovers by itself.

The outage is real, on this test's own database only: every backend is terminated from the
server side and new connections are refused (``ALLOW_CONNECTIONS false``), as a PostgreSQL
restart does to its clients (``tests.db_outage``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.test import APIClient

from tests.db_outage import database_outage

pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True, databases="__all__")]


def plain_view(request):
    """A plain Django view (not DRF) that reads the database."""
    return HttpResponse(str(get_user_model().objects.count()))


urlpatterns = [path("plain-db/", plain_view), path("", include("config.urls"))]
handler500 = "opsconductor.api.errors.handler500"  # the product's, as config.urls names it


@pytest.fixture
def reused_connections():
    """Production's connection reuse in this process: its pools (the suite runs with them; a
    connection killed by the outage waits in the pool for the next request), or, for an alias
    without a pool (``DATABASE_POOL_MAX_SIZE=0``), a persistent connection per thread, reused
    unless something checks it."""
    saved = {alias: connections[alias].settings_dict["CONN_MAX_AGE"] for alias in connections}
    for alias in connections:
        if connections[alias].pool is None:
            connections[alias].settings_dict["CONN_MAX_AGE"] = 600
    connections.close_all()
    yield
    for alias, value in saved.items():
        connections[alias].settings_dict["CONN_MAX_AGE"] = value
    connections.close_all()


@pytest.fixture
def token_client(django_user_model):
    user = django_user_model.objects.create_user(username="outage", password="x", role="admin")
    admin = APIClient()
    admin.force_authenticate(user)
    response = admin.post("/api/v1/tokens/", {"name": "outage"}, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def assert_unavailable(response, secrets):
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "database" in error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text


@pytest.mark.urls(__name__)
def test_the_api_answers_503_during_an_outage_and_recovers_by_itself(
    token_client, reused_connections, client, live_server
):
    db = connection.settings_dict
    secrets = [db["NAME"], db.get("HOST") or "127.0.0.1", "postgres://", "5432", "connection"]
    # warm: every alias has a connection that the outage will kill
    assert token_client.get("/api/v1/jobs/").status_code == 200
    assert client.get("/plain-db/").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # the broker is not this test's

    with database_outage(db["NAME"]):
        # DRF: the token's lookup, on a dead connection, then a refused one
        assert_unavailable(token_client.get("/api/v1/jobs/"), secrets)
        assert_unavailable(token_client.get("/api/v1/jobs/"), secrets)
        assert_unavailable(token_client.post("/api/v1/jobs/", {"name": "x"}, format="json"),
                           secrets)  # fmt: skip
        # a plain Django view
        assert_unavailable(client.get("/plain-db/"), secrets)
        # readiness names every database alias, and no connection string
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert {f"database:{alias}" for alias in connections} <= set(ready.json()["down"])
        for secret in secrets[:4]:
            assert secret not in ready.content.decode()

    # back: the next requests work, nothing restarted or reset by hand. Through a real WSGI
    # handler (the live server): the test client skips Django's checks between requests
    # (request_started/finished -> close_old_connections), which are what recovers.
    token = token_client._credentials["HTTP_AUTHORIZATION"]
    assert _get(live_server, "/api/v1/jobs/", token)[0] == 200
    assert _get(live_server, "/plain-db/")[0] == 200
    _, ready = _get(live_server, "/readyz")
    assert all(ready["checks"][f"database:{alias}"] == "ok" for alias in connections), ready


def _get(live_server, url: str, token: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(live_server.url + url)
    if token:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


class TouchesTheDatabase:
    """A middleware that reads the database before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return self.get_response(request)


@pytest.mark.urls(__name__)
def test_a_lost_connection_in_a_middleware_is_a_503_too(reused_connections, settings, client):
    """Raised outside any view, it reaches Django's handler500 (config/urls.py): 503 as well."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.TouchesTheDatabase"]
    assert client.get("/healthz").status_code == 200
    client.raise_request_exception = False
    with database_outage(connection.settings_dict["NAME"]):
        response = client.get("/healthz")
    assert_unavailable(response, [connection.settings_dict["NAME"], "postgres://"])
    assert client.get("/healthz").status_code == 200
