"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, the system
browser — nothing is downloaded, `playwright install` is never run) against a real `hotloop serve`
process whose Slack is the loopback fake Slack Web API (tests/browser/dashboard.py).

One server and one browser for the whole package (starting them is most of the time); each test gets its
own browser context, so cookies never leak from one test to the next. Every page is watched: a JavaScript
alert or prompt dialog, or a Content-Security-Policy violation, fails the test (the page's own confirm
dialogs, `data-confirm` on a form, are accepted and counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from tests.browser.dashboard import CHROMIUM, FLAGS, Dashboard, running_dashboard, sign_in
from tests.fakes.slack_api import FakeSlackApi

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page

TIMEOUT_MS = 10_000  # any one wait in a page: far above what a loopback page needs


@dataclass
class Watched:
    """A page with what it did that it must never do: dialogs opened, CSP violations reported."""

    page: Page
    dialogs: list[str] = field(default_factory=list)  # alert/prompt/beforeunload: never legitimate
    confirms: list[str] = field(default_factory=list)  # the page's own "are you sure?" (data-confirm)
    csp_violations: list[str] = field(default_factory=list)
    # what a test knows its page asks for and the CSP blocks on purpose (TeamsJS's CDN lookup)
    blocked_on_purpose: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        if dialog.type == "confirm":
            self.confirms.append(dialog.message)
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        csp = "Content Security Policy" in text or "Content-Security-Policy" in text
        if csp and not any(url in text for url in self.blocked_on_purpose):
            self.csp_violations.append(text)

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a dialog fired: {self.dialogs}"
        assert not self.csp_violations, f"the page broke its own CSP: {self.csp_violations}"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (.[test])")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def fake_slack_web() -> Iterator[FakeSlackApi]:
    # tiers off: a handful of cards reach one channel within a second or two, and this suite is not about
    # Slack's rate limits (tests/fakes/slack_tiers.py has its own tests)
    with FakeSlackApi(tiers=False) as slack:
        yield slack


@pytest.fixture(scope="package")
def board(browser: Browser, fake_slack_web: FakeSlackApi,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    # asks for `browser` first: with no Chromium, the suite skips before starting a server
    with running_dashboard(tmp_path_factory.mktemp("dashboard"), fake_slack_web) as dashboard:
        yield dashboard


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(TIMEOUT_MS)
    try:
        yield opened
    finally:
        opened.close()


def watch(page: Page) -> Watched:
    watched = Watched(page)
    page.on("dialog", watched.on_dialog)
    page.on("console", watched.on_console)
    return watched


@pytest.fixture
def watched(context: BrowserContext) -> Iterator[Watched]:
    """A fresh page in the test's context, watched; the test fails if it ever opened a dialog or broke
    the CSP, even if the test itself did not look."""
    page = watch(context.new_page())
    yield page
    page.assert_clean()


__all__ = ["Watched", "sign_in", "watch"]
