"""Shared set-up for timesheet tests: a consultant on an active project, a Monday in the past."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

#: A Monday well in the past, so no date is in the future.
MONDAY = date(2026, 10, 5)


@pytest.fixture
def staffed(app, make):
    """(consultant, manager, project id, task id) — the consultant is a member of an active T&M project."""
    from psa.extensions import db
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    consultant = make.user(role="consultant", name="Cleo Consultant")
    manager = make.user(role="manager", name="Mia Manager")
    with make._context():  # the test's own app context when it has one, else a short one
        from psa.auth.models import User

        c, m = db.session.get(User, consultant.id), db.session.get(User, manager.id)
        project = create_project(m, account=make.account(name="Acme"), name="Acme onboarding",
                                 kickoff_date=date(2026, 9, 1), manager=m, members=[c],
                                 billing_model="time_and_materials", fee_amount=Decimal("50000"))
        milestone = add_milestone_to_project(m, project, name="Build", due_date=date(2026, 12, 1))
        task = add_task_to_milestone(m, milestone, name="Configure", start_date=date(2026, 9, 1))
        c.approver_id = m.id
        db.session.commit()
        ids = (project.id, task.id)
    return consultant, manager, ids[0], ids[1]
