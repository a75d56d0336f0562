"""Production refuses to start on the embedded defaults or without its secrets."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "OPSCONDUCTOR_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    "OPSCONDUCTOR_SEAL_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://opsconductor@127.0.0.1:5432/opsconductor",
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "ALLOWED_HOSTS": "ops.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def load_settings(env: dict, *command: str) -> subprocess.CompletedProcess:
    """Start a Python process with ``env`` (and nothing of this process's configuration) that
    loads the settings, or runs ``manage.py <command>`` when one is given."""
    clean = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    for name in ("CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "JWT_SIGNING_KEY"):
        clean.pop(name, None)
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    argv = ["manage.py", *command] if command else ["-c", "import django; django.setup()"]
    return subprocess.run(
        [sys.executable, *argv],
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
        (
            {"JWT_SIGNING_KEY": PRODUCTION_ENV["SECRET_KEY"]},
            "JWT_SIGNING_KEY must differ from SECRET_KEY",
        ),
        ({"SECRET_KEY": "short-and-secret"}, "SECRET_KEY is too weak for production"),
        ({"SECRET_KEY": "ab" * 30}, "SECRET_KEY is too weak for production"),
    ],
)
def test_unsafe_keys_are_refused_without_echoing_them(env, message, tmp_path):
    result = load_settings({**PRODUCTION_ENV, **env, "OPSCONDUCTOR_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert message in result.stderr
    assert "short-and-secret" not in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    """``manage.py check --deploy`` (HSTS, secure cookies, SSL redirect, secret strength, DEBUG,
    and every app's own checks) finds nothing with the environment docs/deploy.md gives."""
    env = {
        **PRODUCTION_ENV,
        "OPSCONDUCTOR_VAR_DIR": str(tmp_path),
        "CSRF_TRUSTED_ORIGINS": "https://ops.example.com",
        "TRUSTED_PROXIES": "10.0.0.5",
    }
    result = load_settings(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_the_deploy_check_is_not_toothless(tmp_path):
    """The same check fails when production's safeguards are turned off (so the test above
    would notice a setting that weakens them)."""
    env = {
        **PRODUCTION_ENV,
        "OPSCONDUCTOR_VAR_DIR": str(tmp_path),
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
    }
    result = load_settings(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stderr and "security.W004" in result.stderr


def test_production_refuses_debug(tmp_path):
    env = {**PRODUCTION_ENV, "DEBUG": "true", "OPSCONDUCTOR_VAR_DIR": str(tmp_path)}
    result = load_settings(env)
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr
