"""Work assigned from the start: creating a project maps each template role to people, so no internal task
is left unassigned (psa/projects/staffing.py decides who; these tests go through the form)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from psa.extensions import db
from psa.projects.models import Project, Task
from tests.conftest import login_as, post_form
from tests.projects.helpers import build_template, grid

#: 3 milestones × 4 tasks: each milestone's first task the manager's (1 h), then consultant tasks of 2, 3, 4 h.
SPEC = grid(3, 4)


def _form(account_id, version_id, manager_id, members, **extra):
    return {"account_id": account_id, "template_version_id": version_id, "name": "Globex rollout",
            "kickoff_date": "2030-01-07", "contract_signed_date": "", "target_go_live_date": "",
            "manager_id": manager_id, "member_ids": members, "billing_model": "fixed_fee", "fee_amount": "1000",
            "budget_hours": "", **extra}


def _assignees(app) -> dict[str, int | None]:
    with app.app_context():
        return dict(db.session.execute(sa.select(Task.name, Task.assignee_id)).all())


def test_two_consultants_share_the_work_and_no_internal_task_is_unassigned(app, client, make):
    mia = make.user(role="manager", name="Mia Manager")
    cleo, carl = make.user(role="consultant", name="Cleo Consultant"), make.user(role="consultant", name="Carl Consultant")
    version_id = build_template(app, SPEC)
    login_as(client, mia)
    response = post_form(client, "/projects/new", _form(make.account().id, version_id, mia.id, [cleo.id, carl.id]))
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assigned = _assignees(app)
    assert None not in assigned.values()
    assert {assigned[f"Task {m}.1"] for m in (1, 2, 3)} == {mia.id}  # the manager's tasks
    # Consultant tasks in plan order (by due date: 1.2 d2, 1.4 d3, 1.3 d4, 2.2, 2.4, 2.3, 3.2, 3.4, 3.3; a task
    # "m.k" estimates k hours), each to whoever has the fewest hours so far, then fewest tasks, then by name
    # (Carl before Cleo): 1.2 Carl 2 | 1.4 Cleo 4 | 1.3 Carl 5 | 2.2 Cleo 6 | 2.4 Carl 9 | 2.3 Cleo 9 |
    # 3.2 Carl 11 (9 = 9, 3 tasks each) | 3.4 Cleo 13 | 3.3 Carl 14.
    order = ["1.2", "1.4", "1.3", "2.2", "2.4", "2.3", "3.2", "3.4", "3.3"]
    expected = [carl, cleo, carl, cleo, carl, cleo, carl, cleo, carl]
    assert [assigned[f"Task {n}"] for n in order] == [u.id for u in expected]


def test_a_person_chosen_for_a_role_takes_all_of_it(app, client, make):
    mia = make.user(role="manager", name="Mia Manager")
    cleo, carl = make.user(role="consultant", name="Cleo Consultant"), make.user(role="consultant", name="Carl Consultant")
    version_id = build_template(app, SPEC)
    login_as(client, mia)
    form_page = client.get(f"/projects/new?template_version_id={version_id}").get_data(as_text=True)
    assert re.search(rf'<option data-roles="consultant manager" selected value="{version_id}"', form_page)
    assert 'name="assign_consultant"' in form_page and "Automatic (see above)" in form_page
    response = post_form(client, "/projects/new", _form(make.account().id, version_id, mia.id, [cleo.id, carl.id],
                                                        assign_consultant=cleo.id))
    assert response.status_code == 302
    assigned = _assignees(app)
    assert {assigned[f"Task {m}.{t}"] for m in (1, 2, 3) for t in (2, 3, 4)} == {cleo.id}


def test_a_chosen_person_not_on_the_project_is_refused_at_the_field_and_nothing_is_created(app, client, make):
    mia = make.user(role="manager", name="Mia Manager")
    cleo, olga = make.user(role="consultant", name="Cleo Consultant"), make.user(role="consultant", name="Olga Outsider")
    version_id = build_template(app, SPEC)
    login_as(client, mia)
    response = post_form(client, "/projects/new", _form(make.account().id, version_id, mia.id, [cleo.id],
                                                        assign_consultant=olga.id))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose the project manager or one of the members." in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 0


def test_a_published_template_offers_to_create_a_project_from_it(app, client, make):
    version_id = build_template(app, SPEC)
    login_as(client, make.user(role="manager"))
    page = client.get(f"/templates/versions/{version_id}").get_data(as_text=True)
    assert f'href="/projects/new?template_version_id={version_id}"' in page
    consultant = app.test_client()
    login_as(consultant, make.user(role="consultant"))
    page = consultant.get(f"/templates/versions/{version_id}").get_data(as_text=True)
    assert "Create a project from this template" not in page  # consultants do not create projects
