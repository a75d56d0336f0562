"""Helpers the settings module uses to build configuration from the environment.

Kept free of Django imports so ``config.settings`` can call them before Django is set up.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

# Every bounded context and the database alias it lives on. ``accounts`` shares ``default`` with
# Django's own auth/contenttypes/admin/sessions tables; every other app has an alias of its own.
APP_ALIASES: dict[str, str] = {
    "accounts": "default",
    "targets": "targets",
    "jobs": "jobs",
    "execution": "execution",
    "scheduling": "scheduling",
    "audit": "audit",
}

# The environment variable that may point an alias at a database of its own.
ALIAS_ENV_VARS: dict[str, str] = {
    "default": "DATABASE_URL",
    **{
        alias: f"{alias.upper()}_DATABASE_URL"
        for alias in APP_ALIASES.values()
        if alias != "default"
    },
}


class ConfigurationError(RuntimeError):
    """The process refuses to start: a required setting is missing or unsafe."""


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at ``path``, generating it (mode 0600) on first use.

    Used only by the embedded default; production reads every secret from the environment.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def new_django_secret() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def is_fernet_key(value: str) -> bool:
    """Whether ``value`` is 32 bytes in url-safe base64, as Fernet wants (never echo it)."""
    try:
        return len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):
        return False


def store_identity(settings_dict: dict) -> str:
    """A string naming the physical database an alias points at (credentials left out).

    Aliases with the same identity share one database; the router uses this to create an app's
    tables once per physical database (see docs/adr/0003-database-per-app-aliases.md).
    """
    return "|".join(str(settings_dict.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


# --- Database connection budget (docs/deploy.md, "Database connections") ---------------------

# The processes the image runs (deploy/entrypoint.sh), told apart by their command line.
PROCESS_ROLES = ("web", "streams", "worker", "beat", "migrate", "other")


def process_role(argv: Sequence[str]) -> str:
    """What this process is: ``web`` (gunicorn, runserver), ``streams`` (an ASGI server: the
    live-stream process), ``worker`` and ``beat`` (Celery), ``migrate`` (``manage.py
    migrate``/``migrate_all``), else ``other`` (shells, one-off commands, the test suite). Only
    defaults depend on it (the connection budget)."""
    if not argv:
        return "other"
    program = Path(argv[0])
    # ``python -m gunicorn`` / ``python -m celery`` run the package's __main__.py
    name = program.parent.name if program.name == "__main__.py" else program.name
    args = list(argv[1:])
    if name.startswith("gunicorn"):
        return "web"
    if name.startswith(("uvicorn", "daphne", "hypercorn")):
        return "streams"
    if name.startswith("celery"):
        return next((word for word in args if word in {"worker", "beat"}), "other")
    if name in {"manage.py", "django-admin"}:
        command = next((word for word in args if not word.startswith("-")), "")
        if command in {"migrate", "migrate_all"}:
            return "migrate"
        if command == "runserver":
            return "web"
    return "other"


def parse_alias_sizes(value: str, aliases: Iterable[str], *, variable: str) -> dict[str, int]:
    """``"default=4,execution=6"`` -> ``{"default": 4, "execution": 6}`` (aliases checked)."""
    known = set(aliases)
    sizes: dict[str, int] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        alias, sep, number = (piece.strip() for piece in item.partition("="))
        if not sep or alias not in known or not number.isdigit():
            raise ConfigurationError(
                f"{variable}: expected alias=size pairs with aliases among {sorted(known)}, "
                f"got {item!r}"
            )
        sizes[alias] = int(number)
    return sizes
