"""Editing a project's details (manager, members, fee...) needs projects.edit and being its manager, or a
leader or admin: a manager who is only a member of another manager's project can neither take it over nor
change its fee, and is not shown the edit button. One rule, services.can_edit_project, for route and page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from psa.auth.models import User
from psa.extensions import db
from psa.projects import services
from psa.projects.models import Project
from tests.conftest import login_as, post_form
from tests.projects.helpers import create_project

EDIT_BUTTON = "Edit details"


@pytest.fixture
def setting(app, make):
    """Mia manages the project; Max (a manager) and Cleo (a consultant) are members of it."""
    mia = make.user(role="manager", name="Mia Manager")
    max_ = make.user(role="manager", name="Max Member")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    account = make.account(name="Acme Corp")
    project = create_project(app, None, mia.id, account.id, date(2030, 1, 7), member_ids=(max_.id, cleo.id),
                             fee_amount=Decimal("50000"))
    return {"mia": mia, "max": max_, "cleo": cleo, "account": account, "project": project["id"]}


def _takeover(setting, fee="1.00"):
    return {"account_id": setting["account"].id, "name": "Taken over", "kickoff_date": "2030-01-07",
            "manager_id": setting["max"].id, "member_ids": [setting["cleo"].id], "billing_model": "fixed_fee",
            "fee_amount": fee, "status": "active"}


def _saved(app, project_id):
    with app.app_context():
        project = db.session.get(Project, project_id)
        return project.name, project.manager_id, project.fee_amount


def test_a_manager_who_is_only_a_member_cannot_take_the_project_over(app, client, setting):
    before = _saved(app, setting["project"])
    login_as(client, setting["max"])
    page = client.get(f"/projects/{setting['project']}")
    assert page.status_code == 200 and EDIT_BUTTON not in page.get_data(as_text=True)
    assert client.get(f"/projects/{setting['project']}/edit").status_code == 403
    response = post_form(client, f"/projects/{setting['project']}/edit", _takeover(setting),
                         token_from=f"/projects/{setting['project']}")
    assert response.status_code == 403
    assert _saved(app, setting["project"]) == before
    assert before[1:] == (setting["mia"].id, Decimal("50000.00"))


def test_a_consultant_member_sees_no_edit_button_and_gets_403(client, setting):
    login_as(client, setting["cleo"])
    assert EDIT_BUTTON not in client.get(f"/projects/{setting['project']}").get_data(as_text=True)
    assert client.get(f"/projects/{setting['project']}/edit").status_code == 403


def test_the_projects_manager_edits_it_and_may_hand_it_over(app, client, setting):
    login_as(client, setting["mia"])
    assert EDIT_BUTTON in client.get(f"/projects/{setting['project']}").get_data(as_text=True)
    assert client.get(f"/projects/{setting['project']}/edit").status_code == 200
    response = post_form(client, f"/projects/{setting['project']}/edit", _takeover(setting, fee="42000"),
                         token_from=f"/projects/{setting['project']}")
    assert response.status_code == 302
    assert _saved(app, setting["project"]) == ("Taken over", setting["max"].id, Decimal("42000.00"))


@pytest.mark.parametrize("role", ["admin", "leader"])
def test_leaders_and_admins_edit_any_project(app, client, make, setting, role):
    login_as(client, make.user(role=role))
    assert EDIT_BUTTON in client.get(f"/projects/{setting['project']}").get_data(as_text=True)
    response = post_form(client, f"/projects/{setting['project']}/edit", _takeover(setting, fee="1.00"),
                         token_from=f"/projects/{setting['project']}")
    assert response.status_code == 302
    assert _saved(app, setting["project"]) == ("Taken over", setting["max"].id, Decimal("1.00"))


def test_can_edit_project_rule(ctx, make, setting):
    project = db.session.get(Project, setting["project"])
    outsider_manager = make.user(role="manager")
    expected = {"mia": True, "max": False, "cleo": False}
    for key, allowed in expected.items():
        assert services.can_edit_project(db.session.get(User, setting[key].id), project) is allowed, key
    assert services.can_edit_project(outsider_manager, project) is False
    for role in ("admin", "leader"):
        assert services.can_edit_project(make.user(role=role), project) is True
    # the manager of a project, demoted to consultant, loses the right with the permission
    mia = db.session.get(User, setting["mia"].id)
    mia.role = "consultant"
    assert services.can_edit_project(mia, project) is False
