"""The portal project page reads each kind of row with one statement: as many statements at 200 tasks as at
10 (issue 13, acceptance 6)."""

from __future__ import annotations

import sqlalchemy as sa

from psa.extensions import db
from psa.projects import services
from psa.projects.models import Task
from tests.portal.helpers import login_contact
from tests.projects.helpers import build_template, create_project, grid


def _project(app, make, account, milestones: int, tasks: int) -> int:
    manager = make.user(role="manager")
    with app.app_context():
        kickoff = services.org_today()
    project = create_project(app, build_template(app, grid(milestones, tasks)), manager.id, account.id, kickoff)
    with app.app_context():  # every task shared, every other one the customer's
        db.session.execute(sa.update(Task).where(Task.project_id == project["id"]).values(visibility="shared"))
        db.session.execute(sa.update(Task).where(Task.project_id == project["id"], Task.position % 2 == 0)
                           .values(assignee_role="customer"))
        db.session.commit()
    return project["id"]


def test_the_portal_project_page_costs_the_same_statements_at_10_and_200_tasks(app, client, make, count_queries):
    account = make.account()
    small = _project(app, make, account, 2, 5)
    large = _project(app, make, account, 10, 20)
    contact = make.contact(account=account, view_level="full")
    login_contact(app, client, contact)
    client.get(f"/portal/projects/{small}")  # warm caches (settings)
    with count_queries() as few:
        assert client.get(f"/portal/projects/{small}").status_code == 200
    with count_queries() as many:
        response = client.get(f"/portal/projects/{large}")
        assert response.status_code == 200
    assert response.get_data(as_text=True).count('data-testid="portal-task"') == 200
    assert len(many) == len(few), (len(few), len(many))
    with count_queries() as home:
        assert client.get("/portal/").status_code == 200
    assert len(home) <= len(few)
