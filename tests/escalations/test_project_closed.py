"""An escalation whose project closes while its milestone is not done: completed or cancelled resolves it
('project_closed', nobody notified, audited with the reason); on hold keeps it open."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from psa.activity.text import describe_events
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.projects.models import Project
from tests.escalations.conftest import build_project, emails, escalation_rows, notified, on, refresh_and_sweep

BUILD = [("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1)])]


def _set_status(app, project_id: int, status: str) -> None:
    """The project's status changed by hand (no service: no sweep queued behind it), the milestone left undone."""
    with app.app_context():
        db.session.execute(sa.update(Project).where(Project.id == project_id).values(status=status))
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("closed", ["completed", "cancelled"])
def test_closing_the_project_resolves_its_open_escalations_without_notifying(app, make, people, closed):
    ids = build_project(app, people, make, milestones=BUILD)
    build = ids["milestones"]["Build"]
    # Tue 17 Nov: Build due Fri 13, slip 16 and 17 = 2 working days (no holiday here) → level 1, Mia told
    result = refresh_and_sweep(app, date(2026, 11, 17))
    assert (result.opened, result.notifications) == (1, 1)
    assert escalation_rows(app) == [(build, 1, "overdue", 2, 1, False, None, False)]

    # on hold the same day: the project is still open, and so is its escalation
    _set_status(app, ids["project"], "on_hold")
    result = refresh_and_sweep(app, date(2026, 11, 17))
    assert (result.opened, result.raised, result.resolved, result.notifications) == (0, 0, 0, 0)
    assert escalation_rows(app) == [(build, 1, "overdue", 2, 1, False, None, False)]

    # completed (or cancelled) with Build still not done: resolved by the next day's sweep (where slip 3 would
    # have raised it to level 2), nobody notified
    _set_status(app, ids["project"], closed)
    result = refresh_and_sweep(app, date(2026, 11, 18))
    assert (result.opened, result.raised, result.resolved, result.notifications, result.emails) == (0, 0, 1, 0, 0)
    assert escalation_rows(app) == [(build, 1, "overdue", 2, 1, True, "project_closed", False)]
    assert len(notified(app)) == 1 and len(emails(app)) == 1

    # a second sweep finds nothing more to do, and opens nothing for the closed project's slipping milestone
    result = refresh_and_sweep(app, date(2026, 11, 19))
    assert (result.opened, result.raised, result.resolved, result.notifications) == (0, 0, 0, 0)
    assert len(escalation_rows(app)) == 1

    with on(app, date(2026, 11, 19)):
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "escalation")
                                    .order_by(AuditEvent.id)).all()
        assert events[-1].action == "escalation.resolved"
        assert events[-1].after["resolution"] == "project_closed"
        with app.test_request_context():
            said = [str(line) for line in describe_events(events)]
    assert said == [
        "The system opened the escalation of Build at level 1 (slip 2 working days, overdue)",
        "The system resolved the escalation of Build (the project is closed)",
    ]
