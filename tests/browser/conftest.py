"""Headless Chromium (Debian's package, never a downloaded browser) driving the live stack.

``browser`` is one Chromium per session; ``page`` is a fresh context (no cookies) per test with a
phone-sized viewport, because residents mostly use phones. When a test fails, a full-page
screenshot is saved and its path shown in the failure report (section "browser").
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from webapp.cli import DEMO_USERS

from .steps import sign_in

CHROMIUM = "/usr/bin/chromium"
# Playwright gives every launch a fresh temporary user-data dir (profile), removed on close.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000  # generous: CI machines can be busy; passing tests never wait this long

DEMO_RESIDENT_EMAIL, DEMO_RESIDENT_PASSWORD = next(
    (email, password) for email, password, *_ in DEMO_USERS if email == "ada@example.com"
)

_PAGE = pytest.StashKey[object]()
_ARTIFACTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def browser_artifacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser-artifacts")


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(request, browser, live_stack, browser_artifacts):
    """A new tab in a fresh browser context whose relative URLs go to the live web server."""
    context = browser.new_context(base_url=live_stack.url, viewport=PHONE_VIEWPORT, locale="en-NG",
                                  timezone_id="Africa/Lagos")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    request.node.stash[_PAGE] = tab
    request.node.stash[_ARTIFACTS] = browser_artifacts
    yield tab
    context.close()


@pytest.fixture
def resident_page(page):
    """The demo resident, signed in through the login form, on the dashboard."""
    sign_in(page, DEMO_RESIDENT_EMAIL, DEMO_RESIDENT_PASSWORD)
    expect(page.get_by_role("heading", name=re.compile(r"^Hello, Ada"))).to_be_visible()
    return page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    tab = item.stash.get(_PAGE, None)
    if report.when not in ("setup", "call") or not report.failed or tab is None or tab.is_closed():
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    path = item.stash[_ARTIFACTS] / f"{name}.png"
    try:
        tab.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # the page may have crashed; the report must still be written
        report.sections.append(("browser", f"no screenshot ({type(exc).__name__}: {exc}); url {tab.url}"))
        return
    report.sections.append(("browser", f"screenshot: {path}\nurl: {tab.url}"))
