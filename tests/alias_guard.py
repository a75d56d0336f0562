"""The database alias guard and the split pass's selection (docs/testing.md).

In single mode (``make test``) every alias points at one PostgreSQL database, so a query sent
through the wrong alias works by accident; in split mode (``make test-split``) it fails. The
guard makes it fail in single mode too: every statement any thread of the test process runs on
a Django connection is checked, and a statement on alias X that names a table of an app routed
to alias Y fails the test that was running (the kernel's outbox tables exist on every alias and
may be used through any). The guard watches the test's setup (its fixtures) and its body, not
its teardown (the test databases' flush and post-migrate handlers are infrastructure).

It also records, per test, what could make the test behave differently with a database per
alias: the aliases it used, the aliases it used the kernel's tables through (one shared table
in single mode, one per database in split mode), statements that see the whole database
(catalogs, advisory locks, LISTEN/NOTIFY, django_migrations) and reads of the layout itself
(``settings.DATABASES`` and ``DATABASE_STORES``). ``make test`` stores that record (pytest's cache) with a
fingerprint of the checkout; ``make test-split`` (``--alias-record=use``) then leaves out the
tests the record proves layout-independent and runs every other one: new tests, tests the
record does not know, and everything when there is no record or the checkout changed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CACHE_KEY = "opsconductor/alias-record"
RECORD_VERSION = 1
# Statements whose result depends on what else is in the physical database.
DATABASE_WIDE = re.compile(
    r"\b(pg_catalog|information_schema|pg_class|pg_namespace|pg_tables|pg_stat_\w+|pg_locks|"
    r"pg_database\w*|pg_(try_)?advisory\w*|pg_notify|listen|notify|unlisten|pg_terminate_backend|"
    r"pg_cancel_backend|django_migrations)\b",
    re.IGNORECASE,
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KERNEL = "*"  # owner of the tables present on every alias


@dataclass
class Record:
    nodeid: str
    aliases: set[str] = field(default_factory=set)
    database_wide: set[str] = field(default_factory=set)
    layout_read: str = ""  # where, when the test read it
    guard_off: bool = False
    violations: list[str] = field(default_factory=list)
    outcome: str = "passed"

    def needs_split(self) -> list[str]:
        """Why the split pass must run this test (empty: the record proves it need not)."""
        reasons = []
        if self.outcome != "passed":
            reasons.append(self.outcome)
        if len(self.aliases) > 1:
            reasons.append("aliases " + ",".join(sorted(self.aliases)))
        if self.database_wide:
            reasons.append("database-wide " + ",".join(sorted(self.database_wide)))
        if self.layout_read:
            reasons.append(f"reads the layout ({self.layout_read})")
        if self.guard_off:
            reasons.append("guard off")
        return reasons


_lock = threading.Lock()
_current: Record | None = None
_suspended = 0
_tables: dict[str, str] | None = None
_classified: dict[str, tuple[frozenset[str], bool, frozenset[str]]] = {}
_expecting: list[list[str]] = []
_records: dict[str, Record] = {}


def _table_owners() -> dict[str, str]:
    global _tables
    if _tables is None:
        from django.apps import apps

        from opsconductor.db.router import KERNEL_APP_LABEL, alias_for_app

        tables = {}
        for model in apps.get_models(include_auto_created=True):
            label = model._meta.app_label
            tables[model._meta.db_table.lower()] = (
                KERNEL if label == KERNEL_APP_LABEL else alias_for_app(label)
            )
        _tables = tables
    return _tables


def classify(sql: str) -> tuple[frozenset[str], bool, frozenset[str]]:
    """(aliases owning the app tables the statement names, names a kernel table, what of the
    whole database it looks at)."""
    known = _classified.get(sql)
    if known is None:
        owners = _table_owners()
        found = {owners[word] for word in set(IDENTIFIER.findall(sql.lower())) if word in owners}
        wide = frozenset(match.group(1).lower() for match in DATABASE_WIDE.finditer(sql))
        known = (frozenset(found - {KERNEL}), KERNEL in found, wide)
        if len(_classified) < 50_000:
            _classified[sql] = known
    return known


def check(alias: str, sql: str) -> None:
    """Note one statement on ``alias`` in the running test's record."""
    record = _current
    if record is None or _suspended:
        return
    if not isinstance(sql, str):
        sql = str(sql)
    owners, _kernel, wide = classify(sql)
    with _lock:
        record.aliases.add(alias)
        record.database_wide |= wide
        wrong = sorted(owner for owner in owners if owner != alias)
        if wrong:
            message = (
                f"query on alias {alias!r} names tables of alias {', '.join(map(repr, wrong))} "
                f"(it would fail with a database per alias): {sql[:400]}"
            )
            if _expecting:
                _expecting[-1].append(message)
            else:
                record.violations.append(message)


def _guard(execute, sql, params, many, context):
    check(context["connection"].alias, sql)
    return execute(sql, params, many, context)


def install(connection) -> None:
    # first in the list: Django's execute_wrapper() context manager pops the last one
    if _guard not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _guard)


def _on_connection_created(sender, connection, **kwargs):
    install(connection)


def _reader() -> str:
    """Where the layout is read from: the innermost frame of the project's code."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    for frame in reversed(traceback.extract_stack()[:-3]):
        if frame.filename.startswith(root) and "/.venv/" not in frame.filename:
            return f"{frame.filename[len(root) :]}:{frame.lineno}"
    return "?"


class _WatchedLayout(dict):
    """settings.DATABASES or DATABASE_STORES, noting in the running test's record that it was
    read (code and tests that look at the layout behave differently with it)."""

    def _read(self):
        record = _current
        if record is not None and not _suspended and not record.layout_read:
            record.layout_read = _reader()

    def __getitem__(self, key):
        self._read()
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read()
        return super().get(key, default)

    def __iter__(self):
        self._read()
        return super().__iter__()

    def __contains__(self, key):
        self._read()
        return super().__contains__(key)

    def items(self):
        self._read()
        return super().items()

    def values(self):
        self._read()
        return super().values()

    def keys(self):
        self._read()
        return super().keys()


@contextmanager
def suspended():
    """Infrastructure that works across aliases on purpose (creating the test databases)."""
    global _suspended
    _suspended += 1
    try:
        yield
    finally:
        _suspended -= 1


class AliasGuard:
    """The ``alias_guard`` fixture."""

    @contextmanager
    def expect_violation(self):
        """Collect the wrong-alias queries of the block instead of failing the test; yields
        their messages."""
        caught: list[str] = []
        _expecting.append(caught)
        try:
            yield caught
        finally:
            _expecting.remove(caught)

    @contextmanager
    def off(self):
        """Cross aliases on purpose (a test of migrations or of the layout). The test is then
        always run in split mode, where the real layout decides."""
        if _current is not None:
            _current.guard_off = True
        with suspended():
            yield


@pytest.fixture
def alias_guard():
    return AliasGuard()


def single_mode() -> bool:
    from django.conf import settings

    return len(set(settings.DATABASE_STORES.values())) == 1


def checkout_fingerprint(root: Path) -> str | None:
    """The commit, the uncommitted changes and the untracked files: a record is only used for
    the checkout it was made on."""

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", *args], cwd=root, check=True, capture_output=True, timeout=60
        ).stdout

    try:
        digest = hashlib.sha256()
        digest.update(git("rev-parse", "HEAD"))
        digest.update(git("diff", "HEAD", "--binary"))
        for name in sorted(git("ls-files", "-o", "--exclude-standard", "-z").split(b"\0")):
            if name:
                digest.update(name)
                path = root / name.decode()
                if path.is_file():
                    digest.update(path.read_bytes())
        return digest.hexdigest()
    except (OSError, subprocess.SubprocessError):
        return None


# --- pytest hooks ---------------------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        "--alias-record",
        choices=["write", "use", "off"],
        default="write",
        help="write (default): in single mode, record per test what could make it depend on "
        "the database layout; use: in split mode, leave out the tests the record of this "
        "checkout proves layout-independent; off: neither.",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "layout: the test is about the database layout itself; make test-split always runs it",
    )


def pytest_sessionstart(session):
    from django.conf import settings
    from django.db import connections
    from django.db.backends.signals import connection_created

    settings.DATABASE_STORES = _WatchedLayout(settings.DATABASE_STORES)
    settings.DATABASES = _WatchedLayout(settings.DATABASES)
    connection_created.connect(_on_connection_created, dispatch_uid="opsconductor-alias-guard")
    for connection in connections.all():
        install(connection)
    session.config._alias_fingerprint = None
    if session.config.getoption("--alias-record") == "write" and single_mode():
        session.config._alias_fingerprint = checkout_fingerprint(Path(str(session.config.rootpath)))


def pytest_collection_modifyitems(session, config, items):
    if config.getoption("--alias-record") != "use":
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(text: str) -> None:
        if reporter is not None:
            reporter.write_line(f"split selection: {text}")

    if single_mode():
        say("every alias is on one database here: nothing to select, every test runs")
        return
    cache = getattr(config, "cache", None)
    record = cache.get(CACHE_KEY, None) if cache is not None else None
    if not record or record.get("version") != RECORD_VERSION:
        say("no record of a single-database run (make test): every test runs")
        return
    fingerprint = checkout_fingerprint(Path(str(config.rootpath)))
    if fingerprint is None or record.get("fingerprint") != fingerprint:
        say("the record was made on another checkout (commit or changes): every test runs")
        return
    independent = set(record["independent"])
    keep, drop = [], []
    for item in items:
        if item.nodeid in independent and item.get_closest_marker("layout") is None:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    say(
        f"{len(keep)} tests run, {len(drop)} left out: the single-database run recorded that "
        "they used one alias, nothing database-wide and not the layout (docs/testing.md)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    # creating and migrating the test databases goes through any alias (ADR 0003)
    if fixturedef.argname == "django_db_setup":
        with suspended():
            return (yield)
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    global _current
    _current = _records[item.nodeid] = Record(item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    global _current
    try:
        result = yield
    finally:
        record, _current = _current, None
    if record is not None and record.violations:
        shown = "\n".join(record.violations[:5])
        more = len(record.violations) - 5
        pytest.fail(
            f"wrong database alias (docs/testing.md, the alias guard):\n{shown}"
            + (f"\n... and {more} more" if more > 0 else ""),
            pytrace=False,
        )
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    global _current
    _current = None


def pytest_runtest_logreport(report):
    record = _records.get(report.nodeid)
    if record is None:
        return
    if report.failed:
        record.outcome = "failed"
    elif report.skipped and record.outcome == "passed":
        record.outcome = "skipped"


def pytest_sessionfinish(session):
    config = session.config
    fingerprint = getattr(config, "_alias_fingerprint", None)
    if fingerprint is None or getattr(config, "cache", None) is None or not _records:
        return
    independent = {nodeid for nodeid, record in _records.items() if not record.needs_split()}
    previous = config.cache.get(CACHE_KEY, None) or {}
    if previous.get("version") == RECORD_VERSION and previous.get("fingerprint") == fingerprint:
        # a run of part of the suite adds to the record of the same checkout
        independent |= set(previous["independent"]) - set(_records)
    config.cache.set(
        CACHE_KEY,
        {
            "version": RECORD_VERSION,
            "fingerprint": fingerprint,
            "independent": sorted(independent),
            "needs_split": {
                nodeid: record.needs_split()
                for nodeid, record in sorted(_records.items())
                if record.needs_split()
            },
        },
    )
