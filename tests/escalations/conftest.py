"""Shared set-up of the escalation tests: a blank project with hand-placed milestones, the people each level
notifies, and a clock frozen on chosen days."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.core.clock import frozen
from psa.core.models import Notification, OutboxEmail
from psa.extensions import db

#: Holiday inside the slip: Monday 2026-11-16.
HOLIDAY = date(2026, 11, 16)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


@contextmanager
def on(app, day: date):
    """An app context on `day` (noon UTC; the organisation's zone is UTC)."""
    with frozen(at(day)), app.app_context():
        try:
            yield
        finally:
            db.session.rollback()
            db.session.remove()


@pytest.fixture
def people(make):
    """Mia manages the project; Lee is a leader; Ada an admin; Olga owns the account; Cleo is a member; Zed is a
    consultant elsewhere; Ivy is an inactive leader (never notified)."""
    return {
        "mia": make.user(role="manager", name="Mia Manager"),
        "lee": make.user(role="leader", name="Lee Leader"),
        "ada": make.user(role="admin", name="Ada Admin"),
        "olga": make.user(role="manager", name="Olga Owner"),
        "cleo": make.user(role="consultant", name="Cleo Consultant"),
        "zed": make.user(role="consultant", name="Zed Elsewhere"),
        "ivy": make.user(role="leader", name="Ivy Inactive", is_active_user=False),
    }


def build_project(app, people, make, *, milestones, name="Contoso rollout", kickoff=date(2026, 11, 2),
                  account_name="Contoso", manager="mia", members=("cleo",)):
    """A blank project for an account owned by Olga, managed by Mia with Cleo on it, and milestones given as
    (name, due date, [(task name, start date, duration in working days), ...]); returns ids."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects import services

    account = make.account(name=account_name, owner_id=people["olga"].id)
    with on(app, kickoff):
        mia = db.session.get(User, people[manager].id)
        project = services.create_project(mia, account=db.session.get(Account, account.id), name=name,
                                          kickoff_date=kickoff, manager=mia,
                                          members=[db.session.get(User, people[who].id) for who in members],
                                          fee_amount=Decimal("10000"))
        ids = {"project": project.id, "account": account.id, "milestones": {}, "tasks": {}}
        for milestone_name, due, tasks in milestones:
            milestone = services.add_milestone_to_project(mia, project, name=milestone_name, due_date=due)
            ids["milestones"][milestone_name] = milestone.id
            for task_name, start, duration in tasks:
                task = services.add_task_to_milestone(mia, milestone, name=task_name, start_date=start,
                                                      duration_days=duration)
                ids["tasks"][task_name] = task.id
        db.session.commit()
    return ids


def refresh_and_sweep(app, day: date, project_ids=None):
    """What the worker does on `day`: refresh the cached schedules, then sweep; returns the sweep's result."""
    from psa.escalations.services import sweep_escalations
    from psa.projects.models import Project
    from psa.projects.services import refresh_schedule

    with on(app, day):
        refresh_schedule(project_ids or db.session.scalars(sa.select(Project.id)).all())
        db.session.commit()
        result = sweep_escalations(project_ids)
        db.session.commit()
        return result


def notified(app) -> list[tuple[str, str]]:
    """(user name, message) of every in-app notification, in order."""
    from psa.auth.models import User

    with app.app_context():
        rows = db.session.execute(sa.select(User.name, Notification.message).join(User, User.id == Notification.user_id)
                                  .order_by(Notification.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def emails(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEmail.to_address, OutboxEmail.subject).order_by(OutboxEmail.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def escalation_rows(app) -> list[tuple]:
    """(milestone id, level, reason, slip, notified level, resolved?, resolution, acknowledged?) of every escalation."""
    from psa.projects.models import Escalation as E

    with app.app_context():
        rows = db.session.execute(sa.select(E.milestone_id, E.level, E.reason, E.slip_days, E.notified_level,
                                            E.resolved_at.is_not(None), E.resolution, E.acknowledged_at.is_not(None))
                                  .order_by(E.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]
