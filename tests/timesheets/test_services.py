"""Rates, the weekly grid, the workflow and the lock — services tested directly, numbers worked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from tests.timesheets.conftest import MONDAY

D = date


def _u(user):
    return db.session.get(User, user.id)


def _row(project_id, task_id=None, billable=True, **cells):
    """cells: mon='1:30', tue=... ; note_mon='...'"""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    grid = {}
    for i, name in enumerate(names):
        if name in cells:
            grid[MONDAY + timedelta(days=i)] = ts.GridCell(cells[name], cells.get(f"note_{name}", ""))
    return ts.GridRow(project_id=project_id, task_id=task_id, billable=billable, cells=grid)


def _entries(user_id):
    return db.session.scalars(sa.select(TimeEntry).where(TimeEntry.user_id == user_id)
                              .order_by(TimeEntry.entry_date)).all()


# --- rates ---------------------------------------------------------------------------------------


def test_rate_resolution_across_effective_dates_and_overrides(ctx, staffed):
    consultant, manager, project_id, _ = staffed
    from psa.projects.models import Project

    user, project = _u(consultant), db.session.get(Project, project_id)
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.set_user_rate(None, user, effective_from=D(2026, 7, 1), cost_rate="70", bill_rate="175")
    # before any rate: 0
    assert ts.resolve_rates(user, project_id, D(2025, 12, 31)) == ts.Rates(Decimal("0.00"), Decimal("0.00"))
    # Jan–Jun: the first rates; 30 June still the first; 1 July the second
    assert ts.resolve_rates(user, project_id, D(2026, 6, 30)) == ts.Rates(Decimal("150.00"), Decimal("60.00"))
    assert ts.resolve_rates(user, project_id, D(2026, 7, 1)) == ts.Rates(Decimal("175.00"), Decimal("70.00"))
    # a rate card line for the role overrides the bill rate only (cost stays the user's)
    ts.set_project_rate(None, project, role="consultant", bill_rate="160")
    assert ts.resolve_rates(user, project_id, D(2026, 7, 1)) == ts.Rates(Decimal("160.00"), Decimal("70.00"))
    # a line for the user wins over the role
    ts.set_project_rate(None, project, user=user, bill_rate="190")
    assert ts.resolve_rates(user, project_id, D(2026, 7, 1)) == ts.Rates(Decimal("190.00"), Decimal("70.00"))
    # the manager has no user line: the role line does not apply to another role
    ts.set_user_rate(None, _u(manager), effective_from=D(2026, 1, 1), cost_rate="80", bill_rate="200")
    assert ts.resolve_rates(_u(manager), project_id, D(2026, 7, 1)) == ts.Rates(Decimal("200.00"), Decimal("80.00"))


def test_bad_rates_are_refused_at_the_field(ctx, staffed):
    consultant, _, project_id, _ = staffed
    with pytest.raises(ValidationError) as exc:
        ts.set_user_rate(None, _u(consultant), effective_from=D(2026, 1, 1), cost_rate="-1", bill_rate="10")
    assert "cost_rate" in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        ts.set_user_rate(None, _u(consultant), effective_from=D(2026, 1, 1), cost_rate="1", bill_rate="ten")
    assert "bill_rate" in exc.value.errors


def test_saving_snapshots_the_rates_and_approval_freezes_them(ctx, staffed):
    consultant, manager, project_id, task_id = staffed
    user = _u(consultant)
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.save_week(user, user, MONDAY, [_row(project_id, task_id, mon="2:00", tue="1.5")])
    entries = _entries(user.id)
    assert [(e.minutes, e.bill_rate, e.cost_rate) for e in entries] == [
        (120, Decimal("150.00"), Decimal("60.00")), (90, Decimal("150.00"), Decimal("60.00"))]
    sheet = ts.get_timesheet(user, MONDAY)
    ts.submit_timesheet(user, sheet)
    ts.approve_timesheet(_u(manager), sheet)
    # a new rate effective back in January, after approval: the approved entries keep their snapshot
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="65", bill_rate="155")
    assert ts.recalculate_rates(None) == 0
    assert {(e.bill_rate, e.cost_rate) for e in _entries(user.id)} == {(Decimal("150.00"), Decimal("60.00"))}


def test_recalculation_changes_only_unapproved_entries(ctx, staffed):
    consultant, manager, project_id, _ = staffed
    user = _u(consultant)
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1:00")])
    approved = ts.get_timesheet(user, MONDAY)
    ts.submit_timesheet(user, approved)
    ts.approve_timesheet(_u(manager), approved)
    next_monday = MONDAY + timedelta(days=7)
    ts.save_week(user, user, next_monday, [ts.GridRow(project_id=project_id, cells={next_monday: ts.GridCell("3")})])
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="62", bill_rate="158")
    assert ts.recalculate_rates(None) == 1
    by_day = {e.entry_date: (e.bill_rate, e.cost_rate) for e in _entries(user.id)}
    assert by_day[MONDAY] == (Decimal("150.00"), Decimal("60.00"))
    assert by_day[next_monday] == (Decimal("158.00"), Decimal("62.00"))


# --- the grid ------------------------------------------------------------------------------------


def test_grid_saves_changes_and_deletes_in_one_go(ctx, staffed):
    consultant, _, project_id, task_id = staffed
    user = _u(consultant)
    ts.save_week(user, user, MONDAY, [_row(project_id, task_id, mon="1:30", tue="90m", wed="1h30m", note_mon="setup"),
                                      _row(project_id, billable=False, thu="0.5")])
    assert [(e.entry_date.day, e.minutes, e.billable, e.note) for e in _entries(user.id)] == [
        (5, 90, True, "setup"), (6, 90, True, ""), (7, 90, True, ""), (8, 30, False, "")]
    # change Monday, clear Tuesday, keep Wednesday, drop the second row
    ts.save_week(user, user, MONDAY, [_row(project_id, task_id, mon="2", wed="1:30", note_mon="setup")])
    assert [(e.entry_date.day, e.minutes) for e in _entries(user.id)] == [(5, 120), (7, 90)]


def test_time_off_rows_are_saved_apart_from_project_time(ctx, staffed):
    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    rows = [_row(project_id, mon="4"), ts.GridRow(time_off_kind="vacation", cells={MONDAY: ts.GridCell("4")}),
            ts.GridRow(time_off_kind="sick", cells={MONDAY + timedelta(days=1): ts.GridCell("8")})]
    ts.save_week(user, user, MONDAY, rows)
    offs = db.session.scalars(sa.select(TimeOff).order_by(TimeOff.entry_date)).all()
    assert [(o.kind, o.minutes) for o in offs] == [("vacation", 240), ("sick", 480)]
    assert [e.minutes for e in _entries(user.id)] == [240]


@pytest.mark.parametrize(
    ("rows", "cell", "message"),
    [
        (lambda p, t: [_row(p, mon="abc")], "r0-2026-10-05", "not a duration"),
        (lambda p, t: [_row(p, mon="0")], "r0-2026-10-05", "above 0"),
        (lambda p, t: [_row(p, mon="25")], "r0-2026-10-05", "at most 24 hours"),
        (lambda p, t: [_row(p, mon="14"), _row(p, billable=False, mon="11")], "r0-2026-10-05", "More than 24 hours"),
        (lambda p, t: [_row(p, mon="1"), ts.GridRow(time_off_kind="sick", cells={MONDAY: ts.GridCell("23:30")})],
         "r1-2026-10-05", "More than 24 hours"),
        (lambda p, t: [_row(999999, mon="1")], "r0-project", "member of"),
        (lambda p, t: [_row(p, 999999, mon="1")], "r0-task", "another project"),
        (lambda p, t: [_row(p, mon="1"), _row(p, tue="1")], "r1-project", "twice"),
    ],
)
def test_broken_rules_are_reported_at_the_cell_and_nothing_is_saved(ctx, staffed, rows, cell, message):
    consultant, _, project_id, task_id = staffed
    user = _u(consultant)
    with pytest.raises(ValidationError) as exc:
        ts.save_week(user, user, MONDAY, rows(project_id, task_id))
    assert message in exc.value.errors[cell]
    db.session.rollback()
    assert _entries(user.id) == []


def test_future_days_are_refused_unless_allowed(ctx, staffed):
    from psa.admin.services import update_settings

    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    monday = ts.week_start(ts.user_today(user)) + timedelta(days=7)
    row = ts.GridRow(project_id=project_id, cells={monday: ts.GridCell("1")})
    with pytest.raises(ValidationError) as exc:
        ts.save_week(user, user, monday, [row])
    assert "ahead of today" in exc.value.errors[ts.cell_key(0, monday)]
    db.session.rollback()
    update_settings(None, allow_future_time=True)
    ts.save_week(user, user, monday, [row])
    assert len(_entries(user.id)) == 1


def test_projects_that_are_not_active_or_on_hold_take_no_time(ctx, staffed):
    from psa.projects.models import Project

    consultant, _, project_id, _ = staffed
    db.session.get(Project, project_id).status = "completed"
    db.session.flush()
    with pytest.raises(ValidationError) as exc:
        ts.save_week(_u(consultant), _u(consultant), MONDAY, [_row(project_id, mon="1")])
    assert "r0-project" in exc.value.errors


# --- the workflow --------------------------------------------------------------------------------


def _sheet_in(state, user, manager, project_id):
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1")])
    sheet = ts.get_timesheet(user, MONDAY)
    if state in ("submitted", "approved", "rejected"):
        ts.submit_timesheet(user, sheet)
    if state == "approved":
        ts.approve_timesheet(manager, sheet)
    if state == "rejected":
        ts.reject_timesheet(manager, sheet, "Missing Friday")
    return sheet


LEGAL = [("draft", "submit", "submitted"), ("rejected", "submit", "submitted"), ("submitted", "approve", "approved"),
         ("submitted", "reject", "rejected"), ("approved", "reopen", "draft")]
ILLEGAL = [(state, action) for state in ("draft", "submitted", "approved", "rejected")
           for action in ("submit", "approve", "reject", "reopen")
           if (state, action) not in {(s, a) for s, a, _ in LEGAL}]


def _act(action, sheet, user, approver):
    leader = db.session.scalar(sa.select(User).where(User.role == "leader"))
    return {
        "submit": lambda: ts.submit_timesheet(user, sheet),
        "approve": lambda: ts.approve_timesheet(approver, sheet),
        "reject": lambda: ts.reject_timesheet(approver, sheet, "Fix it"),
        "reopen": lambda: ts.reopen_timesheet(leader, sheet, "Correction"),
    }[action]()


@pytest.mark.parametrize(("state", "action", "target"), LEGAL)
def test_every_legal_transition_works(ctx, staffed, make, state, action, target):
    consultant, manager, project_id, _ = staffed
    make.user(role="leader")
    sheet = _sheet_in(state, _u(consultant), _u(manager), project_id)
    _act(action, sheet, _u(consultant), _u(manager))
    assert sheet.state == target


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_transition_is_a_conflict_and_changes_nothing(ctx, staffed, make, state, action):
    consultant, manager, project_id, _ = staffed
    make.user(role="leader")
    sheet = _sheet_in(state, _u(consultant), _u(manager), project_id)
    db.session.commit()
    with pytest.raises(Conflict):
        _act(action, sheet, _u(consultant), _u(manager))
    db.session.rollback()
    assert db.session.get(Timesheet, sheet.id).state == state


def test_only_approvers_approve(ctx, staffed, make):
    consultant, manager, project_id, _ = staffed
    other_manager = make.user(role="manager")
    sheet = _sheet_in("submitted", _u(consultant), _u(manager), project_id)
    with pytest.raises(Conflict):
        ts.approve_timesheet(_u(other_manager), sheet)
    with pytest.raises(Conflict):
        ts.approve_timesheet(_u(consultant), sheet)
    ts.approve_timesheet(_u(make.user(role="leader")), sheet)
    assert sheet.state == "approved"


def test_rejecting_needs_a_reason_and_notifies_the_user(ctx, staffed):
    from psa.core.models import Notification

    consultant, manager, project_id, _ = staffed
    sheet = _sheet_in("submitted", _u(consultant), _u(manager), project_id)
    with pytest.raises(ValidationError) as exc:
        ts.reject_timesheet(_u(manager), sheet, "  ")
    assert "reason" in exc.value.errors
    ts.reject_timesheet(_u(manager), sheet, "Friday is missing")
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == consultant.id))
    assert "Friday is missing" in note.message


def test_submitted_and_approved_weeks_are_read_only(ctx, staffed):
    consultant, manager, project_id, _ = staffed
    user = _u(consultant)
    sheet = _sheet_in("submitted", user, _u(manager), project_id)
    with pytest.raises(Conflict):
        ts.save_week(user, user, MONDAY, [_row(project_id, mon="5")])
    ts.approve_timesheet(_u(manager), sheet)
    with pytest.raises(Conflict):
        ts.save_week(user, user, MONDAY, [])
    assert [e.minutes for e in _entries(user.id)] == [60]


# --- the lock ------------------------------------------------------------------------------------


def test_nothing_on_or_before_the_lock_date_can_be_created_changed_or_deleted(ctx, staffed):
    from psa.admin.services import update_settings

    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1", tue="2")])
    update_settings(None, time_lock_date=MONDAY)  # Monday locked, Tuesday open
    db.session.commit()
    for rows in ([_row(project_id, mon="3", tue="2")],      # change a locked entry
                 [_row(project_id, tue="2")],               # delete a locked entry
                 [_row(project_id, billable=False, mon="1"), _row(project_id, mon="1", tue="2")]):  # create
        with pytest.raises(ValidationError) as exc:
            ts.save_week(user, user, MONDAY, rows)
        assert any("time lock date" in message for message in exc.value.errors.values())
        db.session.rollback()
    # changing only the open Tuesday works, and Monday stays as it was
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1", tue="4")])
    assert [e.minutes for e in _entries(user.id)] == [60, 240]


def test_recalculation_leaves_locked_entries_alone(ctx, staffed):
    from psa.admin.services import update_settings

    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="60", bill_rate="150")
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1", tue="1")])
    update_settings(None, time_lock_date=MONDAY)
    ts.set_user_rate(None, user, effective_from=D(2026, 1, 1), cost_rate="61", bill_rate="151")
    assert ts.recalculate_rates(None) == 1
    assert [(e.entry_date.day, e.bill_rate) for e in _entries(user.id)] == [(5, Decimal("150.00")),
                                                                             (6, Decimal("151.00"))]


def test_logged_hours_feed_project_health(ctx, staffed):
    from psa.projects.models import Project
    from psa.projects.services import refresh_schedule

    consultant, _, project_id, _ = staffed
    user = _u(consultant)
    project = db.session.get(Project, project_id)
    project.budget_minutes = 600  # 10 h budget, 0 % progress
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1:30")])
    refresh_schedule([project_id], today=D(2026, 10, 9))
    # 1.5 h of 10 h = 15 points ahead of progress: not more than 15 -> green
    assert db.session.get(Project, project_id).health == "green"
    ts.save_week(user, user, MONDAY, [_row(project_id, mon="1:36")])
    refresh_schedule([project_id], today=D(2026, 10, 9))
    # 1.6 h = 16 points -> amber
    assert db.session.get(Project, project_id).health == "amber"


def test_submitting_tells_the_approver_or_else_the_leaders(ctx, staffed, make):
    from psa.core.models import Notification

    consultant, manager, project_id, _ = staffed
    leader = make.user(role="leader")
    sheet = _sheet_in("submitted", _u(consultant), _u(manager), project_id)
    notes = db.session.scalars(sa.select(Notification)).all()
    assert [(n.user_id, n.link) for n in notes] == [(manager.id, f"/timesheets/{sheet.id}")]
    assert "Cleo Consultant submitted the week of 2026-10-05" in notes[0].message
    # without an approver, the leaders hear of it
    other = make.user(role="consultant")
    ts.submit_timesheet(_u(other), ts.get_timesheet(_u(other), MONDAY, create=True))
    assert db.session.scalar(sa.select(Notification.user_id).where(Notification.user_id != manager.id)) == leader.id
