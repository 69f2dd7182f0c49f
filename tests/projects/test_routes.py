"""The project pages: creating a project, moving its tasks, the success plan, comments, files, the
activity feed and the timeline, each through the pages as a user would."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from psa.core.models import AuditEvent
from psa.extensions import db
from psa.projects.models import Attachment, Comment, Milestone, Project, SuccessCriterion, Task
from tests.admin.helpers import field_errors, row_count
from tests.conftest import login_as, post_form
from tests.projects.helpers import ONBOARDING, build_template, create_project

#: A Saturday: K, the kickoff moved to a working day, is Monday 2030-01-07.
SATURDAY = date(2030, 1, 5)
#: A holiday the plan has to step over.
HOLIDAY = date(2030, 1, 16)
SVG = "{http://www.w3.org/2000/svg}"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _tasks(app, project_id: int) -> dict[str, Task]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Task).where(Task.project_id == project_id)).all()
        for row in rows:
            db.session.expunge(row)
        return {t.name: t for t in rows}


def _milestones(app, project_id: int) -> dict[str, Milestone]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project_id)).all()
        for row in rows:
            db.session.expunge(row)
        return {m.name: m for m in rows}


def _testid(page: str, testid: str) -> list[str]:
    """The text inside every element carrying data-testid="testid" (elements without nested tags)."""
    return [re.sub(r"<[^>]+>", "", text).strip()
            for text in re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)]


def _task_post(task_id: int, **fields) -> dict:
    """The task's edit form (/projects/<id>/tasks/<task_id>/edit) as it sends it, with the given changes."""
    values = {"status": "todo", "due_date": "", "assignee_id": "0", "blocked_reason": "", "shift_successors": "y"}
    values.update(fields)
    if values["shift_successors"] is None:
        del values["shift_successors"]  # an unchecked box is not sent
    return {f"task-{task_id}-{name}": value for name, value in values.items()}


@pytest.fixture
def team(app, make):
    """A manager, two consultants, an account, the holiday, and the onboarding template published."""
    make.holiday(day=HOLIDAY, name="Founders' day")
    return {
        "manager": make.user(role="manager", name="Mia Manager"),
        "consultant": make.user(role="consultant", name="Carl Consultant"),
        "outsider": make.user(role="consultant", name="Olga Outsider"),
        "account": make.account(name="Acme Corp"),
        "version_id": build_template(app, ONBOARDING),
    }


@pytest.fixture
def project(app, team):
    """The onboarding project kicked off on a Saturday, with the first consultant as a member."""
    return create_project(app, team["version_id"], team["manager"].id, team["account"].id, SATURDAY,
                          member_ids=(team["consultant"].id,), contract_signed_date=date(2029, 12, 20))


# --- 1. creating a project -----------------------------------------------------------------------


def test_creating_a_project_from_a_template_through_the_form_computes_working_day_dates(app, client, team):
    manager, consultant = team["manager"], team["consultant"]
    login_as(client, manager)
    form_page = client.get("/projects/new").get_data(as_text=True)
    assert "Blank project" in form_page and f'value="{team["version_id"]}"' in form_page

    response = post_form(client, "/projects/new", {
        "account_id": team["account"].id, "template_version_id": team["version_id"], "name": "  Acme onboarding ",
        "kickoff_date": "2030-01-05", "contract_signed_date": "2029-12-20", "target_go_live_date": "",
        "manager_id": manager.id, "member_ids": [consultant.id], "billing_model": "fixed_fee",
        "fee_amount": "25000.00", "budget_hours": "30",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        project = db.session.scalar(sa.select(Project))
        member_ids = set(db.session.scalars(sa.text(
            "SELECT user_id FROM project_members WHERE project_id = :p"), {"p": project.id}))
        project_id, name, go_live, budget = (project.id, project.name, project.target_go_live_date,
                                             project.budget_minutes)
        version_id = project.template_version_id
    assert response.headers["Location"].endswith(f"/projects/{project_id}")
    assert name == "Acme onboarding" and version_id == team["version_id"] and budget == 30 * 60
    assert member_ids == {manager.id, consultant.id}  # the manager is always a member

    # Worked out by hand. Kickoff Sat 2030-01-05, so K = Mon 01-07; Wed 01-16 is a holiday.
    # Working days after K: 08(1) 09(2) 10(3) 11(4) 14(5) 15(6) 17(7) 18(8) 21(9) 22(10).
    expected_tasks = {
        "Kickoff call": ("2030-01-07", "2030-01-07"),  # K + 0, one day: due the day it starts
        "Configure": ("2030-01-08", "2030-01-10"),     # K + 1, three days: 08, 09, 10
        "Train users": ("2030-01-14", "2030-01-17"),   # K + 5, three days: 14, 15, (16 off) 17
        "Go live": ("2030-01-22", "2030-01-22"),       # K + 10
    }
    tasks = _tasks(app, project_id)
    for task_name, (start, due) in expected_tasks.items():
        task = tasks[task_name]
        assert (_iso(task.start_date), _iso(task.due_date)) == (start, due), task_name
        assert (task.baseline_start_date, task.baseline_due_date) == (task.start_date, task.due_date), task_name
    assert tasks["Kickoff call"].assignee_id == manager.id  # the template gives it to the manager
    milestones = _milestones(app, project_id)
    assert {n: (_iso(m.baseline_due_date), _iso(m.due_date)) for n, m in milestones.items()} == {
        "Kickoff": ("2030-01-10", "2030-01-10"), "Go-live": ("2030-01-22", "2030-01-22")}
    assert go_live == date(2030, 1, 22)  # left empty: the last milestone's due date

    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert _testid(page, "kickoff") == ["2030-01-05"] and _testid(page, "go-live") == ["2030-01-22"]
    assert _testid(page, "manager") == ["Mia Manager"] and _testid(page, "health") == ["On track"]
    with app.app_context():
        from psa.projects.services import org_today

        days = (org_today() - date(2029, 12, 20)).days
    # time to value so far counts from the contract signed date; forecast: Go-live (first value) 2030-01-22
    assert _testid(page, "time-to-value") == [f"{days} days so far · forecast 33 days"]


BAD_INPUT = [
    pytest.param({"kickoff_date": "next tuesday"}, "kickoff_date", "Enter a date as YYYY-MM-DD.", id="date-not-a-date"),
    pytest.param({"contract_signed_date": "2030-02-30"}, "contract_signed_date", "Enter a date as YYYY-MM-DD.",
                 id="impossible-date"),
    pytest.param({"account_id": "999999"}, "account_id", "Choose an existing customer account.", id="unknown-account"),
    pytest.param({"account_id": "acme"}, "account_id", "Choose an existing customer account.", id="account-not-an-id"),
    pytest.param({"fee_amount": "-1"}, "fee_amount", "Enter an amount from 0 to 999,999,999,999.99.",
                 id="fee-below-zero"),
    pytest.param({"name": "   "}, "name", "Give the project a name.", id="empty-name"),
    pytest.param({"template_version_id": "424242"}, "template_version_id",
                 "Choose a published template, or Blank project.", id="unknown-template"),
    pytest.param({"manager_id": "CONSULTANT"}, "manager_id", "Choose an active manager, leader or admin.",
                 id="consultant-as-manager"),
    pytest.param({"billing_model": "fixed_fee", "fee_amount": ""}, "fee_amount", "A fixed-fee project needs its fee.",
                 id="fixed-fee-without-fee"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_on_the_project_form_answers_at_the_field_and_creates_nothing(app, client, team, change, field,
                                                                                 message):
    login_as(client, team["manager"])
    data = {"account_id": team["account"].id, "template_version_id": team["version_id"], "name": "Acme onboarding",
            "kickoff_date": "2030-01-05", "contract_signed_date": "2029-12-20", "manager_id": team["manager"].id,
            "member_ids": [team["consultant"].id], "billing_model": "fixed_fee", "fee_amount": "1000"}
    data.update({k: (team["consultant"].id if v == "CONSULTANT" else v) for k, v in change.items()})
    response = post_form(client, "/projects/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in field_errors(page, field)
    for model in (Project, Milestone, Task, SuccessCriterion):
        assert row_count(app, model) == 0


def test_a_blank_project_starts_empty_with_empty_states(app, client, team):
    login_as(client, team["manager"])
    response = post_form(client, "/projects/new", {
        "account_id": team["account"].id, "template_version_id": "0", "name": "Custom work",
        "kickoff_date": "2030-03-04", "manager_id": team["manager"].id, "billing_model": "time_and_materials"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No milestones yet" in page and "No success criteria yet" in page and "No comments yet" in page
    assert "No files yet" in page and 'data-testid="timeline"' not in page
    assert _testid(page, "go-live") == ["2030-03-04"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and " style=" not in page


def test_the_details_are_edited_through_update_project(app, client, team, project):
    login_as(client, team["manager"])
    form_page = client.get(f"/projects/{project['id']}/edit").get_data(as_text=True)
    assert 'value="30.00"' not in form_page and "Acme Corp" in form_page
    response = post_form(client, f"/projects/{project['id']}/edit", {
        "account_id": team["account"].id, "name": "Acme, phase 1", "kickoff_date": "2030-01-05",
        "contract_signed_date": "", "target_go_live_date": "2030-02-01", "manager_id": team["manager"].id,
        "member_ids": [team["consultant"].id, team["outsider"].id], "billing_model": "time_and_materials",
        "fee_amount": "", "budget_hours": "12.5", "status": "on_hold"})
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(Project, project["id"])
        assert (saved.name, saved.status, saved.budget_minutes, saved.target_go_live_date) == (
            "Acme, phase 1", "on_hold", 750, date(2030, 2, 1))
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "Olga Outsider" in page and _testid(page, "project-status") == ["On hold"]

    refused = post_form(client, f"/projects/{project['id']}/edit", {
        "account_id": team["account"].id, "name": "Acme", "kickoff_date": "2030-01-05",
        "contract_signed_date": "2030-02-01", "manager_id": team["manager"].id, "billing_model": "non_billable",
        "status": "active"})
    assert refused.status_code == 400
    assert field_errors(refused.get_data(as_text=True), "contract_signed_date") == [
        "The contract is signed on or before kickoff."]


# --- 2. moving tasks -----------------------------------------------------------------------------


def test_moving_a_due_date_later_shifts_successors_by_the_same_working_days(app, client, team, project):
    configure = project["tasks"]["Configure"]
    login_as(client, team["consultant"])  # a member of the team moves it
    response = post_form(client, f"/projects/tasks/{configure}",
                         _task_post(configure, status="in_progress", due_date="2030-01-14"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/projects/{project['id']}#task-{configure}")

    # 01-10 → 01-14 is two working days later (Fri 11, Mon 14); successors move two working days,
    # stepping over the holiday on 01-16.
    tasks = _tasks(app, project["id"])
    assert (_iso(tasks["Configure"].due_date), tasks["Configure"].status) == ("2030-01-14", "in_progress")
    assert (_iso(tasks["Train users"].start_date), _iso(tasks["Train users"].due_date)) == ("2030-01-17", "2030-01-21")
    assert (_iso(tasks["Go live"].start_date), _iso(tasks["Go live"].due_date)) == ("2030-01-24", "2030-01-24")
    assert _iso(tasks["Kickoff call"].due_date) == "2030-01-07"  # a predecessor does not move
    baselines = {n: (_iso(t.baseline_start_date), _iso(t.baseline_due_date)) for n, t in tasks.items()}
    assert baselines == {"Kickoff call": ("2030-01-07", "2030-01-07"), "Configure": ("2030-01-08", "2030-01-10"),
                         "Train users": ("2030-01-14", "2030-01-17"), "Go live": ("2030-01-22", "2030-01-22")}
    go_live = _milestones(app, project["id"])["Go-live"]
    assert (_iso(go_live.baseline_due_date), _iso(go_live.due_date)) == ("2030-01-22", "2030-01-22")
    assert (_iso(go_live.forecast_date), go_live.slip_days) == ("2030-01-24", 2)

    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    feed = " ".join(_activity(page))
    assert ("Carl Consultant changed the status of Configure from To do to In progress, moved its due date "
            "from 2030-01-10 to 2030-01-14, and unassigned it (was Carl Consultant)") in feed
    assert ("Carl Consultant moved Train users' start date from 2030-01-14 to 2030-01-17, and moved its due date "
            "from 2030-01-17 to 2030-01-21, following its predecessor") in feed
    assert "Carl Consultant moved Go live's start date" in feed
    assert _testid(page, "health") == ["At risk"]  # the go-live milestone now slips


def _activity(page: str) -> list[str]:
    items = re.findall(r'<li class="border-top py-2" data-testid="activity">(.*?)</li>', page, re.S)
    items = [re.sub(r"</?a\b[^>]*>", "", item) for item in items]  # a linked name reads as its text
    return [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()) for item in items]


def test_with_the_box_unchecked_moving_a_due_date_shifts_nothing(app, client, team, project):
    configure = project["tasks"]["Configure"]
    login_as(client, team["manager"])
    response = post_form(client, f"/projects/tasks/{configure}",
                         _task_post(configure, due_date="2030-01-14", shift_successors=None))
    assert response.status_code == 302
    tasks = _tasks(app, project["id"])
    assert _iso(tasks["Configure"].due_date) == "2030-01-14"
    assert (_iso(tasks["Train users"].start_date), _iso(tasks["Train users"].due_date)) == ("2030-01-14", "2030-01-17")
    assert _iso(tasks["Go live"].due_date) == "2030-01-22"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "task.shifted")) == 0


def test_the_shift_box_is_checked_by_default(app, client, team, project):
    login_as(client, team["manager"])
    configure = project["tasks"]["Configure"]
    edit_url = f"/projects/{project['id']}/tasks/{configure}/edit"
    assert f'href="{edit_url}"' in client.get(f"/projects/{project['id']}").get_data(as_text=True)
    page = client.get(edit_url).get_data(as_text=True)
    box = re.search(rf'<input[^>]*name="task-{configure}-shift_successors"[^>]*>', page).group(0)
    assert "checked" in box
    assert "Shift successors by the same working days" in page


def test_the_project_page_lists_tasks_read_only_and_one_page_edits_a_task_with_its_values(
        app, client, team, project):
    """No form per task on the project page: each row links to the task's own edit page, filled in."""
    configure, call = project["tasks"]["Configure"], project["tasks"]["Kickoff call"]
    login_as(client, team["consultant"])
    assert post_form(client, f"/projects/tasks/{configure}",
                     _task_post(configure, status="blocked", due_date="2030-01-10", blocked_reason="Waiting",
                                assignee_id=team["consultant"].id)).status_code == 302
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert f'name="task-{configure}-status"' not in page and "shift_successors" not in page
    assert page.count('action="/projects/tasks/') == 0
    for task_id in project["tasks"].values():
        assert page.count(f'href="/projects/{project["id"]}/tasks/{task_id}/edit"') == 1

    edit = client.get(f"/projects/{project['id']}/tasks/{configure}/edit")
    assert edit.status_code == 200
    html = edit.get_data(as_text=True)
    assert f'action="/projects/tasks/{configure}"' in html and "Configure" in html and "after Kickoff call" in html
    assert _selected(html, f"task-{configure}-status") == "blocked"
    assert _selected(html, f"task-{configure}-assignee_id") == str(team["consultant"].id)
    assert re.search(rf'name="task-{configure}-due_date"[^>]*value="2030-01-10"', html)
    assert re.search(rf'name="task-{configure}-blocked_reason"[^>]*value="Waiting"', html)
    # the edit page of a task answers only under its own project
    assert client.get(f"/projects/{project['id'] + 1}/tasks/{call}/edit").status_code == 404
    assert client.get(f"/projects/{project['id']}/tasks/999999/edit").status_code == 404
    outsider = app.test_client()
    login_as(outsider, team["outsider"])
    assert outsider.get(f"/projects/{project['id']}/tasks/{call}/edit").status_code == 404


def _selected(page: str, name: str) -> str:
    """The value of the selected option of the select named `name`."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.search(r'<option(?=[^>]*\bselected\b)[^>]*value="([^"]*)"', select).group(1)


def test_blocked_without_a_reason_is_refused_at_the_field(app, client, team, project):
    configure = project["tasks"]["Configure"]
    login_as(client, team["consultant"])
    with app.app_context():
        events = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    response = post_form(client, f"/projects/tasks/{configure}",
                         _task_post(configure, status="blocked", due_date="2030-01-14", blocked_reason="  "))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(page, f"task-{configure}-blocked_reason") == ["Say why the task is blocked."]
    assert "Task “Configure” was not saved" in page and f'href="#task-{configure}"' in page
    tasks = _tasks(app, project["id"])
    assert (tasks["Configure"].status, _iso(tasks["Configure"].due_date)) == ("todo", "2030-01-10")
    assert _iso(tasks["Train users"].due_date) == "2030-01-17"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == events

    blocked = post_form(client, f"/projects/tasks/{configure}",
                        _task_post(configure, status="blocked", due_date="2030-01-10",
                                   blocked_reason="Waiting for SSO metadata", assignee_id=team["consultant"].id))
    assert blocked.status_code == 302
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "Blocked: Waiting for SSO metadata" in page
    tasks = _tasks(app, project["id"])
    assert (tasks["Configure"].status, tasks["Configure"].assignee_id) == ("blocked", team["consultant"].id)


def test_a_task_refuses_an_assignee_from_outside_the_project_and_a_bad_date(app, client, team, project):
    configure = project["tasks"]["Configure"]
    login_as(client, team["manager"])
    response = post_form(client, f"/projects/tasks/{configure}",
                         _task_post(configure, due_date="2030-13-01", assignee_id=team["outsider"].id))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(page, f"task-{configure}-due_date") == ["Enter a date as YYYY-MM-DD."]
    assert field_errors(page, f"task-{configure}-assignee_id") == ["Choose a member of the project."]
    before_start = post_form(client, f"/projects/tasks/{configure}", _task_post(configure, due_date="2030-01-01"))
    assert field_errors(before_start.get_data(as_text=True), f"task-{configure}-due_date") == [
        "The due date cannot be before the task starts (2030-01-08)."]


# --- 3. completing a milestone -------------------------------------------------------------------


def test_completing_all_tasks_of_a_milestone_marks_it_done_and_moves_progress(app, client, team, project):
    login_as(client, team["consultant"])
    url = f"/projects/{project['id']}"
    page = client.get(url).get_data(as_text=True)
    assert _testid(page, "progress") == ["0 %"]
    assert _testid(page, "milestone-status") == ["To do", "To do"]

    call, configure = project["tasks"]["Kickoff call"], project["tasks"]["Configure"]
    assert post_form(client, f"/projects/tasks/{call}",
                     _task_post(call, status="done", due_date="2030-01-07")).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert _testid(page, "progress") == ["8 %"]  # 2 h of 24 h
    assert _testid(page, "milestone-status") == ["In progress", "To do"]

    assert post_form(client, f"/projects/tasks/{configure}",
                     _task_post(configure, status="done", due_date="2030-01-10")).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert _testid(page, "progress") == ["50 %"]  # 12 h of 24 h
    assert _testid(page, "milestone-status") == ["Done", "To do"]
    kickoff = _milestones(app, project["id"])["Kickoff"]
    assert kickoff.status == "done" and kickoff.completed_at is not None
    assert "Carl Consultant changed the status of Kickoff from In progress to Done" in " ".join(_activity(page))


def test_a_milestone_without_tasks_is_marked_done_by_hand_and_one_with_tasks_is_not(app, client, team, project):
    login_as(client, team["manager"])
    response = post_form(client, f"/projects/{project['id']}/milestones",
                         {"new-milestone-name": "Hypercare", "new-milestone-due_date": "2030-02-15"})
    assert response.status_code == 302
    hypercare = _milestones(app, project["id"])["Hypercare"]
    assert (_iso(hypercare.baseline_due_date), _iso(hypercare.due_date)) == ("2030-02-15", "2030-02-15")
    done = post_form(client, f"/projects/milestones/{hypercare.id}",
                     {f"milestone-{hypercare.id}-due_date": "2030-02-18", f"milestone-{hypercare.id}-status": "done"})
    assert done.status_code == 302
    hypercare = _milestones(app, project["id"])["Hypercare"]
    assert (hypercare.status, _iso(hypercare.due_date), _iso(hypercare.baseline_due_date)) == (
        "done", "2030-02-18", "2030-02-15")

    kickoff = project["milestones"]["Kickoff"]
    refused = post_form(client, f"/projects/milestones/{kickoff}",
                        {f"milestone-{kickoff}-due_date": "2030-01-10", f"milestone-{kickoff}-status": "done"})
    assert refused.status_code == 400
    assert field_errors(refused.get_data(as_text=True), f"milestone-{kickoff}-due_date") == []
    assert "This milestone is done when all its tasks are done." in refused.get_data(as_text=True)
    assert _milestones(app, project["id"])["Kickoff"].status == "todo"


def test_a_task_is_added_to_a_milestone_from_the_page(app, client, team, project):
    login_as(client, team["manager"])
    go_live = project["milestones"]["Go-live"]
    response = post_form(client, f"/projects/{project['id']}/tasks", {
        "new-task-milestone_id": go_live, "new-task-name": "Cut-over rehearsal", "new-task-start_date": "2030-01-19",
        "new-task-duration_days": "2", "new-task-estimated_hours": "6", "new-task-assignee_role": "consultant",
        "new-task-visibility": "shared"})
    assert response.status_code == 302
    task = _tasks(app, project["id"])["Cut-over rehearsal"]
    # a Saturday start moves to Monday 01-21; two days end on 01-22
    assert (_iso(task.start_date), _iso(task.due_date), task.estimated_minutes, task.milestone_id) == (
        "2030-01-21", "2030-01-22", 360, go_live)
    refused = post_form(client, f"/projects/{project['id']}/tasks", {
        "new-task-milestone_id": "0", "new-task-name": "", "new-task-start_date": "soon",
        "new-task-duration_days": "0"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert field_errors(page, "new-task-milestone_id") == ["Choose a milestone of this project."]
    assert field_errors(page, "new-task-start_date") == ["Enter a date as YYYY-MM-DD."]
    assert field_errors(page, "new-task-duration_days") == ["Enter 1 or more working days."]


# --- success plan, comments ----------------------------------------------------------------------


def test_the_success_plan_is_added_to_and_edited_row_by_row(app, client, team, project):
    login_as(client, team["manager"])
    url = f"/projects/{project['id']}"
    added = post_form(client, f"{url}/criteria", {
        "new-criterion-outcome": "Faster month-end close", "new-criterion-metric": "Days to close",
        "new-criterion-baseline": "10", "new-criterion-target": "5", "new-criterion-current_value": "",
        "new-criterion-due_date": "2030-06-30", "new-criterion-status": "not_started"})
    assert added.status_code == 302
    with app.app_context():
        criterion_id = db.session.scalar(sa.select(SuccessCriterion.id))
    edited = post_form(client, f"/projects/criteria/{criterion_id}", {
        f"criterion-{criterion_id}-outcome": "Faster month-end close", f"criterion-{criterion_id}-metric": "Days to close",
        f"criterion-{criterion_id}-baseline": "10", f"criterion-{criterion_id}-target": "5",
        f"criterion-{criterion_id}-current_value": "7", f"criterion-{criterion_id}-due_date": "2030-06-30",
        f"criterion-{criterion_id}-status": "on_track"})
    assert edited.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Faster month-end close" in page and "On track" in page
    assert ("set the current value of Faster month-end close to “7”, and changed its status from Not started to "
            "On track") in " ".join(_activity(page))

    refused = post_form(client, f"/projects/criteria/{criterion_id}", {
        f"criterion-{criterion_id}-outcome": "", f"criterion-{criterion_id}-due_date": "June",
        f"criterion-{criterion_id}-status": "on_track"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert field_errors(page, f"criterion-{criterion_id}-due_date") == ["Enter a date as YYYY-MM-DD."]
    assert f'action="/projects/criteria/{criterion_id}"' in page  # the refused criterion's form is shown again
    # a criterion's form is shown when its Edit link is followed, and only then
    assert f'action="/projects/criteria/{criterion_id}"' not in client.get(url).get_data(as_text=True)
    editing = client.get(f"{url}?edit_criterion={criterion_id}").get_data(as_text=True)
    assert f'action="/projects/criteria/{criterion_id}"' in editing and 'value="Faster month-end close"' in editing
    outcome_missing = post_form(client, f"/projects/criteria/{criterion_id}", {
        f"criterion-{criterion_id}-outcome": " ", f"criterion-{criterion_id}-status": "on_track"})
    assert field_errors(outcome_missing.get_data(as_text=True), f"criterion-{criterion_id}-outcome") == [
        "Describe the outcome in at most 200 characters."]
    with app.app_context():
        assert db.session.get(SuccessCriterion, criterion_id).current_value == "7"


def test_comments_are_internal_or_shared_and_listed_newest_first(app, client, team, project):
    login_as(client, team["consultant"])
    url = f"/projects/{project['id']}"
    for body, visibility in (("Kickoff went well.", "internal"), ("Training slides attached.", "shared")):
        response = post_form(client, f"{url}/comments", {"comment-body": body, "comment-visibility": visibility})
        assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    comments = re.findall(r'data-testid="comment">(.*?)</li>', page, re.S)
    assert len(comments) == 2
    assert "Training slides attached." in comments[0] and "Shared" in comments[0]
    assert "Kickoff went well." in comments[1] and "Internal" in comments[1] and "Carl Consultant" in comments[1]
    empty = post_form(client, f"{url}/comments", {"comment-body": "  ", "comment-visibility": "internal"})
    assert empty.status_code == 400
    assert field_errors(empty.get_data(as_text=True), "comment-body") == ["Write something first."]
    assert row_count(app, Comment) == 2


# --- 4. a fixed number of statements -------------------------------------------------------------


def _fill(app, project: dict, user_id: int, comments: int, files: int, criteria: int, moves: int) -> None:
    from psa.auth.models import User
    from psa.projects import services

    with app.app_context():
        user = db.session.get(User, user_id)
        loaded = db.session.get(Project, project["id"])
        for i in range(comments):
            services.add_comment(user, loaded, body=f"Comment {i}", visibility="shared" if i % 2 else "internal")
        task_ids = list(project["tasks"].values())
        for i in range(files):
            services.add_attachment(user, loaded, filename=f"notes-{i}.txt", data=b"x" * (i + 1),
                                    task=db.session.get(Task, task_ids[i % len(task_ids)]) if i % 2 else None)
        for i in range(criteria):
            services.save_criterion(user, loaded, outcome=f"Outcome {i}", metric="Metric", target="10",
                                    status="on_track")
        for task_id in task_ids[:moves]:
            task = db.session.get(Task, task_id)
            services.update_task(user, task, status="in_progress", assignee=user)
        db.session.commit()


def test_the_project_page_runs_as_many_statements_for_a_large_project_as_for_a_small_one(
        app, client, make, count_queries):
    from tests.projects.helpers import grid

    manager, consultant = make.user(role="manager"), make.user(role="consultant")
    others = [make.user(role="consultant").id for _ in range(5)]
    account = make.account()
    small = create_project(app, build_template(app, grid(2, 2), criteria=({"outcome": "Adoption"},)),
                           manager.id, account.id, SATURDAY, member_ids=(consultant.id,))
    large = create_project(app, build_template(app, grid(10, 10)), manager.id, account.id, SATURDAY,
                           member_ids=(consultant.id, *others))
    _fill(app, small, consultant.id, comments=1, files=1, criteria=1, moves=1)
    _fill(app, large, consultant.id, comments=30, files=12, criteria=8, moves=40)

    login_as(client, consultant)
    assert client.get(f"/projects/{small['id']}").status_code == 200  # warm-up
    with count_queries() as few:
        small_page = client.get(f"/projects/{small['id']}")
    with count_queries() as many:
        large_page = client.get(f"/projects/{large['id']}")
    assert small_page.status_code == large_page.status_code == 200
    small_html, large_html = small_page.get_data(as_text=True), large_page.get_data(as_text=True)
    assert small_html.count('data-testid="task-row"') == 4 and large_html.count('data-testid="task-row"') == 100
    assert large_html.count('data-testid="comment"') == 30 and large_html.count('data-testid="attachment"') == 12
    assert large_html.count('data-testid="criterion-row"') == 8
    assert large_html.count('data-testid="activity"') == 50  # the newest 50
    assert len(few) == len(many), "\n".join(["small project:", *few, "", "large project:", *many])
    assert len(many) <= 18, "\n".join(many)  # 17: the customer side (contacts and their ratings), issue 13; 18: the open escalations, issue 14


# --- 5. who sees a project, and its files --------------------------------------------------------


def test_a_consultant_outside_the_project_gets_404_and_a_member_gets_the_page_and_its_files(
        app, client, team, project):
    from psa.auth.models import User
    from psa.projects import services

    with app.app_context():
        attachment = services.add_attachment(db.session.get(User, team["manager"].id),
                                             db.session.get(Project, project["id"]), filename="SOW v2.pdf",
                                             data=b"%PDF-1.4 statement of work")
        db.session.commit()
        attachment_id = attachment.id

    login_as(client, team["outsider"])
    assert client.get(f"/projects/{project['id']}").status_code == 404
    assert client.get(f"/projects/attachments/{attachment_id}").status_code == 404
    configure = project["tasks"]["Configure"]
    assert post_form(client, f"/projects/tasks/{configure}",
                     _task_post(configure, status="done", due_date="2030-01-10")).status_code == 404
    assert post_form(client, f"/projects/{project['id']}/comments",
                     {"comment-body": "Hi", "comment-visibility": "internal"}).status_code == 404
    assert _tasks(app, project["id"])["Configure"].status == "todo" and row_count(app, Comment) == 0
    assert client.get("/projects/999999").status_code == 404
    assert client.get("/projects/attachments/999999").status_code == 404

    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                                         client.get("/").get_data(as_text=True)).group(1)})
    login_as(client, team["consultant"])
    page = client.get(f"/projects/{project['id']}")
    assert page.status_code == 200 and "SOW v2.pdf" in page.get_data(as_text=True)
    download = client.get(f"/projects/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "SOW" in download.headers["Content-Disposition"]
    assert download.data == b"%PDF-1.4 statement of work"


def test_uploads_over_the_size_limit_or_of_a_refused_type_are_refused_at_the_field(app, client, team, project):
    from io import BytesIO

    from psa.projects.services import ATTACHMENT_MAX_BYTES

    login_as(client, team["consultant"])
    url = f"/projects/{project['id']}/attachments"
    too_big = post_form(client, url, {"attachment-file": (BytesIO(b"x" * (ATTACHMENT_MAX_BYTES + 1)), "big.pdf"),
                                      "attachment-task_id": "0"}, content_type="multipart/form-data")
    assert too_big.status_code == 400
    assert field_errors(too_big.get_data(as_text=True), "attachment-file") == ["A file can be at most 10 MB."]
    refused = post_form(client, url, {"attachment-file": (BytesIO(b"MZ..."), "setup.exe"), "attachment-task_id": "0"},
                        content_type="multipart/form-data")
    assert refused.status_code == 400
    assert field_errors(refused.get_data(as_text=True), "attachment-file")[0].startswith("Allowed types: csv, docx")
    missing = post_form(client, url, {"attachment-task_id": "0"}, content_type="multipart/form-data")
    assert field_errors(missing.get_data(as_text=True), "attachment-file") == ["Choose a file."]
    assert row_count(app, Attachment) == 0

    configure = project["tasks"]["Configure"]
    ok = post_form(client, url, {"attachment-file": (BytesIO(b"a,b\n1,2\n"), "../../etc/users.csv"),
                                 "attachment-task_id": str(configure)}, content_type="multipart/form-data")
    assert ok.status_code == 302
    with app.app_context():
        stored = db.session.scalar(sa.select(Attachment))
        assert (stored.original_name, stored.task_id, stored.content_type, stored.size_bytes) == (
            "users.csv", configure, "text/csv", 8)
        assert "/" not in stored.stored_name and stored.stored_name != "users.csv"
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "users.csv" in page and "Configure" in re.search(r'data-testid="attachment">(.*?)</li>', page, re.S).group(1)


# --- 6. the timeline -----------------------------------------------------------------------------


def _svg(page: str) -> ET.Element:
    match = re.search(r'<svg\b[^>]*data-testid="timeline".*?</svg>', page, re.S)
    assert match, "no timeline on the page"
    return ET.fromstring(match.group(0))


def test_the_timeline_draws_one_row_per_milestone_and_a_today_line(app, client, team):
    from psa.projects.services import org_today

    with app.app_context():
        today = org_today()
    project = create_project(app, team["version_id"], team["manager"].id, team["account"].id,
                             today - timedelta(days=7))
    login_as(client, team["manager"])
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    svg = _svg(page)
    width = float(svg.get("viewBox").split()[2])
    rows = [g for g in svg.iter(f"{SVG}g") if g.get("data-testid") == "timeline-row"]
    assert len(rows) == 2
    labels = [next(t for t in row.iter(f"{SVG}text")).text for row in rows]
    assert labels == ["Kickoff", "Go-live"]
    for row in rows:  # each row carries its three markers
        testids = {element.get("data-testid") for element in row.iter()}
        assert {"timeline-baseline", "timeline-due", "timeline-forecast"} <= testids
    today_group = next(g for g in svg.iter(f"{SVG}g") if g.get("data-testid") == "timeline-today")
    line = today_group.find(f"{SVG}line")
    assert line.get("x1") == line.get("x2") and 0 < float(line.get("x1")) < width
    assert float(line.get("y2")) > float(line.get("y1"))
    assert any(t.text == "Today" for t in today_group.iter(f"{SVG}text"))
    # kickoff a week ago, go-live later: today lies between the first and the last due marker
    due_x = [float(next(c for c in row.iter(f"{SVG}circle")).get("cx")) for row in rows]
    assert due_x[0] < float(line.get("x1")) < due_x[1]
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("data-testid") == "timeline-legend")
    assert {t.text for t in legend.iter(f"{SVG}text")} >= {"Baseline due", "Current due", "Today"}


def test_pages_carry_no_inline_script_or_style(app, client, team, project):
    login_as(client, team["manager"])
    for path in (f"/projects/{project['id']}", "/projects/new", f"/projects/{project['id']}/edit"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
