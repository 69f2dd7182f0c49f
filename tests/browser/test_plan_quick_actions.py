"""The plan's quick actions in Chromium: mark done, set blocked with a reason (refused without one), assign,
each without a page load, the task's row staying where it was on the screen and the line saying what
happened right under it. A plan of 6 milestones × 6 tasks so the task sits well down a scrolled page."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from psa.extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.projects.helpers import build_template, create_project, grid

WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def plan(app, make):
    manager = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    project = create_project(app, build_template(app, grid(6, 6)), manager.id, make.account().id,
                             date(2030, 1, 7), member_ids=(cleo.id,))
    return project, manager, cleo


def _row(page, name):
    return page.get_by_test_id("task-row").filter(has=page.locator("th", has_text=re.compile(rf"^{re.escape(name)}\b")))


def _top(locator) -> float:
    return locator.evaluate("el => el.getBoundingClientRect().top")


def _task(app, task_id):
    from psa.projects.models import Task

    with app.app_context():
        return db.session.execute(sa.select(Task.status, Task.assignee_id, Task.blocked_reason)
                                  .where(Task.id == task_id)).one()


@pytest.mark.browser
@pytest.mark.parametrize("page", [WIDE], indirect=True)
def test_quick_actions_change_a_task_in_place(page, live_server, app, plan):
    project, manager, cleo = plan
    backend = app.config["BACKEND"]
    _sign_in(page, live_server, manager)
    page.goto(f"{live_server}/projects/{project['id']}")
    page.evaluate("() => { window.psaNoReload = true; }")  # gone if the page were loaded again

    # --- mark done: one click, the row stays put and the line under it says so ------------------------------
    row = _row(page, "Task 5.2")
    row.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -300)")
    top = _top(row)
    row.get_by_role("button", name="Mark Task 5.2 done").click()
    notice = page.get_by_test_id("task-notice")
    expect(notice).to_have_text(re.compile(r"^\s*Marked done\. Milestone 5 now forecasts \d+ working days late"))
    row = _row(page, "Task 5.2")
    expect(row.locator(".badge")).to_have_text("Done")
    assert abs(_top(row) - top) <= 2, (top, _top(row))
    assert _task(app, project["tasks"]["Task 5.2"]).status == "done"
    # the notice is the row right under the task
    assert row.evaluate("el => el.nextElementSibling.querySelector('[data-testid=task-notice]') !== null")

    # --- set blocked: refused without a reason, said at the field; then with one ----------------------------
    row = _row(page, "Task 5.3")
    row.get_by_role("button", name="More actions on Task 5.3").click()
    panel = page.get_by_role("form", name="Quick actions on Task 5.3")
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="Set blocked").click()
    expect(panel.locator("[data-error=blocked_reason]")).to_have_text("Say why the task is blocked.")
    expect(panel.get_by_label("Blocked because")).to_have_class(re.compile(r"\bis-invalid\b"))
    assert _task(app, project["tasks"]["Task 5.3"]).status == "todo"
    panel.get_by_label("Blocked because").fill("Waiting for the customer's VPN")
    top = _top(row)
    panel.get_by_role("button", name="Set blocked").click()
    expect(page.get_by_test_id("task-notice")).to_have_text(re.compile(r"^\s*Set blocked\."))
    row = _row(page, "Task 5.3")
    expect(row.get_by_test_id("blocked-reason")).to_have_text("Blocked: Waiting for the customer's VPN")
    assert abs(_top(row) - top) <= 2
    _shot(page, f"project-quick-blocked-1366-{backend}")

    # --- assign, from the same panel ------------------------------------------------------------------------
    row.get_by_role("button", name="More actions on Task 5.3").click()
    panel = page.get_by_role("form", name="Quick actions on Task 5.3")
    panel.get_by_label("Assign to").select_option(label="Mia Manager")
    panel.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("task-notice")).to_have_text(re.compile(r"^\s*Assigned to Mia Manager\.\s*$"))
    expect(_row(page, "Task 5.3").locator("td").first).to_have_text("Mia Manager")
    assert _task(app, project["tasks"]["Task 5.3"]).assignee_id == manager.id

    assert page.evaluate("() => window.psaNoReload === true")  # none of it loaded the page again
    _assert_clean(page, live_server)

    # --- at phone width the same panel fits the screen --------------------------------------------------------
    page.set_viewport_size(PHONE)
    row = _row(page, "Task 6.1")
    row.get_by_role("button", name="More actions on Task 6.1").click()
    panel = page.get_by_role("form", name="Quick actions on Task 6.1")
    expect(panel.get_by_role("button", name="Assign", exact=True)).to_be_visible()
    _shot(page, f"project-quick-panel-390-{backend}")


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
