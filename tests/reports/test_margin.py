"""The margin report (SPEC §3), every figure worked out by hand. Period: May 2026 (custom), today 2026-06-15.

Alpha (T&M, Acme, no cap, manager Mia): 10 h billable approved in May at 150 / 90 → revenue 1,500.00, cost 900.00,
  margin 600.00, 40.0 %. A submitted week adds 2 h billable (switch only): 1,800.00 / 1,080.00 / 720.00 / 40.0 %.
  3 h in a draft week never count.
Beta (T&M, Acme, not-to-exceed 1,200.00): 8 h at 100 / 50 in April (800.00 recognised before the period), 6 h in
  May (600.00 uncapped): capped through 31 May = min(1,400, 1,200) = 1,200.00 − capped through 30 April 800.00 →
  revenue 400.00; cost 6 × 50 = 300.00; margin 100.00; 25.0 %.
Gamma (fixed fee 10,000.00, Bolt): milestone of 20 % completed 2026-04-20 (before: none), of 30 % completed
  2026-05-10 → 3,000.00; one of 50 % open. Cost in May: 20 h × 80 = 1,600.00 → margin 1,400.00, 1,400 / 3,000 =
  46.67 → 46.7 %. Cost to date 25 h × 80 = 2,000.00 (5 h in April), blended 80.00/h; open tasks: T1 estimate 10 h,
  4 h logged → 6 h; T2 estimate 5 h, 8 h logged → 0; done T3 (20 h) not counted → 6 h remaining.
  EAC = 2,000 + 6 × 80 = 2,480.00; projected margin = 10,000 − 2,480 = 7,520.00.
Delta (non-billable, Bolt): 5 h at cost 60 → revenue 0.00, cost 300.00, margin −300.00, margin % "—".
Epsilon (fixed fee 5,000.00, Bolt, manager Max): no time; members' current cost rates 100 and 60 (a later rate from
  2026-07-01 and an earlier one ignored) → blended 80.00; open task of 10 h → EAC 800.00, projected 4,200.00;
  revenue 0 → margin 0.00, "—".

Roll-ups: Acme 1,900.00 / 1,200.00 / 700.00 / 36.8 % (700 / 1,900 = 36.84); Bolt 3,000.00 / 1,900.00 / 1,100.00 /
  36.7 %, EAC 2,480 + 800 = 3,280.00, projected 15,000 − 3,280 = 11,720.00. Mia: 4,900.00 / 3,100.00 / 1,800.00 /
  36.7 % (36.73), EAC 2,480.00, projected 7,520.00; Max: 0.00 / 0.00 / 0.00 / —, 800.00, 4,200.00. Fixed fee
  3,000.00 / 1,600.00 / 1,400.00 / 46.7 %, 3,280.00, 11,720.00; T&M 1,900.00 / 1,200.00 / 700.00 / 36.8 %;
  Non-billable 0.00 / 300.00 / −300.00 / —. Portfolio 4,900.00 / 3,100.00 / 1,800.00 / 36.7 %, 3,280.00,
  11,720.00; with submitted 5,200.00 / 3,280.00 / 1,920.00 / 36.9 % (1,920 / 5,200 = 36.92).
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
from psa.projects.models import Milestone, Task
from psa.timesheets.models import TimeEntry, Timesheet, UserRate
from tests.conftest import login_as

MAY = "period=custom&date_from=2026-05-01&date_to=2026-05-31"
TODAY = datetime(2026, 6, 15, 12, tzinfo=UTC)


def _week(user_id, monday, state):
    sheet = Timesheet(user_id=user_id, week_start=monday, state=state)
    db.session.add(sheet)
    db.session.flush()
    return sheet.id


def _entry(user_id, project_id, sheet, day, hours, bill, cost, billable=True, task_id=None):
    db.session.add(TimeEntry(user_id=user_id, project_id=project_id, timesheet_id=sheet, entry_date=day,
                             minutes=int(hours * 60), billable=billable, bill_rate=Decimal(bill),
                             cost_rate=Decimal(cost), task_id=task_id))


def _milestone(project_id, position, percent, status="todo", completed=None):
    m = Milestone(project_id=project_id, position=position, name=f"M{position}", baseline_due_date=date(2026, 6, 1),
                  due_date=date(2026, 6, 1), status=status, completed_at=completed,
                  fee_share_percent=Decimal(percent))
    db.session.add(m)
    db.session.flush()
    return m


def _task(project_id, milestone_id, position, hours, status="todo"):
    t = Task(project_id=project_id, milestone_id=milestone_id, position=position, name=f"T{position}",
             baseline_start_date=date(2026, 5, 1), baseline_due_date=date(2026, 6, 1), start_date=date(2026, 5, 1),
             due_date=date(2026, 6, 1), estimated_minutes=hours * 60, status=status)
    db.session.add(t)
    db.session.flush()
    return t


def _build(app, make, extra_projects: int = 0, tag: str = ""):
    from psa.auth.models import User
    from psa.projects.services import create_project

    mia = make.user(role="manager", name="Mia Manager")
    max_ = make.user(role="manager", name="Max Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    dan = make.user(role="consultant", name="Dan Consultant")
    lee = make.user(role="leader", name="Lee Leader")
    acme, bolt = make.account(name=f"Acme{tag}"), make.account(name=f"Bolt{tag}")
    with app.app_context():
        manager, other = db.session.get(User, mia.id), db.session.get(User, max_.id)

        def project(name, account, model, fee=None, who=manager, members=()):
            p = create_project(manager, account=account, name=name, kickoff_date=date(2026, 4, 1), manager=who,
                               members=members, billing_model=model, fee_amount=fee)
            db.session.flush()
            return p.id

        alpha = project("Alpha", acme, "time_and_materials")
        beta = project("Beta", acme, "time_and_materials", Decimal("1200"))
        gamma = project("Gamma", bolt, "fixed_fee", Decimal("10000"))
        delta = project("Delta", bolt, "non_billable")
        epsilon = project("Epsilon", bolt, "fixed_fee", Decimal("5000"), other,
                          [db.session.get(User, cleo.id), db.session.get(User, dan.id)])
        for n in range(extra_projects):
            project(f"Extra {n}", acme, "time_and_materials", Decimal("100"))
        _milestone(gamma, 0, "20", "done", datetime(2026, 4, 20, 10, tzinfo=UTC))
        m1 = _milestone(gamma, 1, "30", "done", datetime(2026, 5, 10, 10, tzinfo=UTC))
        m2 = _milestone(gamma, 2, "50")
        t1, t2 = _task(gamma, m2.id, 0, 10), _task(gamma, m2.id, 1, 5)
        _task(gamma, m1.id, 2, 20, "done")
        _task(epsilon, _milestone(epsilon, 0, "100").id, 0, 10)
        for user, rates in ((cleo, [("2026-01-01", "30"), ("2026-03-01", "100"), ("2026-07-01", "500")]),
                            (dan, [("2026-02-01", "60")])):
            for since, cost in rates:
                db.session.add(UserRate(user_id=user.id, effective_from=date.fromisoformat(since),
                                        cost_rate=Decimal(cost), bill_rate=Decimal("150")))
        c = cleo.id
        week = _week(c, date(2026, 4, 20), "approved")
        _entry(c, beta, week, date(2026, 4, 21), 8, 100, 50)
        _entry(c, gamma, week, date(2026, 4, 22), 5, 0, 80)
        week = _week(c, date(2026, 5, 4), "approved")
        _entry(c, alpha, week, date(2026, 5, 4), 5, 150, 90)
        _entry(c, alpha, week, date(2026, 5, 5), 5, 150, 90)
        _entry(c, beta, week, date(2026, 5, 6), 6, 100, 50)
        week = _week(c, date(2026, 5, 11), "approved")
        _entry(c, gamma, week, date(2026, 5, 11), 4, 0, 80, task_id=t1.id)
        _entry(c, gamma, week, date(2026, 5, 12), 8, 0, 80, task_id=t2.id)
        _entry(c, gamma, week, date(2026, 5, 13), 8, 0, 80)
        _entry(c, delta, week, date(2026, 5, 14), 5, 0, 60, billable=False)
        week = _week(c, date(2026, 5, 18), "submitted")
        _entry(c, alpha, week, date(2026, 5, 19), 2, 150, 90)
        week = _week(c, date(2026, 5, 25), "draft")
        _entry(c, alpha, week, date(2026, 5, 26), 3, 150, 90)
        db.session.commit()
        ids = dict(alpha=alpha, beta=beta, gamma=gamma, delta=delta, epsilon=epsilon)
    return {"lee": lee, "ids": ids, "acme": acme, "bolt": bolt}


@pytest.fixture
def world(app, make):
    return _build(app, make)


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _rows(html, table):
    body = re.search(r'data-testid="' + table + r'".*?</table>', html, re.S).group(0)
    rows = {}
    for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S):
        cells = [_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        if cells and "scope=\"col\"" not in row:
            rows[cells[0]] = cells[1:]
    return rows


def _get(client, path):
    with clock.frozen(TODAY):
        return client.get(path)


def test_each_figure_matches_the_hand_worked_numbers(client, world):
    login_as(client, world["lee"])
    response = _get(client, f"/reports/margin?{MAY}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    projects = _rows(html, "margin-projects")
    # account, manager, billing, hours, revenue, cost, margin, margin %, EAC, projected margin
    assert projects["Alpha"][3:] == ["10.00", "1,500.00", "900.00", "600.00", "40.0 %", "—", "—"]
    assert projects["Beta"][3:] == ["6.00", "400.00", "300.00", "100.00", "25.0 %", "—", "—"]
    assert projects["Gamma"][2] == "Fixed fee (1 milestone done)"
    assert projects["Gamma"][3:] == ["20.00", "3,000.00", "1,600.00", "1,400.00", "46.7 %", "2,480.00", "7,520.00"]
    assert projects["Delta"][3:] == ["5.00", "0.00", "300.00", "-300.00", "—", "—", "—"]
    assert projects["Epsilon"][1:] == ["Max Manager", "Fixed fee (0 milestones done)", "0.00", "0.00", "0.00",
                                       "0.00", "—", "800.00", "4,200.00"]
    assert projects["Portfolio (5)"] == ["4,900.00", "3,100.00", "1,800.00", "36.7 %", "3,280.00", "11,720.00"]
    assert _rows(html, "margin-accounts") == {
        "Acme": ["2", "1,900.00", "1,200.00", "700.00", "36.8 %", "—", "—"],
        "Bolt": ["3", "3,000.00", "1,900.00", "1,100.00", "36.7 %", "3,280.00", "11,720.00"]}
    assert _rows(html, "margin-managers") == {
        "Max Manager": ["1", "0.00", "0.00", "0.00", "—", "800.00", "4,200.00"],
        "Mia Manager": ["4", "4,900.00", "3,100.00", "1,800.00", "36.7 %", "2,480.00", "7,520.00"]}
    assert _rows(html, "margin-models") == {
        "Fixed fee": ["2", "3,000.00", "1,600.00", "1,400.00", "46.7 %", "3,280.00", "11,720.00"],
        "Time and materials": ["2", "1,900.00", "1,200.00", "700.00", "36.8 %", "—", "—"],
        "Non-billable": ["1", "0.00", "300.00", "-300.00", "—", "—", "—"]}


def test_the_switch_adds_submitted_hours(client, world):
    login_as(client, world["lee"])
    html = _get(client, f"/reports/margin?{MAY}&include_submitted=y").get_data(as_text=True)
    projects = _rows(html, "margin-projects")
    assert projects["Alpha"][3:8] == ["12.00", "1,800.00", "1,080.00", "720.00", "40.0 %"]
    assert projects["Portfolio (5)"][:4] == ["5,200.00", "3,280.00", "1,920.00", "36.9 %"]


def test_figures_link_to_what_is_behind_them(client, world):
    login_as(client, world["lee"])
    html = _get(client, f"/reports/margin?{MAY}").get_data(as_text=True)
    ids = world["ids"]
    row = re.search(r'<tr data-project-id="' + str(ids["alpha"]) + r'">.*?</tr>', html, re.S).group(0)
    assert f'href="/projects/{ids["alpha"]}"' in row
    export = re.findall(r'href="(/timesheets/export\?[^"]+)"', row)
    assert export and all(f"project_id={ids['alpha']}" in link and "date_from=2026-05-01" in link
                          and "date_to=2026-05-31" in link and "state=approved" in link for link in export)
    gamma = re.search(r'<tr data-project-id="' + str(ids["gamma"]) + r'">.*?</tr>', html, re.S).group(0)
    assert re.search(r'href="/projects/' + str(ids["gamma"]) + r'">3,000.00<', gamma)
    assert 'href="/reports/utilization"' in html and 'href="/reports/margin"' in html
    assert "<script>" not in html.split("<main", 1)[-1] and " style=" not in html.split("<main", 1)[-1]


def test_csv_holds_the_html_figures(client, world):
    login_as(client, world["lee"])
    html = _get(client, f"/reports/margin?{MAY}").get_data(as_text=True)
    response = _get(client, f"/reports/margin.csv?{MAY}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    projects = _rows(html, "margin-projects")
    for row in rows:
        if row["section"] == "project":
            shown = projects[row["name"]][4:]
        elif row["section"] == "total":
            shown = projects[f"{row['name']} (5)"]
        else:
            table = {"account": "margin-accounts", "project_manager": "margin-managers",
                     "billing_model": "margin-models"}[row["section"]]
            shown = _rows(html, table)[row["name"]][1:]
        percent = row["margin_percent"] if row["margin_percent"] == "—" else row["margin_percent"] + " %"
        assert [row["revenue"], row["cost"], row["margin"], percent, row["estimate_at_completion"],
                row["projected_margin"]] == shown, row
    assert {r["section"] for r in rows} == {"project", "account", "project_manager", "billing_model", "total"}
    assert len(rows) == 5 + 2 + 2 + 3 + 1


def test_statement_count_is_the_same_at_3_and_30_projects(app, make, client, count_queries):
    counts = []
    lee = make.user(role="leader")
    login_as(client, lee)
    for extra in (3, 30):  # 8 projects, then 43
        _build(app, make, extra_projects=extra, tag=str(extra))
        with count_queries() as statements:
            assert _get(client, f"/reports/margin?{MAY}").status_code == 200
        with count_queries() as csv_statements:
            assert _get(client, f"/reports/margin.csv?{MAY}").status_code == 200
        counts.append((len(statements), len(csv_statements)))
    assert counts[0] == counts[1], counts


def test_empty_state(client, make):
    login_as(client, make.user(role="admin"))
    html = _get(client, "/reports/margin?period=custom&date_from=2001-01-01&date_to=2001-01-31").get_data(as_text=True)
    assert "No projects to report on" in html


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_see_the_report(client, make, role):
    login_as(client, make.user(role=role))
    assert client.get("/reports/margin").status_code == 403
    assert client.get(f"/reports/margin.csv?{MAY}").status_code == 403


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=custom&date_from=2026-05-10&date_to=2026-05-01", "date_to", "comes before its start"),
    ("period=custom&date_from=2026-02-30&date_to=2026-03-01", "date_from", ""),
    ("period=custom&date_from=2026-01-01", "date_to", "last day of the custom period"),
    ("period=next_century", "period", ""),
])
def test_bad_period_gets_a_message_at_the_field_and_400(client, make, query, field, message):
    login_as(client, make.user(role="leader"))
    for path in ("/reports/margin", "/reports/margin.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        html = response.get_data(as_text=True)
        assert re.search(r'id="' + field + r'"[^>]*is-invalid|is-invalid[^>]*id="' + field + '"', html), (path, query)
        assert message in html


def test_by_month_splits_the_period_and_adds_up_to_it(client, world):
    """15 April to 20 May 2026, months clipped to the period.
    April (04-15 to 04-30): Beta 8 h at 100 / 50 → 800.00 / 400.00 (under its 1,200.00 cap); Gamma's 20 % milestone
      completed 04-20 → 2,000.00, its 5 h at 80 → 400.00. Revenue 2,800.00, cost 800.00, margin 2,000.00,
      2,000 / 2,800 = 71.43 → 71.4 %.
    May (05-01 to 05-20): Alpha 1,500.00 / 900.00; Beta 6 h billed 600.00 but the cap leaves 1,200 − 800 = 400.00,
      cost 300.00; Gamma 30 % → 3,000.00, 20 h × 80 = 1,600.00; Delta cost 300.00. Revenue 4,900.00, cost 3,100.00,
      margin 1,800.00, 36.7 %.
    The months add up to the portfolio: 7,700.00 / 3,900.00 / 3,800.00 (49.35 → 49.4 %)."""
    login_as(client, world["lee"])
    html = _get(client, "/reports/margin?period=custom&date_from=2026-04-15&date_to=2026-05-20") \
        .get_data(as_text=True)
    assert _rows(html, "margin-months") == {
        "2026-04 (2026-04-15 to 2026-04-30)": ["2,800.00", "800.00", "2,000.00", "71.4 %"],
        "2026-05 (2026-05-01 to 2026-05-20)": ["4,900.00", "3,100.00", "1,800.00", "36.7 %"]}
    assert _rows(html, "margin-projects")["Portfolio (5)"][:4] == ["7,700.00", "3,900.00", "3,800.00", "49.4 %"]
    chart = re.search(r'data-testid="margin-month-chart".*?</svg>', html, re.S).group(0)
    values = re.findall(r'data-testid="margin-month-chart-bar" data-value="([^"]*)"', chart)
    assert [Decimal(v) for v in values] == [Decimal(2000), Decimal(1800)]
    assert "2026-05: 1,800.00" in chart
    month_link = ('/timesheets/export?date_from=2026-05-01&amp;date_to=2026-05-20&amp;state=approved')
    assert month_link in html


def test_by_month_with_the_switch_counts_submitted_weeks(client, world):
    """May with submitted weeks: Alpha's 2 h on 05-19 add 300.00 revenue and 180.00 cost to May."""
    login_as(client, world["lee"])
    html = _get(client, f"/reports/margin?{MAY}&include_submitted=y").get_data(as_text=True)
    assert _rows(html, "margin-months") == {
        "2026-05 (2026-05-01 to 2026-05-31)": ["5,200.00", "3,280.00", "1,920.00", "36.9 %"]}


def test_the_projects_table_pages_by_50_and_the_totals_cover_every_project(app, make, client):
    """55 projects (the five above and 50 "Extra" T&M ones of Acme, no time): page 1 shows the first 50 in the
    report's order (account, then name), page 2 the other 5; the portfolio total, the roll-ups and the months are
    the same on both pages and count all 55; the pager keeps the filters; the CSV holds every project."""
    world = _build(app, make, extra_projects=50)
    login_as(client, world["lee"])
    first = _get(client, f"/reports/margin?{MAY}").get_data(as_text=True)
    second = _get(client, f"/reports/margin?{MAY}&projects_page=2").get_data(as_text=True)
    one, two = _rows(first, "margin-projects"), _rows(second, "margin-projects")
    total = ["4,900.00", "3,100.00", "1,800.00", "36.7 %", "3,280.00", "11,720.00"]
    assert one.pop("Portfolio (55)") == total and two.pop("Portfolio (55)") == total
    # Acme: Alpha, Beta, Extra 0..49 (by name, case-insensitive); then Bolt: Delta, Epsilon, Gamma
    names = ["Alpha", "Beta", *sorted((f"Extra {n}" for n in range(50)), key=str.lower), "Delta", "Epsilon", "Gamma"]
    assert list(one) == names[:50] and list(two) == names[50:]
    assert two["Gamma"][3:] == ["20.00", "3,000.00", "1,600.00", "1,400.00", "46.7 %", "2,480.00", "7,520.00"]
    for table in ("margin-accounts", "margin-managers", "margin-models", "margin-months"):
        assert _rows(first, table) == _rows(second, table), table
    assert _rows(second, "margin-accounts")["Acme"][0] == "52"
    assert "1–50 of 55" in _text(first) and "51–55 of 55" in _text(second)
    pager = re.search(r'data-testid="projects_page".*?</nav>', first, re.S).group(0)
    assert ('href="/reports/margin?period=custom&amp;date_from=2026-05-01&amp;date_to=2026-05-31&amp;projects_page=2"'
            in pager)
    assert 'data-testid="accounts_page"' not in first  # two accounts: one page, no pager
    # the chart draws the page's projects
    assert len(re.findall(r'data-testid="margin-chart-bar"', second)) == 5
    # the PDF's chart draws the first page's 50 and says so; its table holds all 55
    from psa.reports.margin import margin_pdf_html, margin_report
    from psa.reports.services import Period

    with app.test_request_context():
        pdf_html = margin_pdf_html(margin_report(Period(date(2026, 5, 1), date(2026, 5, 31))))
    chart = re.search(r'data-testid="margin-chart".*?</svg>', pdf_html, re.S).group(0)
    assert len(re.findall(r'data-testid="margin-chart-bar"', chart)) == 50
    assert "The first 50 of 55 projects, in the table" in pdf_html
    assert all(f">{name}<" in pdf_html for name in names)
    # a page past the last shows the last; a bad one the first
    assert _rows(_get(client, f"/reports/margin?{MAY}&projects_page=9").get_data(as_text=True),
                 "margin-projects").keys() == _rows(second, "margin-projects").keys()
    assert list(_rows(_get(client, f"/reports/margin?{MAY}&projects_page=x").get_data(as_text=True),
                      "margin-projects"))[:50] == names[:50]
    rows = list(csv.DictReader(io.StringIO(_get(client, f"/reports/margin.csv?{MAY}").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
    assert [row["name"] for row in rows if row["section"] == "project"] == names
