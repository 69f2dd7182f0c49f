"""The approval queue and the timesheet state machine through the pages: every legal transition works,
every illegal one answers 409 with nothing changed, rejecting needs a reason and notifies, only a
week's approvers decide it (403 for anyone else), and the queue's query budget."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.models import AuditEvent, Notification
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.models import Timesheet
from tests.admin.helpers import field_errors
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_grid_routes import _other_project, _testid


def _week_in(app, state: str, user_id: int, approver_id: int, rows, monday=MONDAY) -> int:
    """A week of the user's, put into `state` through the services; returns its id.
    rows: [(project id, task id, billable, {day offset: "1:30"})] or ("off", kind, {offset: text})."""
    with app.app_context():
        user, approver = db.session.get(User, user_id), db.session.get(User, approver_id)
        grid = []
        for row in rows:
            cells = {monday + timedelta(days=i): ts.GridCell(text) for i, text in row[-1].items()}
            if row[0] == "off":
                grid.append(ts.GridRow(time_off_kind=row[1], cells=cells))
            else:
                grid.append(ts.GridRow(project_id=row[0], task_id=row[1], billable=row[2], cells=cells))
        ts.save_week(user, user, monday, grid)
        sheet = ts.get_timesheet(user, monday)
        if state in ("submitted", "approved", "rejected"):
            ts.submit_timesheet(user, sheet)
        if state == "approved":
            ts.approve_timesheet(approver, sheet)
        if state == "rejected":
            ts.reject_timesheet(approver, sheet, "Missing Friday")
        db.session.commit()
        return sheet.id


def _sheet(app, sheet_id: int) -> Timesheet:
    with app.app_context():
        sheet = db.session.get(Timesheet, sheet_id)
        db.session.expunge(sheet)
        return sheet


def _count(app, model, **where) -> int:
    with app.app_context():
        stmt = sa.select(sa.func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return db.session.scalar(stmt)


def _client(app, user):
    client = app.test_client()
    login_as(client, user)
    return client


@pytest.fixture
def people(app, make, staffed):
    consultant, manager, project_id, task_id = staffed
    return {"consultant": consultant, "manager": manager, "leader": make.user(role="leader", name="Lee Leader"),
            "admin": make.user(role="admin", name="Ada Admin"), "project_id": project_id, "task_id": task_id}


# --- the queue -----------------------------------------------------------------------------------------


def test_the_queue_shows_each_submitted_week_with_hours_per_project_and_billable_share(app, make, people):
    consultant, manager = people["consultant"], people["manager"]
    globex_id, _ = _other_project(app, make, manager.id, members=(consultant.id,))
    _week_in(app, "submitted", consultant.id, manager.id, [
        (people["project_id"], people["task_id"], True, {0: "4", 1: "2"}),
        (people["project_id"], None, False, {2: "2"}),
        (globex_id, None, True, {3: "1:30", 4: "0:30"}),
        ("off", "vacation", {4: "4"}),
    ])
    _week_in(app, "draft", consultant.id, manager.id, [(people["project_id"], None, True, {0: "1"})],
             monday=MONDAY + timedelta(days=7))  # drafts wait in nobody's queue
    stranger = make.user(role="consultant", name="Sam Stranger")  # no approver: leaders and admins only
    _week_in(app, "submitted", stranger.id, manager.id, [("off", "sick", {0: "8"})])

    html = _client(app, manager).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(html, "queue-user") == ["Cleo Consultant"]
    assert _testid(html, "queue-total") == ["10:00"]
    assert _testid(html, "queue-billable") == ["80 %"]  # 8 of 10 hours
    assert _testid(html, "queue-off") == ["4:00"]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r'data-testid="queue-project">(.*?)</tr>', html, re.S)]
    assert rows == ["Acme – Acme onboarding 8:00 6:00", "Globex rollout Inc – Globex rollout 2:00 2:00"]
    assert "Recently approved" not in html  # managers do not reopen

    leader_html = _client(app, people["leader"]).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(leader_html, "queue-user") == ["Cleo Consultant", "Sam Stranger"]
    assert "only time off" in leader_html
    assert "No approved weeks yet" in leader_html


def test_empty_queues_say_so(app, make, people):
    html = _client(app, people["manager"]).get("/timesheets/approvals").get_data(as_text=True)
    assert "Nothing to approve" in html and 'data-testid="empty-state"' in html


def test_consultants_get_403_on_the_queue_and_its_actions_and_managers_on_reopen(app, people):
    sheet_id = _week_in(app, "submitted", people["consultant"].id, people["manager"].id,
                        [(people["project_id"], None, True, {0: "1"})])
    consultant = _client(app, people["consultant"])
    assert consultant.get("/timesheets/approvals").status_code == 403
    for action in ("approve", "reject", "reopen"):
        assert post_form(consultant, f"/timesheets/{sheet_id}/{action}", {"reason": "x"}).status_code == 403
    manager = _client(app, people["manager"])
    assert post_form(manager, f"/timesheets/{sheet_id}/reopen", {"reason": "x"}).status_code == 403
    assert _sheet(app, sheet_id).state == "submitted"


def test_the_nav_links_to_timesheets_and_to_approvals_for_approvers(app, people):
    consultant_nav = _client(app, people["consultant"]).get("/").get_data(as_text=True)
    assert 'href="/timesheets">Timesheets</a>' in consultant_nav and "/timesheets/approvals" not in consultant_nav
    manager_nav = _client(app, people["manager"]).get("/").get_data(as_text=True)
    assert 'href="/timesheets">Timesheets</a>' in manager_nav and 'href="/timesheets/approvals">Approvals</a>' in manager_nav
    assert manager_nav.index(">Templates</a>") < manager_nav.index(">Timesheets</a>") < manager_nav.index(">Approvals</a>")


# --- the state machine through the routes -----------------------------------------------------------------


def _act(app, people, action: str, sheet_id: int, reason: str = "Fix the hours"):
    """The action as the person who may take it does it on the page."""
    if action == "submit":
        return post_form(_client(app, people["consultant"]), f"/timesheets/submit?week={MONDAY.isoformat()}")
    who = people["leader"] if action == "reopen" else people["manager"]
    return post_form(_client(app, who), f"/timesheets/{sheet_id}/{action}", {"reason": reason})


LEGAL = [("draft", "submit", "submitted"), ("rejected", "submit", "submitted"), ("submitted", "approve", "approved"),
         ("submitted", "reject", "rejected"), ("approved", "reopen", "draft")]
ILLEGAL = [(state, action) for state in ("draft", "submitted", "approved", "rejected")
           for action in ("submit", "approve", "reject", "reopen")
           if (state, action) not in {(s, a) for s, a, _ in LEGAL}]


@pytest.mark.parametrize(("state", "action", "target"), LEGAL, ids=[f"{s}-{a}" for s, a, _ in LEGAL])
def test_every_legal_transition_works_through_the_pages(app, people, state, action, target):
    consultant = people["consultant"]
    sheet_id = _week_in(app, state, consultant.id, people["manager"].id, [(people["project_id"], None, True, {0: "1"})])
    notes_before = _count(app, Notification, user_id=consultant.id)
    response = _act(app, people, action, sheet_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/timesheets?week={MONDAY.isoformat()}" if action == "submit" else "/timesheets/approvals")
    assert _sheet(app, sheet_id).state == target
    if action in ("approve", "reject", "reopen"):  # the owner is told
        assert _count(app, Notification, user_id=consultant.id) == notes_before + 1
    if action == "reopen":
        with app.app_context():
            event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "timesheet.reopened"))
            assert event.actor_id == people["leader"].id and event.after["reason"] == "Fix the hours"


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_every_illegal_transition_answers_409_and_changes_nothing(app, people, state, action):
    consultant = people["consultant"]
    sheet_id = _week_in(app, state, consultant.id, people["manager"].id, [(people["project_id"], None, True, {0: "1"})])
    before = _sheet(app, sheet_id)
    audits, notes = _count(app, AuditEvent), _count(app, Notification)
    response = _act(app, people, action, sheet_id)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "<h1 class=\"h3\">Conflict</h1>" in html and 'data-testid="error-message"' in html
    after = _sheet(app, sheet_id)
    assert (after.state, after.decided_at, after.rejection_reason) == (before.state, before.decided_at,
                                                                       before.rejection_reason)
    assert (_count(app, AuditEvent), _count(app, Notification)) == (audits, notes)


def test_rejecting_needs_a_reason_and_the_owner_sees_it_on_the_grid(app, people):
    consultant = people["consultant"]
    sheet_id = _week_in(app, "submitted", consultant.id, people["manager"].id,
                        [(people["project_id"], None, True, {0: "1"})])
    manager = _client(app, people["manager"])
    for reason in ("", "   "):
        response = post_form(manager, f"/timesheets/{sheet_id}/reject", {"reason": reason})
        assert response.status_code == 400
        assert "Say why the week is rejected" in field_errors(response.get_data(as_text=True), "reason")[0]
    too_long = post_form(manager, f"/timesheets/{sheet_id}/reject", {"reason": "x" * 501})
    assert too_long.status_code == 400 and "at most 500" in too_long.get_data(as_text=True)
    assert 'x' * 501 in too_long.get_data(as_text=True)  # what was typed is kept
    assert _sheet(app, sheet_id).state == "submitted" and _count(app, Notification, user_id=consultant.id) == 0

    assert post_form(manager, f"/timesheets/{sheet_id}/reject", {"reason": "Friday is missing"}).status_code == 302
    assert _sheet(app, sheet_id).state == "rejected"
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == consultant.id))
        assert "Friday is missing" in note.message and note.link == f"/timesheets?week={MONDAY.isoformat()}"
    html = _client(app, consultant).get(f"/timesheets?week={MONDAY.isoformat()}").get_data(as_text=True)
    assert 'data-testid="state">Rejected' in html and "Friday is missing" in html
    assert 'data-testid="locked"' not in html and 'name="rows-0-project"' in html  # editable again


def test_reopening_needs_a_reason(app, people):
    sheet_id = _week_in(app, "approved", people["consultant"].id, people["manager"].id,
                        [(people["project_id"], None, True, {0: "1"})])
    leader = _client(app, people["leader"])
    html = leader.get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(html, "recent-item") and "Reopen…" in html
    response = post_form(leader, f"/timesheets/{sheet_id}/reopen", {"reason": " "})
    assert response.status_code == 400
    assert "Say why the week is reopened" in field_errors(response.get_data(as_text=True), "reason")[0]
    assert _sheet(app, sheet_id).state == "approved"


def test_a_manager_who_is_not_the_approver_gets_403_and_changes_nothing(app, make, people):
    sheet_id = _week_in(app, "submitted", people["consultant"].id, people["manager"].id,
                        [(people["project_id"], None, True, {0: "1"})])
    other_manager = _client(app, make.user(role="manager"))
    assert "Nothing to approve" in other_manager.get("/timesheets/approvals").get_data(as_text=True)
    assert post_form(other_manager, f"/timesheets/{sheet_id}/approve").status_code == 403
    assert post_form(other_manager, f"/timesheets/{sheet_id}/reject", {"reason": "No"}).status_code == 403
    assert other_manager.get(f"/timesheets/{sheet_id}").status_code == 403
    assert _sheet(app, sheet_id).state == "submitted"
    assert post_form(other_manager, "/timesheets/999999/approve").status_code == 404


def test_a_leader_cannot_approve_their_own_week_but_an_admin_can(app, people):
    leader, admin = people["leader"], people["admin"]
    with app.app_context():
        from psa.projects.models import Project

        project = db.session.get(Project, people["project_id"])
        db.session.execute(sa.text("INSERT INTO project_members (project_id, user_id) VALUES (:p, :u), (:p, :a)"),
                           {"p": project.id, "u": leader.id, "a": admin.id})
        db.session.commit()
    leaders_week = _week_in(app, "submitted", leader.id, admin.id, [(people["project_id"], None, True, {0: "1"})])
    admins_week = _week_in(app, "submitted", admin.id, admin.id, [(people["project_id"], None, True, {1: "1"})])
    leader_client = _client(app, leader)
    assert _testid(leader_client.get("/timesheets/approvals").get_data(as_text=True), "queue-user") == ["Ada Admin"]
    assert post_form(leader_client, f"/timesheets/{leaders_week}/approve").status_code == 403
    assert post_form(_client(app, admin), f"/timesheets/{admins_week}/approve").status_code == 302
    assert _sheet(app, leaders_week).state == "submitted" and _sheet(app, admins_week).state == "approved"


# --- the query budget -------------------------------------------------------------------------------------


def test_the_queue_runs_as_many_statements_for_20_weeks_as_for_2(app, make, people, count_queries):
    project_id = people["project_id"]
    leader = people["leader"]

    def fill(submitted: int, approved: int):
        """Weeks of new consultants on the project: `submitted` waiting, `approved` recently approved."""
        consultants = [make.user(role="consultant", approver_id=people["manager"].id)
                       for _ in range(submitted + approved)]
        with app.app_context():
            db.session.execute(sa.text("INSERT INTO project_members (project_id, user_id) VALUES (:p, :u)"),
                               [{"p": project_id, "u": c.id} for c in consultants])
            db.session.commit()
        for i, c in enumerate(consultants):
            _week_in(app, "approved" if i < approved else "submitted", c.id, leader.id,
                     [(project_id, None, True, {0: "2"}), (project_id, None, False, {1: "1"}), ("off", "sick", {2: "3"})])

    client = _client(app, leader)
    fill(submitted=2, approved=2)
    assert client.get("/timesheets/approvals").status_code == 200  # warm-up
    with count_queries() as few:
        small = client.get("/timesheets/approvals").get_data(as_text=True)
    fill(submitted=18, approved=18)
    with count_queries() as many:
        large = client.get("/timesheets/approvals").get_data(as_text=True)
    assert small.count('data-testid="queue-item"') == 2 and small.count('data-testid="recent-item"') == 2
    assert large.count('data-testid="queue-item"') == 20 and large.count('data-testid="recent-item"') == 20
    assert _testid(large, "queue-total") == ["3:00"] * 20 and _testid(large, "queue-billable") == ["67 %"] * 20
    assert len(few) == len(many), "\n".join(["2 weeks:", *few, "", "20 weeks:", *many])
    assert len(many) <= 7, "\n".join(many)


def test_the_pages_have_no_inline_script_or_style(app, people):
    _week_in(app, "submitted", people["consultant"].id, people["manager"].id,
             [(people["project_id"], None, True, {0: "1"})])
    pages = [_client(app, people["consultant"]).get(f"/timesheets?week={MONDAY.isoformat()}"),
             _client(app, people["consultant"]).get("/timesheets"),
             _client(app, people["leader"]).get("/timesheets/approvals")]
    for response in pages:
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert " style=" not in html and "<style" not in html
