"""Health explains itself (SPEC §3 Health): one line names the clause that decided it and the milestone it
concerns, the same words on the dashboard and the project page. Today is pinned to Wednesday 18 November
2026; working days Mon–Fri; every figure is worked by hand beside it."""

from __future__ import annotations

import re
from datetime import date as D
from fractions import Fraction
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from psa.core.calendar import WorkCalendar
from psa.extensions import db
from psa.projects.models import Project
from psa.projects.services import HealthVerdict, MilestoneState, health_verdict
from tests.conftest import login_as

TODAY = D(2026, 11, 18)  # a Wednesday
CAL = WorkCalendar()  # Mon–Fri, no holidays
ROW_RE = re.compile(r'<tr data-testid="project-row">(.*?)</tr>', re.S)


def verdict(milestones, **kwargs) -> HealthVerdict:
    args = dict(today=TODAY, calendar=CAL, progress_ratio=Fraction(0), burned_minutes=0, budget_minutes=None)
    return health_verdict(milestones, **{**args, **kwargs})


# --- the rule, clause by clause ----------------------------------------------------------------------


def test_each_clause_says_itself():
    on_time = MilestoneState(D(2026, 11, 30), False, 0, "Go-live", 2)
    # escalation level 2 open: red, whatever the plan says
    assert verdict([on_time], open_escalation_level=2) == HealthVerdict("red", "Escalation level 2 is open")
    # Build due Tue 10 Nov: 11,12,13,16,17,18 = 6 working days overdue > 5: red, naming Build
    build = MilestoneState(D(2026, 11, 10), False, 6, "Build", 1)
    assert verdict([build, on_time]) == HealthVerdict("red", "Build is overdue by 6 working days", 1)
    # Design slips 1 and Go-live 3 working days (neither overdue by more than 5): amber, naming the worst
    design = MilestoneState(D(2026, 11, 25), False, 1, "Design", 3)
    late_go_live = MilestoneState(D(2026, 11, 30), False, 3, "Go-live", 2)
    assert verdict([design, late_go_live]) == HealthVerdict("amber", "Go-live forecasts 3 working days late", 2)
    assert verdict([design]).reason == "Design forecasts 1 working day late"
    # 60 h of a 100 h budget burned (60 %) at 40 % progress: 20 points > 15: amber
    assert verdict([on_time], budget_minutes=6000, burned_minutes=3600, progress_ratio=Fraction(2, 5)) == \
        HealthVerdict("amber", "Burned 60 % of the budget at 40 % progress")
    # nothing holds: green
    assert verdict([on_time], budget_minutes=6000, burned_minutes=3300, progress_ratio=Fraction(2, 5)) == \
        HealthVerdict("green", "On schedule and within budget")
    assert verdict([on_time]) == HealthVerdict("green", "On schedule")
    # a done milestone is neither overdue nor slipping
    assert verdict([MilestoneState(D(2026, 11, 2), True, 0, "Kickoff", 4)]).health == "green"


# --- the pages -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    import psa.dashboard.routes
    import psa.projects.services

    monkeypatch.setattr(psa.projects.services, "org_today", lambda: TODAY)
    monkeypatch.setattr(psa.dashboard.routes, "org_today", lambda: TODAY)


def _project(make, *, name: str, due: D, task_start: D | None = None, duration: int = 1, budget_hours=None):
    """A running project with one milestone 'Build' and one open task, refreshed by the services."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    manager = make.user(role="manager")
    project = create_project(manager, account=make.account(), name=name, kickoff_date=D(2026, 10, 1),
                             manager=manager, billing_model="time_and_materials",
                             budget_minutes=budget_hours * 60 if budget_hours else None)
    milestone = add_milestone_to_project(manager, project, name="Build", due_date=due)
    add_task_to_milestone(manager, milestone, name="Configure", start_date=task_start or due, duration_days=duration,
                          estimated_minutes=480)
    db.session.commit()
    return project.id, milestone.id, SimpleNamespace(email=manager.email)


def _burn(app, project_id: int, minutes: int) -> None:
    """Time logged on the project (inserted; the burn clause reads every entry), then the refresh."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from psa.projects.services import refresh_after_time_change
    from psa.timesheets.models import TimeEntry, Timesheet

    manager_id = db.session.scalar(sa.select(Project.manager_id).where(Project.id == project_id))
    sheet = Timesheet(user_id=manager_id, week_start=D(2026, 11, 16), state="draft")
    db.session.add(sheet)
    db.session.flush()
    now = datetime.now(UTC)
    db.session.execute(sa.insert(TimeEntry), [{
        "user_id": manager_id, "project_id": project_id, "timesheet_id": sheet.id, "entry_date": D(2026, 11, 16),
        "minutes": minutes, "billable": True, "note": "", "bill_rate": Decimal("100"), "cost_rate": Decimal("50"),
        "created_at": now, "updated_at": now}])
    refresh_after_time_change([project_id])
    db.session.commit()


CASES = {
    # Build due Tue 10 Nov, its task still open: 11,12,13,16,17,18 = 6 working days overdue > 5
    "overdue": ("Off track", "Build is overdue by 6 working days", True),
    # the task runs Mon 16 – Fri 27 (10 working days) for Build due Wed 25: forecast Fri 27, 2 working days late
    "slip": ("At risk", "Build forecasts 2 working days late", True),
    # 9 h of a 10 h budget burned at 0 % progress: 90 points > 15
    "burn": ("At risk", "Burned 90 % of the budget at 0 % progress", False),
    "green": ("On track", "On schedule and within budget", False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reason_shows_on_the_dashboard_and_the_project_page(app, client, make, case):
    label, reason, links = CASES[case]
    with app.app_context():
        if case == "overdue":
            project_id, milestone_id, manager = _project(make, name="Reasoned", due=D(2026, 11, 10))
        elif case == "slip":
            project_id, milestone_id, manager = _project(make, name="Reasoned", due=D(2026, 11, 25),
                                                         task_start=D(2026, 11, 16), duration=10)
        else:
            project_id, milestone_id, manager = _project(make, name="Reasoned", due=D(2026, 11, 30), budget_hours=10)
            if case == "burn":
                _burn(app, project_id, 9 * 60)
    login_as(client, manager)
    [row] = ROW_RE.findall(client.get("/").get_data(as_text=True))
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    reason_html = re.search(r'data-testid="health-reason">(.*?)</div>', page, re.S).group(1)
    assert label in row and reason in row
    assert re.search(rf'data-testid="health">{label}</span>', page) and reason in reason_html
    if links:
        assert f'href="/projects/{project_id}#milestone-{milestone_id}">{reason}</a>' in row
        assert f'href="#milestone-{milestone_id}">{reason}</a>' in reason_html
    else:
        assert "<a" not in reason_html
