"""The week is the unit of serialization: saves of one week from several sessions at once apply one after
the other (one timesheet row, the entries of the last save, never a sum), and of several transitions of
one week sent at once exactly one wins while the others get 409 and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.auth.models import User
from psa.core.models import AuditEvent, Notification
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.models import TimeEntry, Timesheet
from tests.concurrency.conftest import MONDAY
from tests.concurrency.helpers import ROUNDS, THREADS, kinds, no_errors, race
from tests.conftest import csrf_token, login_as

DECISIONS = ("timesheet.approved", "timesheet.rejected")


def _grid(project_id: int, monday, hours: int) -> list[ts.GridRow]:
    return [ts.GridRow(project_id=project_id, billable=True, cells={monday: ts.GridCell(f"{hours}:00")})]


def _week(app, user_id: int, monday):
    """(timesheet rows of the week, [(day, minutes, timesheet id)] of its entries) as committed."""
    with app.app_context():
        sheets = db.session.scalars(sa.select(Timesheet).where(Timesheet.user_id == user_id,
                                                               Timesheet.week_start == monday)).all()
        entries = db.session.execute(sa.select(TimeEntry.entry_date, TimeEntry.minutes, TimeEntry.timesheet_id)
                                     .where(TimeEntry.user_id == user_id, TimeEntry.entry_date >= monday,
                                            TimeEntry.entry_date < monday + timedelta(days=7))).all()
        return [s.id for s in sheets], [tuple(row) for row in entries]


def _events(app, sheet_id: int, actions) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_type == "timesheet", AuditEvent.object_id == sheet_id,
            AuditEvent.action.in_(actions))))


def _notifications(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                                 .where(Notification.user_id == user_id))


def _sheet_in(app, user_id: int, monday, state: str) -> int:
    with app.app_context():
        sheet = Timesheet(user_id=user_id, week_start=monday, state=state)
        db.session.add(sheet)
        db.session.commit()
        return sheet.id


# --- saves -------------------------------------------------------------------------------------------


def test_concurrent_saves_of_a_new_week_leave_one_timesheet_and_the_last_saves_entries(app, staffed):
    consultant_id, _, project_id = staffed
    for round_ in range(ROUNDS):
        monday = MONDAY + timedelta(weeks=round_)  # a brand-new week each round: the first save creates it
        order: list[int] = []

        def save(i, go, monday=monday, order=order):
            user = db.session.get(User, consultant_id)
            go()
            ts.save_week(user, user, monday, _grid(project_id, monday, hours=i + 1))
            order.append(i)  # still holding the week's lock: appended in commit order
            db.session.commit()

        outcomes = race(app, save)
        no_errors(outcomes)
        assert kinds(outcomes) == ["ok"] * THREADS
        sheets, entries = _week(app, consultant_id, monday)
        assert len(sheets) == 1
        # 1 + 2 + … + 8 = 36 hours if the saves added up; the week holds only the last save's hours
        assert entries == [(monday, (order[-1] + 1) * 60, sheets[0])]


def test_concurrent_saves_through_the_page_never_sum_and_never_fail(app, staffed, make):
    consultant_id, _, project_id = staffed
    with app.app_context():
        consultant = db.session.get(User, consultant_id)
        db.session.expunge(consultant)
    clients = [app.test_client() for _ in range(4)]
    for client in clients:
        login_as(client, consultant)
    for round_ in range(ROUNDS):
        monday = MONDAY + timedelta(weeks=round_)
        day = monday.isoformat()
        responses = {}

        def post(i, go, day=day, responses=responses):
            token = csrf_token(clients[i], f"/timesheets?week={day}")
            go()
            response = clients[i].post("/timesheets", data={
                "csrf_token": token, "week": day, "rows-0-project": str(project_id), "rows-0-task": "",
                "rows-0-billable": "y", f"rows-0-{day}": f"{10 + i}:00"})
            responses[i] = response.status_code

        outcomes = race(app, post, threads=4, app_context=False)
        no_errors(outcomes)
        assert sorted(responses.values()) == [302] * 4
        sheets, entries = _week(app, consultant_id, monday)
        # 10 + 11 + 12 + 13 = 46 hours on one day if the saves added up
        assert len(sheets) == 1 and len(entries) == 1
        assert entries[0][1] in {600, 660, 720, 780} and entries[0][2] == sheets[0]


# --- transitions ------------------------------------------------------------------------------------


def test_concurrent_approve_and_reject_have_one_winner_and_the_trail_matches(app, staffed, make):
    consultant_id, _, _ = staffed
    leaders = [make.user(role="leader", name=f"Leader {i}") for i in range(THREADS)]
    for round_ in range(ROUNDS):
        sheet_id = _sheet_in(app, consultant_id, MONDAY + timedelta(weeks=round_), "submitted")
        before = _notifications(app, consultant_id)

        def decide(i, go, sheet_id=sheet_id):
            actor = db.session.get(User, leaders[i].id)
            sheet = db.session.get(Timesheet, sheet_id)
            go()
            if i % 2:
                ts.reject_timesheet(actor, sheet, f"Reason {i}")
            else:
                ts.approve_timesheet(actor, sheet)
            db.session.commit()
            return i

        outcomes = race(app, decide)
        no_errors(outcomes)
        assert kinds(outcomes) == ["conflict"] * (THREADS - 1) + ["ok"]
        winner = next(o.value for o in outcomes if o.kind == "ok")
        assert all("changed meanwhile" in o.value.description or "cannot be" in o.value.description
                   for o in outcomes if o.kind == "conflict")
        with app.app_context():
            sheet = db.session.get(Timesheet, sheet_id)
            state, reason, decided_by = sheet.state, sheet.rejection_reason, sheet.decided_by_id
        if winner % 2:
            assert (state, reason) == ("rejected", f"Reason {winner}")
            assert _events(app, sheet_id, DECISIONS) == ["timesheet.rejected"]
        else:
            assert (state, reason) == ("approved", None)
            assert _events(app, sheet_id, DECISIONS) == ["timesheet.approved"]
        assert decided_by == leaders[winner].id
        assert _notifications(app, consultant_id) == before + 1  # only the winner tells the owner


def test_concurrent_first_submits_of_a_new_week_have_one_winner(app, staffed):
    consultant_id, manager_id, _ = staffed
    for round_ in range(ROUNDS):
        monday = MONDAY + timedelta(weeks=round_)
        before = _notifications(app, manager_id)

        def submit(i, go, monday=monday):
            user = db.session.get(User, consultant_id)
            go()
            sheet = ts.get_timesheet(user, monday, create=True)
            ts.submit_timesheet(user, sheet)
            db.session.commit()

        outcomes = race(app, submit)
        no_errors(outcomes)
        assert kinds(outcomes) == ["conflict"] * (THREADS - 1) + ["ok"]
        sheets, _ = _week(app, consultant_id, monday)
        assert len(sheets) == 1
        assert _events(app, sheets[0], ("timesheet.submitted",)) == ["timesheet.submitted"]
        assert _notifications(app, manager_id) == before + 1


def test_concurrent_reopens_have_one_winner(app, staffed, make):
    consultant_id, _, _ = staffed
    leaders = [make.user(role="leader", name=f"Leader {i}") for i in range(THREADS)]
    for round_ in range(ROUNDS):
        sheet_id = _sheet_in(app, consultant_id, MONDAY + timedelta(weeks=round_), "approved")

        def reopen(i, go, sheet_id=sheet_id):
            actor = db.session.get(User, leaders[i].id)
            sheet = db.session.get(Timesheet, sheet_id)
            go()
            ts.reopen_timesheet(actor, sheet, "Correction")
            db.session.commit()

        outcomes = race(app, reopen)
        no_errors(outcomes)
        assert kinds(outcomes) == ["conflict"] * (THREADS - 1) + ["ok"]
        assert _events(app, sheet_id, ("timesheet.reopened",)) == ["timesheet.reopened"]
        with app.app_context():
            assert db.session.get(Timesheet, sheet_id).state == "draft"


def test_concurrent_decisions_through_the_page_answer_one_redirect_and_409s(app, staffed, make):
    consultant_id, _, _ = staffed
    leaders = [make.user(role="leader", name=f"Leader {i}") for i in range(3)]
    clients = [app.test_client() for _ in leaders]
    for client, leader in zip(clients, leaders, strict=True):
        login_as(client, leader)
    for round_ in range(ROUNDS):
        sheet_id = _sheet_in(app, consultant_id, MONDAY + timedelta(weeks=round_), "submitted")
        responses = {}

        def decide(i, go, sheet_id=sheet_id, responses=responses):
            token = csrf_token(clients[i], "/timesheets/approvals")
            action, data = ("reject", {"reason": "Missing Friday"}) if i == 1 else ("approve", {})
            go()
            response = clients[i].post(f"/timesheets/{sheet_id}/{action}", data={"csrf_token": token, **data})
            responses[i] = (response.status_code, response.get_data(as_text=True))

        outcomes = race(app, decide, threads=3, app_context=False)
        no_errors(outcomes)
        assert sorted(code for code, _ in responses.values()) == [302, 409, 409]
        assert all("changed meanwhile" in body or "cannot be" in body
                   for code, body in responses.values() if code == 409)
        assert len(_events(app, sheet_id, DECISIONS)) == 1


# --- the loser of a conditional update changes nothing (no threads: the row changes underneath) ---------


def _change_underneath(app, sheet_id: int, **values) -> None:
    """Update the week through a connection of its own, as another request would have."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.update(Timesheet).where(Timesheet.id == sheet_id).values(**values))


@pytest.mark.parametrize(("state", "underneath", "action"), [
    ("submitted", "rejected", "approve"),
    ("submitted", "approved", "reject"),
    ("approved", "draft", "reopen"),
    ("draft", "submitted", "submit"),
])
def test_a_transition_from_a_state_that_changed_underneath_is_a_conflict_and_changes_nothing(
        app, staffed, make, state, underneath, action):
    consultant_id, _, _ = staffed
    leader = make.user(role="leader")
    sheet_id = _sheet_in(app, consultant_id, MONDAY, state)
    with app.app_context():
        sheet = db.session.get(Timesheet, sheet_id)
        assert sheet.state == state  # read as the page showed it …
        _change_underneath(app, sheet_id, state=underneath)  # … then another session moved it on
        actor = db.session.get(User, consultant_id if action == "submit" else leader.id)
        call = {"approve": lambda: ts.approve_timesheet(actor, sheet),
                "reject": lambda: ts.reject_timesheet(actor, sheet, "Too late"),
                "reopen": lambda: ts.reopen_timesheet(actor, sheet, "Too late"),
                "submit": lambda: ts.submit_timesheet(actor, sheet)}[action]
        with pytest.raises(Conflict, match="changed meanwhile"):
            call()
        assert not db.session.new  # no audit event, no notification on its way
        db.session.commit()
    with app.app_context():
        row = db.session.get(Timesheet, sheet_id)
        assert (row.state, row.rejection_reason, row.decided_by_id) == (underneath, None, None)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.object_type == "timesheet")) == 0
    assert _notifications(app, consultant_id) == 0


def test_saving_a_week_submitted_underneath_is_a_conflict_and_changes_nothing(app, staffed):
    consultant_id, _, project_id = staffed
    sheet_id = _sheet_in(app, consultant_id, MONDAY, "draft")
    with app.app_context():
        user = db.session.get(User, consultant_id)
        shown = ts.get_timesheet(user, MONDAY)
        assert shown.is_editable  # read as the page showed it (and still held by this session) …
        _change_underneath(app, sheet_id, state="submitted")  # … then its owner submitted it elsewhere
        with pytest.raises(Conflict, match="submitted and read-only"):
            ts.save_week(user, user, MONDAY, _grid(project_id, MONDAY, hours=3))
        db.session.commit()
    assert _week(app, consultant_id, MONDAY) == ([sheet_id], [])
