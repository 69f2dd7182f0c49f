"""The export's cells are written by the database (COPY's CSV on PostgreSQL, whole lines in SQL on SQLite): the
file is byte for byte what Python's csv.writer (QUOTE_MINIMAL, CRLF) writes from the same rows with
escape_cell and format_hours, whatever the text; the export and the page's count are a constant number of
statements whatever the number of entries; the count stops at COUNT_CAP."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psa.accounts.models import Account
from psa.auth.models import User
from psa.extensions import db
from psa.projects.models import Project, Task
from psa.timesheets import exports
from psa.timesheets.durations import format_hours
from psa.timesheets.exports import ExportFilters, export_csv, export_statement, header_for, shows_rates
from psa.timesheets.imports import escape_cell
from psa.timesheets.models import TimeEntry, Timesheet
from tests.conftest import login_as
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_exports import _log

#: Text a cell may hold that csv.writer and escape_cell treat specially, and some that they do not.
EDGES = [
    "", "plain", 'He said "fine"', '"', '""', "a,b", ",", "line one\nline two", "\n", "carriage\rreturn", "\r",
    "crlf\r\nend", "=SUM(A1)", "+1", "-1 day", "@mention", "\tindented", "\rstarts with CR", "'already quoted",
    " leading space", "trailing space ", "semi;colon", "back\\slash", "\\.", "\\N", "NULL", "café", "日本語のメモ",
    "emoji 🎉 ok", "עברית", "line\u2028separator", "=\"quoted, formula\"\n", "-", "=", "@", "\t", "x" * 300,
]


def _reference(filters: ExportFilters, viewer) -> str:
    """The file as Python writes it from the rows of export_statement (the same rows, in the same order)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header_for(viewer))
    rates = shows_rates(viewer)
    for row in db.session.execute(export_statement(filters, viewer)):
        cells = [row.entry_date.isoformat(), row.email, escape_cell(row.project), escape_cell(row.task or ""),
                 escape_cell(row.activity or ""), format_hours(row.minutes), "yes" if row.billable else "no",
                 escape_cell(row.note or ""), escape_cell(row.account), row.state]
        if rates:
            cells += [f"{row.bill_rate:.2f}", f"{row.cost_rate:.2f}"]
        writer.writerow(cells)
    return "\ufeff" + buffer.getvalue()


def _insert(user_id: int, project_id: int, rows: list[dict]) -> None:
    """Time entries straight into the table (the database holds what the grid never writes too)."""
    sheet_id = db.session.scalar(sa.select(Timesheet.id).where(Timesheet.user_id == user_id,
                                                              Timesheet.week_start == MONDAY))
    if sheet_id is None:
        sheet = Timesheet(user_id=user_id, week_start=MONDAY, state="draft")
        db.session.add(sheet)
        db.session.flush()
        sheet_id = sheet.id
    now = datetime.now(UTC)
    base = {"user_id": user_id, "project_id": project_id, "task_id": None, "timesheet_id": sheet_id,
            "entry_date": MONDAY, "minutes": 60, "billable": True, "note": "", "activity": "",
            "bill_rate": Decimal("150"), "cost_rate": Decimal("60"), "created_at": now, "updated_at": now}
    db.session.execute(sa.insert(TimeEntry), [base | row for row in rows])
    db.session.flush()


def _exported(filters: ExportFilters, viewer) -> str:
    return "".join(export_csv(filters, viewer))


@pytest.fixture
def admin(make):
    return make.user(role="admin")


def test_every_edge_of_the_text_is_written_as_csv_writer_writes_it(ctx, make, staffed, admin):
    consultant, manager, project_id, task_id = staffed
    project = db.session.get(Project, project_id)
    account = db.session.get(Account, project.account_id)
    days = [MONDAY + timedelta(days=i) for i in range(5)]
    _insert(consultant.id, project_id, [
        {"note": text, "activity": EDGES[-1 - i][:120], "task_id": task_id if i % 3 else None, "minutes": 1 + (7 * i) % 1440,
         "billable": i % 2 == 0, "entry_date": days[i % 5]} for i, text in enumerate(EDGES)])
    viewer = db.session.get(User, admin.id)
    for name in ('=cmd|" /C calc"!A0', "Acme, Inc.", "-minus", 'Quote "Q"\nnewline', "@at"):  # text from the
        project.name, account.name = name, f"+{name}"                                    # joined tables too
        db.session.get(Task, task_id).name = f"\t{name}"
        db.session.flush()
        text = _exported(ExportFilters(), viewer)
        assert text == _reference(ExportFilters(), viewer)
        assert len(list(csv.reader(io.StringIO(text[1:])))) == len(EDGES) + 1
    # and without the rate columns, for a manager who sees the project
    viewer = db.session.get(User, manager.id)
    text = _exported(ExportFilters(), viewer)
    assert text == _reference(ExportFilters(), viewer) and "bill_rate" not in text.splitlines()[0]


def test_hours_and_rates_are_format_hours_and_two_places_for_every_minute(ctx, staffed, admin):
    consultant, _, project_id, _ = staffed
    rates = [Decimal(r) for r in ("0", "0.01", "0.10", "1", "12.3", "99.99", "150", "1000.05", "9999999999.99")]
    _insert(consultant.id, project_id, [
        {"minutes": minutes, "bill_rate": rates[minutes % len(rates)], "cost_rate": rates[-1 - minutes % len(rates)]}
        for minutes in range(1, 1441)])
    viewer = db.session.get(User, admin.id)
    text = _exported(ExportFilters(), viewer)
    assert text == _reference(ExportFilters(), viewer)
    rows = list(csv.reader(io.StringIO(text[1:])))[1:]
    assert sorted((row[5] for row in rows), key=Decimal) == [format_hours(m) for m in range(1, 1441)]
    assert {row[10] for row in rows} == {f"{r:.2f}" for r in rates}


def test_any_note_is_written_as_csv_writer_writes_it(ctx, staffed, admin):
    consultant, _, project_id, _ = staffed
    viewer = db.session.get(User, admin.id)
    text_strategy = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(notes=st.lists(text_strategy, min_size=1, max_size=8), activity=text_strategy)
    def check(notes, activity):
        _insert(consultant.id, project_id, [{"note": note, "activity": activity} for note in notes])
        try:
            text = _exported(ExportFilters(), viewer)
            assert text == _reference(ExportFilters(), viewer)
            assert sorted(row[7] for row in csv.reader(io.StringIO(text[1:], newline=""))) == sorted(
                [*(escape_cell(note) for note in notes), "note"])
        finally:
            db.session.execute(sa.delete(TimeEntry))

    check()


def test_rows_come_by_date_then_email_then_project_by_code_point(ctx, make, staffed, admin):
    consultant, manager, project_id, _ = staffed
    others = [make.user(role="consultant", email=email) for email in ("Zed@example.com", "adam@example.com")]
    names = ["beta", "Beta", "Ärger", "alpha", "Zulu"]
    projects = [project_id]
    for name in names:
        project = Project(account_id=db.session.get(Project, project_id).account_id, name=name,
                          manager_id=manager.id, kickoff_date=MONDAY, billing_model="time_and_materials",
                          status="active")
        db.session.add(project)
        db.session.flush()
        projects.append(project.id)
    for user in [consultant, *others]:
        _insert(user.id, projects[0], [{"project_id": p, "entry_date": MONDAY + timedelta(days=i % 2)}
                                       for i, p in enumerate(reversed(projects))])
    viewer = db.session.get(User, admin.id)
    rows = list(csv.reader(io.StringIO(_exported(ExportFilters(), viewer)[1:])))[1:]
    keys = [(row[0], row[1], row[2]) for row in rows]
    assert keys == sorted(keys)  # Python compares str by code point, as both databases now do
    assert len(keys) == 3 * len(projects)


def test_the_export_and_the_count_are_a_constant_number_of_statements(app, make, staffed, count_queries):
    consultant, manager, project_id, task_id = staffed
    clients = []
    for viewer in (make.user(role="admin"), manager, consultant):  # every entry; what a manager sees; one's own
        clients.append(app.test_client())
        login_as(clients[-1], viewer)
    counts = []
    for weeks in (1, 8):
        for offset in range(weeks):
            _log(app, consultant.id, (project_id, task_id, dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], "1")),
                 monday=MONDAY - timedelta(days=7 * (offset + 20 + 8 * (weeks > 1))))
        seen = []
        for client in clients:
            with count_queries() as export:
                response = client.get("/timesheets/export.csv?date_from=2020-01-01")
                assert response.status_code == 200
                lines = response.get_data(as_text=True).count("\r\n") - 1
            with count_queries() as page:
                assert client.get("/timesheets/export?date_from=").status_code == 200
            seen.append((len(export), len(page), lines))
        counts.append(seen)
    assert [lines for _, _, lines in counts[0]] == [5, 5, 5] and [lines for _, _, lines in counts[1]] == [45, 45, 45]
    assert [c[:2] for c in counts[0]] == [c[:2] for c in counts[1]]


def test_the_count_stops_at_the_cap_and_says_more_than(client, app, make, staffed, monkeypatch):
    consultant, _, project_id, task_id = staffed
    _log(app, consultant.id, (project_id, task_id, dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], "1:30")))
    login_as(client, make.user(role="admin"))
    monkeypatch.setattr(exports, "COUNT_CAP", 5)
    html = client.get("/timesheets/export?date_from=").get_data(as_text=True)
    assert '<p class="psa-stat mb-0">5</p>' in html and "7.50 hours" in html
    monkeypatch.setattr(exports, "COUNT_CAP", 4)
    html = client.get("/timesheets/export?date_from=").get_data(as_text=True)
    assert "More than 4" in html and "hours" not in html.split('data-testid="export-summary"')[1].split("</div>")[0]
    with app.app_context():
        viewer = db.session.scalar(sa.select(User).where(User.role == "admin"))
        assert exports.export_summary(ExportFilters(), viewer) == (4, None, True)
        assert exports.export_summary(ExportFilters(date_to=MONDAY + timedelta(days=2)), viewer) == (3, 270, False)
