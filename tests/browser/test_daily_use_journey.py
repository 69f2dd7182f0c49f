"""Daily use in headless Chromium on the demo: the first screen of each role (at 1366 px and at 390 px, where it
must not scroll sideways and the filters fold behind one button), the demo's largest project read
at 1366 px with done milestones folded, a project made from a template with its roles mapped (no internal task
left unassigned), a task edited with the consequence said next to it, and several tasks assigned at once.
Screenshots (1366 px, then 390 px) go to test-artifacts/ for a reviewer to look at."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from psa.extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean

WIDE = {"width": 1366, "height": 900}


def _sign_in(page, live_server, email, password):
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Welcome, "))).to_be_visible()


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def _task_row(page, name):
    """The plan's row of the task named `name` (its row header starts with the name; another row may name it
    as a predecessor)."""
    return page.get_by_test_id("task-row").filter(has=page.locator("th", has_text=re.compile(rf"^{re.escape(name)}")))


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def demo(app):
    from psa.demo import load_demo

    with app.app_context():
        load_demo()
        db.session.remove()


@pytest.mark.browser
@pytest.mark.parametrize("page", [WIDE], indirect=True)
def test_a_manager_plans_assigns_and_sees_what_a_change_did(page, live_server, app, demo):
    from psa.projects.models import Project, Task

    backend = app.config["BACKEND"]
    # --- the first screen of each role, at 1366 px and at 390 px -----------------------------------------------
    for role, email in (("leader", "leader@demo.psa"), ("consultant", "consultant@demo.psa"),
                        ("admin", "admin@demo.psa"), ("manager", "manager@demo.psa")):
        _sign_in(page, live_server, email, f"{role}-demo-pass")
        first = page.get_by_test_id("my-work" if role == "consultant" else "decisions")
        expect(first).to_be_visible()
        if role == "consultant":  # their tasks and their week lead
            expect(page.get_by_test_id("block-my-tasks")).to_be_visible()
            expect(page.get_by_test_id("block-week")).to_be_visible()
        else:  # what needs a decision leads, each block with its count
            for key in ("health", "weeks", "blocked", "customer"):
                expect(page.get_by_test_id(f"{key}-count")).to_be_visible()
        expect(page.get_by_test_id("project-row").first).to_be_visible()
        expect(page.get_by_test_id("health-reason").first).to_be_visible()  # health says why
        _shot(page, f"dashboard-{role}-1366-{backend}")

        page.set_viewport_size(PHONE)
        page.reload()
        expect(first).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{role}'s dashboard is {width} px wide at 390 px"
        filters, toggle = page.get_by_test_id("filters"), page.get_by_test_id("filters-toggle")
        expect(filters).to_be_hidden()  # folded behind one button
        row = page.get_by_test_id("project-row").first
        expect(row.locator(".psa-col-health")).to_be_visible()  # health, progress and slip first
        expect(row.locator(".psa-col-progress")).to_be_visible()
        expect(row.locator(".psa-col-slip")).to_be_visible()
        expect(row.locator(".psa-col-more").first).to_be_hidden()
        _shot(page, f"dashboard-{role}-390-{backend}")
        toggle.click()
        # Bootstrap animates the filters open ("collapsing"); read and shoot them once settled ("collapse show")
        expect(page.locator("#portfolio-filters")).to_have_class(re.compile(r"\bcollapse\b.*\bshow\b"))
        expect(filters).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        if role == "leader":
            _shot(page, f"dashboard-{role}-390-filters-{backend}")
        page.set_viewport_size(WIDE)
        if role != "manager":
            _sign_out(page)

    # --- the demo's largest project, read first: done milestones folded, at most 3,000 px tall -----------
    with app.app_context():
        largest = db.session.execute(
            sa.select(Project.id, Project.name).join(Task, Task.project_id == Project.id)
            .group_by(Project.id, Project.name).order_by(sa.func.count(Task.id).desc(), Project.id).limit(1)).one()
    page.goto(f"{live_server}/projects/{largest.id}")
    expect(page.get_by_role("heading", name=largest.name, level=1)).to_be_visible()
    expect(page.get_by_test_id("milestone-done-on").first).to_be_visible()
    height = page.evaluate("() => document.documentElement.scrollHeight")
    _shot(page, f"project-largest-1366-{backend}")
    # at most 3,000 px (it was 10,069 with every task's form open): done milestones one line, tasks one line
    # each, forms behind buttons, the timeline at its natural width
    print(f"\nlargest demo project at 1366 px: {height} px tall")
    assert height <= 3000, height
    folded = page.locator("details.psa-milestone:not([open])")
    done = page.get_by_test_id("milestone-done-on")
    expect(folded).to_have_count(done.count())  # every done milestone folded
    expect(folded.first.get_by_test_id("task-row").first).to_be_hidden()

    # --- a project from the Enterprise template with two consultants: its roles mapped ---------------------
    page.goto(f"{live_server}/projects/new")
    page.get_by_label("Customer account").select_option(label="Initech Software")
    page.get_by_label("Template", exact=True).select_option(label="Enterprise implementation (v1)")
    mapping = page.get_by_test_id("role-mapping")
    expect(mapping.get_by_label("Consultant tasks go to")).to_be_visible()  # the template names consultants
    expect(mapping.get_by_label("PS leader tasks go to")).to_be_hidden()  # and no leader tasks
    page.get_by_label("Project name").fill("Initech enterprise rollout")
    page.get_by_label("Filter people by name").fill("consultant")
    page.get_by_label("Cleo Consultant").check()
    page.get_by_label("Carl Consultant").check()
    expect(page.get_by_text("Chosen: Carl Consultant, Cleo Consultant")).to_be_visible()
    page.get_by_label("Fee or not-to-exceed amount").fill("90000")
    _shot(page, f"project-new-role-mapping-1366-{backend}")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_text("Project Initech enterprise rollout created.")).to_be_visible()
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))
    with app.app_context():
        unassigned = db.session.scalars(sa.select(Task.name).where(
            Task.project_id == project_id, Task.assignee_role != "customer", Task.assignee_id.is_(None))).all()
        consultants = set(db.session.scalars(sa.select(Task.assignee_id).where(
            Task.project_id == project_id, Task.assignee_role == "consultant")))
    assert unassigned == [] and len(consultants) == 2, (unassigned, consultants)

    # --- edit a task: the consequence is said next to it, and the successors' move can be undone ---------
    _task_row(page, "Requirements catalogue").get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Requirements catalogue", level=1)).to_be_visible()
    due = page.get_by_label("Due")
    from datetime import date, timedelta

    later = date.fromisoformat(due.input_value()) + timedelta(days=7)
    due.fill(later.isoformat())
    page.get_by_role("button", name="Save", exact=True).click()
    notice = page.get_by_test_id("task-notice")
    expect(notice).to_contain_text(re.compile(r"Saved\. \d+ following tasks moved \d+ working days? later"))
    task_id = re.search(r"#task-(\d+)", page.url).group(1)
    expect(page.locator(f"#task-{task_id} + tr.psa-notice")).to_be_in_viewport()  # where the change happened
    _shot(page, f"project-task-saved-1366-{backend}")
    page.get_by_role("button", name="Undo the move of the following tasks").click()
    expect(page.get_by_test_id("task-notice")).to_contain_text("Undone:")

    # --- several tasks assigned at once -----------------------------------------------------------------
    page.get_by_role("link", name="Assign several tasks").click()
    expect(page.get_by_role("heading", name="Assign several tasks")).to_be_visible()
    page.get_by_label(re.compile(r"^Current-state workshops")).check()
    page.get_by_label(re.compile(r"^Requirements catalogue")).check()
    page.get_by_label("Assign the chosen tasks to").select_option(label="Cleo Consultant")
    page.get_by_role("button", name="Assign the ticked tasks").click()
    expect(page.get_by_text(re.compile(r"2 tasks now assigned to Cleo Consultant"))).to_be_visible()
    for name in ("Current-state workshops", "Requirements catalogue"):
        expect(_task_row(page, name)).to_contain_text("Cleo Consultant")

    # --- the same pages at phone width ------------------------------------------------------------------
    page.set_viewport_size(PHONE)  # (each role's dashboard at 390 px is shot above)
    page.goto(f"{live_server}/projects/{largest.id}")
    expect(page.get_by_test_id("health")).to_be_visible()
    _shot(page, f"project-390-{backend}")
    page.goto(f"{live_server}/timesheets")
    expect(page.get_by_test_id("week-label")).to_be_visible()
    _shot(page, f"grid-390-{backend}")
    _assert_clean(page, live_server)
