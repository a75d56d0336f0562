"""The console's browser tests: ONE real server, ONE real worker and ONE browser per session.

- ``console``: ``deploy/entrypoint.sh web`` (gunicorn, production settings, as the image runs it)
  on this run's PostgreSQL databases and a Redis cache of its own, and one real Celery worker
  process on RabbitMQ on a queue prefix of its own (runs started in the browser are executed).
- ``browser``: Debian's chromium (``/usr/bin/chromium``), headless, driven by Playwright;
  ``page`` is a fresh context (no cookies, no storage; light theme, 1280x800) per test.
- helpers: ``make_user(role)``, ``sign_in(page, user)`` through the sign-in page, ``axe_check``
  (fails on serious or critical violations), ``screenshot(page, name)`` and ``ssh_target``
  (a target reaching a real sshd).

Without chromium the tests are skipped with the reason, except in CI (CI=true), where they fail.
Browser tests are marked ``once``: ``make test`` runs them, ``make test-split`` does not.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "console"
VIEWPORT = {"width": 1280, "height": 800}
# The server locks a username out after this many failed sign-ins (fewer than production's
# default: every attempt costs a real password hash)
LOGIN_FAILURE_LIMIT = 3
# Redis database of the console server's cache (login throttling): emptied before each test
REDIS_DB = 14
# Browser tests leave the server's data behind them committed: every one is transactional
browser_test = [
    pytest.mark.once,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("_fresh_console_cache"),
]


def chromium_binary() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the console's browser tests", pytrace=False)
    pytest.skip(f"{message}: the console's browser tests need it")


@dataclass
class ConsoleServer:
    url: str
    web: object  # tests.deploy.gateway.WebProcess
    worker: object  # tests.reliability.workers.WorkerProcess
    redis_url: str

    def output(self) -> str:
        return self.web.output()

    def api(self, method: str, path: str, body: dict | None = None, *, token: str = ""):
        """One request to the server's API (as another client would); its JSON, or None."""
        request = urllib.request.Request(
            self.url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {token}"} if token else {})},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read()
        return json.loads(data) if data else None


# "package": the server and the browser live while tests/console/ runs, and are gone (with the
# setting Playwright needs, below) before the rest of the suite
@pytest.fixture(scope="package")
def console(
    django_db_setup, django_db_blocker, tmp_path_factory, rabbitmq
) -> Iterator[ConsoleServer]:
    """The product's web process and a worker, as production runs them, for the whole session."""
    chromium_binary()  # no server for tests that are skipped anyway
    from django.conf import settings

    from opsconductor.conf import APP_ALIASES
    from tests.deploy.gateway import WebProcess, production_env
    from tests.fixtures import require_service
    from tests.reliability.workers import Workers, queue_prefix
    from tests.sshd import free_port

    require_service("Redis", "127.0.0.1", 6379)
    base = tmp_path_factory.mktemp("console-server")
    prefix = queue_prefix()
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    port = free_port()
    shared = {
        "CELERY_QUEUE_PREFIX": prefix,
        # the web process and the worker declare the queues alike (RabbitMQ refuses a second
        # declaration with other arguments); unused, they vanish 10 minutes after the session
        "CELERY_QUEUE_EXPIRES_SECONDS": "600",
    }
    env = {
        **production_env(base),
        **shared,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "WEB_BIND": "127.0.0.1",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "4",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # plain HTTP on the loopback (no gateway): no redirect to HTTPS; the browser treats this
        # origin as secure (see ``browser``), so the Secure cookies of production work
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        # one address (this machine) signs in for every test: only the per-user limit applies
        "LOGIN_FAILURE_LIMIT": str(LOGIN_FAILURE_LIMIT),
        "LOGIN_IP_FAILURE_LIMIT": "100000",
        "STATIC_ROOT": str(base),  # (not collected: WhiteNoise serves the bundle from its finder)
    }
    web = WebProcess(port=port, env=env, log=base / "web.log").start()
    workers = Workers(base, prefix)
    try:
        worker = workers.start(
            "console", concurrency=4, queues=("kernel", *APP_ALIASES), REDIS_URL=redis_url,
            **shared,
        )  # fmt: skip
    except Exception:
        web.stop()
        raise
    assert settings.CELERY_BROKER_URL  # the worker's broker is the test settings'
    yield ConsoleServer(url=f"http://127.0.0.1:{port}", web=web, worker=worker, redis_url=redis_url)
    web.stop()
    workers.stop_all()


@pytest.fixture
def _fresh_console_cache(console):
    """No test inherits another's failed sign-ins (the server's throttling lives in Redis)."""
    import redis

    client = redis.Redis.from_url(console.redis_url)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.fixture(scope="package")
def browser(console):
    """One headless chromium for the browser tests."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, where Django's ORM then refuses
    # to run; allowed for as long as the browser lives only (processes started later, e.g. a
    # production-settings check, must not inherit it)
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright, console)
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def _launch(sync_playwright, console):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_binary(),
            headless=True,
            args=[
                "--no-sandbox",
                # the server speaks plain HTTP on the loopback: its Secure cookies count
                f"--unsafely-treat-insecure-origin-as-secure={console.url}",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, console, request):
    """A fresh browser context (no cookies, no storage) and page for each test, on the
    console's origin; light theme, 1280x800. Its console errors fail the test."""
    context = browser.new_context(
        base_url=console.url, viewport=VIEWPORT, color_scheme="light", locale="en-US",
        timezone_id="UTC",
    )  # fmt: skip
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], f"the page reported errors: {errors}"


# --- users and signing in ---------------------------------------------------------------------
PASSWORD = "console-test-password-7"


@functools.cache
def password_hash() -> str:
    """``PASSWORD`` hashed as production hashes it (the test settings' fast MD5 hasher is
    unknown to the production server), once per session."""
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD, hasher="pbkdf2_sha256")


@pytest.fixture
def make_user():
    """``make_user(role, username=None, **fields)``: a user of that role with ``PASSWORD``."""
    from apps.accounts.factories import UserFactory

    def make(role: str = "viewer", username: str | None = None, **fields):
        user = UserFactory(
            username=username or f"{role}-{uuid.uuid4().hex[:6]}", role=role, **fields
        )
        user.password = password_hash()
        user.save(update_fields=["password"])
        return user

    return make


def fill_sign_in(page, username: str, password: str) -> None:
    """Fill the sign-in form and submit it; returns once the server has answered (so a test's
    next attempt is never sent while this one is still counted)."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_response(
        lambda response: (
            response.url.endswith("/api/v1/auth/session/") and response.request.method == "POST"
        )
    ):
        page.get_by_role("button", name="Sign in").click()


def sign_in(page, user, password: str = PASSWORD, *, path: str = "/") -> None:
    """Open ``path`` and sign in as ``user`` through the sign-in page; returns in the shell."""
    from playwright.sync_api import expect

    page.goto(path)
    page.wait_for_url("**/login**")
    fill_sign_in(page, user.username, password)
    # (a production password hash: seconds on a busy machine)
    expect(page.get_by_role("button", name=f"Account of {user.username}")).to_be_visible(
        timeout=15_000
    )


# --- checks -----------------------------------------------------------------------------------
def settled(page) -> None:
    """Wait until no transition or animation runs on the page: axe measures colours as they are
    painted, and a theme switch fades MUI's labels and borders for a moment (neither theme's)."""
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity)
            .map((a) => a.finished.catch(() => null)))"""
    )


def axe_check(page, *, context: str | None = None) -> None:
    """axe-core on the page as it is: fails listing every serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context)
    violations = [
        v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}
    ]
    lines = [
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in violations
    ]
    assert not violations, f"axe found serious/critical issues on {page.url}:\n" + "\n".join(lines)


def screenshot(page, name: str) -> Path:
    """A screenshot of the page (light theme, 1280x800) for docs/console.md: written to
    ``docs/console/<name>.png`` when CONSOLE_SCREENSHOTS=1 (``make console-screenshots``),
    else to a temporary directory (taken all the same, so a page that cannot be shot fails)."""
    directory = SCREENSHOTS if os.environ.get("CONSOLE_SCREENSHOTS") == "1" else _scratch()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
    return path


_SCRATCH: list[Path] = []


def _scratch() -> Path:
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="oc-console-shots-")))
    return _SCRATCH[0]


def pytest_sessionfinish(session):
    for directory in _SCRATCH:
        shutil.rmtree(directory, ignore_errors=True)


# --- targets ----------------------------------------------------------------------------------
@pytest.fixture
def ssh_target(sshd):
    """``ssh_target(name="web-1")``: an active target reaching the session's real sshd with its
    client key and trusted host key (runs on it execute for real on the console's worker)."""
    from apps.targets.tests.test_health import ssh_target as build

    def make(name: str = "web-1", **options):
        return build(sshd, name=name, **options)

    return make


# --- on failure: what the browser and the server saw --------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page, server = item.funcargs.get("page"), item.funcargs.get("console")
    if page is not None:
        try:
            report.sections.append(
                (
                    "browser",
                    f"url: {page.url}\ncookies: {[c['name'] for c in page.context.cookies()]}",
                )
            )
        except Exception as exc:  # the browser itself may be what failed
            report.sections.append(("browser", f"(not available: {exc})"))
    if server is not None:
        report.sections.append(("console server log (end)", server.output()[-4000:]))
