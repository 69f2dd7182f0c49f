"""Shared set-up of the race tests: a consultant on an active project, with an approver."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

#: A Monday well in the past, so no date is in the future; round n uses the week n weeks later.
MONDAY = date(2026, 10, 5)


@pytest.fixture
def staffed(app, make):
    """(consultant id, manager id, project id) — the consultant is a member of an active T&M project and
    the manager approves their weeks."""
    from psa.auth.models import User
    from psa.extensions import db
    from psa.projects.services import create_project

    consultant = make.user(role="consultant", name="Cleo Consultant")
    manager = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Acme")
    with app.app_context():
        from psa.accounts.models import Account

        c, m = db.session.get(User, consultant.id), db.session.get(User, manager.id)
        project = create_project(m, account=db.session.get(Account, account.id), name="Acme onboarding",
                                 kickoff_date=date(2026, 9, 1), manager=m, members=[c],
                                 billing_model="time_and_materials", fee_amount=Decimal("50000"))
        c.approver_id = m.id
        db.session.commit()
        return c.id, m.id, project.id
