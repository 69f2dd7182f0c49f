"""Browser fixtures: the test app served on a real port, and headless Chromium driving it.

`live_server` runs werkzeug's threaded server for the session-scoped `app` (one per database
backend) in a daemon thread. The autouse `_clean` fixture still empties the tables after every
test: each request gets its own app context and session, so the server holds no transaction.

`browser` is Debian's Chromium (never a Playwright-downloaded one); `page` opens a fresh context per
test and, when the test fails, saves a full-page screenshot to test-artifacts/.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}

# Chromium logs CSP violations to the console itself; this init script (which CSP does not govern)
# reports every `securitypolicyviolation` event there as well, so none can slip past the listener.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("Content Security Policy violation: " + e.violatedDirective + " blocked " +
                (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so `page` can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def live_server(app):
    """The test app on 127.0.0.1 at a free port; yields its base URL, e.g. http://127.0.0.1:41234."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"live-server-{app.config['BACKEND']}",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageLog:
    """What a page did besides rendering: console messages, page errors and every request URL."""

    def __init__(self, page):
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))

    @property
    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "content security policy" in line.lower()]


@pytest.fixture
def page(browser, request):
    """A page in a fresh browser context, 1280x800 unless the test asks for another viewport with
    `@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)`.

    `page.log` is a `PageLog` collecting the page's console messages, errors and requests.
    """
    viewport = getattr(request, "param", None) or DESKTOP
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(10_000)
    context.add_init_script(_REPORT_CSP_VIOLATIONS)
    pg = context.new_page()
    pg.log = PageLog(pg)
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            try:
                pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"screenshot failed: {exc}")
        context.close()
