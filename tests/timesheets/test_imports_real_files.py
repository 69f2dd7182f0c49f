"""Time imports of files in the shapes real exports have (SPEC §4), kept under tests/timesheets/files/:

* harvest_detailed_export.csv — Harvest's detailed time report: 21 columns, CRLF, no BOM, people by first and
  last name, activity names in Task ("Design", "Project Management"), Hours Rounded beside Hours, a two-line note;
* harvest_detailed_export_de.csv — the same export from a German-locale account: 28.09.2026, "7,5";
* toggl_detailed_export.csv — Toggl Track's detailed export: BOM, empty Client, durations with seconds,
  2-second and 29-second entries, a two-line description;
* harvest_slashed_dates.csv — Harvest's import format with slashed dates that read both ways.

Every figure below is worked out by hand from the files; the dry run's plan is what the import writes.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.projects.models import Project, Task
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry, Timesheet
from tests.conftest import login_as, post_form

FILES = Path(__file__).resolve().parent / "files"


def _file(name: str) -> bytes:
    return (FILES / name).read_bytes()


@pytest.fixture
def shop(app, make):
    """Cleo Consultant and Mia Manager (the e-mails Toggl's file names); "Acme onboarding" (Acme) with the
    task Configure, "Globex rollout" (Globex) with the task Data migration; Mia manages both, Cleo is a member."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    cleo = make.user(role="consultant", name="Cleo Consultant", email="cleo@northwind.example")
    mia = make.user(role="manager", name="Mia Manager", email="mia@northwind.example")
    with make._context():
        c, m = db.session.get(User, cleo.id), db.session.get(User, mia.id)
        ids = {"cleo": cleo.id, "mia": mia.id}
        for account, name, task in (("Acme", "Acme onboarding", "Configure"), ("Globex", "Globex rollout",
                                                                                "Data migration")):
            project = create_project(m, account=make.account(name=account), name=name,
                                     kickoff_date=date(2026, 9, 1), manager=m, members=[c],
                                     billing_model="time_and_materials")
            milestone = add_milestone_to_project(m, project, name="Build", due_date=date(2026, 12, 1))
            add_task_to_milestone(m, milestone, name=task, start_date=date(2026, 9, 1))
        db.session.commit()
    return ids


def _written():
    """Every entry as (person, day, project, task, activity, minutes, billable, note), in the order written."""
    rows = db.session.execute(
        sa.select(User.name, TimeEntry.entry_date, Project.name, Task.name, TimeEntry.activity, TimeEntry.minutes,
                  TimeEntry.billable, TimeEntry.note)
        .join(User, User.id == TimeEntry.user_id).join(Project, Project.id == TimeEntry.project_id)
        .outerjoin(Task, Task.id == TimeEntry.task_id).order_by(TimeEntry.id)).all()
    return [(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], r[7]) for r in rows]


def _planned(report):
    return [(p.person, p.day, p.project, p.task, p.activity, p.minutes, p.billable) for p in report.plan]


def _dry_then_real(data: bytes, **options):
    """The dry run, then the real import; the real one writes exactly what the dry run planned."""
    dry = import_time_entries(None, data, dry_run=True, **options)
    assert dry.errors == [] and dry.created == 0
    assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == 0
    real = import_time_entries(None, data, dry_run=False, **options)
    db.session.commit()
    assert real.created == dry.entries
    written = _written()
    assert [row[:7] for row in written] == _planned(dry)  # to the minute, row by row
    for name in ("entries", "minutes", "on_task", "untasked", "activities", "skipped_zero", "new_timesheets"):
        assert getattr(real, name) == getattr(dry, name), name
    return dry, written


# --- Harvest's detailed export -------------------------------------------------------------------


def test_a_harvest_detailed_export_puts_activities_on_the_project_and_tasks_on_tasks(ctx, shop):
    data = _file("harvest_detailed_export.csv")
    assert b"\r\n" in data and not data.startswith(b"\xef\xbb\xbf")  # as Harvest writes it
    dry, written = _dry_then_real(data)
    # 10 working days (28 Sep – 9 Oct 2026) × Cleo's Configure 1.5 h and Design 2 h, Mia's Project Management
    # 0.5 h; the first Design row has Hours 0.33 (20 min; its Hours Rounded 0.5 is not read)
    assert (dry.format, dry.rows, dry.entries) == ("harvest_report", 30, 30)
    assert dry.minutes == 10 * 90 + (9 * 120 + 20) + 10 * 30 == 2300
    assert (dry.on_task, len(dry.untasked)) == (10, 20)
    assert dry.activity_counts() == [("Design", 10), ("Project Management", 10)]
    assert [(p.name, p.entries, p.minutes) for p in dry.people] == [("Cleo Consultant", 20, 2000),
                                                                    ("Mia Manager", 10, 300)]
    assert dry.new_timesheets == 4  # two weeks each for two people
    # line 2 holds a two-line note, so the second row starts on line 4
    assert dry.untasked[:3] == [4, 5, 7]
    assert written[0] == ("Cleo Consultant", date(2026, 9, 28), "Acme onboarding", "Configure", "", 90, True,
                          "Configured SSO\nTested the login with the customer's IdP")
    assert written[1][:7] == ("Cleo Consultant", date(2026, 9, 28), "Acme onboarding", "", "Design", 20, True)
    assert written[2][:7] == ("Mia Manager", date(2026, 9, 28), "Acme onboarding", "", "Project Management", 30,
                              False)
    # importing it again finds every row already there (the activity is part of what makes an entry the same)
    again = import_time_entries(None, data, dry_run=True)
    assert (again.entries, len(again.duplicates)) == (0, 30)


def test_a_harvest_export_in_a_day_first_locale_with_decimal_commas(ctx, shop):
    dry, written = _dry_then_real(_file("harvest_detailed_export_de.csv"))
    assert [(row[1], row[3] or row[4], row[5]) for row in written] == [
        (date(2026, 9, 28), "Configure", 450),           # 7,5 h
        (date(2026, 9, 29), "Design", 15),               # 0,25 h
        (date(2026, 9, 30), "Project Management", 105),  # 1,75 h
        (date(2026, 10, 1), "Configure", 140),           # 2,33 h = 139.8 min, half-up
        (date(2026, 10, 2), "Design", 180),
        (date(2026, 10, 5), "Project Management", 30),
        (date(2026, 10, 6), "Configure", 480),
        (date(2026, 10, 13), "Design", 66),              # 1,1 h
    ]
    assert dry.minutes == 1466 and (dry.on_task, len(dry.untasked)) == (3, 5)
    assert dry.date_order is None  # no slashed date: nothing to ask


# --- Toggl Track's detailed export ---------------------------------------------------------------


def test_a_toggl_detailed_export_rounds_seconds_half_up_and_skips_entries_under_half_a_minute(ctx, shop):
    data = _file("toggl_detailed_export.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    dry, written = _dry_then_real(data)
    assert (dry.format, dry.rows, dry.entries) == ("toggl_detailed", 20, 17)
    # 00:00:02 (line 5), 00:00:29 (line 14, after the two-line description on line 11) and 00:00:02 (line 20)
    assert dry.skipped_zero == [5, 14, 20] and dry.skipped_zero_lines == "5, 14, 20"
    assert [row[5] for row in written] == [90, 46, 20, 60, 195, 60, 1, 150, 60, 121, 240, 30, 120, 15, 240, 90, 45]
    assert dry.minutes == 1583
    assert [(p.name, p.entries, p.minutes) for p in dry.people] == [("Cleo Consultant", 12, 1297),
                                                                    ("Mia Manager", 5, 286)]
    assert (dry.on_task, dry.untasked) == (7, [4, 8, 13, 16, 18, 21])
    assert dry.activity_counts() == [("Meetings", 4), ("Design", 2)]
    # an empty Client finds the project by its name alone; a task of that project goes on it
    assert written[3][:6] == ("Cleo Consultant", date(2026, 10, 6), "Globex rollout", "", "", 60)
    assert written[7][:6] == ("Mia Manager", date(2026, 10, 7), "Globex rollout", "Data migration", "", 150)
    assert written[8][7] == "Config review\nwith the customer"
    assert [row[6] for row in written].count(False) == 5  # Billable "No" (three more were skipped)


def test_the_toggl_file_can_be_read_as_a_stream(ctx, shop):
    with (FILES / "toggl_detailed_export.csv").open("rb") as stream:
        report = import_time_entries(None, stream, dry_run=True)
        assert not stream.closed  # the caller's to close
    assert (report.entries, report.minutes) == (17, 1583)


# --- slashed dates -------------------------------------------------------------------------------


def test_slashed_dates_that_read_both_ways_make_the_dry_run_ask_the_order(ctx, shop):
    data = _file("harvest_slashed_dates.csv")
    with pytest.raises(ValidationError) as exc:
        import_time_entries(None, data, dry_run=True)
    assert exc.value.errors == {"date_order": "The file's dates read both ways (“10/5/2026”): month/day or "
                                              "day/month? Choose the order the file uses and check it again."}
    with pytest.raises(ValidationError):
        import_time_entries(None, data, dry_run=False)  # never a silent guess, in a real run either
    assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == 0
    month_first = import_time_entries(None, data, dry_run=True, date_order="mdy")
    assert [p.day for p in month_first.plan] == [date(2026, 10, d) for d in (5, 6, 7, 8, 9)] + [date(2026, 9, 10)]
    day_first = import_time_entries(None, data, dry_run=True, date_order="dmy")
    assert [p.day for p in day_first.plan] == [date(2026, m, 10) for m in (5, 6, 7, 8, 9)] + [date(2026, 10, 9)]
    assert (day_first.date_order, day_first.date_order_label) == ("dmy", "day/month/year (3/4/2026 is 3 April)")


@pytest.mark.parametrize(("settler", "order", "first_day"), [
    ("13/10/2026", "dmy", date(2026, 5, 10)),   # a first number over 12: day/month
    ("10/13/2026", "mdy", date(2026, 10, 5)),   # a second number over 12: month/day
])
def test_one_slashed_date_over_12_settles_the_order_for_the_file(ctx, shop, settler, order, first_day):
    text = _file("harvest_slashed_dates.csv").decode() + f"{settler},Acme,Acme onboarding,Configure,,1,Cleo,Consultant\r\n"
    report = import_time_entries(None, text, dry_run=True)
    assert (report.errors, report.date_order, report.plan[0].day) == ([], order, first_day)
    assert report.plan[-1].day == date(2026, 10, 13)


def test_slashed_dates_written_both_ways_ask_and_then_refuse_the_rows_that_do_not_fit(ctx, shop):
    text = ("Date,Project,Hours,First name,Last name\r\n13/10/2026,Acme onboarding,1,Cleo,Consultant\r\n"
            "10/14/2026,Acme onboarding,1,Cleo,Consultant\r\n")
    with pytest.raises(ValidationError) as exc:
        import_time_entries(None, text, dry_run=True)
    assert "written both ways" in exc.value.errors["date_order"]
    report = import_time_entries(None, text, dry_run=True, date_order="dmy")
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "“10/14/2026” is not a date read as day/month/year; write YYYY-MM-DD, DD.MM.YYYY or a slashed date "
            "such as 1/26/2026.")]


# --- the activity travels: export, then import ---------------------------------------------------


def test_the_export_writes_the_activity_after_the_task_and_imports_back_with_it(client, app, make, shop):
    import csv

    with app.app_context():
        assert import_time_entries(None, _file("harvest_detailed_export_de.csv"), dry_run=False).created == 8
        db.session.commit()
        before = _written()
    login_as(client, make.user(role="admin"))
    exported = client.get("/timesheets/export.csv").get_data()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    assert rows[0][:6] == ["date", "email", "project", "task", "activity", "hours"]
    assert rows[1][3:6] == ["Configure", "", "7.50"] and rows[2][3:6] == ["", "Design", "0.25"]
    with app.app_context():
        again = import_time_entries(None, exported, dry_run=True)
        assert (again.format, again.entries, len(again.duplicates)) == ("ours", 0, 8)
        db.session.execute(sa.delete(TimeEntry))
        db.session.commit()
        report = import_time_entries(None, exported, dry_run=False)
        db.session.commit()
        assert (report.created, report.on_task, len(report.untasked)) == (8, 3, 5)
        assert _written() == before


def test_an_entry_with_another_activity_is_not_a_duplicate(ctx, shop):
    head = "Date,Project,Task,Hours,First name,Last name\r\n"
    import_time_entries(None, head + "2026-10-05,Acme onboarding,Design,1,Cleo,Consultant\r\n", dry_run=False)
    report = import_time_entries(None, head + "2026-10-05,Acme onboarding,Meetings,1,Cleo,Consultant\r\n"
                                             "2026-10-05,Acme onboarding,Design,1,Cleo,Consultant\r\n", dry_run=False)
    assert (report.created, report.duplicates) == (1, [3])
    assert sorted(e.activity for e in db.session.scalars(sa.select(TimeEntry))) == ["Design", "Meetings"]


def test_a_long_activity_is_cut_to_the_column(ctx, shop):
    head = "Date,Project,Task,Hours,First name,Last name\r\n"
    report = import_time_entries(None, head + f"2026-10-05,Acme onboarding,{'x' * 300},1,Cleo,Consultant\r\n",
                                 dry_run=False)
    db.session.commit()
    activity = db.session.scalar(sa.select(TimeEntry.activity))
    assert report.created == 1 and len(activity) == 120 and activity.endswith("x…")


# --- the page ------------------------------------------------------------------------------------


def _upload(client, data: bytes, name: str, **fields):
    return post_form(client, "/timesheets/import", {"file": (io.BytesIO(data), name), **fields},
                     token_from="/timesheets/import", content_type="multipart/form-data")


def test_the_page_asks_the_date_order_keeps_the_answer_in_the_preview_and_imports_with_it(client, app, make, shop):
    login_as(client, make.user(role="admin"))
    data = _file("harvest_slashed_dates.csv")
    response = _upload(client, data, "harvest.csv", dry_run="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "month/day or day/month?" in html and 'id="date_order"' in html and "is-invalid" in html
    response = _upload(client, data, "harvest.csv", dry_run="y", date_order="dmy")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "6 entries would be created" in html
    assert re.search(r'<option selected value="dmy">|<option value="dmy" selected>', html)  # kept for the import
    assert 'data-testid="date-order">day/month/year' in html
    assert '<td class="text-nowrap">2026-05-10</td>' in html  # what the first row becomes
    response = _upload(client, data, "harvest.csv", date_order="dmy")
    assert response.status_code == 200 and "6 entries created" in response.get_data(as_text=True)
    with app.app_context():
        assert sorted(e.entry_date.month for e in db.session.scalars(sa.select(TimeEntry))) == [5, 6, 7, 8, 9, 10]


def test_the_page_warns_of_skipped_entries_and_shows_what_the_rows_become(client, make, shop):
    login_as(client, make.user(role="admin"))
    response = _upload(client, _file("toggl_detailed_export.csv"), "toggl.csv", dry_run="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "17 entries would be created" in html
    assert 'data-testid="skipped-zero">3<' in html and "Lines 5, 14, 20" in html
    assert 'data-testid="on-task">7<' in html and 'data-testid="on-project">6<' in html
    assert "<li>Meetings: 4 rows</li>" in html and "<li>Design: 2 rows</li>" in html
    assert html.count("<tr><td>") >= 17 and "activity:</span> Meetings" in html


def test_an_import_file_over_the_app_upload_limit_is_read(client, app, make, shop):
    """MAX_CONTENT_LENGTH is 16 MB for the app; a time import takes up to 64 MB."""
    login_as(client, make.user(role="admin"))
    padding = "p" * 100_000
    lines = ["date,email,project,hours,padding"] + [
        f"2026-10-05,cleo@northwind.example,Acme onboarding,0.05,{padding}" for _ in range(170)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    response = _upload(client, data, "big.csv", dry_run="y")
    assert response.status_code == 200 and "170 entries would be created" in response.get_data(as_text=True)


def test_an_import_file_over_the_import_limit_gets_the_413_page(client, make, monkeypatch):
    monkeypatch.setattr("psa.timesheets.routes.MAX_IMPORT_BYTES", 50_000)
    login_as(client, make.user(role="admin"))
    token_page = client.get("/timesheets/import").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)
    response = client.post("/timesheets/import", data={"csrf_token": token, "file": (io.BytesIO(b"x" * 60_000), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "The upload is larger than allowed." in response.get_data(as_text=True)


def test_weeks_made_by_the_import_are_drafts(ctx, shop):
    import_time_entries(None, _file("toggl_detailed_export.csv"), dry_run=False)
    db.session.commit()
    assert db.session.scalars(sa.select(Timesheet.state)).all() == ["draft"] * 4
