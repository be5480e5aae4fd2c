"""Playwright against the system Chromium, one live server, real workers.

Never `playwright install`: the browser is Debian's `chromium` package
(`apt-get install -y chromium`, as .ci/run does; `make test` installs
nothing). Without it these tests skip: the summary line counts them apart
from other skips, naming the missing browser and that command, and a loud
section above it says the same.
"""

import base64
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent
INSTALL_CHROMIUM = "apt-get install -y chromium"
# The summary line's category for browser tests skipped for want of Chromium:
# "12 passed, 3 skipped without Chromium (apt-get install -y chromium) in 9s".
NO_CHROMIUM = f"skipped without Chromium ({INSTALL_CHROMIUM})"
# Screenshots of each page, for people to look at; git ignores test-output/.
SCREENSHOTS = HERE.parent.parent / "test-output" / "browser"


def pytest_collection_modifyitems(session, config, items):
    # The sync Playwright API keeps an asyncio loop marked as running on the
    # main thread while the browser is open, and Django refuses ORM calls
    # under a running loop. The browser tests therefore run last, and the
    # browser fixture lifts that check only while it is open.
    browser_items = [item for item in items if HERE in Path(str(item.path)).parents]
    others = [item for item in items if item not in browser_items]
    items[:] = others + browser_items


def pytest_report_teststatus(report, config):
    # A category of its own puts the missing browser in the run's summary
    # line, where a plain "3 skipped" would pass unnoticed on a fresh machine.
    if report.skipped and "browser/" in report.nodeid and not CHROMIUM.exists():
        return NO_CHROMIUM, "s", "SKIPPED (no Chromium)"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    not_run = terminalreporter.stats.get(NO_CHROMIUM, [])
    if not not_run:
        return
    terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(not_run)} browser test(s) skipped: {CHROMIUM} is missing. "
        f"Install it with `{INSTALL_CHROMIUM}` (never `playwright install`).",
        red=True,
        bold=True,
    )


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


# Runs in every document before its own scripts: each Content-Security-Policy
# violation the page reports is handed to the test. Chromium runs init scripts
# through DevTools, which the policy does not govern.
REPORT_CSP_VIOLATIONS = """
window.cspViolationsSeen = 0;
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline code"}` +
      ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`
  );
  window.cspViolationsSeen += 1;
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations the test's pages reported so far."""
    return []


@pytest.fixture
def console_errors() -> list[str]:
    """The console errors and uncaught exceptions of the test's pages so far."""
    return []


# What the pages load from elsewhere (a thumbnail of an https://example.com
# image URL) is answered here: the tests need no internet, and a lookup that
# fails would be a console error of the test's making.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/"
    "eL9GtQAAAABJRU5ErkJggg=="
)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def answer_from_elsewhere(route) -> None:
    if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
        route.continue_()
    else:
        route.fulfill(status=200, content_type="image/png", body=PIXEL_PNG)


@pytest.fixture
def page(browser, live_server, transactional_db, csp_violations, console_errors):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.route("**/*", answer_from_elsewhere)

    def report(violation: str) -> None:
        csp_violations.append(violation)

    def console(message) -> None:
        # Chromium also logs each violation (inline code, eval) on the console:
        # those are counted as violations, once.
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)
        elif message.type == "error":
            where = message.location
            console_errors.append(f"{message.text} ({where.get('url')}:{where.get('lineNumber')})")

    def uncaught(error) -> None:
        console_errors.append(f"uncaught {error.name}: {error.message}")

    context.expose_function("reportCspViolation", report)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", uncaught)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    # Every walk-through fails on a violation or a console error: it is a page
    # feature broken in production browsers, whatever the test itself checked.
    assert csp_violations == [], "Content-Security-Policy violations:\n" + "\n".join(csp_violations)
    assert console_errors == [], "Console errors:\n" + "\n".join(console_errors)


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take
