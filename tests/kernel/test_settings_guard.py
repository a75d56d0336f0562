"""Production refuses to start on the embedded defaults or without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "OPSCONDUCTOR_ENV": "production",
    "SECRET_KEY": "x" * 60,
    "JWT_SIGNING_KEY": "y" * 60,
    "OPSCONDUCTOR_SEAL_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://opsconductor@127.0.0.1:5432/opsconductor",
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "ALLOWED_HOSTS": "ops.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def load_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    for name in ("CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "JWT_SIGNING_KEY"):
        clean.pop(name, None)
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_production_starts_with_everything_given(tmp_path):
    result = load_settings({**PRODUCTION_ENV, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set in production"),
        ("OPSCONDUCTOR_SEAL_KEYS", "OPSCONDUCTOR_SEAL_KEYS must be set in production"),
        ("JWT_SIGNING_KEY", "JWT_SIGNING_KEY must be set in production"),
        ("DATABASE_URL", "DATABASE_URL must be set in production"),
        ("CELERY_BROKER_URL", "CELERY_BROKER_URL must be set in production"),
        ("REDIS_URL", "REDIS_URL must be set in production"),
    ],
)
def test_production_refuses_to_start_without(missing, message, tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = load_settings({**env, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "keys").exists()  # nothing generated behind the operator's back


def test_production_refuses_sqlite(tmp_path):
    env = {**PRODUCTION_ENV, "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path}/a.sqlite3"}
    result = load_settings({**env, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "AUDIT_DATABASE_URL: SQLite is the embedded default only" in result.stderr


def test_development_generates_its_keys_once(tmp_path):
    env = {"OPSCONDUCTOR_ENV": "development", "OPSCONDUCTOR_VAR_DIR": str(tmp_path)}
    assert load_settings(env).returncode == 0
    keys = {p.name: p.read_text() for p in (tmp_path / "keys").iterdir()}
    assert set(keys) == {"secret_key", "jwt_signing_key", "opsconductor_seal_keys"}
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in (tmp_path / "keys").iterdir())
    assert load_settings(env).returncode == 0
    assert {p.name: p.read_text() for p in (tmp_path / "keys").iterdir()} == keys


def test_a_malformed_trusted_proxy_is_named(tmp_path):
    env = {**PRODUCTION_ENV, "TRUSTED_PROXIES": "10.0.0.5,gateway.internal"}
    result = load_settings({**env, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert (
        "TRUSTED_PROXIES: 'gateway.internal' does not appear to be an IPv4 or IPv6" in result.stderr
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPSCONDUCTOR_SEAL_KEYS": ","}, "OPSCONDUCTOR_SEAL_KEYS must be a comma-separated list"),
        ({"OPSCONDUCTOR_SEAL_KEYS": "short-and-secret"}, "malformed: key number(s) [1]"),
        ({"JWT_SIGNING_KEY": "x" * 60}, "JWT_SIGNING_KEY must differ from SECRET_KEY"),
    ],
)
def test_unsafe_keys_are_refused_without_echoing_them(env, message, tmp_path):
    result = load_settings({**PRODUCTION_ENV, **env, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert message in result.stderr
    assert "short-and-secret" not in result.stderr
