"""From an empty template to a project making progress, in headless Chromium: an admin builds and publishes
a two-milestone template in the builder, creates a project from it, and completes a task on the project page."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.factories import PASSWORD

KICKOFF = "2030-01-07"  # a Monday, so the plan's working days start on the kickoff day itself
#: The plan typed into the builder: milestone → (fee share, first value, [(task, estimated hours)]).
PLAN = {
    "Kickoff": ("40", True, [("Kickoff call", "3")]),
    "Go-live": ("60", False, [("Go live", "6")]),
}


def _expected_progress(done: set[str]) -> int:
    """SPEC §3: estimated hours of the done tasks / estimated hours of all tasks, as a whole percent (floor)."""
    hours = {task: Decimal(h) for _, _, tasks in PLAN.values() for task, h in tasks}
    return int(sum(hours[t] for t in done) * 100 / sum(hours.values()))


def _sign_in(page, live_server, user):
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Welcome, {user.name}")).to_be_visible()


def _builder_milestone(page, name):
    return page.get_by_test_id("milestone").filter(has=page.get_by_role("heading", name=re.compile(rf"\d+\. {name}\b")))


def _project_milestone(page, name):
    return page.get_by_test_id("milestone").filter(has=page.get_by_role("heading", name=name, exact=True))


@pytest.mark.browser
def test_admin_builds_a_template_creates_a_project_and_completes_a_task(page, live_server, make):
    admin = make.user(role="admin", name="Ada Admin")
    account = make.account(name="Globex Corporation")
    template_name = "Standard onboarding"
    project_name = "Globex onboarding"
    # the builder's Publish and Delete buttons ask window.confirm() first; this user says yes
    page.on("dialog", lambda dialog: dialog.accept())

    _sign_in(page, live_server, admin)

    # --- a new template, from the Templates page -------------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates", exact=True).click()
    expect(page.get_by_role("heading", name="Templates", exact=True)).to_be_visible()
    page.get_by_role("link", name="New template").first.click()
    expect(page.get_by_role("heading", name="New template")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(template_name)
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_test_id("builder-title")).to_contain_text(f"{template_name} v1")
    expect(page.get_by_test_id("version-state")).to_have_text("Draft")

    # --- the builder: two milestones, a task in each -----------------------------------------------
    for milestone, (fee_share, first_value, tasks) in PLAN.items():
        add = page.locator("#new-milestone")
        add.get_by_label("Milestone name").fill(milestone)
        add.get_by_label("Fee share (%)").fill(fee_share)
        if first_value:
            add.get_by_label("First value").check()
        add.get_by_role("button", name="Add milestone").click()
        expect(page.get_by_text(f"Milestone {milestone} added.")).to_be_visible()

        card = _builder_milestone(page, milestone)
        for count, (task, hours) in enumerate(tasks, start=1):
            footer = card.locator(".card-footer")
            expect(footer.get_by_role("heading", name=f"Add a task to {milestone}")).to_be_visible()
            footer.get_by_label("Task name").fill(task)
            footer.get_by_label("Estimated hours").fill(hours)
            footer.get_by_role("button", name="Add task").click()
            expect(page.get_by_text(f"Task {task} added.")).to_be_visible()
            expect(card.get_by_test_id("task-row")).to_have_count(count)

    # --- one task form: a typed name and predecessors chosen by name are saved together -------------
    golive = _builder_milestone(page, "Go-live")
    golive.get_by_test_id("task-row").filter(has_text="Go live").get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit task “Go live”")).to_be_visible()
    page.get_by_label("Task name").fill("Go live with the customer")
    page.get_by_label("Filter by name").fill("kick")
    expect(page.get_by_label("Kickoff call (Kickoff)")).to_be_visible()
    page.get_by_label("Kickoff call (Kickoff)").check()
    expect(page.get_by_text("Chosen: Kickoff call (Kickoff)")).to_be_visible()
    expect(page.get_by_label("Task name")).to_have_value("Go live with the customer")  # nothing typed lost
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "template-task-edit-1280.png"), full_page=True)
    page.get_by_role("button", name="Save task").click()
    expect(page.get_by_text("Task Go live with the customer saved.")).to_be_visible()
    row = _builder_milestone(page, "Go-live").get_by_test_id("task-row")
    expect(row).to_contain_text("Go live with the customer")
    expect(row).to_contain_text("Kickoff call")  # its predecessor, listed by name

    expect(_builder_milestone(page, "Kickoff").get_by_text("First value", exact=True)).to_be_visible()
    expect(page.get_by_test_id("fee-total")).to_have_text("Fee shares total 100 %")
    expect(page.get_by_test_id("publish-problems")).to_have_count(0)
    page.get_by_role("button", name="Publish v1").click()
    expect(page.get_by_text("Version 1 published.")).to_be_visible()
    expect(page.get_by_test_id("version-state")).to_have_text("Published")

    # --- a project from the template --------------------------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.get_by_role("link", name="New project").first.click()
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    page.get_by_label("Customer account").select_option(label=account.name)
    page.get_by_label("Template", exact=True).select_option(label=f"{template_name} (v1)")
    page.get_by_label("Project name").fill(project_name)
    page.get_by_label("Kickoff date").fill(KICKOFF)
    page.get_by_label("Project manager").select_option(label=admin.name)
    page.get_by_label("Fee or not-to-exceed amount").fill("12000")
    page.get_by_role("button", name="Create project").click()

    expect(page.get_by_text(f"Project {project_name} created.")).to_be_visible()
    assert re.fullmatch(r"/projects/\d+", urlsplit(page.url).path), page.url
    expect(page.get_by_role("heading", name=project_name, level=1)).to_be_visible()
    expect(page.get_by_test_id("manager")).to_have_text(admin.name)
    expect(page.get_by_test_id("kickoff")).to_have_text(KICKOFF)
    expect(page.get_by_test_id("milestone")).to_have_count(2)
    expect(page.get_by_test_id("task-row")).to_have_count(2)
    progress = page.get_by_test_id("progress")
    expect(progress).to_have_text("0 %")

    # --- complete the kickoff call through its edit page ---------------------------------------------
    kickoff = _project_milestone(page, "Kickoff")
    task_row = kickoff.get_by_test_id("task-row").filter(has_text="Kickoff call")
    expect(task_row.locator(".badge")).to_have_text("To do")
    expect(task_row).to_contain_text("3.00 h")
    task_row.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name="Kickoff call", level=1)).to_be_visible()
    page.get_by_label("Status").select_option(label="Done")
    page.get_by_role("button", name="Save", exact=True).click()

    notice = page.get_by_test_id("task-notice")  # said next to the task, not in a banner above the page
    expect(notice).to_contain_text("Saved.")
    expect(page.locator(f"#task-{task_row.get_attribute('id').split('-')[1]} + tr.psa-notice")).to_be_visible()
    expected = _expected_progress({"Kickoff call"})
    assert expected == 33
    expect(progress).to_have_text(f"{expected} %")
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("value", str(expected))
    expect(task_row.locator(".badge")).to_have_text("Done")
    expect(kickoff.get_by_test_id("milestone-status")).to_have_text("Done")  # its only task is done
    expect(_project_milestone(page, "Go-live").locator("tr[data-testid=task-row] .badge")).to_have_text("To do")
    expect(page.get_by_test_id("activity").filter(has_text="Kickoff call").first).to_contain_text("from To do to Done")

    assert page.log.errors == [], page.log.errors
    assert page.log.csp_violations == [], page.log.csp_violations
