import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# What Chromium refused under the Content-Security-Policy during the current test (console errors).
CSP_VIOLATIONS: list[str] = []


SCREENSHOTS = Path(os.environ.get("RELAY_E2E_SCREENSHOTS", "var/e2e-screenshots"))


class _WatchedBrowser:
    """The browser, with every context it opens reporting Content-Security-Policy refusals to CSP_VIOLATIONS."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("console", _record_csp_violation)
        return context

    def open_pages(self):
        return [page for context in self._browser.contexts for page in context.pages if not page.is_closed()]

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a full-page screenshot of every page still open (before the fixtures close
    them) under var/e2e-screenshots/."""
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when == "call" and report.failed and browser is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.nodeid.split("::", 1)[-1])
        for number, page in enumerate(browser.open_pages()):
            path = SCREENSHOTS / f"{name}-{number}.png"
            page.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", str(path)))
    return report


def _record_csp_violation(message):
    if message.type == "error" and "Content Security Policy" in message.text:
        CSP_VIOLATIONS.append(f"{message.page.url if message.page else '?'}: {message.text}")


@pytest.fixture(autouse=True)
def _no_csp_violations():
    """Every browser test also checks that the pages it visited broke no rule of the policy (htmx included)."""
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still sync.
    was_set = "DJANGO_ALLOW_ASYNC_UNSAFE" in os.environ
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield _WatchedBrowser(browser)
        browser.close()
    if not was_set:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    yield context.new_page()
    context.close()


@pytest.fixture
def laptop(browser):
    """A page in a 1366 × 768 laptop viewport (the size the board must fit)."""
    yield from _page(browser, 1366, 768)


@pytest.fixture
def desktop(browser):
    yield from _page(browser, 1280, 900)


@pytest.fixture
def phone(browser):
    """A page in a phone-sized viewport."""
    yield from _page(browser, 390, 844)


@pytest.fixture
def login(live_server):
    def sign_in(page, user):
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "relay-test-pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return sign_in
