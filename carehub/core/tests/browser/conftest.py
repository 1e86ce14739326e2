"""Fixtures for the end-to-end tests: Debian's headless Chromium driven by Playwright (sync API)
against pytest-django's live server, and a real SMTP server (aiosmtpd) catching the mail.

Playwright's sync API keeps an event loop running in the main thread for as long as it is started,
which makes Django's ORM refuse to run there ("async unsafe"). The tests only touch the database
between browser steps, never concurrently with an await, so the guard is switched off, but only
while a module of these tests runs: Playwright is started per module and stopped after it, so the
rest of a full `pytest` run keeps Django's guard and no event loop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

CHROMIUM = os.environ.get("CAREHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls home (refused here, and noise in the logs).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000


def _no_browser_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM} (scripts/system-deps.sh installs it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _no_browser_reason()
    if reason:
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class PageProblems:
    """What went wrong in the page: console errors (CSP violations are reported there), uncaught
    exceptions and failed or 4xx/5xx sub-resource requests (CSS, JS, images)."""

    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console + self.exceptions + self.failed_requests


def _watch(page: Page, problems: PageProblems) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_response(response) -> None:
        # Documents are checked by the tests themselves (a 403 page can be the expected result).
        if response.status >= 400 and response.request.resource_type != "document":
            problems.failed_requests.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.exceptions.append(f"pageerror: {exc}"))

    def on_request_failed(request) -> None:
        # Leaving a page cancels what it was still loading (net::ERR_ABORTED): not a fault.
        if request.failure != "net::ERR_ABORTED":
            problems.failed_requests.append(f"failed: {request.url} {request.failure}")

    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)


@pytest.fixture
def new_page(browser: Browser, live_server) -> Iterator:
    """A factory of pages, each in its own browser context (own cookies), with their problems."""
    contexts: list[BrowserContext] = []

    def make(viewport: ViewportSize | None = None) -> tuple[Page, PageProblems]:
        context = browser.new_context(base_url=live_server.url, viewport=viewport or DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        _watch(page, problems)
        return page, problems

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()[0]


# --- mail ----------------------------------------------------------------------------------------


class _Collector:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} email(s), the SMTP server got {len(self.messages)}"
                    )
                self._arrived.wait(left)
            return list(self.messages)


class _AnyPortController(Controller):
    """aiosmtpd's Controller on port 0: the OS picks a free port, read back before the start-up
    probe (aiosmtpd 1.4 would otherwise probe port 0 and fail)."""

    def _trigger_server(self):
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


@pytest.fixture
def smtp_server(settings) -> Iterator[_Collector]:
    """A real SMTP server on a free local port; Django sends through it with its SMTP backend.

    The test runner swapped MAILERS for locmem at start-up; Django 6.1 builds mailer connections
    from settings.MAILERS on every use (no cache), so overriding the setting here is enough."""
    handler = _Collector()
    controller = _AnyPortController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10},
        }
    }
    try:
        yield handler
    finally:
        controller.stop()


# --- TOTP ----------------------------------------------------------------------------------------


def fresh_totp_code(secret: str, *, margin: float = 3.0) -> str:
    """The current code, computed once, with at least `margin` seconds of its 30 s period left
    (allauth accepts each code once, and with TOTP_TOLERANCE = 0 only in its own period)."""
    from allauth.mfa import app_settings

    from carehub.accounts.tests.factories import totp_code

    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.1)
    return totp_code(secret)


# --- signing in ----------------------------------------------------------------------------------


def sign_in(page: Page, email: str, password: str) -> None:
    """The password step of the web sign-in, as a person does it."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(lambda url: not url.endswith("/accounts/login/"))
