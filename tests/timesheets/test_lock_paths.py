"""The lock holds on every path that writes time entries: an approved week, and any date on or before the time
lock date, are left exactly as they were (minutes, note, rates, count) whether the change comes through the
weekly grid (the service and the page), the CSV import (the service and the page), the rate recalculation
(the service and the page) or the JSON API (create, change and delete one entry)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY

APPROVED_MONDAY = MONDAY - timedelta(days=7)   # a week approved by the manager
LOCK = MONDAY                                  # the lock date: MONDAY's Monday is locked, its Tuesday open
TUESDAY = MONDAY + timedelta(days=1)


def _snapshot(app, open_too=False):
    """Every protected entry as it is stored (and the number of entries of all kinds)."""
    with app.app_context():
        rows = db.session.execute(sa.select(
            TimeEntry.id, TimeEntry.entry_date, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.minutes,
            TimeEntry.billable, TimeEntry.note, TimeEntry.bill_rate, TimeEntry.cost_rate, TimeEntry.timesheet_id)
            .order_by(TimeEntry.id)).all()
    protected = [tuple(row) for row in rows if open_too or row.entry_date <= LOCK]
    return protected, len(rows)


@pytest.fixture
def locked(app, staffed):
    """An approved week (1 h on its Monday, 2 h on its Wednesday), then a draft week whose Monday is on the lock
    date (3 h) and whose Tuesday is open (1 h); the rates changed since all were saved."""
    from psa.admin.services import update_settings

    consultant, manager, project_id, task_id = staffed
    with app.app_context():
        user, approver = db.session.get(User, consultant.id), db.session.get(User, manager.id)
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
        ts.save_week(user, user, APPROVED_MONDAY, [ts.GridRow(project_id=project_id, task_id=task_id, cells={
            APPROVED_MONDAY: ts.GridCell("1", "approved"), APPROVED_MONDAY + timedelta(days=2): ts.GridCell("2")})])
        sheet = ts.get_timesheet(user, APPROVED_MONDAY)
        ts.submit_timesheet(user, sheet)
        ts.approve_timesheet(approver, sheet)
        ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, task_id=task_id, cells={
            MONDAY: ts.GridCell("3", "locked"), TUESDAY: ts.GridCell("1", "open")})])
        update_settings(None, time_lock_date=LOCK)
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="80", bill_rate="200")
        db.session.commit()
    before = _snapshot(app)
    assert len(before[0]) == 3 and before[1] == 4
    return consultant, manager, project_id, task_id, before


# --- the grid ------------------------------------------------------------------------------------


def test_the_grid_service_changes_nothing_in_an_approved_week_or_on_the_lock_date(app, locked):
    consultant, _, project_id, task_id, before = locked
    with app.app_context():
        user = db.session.get(User, consultant.id)
        with pytest.raises(Conflict):
            ts.save_week(user, user, APPROVED_MONDAY, [ts.GridRow(project_id=project_id, task_id=task_id,
                                                                  cells={APPROVED_MONDAY: ts.GridCell("5")})])
        db.session.rollback()
        with pytest.raises(Conflict):  # emptying the approved week
            ts.save_week(user, user, APPROVED_MONDAY, [])
        db.session.rollback()
        for rows in (
            [ts.GridRow(project_id=project_id, task_id=task_id, cells={MONDAY: ts.GridCell("4", "locked"),
                                                                       TUESDAY: ts.GridCell("1", "open")})],
            [ts.GridRow(project_id=project_id, task_id=task_id, cells={MONDAY: ts.GridCell("3", "changed"),
                                                                       TUESDAY: ts.GridCell("1", "open")})],
            [ts.GridRow(project_id=project_id, task_id=task_id, cells={TUESDAY: ts.GridCell("1", "open")})],
            [ts.GridRow(project_id=project_id, task_id=task_id, cells={MONDAY: ts.GridCell("3", "locked"),
                                                                       TUESDAY: ts.GridCell("1", "open")}),
             ts.GridRow(project_id=project_id, billable=False, cells={MONDAY: ts.GridCell("1")})],
        ):
            with pytest.raises(ValidationError) as exc:
                ts.save_week(user, user, MONDAY, rows)
            assert any("time lock date (2026-10-05)" in m for m in exc.value.errors.values()), exc.value.errors
            db.session.rollback()
    assert _snapshot(app) == before


def _grid_form(monday, project_id, task_id, cells, notes=None):
    data = {"week": monday.isoformat(), "rows-0-project": str(project_id), "rows-0-task": str(task_id or ""),
            "rows-0-billable": "y"}
    for day, text in cells.items():
        data[f"rows-0-{day.isoformat()}"] = text
        data[f"rows-0-{day.isoformat()}-note"] = (notes or {}).get(day, "")
    return data


def test_the_grid_page_changes_nothing_in_an_approved_week_or_on_the_lock_date(client, app, locked):
    consultant, _, project_id, task_id, before = locked
    login_as(client, consultant)
    response = post_form(client, "/timesheets", _grid_form(APPROVED_MONDAY, project_id, task_id,
                                                           {APPROVED_MONDAY: "5"}, {APPROVED_MONDAY: "approved"}))
    assert response.status_code == 409
    assert "read-only" in response.get_data(as_text=True)
    response = post_form(client, "/timesheets", _grid_form(MONDAY, project_id, task_id, {MONDAY: "4", TUESDAY: "1"},
                                                           {MONDAY: "locked", TUESDAY: "open"}))
    assert response.status_code == 400
    # the lock rule's one message, as the import gives it
    assert "2026-10-05 is on or before the time lock date (2026-10-05); it cannot change." in response.get_data(
        as_text=True)
    response = post_form(client, "/timesheets", _grid_form(MONDAY, project_id, task_id, {TUESDAY: "1"},
                                                           {TUESDAY: "open"}))
    assert response.status_code == 400
    assert _snapshot(app) == before
    # the open Tuesday still takes a change, and the locked Monday stays as it was
    response = post_form(client, "/timesheets", _grid_form(MONDAY, project_id, task_id, {MONDAY: "3", TUESDAY: "2"},
                                                           {MONDAY: "locked", TUESDAY: "open"}))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _snapshot(app)[0] == before[0]


# --- the import ----------------------------------------------------------------------------------


def _import_file(email):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["date", "email", "project", "task", "hours", "billable", "note"])
    writer.writerow([TUESDAY.isoformat(), email, "Acme onboarding", "Configure", "2", "yes", "fine on its own"])
    writer.writerow([(APPROVED_MONDAY + timedelta(days=1)).isoformat(), email, "Acme onboarding", "", "1", "yes", "x"])
    writer.writerow([LOCK.isoformat(), email, "Acme onboarding", "", "1", "yes", "x"])
    writer.writerow([(LOCK - timedelta(days=30)).isoformat(), email, "Acme onboarding", "", "1", "yes", "x"])
    return buffer.getvalue().encode()


def test_the_import_service_adds_nothing_to_an_approved_week_or_on_the_lock_date(app, locked):
    consultant, *_, before = locked
    with app.app_context():
        report = import_time_entries(None, _import_file(consultant.email), dry_run=False)
        assert [(e.line, e.message) for e in report.errors] == [
            (3, "2026-09-29 is on or before the time lock date (2026-10-05); it cannot change."),
            (3, "Cleo Consultant's week of 2026-09-28 is approved and read-only."),
            (4, "2026-10-05 is on or before the time lock date (2026-10-05); it cannot change."),
            (5, "2026-09-05 is on or before the time lock date (2026-10-05); it cannot change."),
        ]
        db.session.commit()
    assert _snapshot(app) == before  # nothing at all: not even the good row on the open Tuesday


def test_the_import_page_adds_nothing_to_an_approved_week_or_on_the_lock_date(client, app, make, locked):
    consultant, *_, before = locked
    login_as(client, make.user(role="admin"))
    response = post_form(client, "/timesheets/import", {"file": (io.BytesIO(_import_file(consultant.email)), "t.csv")},
                         token_from="/timesheets/import", content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "is approved and read-only" in html and "time lock date (2026-10-05)" in html
    assert _snapshot(app) == before


def test_an_approved_week_also_refuses_import_before_any_lock_date(app, locked):
    from psa.admin.services import update_settings

    consultant, *_, before = locked
    with app.app_context():
        update_settings(None, time_lock_date=None)
        db.session.commit()
        report = import_time_entries(None, _import_file(consultant.email), dry_run=False)
        assert [e.line for e in report.errors] == [3]
        db.session.commit()
    assert _snapshot(app) == before


# --- the rate recalculation ----------------------------------------------------------------------


def test_the_recalculation_service_leaves_approved_and_locked_entries_alone(app, locked):
    *_, before = locked
    with app.app_context():
        assert ts.recalculate_rates(None) == 1  # the open Tuesday only
        db.session.commit()
    after, count = _snapshot(app)
    assert (after, count) == before
    open_entry = [row for row in _snapshot(app, open_too=True)[0] if row[1] == TUESDAY][0]
    assert (open_entry[7], open_entry[8]) == (Decimal("200.00"), Decimal("80.00"))


def test_the_recalculation_page_leaves_approved_and_locked_entries_alone(client, app, make, locked):
    *_, before = locked
    login_as(client, make.user(role="leader"))
    response = post_form(client, "/timesheets/rates/recalculate", {"since": "2026-01-01"}, token_from="/timesheets/rates")
    assert response.status_code == 302
    page = client.get("/timesheets/rates").get_data(as_text=True)
    assert "1 entry changed." in page and "lock date (2026-10-05)" in page
    assert _snapshot(app) == before


# --- the API -------------------------------------------------------------------------------------------------------


def test_the_api_changes_nothing_in_an_approved_week_or_on_the_lock_date(app, locked):
    from tests.api.conftest import ApiClient, token_for

    consultant, _, project_id, task_id, before = locked
    api = ApiClient(app, app.test_client(), token_for(app, consultant))
    ids = {row[1]: row[0] for row in _snapshot(app, open_too=True)[0]}  # entry date -> id
    approved, locked_day, open_day = ids[APPROVED_MONDAY], ids[MONDAY], ids[TUESDAY]
    message = "2026-10-05 is on or before the time lock date (2026-10-05); it cannot change."

    def new(day, minutes=60):
        return api.post("/api/v1/time-entries", json={"project_id": project_id, "task_id": task_id,
                                                      "entry_date": day.isoformat(), "minutes": minutes})

    # the approved week: read-only, 409, as the grid answers
    for response in (new(APPROVED_MONDAY + timedelta(days=1)),
                     api.patch(f"/api/v1/time-entries/{approved}", json={"minutes": 30}),
                     api.patch(f"/api/v1/time-entries/{open_day}", json={"entry_date": APPROVED_MONDAY.isoformat()}),
                     api.delete(f"/api/v1/time-entries/{approved}")):
        assert response.status_code == 409, response.get_json()
        assert "is approved and read-only" in response.get_json()["error"]["message"]
    # on or before the lock date: 422 at entry_date with the lock rule's one message
    for response in (new(LOCK), new(LOCK - timedelta(days=30)),
                     api.patch(f"/api/v1/time-entries/{locked_day}", json={"minutes": 240}),
                     api.patch(f"/api/v1/time-entries/{locked_day}", json={"note": "changed"}),
                     api.patch(f"/api/v1/time-entries/{open_day}", json={"entry_date": LOCK.isoformat()}),
                     api.delete(f"/api/v1/time-entries/{locked_day}")):
        assert response.status_code == 422, response.get_json()
        assert "time lock date (2026-10-05); it cannot change." in response.get_json()["error"]["fields"]["entry_date"]
    assert api.delete(f"/api/v1/time-entries/{locked_day}").get_json()["error"]["fields"]["entry_date"] == message
    assert _snapshot(app) == before
    # the open Tuesday still takes a change (its rates snapshotted again), the protected entries stay as they were
    changed = api.patch(f"/api/v1/time-entries/{open_day}", json={"minutes": 120})
    assert changed.status_code == 200 and changed.get_json()["minutes"] == 120
    assert _snapshot(app)[0] == before[0]
    open_entry = [row for row in _snapshot(app, open_too=True)[0] if row[1] == TUESDAY][0]
    assert (open_entry[4], open_entry[7], open_entry[8]) == (120, Decimal("200.00"), Decimal("80.00"))
