"""The project page and the dashboard run a fixed number of SQL statements: as many when the database holds
200 projects as when it holds 10 (no statement per project, per account or per manager).

The measured project comes from a published template (3 milestones × 4 tasks, a chain of predecessors, the
first task of each milestone assigned to its manager); the others are blank projects made through
psa.projects.services.create_project, each with its own account and its own manager, so a lazy load per
row could not hide behind SQLAlchemy's identity map.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.models import Account
from psa.auth.models import User
from psa.extensions import db
from psa.projects import services
from psa.projects.models import Project
from tests.conftest import login_as
from tests.projects.helpers import build_template, create_project, grid

_seq = itertools.count(1)


def _add_blank_projects(app, count: int) -> None:
    """`count` blank projects through the service, each with a new account and a new manager."""
    with app.app_context():
        today = services.org_today()
        accounts, managers = [], []
        for i in range(count):
            n = next(_seq)
            accounts.append(Account(name=f"Budget account {n:04d}", segment=("high", "mid", "low")[i % 3],
                                    arr=Decimal("1000")))
            managers.append(User(email=f"budget-manager{n}@example.com", name=f"Budget Manager {n:04d}",
                                 role="manager", timezone="UTC", weekly_capacity_hours=Decimal("40"),
                                 is_active_user=True))
        db.session.add_all([*accounts, *managers])
        db.session.flush()
        for account, manager in zip(accounts, managers, strict=True):
            services.create_project(manager, account=account, name=f"Blank {account.name}", kickoff_date=today,
                                    manager=manager, fee_amount=Decimal("5000"))
        db.session.commit()


def _get(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_project_page_and_dashboard_run_as_many_statements_with_200_projects_as_with_10(
        app, client, make, count_queries):
    admin = make.user(role="admin")
    consultant = make.user(role="consultant")
    with app.app_context():
        kickoff = services.org_today()
    measured = create_project(app, build_template(app, grid(3, 4), criteria=({"outcome": "Adoption"},)),
                              admin.id, make.account().id, kickoff, member_ids=(consultant.id,))
    project_path = f"/projects/{measured['id']}"
    _add_blank_projects(app, 9)

    login_as(client, admin)
    for path in (project_path, "/"):  # warm-up: nothing first-request-only is counted
        _get(client, path)

    with count_queries() as project_few:
        project_small = _get(client, project_path)
    with count_queries() as dashboard_few:
        dashboard_small = _get(client, "/")

    _add_blank_projects(app, 190)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 200

    with count_queries() as project_many:
        project_large = _get(client, project_path)
    with count_queries() as dashboard_many:
        dashboard_large = _get(client, "/")

    # the pages drew what they should, both times
    assert project_small.count('data-testid="milestone"') == project_large.count('data-testid="milestone"') == 3
    assert project_small.count('data-testid="task-row"') == project_large.count('data-testid="task-row"') == 12
    assert project_small.count('data-testid="criterion-row"') == 1
    assert dashboard_small.count('data-testid="project-row"') == 10
    assert dashboard_large.count('data-testid="project-row"') == 25  # the first page of 200
    assert "of 200" in dashboard_large
    assert dashboard_small.count('data-testid="my-task"') == dashboard_large.count('data-testid="my-task"') == 3

    assert len(project_few) == len(project_many), "\n".join(
        ["project page, 10 projects:", *project_few, "", "project page, 200 projects:", *project_many])
    assert len(dashboard_few) == len(dashboard_many), "\n".join(
        ["dashboard, 10 projects:", *dashboard_few, "", "dashboard, 200 projects:", *dashboard_many])
    print(f"\nstatements ({app.config['BACKEND']}): project page {len(project_few)} / {len(project_many)}, "
          f"dashboard {len(dashboard_few)} / {len(dashboard_many)}")
