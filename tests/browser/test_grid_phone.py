"""The timesheet grid on a phone (390 px): the days scroll sideways inside the grid while the project / task
column stays in view, so a row is still named when its Sunday is on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.timesheets.conftest import staffed  # noqa: F401  (the fixture)

WEEK = "2026-10-05"
SUNDAY = "2026-10-11"


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True)
def test_the_first_column_stays_visible_after_scrolling_to_sunday(page, live_server, staffed):  # noqa: F811
    consultant, _manager, _project_id, _task_id = staffed
    _sign_in(page, live_server, consultant)
    page.goto(f"{live_server}/timesheets?week={WEEK}")
    page.get_by_label("Project, row 1").select_option(label="Acme – Acme onboarding")
    page.locator(f"#rows-0-{SUNDAY}").fill("1:30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Week of 2026-10-05 – 2026-10-11 saved.")).to_be_visible()

    wrap = page.locator(".psa-grid-wrap")
    first = page.get_by_test_id("grid-row").first.locator("th.psa-grid-work")
    expect(first).to_be_visible()
    before = first.bounding_box()
    sunday = page.locator(f"#rows-0-{SUNDAY}")
    sunday.scroll_into_view_if_needed()
    wrap.evaluate("element => { element.scrollLeft = element.scrollWidth; }")
    page.wait_for_function("() => document.querySelector('.psa-grid-wrap').scrollLeft > 0")
    expect(sunday).to_be_in_viewport()
    after, frame, day = first.bounding_box(), wrap.bounding_box(), sunday.bounding_box()
    assert abs(after["x"] - before["x"]) < 1 and after["x"] >= frame["x"] - 1, (before, after, frame)
    assert after["x"] + after["width"] <= day["x"] + 1, (after, day)  # Sunday's cell is beside it, not under
    assert after["x"] + after["width"] <= PHONE["width"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "grid-390-scrolled-to-sunday.png"))
    _assert_clean(page, live_server)
