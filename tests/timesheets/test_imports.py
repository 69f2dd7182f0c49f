"""CSV time import: our format, Harvest and Toggl Track; all-or-nothing with every bad line named; dry runs;
duplicates skipped as a multiset; people, projects and tasks matched by name; every grid rule per row."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.imports import RowError, import_time_entries, line_ranges
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY

OURS = ["date", "email", "project", "task", "hours", "billable", "note"]
HARVEST = ["Date", "Client", "Project", "Task", "Notes", "Hours", "First name", "Last name"]
HARVEST_REPORT = ["Date", "Client", "Project", "Project Code", "Task", "Notes", "Hours", "Hours Rounded",
                  "Billable?", "Invoiced?", "Approved?", "First Name", "Last Name", "Roles", "Employee?",
                  "Billable Rate", "Billable Amount", "Cost Rate", "Cost Amount", "Currency",
                  "External Reference URL"]
TOGGL = ["User", "Email", "Client", "Project", "Task", "Description", "Billable", "Start date", "Start time",
         "Duration", "Tags"]
TOGGL_DETAILED = ["User", "Email", "Client", "Project", "Task", "Description", "Billable", "Start date", "Start time",
                  "End date", "End time", "Duration", "Tags", "Amount (USD)"]


def make_csv(header, rows, bom=False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def _u(user):
    return db.session.get(User, user.id)


def _entries(user_id=None):
    stmt = sa.select(TimeEntry).order_by(TimeEntry.entry_date, TimeEntry.id)
    if user_id:
        stmt = stmt.where(TimeEntry.user_id == user_id)
    return db.session.scalars(stmt).all()


def _ours(email, day, hours="1.5", project="Acme onboarding", task="Configure", note="", billable="yes"):
    return {"date": day.isoformat(), "email": email, "project": project, "task": task, "hours": hours,
            "billable": billable, "note": note}


def _days(count):
    """Weekdays going back from MONDAY's Friday, oldest first (all in the past)."""
    days, day = [], MONDAY + timedelta(days=4)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


# --- all or nothing ------------------------------------------------------------------------------


def test_200_good_rows_and_one_bad_row_import_nothing_and_the_bad_line_is_named(ctx, staffed):
    consultant, _, _, _ = staffed
    days = _days(40)
    rows = [_ours(consultant.email, days[i % 40], hours="0.5", note=f"row {i}") for i in range(200)]
    rows.insert(120, _ours(consultant.email, days[0], hours="lots"))  # line 122: header + 120 rows before it
    report = import_time_entries(None, make_csv(OURS, rows), dry_run=False)
    assert report.rows == 201
    assert report.errors == [RowError(122, "“lots” is not a duration; write 1:30, 1.5, 90m or 1h30m.")]
    assert report.created == 0
    db.session.commit()
    assert _entries() == [] and db.session.scalar(sa.select(sa.func.count(Timesheet.id))) == 0
    # without the bad row, all 200 go in
    del rows[120]
    report = import_time_entries(None, make_csv(OURS, rows), dry_run=False)
    assert report.errors == [] and report.created == 200
    assert len(_entries()) == 200


def test_the_import_page_refuses_the_whole_file_and_names_the_bad_line(client, make, staffed, app):
    consultant, _, _, _ = staffed
    leader = make.user(role="leader")
    login_as(client, leader)
    days = _days(40)
    rows = [_ours(consultant.email, days[i % 40], hours="0.5") for i in range(200)]
    rows.insert(57, _ours(consultant.email, days[1], project="No such project"))
    data = {"file": (io.BytesIO(make_csv(OURS, rows)), "time.csv")}
    response = post_form(client, "/timesheets/import", data, token_from="/timesheets/import",
                         content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "No project is called “No such project”." in html and "<td class=\"text-nowrap\">59</td>" in html
    assert "nothing was saved" in html.lower()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == 0


def test_the_import_page_dry_run_is_the_default_then_a_real_run_imports(client, make, staffed, app):
    consultant, _, _, _ = staffed
    login_as(client, make.user(role="admin"))
    page = client.get("/timesheets/import").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*name="dry_run"', page)  # a dry run unless unticked
    assert "No file checked yet" in page  # the empty state
    body = make_csv(OURS, [_ours(consultant.email, MONDAY, note="kickoff")])
    response = post_form(client, "/timesheets/import", {"file": (io.BytesIO(body), "t.csv"), "dry_run": "y"},
                         token_from="/timesheets/import", content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Dry run: nothing was saved" in html and "1 entry would be created" in html
    assert not re.search(r'<input checked[^>]*name="dry_run"', html)  # ready: the next upload imports
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == 0
    response = post_form(client, "/timesheets/import", {"file": (io.BytesIO(body), "t.csv")},
                         token_from="/timesheets/import", content_type="multipart/form-data")
    assert response.status_code == 200 and "1 entry created" in response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(sa.select(TimeEntry))
        assert (entry.minutes, entry.note, entry.user_id) == (90, "kickoff", consultant.id)


def test_a_file_that_cannot_be_read_is_refused_at_the_file_field(client, make, app):
    login_as(client, make.user(role="admin"))
    for body, message in ((b"\xff\xfe\x00d\x00a", "not UTF-8"), (b"when,who,what\n1,2,3\n", "does not name the columns"),
                          (b"", "empty"), (b"Date,Project,Hours,First name\n", "Last name")):
        response = post_form(client, "/timesheets/import", {"file": (io.BytesIO(body), "t.csv"), "dry_run": "y"},
                             token_from="/timesheets/import", content_type="multipart/form-data")
        assert response.status_code == 400, message
        assert message in response.get_data(as_text=True), message
    response = post_form(client, "/timesheets/import", {"dry_run": "y"}, token_from="/timesheets/import",
                         content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a CSV file to import." in response.get_data(as_text=True)


# --- the formats ---------------------------------------------------------------------------------


def test_our_format_reads_a_bom_any_column_order_and_any_header_case(ctx, staffed):
    consultant, _, project_id, task_id = staffed
    header = ["Note", "Hours", "BILLABLE", "Task", "Project", "Email", "Date"]
    body = make_csv(header, [["setup", "1:15", "no", "configure", "ACME Onboarding", consultant.email.upper(),
                              MONDAY.isoformat()]], bom=True)
    report = import_time_entries(None, body, dry_run=False)
    assert (report.format, report.created) == ("ours", 1)
    entry = _entries()[0]
    assert (entry.project_id, entry.task_id, entry.minutes, entry.billable, entry.note) == (
        project_id, task_id, 75, False, "setup")


@pytest.mark.parametrize("header", [HARVEST, HARVEST_REPORT])
def test_a_harvest_file_imports_in_a_dry_run_and_then_for_real(ctx, staffed, header):
    consultant, _, project_id, task_id = staffed
    ts.set_user_rate(None, _u(consultant), effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
    rows = [
        {"Date": "10/5/2026", "Client": "Acme", "Project": "Acme onboarding", "Task": "Configure", "Notes": "SSO",
         "Hours": "1.25", "First name": "Cleo", "Last name": "Consultant", "First Name": "Cleo",
         "Last Name": "Consultant", "Hours Rounded": "1.5", "Billable?": "Yes", "Billable Rate": "999",
         "Cost Rate": "1", "Currency": "USD"},
        {"Date": "2026-10-06", "Client": "Acme", "Project": "Acme onboarding", "Task": "", "Notes": "",
         "Hours": "2", "First name": "cleo", "Last name": "CONSULTANT", "First Name": "cleo",
         "Last Name": "CONSULTANT", "Billable?": "No"},
    ]
    body = make_csv(header, rows)
    dry = import_time_entries(None, body, dry_run=True, date_order="mdy")  # 10/5/2026 reads both ways
    assert dry.format == ("harvest_report" if header is HARVEST_REPORT else "harvest")
    assert (dry.errors, dry.entries, dry.minutes, dry.created, dry.new_timesheets) == ([], 2, 195, 0, 1)
    assert [(p.name, p.entries) for p in dry.people] == [("Cleo Consultant", 2)]
    assert _entries() == []
    report = import_time_entries(None, body, dry_run=False, date_order="mdy")
    assert report.created == 2
    got = [(e.entry_date, e.project_id, e.task_id, e.minutes, e.note, e.billable, e.bill_rate, e.cost_rate)
           for e in _entries()]
    # the import format has no billable column: billable; the report's Billable? says no on the second row
    assert got == [
        (MONDAY, project_id, task_id, 75, "SSO", True, Decimal("150.00"), Decimal("60.00")),
        (MONDAY + timedelta(days=1), project_id, None, 120, "", header is HARVEST, Decimal("150.00"),
         Decimal("60.00")),
    ]
    # rates come from PSA, never from the file; the week's draft timesheet was made
    assert db.session.scalar(sa.select(Timesheet.state).where(Timesheet.user_id == consultant.id)) == "draft"


@pytest.mark.parametrize("header", [TOGGL, TOGGL_DETAILED])
def test_a_toggl_track_file_imports_in_a_dry_run_and_then_for_real(ctx, staffed, header):
    consultant, _, project_id, task_id = staffed
    rows = [
        {"User": "Cleo Consultant", "Email": consultant.email, "Client": "Acme", "Project": "Acme onboarding",
         "Task": "Configure", "Description": "Workshop", "Billable": "Yes", "Start date": "2026-10-07",
         "Start time": "09:00:00", "End date": "2026-10-07", "End time": "10:30:00", "Duration": "01:30:00",
         "Tags": "onsite", "Amount (USD)": "225.00"},
        {"User": "Cleo Consultant", "Email": "", "Client": "Acme", "Project": "Acme onboarding", "Task": "",
         "Description": "Call", "Billable": "No", "Start date": "2026-10-08", "Start time": "14:00:00",
         "End date": "2026-10-08", "End time": "14:20:31", "Duration": "00:20:31", "Tags": ""},
    ]
    body = make_csv(header, rows)
    dry = import_time_entries(None, body, dry_run=True)
    assert dry.format == ("toggl_detailed" if header is TOGGL_DETAILED else "toggl")
    assert (dry.errors, dry.entries, dry.minutes) == ([], 2, 111)
    assert _entries() == []
    assert import_time_entries(None, body, dry_run=False).created == 2
    assert [(e.entry_date.day, e.task_id, e.minutes, e.billable, e.note) for e in _entries()] == [
        (7, task_id, 90, True, "Workshop"), (8, None, 21, False, "Call")]  # 20 min 31 s rounds to 21


def test_a_toggl_entry_under_half_a_minute_is_skipped_with_a_warning_and_half_a_minute_is_one(ctx, staffed):
    consultant, _, _, _ = staffed
    rows = [{"Email": consultant.email, "Project": "Acme onboarding", "Start date": "2026-10-07", "Duration": d}
            for d in ("00:00:29", "00:00:30", "00:00:00", "00:01:29")]
    report = import_time_entries(None, make_csv(TOGGL, rows), dry_run=False)
    assert (report.errors, report.skipped_zero, report.created, report.minutes) == ([], [2, 4], 2, 1 + 1)
    assert [e.minutes for e in _entries()] == [1, 1]


def test_our_format_still_refuses_a_zero_duration_as_the_grid_does(ctx, staffed):
    consultant, _, _, _ = staffed
    report = import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY, hours="0.004")]),
                                 dry_run=True)
    assert (report.errors, report.skipped_zero) == ([RowError(2, "Enter a duration above 0.")], [])


# --- duplicates ----------------------------------------------------------------------------------


def test_importing_the_same_file_again_creates_nothing_and_reports_every_row_as_a_duplicate(ctx, staffed):
    consultant, _, _, _ = staffed
    rows = [_ours(consultant.email, day, note="same") for day in _days(5)]
    rows.append(rows[0])  # the same row twice in one file: two entries
    body = make_csv(OURS, rows)
    assert import_time_entries(None, body, dry_run=False).created == 6
    again = import_time_entries(None, body, dry_run=False)
    assert (again.created, again.entries, again.errors, again.duplicates) == (0, 0, [], [2, 3, 4, 5, 6, 7])
    assert again.duplicate_lines == "2–7"
    assert len(_entries()) == 6
    # a multiset: a file holding the twice-logged row three times adds exactly one
    third = import_time_entries(None, make_csv(OURS, [rows[0]] * 3), dry_run=False)
    assert (third.created, third.duplicates) == (1, [2, 3])
    assert len(_entries()) == 7


def test_a_different_note_or_duration_is_not_a_duplicate(ctx, staffed):
    consultant, _, _, _ = staffed
    import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY, note="a")]), dry_run=False)
    report = import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY, note="b"),
                                                       _ours(consultant.email, MONDAY, note="a", hours="2")]),
                                 dry_run=False)
    assert (report.created, report.duplicates) == (2, [])


def test_the_import_page_reports_the_duplicates(client, make, staffed):
    consultant, _, _, _ = staffed
    login_as(client, make.user(role="leader"))
    body = make_csv(OURS, [_ours(consultant.email, day) for day in _days(3)])
    for expected in ("3 entries created", "Lines <span data-testid=\"duplicate-lines\">2–4</span>"):
        response = post_form(client, "/timesheets/import", {"file": (io.BytesIO(body), "t.csv")},
                             token_from="/timesheets/import", content_type="multipart/form-data")
        assert response.status_code == 200 and expected in response.get_data(as_text=True)


# --- matching ------------------------------------------------------------------------------------


def test_people_are_matched_by_first_and_last_name_when_the_file_has_no_email(ctx, staffed, make):
    consultant, manager, _, _ = staffed
    twin_a, twin_b = make.user(name="Sam Same"), make.user(name="Sam  same")
    rows = [{"Date": "2026-10-05", "Project": "Acme onboarding", "Hours": "1", "First name": "MIA",
             "Last name": "manager"},
            {"Date": "2026-10-05", "Project": "Acme onboarding", "Hours": "1", "First name": "Nobody",
             "Last name": "Here"},
            {"Date": "2026-10-05", "Project": "Acme onboarding", "Hours": "1", "First name": "Sam",
             "Last name": "Same"}]
    report = import_time_entries(None, make_csv(HARVEST, rows), dry_run=True)
    assert report.errors == [
        RowError(3, "No user is called “Nobody Here”."),
        RowError(4, "Several people are called “Sam Same”; add an e-mail column to tell them apart."),
    ]
    assert twin_a.id != twin_b.id
    report = import_time_entries(None, make_csv(HARVEST, rows[:1]), dry_run=False)
    assert report.created == 1 and _entries()[0].user_id == manager.id  # the manager of the project logs on it


def test_projects_are_matched_by_name_within_the_client(ctx, staffed, make):
    from psa.projects.services import create_project

    consultant, manager, acme_id, _ = staffed
    globex = create_project(_u(manager), account=make.account(name="Globex"), name="Acme onboarding",
                            kickoff_date=date(2026, 9, 1), manager=_u(manager), members=[_u(consultant)],
                            billing_model="time_and_materials")
    db.session.commit()
    base = {"Email": consultant.email, "Project": "acme onboarding", "Start date": "2026-10-05", "Duration": "1:00:00"}
    rows = [dict(base, Client="GLOBEX"), dict(base, Client="Acme"), dict(base, Client=""),
            dict(base, Client="Initech")]
    report = import_time_entries(None, make_csv(TOGGL, rows), dry_run=True)
    assert report.errors == [
        RowError(4, "Several projects are called “acme onboarding”; add a client column to tell them apart."),
        RowError(5, "No project is called “acme onboarding” for client “Initech”."),
    ]
    report = import_time_entries(None, make_csv(TOGGL, rows[:2]), dry_run=False)
    assert [e.project_id for e in _entries()] == [globex.id, acme_id]


def test_our_account_column_tells_projects_of_the_same_name_apart(ctx, staffed, make):
    from psa.projects.services import create_project

    consultant, manager, acme_id, _ = staffed
    create_project(_u(manager), account=make.account(name="Globex"), name="Acme onboarding",
                   kickoff_date=date(2026, 9, 1), manager=_u(manager), members=[_u(consultant)],
                   billing_model="time_and_materials")
    db.session.commit()
    row = dict(_ours(consultant.email, MONDAY, task=""), account="Acme")
    report = import_time_entries(None, make_csv(OURS + ["account"], [row]), dry_run=False)
    assert report.created == 1 and _entries()[0].project_id == acme_id


def test_tasks_are_matched_by_name_within_their_project(ctx, staffed, make):
    from psa.projects.models import Project
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    consultant, manager, project_id, task_id = staffed
    other = create_project(_u(manager), account=make.account(name="Globex"), name="Globex rollout",
                           kickoff_date=date(2026, 9, 1), manager=_u(manager), members=[_u(consultant)],
                           billing_model="time_and_materials")
    milestone = add_milestone_to_project(_u(manager), other, name="Go", due_date=date(2026, 12, 1))
    add_task_to_milestone(_u(manager), milestone, name="Train", start_date=date(2026, 9, 1))
    db.session.commit()
    rows = [_ours(consultant.email, MONDAY, task="configure"), _ours(consultant.email, MONDAY, task="Train"),
            _ours(consultant.email, MONDAY, task="")]
    # our format refuses a task the project lacks (its activities have a column of their own)
    report = import_time_entries(None, make_csv(OURS, rows), dry_run=True)
    assert report.errors == [RowError(3, "Project “Acme onboarding” has no task called “Train”.")]
    # a Harvest file's "Train" (another project's task) is an activity on Acme onboarding
    harvest = [{"Date": row["date"], "Project": row["project"], "Task": row["task"], "Hours": "1",
                "First name": "Cleo", "Last name": "Consultant"} for row in rows]
    report = import_time_entries(None, make_csv(HARVEST, harvest), dry_run=True)
    assert [(p.line, p.task, p.activity) for p in report.plan] == [(2, "Configure", ""), (3, "", "Train"), (4, "", "")]
    assert db.session.get(Project, project_id) is not None and task_id


# --- every rule, per row -------------------------------------------------------------------------


def _rule_setup(make, consultant, manager, project_id):
    """A submitted week (MONDAY - 7), an approved week (MONDAY - 14), 23 h logged on MONDAY + 1 (22 h of
    time plus 1 h off), a completed project the consultant belongs to, a project they do not belong to."""
    from psa.projects.services import create_project

    user = _u(consultant)
    approver = _u(manager)
    for offset, state in ((7, "submitted"), (14, "approved")):
        monday = MONDAY - timedelta(days=offset)
        ts.save_week(user, user, monday, [ts.GridRow(project_id=project_id, cells={monday: ts.GridCell("1")})])
        sheet = ts.get_timesheet(user, monday)
        ts.submit_timesheet(user, sheet)
        if state == "approved":
            ts.approve_timesheet(approver, sheet)
    tuesday = MONDAY + timedelta(days=1)
    ts.save_week(user, user, MONDAY, [
        ts.GridRow(project_id=project_id, cells={tuesday: ts.GridCell("22")}),
        ts.GridRow(time_off_kind="sick", cells={tuesday: ts.GridCell("1")})])
    create_project(approver, account=make.account(name="Done Co"), name="Finished", kickoff_date=date(2026, 1, 5),
                   manager=approver, members=[user], status="completed", billing_model="non_billable")
    create_project(approver, account=make.account(name="Else Co"), name="Not mine", kickoff_date=date(2026, 1, 5),
                   manager=approver, members=[], billing_model="non_billable")
    db.session.commit()


RULES = [
    (dict(hours="0"), "Enter a duration above 0."),
    (dict(hours="24:30"), "A day has at most 24 hours."),
    (dict(hours="-1"), "“-1” is not a duration; write 1:30, 1.5, 90m or 1h30m."),
    (dict(hours="25"), "A day has at most 24 hours."),
    (dict(hours=""), "The hours are missing."),
    (dict(day="2026-13-01"), "“2026-13-01” is not a date; write YYYY-MM-DD, DD.MM.YYYY or a slashed date such as "
                             "1/26/2026."),
    (dict(day="10.32.2026"), "“10.32.2026” is not a date; write YYYY-MM-DD, DD.MM.YYYY or a slashed date such as "
                             "1/26/2026."),
    (dict(day="10/32/2026"), "“10/32/2026” is not a date read as month/day/year; write YYYY-MM-DD, DD.MM.YYYY or a "
                             "slashed date such as 1/26/2026."),
    (dict(billable="maybe"), "Billable must be yes or no, not “maybe”."),
    (dict(note="x" * 5001), "Keep the note to 5000 characters (it has 5001)."),
    (dict(email="ghost@example.com"), "No user has the e-mail ghost@example.com."),
    (dict(project=""), "The project is missing."),
    (dict(project="Nope"), "No project is called “Nope”."),
    (dict(task="Nope"), "Project “Acme onboarding” has no task called “Nope”."),
    (dict(project="Finished", task=""), "Project “Finished” is completed; time goes only on active or on-hold projects."),
    (dict(project="Not mine", task=""), "Cleo Consultant is not a member of project “Not mine”."),
    (dict(day=(MONDAY - timedelta(days=7)).isoformat()),
     "Cleo Consultant's week of 2026-09-28 is submitted and read-only."),
    (dict(day=(MONDAY - timedelta(days=13)).isoformat()),
     "Cleo Consultant's week of 2026-09-21 is approved and read-only."),
    (dict(day=(MONDAY + timedelta(days=1)).isoformat(), hours="1:30"),
     "More than 24 hours for Cleo Consultant on 2026-10-06 (24.50 h with the time already logged and time off)."),
]


@pytest.mark.parametrize(("change", "message"), RULES, ids=[m[:40] for _, m in RULES])
def test_every_rule_is_refused_per_row_and_nothing_is_written(ctx, staffed, make, change, message):
    consultant, manager, project_id, _ = staffed
    _rule_setup(make, consultant, manager, project_id)
    before = len(_entries())
    fields = dict(email=consultant.email, day=(MONDAY + timedelta(days=2)).isoformat(), hours="1",
                  project="Acme onboarding", task="Configure", note="", billable="yes")
    fields.update(change)
    good = _ours(consultant.email, MONDAY + timedelta(days=3))
    bad = {"date": fields["day"], "email": fields["email"], "project": fields["project"], "task": fields["task"],
           "hours": fields["hours"], "billable": fields["billable"], "note": fields["note"]}
    report = import_time_entries(None, make_csv(OURS, [good, bad, good]), dry_run=False)
    assert report.errors == [RowError(3, message)]
    assert report.created == 0
    db.session.commit()
    assert len(_entries()) == before


def test_future_dates_are_refused_unless_allowed(ctx, staffed):
    from psa.admin.services import update_settings

    consultant, _, _, _ = staffed
    tomorrow = ts.user_today(_u(consultant)) + timedelta(days=1)
    body = make_csv(OURS, [_ours(consultant.email, tomorrow)])
    assert import_time_entries(None, body, dry_run=True).errors == [
        RowError(2, "Time cannot be logged ahead of today.")]
    update_settings(None, allow_future_time=True)
    assert import_time_entries(None, body, dry_run=False).created == 1


def test_dates_on_or_before_the_lock_date_are_refused(ctx, staffed):
    from psa.admin.services import update_settings

    consultant, _, _, _ = staffed
    update_settings(None, time_lock_date=MONDAY)
    report = import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY),
                                                       _ours(consultant.email, MONDAY + timedelta(days=1))]),
                                 dry_run=False)
    assert report.errors == [RowError(2, "2026-10-05 is on or before the time lock date (2026-10-05); it cannot change.")]
    assert _entries() == []


def test_a_row_breaking_several_rules_is_reported_for_each(ctx, staffed):
    body = make_csv(OURS, [{"date": "someday", "email": "ghost@example.com", "project": "Nope", "hours": "x"}])
    report = import_time_entries(None, body, dry_run=True)
    assert [e.message for e in report.errors] == [
        "“someday” is not a date; write YYYY-MM-DD, DD.MM.YYYY or a slashed date such as 1/26/2026.",
        "“x” is not a duration; write 1:30, 1.5, 90m or 1h30m.",
        "No user has the e-mail ghost@example.com.",
        "No project is called “Nope”."]


def test_24_hours_per_day_counts_the_rows_of_the_file_together(ctx, staffed):
    consultant, _, _, _ = staffed
    rows = [_ours(consultant.email, MONDAY, hours="12", note="a"), _ours(consultant.email, MONDAY, hours="12:30")]
    report = import_time_entries(None, make_csv(OURS, rows), dry_run=True)
    assert {e.line for e in report.errors} == {2, 3}
    assert "More than 24 hours" in report.errors[0].message


def test_time_on_a_non_billable_project_is_never_billable(ctx, staffed):
    from psa.projects.models import Project

    consultant, _, project_id, _ = staffed
    db.session.get(Project, project_id).billing_model = "non_billable"
    db.session.commit()
    import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY, billable="yes")]), dry_run=False)
    assert _entries()[0].billable is False


# --- what a real import writes --------------------------------------------------------------------


def test_an_import_snapshots_rates_fills_existing_weeks_and_makes_missing_ones(ctx, staffed, make):
    from psa.projects.models import Project

    consultant, manager, project_id, _ = staffed
    user = _u(consultant)
    ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.set_user_rate(None, user, effective_from=MONDAY, cost_rate="70", bill_rate="170")
    ts.set_project_rate(None, db.session.get(Project, project_id), role="consultant", bill_rate="200")
    ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, cells={MONDAY: ts.GridCell("1")})])
    existing_sheet = ts.get_timesheet(user, MONDAY)
    db.session.commit()
    rows = [_ours(consultant.email, MONDAY - timedelta(days=3)), _ours(consultant.email, MONDAY + timedelta(days=2))]
    report = import_time_entries(_u(manager), make_csv(OURS, rows), dry_run=False)
    assert (report.created, report.new_timesheets) == (2, 1)
    imported = [e for e in _entries() if e.note == "" and e.task_id]
    assert [(e.entry_date, e.bill_rate, e.cost_rate) for e in imported] == [
        (MONDAY - timedelta(days=3), Decimal("200.00"), Decimal("60.00")),
        (MONDAY + timedelta(days=2), Decimal("200.00"), Decimal("70.00"))]
    assert imported[1].timesheet_id == existing_sheet.id
    earlier = db.session.scalar(sa.select(Timesheet).where(Timesheet.week_start == MONDAY - timedelta(days=7)))
    assert (earlier.state, imported[0].timesheet_id) == ("draft", earlier.id)
    from psa.core.models import AuditEvent

    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "time.imported"))
    assert event.actor_id == manager.id and event.after["entries"] == 2


def test_an_import_takes_a_fixed_number_of_queries_whatever_its_size(app, ctx, staffed, count_queries):
    consultant, _, _, _ = staffed
    small = make_csv(OURS, [_ours(consultant.email, day, hours="0.25") for day in _days(5)])
    large = make_csv(OURS, [_ours(consultant.email, day, hours="0.25", note=str(i))
                            for i, day in enumerate(_days(60) * 5)])
    counts = []
    for body in (small, large):
        db.session.expire_all()
        with count_queries() as statements:
            report = import_time_entries(None, body, dry_run=True)
        assert report.ok
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 12, counts
    with count_queries() as statements:
        assert import_time_entries(None, large, dry_run=False).created == 300
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO TIME_ENTRIES")]
    assert len(inserts) <= 2 and len(statements) <= counts[1] + 20, statements


def test_line_ranges():
    assert line_ranges([]) == ""
    assert line_ranges([7, 2, 3, 4, 9, 10]) == "2–4, 7, 9–10"


def test_a_note_with_a_newline_keeps_the_line_numbers_of_the_file(ctx, staffed):
    consultant, _, _, _ = staffed
    rows = [_ours(consultant.email, MONDAY, note="two\nlines"), _ours(consultant.email, MONDAY, hours="bad")]
    report = import_time_entries(None, make_csv(OURS, rows), dry_run=True)
    assert [e.line for e in report.errors] == [4]


def test_the_service_refuses_files_it_cannot_read(ctx):
    for body in (b"\x00\x01", "date,email\n".encode("utf-16")):
        with pytest.raises(ValidationError) as exc:
            import_time_entries(None, body, dry_run=True)
        assert "file" in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        import_time_entries(None, b"date,email,project,hours\n\n\n", dry_run=True)
    assert "no rows" in exc.value.errors["file"]


def test_time_off_counts_towards_the_24_hours(ctx, staffed):
    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    ts.save_week(user, user, MONDAY, [ts.GridRow(time_off_kind="vacation", cells={MONDAY: ts.GridCell("20")})])
    db.session.commit()
    report = import_time_entries(None, make_csv(OURS, [_ours(consultant.email, MONDAY, hours="4:30")]), dry_run=True)
    assert report.errors and "More than 24 hours" in report.errors[0].message
    assert db.session.scalar(sa.select(sa.func.count(TimeOff.id))) == 1 and project_id


def test_an_unknown_task_goes_on_the_project_as_an_activity_unless_refused(ctx, staffed):
    consultant, _, project_id, task_id = staffed
    rows = [
        {"Date": "2026-10-05", "Client": "Acme", "Project": "Acme onboarding", "Task": "Design", "Notes": "",
         "Hours": "1", "First name": "Cleo", "Last name": "Consultant"},
        {"Date": "2026-10-06", "Client": "Acme", "Project": "Acme onboarding", "Task": "Configure", "Notes": "",
         "Hours": "2", "First name": "Cleo", "Last name": "Consultant"},
    ]
    body = make_csv(HARVEST, rows)
    refused = import_time_entries(None, body, dry_run=True, strict_tasks=True)
    assert [e.message for e in refused.errors] == ["Project “Acme onboarding” has no task called “Design”."]
    report = import_time_entries(None, body, dry_run=False)
    assert (report.created, report.on_task, report.untasked, dict(report.activities)) == (2, 1, [2], {"Design": 1})
    assert [(e.project_id, e.task_id, e.activity, e.minutes) for e in _entries()] == [
        (project_id, None, "Design", 60), (project_id, task_id, "", 120)]
    again = import_time_entries(None, body, dry_run=True)
    assert (again.entries, again.duplicates) == (0, [2, 3])


def test_the_import_page_says_how_many_rows_go_each_way_and_offers_to_refuse_unknown_tasks(client, make, staffed,
                                                                                          app):
    login_as(client, make.user(role="admin"))
    rows = [{"Date": "2026-10-05", "Client": "Acme", "Project": "Acme onboarding", "Task": "Design", "Notes": "",
             "Hours": "1", "First name": "Cleo", "Last name": "Consultant"}]
    page = client.get("/timesheets/import").get_data(as_text=True)
    assert 'name="strict_tasks"' in page and "unknown_task_on_project" not in page
    response = post_form(client, "/timesheets/import", {
        "file": (io.BytesIO(make_csv(HARVEST, rows)), "harvest.csv"), "dry_run": "y"},
        token_from="/timesheets/import", content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="untasked-lines">2<' in html and 'data-testid="on-project">1<' in html
    assert 'data-testid="on-task">0<' in html and "<li>Design: 1 row</li>" in html
    response = post_form(client, "/timesheets/import", {
        "file": (io.BytesIO(make_csv(HARVEST, rows)), "harvest.csv"), "dry_run": "y", "strict_tasks": "y"},
        token_from="/timesheets/import", content_type="multipart/form-data")
    assert response.status_code == 400
    assert "has no task called “Design”" in response.get_data(as_text=True)
    with app.app_context():
        assert _entries() == []  # dry runs
