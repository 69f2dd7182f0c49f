"""Every report page at phone width (390 px) in headless Chromium: utilization, margin, revenue forecast, time to
value and the account view each render with their tables and charts, without a horizontal page scroll (wide tables
scroll inside their own box), with no CSP violation or script error; a screenshot of each goes to test-artifacts/.
The margin report's own journey (filters, drill-down, downloads) is tests/browser/test_margin_journey.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from psa.core import clock
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.reports.test_margin import _build

TODAY = datetime(2026, 6, 15, 12, tzinfo=UTC)
PERIOD = "period=custom&date_from=2026-04-01&date_to=2026-05-31"


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["phone"])
def test_each_report_fits_a_phone(page, live_server, app, make):
    world = _build(app, make)
    pages = [
        ("utilization", f"/reports/utilization?{PERIOD}", "Utilization", "utilization-people"),
        ("margin", f"/reports/margin?{PERIOD}", "Margin", "margin-months"),
        ("forecast", "/reports/forecast", "Revenue forecast", None),
        ("ttv", "/reports/ttv", "Time to value", None),
        ("account", f"/accounts/{world['bolt'].id}", "Bolt", None),
    ]
    with clock.frozen(TODAY):
        _sign_in(page, live_server, world["lee"])
        for name, path, heading, table in pages:
            response = page.goto(live_server + path)
            assert response.status == 200, (name, response.status)
            expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
            if table:
                expect(page.get_by_test_id(table)).to_be_attached()
            page.wait_for_load_state("load")
            page.screenshot(path=str(ARTIFACTS / f"report-{name}-390.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (name, width)
    _assert_clean(page, live_server)
