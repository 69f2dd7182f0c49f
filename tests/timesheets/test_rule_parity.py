"""One rule set for time entries: the same rows fed through the weekly grid (save_week) and through the CSV import
get the same verdict — accepted, or refused by the same rule — and, when accepted, the same stored entry
(billable flag, minutes, note, rate snapshots). Time on a non-billable project is never billable, on every path."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.projects.models import Project, Task
from psa.timesheets import services as ts
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry
from psa.timesheets.rules import MAX_NOTE, EntryRules, Refusal
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY

TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
#: The submitted week (set up with one hour on its Monday).
SUBMITTED_MONDAY = MONDAY - timedelta(days=7)
#: The lock date of the "locked day" case.
LOCK = date(2026, 9, 18)


@dataclass(frozen=True)
class Row:
    """One row of time as a person would type it, in the grid or in a CSV file."""

    day: date | str  # a date, or "tomorrow" (the user's today + 1, known only when the test runs)
    project: str
    task: str = ""
    hours: str = "1"
    billable: bool = True
    note: str = ""


ACME, INTERNAL, FINISHED, NOT_MINE = "Acme onboarding", "Internal", "Finished", "Not mine"

#: (case, rows, settings, the verdict per row: None = accepted, else the rule that refuses it)
CASES = [
    ("good rows", [Row(TUESDAY, ACME, "Configure", "1.5", note="Workshop"),
                   Row(WEDNESDAY, ACME, "", "0:45", billable=False, note="Prep\nand follow-up")], {}, [None, None]),
    ("a note with CRLF line breaks", [Row(TUESDAY, ACME, "", "1", note="Call\r\nand notes\r\n")], {}, [None]),
    ("non-billable project with billable asked", [Row(TUESDAY, INTERNAL, "", "2", billable=True)], {}, [None]),
    ("closed project", [Row(TUESDAY, FINISHED, "", "1")], {}, ["project"]),
    ("project of which the user is no member", [Row(TUESDAY, NOT_MINE, "", "1")], {}, ["project"]),
    ("task of another project", [Row(TUESDAY, ACME, "Migrate", "1")], {}, ["task"]),
    ("over 24 h across two rows", [Row(TUESDAY, ACME, "Configure", "14"), Row(TUESDAY, ACME, "", "10:30")], {},
     ["day_total", "day_total"]),
    ("exactly 24 h across two rows", [Row(TUESDAY, ACME, "Configure", "14"), Row(TUESDAY, ACME, "", "10")], {},
     [None, None]),
    ("over 24 h in one row", [Row(TUESDAY, ACME, "", "24:01")], {}, ["minutes"]),
    ("future date", [Row("tomorrow", ACME, "", "1")], {}, ["future"]),
    ("future date allowed", [Row("tomorrow", ACME, "", "1")], {"allow_future_time": True}, [None]),
    ("locked day", [Row(LOCK, ACME, "", "1")], {"time_lock_date": LOCK}, ["lock"]),
    ("the day after the lock", [Row(LOCK + timedelta(days=1), ACME, "", "1")], {"time_lock_date": LOCK}, [None]),
    ("submitted week", [Row(SUBMITTED_MONDAY + timedelta(days=1), ACME, "", "1")], {}, ["week"]),
    ("5,001-character note", [Row(TUESDAY, ACME, "", "1", note="n" * 5001)], {}, ["note"]),
    ("5,000-character note", [Row(TUESDAY, ACME, "", "1", note="n" * 5000)], {}, [None]),
]

#: What each accepted row of the cases stores, worked by hand: the consultant's rates from 2026-01-01 are
#: cost 60 / bill 150; Acme's rate card bills consultants at 200; Internal has no card (150) and is non-billable.
#: (project, task, day, minutes, billable, note, bill rate, cost rate)
STORED = {
    "good rows": [(ACME, "Configure", TUESDAY, 90, True, "Workshop", "200.00", "60.00"),
                  (ACME, None, WEDNESDAY, 45, False, "Prep\nand follow-up", "200.00", "60.00")],
    "a note with CRLF line breaks": [(ACME, None, TUESDAY, 60, True, "Call\nand notes", "200.00", "60.00")],
    "non-billable project with billable asked": [(INTERNAL, None, TUESDAY, 120, False, "", "150.00", "60.00")],
    "exactly 24 h across two rows": [(ACME, "Configure", TUESDAY, 840, True, "", "200.00", "60.00"),
                                     (ACME, None, TUESDAY, 600, True, "", "200.00", "60.00")],
    "future date allowed": [(ACME, None, "tomorrow", 60, True, "", "200.00", "60.00")],
    "the day after the lock": [(ACME, None, LOCK + timedelta(days=1), 60, True, "", "200.00", "60.00")],
    "5,000-character note": [(ACME, None, TUESDAY, 60, True, "n" * 5000, "200.00", "60.00")],
}


@pytest.fixture
def world(ctx, staffed, make):
    """The consultant (member of Acme and Internal, and of the completed Finished), rates, a project they are not
    on (with the task Migrate), and a submitted week (SUBMITTED_MONDAY, one hour on its Monday)."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    consultant, manager, acme_id, _ = staffed
    user, approver = db.session.get(User, consultant.id), db.session.get(User, manager.id)
    ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.set_project_rate(None, db.session.get(Project, acme_id), role="consultant", bill_rate="200")
    create_project(approver, account=make.account(name="Us"), name=INTERNAL, kickoff_date=date(2026, 1, 5),
                   manager=approver, members=[user], billing_model="non_billable")
    create_project(approver, account=make.account(name="Done Co"), name=FINISHED, kickoff_date=date(2026, 1, 5),
                   manager=approver, members=[user], status="completed", billing_model="time_and_materials",
                   fee_amount=Decimal("1000"))
    other = create_project(approver, account=make.account(name="Else Co"), name=NOT_MINE,
                           kickoff_date=date(2026, 1, 5), manager=approver, members=[],
                           billing_model="time_and_materials", fee_amount=Decimal("1000"))
    milestone = add_milestone_to_project(approver, other, name="Go", due_date=date(2026, 12, 1))
    add_task_to_milestone(approver, milestone, name="Migrate", start_date=date(2026, 9, 1))
    ts.save_week(user, user, SUBMITTED_MONDAY, [
        ts.GridRow(project_id=acme_id, cells={SUBMITTED_MONDAY: ts.GridCell("1")})])
    ts.submit_timesheet(user, ts.get_timesheet(user, SUBMITTED_MONDAY))
    db.session.commit()
    return user


def _day(row: Row, user: User) -> date:
    return ts.user_today(user) + timedelta(days=1) if row.day == "tomorrow" else row.day


def _ids() -> tuple[dict[str, int], dict[str, int]]:
    projects = dict(db.session.execute(sa.select(Project.name, Project.id)).all())
    tasks = dict(db.session.execute(sa.select(Task.name, Task.id)).all())
    return projects, tasks


def _stored(user: User, before: set[int]) -> list[tuple]:
    names = {v: k for k, v in _ids()[0].items()}
    tasks = {v: k for k, v in _ids()[1].items()}
    entries = db.session.scalars(sa.select(TimeEntry).where(TimeEntry.user_id == user.id, TimeEntry.id.notin_(before))
                                 .order_by(TimeEntry.entry_date, TimeEntry.minutes.desc())).all()
    return [(names[e.project_id], tasks.get(e.task_id), e.entry_date, e.minutes, e.billable, e.note,
             f"{e.bill_rate:.2f}", f"{e.cost_rate:.2f}") for e in entries]


def through_the_grid(user: User, rows: list[Row]) -> tuple[list[str | None], list[tuple]]:
    """Each week's rows saved as one grid; returns the message per row (None: accepted) and what was stored
    (then rolled back)."""
    projects, tasks = _ids()
    before = set(db.session.scalars(sa.select(TimeEntry.id)))
    weeks: dict[date, list[int]] = {}
    for index, row in enumerate(rows):
        weeks.setdefault(ts.week_start(_day(row, user)), []).append(index)
    messages: list[str | None] = [None] * len(rows)
    for monday, indexes in weeks.items():
        grid = [ts.GridRow(project_id=projects[rows[i].project], task_id=tasks.get(rows[i].task),
                           billable=rows[i].billable,
                           cells={_day(rows[i], user): ts.GridCell(rows[i].hours, rows[i].note)}) for i in indexes]
        try:
            ts.save_week(user, user, monday, grid)
        except ValidationError as exc:
            for key, message in exc.errors.items():
                assert key.startswith("r"), (key, message)
                messages[indexes[int(key[1:].split("-")[0])]] = message
        except Conflict as exc:  # the whole week refused
            for i in indexes:
                messages[i] = exc.description
    stored = _stored(user, before)
    db.session.rollback()
    return messages, stored


def through_the_import(user: User, rows: list[Row]) -> tuple[list[str | None], list[tuple]]:
    """The rows as a CSV of our format, imported for real; returns the message per row
    (None: accepted) and what was stored (then rolled back)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["date", "email", "project", "task", "hours", "billable", "note"])
    for row in rows:
        writer.writerow([_day(row, user).isoformat(), user.email, row.project, row.task, row.hours,
                         "yes" if row.billable else "no", row.note])
    before = set(db.session.scalars(sa.select(TimeEntry.id)))
    report = import_time_entries(None, buffer.getvalue().encode(), dry_run=False)
    # the report names the line a row starts on (line 1 is the header; a note's line breaks take lines too)
    lines = [2 + index + sum(row.note.count("\n") for row in rows[:index]) for index in range(len(rows))]
    messages: list[str | None] = [None] * len(rows)
    for error in report.errors:
        index = lines.index(error.line)
        assert messages[index] is None, "one refusal per row in these cases"
        messages[index] = error.message
    stored = _stored(user, before)
    db.session.rollback()
    return messages, stored


def _verdicts(messages: list[str | None]) -> list[str | None]:
    """The rule each message names (a Refusal), None where the row was accepted."""
    return [None if m is None else m.rule if isinstance(m, Refusal) else f"not a rule: {m}" for m in messages]


def _expected_stored(case: str, user: User) -> list[tuple]:
    return [(p, t, _day(Row(day, p), user), m, b, n, bill, cost) for p, t, day, m, b, n, bill, cost in STORED[case]]


@pytest.mark.parametrize(("case", "rows", "settings", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_grid_and_the_import_give_each_row_the_same_verdict_and_store_the_same_entry(
        world, case, rows, settings, expected):
    from psa.admin.services import update_settings

    user = world
    if settings:
        update_settings(None, **settings)
        db.session.commit()
    grid, grid_stored = through_the_grid(user, rows)
    imported, imported_stored = through_the_import(user, rows)
    assert _verdicts(grid) == _verdicts(imported) == expected
    if all(verdict is None for verdict in expected):
        assert grid_stored == imported_stored == _expected_stored(case, user)
    else:
        assert grid_stored == imported_stored == []  # all or nothing, on both paths


def test_the_whole_table_at_once_gets_the_same_verdicts_on_both_paths(world):
    """Every row of the cases that need no settings, in one grid per week and in one file: each case's rows
    moved to a week of their own (so no two cases share a grid line or a day's 24 hours). A bad row refuses the
    whole save, but every row gets its own verdict, the same on both paths."""
    user = world
    rows, expected = [], []
    for number, (_, case_rows, settings, verdicts) in enumerate(CASES):
        if settings:
            continue
        shift = -timedelta(weeks=number + 2)  # past weeks, none of them the submitted one
        rows += [replace(row, day=row.day + shift) if row.day in (TUESDAY, WEDNESDAY) else row for row in case_rows]
        expected += verdicts
    assert len(rows) == 16
    grid, _ = through_the_grid(user, rows)
    imported, _ = through_the_import(user, rows)
    assert _verdicts(grid) == _verdicts(imported) == expected


@pytest.mark.parametrize("case", ["closed project", "project of which the user is no member", "task of another project",
                                  "over 24 h across two rows", "over 24 h in one row", "future date", "locked day",
                                  "submitted week", "5,001-character note"])
def test_a_refusal_reads_the_same_on_both_paths(world, case):
    """Not only the same rule: the same words, from EntryRules (the grid adds that nothing changed to a week it
    refuses whole; the import names the task it looked for by name)."""
    from psa.admin.services import update_settings

    _, rows, settings, _ = next(c for c in CASES if c[0] == case)
    if case == "locked day":
        update_settings(None, time_lock_date=LOCK)
        db.session.commit()
    grid, _ = through_the_grid(world, rows)
    imported, _ = through_the_import(world, rows)
    if case == "submitted week":
        assert grid == [f"{imported[0]} Nothing was changed."]
    elif case == "task of another project":
        assert (grid, imported) == (["That task belongs to another project."],
                                    ["Project “Acme onboarding” has no task called “Migrate”."])
    else:
        assert grid == imported
    assert {
        "closed project": ["Project “Finished” is completed; time goes only on active or on-hold projects."],
        "project of which the user is no member": ["Cleo Consultant is not a member of project “Not mine”."],
        "task of another project": ["Project “Acme onboarding” has no task called “Migrate”."],
        "over 24 h across two rows": ["More than 24 hours for Cleo Consultant on 2026-10-06 "
                                      "(24.50 h with the time already logged and time off)."] * 2,
        "over 24 h in one row": ["A day has at most 24 hours."],
        "future date": ["Time cannot be logged ahead of today."],
        "locked day": ["2026-09-18 is on or before the time lock date (2026-09-18); it cannot change."],
        "submitted week": ["Cleo Consultant's week of 2026-09-28 is submitted and read-only."],
        "5,001-character note": [f"Keep the note to {MAX_NOTE} characters (it has 5001)."],
    }[case] == imported


# --- the non-billable rule, on every path -------------------------------------------------------------


def test_the_rule_itself_never_bills_a_non_billable_project(world):
    projects, _ = _ids()
    rules = EntryRules([world], projects.values())
    assert rules.billable_for(projects[INTERNAL], True) is False
    assert rules.billable_for(projects[INTERNAL], False) is False
    assert rules.billable_for(projects[ACME], True) is True
    assert rules.billable_for(projects[ACME], False) is False


def test_the_grid_page_stores_a_ticked_line_on_a_non_billable_project_as_not_billable(app, client, make, staffed):
    from psa.projects.services import create_project

    consultant, manager, _, _ = staffed
    with app.app_context():
        user = db.session.get(User, consultant.id)
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
        internal_id = create_project(db.session.get(User, manager.id), account=make.account(name="Us"), name=INTERNAL,
                                     kickoff_date=date(2026, 1, 5), manager=db.session.get(User, manager.id),
                                     members=[user], billing_model="non_billable").id
        db.session.commit()
    login_as(client, consultant)
    response = post_form(client, "/timesheets", {
        "week": MONDAY.isoformat(), "rows-0-project": str(internal_id), "rows-0-task": "", "rows-0-billable": "y",
        f"rows-0-{TUESDAY.isoformat()}": "2", f"rows-0-{TUESDAY.isoformat()}-note": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(sa.select(TimeEntry).where(TimeEntry.project_id == internal_id))
        assert (entry.minutes, entry.billable, entry.bill_rate, entry.cost_rate) == (
            120, False, Decimal("150.00"), Decimal("60.00"))


def test_a_ticked_and_an_unticked_line_on_a_non_billable_project_are_one_line(world):
    projects, _ = _ids()
    with pytest.raises(ValidationError) as exc:
        ts.save_week(world, world, MONDAY, [
            ts.GridRow(project_id=projects[INTERNAL], billable=True, cells={TUESDAY: ts.GridCell("1")}),
            ts.GridRow(project_id=projects[INTERNAL], billable=False, cells={WEDNESDAY: ts.GridCell("1")})])
    assert "twice" in exc.value.errors["r1-project"]


def test_saving_the_grid_again_keeps_the_non_billable_entry_and_its_flag(world):
    projects, _ = _ids()
    line = ts.GridRow(project_id=projects[INTERNAL], billable=True, cells={TUESDAY: ts.GridCell("2", "Hiring")})
    ts.save_week(world, world, MONDAY, [line])
    first = db.session.scalars(sa.select(TimeEntry).where(TimeEntry.project_id == projects[INTERNAL])).one()
    ts.save_week(world, world, MONDAY, [line])  # the same again: nothing changes
    again = db.session.scalars(sa.select(TimeEntry).where(TimeEntry.project_id == projects[INTERNAL])).one()
    assert (again.id, again.billable, again.minutes) == (first.id, False, 120)


def test_recalculating_rates_keeps_time_on_a_non_billable_project_unbilled(world):
    projects, _ = _ids()
    ts.save_week(world, world, MONDAY, [
        ts.GridRow(project_id=projects[INTERNAL], billable=True, cells={TUESDAY: ts.GridCell("2")})])
    import_time_entries(None, (f"date,email,project,hours,billable\n{WEDNESDAY.isoformat()},{world.email},"
                               f"{INTERNAL},3,yes\n").encode(), dry_run=False)
    db.session.commit()
    ts.set_user_rate(None, world, effective_from=date(2026, 10, 1), cost_rate="70", bill_rate="170")
    assert ts.recalculate_rates(None) == 2
    entries = db.session.scalars(sa.select(TimeEntry).where(TimeEntry.project_id == projects[INTERNAL])
                                 .order_by(TimeEntry.entry_date)).all()
    # new snapshots (bill 170, cost 70 from 2026-10-01), and still not billable: 2 h and 3 h bill nothing
    assert [(e.entry_date, e.minutes, e.billable, e.bill_rate, e.cost_rate) for e in entries] == [
        (TUESDAY, 120, False, Decimal("170.00"), Decimal("70.00")),
        (WEDNESDAY, 180, False, Decimal("170.00"), Decimal("70.00"))]


def test_entry_rules_load_in_a_fixed_number_of_queries(world, count_queries):
    """Projects, memberships, tasks, weeks, entries and time off already logged: six queries for a day or a year."""
    from psa.admin.services import get_settings

    projects, tasks = _ids()
    get_settings().time_lock_date, world.timezone  # noqa: B018 - loaded once per request: loaded before counting
    counts = []
    for days in ([SUBMITTED_MONDAY, TUESDAY], [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]):
        with count_queries() as statements:
            rules = EntryRules([world], projects.values(), task_ids=tasks.values(), days=days)
        counts.append(len(statements))
        assert rules.week_state(world.id, SUBMITTED_MONDAY) == "submitted"
        assert rules.week_state(world.id, MONDAY) == "draft"
    assert counts == [6, 6]
