"""CSV time export: our import's columns first, filters, one streamed query, consultants see their own time,
and an export imports back into an empty database as the same entries."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.exports import HEADER
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry, Timesheet
from tests.conftest import login_as
from tests.timesheets.conftest import MONDAY


def _rows(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _log(app, user_id, *rows, monday=MONDAY):
    """Save one week on the grid for the user; each row is (project_id, task_id, {"mon": "1:30", "note_mon": ...})."""
    names = ["mon", "tue", "wed", "thu", "fri"]
    with app.app_context():
        user = db.session.get(User, user_id)
        grid_rows = [ts.GridRow(project_id=project_id, task_id=task_id, cells={
            monday + timedelta(days=i): ts.GridCell(cells[n], cells.get(f"note_{n}", ""))
            for i, n in enumerate(names) if n in cells}) for project_id, task_id, cells in rows]
        ts.save_week(user, user, monday, grid_rows)
        db.session.commit()


def _approve(app, user_id, manager_id, monday=MONDAY):
    with app.app_context():
        user, manager = db.session.get(User, user_id), db.session.get(User, manager_id)
        sheet = ts.get_timesheet(user, monday)
        ts.submit_timesheet(user, sheet)
        ts.approve_timesheet(manager, sheet)
        db.session.commit()


def _second_project(app, make, manager_id, member_ids, account="Globex", name="Globex rollout"):
    from psa.projects.services import create_project

    acct = make.account(name=account)
    with app.app_context():
        manager = db.session.get(User, manager_id)
        project = create_project(manager, account=acct, name=name, kickoff_date=date(2026, 9, 1), manager=manager,
                                 members=[db.session.get(User, i) for i in member_ids],
                                 billing_model="time_and_materials")
        db.session.commit()
        return project.id


def test_the_file_has_our_columns_first_and_one_line_per_entry(client, app, make, staffed):
    consultant, manager, project_id, task_id = staffed
    with app.app_context():
        ts.set_user_rate(None, db.session.get(User, consultant.id), effective_from=date(2026, 1, 1), cost_rate="60",
                         bill_rate="150")
        db.session.commit()
    _log(app, consultant.id, (project_id, task_id, {"mon": "1:30", "tue": "0:20", "note_mon": 'SSO, "quoted"'}))
    login_as(client, make.user(role="leader"))
    response = client.get("/timesheets/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="time-entries-all.csv"'
    rows = _rows(response)
    assert rows[0] == list(HEADER) and rows[0][:8] == ["date", "email", "project", "task", "activity", "hours", "billable",
                                                   "note"]
    assert rows[1:] == [
        ["2026-10-05", consultant.email, "Acme onboarding", "Configure", "", "1.50", "yes", 'SSO, "quoted"', "Acme", "draft",
         "150.00", "60.00"],
        ["2026-10-06", consultant.email, "Acme onboarding", "Configure", "", "0.33", "yes", "", "Acme", "draft",
         "150.00", "60.00"],
    ]


def test_the_filters_pick_the_entries(client, app, make, staffed):
    consultant, manager, project_id, _ = staffed
    other = make.user(role="consultant", name="Otto Other")
    globex_id = _second_project(app, make, manager.id, [consultant.id, other.id])
    _log(app, consultant.id, (project_id, None, {"mon": "1", "tue": "2"}), (globex_id, None, {"wed": "3"}))
    _approve(app, consultant.id, manager.id)
    _log(app, consultant.id, (project_id, None, {"mon": "4"}), monday=MONDAY + timedelta(days=7))
    _log(app, other.id, (globex_id, None, {"thu": "5"}))
    with app.app_context():
        from psa.projects.models import Project

        acme_account = db.session.get(Project, project_id).account_id
    login_as(client, make.user(role="admin"))

    def hours(query):
        response = client.get(f"/timesheets/export.csv?{query}")
        assert response.status_code == 200, query
        return sorted(row[5] for row in _rows(response)[1:])

    assert hours("") == ["1.00", "2.00", "3.00", "4.00", "5.00"]
    assert hours("date_from=2026-10-06&date_to=2026-10-08") == ["2.00", "3.00", "5.00"]
    assert hours(f"user_id={other.id}") == ["5.00"]
    assert hours(f"project_id={globex_id}") == ["3.00", "5.00"]
    assert hours(f"account_id={acme_account}") == ["1.00", "2.00", "4.00"]
    assert hours("state=approved") == ["1.00", "2.00", "3.00"]
    assert hours("state=draft&user_id=" + str(consultant.id)) == ["4.00"]
    assert hours("state=rejected") == []
    response = client.get("/timesheets/export.csv?date_from=2026-10-06&date_to=2026-10-08")
    assert 'filename="time-entries-2026-10-06-2026-10-08.csv"' in response.headers["Content-Disposition"]
    # the page counts what the filters match, in SQL
    page = client.get(f"/timesheets/export?project_id={globex_id}").get_data(as_text=True)
    assert '<p class="psa-stat mb-0">2</p>' in page and "8.00 hours" in page
    assert "No entries match" in client.get("/timesheets/export?state=rejected").get_data(as_text=True)


def test_bad_filters_are_shown_at_their_field(client, make, staffed):
    login_as(client, make.user(role="manager"))
    response = client.get("/timesheets/export.csv?date_from=2026-10-09&date_to=2026-10-01&state=lost&user_id=99999")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    for message in ("The end of the period comes before its start.", "Not a valid choice.",
                    "Choose a person from the list."):
        assert message in html, message
    assert client.get("/timesheets/export?date_from=yesterday").status_code == 400
    assert "Enter a date as YYYY-MM-DD." in client.get("/timesheets/export?date_from=yesterday").get_data(as_text=True)


def test_a_consultant_exports_only_their_own_time(client, app, make, staffed):
    consultant, manager, project_id, _ = staffed
    other = make.user(role="consultant")
    with app.app_context():
        from psa.projects.models import project_members

        db.session.execute(sa.insert(project_members).values(project_id=project_id, user_id=other.id))
        db.session.commit()
    _log(app, consultant.id, (project_id, None, {"mon": "1"}))
    _log(app, other.id, (project_id, None, {"mon": "2"}))
    login_as(client, consultant)
    page = client.get("/timesheets/export")
    assert page.status_code == 200 and "You export your own time." in page.get_data(as_text=True)
    assert other.email not in page.get_data(as_text=True)
    rows = _rows(client.get("/timesheets/export.csv"))
    assert [(r[1], r[5]) for r in rows[1:]] == [(consultant.email, "1.00")]
    # asking for someone else's time is refused at the field, and shows none of it
    response = client.get(f"/timesheets/export.csv?user_id={other.id}")
    assert response.status_code == 400 and "Choose a person from the list." in response.get_data(as_text=True)
    assert client.get(f"/timesheets/export.csv?user_id={consultant.id}").status_code == 200


def test_the_export_is_one_query_whatever_the_number_of_entries(client, app, make, staffed, count_queries):
    consultant, _, project_id, task_id = staffed
    login_as(client, make.user(role="leader"))
    counts = []
    for weeks in (1, 6):
        for offset in range(weeks):
            _log(app, consultant.id, (project_id, task_id, dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], "1")),
                 monday=MONDAY - timedelta(days=7 * (offset + 10 + 6 * (weeks > 1))))
        with count_queries() as statements:
            response = client.get("/timesheets/export.csv")
            lines = len(_rows(response)) - 1
        counts.append(len([s for s in statements if "time_entries" in s]))
        assert lines in (5, 35)
    assert counts == [1, 1]


def test_formula_like_cells_are_escaped_and_still_import_back(ctx, staffed):
    from psa.timesheets.exports import ExportFilters, export_csv

    consultant, _, project_id, _ = staffed
    user = db.session.get(User, consultant.id)
    ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, cells={
        MONDAY: ts.GridCell("1", "=HYPERLINK(\"http://x\")"), MONDAY + timedelta(days=1): ts.GridCell("1", "- done")})])
    db.session.commit()
    text = "".join(export_csv(ExportFilters(), user))
    assert "'=HYPERLINK" in text and "'- done" in text
    db.session.execute(sa.delete(TimeEntry))
    db.session.execute(sa.delete(Timesheet))
    assert import_time_entries(None, text.encode(), dry_run=False).created == 2
    assert sorted(e.note for e in db.session.scalars(sa.select(TimeEntry))) == ["- done", '=HYPERLINK("http://x")']


def test_an_export_imports_back_into_an_empty_database_as_the_same_entries(client, app, make, staffed):
    consultant, manager, project_id, task_id = staffed
    other = make.user(role="consultant", name="Otto Other")
    globex_id = _second_project(app, make, manager.id, [consultant.id, other.id], name="Acme onboarding")
    _log(app, consultant.id, (project_id, task_id, {"mon": "1:30", "tue": "0:20", "note_mon": "SSO, setup",
                                                    "note_tue": "call"}),
         (project_id, None, {"wed": "7:45"}), (globex_id, None, {"thu": "0:05", "note_thu": 'He said "fine"\nthen left'}))
    _log(app, other.id, (globex_id, None, {"fri": "8"}), monday=MONDAY - timedelta(days=7))
    with app.app_context():
        db.session.execute(sa.update(TimeEntry).where(TimeEntry.minutes == 465).values(billable=False))
        db.session.commit()
    _approve(app, consultant.id, manager.id)

    def snapshot():
        with app.app_context():
            return sorted(db.session.execute(sa.select(
                TimeEntry.user_id, TimeEntry.entry_date, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.minutes,
                TimeEntry.billable, TimeEntry.note)).all())

    before = snapshot()
    assert len(before) == 5
    login_as(client, make.user(role="admin"))
    exported = client.get("/timesheets/export.csv").get_data()
    with app.app_context():  # an empty database of the same people and projects
        db.session.execute(sa.delete(TimeEntry))
        db.session.execute(sa.delete(Timesheet))
        db.session.commit()
    assert snapshot() == []
    with app.app_context():
        report = import_time_entries(None, exported, dry_run=False)
        assert (report.format, report.errors, report.created) == ("ours", [], 5)
        db.session.commit()
    assert snapshot() == before
    # and the same file again is all duplicates
    with app.app_context():
        again = import_time_entries(None, exported, dry_run=False)
        assert (again.created, len(again.duplicates)) == (0, 5)


def test_rates_in_the_export_are_the_snapshots(client, app, make, staffed):
    consultant, _, project_id, _ = staffed
    with app.app_context():
        ts.set_user_rate(None, db.session.get(User, consultant.id), effective_from=date(2026, 1, 1), cost_rate="50.5",
                         bill_rate="99.99")
        db.session.commit()
    _log(app, consultant.id, (project_id, None, {"mon": "2"}))
    login_as(client, make.user(role="leader"))
    row = _rows(client.get("/timesheets/export.csv"))[1]
    assert row[8:] == ["Acme", "draft", "99.99", "50.50"]
    assert Decimal(row[10]) * Decimal(row[5]) == Decimal("199.98")


def test_the_export_page_has_an_empty_state_for_no_matches_and_labels_every_field(client, make):
    login_as(client, make.user(role="leader"))
    html = client.get("/timesheets/export?date_from=2020-01-01").get_data(as_text=True)
    assert "No entries match" in html
    for name in ("date_from", "date_to", "user_id", "account_id", "project_id", "state"):
        assert f'for="{name}"' in html, name
