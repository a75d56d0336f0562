from __future__ import annotations

import pytest
from celery import current_app

from tests.fixtures import require_service

pytestmark = pytest.mark.django_db(databases="__all__")


def test_healthz_answers_without_auth(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


def test_readyz_checks_every_database_alias_and_the_broker(client, rabbitmq, settings):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert {f"database:{alias}" for alias in settings.DATABASES} <= set(checks)
    assert set(checks.values()) == {"ok"}
    assert "broker" in checks


def test_readyz_names_a_broker_that_is_down(client, monkeypatch):
    dead = "amqp://guest:guest@127.0.0.1:1//"
    monkeypatch.setattr(current_app.conf, "broker_url", dead)
    monkeypatch.setattr(current_app.conf, "broker_write_url", dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert "guest" not in response.content.decode()  # no connection string leaks


def test_readyz_checks_redis_when_it_is_the_cache(client, settings):
    require_service("Redis", "127.0.0.1", 6379)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["cache"] == "ok"

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/15",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


def test_request_id_is_kept_when_given_and_generated_otherwise(client):
    given = "req-1234567890abcdef"
    assert client.get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given
    for bad in ("bad id", "abcdefgh\n", "x" * 200, "abc"):
        response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
        assert response.status_code == 200
        assert response["X-Request-ID"] != bad and len(response["X-Request-ID"]) == 32
