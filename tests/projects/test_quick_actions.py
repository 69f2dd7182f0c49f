"""The plan's quick actions (mark done, reopen, assign, set blocked with a reason, unblock): one POST each to
/projects/tasks/<id>/quick through services.update_task, as the edit page. A plain post is redirected to the
task with the line that says what happened; the plan's script (fetch, X-Requested-With) gets the page back to
swap in, or 400 with the messages as JSON, and nothing changes. Dates from the ONBOARDING template kicked off
Monday 2030-01-07 (see test_plan_feedback)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from psa.core.audit import AuditEvent
from psa.extensions import db
from psa.projects.models import Milestone, Task
from tests.conftest import login_as, post_form
from tests.projects.helpers import ONBOARDING, build_template, create_project
from tests.projects.test_plan_feedback import NOTICE_RE

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def plan(app, make):
    manager = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    project = create_project(app, build_template(app, ONBOARDING), manager.id, make.account().id,
                             date(2030, 1, 7), member_ids=(cleo.id,))
    return project, manager, cleo


def _task(app, task_id: int) -> Task:
    with app.app_context():
        task = db.session.get(Task, task_id)
        db.session.expunge(task)
        return task


def _quick(client, project, task_id, data, headers=None):
    return post_form(client, f"/projects/tasks/{task_id}/quick", data, token_from=f"/projects/{project['id']}",
                     headers=headers or {})


def test_mark_done_from_the_plan_says_so_next_to_the_task(app, client, plan):
    project, manager, _ = plan
    kickoff_call = project["tasks"]["Kickoff call"]
    login_as(client, manager)
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert 'id="psa-quick-panel"' in page and "js/plan.js" in page  # the panel plan.js copies under a row

    response = _quick(client, project, kickoff_call, {"action": "done"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#task-{kickoff_call}")
    task = _task(app, kickoff_call)
    assert task.status == "done" and task.completed_at is not None
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    [(task_id, text)] = NOTICE_RE.findall(page)
    assert (int(task_id), text) == (kickoff_call, "Marked done.")
    with app.app_context():  # the same audit trail as the edit page
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "task.updated",
                                                               AuditEvent.object_id == kickoff_call)).one()
        assert event.before["status"] == "todo" and event.after["status"] == "done"


def test_the_script_gets_the_page_back_with_the_row_changed(app, client, plan):
    project, manager, cleo = plan
    configure = project["tasks"]["Configure"]
    login_as(client, manager)
    response = _quick(client, project, configure, {"action": "assign", "assignee_id": cleo.id}, FETCH)
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'<tr id="task-{configure}" data-testid="task-row" data-status="todo">' in page
    assert '<td>Cleo Consultant</td>' in page.split(f'id="task-{configure}"', 1)[1].split("</tr>", 1)[0]
    [(task_id, text)] = NOTICE_RE.findall(page)
    assert (int(task_id), text) == (configure, "Assigned to Cleo Consultant.")
    assert "Assigned to" not in client.get(f"/projects/{project['id']}").get_data(as_text=True)  # said once
    assert _task(app, configure).assignee_id == cleo.id
    response = _quick(client, project, configure, {"action": "assign", "assignee_id": 0}, FETCH)
    assert "Assigned to nobody." in response.get_data(as_text=True) and _task(app, configure).assignee_id is None


def test_blocked_needs_a_reason_and_unblock_clears_it(app, client, plan):
    project, manager, _ = plan
    configure = project["tasks"]["Configure"]
    login_as(client, manager)
    refused = _quick(client, project, configure, {"action": "block", "blocked_reason": "   "}, FETCH)
    assert refused.status_code == 400 and refused.is_json
    assert refused.get_json() == {"errors": {"blocked_reason": "Say why the task is blocked."}}
    assert _task(app, configure).status == "todo"

    response = _quick(client, project, configure, {"action": "block", "blocked_reason": "Waiting for VPN access"}, FETCH)
    assert response.status_code == 200
    assert 'data-testid="blocked-reason">Blocked: Waiting for VPN access</div>' in response.get_data(as_text=True)
    task = _task(app, configure)
    assert (task.status, task.blocked_reason) == ("blocked", "Waiting for VPN access")

    assert _quick(client, project, configure, {"action": "unblock"}).status_code == 302
    task = _task(app, configure)
    assert (task.status, task.blocked_reason) == ("in_progress", None)


def test_done_on_the_last_task_closes_the_milestone_and_reopen_opens_it(app, client, plan):
    project, manager, _ = plan
    login_as(client, manager)
    for name in ("Kickoff call", "Configure"):
        assert _quick(client, project, project["tasks"][name], {"action": "done"}).status_code == 302
    with app.app_context():
        assert db.session.get(Milestone, project["milestones"]["Kickoff"]).status == "done"
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    # the milestone just finished stays open on the page: the task saved last is in it
    assert f'id="milestone-{project["milestones"]["Kickoff"]}" data-testid="milestone" open>' in page
    assert _quick(client, project, project["tasks"]["Configure"], {"action": "reopen"}).status_code == 302
    assert _task(app, project["tasks"]["Configure"]).status == "todo"
    with app.app_context():
        assert db.session.get(Milestone, project["milestones"]["Kickoff"]).status != "done"


def test_refused_quick_actions_change_nothing(app, client, make, plan):
    project, manager, _ = plan
    configure = project["tasks"]["Configure"]
    outsider = make.user(role="consultant", name="Olga Outsider")
    before = _task(app, configure)
    login_as(client, manager)
    cases = [
        ({"action": "assign", "assignee_id": outsider.id}, {"assignee_id": "Choose a person on the project."}),
        ({"action": "assign", "assignee_id": 10**6}, {"assignee_id": "Choose a person on the project."}),
        ({"action": "delete"}, {"form": "Choose mark done, reopen, assign, set blocked or unblock."}),
        ({"action": "block", "blocked_reason": "x" * 501}, {"blocked_reason": "Use at most 500 characters."}),
    ]
    for data, errors in cases:
        response = _quick(client, project, configure, data, FETCH)
        assert response.status_code == 400 and response.get_json() == {"errors": errors}, data
        plain = _quick(client, project, configure, data)
        assert plain.status_code == 302 and plain.headers["Location"].endswith(f"#task-{configure}")
    task = _task(app, configure)
    assert (task.status, task.assignee_id, task.blocked_reason) == ("todo", before.assignee_id, None)
    # no CSRF token: refused before anything
    response = client.post(f"/projects/tasks/{configure}/quick", data={"action": "done"}, headers=FETCH)
    assert response.status_code == 400 and _task(app, configure).status == "todo"


def test_a_project_you_cannot_see_answers_404(app, client, make, plan):
    project, _, _ = plan
    configure = project["tasks"]["Configure"]
    stranger = make.user(role="consultant", name="Sam Stranger")
    login_as(client, stranger)
    response = post_form(client, f"/projects/tasks/{configure}/quick", {"action": "done"}, headers=FETCH)
    assert response.status_code == 404 and _task(app, configure).status == "todo"


def test_a_customer_task_is_not_given_to_one_of_our_people(app, client, plan):
    """The panel hides its assign control under a customer task (its edit page offers the contacts), and the rule
    refuses an internal assignee for it whatever posts it."""
    project, manager, cleo = plan
    configure = project["tasks"]["Configure"]
    with app.app_context():
        task = db.session.get(Task, configure)
        task.assignee_role, task.assignee_id = "customer", None
        db.session.commit()
    login_as(client, manager)
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert f'id="task-{configure}" data-testid="task-row" data-status="todo" data-customer>' in page
    assert "data-quick-customer hidden" in page and "data-quick-assign>" in page
    response = _quick(client, project, configure, {"action": "assign", "assignee_id": cleo.id}, FETCH)
    assert response.status_code == 400
    assert response.get_json() == {"errors": {"assignee_id": "A customer task goes to one of the customer's "
                                                              "contacts: choose one on its page."}}
    assert _task(app, configure).assignee_id is None
