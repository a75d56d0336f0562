"""Reading the legacy backend's database, and opening its sealed credentials.

The database is read through psycopg 3 in ONE read-only, repeatable-read transaction (a
consistent snapshot, and no way to write by mistake), and big tables are streamed through
server-side cursors, a batch of rows at a time.

Legacy credentials (LEGACY.md): the legacy SECRET_KEY is UTF-8 encoded, cut to its first 32
bytes and right-padded with the byte ``0`` (0x30) to 32 bytes; the url-safe base64 of those
bytes is a Fernet key. The stored text is url-safe base64 of the Fernet token, whose plaintext
is JSON.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterator
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken
from psycopg.rows import dict_row

STREAM_BATCH = 2000


class LegacyUnavailable(Exception):
    """The legacy database cannot be reached or read (the message names no password)."""


class LegacyCredentialError(Exception):
    """A legacy credential cannot be opened. The message says why without any secret."""


def legacy_fernet(secret_key: str) -> Fernet:
    """The Fernet the legacy backend sealed credentials with, from its SECRET_KEY."""
    raw = secret_key.encode("utf-8")[:32].ljust(32, b"0")
    return Fernet(base64.urlsafe_b64encode(raw))


def legacy_seal(data: dict, secret_key: str) -> str:
    """Seal ``data`` exactly as the legacy backend did (tests and the benchmark build legacy
    databases with it)."""
    token = legacy_fernet(secret_key).encrypt(json.dumps(data).encode())
    return base64.urlsafe_b64encode(token).decode("ascii")


def legacy_unseal(text: str | None, fernet: Fernet) -> dict[str, Any]:
    """The JSON inside a legacy ``encrypted_credentials`` value."""
    if not text:
        raise LegacyCredentialError("the credential is empty")
    try:
        token = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise LegacyCredentialError("the credential is not base64 text") from None
    try:
        plain = fernet.decrypt(token)
    except InvalidToken:
        raise LegacyCredentialError(
            "the credential cannot be decrypted with LEGACY_SECRET_KEY "
            "(wrong key, or the stored text is damaged)"
        ) from None
    try:
        data = json.loads(plain)
    except (ValueError, UnicodeDecodeError):
        raise LegacyCredentialError("the decrypted credential is not JSON") from None
    if not isinstance(data, dict):
        raise LegacyCredentialError("the decrypted credential is not a JSON object")
    return data


def _safe_reason(exc: Exception) -> str:
    """A connection error's message with the URL's password left out (libpq may quote the
    connection string)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class LegacyDatabase:
    """A read-only session on the legacy database. Use as a context manager."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: psycopg.Connection | None = None
        self._cursors = itertools.count(1)

    def __enter__(self) -> LegacyDatabase:
        try:
            self.connection = psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10)
        except psycopg.Error as exc:
            raise LegacyUnavailable(
                f"cannot connect to the legacy database: {_safe_reason(exc)}"
            ) from None
        self.connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.connection.read_only = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.connection is not None:
            self.connection.rollback()  # read only: nothing to keep
            self.connection.close()
            self.connection = None

    def has_table(self, table: str) -> bool:
        row = self.one("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
        return bool(row and row["present"])

    def one(self, sql: str, params: tuple = ()) -> dict[str, Any] | None:
        assert self.connection is not None
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def all(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        """Every row at once: only for small results (per-parent lookups, counts)."""
        assert self.connection is not None
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def count(self, table: str) -> int:
        row = self.one(f"SELECT count(*) AS n FROM {table}")  # noqa: S608 (fixed names only)
        return int(row["n"]) if row else 0

    def stream(self, sql: str, params: tuple = (), *, batch: int = STREAM_BATCH) -> Iterator[dict]:
        """Rows of ``sql`` through a server-side cursor, ``batch`` rows in memory at a time."""
        assert self.connection is not None
        name = f"legacy_import_{next(self._cursors)}"
        with self.connection.cursor(name=name) as cursor:
            cursor.itersize = batch
            cursor.execute(sql, params)
            yield from cursor

    def batches(self, sql: str, params: tuple = (), *, size: int = STREAM_BATCH):
        """Rows of ``sql`` in lists of at most ``size`` (server-side cursor)."""
        assert self.connection is not None
        name = f"legacy_import_{next(self._cursors)}"
        with self.connection.cursor(name=name) as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield rows
