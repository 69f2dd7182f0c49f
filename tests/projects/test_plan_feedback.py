"""The plan says what a change did where it happened, the successors' shift can be undone once, several
tasks are assigned at once, and done milestones are folded. Dates worked by hand from the ONBOARDING
template kicked off Monday 2030-01-07 (K): Kickoff call Mon 7; Configure Tue 8–Thu 10; Train users
Mon 14–Wed 16; Go live Mon 21; milestones Kickoff due Thu 10, Go-live due Mon 21."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from psa.extensions import db
from psa.projects.models import Task
from tests.conftest import login_as, post_form
from tests.projects.helpers import ONBOARDING, build_template, create_project

NOTICE_RE = re.compile(r'<tr id="task-(\d+)" data-testid="task-row"[^>]*>(?:(?!<tr).)*</tr>\s*<tr class="psa-notice">.*?'
                       r'data-testid="task-notice">\s*<span>(.*?)</span>', re.S)


@pytest.fixture
def plan(app, make):
    manager = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    carl = make.user(role="consultant", name="Carl Consultant")
    project = create_project(app, build_template(app, ONBOARDING), manager.id, make.account().id,
                             date(2030, 1, 7), member_ids=(cleo.id, carl.id))
    return project, manager, cleo, carl


def _dates(app, project_id: int) -> dict[str, tuple[date, date]]:
    with app.app_context():
        return {row.name: (row.start_date, row.due_date) for row in db.session.execute(
            sa.select(Task.name, Task.start_date, Task.due_date).where(Task.project_id == project_id))}


def test_saving_a_task_says_what_followed_next_to_it_and_the_shift_undoes_once(app, client, plan):
    project, manager, _, _ = plan
    configure = project["tasks"]["Configure"]
    login_as(client, manager)
    # Configure due Thu 10 -> Mon 14: 2 working days later (Fri 11, Mon 14); Train users and Go live move 2
    # working days; Kickoff (due Thu 10) now forecasts Mon 14, Go-live (due Mon 21) Wed 23: both 2 late
    response = post_form(client, f"/projects/tasks/{configure}", {
        f"task-{configure}-status": "in_progress", f"task-{configure}-due_date": "2030-01-14",
        f"task-{configure}-assignee_id": "0", f"task-{configure}-blocked_reason": "",
        f"task-{configure}-shift_successors": "y"}, token_from=f"/projects/{project['id']}/tasks/{configure}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#task-{configure}")
    assert _dates(app, project["id"])["Train users"] == (date(2030, 1, 16), date(2030, 1, 18))
    assert _dates(app, project["id"])["Go live"] == (date(2030, 1, 23), date(2030, 1, 23))

    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    [(task_id, text)] = NOTICE_RE.findall(page)
    assert int(task_id) == configure
    assert text == ("Saved. 2 following tasks moved 2 working days later; Kickoff now forecasts 2 working days "
                    "late; Go-live now forecasts 2 working days late.")
    assert "Undo the move of the following tasks" in page
    assert "Saved." not in client.get(f"/projects/{project['id']}").get_data(as_text=True)  # said once

    response = post_form(client, f"/projects/{project['id']}/undo-shift", {}, token_from=f"/projects/{project['id']}")
    assert response.status_code == 302
    dates = _dates(app, project["id"])
    assert dates["Train users"] == (date(2030, 1, 14), date(2030, 1, 16)) and dates["Go live"][1] == date(2030, 1, 21)
    assert dates["Configure"][1] == date(2030, 1, 14)  # the task's own change stays
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "Undone: 2 following tasks back on their dates." in page
    again = post_form(client, f"/projects/{project['id']}/undo-shift", {}, token_from=f"/projects/{project['id']}")
    assert again.status_code == 302
    assert "There is nothing to undo." in client.get(f"/projects/{project['id']}").get_data(as_text=True)


def test_an_undo_keeps_a_successor_changed_since(app, client, plan):
    project, manager, _, _ = plan
    configure, go_live = project["tasks"]["Configure"], project["tasks"]["Go live"]
    login_as(client, manager)

    def save(task_id, due):
        return post_form(client, f"/projects/tasks/{task_id}", {
            f"task-{task_id}-status": "todo", f"task-{task_id}-due_date": due, f"task-{task_id}-assignee_id": "0",
            f"task-{task_id}-blocked_reason": "", f"task-{task_id}-shift_successors": ""},
            token_from=f"/projects/{project['id']}/tasks/{task_id}/edit")

    assert post_form(client, f"/projects/tasks/{configure}", {
        f"task-{configure}-status": "todo", f"task-{configure}-due_date": "2030-01-14",
        f"task-{configure}-assignee_id": "0", f"task-{configure}-blocked_reason": "",
        f"task-{configure}-shift_successors": "y"},
        token_from=f"/projects/{project['id']}/tasks/{configure}/edit").status_code == 302
    with app.app_context():  # someone moves Go live by hand meanwhile (no successors of its own)
        db.session.execute(sa.update(Task).where(Task.id == go_live).values(due_date=date(2030, 1, 25)))
        db.session.commit()
    client.get(f"/projects/{project['id']}")
    assert post_form(client, f"/projects/{project['id']}/undo-shift", {},
                     token_from=f"/projects/{project['id']}").status_code == 302
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "Undone: 1 following task back on its dates. 1 changed since and kept its new dates." in page
    assert _dates(app, project["id"])["Go live"][1] == date(2030, 1, 25)
    assert save  # (helper kept for symmetry with the first test)


def test_several_tasks_are_assigned_at_once_and_only_to_people_on_the_project(app, client, make, plan):
    project, manager, cleo, _ = plan
    outsider = make.user(role="consultant", name="Olga Outsider")
    other = create_project(app, None, manager.id, make.account().id, date(2030, 1, 7))
    login_as(client, manager)
    page = client.get(f"/projects/{project['id']}/tasks/assign").get_data(as_text=True)
    assert page.count('name="task_ids"') == 4 and "Olga Outsider" not in page
    configure, train = project["tasks"]["Configure"], project["tasks"]["Train users"]
    response = post_form(client, f"/projects/{project['id']}/tasks/assign",
                         {"task_ids": [configure, train], "assignee_id": cleo.id})
    assert response.status_code == 302
    with app.app_context():
        assignees = dict(db.session.execute(sa.select(Task.name, Task.assignee_id)
                                            .where(Task.project_id == project["id"])).all())
    assert assignees["Configure"] == assignees["Train users"] == cleo.id
    # the template's consultant tasks were shared at creation (Configure 10 h to Carl, Train users to Cleo)
    assert "2 tasks now assigned to Cleo Consultant (1 already was)." in client.get(f"/projects/{project['id']}").get_data(as_text=True)

    # refused, changing nothing: someone off the project, no task ticked, another project's task
    for data in ({"task_ids": [configure], "assignee_id": outsider.id}, {"assignee_id": cleo.id},
                 {"task_ids": [configure, *other["tasks"].values(), 10**6], "assignee_id": manager.id}):
        response = post_form(client, f"/projects/{project['id']}/tasks/assign", data)
        assert response.status_code in (302, 400)
        with app.app_context():
            assert db.session.scalar(sa.select(Task.assignee_id).where(Task.id == configure)) == cleo.id


def test_done_milestones_are_folded_with_their_completion_date(app, client, plan):
    from psa.auth.models import User
    from psa.projects.services import update_task

    project, manager, _, _ = plan
    with app.app_context():
        actor = db.session.get(User, manager.id)
        for name in ("Kickoff call", "Configure"):
            update_task(actor, db.session.get(Task, project["tasks"][name]), status="done")
        db.session.commit()
    login_as(client, manager)
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    kickoff_id, go_live_id = project["milestones"]["Kickoff"], project["milestones"]["Go-live"]
    # a done milestone is one folded line (<details> without open) whose summary is its header
    kickoff = re.search(rf'<details class="card mb-2 psa-milestone" id="milestone-{kickoff_id}" data-testid="milestone">'
                        r'\s*<summary.*?</summary>', page, re.S)
    assert kickoff and 'data-testid="milestone-done-on">Done on ' in kickoff.group(0)
    assert re.search(r'2 tasks</span>', kickoff.group(0))
    # an open milestone is a plain card whose tasks show
    assert re.search(rf'<div class="card mb-2" id="milestone-{go_live_id}" data-testid="milestone">', page)
