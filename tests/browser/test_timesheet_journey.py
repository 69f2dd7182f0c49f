"""A week of time from the grid to approval, in headless Chromium: a consultant fills in a past week
(typing 1:30, 2h, 45m), saves and submits it; their manager approves it from the queue; the
consultant finds the week approved and locked. Then both pages at phone width."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.conftest import login_as
from tests.timesheets.conftest import MONDAY, staffed  # noqa: F401  (the fixture)

WEEK = MONDAY.isoformat()  # a past week: the future-date rule does not bite
DAYS = [f"2026-10-{day:02d}" for day in range(5, 12)]


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


@pytest.mark.browser
def test_a_week_goes_from_the_grid_to_approved(page, live_server, staffed):  # noqa: F811
    consultant, manager, project_id, task_id = staffed

    # --- the consultant fills in the week ---------------------------------------------------------
    _sign_in(page, live_server, consultant)
    page.get_by_role("link", name="Timesheets").click()
    assert urlsplit(page.url).path == "/timesheets"
    expect(page.get_by_role("link", name="Approvals")).to_have_count(0)
    page.goto(f"{live_server}/timesheets?week={DAYS[2]}")  # any day of the week opens it
    expect(page.get_by_test_id("week-label")).to_have_text("Week of 2026-10-05 – 2026-10-11")
    expect(page.get_by_test_id("state")).to_have_text("Draft")

    page.get_by_label("Project, row 1").select_option(label="Acme – Acme onboarding")
    page.get_by_label("Task, row 1").select_option(label="Configure")
    expect(page.locator("#rows-0-billable")).to_be_checked()  # a time-and-materials project
    page.locator(f"#rows-0-{DAYS[0]}").fill("1:30")
    page.locator(f"#rows-0-{DAYS[1]}").fill("2h")
    page.locator(f"#rows-0-{DAYS[2]}").fill("45m")
    page.locator(f"#rows-0-{DAYS[0]}").locator("xpath=following-sibling::details/summary").click()
    page.locator(f"#rows-0-{DAYS[0]}-note").fill("Kickoff workshop")
    # a fourth line, added with the button, for non-billable time
    page.get_by_role("button", name="Add a row").click()
    expect(page.get_by_label("Project, row 4")).to_be_focused()
    page.get_by_label("Project, row 4").select_option(label="Acme – Acme onboarding")
    page.get_by_label("Billable").nth(3).uncheck()
    added = page.get_by_label("Project, row 4").get_attribute("name")
    index = re.match(r"rows-(\d+)-project", added).group(1)
    page.locator(f"#rows-{index}-{DAYS[3]}").fill("0.5")
    page.get_by_label("Vacation, Friday 2026-10-09: hours").fill("8")
    # the totals follow the typing
    expect(page.get_by_test_id("week-total")).to_have_text("12:45")
    expect(page.get_by_test_id("day-total").nth(0)).to_have_text("1:30")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Week of 2026-10-05 – 2026-10-11 saved.")).to_be_visible()
    task_row = page.locator("tr", has=page.locator("option[selected]", has_text="Configure"))
    expect(task_row.locator(f"[name$='-{DAYS[0]}']").first).to_have_value("1:30")
    expect(task_row.locator(f"[name$='-{DAYS[1]}']").first).to_have_value("2:00")
    expect(task_row.locator(f"[name$='-{DAYS[2]}']").first).to_have_value("0:45")
    expect(page.get_by_test_id("week-total")).to_have_text("12:45")

    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_text("Week of 2026-10-05 – 2026-10-11 submitted for approval.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Submitted — waiting for approval")
    expect(page.get_by_test_id("locked")).to_have_count(0)  # "Locked" is kept for the time lock
    expect(page.locator("input.psa-dur")).to_have_count(0)
    _assert_clean(page, live_server)
    _sign_out(page)

    # --- the manager approves it from the queue ---------------------------------------------------
    _sign_in(page, live_server, manager)
    page.get_by_role("link", name="Approvals").click()
    item = page.get_by_test_id("queue-item")
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("queue-user")).to_have_text("Cleo Consultant")
    expect(item.get_by_test_id("queue-total")).to_have_text("4:45")
    expect(item.get_by_test_id("queue-billable")).to_have_text("89 %")  # 4:15 of 4:45
    expect(item.get_by_test_id("queue-off")).to_have_text("8:00")
    item.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_text("Approved Cleo Consultant’s week of 2026-10-05 – 2026-10-11.")).to_be_visible()
    expect(page.get_by_text("Nothing to approve")).to_be_visible()
    _sign_out(page)

    # --- the consultant finds the week approved and locked ------------------------------------------
    _sign_in(page, live_server, consultant)
    page.goto(f"{live_server}/timesheets?week={WEEK}")
    expect(page.get_by_test_id("state")).to_have_text("Approved")
    expect(page.get_by_text("The week is read-only")).to_be_visible()
    expect(page.locator("#grid-form input:not([type=hidden]), #grid-form select")).to_have_count(0)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    hours = page.locator('[data-testid="grid-row"]', has_text="Configure").get_by_test_id("hours")
    expect(hours).to_have_text(["1:30", "2:00", "0:45", "", "", "", ""])
    expect(page.get_by_text("Kickoff workshop")).to_be_visible()
    _assert_clean(page, live_server)


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["phone"])
def test_the_grid_and_the_queue_fit_a_phone(page, live_server, app, staffed):  # noqa: F811
    consultant, manager, project_id, _ = staffed
    client = app.test_client()
    login_as(client, consultant)
    from tests.conftest import post_form

    post_form(client, "/timesheets", {"week": WEEK, "rows-0-project": str(project_id), "rows-0-billable": "y",
                                      f"rows-0-{DAYS[0]}": "3"})
    post_form(client, f"/timesheets/submit?week={WEEK}")

    _sign_in(page, live_server, manager)
    for path in ("/timesheets", "/timesheets/approvals"):
        page.goto(f"{live_server}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    # the grid scrolls sideways inside its own box
    page.goto(f"{live_server}/timesheets")
    wrap = page.locator(".psa-grid-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    # a refused reason is shown at the field
    page.goto(f"{live_server}/timesheets/approvals")
    page.get_by_text("Reject…").click()
    page.get_by_role("button", name="Reject week").click()
    expect(page.get_by_text("Say why the week is rejected")).to_be_visible()
    expect(page.locator("textarea.is-invalid")).to_be_focused()
    _assert_clean(page, live_server)
