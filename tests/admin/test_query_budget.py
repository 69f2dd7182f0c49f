"""List pages run a fixed number of SQL statements: as many with 60 rows as with 5 (no query per row)."""

from __future__ import annotations

import html
import itertools
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from psa.accounts.models import SEGMENTS, Account
from psa.auth.models import ROLES, User
from psa.core.db import utcnow
from psa.core.models import AuditEvent, Notification
from psa.extensions import db
from psa.project_templates.models import Template
from psa.projects.models import Milestone, Project, Task
from psa.timesheets.models import Timesheet
from tests.admin.helpers import count_testid
from tests.conftest import login_as

_seq = itertools.count(1)


def _users(count: int) -> list[User]:
    """Users of every role; some invited (no password yet), some deactivated."""
    users = []
    for i in range(count):
        n = next(_seq)
        user = User(email=f"budget{n}@example.com", name=f"Budget User {n}", role=ROLES[i % len(ROLES)],
                    timezone="Europe/Paris", weekly_capacity_hours=Decimal("32.5"), is_active_user=i % 7 != 3)
        if i % 3:
            user.password_hash = "pbkdf2:sha256:1000$x$" + "0" * 64
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    return users


def _seed_users(admin, count: int) -> None:
    _users(count)


def _seed_accounts(admin, count: int) -> None:
    owners = _users(count)  # a different owner on every account
    db.session.add_all([
        Account(name=f"Budget Account {next(_seq)}", segment=SEGMENTS[i % 3], arr=Decimal("1000.50") * i,
                owner_id=owners[i].id if i % 4 else None)
        for i in range(count)
    ])


def _audit_event(kind: str, actor: User, at) -> AuditEvent:
    """One event on a new object of `kind` (so a query per row could not hide behind the identity map)."""
    n, day = next(_seq), date(2026, 11, 20)
    event = AuditEvent(actor_id=actor.id, at=at)
    if kind == "user":
        event.action, event.object_type, event.object_id = "user.updated", "user", actor.id
        event.before, event.after = {"name": "Old"}, {"name": "New"}
        return event
    if kind == "deleted":
        event.action, event.object_type, event.object_id = "task.updated", "task", 10_000_000 + n
        event.before, event.after = {"status": "todo"}, {"status": "done"}
        return event
    if kind == "timesheet":
        sheet = Timesheet(user_id=actor.id, week_start=date(2026, 11, 16))
        db.session.add(sheet)
        db.session.flush()
        event.action, event.object_type, event.object_id = "timesheet.approved", "timesheet", sheet.id
        event.before, event.after = {"state": "submitted"}, {"state": "approved"}
        return event
    if kind == "template":
        template = Template(name=f"Audit Template {n}")
        db.session.add(template)
        db.session.flush()
        event.action, event.object_type, event.object_id = "template.created", "template", template.id
        event.after = {"name": template.name}
        return event
    account = Account(name=f"Audit Account {n}", segment="mid", arr=Decimal("10"), owner_id=actor.id)
    db.session.add(account)
    db.session.flush()
    event.action, event.object_type, event.object_id = "account.updated", "account", account.id
    event.before, event.after = {"owner_id": None, "arr": "10.00"}, {"owner_id": actor.id, "arr": "20.00"}
    if kind == "account":
        return event
    project = Project(account_id=account.id, name=f"Audit Project {n}", kickoff_date=date(2026, 11, 2),
                      manager_id=actor.id, budget_minutes=600)
    db.session.add(project)
    db.session.flush()
    event.action, event.object_type, event.object_id = "project.updated", "project", project.id
    event.before, event.after = {"budget_minutes": 600}, {"budget_minutes": 660}
    if kind == "project":
        return event
    milestone = Milestone(project_id=project.id, position=1, name=f"Audit Milestone {n}", baseline_due_date=day,
                          due_date=day)
    db.session.add(milestone)
    db.session.flush()
    event.action, event.object_type, event.object_id = "milestone.updated", "milestone", milestone.id
    event.before, event.after = {"due_date": "2026-11-20"}, {"due_date": "2026-11-23"}
    if kind == "milestone":
        return event
    task = Task(project_id=project.id, milestone_id=milestone.id, position=1, name=f"Audit Task {n}",
                baseline_start_date=day, baseline_due_date=day, start_date=day, due_date=day)
    db.session.add(task)
    db.session.flush()
    event.action, event.object_type, event.object_id = "task.updated", "task", task.id
    event.before, event.after = {"assignee_id": None}, {"assignee_id": actor.id}
    return event


def _seed_audit(admin, count: int) -> None:
    """Two events per count, of every kind among the first five (users, accounts with an owner, projects,
    milestones, tasks with an assignee, timesheets, templates, tasks deleted since), each on its own objects;
    a different actor on every pair, and some system events."""
    actors = _users(count)
    now = utcnow()
    firsts, seconds = ("account", "task", "milestone", "timesheet", "template"), ("user", "project", "deleted")
    events = []
    for i, actor in enumerate(actors):
        for j, kind in enumerate((firsts[i % len(firsts)], seconds[i % len(seconds)])):
            event = _audit_event(kind, actor, now - timedelta(minutes=i, seconds=j))
            event.actor_id = actor.id if i % 5 else None
            events.append(event)
    db.session.add_all(events)


def _seed_dashboard(admin, count: int) -> None:
    now = utcnow()
    db.session.add_all([
        Notification(user_id=admin.id, message=f"Budget note {next(_seq)}", link="/" if i % 2 else None,
                     created_at=now - timedelta(minutes=i), read_at=now if i % 3 == 0 else None)
        for i in range(count)
    ])
    db.session.add_all([Account(name=f"Dash Account {next(_seq)}", segment="mid", arr=Decimal("1"))
                        for _ in range(count)])


PAGES = [
    pytest.param("/admin/users", _seed_users, "user-row", id="users"),
    pytest.param("/admin/accounts", _seed_accounts, "account-row", id="accounts"),
    pytest.param("/admin/audit", _seed_audit, "audit-row", id="audit-log"),
    pytest.param("/", _seed_dashboard, None, id="dashboard"),
]


@pytest.mark.parametrize(("path", "seed", "row_testid"), PAGES)
def test_page_runs_as_many_statements_for_60_rows_as_for_5(app, client, make, count_queries, path, seed, row_testid):
    admin = make.user(role="admin")
    login_as(client, admin)

    def add(count: int) -> None:
        with app.app_context():
            seed(db.session.get(User, admin.id), count)
            db.session.commit()

    add(5)
    assert client.get(path).status_code == 200  # warm-up: nothing first-request-only is counted
    with count_queries() as few:
        response = client.get(path)
    assert response.status_code == 200
    small_page = response.get_data(as_text=True)

    add(55)
    with count_queries() as many:
        response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    if row_testid and path != "/admin/audit":
        assert count_testid(small_page, row_testid) >= 5
        assert count_testid(page, row_testid) == 25
    if path == "/admin/audit":  # 50 a page; every kind named in words, a task deleted since too
        assert count_testid(small_page, row_testid) == 10 and count_testid(page, row_testid) == 50
        for said in ("changed the name of", "set the owner of Audit Account", "changed the budget of Audit Project",
                     "moved Audit Milestone", "assigned Audit Task", "approved their week of 2026-11-16", "created the template",
                     "changed the status of a deleted task"):
            assert said in html.unescape(re.sub(r"<[^>]+>", "", page)), said
    if path == "/":
        assert 'data-testid="account-count">120<' not in page
        assert 'data-testid="account-count">60<' in page
    assert len(few) > 0
    assert len(many) == len(few), "\n".join(["with 5 rows:", *few, "", "with 60 rows:", *many])
