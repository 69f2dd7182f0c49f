"""/accounts/<id>: the account view a CSM opens before a business review. Every money figure below is worked
out by hand; money is shown only to users who may see rates; the statement count does not grow with the number
of projects."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from psa.core.db import utcnow
from psa.extensions import db
from psa.projects.models import Escalation, Milestone, MilestoneRating, Project, SuccessCriterion
from psa.timesheets.models import TimeEntry, Timesheet
from tests.conftest import login_as
from tests.projects.helpers import build_template, create_project

MONDAY = date(2030, 1, 7)
#: A fixed-fee plan: the first milestone carries 30 % of the fee.
THIRTY_SEVENTY = [
    {"name": "Kickoff", "offset_days": 3, "fee_share_percent": 30, "tasks": [
        {"name": "Kickoff call", "offset_days": 0, "duration_days": 1, "estimated_minutes": 120}]},
    {"name": "Go-live", "offset_days": 10, "fee_share_percent": 70, "is_first_value": True, "tasks": [
        {"name": "Go live", "offset_days": 5, "duration_days": 1, "estimated_minutes": 240}]},
]


def _week(user_id: int, monday: date, state: str, entries: list[tuple[int, int, str, str, bool]]) -> None:
    """A week of the user's in `state` holding (project id, minutes, bill rate, cost rate, billable) entries."""
    sheet = Timesheet(user_id=user_id, week_start=monday, state=state)
    db.session.add(sheet)
    db.session.flush()
    for day, (project_id, minutes, bill, cost, billable) in enumerate(entries):
        db.session.add(TimeEntry(user_id=user_id, project_id=project_id, timesheet_id=sheet.id,
                                 entry_date=monday + timedelta(days=day % 5), minutes=minutes, billable=billable,
                                 bill_rate=Decimal(bill), cost_rate=Decimal(cost)))


def _row(html: str, project_id: int) -> dict[str, str]:
    """The project row's cells by data-testid, tags stripped."""
    start = html.index(f'data-project="{project_id}"')
    row = html[start:html.index("</tr>", start)]
    cells = {}
    for name in ("hours", "revenue", "cost", "margin", "margin-percent", "ttv", "health-reason"):
        match = re.search(rf'data-testid="{name}">(.*?)</(?:td|div)>', row, re.S)
        if match:
            cells[name] = " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())
    return cells


@pytest.fixture
def world(app, make):
    leader = make.user(role="leader")
    manager = make.user(role="manager", name="Mia Manager")
    consultant = make.user(role="consultant")
    account = make.account(name="Contoso", segment="high", owner_id=manager.id, arr=Decimal("120000"))
    dana = make.contact(account=account, name="Dana Doe", title="CFO", stakeholder_role="executive_sponsor",
                        view_level="overview")
    eli = make.contact(account=account, name="Eli Roe", stakeholder_role="daily_user", view_level="my_tasks")
    tm = create_project(app, None, manager.id, account.id, MONDAY, billing_model="time_and_materials",
                        fee_amount=None)
    capped = create_project(app, None, manager.id, account.id, MONDAY, billing_model="time_and_materials",
                            fee_amount=Decimal("1200"))
    fixed = create_project(app, build_template(app, THIRTY_SEVENTY), manager.id, account.id, MONDAY,
                           billing_model="fixed_fee", fee_amount=Decimal("10000"))
    unbilled = create_project(app, None, manager.id, account.id, MONDAY, billing_model="non_billable",
                              fee_amount=None)
    with app.app_context():
        # 10 h approved at bill 150, cost 90 on each T&M project; 2 h in a draft week that must not count
        _week(consultant.id, MONDAY, "approved", [(tm["id"], 600, "150", "90", True),
                                                  (capped["id"], 600, "150", "90", True),
                                                  (unbilled["id"], 60, "0", "90", False)])
        _week(consultant.id, MONDAY + timedelta(days=7), "draft", [(tm["id"], 120, "150", "90", True)])
        kickoff = db.session.get(Milestone, fixed["milestones"]["Kickoff"])
        kickoff.status, kickoff.completed_at = "done", utcnow()
        project = db.session.get(Project, fixed["id"])
        project.health, project.health_reason = "red", "Go-live overdue by 6 working days"
        project.health_milestone_id = fixed["milestones"]["Go-live"]
        db.session.add(Escalation(project_id=fixed["id"], milestone_id=fixed["milestones"]["Go-live"], level=2,
                                  reason="overdue", slip_days=6))
        db.session.add(Escalation(project_id=fixed["id"], milestone_id=fixed["milestones"]["Kickoff"], level=1,
                                  reason="forecast_slip", slip_days=1, resolved_at=utcnow(), resolution="done"))
        db.session.add(SuccessCriterion(project_id=fixed["id"], position=1, outcome="Cut onboarding time",
                                        metric="days to first invoice", baseline="30", target="10", status="at_risk"))
        for contact, score in ((dana, 5), (eli, 4)):
            db.session.add(MilestoneRating(milestone_id=fixed["milestones"]["Kickoff"], contact_id=contact.id,
                                           project_id=fixed["id"], score=score))
        db.session.commit()
    return {"leader": leader, "manager": manager, "consultant": consultant, "account": account, "tm": tm["id"],
            "capped": capped["id"], "fixed": fixed["id"], "unbilled": unbilled["id"]}


def test_a_leader_sees_margin_worked_out_by_hand(client, world):
    login_as(client, world["leader"])
    response = client.get(f"/accounts/{world['account'].id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # T&M: 10 h × 150 = 1,500.00 revenue, 10 h × 90 = 900.00 cost, 600.00 margin, 600 / 1,500 = 40.0 %;
    # the 2 h of the draft week are pending, not counted
    tm = _row(html, world["tm"])
    assert tm["revenue"].endswith(" 1,500.00") and tm["cost"].endswith(" 900.00")
    assert tm["margin"].split(" ")[1] == "600.00"
    assert tm["margin-percent"] == "40.0 %"
    assert tm["hours"] == "10 h + 2 h pending"
    # capped at the 1,200.00 not-to-exceed: margin 300.00, 300 / 1,200 = 25.0 %
    capped = _row(html, world["capped"])
    assert capped["revenue"].endswith(" 1,200.00") and capped["cost"].endswith(" 900.00")
    assert capped["margin"].split(" ")[1] == "300.00" and capped["margin-percent"] == "25.0 %"
    # fixed fee 10,000 with the 30 % milestone done: 3,000.00, no cost, 100.0 %
    fixed = _row(html, world["fixed"])
    assert fixed["revenue"].endswith(" 3,000.00") and fixed["cost"].endswith(" 0.00")
    assert fixed["margin-percent"] == "100.0 %"
    # non-billable: revenue 0, 1 h × 90 cost → margin -90.00 and "—"
    unbilled = _row(html, world["unbilled"])
    assert unbilled["revenue"].endswith(" 0.00") and unbilled["margin"].split(" ")[1] == "-90.00"
    assert unbilled["margin-percent"] == "—"
    # the account: revenue 1,500 + 1,200 + 3,000 = 5,700; cost 900 + 900 + 90 = 1,890; margin 3,810 = 66.8 %
    total = re.sub(r"<[^>]+>", "", html[html.index('data-testid="margin-total"'):]).split("</dd>")[0]
    assert "3,810.00 (66.8 %) on revenue" in total and "5,700.00" in total and "1,890.00" in total


def test_the_page_shows_health_escalations_criteria_csat_and_contacts(client, world):
    login_as(client, world["manager"])
    html = client.get(f"/accounts/{world['account'].id}").get_data(as_text=True)
    assert "Contoso" in html and "High touch" in html and "Mia Manager" in html
    fixed = _row(html, world["fixed"])
    assert fixed["health-reason"] == "Go-live overdue by 6 working days"
    assert "Off track" in html
    # one open escalation (the resolved one is not listed), with its level, milestone link and slip
    escalations = html[html.index('data-testid="account-escalations"'):html.index('data-testid="account-criteria"')]
    assert escalations.count('data-testid="escalation-row"') == 1
    assert "Level 2" in escalations and "6 working days slip" in escalations and "Go-live" in escalations
    assert f"/projects/{world['fixed']}#milestone-" in escalations
    assert "Cut onboarding time" in html and "At risk" in html
    assert "4.5 / 5 from 2 ratings" in html  # (5 + 4) / 2
    contacts = html[html.index('data-testid="account-contacts"'):]
    assert "Dana Doe" in contacts and "CFO" in contacts and "Executive sponsor" in contacts
    assert "Overview only" in contacts and "My tasks only" in contacts and "Never" in contacts
    # approved hours 10 + 10 + 1 = 21; the draft week's 2 h shown apart
    assert re.search(r'data-testid="hours-total">21 h <span[^>]*>\(\+ 2 h not yet approved\)', html)


def test_a_manager_sees_no_money(client, world):
    login_as(client, world["manager"])
    html = client.get(f"/accounts/{world['account'].id}").get_data(as_text=True)
    for marker in ('data-testid="revenue"', 'data-testid="cost"', 'data-testid="margin"', 'margin-total',
                   "1,500.00", "900.00", "3,000.00", "Revenue", "Margin"):
        assert marker not in html, marker


def test_missing_account_404_and_consultant_403(client, world):
    login_as(client, world["leader"])
    assert client.get("/accounts/987654321").status_code == 404
    other = client.application.test_client()
    login_as(other, world["consultant"])
    assert other.get(f"/accounts/{world['account'].id}").status_code == 403


def test_edit_page_and_view_link_to_each_other(client, world):
    login_as(client, world["leader"])
    account_id = world["account"].id
    assert f'href="/accounts/{account_id}"' in client.get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert f'href="/admin/accounts/{account_id}"' in client.get(f"/accounts/{account_id}").get_data(as_text=True)


def test_an_account_without_projects_or_contacts_shows_empty_states(client, make):
    login_as(client, make.user(role="leader"))
    account = make.account(name="Fabrikam")
    html = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "No projects for this account yet" in html and "No open escalations" in html
    assert "No success criteria agreed yet" in html and "No contacts yet" in html and "No ratings yet" in html
    assert "<script>" not in html.split("</header>")[-1] and "style=" not in html


def _projects(app, make, manager, account, consultant, count: int, monday: date) -> None:
    for _ in range(count):
        project = create_project(app, None, manager.id, account.id, MONDAY, billing_model="time_and_materials",
                                 fee_amount=Decimal("5000"))
        with app.app_context():
            milestone = Milestone(project_id=project["id"], position=1, name="M", baseline_due_date=MONDAY,
                                  due_date=MONDAY, status="done", fee_share_percent=Decimal("10"))
            db.session.add(milestone)
            db.session.flush()
            db.session.add(Escalation(project_id=project["id"], milestone_id=milestone.id, level=1,
                                      reason="overdue", slip_days=2))
            db.session.add(SuccessCriterion(project_id=project["id"], position=1, outcome="Outcome"))
            contact = make.contact(account=account)
            db.session.add(MilestoneRating(milestone_id=milestone.id, contact_id=contact.id,
                                           project_id=project["id"], score=3))
            _week(consultant.id, monday, "approved", [(project["id"], 60, "100", "50", True)])
            monday += timedelta(days=7)
            db.session.commit()


def test_the_statement_count_does_not_grow_with_projects(app, client, make, count_queries):
    leader, manager, consultant = make.user(role="leader"), make.user(role="manager"), make.user(role="consultant")
    login_as(client, leader)
    counts = []
    for n, name in ((2, "Small"), (12, "Large")):
        account = make.account(name=name)
        _projects(app, make, manager, account, consultant, n, date(2031 if n == 2 else 2032, 1, 6))
        client.get(f"/accounts/{account.id}")  # warm-up
        with count_queries() as statements:
            response = client.get(f"/accounts/{account.id}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('data-testid="project-row"') == n
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
