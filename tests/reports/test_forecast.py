"""The revenue forecast (SPEC §3), every figure worked out by hand. Today is 2026-05-15 (organisation zone UTC), so
the six months are May … October 2026.

Alpha (fixed fee 10,000.00):
  M1 30 %, forecast 2026-05-20, baseline 2026-04-28 → 10,000 × 30 ÷ 100 = 3,000.00 in May; its baseline lay in an
     EARLIER month (April) → 3,000.00 at risk in May;
  M2 70 %, forecast 2026-06-10, baseline 2026-07-15 → 7,000.00 in June; its baseline is LATER (ahead of plan) →
     not at risk.
Beta (fixed fee 3,333.33):
  D1 33.33 % done on 2026-05-05 → recognised in May: 3,333.33 × 33.33 ÷ 100 = 1,110.999889 → 1,111.00;
  D0 done on 2026-04-20 → not this month's recognised revenue;
  M3 66.67 % open, forecast 2026-08-03, baseline 2026-07-01 → 3,333.33 × 66.67 ÷ 100 = 2,222.331111 → 2,222.33
     in August, all at risk (baseline July).
Gamma (time and materials, no cap), rate card: Cleo 150.00 (a user line beats the consultant role line 120.00):
  T1 Cleo's, 20 h estimate, 5 h logged (in a draft week: every entry counts) → 15 h × 150 = 2,250.00 in June
     (forecast 2026-06-12, baseline 2026-06-05: same month, not at risk);
  T2 unassigned (consultant) 4 h estimate, 6 h logged → max(0, −2) = 0; T3 done → nothing.
Delta (time and materials, not-to-exceed 5,000.00), rate card: role consultant 100.00:
  approved billable entries: 20 h × 100 in April (2,000.00) and 20 h × 100 on 2026-05-04 (2,000.00) →
  recognised to date 4,000.00, of which May = 4,000 − 2,000 = 2,000.00; headroom 5,000 − 4,000 = 1,000.00;
  unassigned consultant tasks of 8 h each (800.00 uncapped each):
  T4 forecast 2026-05-28 → May 800.00 (headroom left 200.00);
  T5 forecast 2026-06-20, baseline 2026-05-29 → June min(800, 200) = 200.00, at risk min(800, 200) = 200.00;
  T6 forecast 2026-07-10 → 0.00 (no headroom left).
Epsilon (non-billable): a 10 h task of Cleo's in May and a milestone → 0, not listed.

Totals: May recognised 1,111.00 + 2,000.00 = 3,111.00; forecast 3,000.00 + 800.00 = 3,800.00; at risk 3,000.00.
June forecast 7,000.00 + 2,250.00 + 200.00 = 9,450.00, at risk 200.00. July 0.00. August 2,222.33, at risk
2,222.33. September, October 0.00. Six months: 3,800.00 + 9,450.00 + 2,222.33 = 15,472.33.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from psa.core import clock
from psa.extensions import db
from psa.projects.models import Milestone, Project, Task
from psa.reports.forecast import PROJECTS_PER_PAGE, months_from, revenue_forecast
from psa.timesheets.models import ProjectRate, TimeEntry, Timesheet
from tests.conftest import login_as

TODAY = datetime(2026, 5, 15, 12, tzinfo=UTC)
D = Decimal


def _project(account_id, manager_id, name, model, fee) -> Project:
    project = Project(account_id=account_id, manager_id=manager_id, name=name, kickoff_date=date(2026, 3, 2),
                      billing_model=model, fee_amount=fee, status="active")
    db.session.add(project)
    db.session.flush()
    return project


def _milestone(project, position, percent, *, forecast, baseline, done_at=None) -> Milestone:
    milestone = Milestone(project_id=project.id, position=position, name=f"{project.name} M{position}",
                          baseline_due_date=baseline, due_date=forecast, forecast_date=forecast,
                          fee_share_percent=D(percent), status="done" if done_at else "todo", completed_at=done_at)
    db.session.add(milestone)
    db.session.flush()
    return milestone


def _task(milestone, position, hours, *, forecast, baseline=None, assignee=None, status="todo") -> Task:
    task = Task(project_id=milestone.project_id, milestone_id=milestone.id, position=position, name=f"T{position}",
                baseline_start_date=date(2026, 3, 2), baseline_due_date=baseline or forecast,
                start_date=date(2026, 3, 2), due_date=forecast, forecast_date=forecast,
                estimated_minutes=int(hours * 60), assignee_role="consultant",
                assignee_id=assignee.id if assignee else None, status=status)
    db.session.add(task)
    db.session.flush()
    return task


def _entry(user, project, sheet, day, hours, *, task=None, rate="100"):
    db.session.add(TimeEntry(user_id=user.id, project_id=project.id, timesheet_id=sheet.id, entry_date=day,
                             minutes=int(hours * 60), billable=True, bill_rate=D(rate), cost_rate=D("50"),
                             task_id=task.id if task else None))


def _sheet(user, monday, state) -> Timesheet:
    sheet = Timesheet(user_id=user.id, week_start=monday, state=state)
    db.session.add(sheet)
    db.session.flush()
    return sheet


def add_projects(app, manager_id, account_id, cleo_id, n: int, tag: str) -> None:
    """n more projects of each kind, each with milestones, tasks and entries."""
    from psa.auth.models import User

    with app.app_context():
        cleo = db.session.get(User, cleo_id)
        for i in range(n):
            fixed = _project(account_id, manager_id, f"F{tag}{i}", "fixed_fee", D("1000"))
            _milestone(fixed, 1, "50", forecast=date(2026, 6, 1), baseline=date(2026, 5, 1))
            _milestone(fixed, 2, "50", forecast=date(2026, 5, 2), baseline=date(2026, 5, 1),
                       done_at=datetime(2026, 5, 2, 9, tzinfo=UTC))
            tm = _project(account_id, manager_id, f"T{tag}{i}", "time_and_materials", D("900"))
            m = _milestone(tm, 1, "0", forecast=date(2026, 6, 1), baseline=date(2026, 5, 1))
            task = _task(m, 1, 4, forecast=date(2026, 6, 1), assignee=cleo)
            db.session.add(ProjectRate(project_id=tm.id, role="consultant", bill_rate=D("90")))
            sheet = _sheet(cleo, date(2020, 1, 6) + (date(2020, 1, 13) - date(2020, 1, 6)) * (len(tag) * 100 + i),
                           "approved")
            _entry(cleo, tm, sheet, sheet.week_start, 1, task=task)
        db.session.commit()


@pytest.fixture
def world(app, make):
    from psa.auth.models import User

    lee = make.user(role="leader", name="Lee Leader")
    mia = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    account = make.account(name="Acme")
    ids = {}
    with app.app_context():
        cleo_row = db.session.get(User, cleo.id)
        alpha = _project(account.id, mia.id, "Alpha", "fixed_fee", D("10000"))
        _milestone(alpha, 1, "30", forecast=date(2026, 5, 20), baseline=date(2026, 4, 28))
        _milestone(alpha, 2, "70", forecast=date(2026, 6, 10), baseline=date(2026, 7, 15))

        beta = _project(account.id, mia.id, "Beta", "fixed_fee", D("3333.33"))
        _milestone(beta, 1, "33.33", forecast=date(2026, 5, 5), baseline=date(2026, 5, 5),
                   done_at=datetime(2026, 5, 5, 10, tzinfo=UTC))
        _milestone(beta, 2, "0", forecast=date(2026, 4, 20), baseline=date(2026, 4, 20),
                   done_at=datetime(2026, 4, 20, 10, tzinfo=UTC))
        _milestone(beta, 3, "66.67", forecast=date(2026, 8, 3), baseline=date(2026, 7, 1))

        gamma = _project(account.id, mia.id, "Gamma", "time_and_materials", None)
        db.session.add_all([ProjectRate(project_id=gamma.id, user_id=cleo.id, bill_rate=D("150")),
                            ProjectRate(project_id=gamma.id, role="consultant", bill_rate=D("120"))])
        gm = _milestone(gamma, 1, "0", forecast=date(2026, 6, 30), baseline=date(2026, 6, 30))
        t1 = _task(gm, 1, 20, forecast=date(2026, 6, 12), baseline=date(2026, 6, 5), assignee=cleo_row)
        t2 = _task(gm, 2, 4, forecast=date(2026, 5, 29))
        _task(gm, 3, 10, forecast=date(2026, 5, 29), assignee=cleo_row, status="done")
        draft = _sheet(cleo_row, date(2026, 5, 11), "draft")
        _entry(cleo_row, gamma, draft, date(2026, 5, 12), 5, task=t1, rate="150")
        _entry(cleo_row, gamma, draft, date(2026, 5, 13), 6, task=t2, rate="150")

        delta = _project(account.id, mia.id, "Delta", "time_and_materials", D("5000"))
        db.session.add(ProjectRate(project_id=delta.id, role="consultant", bill_rate=D("100")))
        dm = _milestone(delta, 1, "0", forecast=date(2026, 7, 31), baseline=date(2026, 7, 31))
        _task(dm, 1, 8, forecast=date(2026, 5, 28))
        _task(dm, 2, 8, forecast=date(2026, 6, 20), baseline=date(2026, 5, 29))
        _task(dm, 3, 8, forecast=date(2026, 7, 10))
        april = _sheet(cleo_row, date(2026, 4, 6), "approved")
        _entry(cleo_row, delta, april, date(2026, 4, 7), 20)
        may = _sheet(cleo_row, date(2026, 5, 4), "approved")
        _entry(cleo_row, delta, may, date(2026, 5, 4), 20)

        epsilon = _project(account.id, mia.id, "Epsilon", "non_billable", None)
        em = _milestone(epsilon, 1, "100", forecast=date(2026, 5, 20), baseline=date(2026, 4, 20))
        _task(em, 1, 10, forecast=date(2026, 5, 20), assignee=cleo_row)
        db.session.add(ProjectRate(project_id=epsilon.id, role="consultant", bill_rate=D("100")))
        db.session.commit()
        ids = {p.name: p.id for p in (alpha, beta, gamma, delta, epsilon)}
    return {"lee": lee, "mia": mia, "cleo": cleo, "account": account, "ids": ids}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _month_row(html: str, key: str) -> list[str]:
    table = re.search(r'data-testid="forecast-months".*?</table>', html, re.S).group(0)
    row = re.search(r'<tr data-month="' + key + r'">.*?</tr>', table, re.S).group(0)
    return [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def _project_row(html: str, project_id: int) -> list[str]:
    row = re.search(r'<tr data-project-id="' + str(project_id) + r'">.*?</tr>', html, re.S).group(0)
    return [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def _csv(client) -> list[dict]:
    response = client.get("/reports/forecast.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_six_months_are_calendar_months_from_the_current_one():
    months = months_from(date(2026, 11, 30))
    assert [m.key for m in months] == ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"]
    assert months[3].last == date(2027, 2, 28)


def test_each_month_matches_the_hand_worked_numbers(client, world):
    login_as(client, world["lee"])
    with clock.frozen(TODAY):
        html = client.get("/reports/forecast").get_data(as_text=True)
    assert _month_row(html, "2026-05") == ["May 2026", "3,111.00", "3,800.00", "3,000.00"]
    assert _month_row(html, "2026-06") == ["Jun 2026", "—", "9,450.00", "200.00"]
    assert _month_row(html, "2026-07") == ["Jul 2026", "—", "0.00", "0.00"]
    assert _month_row(html, "2026-08") == ["Aug 2026", "—", "2,222.33", "2,222.33"]
    assert _month_row(html, "2026-10") == ["Oct 2026", "—", "0.00", "0.00"]
    assert "15,472.33" in html


def test_each_project_row(client, world):
    ids = world["ids"]
    login_as(client, world["lee"])
    with clock.frozen(TODAY):
        html = client.get("/reports/forecast").get_data(as_text=True)
    # project, recognised May, May … October, total
    alpha = _project_row(html, ids["Alpha"])
    assert alpha[1:] == ["0.00", "3,000.00 at risk 3,000.00", "7,000.00", "0.00", "0.00", "0.00", "0.00", "10,000.00"]
    assert f'href="/projects/{ids["Alpha"]}"' in html
    beta = _project_row(html, ids["Beta"])
    assert beta[1:] == ["1,111.00", "0.00", "0.00", "0.00", "2,222.33 at risk 2,222.33", "0.00", "0.00", "2,222.33"]
    gamma = _project_row(html, ids["Gamma"])
    assert gamma[1:] == ["0.00", "0.00", "2,250.00", "0.00", "0.00", "0.00", "0.00", "2,250.00"]
    delta = _project_row(html, ids["Delta"])
    assert delta[1:] == ["2,000.00", "800.00", "200.00 at risk 200.00", "0.00", "0.00", "0.00", "0.00", "1,000.00"]
    assert f'data-project-id="{ids["Epsilon"]}"' not in html and "Epsilon" not in html


def test_the_service_figures_are_exact(app, world):
    with app.app_context(), clock.frozen(TODAY):
        report = revenue_forecast()
    by_name = {p.name: p for p in report.projects}
    assert set(by_name) == {"Alpha", "Beta", "Gamma", "Delta"}  # non-billable brings 0 and is left out
    assert by_name["Gamma"].months[1].forecast == D("2250")
    assert by_name["Delta"].months[0].recognised + sum(c.forecast for c in by_name["Delta"].months) == D("3000")
    assert report.totals[0].recognised == D("3111.00")


def test_a_slip_past_month_end_moves_the_fee_to_the_next_month(client, app, world):
    import sqlalchemy as sa

    login_as(client, world["lee"])
    with app.app_context():
        db.session.execute(sa.update(Milestone).where(Milestone.project_id == world["ids"]["Alpha"],
                                                      Milestone.position == 1)
                           .values(forecast_date=date(2026, 6, 2)))
        db.session.commit()
    with clock.frozen(TODAY):
        html = client.get("/reports/forecast").get_data(as_text=True)
    assert _month_row(html, "2026-05")[2:] == ["800.00", "0.00"]
    assert _month_row(html, "2026-06")[2:] == ["12,450.00", "3,200.00"]


def test_csv_holds_the_html_figures(client, world):
    login_as(client, world["lee"])
    with clock.frozen(TODAY):
        html = client.get("/reports/forecast").get_data(as_text=True)
        rows = _csv(client)
    totals = {r["month"]: r for r in rows if r["row"] == "total"}
    assert list(totals) == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    for key, line in totals.items():
        shown = _month_row(html, key)
        assert f"{D(line['forecast']):,}" == shown[2] and f"{D(line['at_risk']):,}" == shown[3]
    assert totals["2026-05"]["recognised"] == "3111.00"
    for name, project_id in world["ids"].items():
        lines = [r for r in rows if r["row"] == "project" and r["project"] == name]
        if name == "Epsilon":
            assert lines == []
            continue
        cells = _project_row(html, project_id)
        assert f"{D(lines[0]['recognised']):,}" == cells[1]
        for line, cell in zip(lines, cells[2:8], strict=True):
            assert cell.split(" at risk ")[0] == f"{D(line['forecast']):,}"
            assert (cell.split(" at risk ")[1] if " at risk " in cell else "0.00") == f"{D(line['at_risk']):,}"


def _page_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-project-id="(\d+)">', html)]


def _chart(html: str) -> str:
    return re.search(r'id="forecast-chart".*?</svg>', html, re.S).group(0)


def test_the_projects_are_paged_and_the_totals_cover_every_project(client, app, world):
    """54 projects (the world's 4 and 25 more of each kind): 50 on the first page, 4 on the second, in the report's
    order; the months' totals and the chart are those of every project on each page; a page past the last shows
    the last; the CSV holds every project."""
    add_projects(app, world["mia"].id, world["account"].id, world["cleo"].id, 25, "p")
    login_as(client, world["lee"])
    with clock.frozen(TODAY):
        first = client.get("/reports/forecast").get_data(as_text=True)
        second = client.get("/reports/forecast?page=2").get_data(as_text=True)
        past = client.get("/reports/forecast?page=9").get_data(as_text=True)
        wrong = client.get("/reports/forecast?page=x").get_data(as_text=True)
        rows = _csv(client)
        with app.app_context():
            report = revenue_forecast()
    assert PROJECTS_PER_PAGE == 50 and len(report.projects) == 54
    assert _page_ids(first) + _page_ids(second) == [p.project_id for p in report.projects]
    assert len(_page_ids(first)) == 50 and _page_ids(past) == _page_ids(second) and _page_ids(wrong) == _page_ids(first)
    assert "1–50 of 54" in first and "51–54 of 54" in second and 'href="/reports/forecast?page=2"' in first
    assert "(54 projects, 50 a page; the CSV holds them all)" in first
    for month in months_from(TODAY.date()):
        assert _month_row(first, month.key) == _month_row(second, month.key)
    assert _chart(first) == _chart(second)
    # the world's figures plus 25 × (500 fixed fee in June and 3 h × 90 = 270 T&M in June; 500 recognised in May)
    assert _month_row(first, "2026-05") == ["May 2026", f"{D('3111') + 25 * D('500'):,.2f}", "3,800.00", "3,000.00"]
    assert _month_row(first, "2026-06")[2] == f"{D('9450') + 25 * (D('500') + D('270')):,.2f}"
    assert len({(r["project"]) for r in rows if r["row"] == "project"}) == 54


def test_statement_count_is_the_same_at_3_and_30_projects(client, app, world, count_queries):
    login_as(client, world["lee"])
    counts = []
    for n, tag in ((1, "a"), (13, "bb")):  # 5 + 2 = 7 projects, then 7 + 26 = 33
        add_projects(app, world["mia"].id, world["account"].id, world["cleo"].id, n, tag)
        with clock.frozen(TODAY):
            with count_queries() as statements:
                assert client.get("/reports/forecast").status_code == 200
            with count_queries() as csv_statements:
                assert client.get("/reports/forecast.csv").status_code == 200
        counts.append((len(statements), len(csv_statements)))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_see_the_report(client, make, role):
    login_as(client, make.user(role=role))
    assert client.get("/reports/forecast").status_code == 403
    assert client.get("/reports/forecast.csv").status_code == 403


@pytest.mark.parametrize("role", ["leader", "admin"])
def test_leaders_and_admins_get_the_report_with_the_sub_nav(client, make, role):
    login_as(client, make.user(role=role))
    html = client.get("/reports/forecast").get_data(as_text=True)
    assert 'data-testid="reports-subnav"' in html and 'href="/reports/utilization"' in html


def test_nothing_to_forecast_says_so(client, make):
    login_as(client, make.user(role="leader"))
    html = client.get("/reports/forecast").get_data(as_text=True)
    assert 'data-testid="forecast-empty"' in html and "Nothing to forecast" in html
    ours = html.split('data-testid="reports-subnav"')[1].split("<footer")[0]
    assert "<script" not in ours and " style=" not in ours and "<style" not in ours
