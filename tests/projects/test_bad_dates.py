"""Dates outside 2000-01-01..2099-12-31 (SPEC §3) get a message at their field, at the form and at the
service; a project holding such dates from before the rule still draws its page."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from psa.core.errors import ValidationError
from psa.extensions import db
from psa.projects.models import Milestone, Project
from psa.projects.timeline import build_timeline
from tests.conftest import login_as, post_form
from tests.projects.helpers import ONBOARDING, build_template, create_project

WINDOW = "Enter a date from 2000-01-01 to 2099-12-31."


@pytest.mark.parametrize("kickoff", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
def test_a_kickoff_outside_the_window_is_refused_at_the_field(app, make, client, kickoff):
    admin = make.user(role="admin")
    account = make.account()
    login_as(client, admin)
    response = post_form(client, "/projects/new", {
        "account_id": account.id, "name": "Far", "kickoff_date": kickoff, "manager_id": admin.id,
        "billing_model": "non_billable", "status": "active", "template_version_id": 0}, token_from="/projects/new")
    assert response.status_code == 400
    assert WINDOW in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 0


def test_milestone_and_task_due_dates_outside_the_window_are_refused(app, make, client):
    admin = make.user(role="admin")
    project = create_project(app, build_template(app, ONBOARDING), admin.id, make.account().id, date(2026, 9, 1))
    login_as(client, admin)
    page = f"/projects/{project['id']}"
    milestone_id = project["milestones"]["Kickoff"]
    task_id = project["tasks"]["Configure"]
    for day in ("0001-01-01", "9999-12-31"):
        response = post_form(client, f"/projects/milestones/{milestone_id}",
                             {f"milestone-{milestone_id}-due_date": day}, token_from=page)
        assert response.status_code == 400 and WINDOW in response.get_data(as_text=True)
        response = post_form(client, f"/projects/tasks/{task_id}",
                             {f"task-{task_id}-due_date": day, f"task-{task_id}-status": "todo",
                              f"task-{task_id}-assignee_id": "0"}, token_from=page)
        assert response.status_code == 400 and WINDOW in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Milestone, milestone_id).due_date.year == 2026


def test_the_services_refuse_dates_outside_the_window_whatever_the_path(app, make):
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects import services

    admin = make.user(role="admin")
    project = create_project(app, build_template(app, ONBOARDING), admin.id, make.account().id, date(2026, 9, 1))
    with app.app_context():
        actor = db.session.get(User, admin.id)
        p = services.load_project(project["id"])
        milestone = db.session.get(Milestone, project["milestones"]["Kickoff"])
        calls = [
            lambda: services.update_milestone(actor, milestone, due_date=date(9999, 12, 31)),
            lambda: services.add_milestone_to_project(actor, p, name="Far", due_date=date(1, 1, 1)),
            lambda: services.add_task_to_milestone(actor, milestone, name="Far", start_date=date(9999, 12, 31)),
            lambda: services.save_criterion(actor, p, outcome="Far", due_date=date(2100, 1, 1)),
            lambda: services.update_project(actor, p, account=db.session.get(Account, p.account_id), name=p.name, kickoff_date=date(1999, 1, 1),
                                            contract_signed_date=None, target_go_live_date=None, manager=actor,
                                            members=[], billing_model=p.billing_model, fee_amount=p.fee_amount,
                                            budget_minutes=None, status=p.status),
        ]
        for call in calls:
            with pytest.raises(ValidationError) as caught:
                call()
            assert WINDOW in caught.value.errors.values()
            db.session.rollback()


def test_a_project_holding_extreme_dates_from_before_the_rule_still_draws_its_page(app, make, client):
    admin = make.user(role="admin")
    project = create_project(app, build_template(app, ONBOARDING), admin.id, make.account().id, date(2026, 9, 1))
    with app.app_context():
        first, second = db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project["id"])
                                           .order_by(Milestone.position)).all()
        first.due_date = first.baseline_due_date = date.min
        second.due_date = second.forecast_date = date.max
        db.session.commit()
    login_as(client, admin)
    response = client.get(f"/projects/{project['id']}")
    assert response.status_code == 200


class _M:
    def __init__(self, name, baseline, due, forecast=None):
        self.name, self.status, self.slip_days = name, "todo", 0
        self.baseline_due_date, self.due_date, self.forecast_date = baseline, due, forecast


def test_the_timeline_of_extreme_dates_stays_on_the_drawing():
    timeline = build_timeline([_M("a", date.min, date.min), _M("b", date(2026, 1, 5), date.max, date.max)],
                              today=date(2026, 10, 5), kickoff=date.min)
    xs = [x for row in timeline.rows for x in (row.baseline_x, row.due_x, row.forecast_x)]
    assert all(timeline.left <= x <= timeline.right for x in xs)
    assert timeline.rows[0].due_date == date.min  # labels keep the real dates
    assert 0 < len(timeline.ticks) <= 40
