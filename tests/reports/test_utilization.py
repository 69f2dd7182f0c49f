"""The utilization report (SPEC §3), every figure worked out by hand.

May 2026 has 21 weekdays; Monday 2026-05-25 is a holiday, so 20 working days.

Cleo (consultant, 40 h/week, approver Mia):
  capacity = 20 × 40 / 5 = 160 h, less 8 h of time off on 2026-05-26 (logged in a *draft* week: it counts
  whatever its week's state) = 152 h;
  approved weeks: 114 h billable (40 + 40 + 34) and 19 h non-billable → 133 h;
  billable utilization = 114 / 152 = 75.0 %, total = 133 / 152 = 87.5 %;
  a submitted week holds 10 h billable on 2026-05-01 (and 4 h on 2026-04-30, outside the period): counted only
  with the switch: billable 124 / 152 = 81.58 → 81.6 %, total 143 / 152 = 94.08 → 94.1 %;
  5 h in the draft week never count.
Dora (consultant, 20 h/week, approver Mia): capacity 20 × 20 / 5 = 80 h; 40 h billable approved → 50.0 % / 50.0 %.
Zed (consultant, 0 h/week, no approver): capacity 0 → "—" for both utilizations.
Mia (manager, 40 h/week): capacity 160 h, no hours → 0.0 %.  Lee (leader, 0 h/week): capacity 0.

Role "Consultant" = Cleo + Dora + Zed: capacity 152 + 80 + 0 = 232 h; billable 114 + 40 = 154 h → 154 / 232 =
66.38 → 66.4 %; total 133 + 40 = 173 h → 173 / 232 = 74.57 → 74.6 %.
Team "Mia Manager" (Cleo and Dora share the approver Mia): the same 232 h, 154 h, 173 h.
Portfolio: capacity 152 + 80 + 0 + 160 + 0 = 392 h; billable 154 / 392 = 39.29 → 39.3 %; total 173 / 392 = 44.13 →
44.1 %.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.core import clock
from psa.extensions import db
from psa.reports.services import Period, period_for
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from tests.conftest import login_as

MAY = "period=custom&date_from=2026-05-01&date_to=2026-05-31"
TODAY = datetime(2026, 5, 15, 12, tzinfo=UTC)


def _week(user_id: int, monday: date, state: str) -> int:
    sheet = Timesheet(user_id=user_id, week_start=monday, state=state)
    db.session.add(sheet)
    db.session.flush()
    return sheet.id


def _entries(user_id: int, project_id: int, sheet_id: int, rows: list[tuple[date, float, bool]]) -> None:
    for day, hours, billable in rows:
        db.session.add(TimeEntry(user_id=user_id, project_id=project_id, timesheet_id=sheet_id, entry_date=day,
                                 minutes=int(hours * 60), billable=billable, bill_rate=Decimal("150"),
                                 cost_rate=Decimal("60")))


def _days(monday: date, hours: list[float], billable: bool = True):
    return [(monday + timedelta(days=n), h, billable) for n, h in enumerate(hours)]


@pytest.fixture
def world(app, make):
    from psa.auth.models import User
    from psa.projects.services import create_project

    mia = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant", approver_id=mia.id)
    dora = make.user(role="consultant", name="Dora Consultant", approver_id=mia.id,
                     weekly_capacity_hours=Decimal("20"))
    zed = make.user(role="consultant", name="Zed Zero", weekly_capacity_hours=Decimal("0"))
    lee = make.user(role="leader", name="Lee Leader", weekly_capacity_hours=Decimal("0"))
    make.holiday(day=date(2026, 5, 25), name="Memorial Day")
    with app.app_context():
        manager = db.session.get(User, mia.id)
        project = create_project(manager, account=make.account(name="Acme"), name="Acme onboarding",
                                 kickoff_date=date(2026, 4, 1), manager=manager, members=[],
                                 billing_model="time_and_materials", fee_amount=Decimal("50000"))
        db.session.flush()
        pid = project.id
        submitted = _week(cleo.id, date(2026, 4, 27), "submitted")
        _entries(cleo.id, pid, submitted, [(date(2026, 4, 30), 4, True), (date(2026, 5, 1), 10, True)])
        for monday, hours in ((date(2026, 5, 4), [8] * 5), (date(2026, 5, 11), [8] * 5),
                              (date(2026, 5, 18), [8, 8, 8, 8, 2])):
            sheet = _week(cleo.id, monday, "approved")
            _entries(cleo.id, pid, sheet, _days(monday, hours))
            if monday == date(2026, 5, 18):
                _entries(cleo.id, pid, sheet, [(date(2026, 5, 19), 10, False), (date(2026, 5, 20), 9, False)])
        draft = _week(cleo.id, date(2026, 5, 25), "draft")
        _entries(cleo.id, pid, draft, [(date(2026, 5, 27), 5, True)])
        db.session.add(TimeOff(user_id=cleo.id, timesheet_id=draft, entry_date=date(2026, 5, 26), kind="vacation",
                               minutes=480))
        dora_week = _week(dora.id, date(2026, 5, 4), "approved")
        _entries(dora.id, pid, dora_week, _days(date(2026, 5, 4), [8] * 5))
        db.session.commit()
    return {"mia": mia, "cleo": cleo, "dora": dora, "zed": zed, "lee": lee}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _cells(html: str, marker: str) -> list[str]:
    """The text of each cell of the row holding `marker`."""
    row = re.search(r"<tr[^>]*" + re.escape(marker) + r".*?</tr>", html, re.S).group(0)
    return [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def _row_of(html: str, table: str, label: str) -> list[str]:
    body = re.search(r'data-testid="' + table + r'".*?</table>', html, re.S).group(0)
    for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S):
        cells = [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        if cells and cells[0].startswith(label):
            return cells
    raise AssertionError(f"no row {label} in {table}")


def test_each_figure_matches_the_hand_worked_numbers(client, world):
    login_as(client, world["lee"])
    response = client.get(f"/reports/utilization?{MAY}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "20 working days" in html
    # person: time off, capacity, billable, total, billable %, total %
    assert _cells(html, f'data-user-id="{world["cleo"].id}"')[3:] == [
        "8.00", "152.00", "114.00", "133.00", "75.0 %", "87.5 %"]
    assert _cells(html, f'data-user-id="{world["dora"].id}"')[3:] == [
        "0.00", "80.00", "40.00", "40.00", "50.0 %", "50.0 %"]
    assert _cells(html, f'data-user-id="{world["zed"].id}"')[3:] == ["0.00", "0.00", "0.00", "0.00", "—", "—"]
    assert _row_of(html, "utilization-roles", "Consultant") == [
        "Consultant (3)", "232.00", "154.00", "173.00", "66.4 %", "74.6 %"]
    assert _row_of(html, "utilization-teams", "Mia Manager") == [
        "Mia Manager (2)", "232.00", "154.00", "173.00", "66.4 %", "74.6 %"]
    assert _cells(html, 'data-testid="utilization-total"')[1:] == ["392.00", "154.00", "173.00", "39.3 %", "44.1 %"]


def test_the_switch_adds_submitted_hours_only(client, world):
    login_as(client, world["lee"])
    html = client.get(f"/reports/utilization?{MAY}&include_submitted=y").get_data(as_text=True)
    assert _cells(html, f'data-user-id="{world["cleo"].id}"')[3:] == [
        "8.00", "152.00", "124.00", "143.00", "81.6 %", "94.1 %"]


def test_heat_map_has_a_band_per_week_and_the_name_drills_into_the_entries(client, world):
    login_as(client, world["lee"])
    html = client.get(f"/reports/utilization?{MAY}").get_data(as_text=True)
    heat = re.search(r'data-testid="utilization-heatmap".*?</table>', html, re.S).group(0)
    assert [_text(h) for h in re.findall(r'<th scope="col" class="text-end">(.*?)</th>', heat)] == [
        "2026-04-27", "2026-05-04", "2026-05-11", "2026-05-18", "2026-05-25"]
    cleo = _row_of(html, "utilization-heatmap", "Cleo Consultant")
    # 2026-05-01 alone (8 h capacity, nothing approved) = 0.0; 40/40 = 100.0; 53/40 = 132.5;
    # the week of the holiday: 3 working days, 24 h less 8 h off = 16 h, nothing approved = 0.0
    assert cleo[1:] == ["0.0", "100.0", "100.0", "132.5", "0.0"]
    assert "psa-band-over" in heat and "psa-band-under" in heat and "psa-band-none" in heat
    link = re.search(r'href="([^"]*)"[^>]*>Cleo Consultant<', html).group(1).replace("&amp;", "&")
    assert link.startswith("/timesheets/export?")
    for part in (f"user_id={world['cleo'].id}", "date_from=2026-05-01", "date_to=2026-05-31", "state=approved"):
        assert part in link
    drill = client.get(link)
    assert drill.status_code == 200 and 'data-testid="export-summary"' in drill.get_data(as_text=True)


def test_csv_holds_the_html_figures(client, world):
    login_as(client, world["lee"])
    html = client.get(f"/reports/utilization?{MAY}").get_data(as_text=True)
    response = client.get(f"/reports/utilization.csv?{MAY}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    by_name = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in rows[1:]}
    for key in ("cleo", "dora", "zed", "mia"):
        user = world[key]
        line = by_name[("person", user.name)]
        shown = _cells(html, f'data-user-id="{user.id}"')[3:]
        assert [line["time_off_hours"], line["capacity_hours"], line["billable_hours"], line["total_hours"],
                line["billable_utilization_percent"], line["total_utilization_percent"]] == [
            cell.removesuffix(" %") for cell in shown]
    total = by_name[("total", "All people")]
    assert [total["capacity_hours"], total["billable_utilization_percent"], total["total_utilization_percent"]] == [
        "392.00", "39.3", "44.1"]
    consultants = by_name[("role", "Consultant")]
    assert (consultants["billable_hours"], consultants["billable_utilization_percent"]) == ("154.00", "66.4")
    assert total["period_start"] == "2026-05-01" and total["period_end"] == "2026-05-31"


@pytest.mark.parametrize(("today", "preset", "expected"), [
    (date(2026, 5, 15), "this_month", (date(2026, 5, 1), date(2026, 5, 31))),
    (date(2026, 5, 15), "last_month", (date(2026, 4, 1), date(2026, 4, 30))),
    (date(2026, 5, 15), "this_quarter", (date(2026, 4, 1), date(2026, 6, 30))),
    (date(2026, 5, 15), "last_quarter", (date(2026, 1, 1), date(2026, 3, 31))),
    (date(2026, 1, 10), "last_month", (date(2025, 12, 1), date(2025, 12, 31))),
    (date(2026, 1, 10), "last_quarter", (date(2025, 10, 1), date(2025, 12, 31))),
    (date(2026, 3, 1), "last_month", (date(2026, 2, 1), date(2026, 2, 28))),
    (date(2026, 12, 31), "this_quarter", (date(2026, 10, 1), date(2026, 12, 31))),
])
def test_presets_name_the_right_period(today, preset, expected):
    assert period_for(preset, today) == Period(*expected)


def test_presets_follow_the_organisations_today(client, app, world):
    from psa.admin.models import Settings

    with app.app_context():
        settings = db.session.get(Settings, 1) or Settings(id=1)
        settings.timezone = "Pacific/Auckland"
        db.session.add(settings)
        db.session.commit()
    login_as(client, world["lee"])
    # 2026-04-30 13:00 UTC is already 2026-05-01 in Auckland
    with clock.frozen(datetime(2026, 4, 30, 13, tzinfo=UTC)):
        html = client.get("/reports/utilization?period=this_month").get_data(as_text=True)
        default = client.get("/reports/utilization").get_data(as_text=True)
        last_quarter = client.get("/reports/utilization?period=last_quarter").get_data(as_text=True)
    assert "2026-05-01 to 2026-05-31" in html and "2026-05-01 to 2026-05-31" in default
    assert "2026-01-01 to 2026-03-31" in last_quarter


def _people(app, n: int) -> None:
    from psa.auth.models import User

    with app.app_context():
        project_id = db.session.scalar(sa.select(sa.func.min(TimeEntry.project_id)))
        for i in range(n):
            user = User(email=f"bulk{n}-{i}@example.com", name=f"Bulk {n}-{i}", role="consultant",
                        timezone="UTC", weekly_capacity_hours=Decimal("40"), is_active_user=True)
            db.session.add(user)
            db.session.flush()
            sheet = _week(user.id, date(2026, 5, 11), "approved")
            _entries(user.id, project_id, sheet, _days(date(2026, 5, 11), [8, 7, 6]))
            db.session.add(TimeOff(user_id=user.id, timesheet_id=sheet, entry_date=date(2026, 5, 15),
                                   kind="sick", minutes=240))
        db.session.commit()


def test_statement_count_is_the_same_at_3_and_30_people(client, app, world, count_queries):
    login_as(client, world["lee"])
    counts = []
    for n in (3, 27):  # 30 people more in all
        _people(app, n)
        with count_queries() as statements:
            assert client.get(f"/reports/utilization?{MAY}").status_code == 200
        with count_queries() as csv_statements:
            assert client.get(f"/reports/utilization.csv?{MAY}").status_code == 200
        counts.append((len(statements), len(csv_statements)))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_see_the_report(client, make, role):
    login_as(client, make.user(role=role))
    assert client.get("/reports/utilization").status_code == 403
    assert client.get(f"/reports/utilization.csv?{MAY}").status_code == 403
    assert "/reports/utilization" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["leader", "admin"])
def test_leaders_and_admins_get_the_report_and_the_nav_link(client, make, role):
    login_as(client, make.user(role=role))
    assert client.get("/reports/utilization").status_code == 200
    assert 'href="/reports/utilization"' in client.get("/").get_data(as_text=True)


def test_an_empty_period_says_so(client, app, make, world):
    from psa.auth.models import User
    from psa.reports.services import utilization_report

    login_as(client, world["lee"])
    html = client.get("/reports/utilization?period=custom&date_from=2001-01-01&date_to=2001-01-31").get_data(
        as_text=True)
    assert 'data-testid="utilization-no-hours"' in html and "No approved hours in this period" in html
    assert 'data-testid="utilization-no-hours"' not in client.get(f"/reports/utilization?{MAY}").get_data(as_text=True)
    with app.app_context():
        db.session.execute(sa.update(User).values(is_active_user=False))
        report = utilization_report(Period(date(2001, 1, 1), date(2001, 1, 31)))
        assert report.people == [] and report.total.total_percent is None
        db.session.rollback()


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=custom&date_from=2026-05-10&date_to=2026-05-01", "date_to", "comes before its start"),
    ("period=custom&date_from=2026-02-30&date_to=2026-03-01", "date_from", ""),
    ("period=custom&date_from=1999-12-31&date_to=2026-03-01", "date_from", ""),
    ("period=custom&date_from=2026-01-01", "date_to", "last day of the custom period"),
    ("period=custom&date_from=2020-01-01&date_to=2026-01-01", "date_to", "at most 731 days"),
    ("period=next_century", "period", ""),
])
def test_bad_input_gets_a_message_at_the_field_and_400(client, make, query, field, message):
    login_as(client, make.user(role="leader"))
    for path in ("/reports/utilization", "/reports/utilization.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        html = response.get_data(as_text=True)
        assert re.search(r'id="' + field + r'"[^>]*is-invalid|is-invalid[^>]*id="' + field + '"', html), (path, query)
        assert message in html
