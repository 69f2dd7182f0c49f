"""Saving a week touches only what the person changed, and notes keep their line breaks (issue 10).

A week of imported entries straddles the lock date: Monday is locked, the rest is open. Notes hold line
breaks, one stored with CRLF as a CSV export writes it; Wednesday's cell holds two entries (shown as one
cell, notes joined with "; "). Every entry's updated_at is set to a known instant first, so "untouched"
means: same id, same note, same updated_at. A browser posts the grid's textareas and hidden inputs with
CRLF line breaks; the page is posted back that way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.core.text import normalize_newlines
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.forms import WeekGrid
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry, TimeOff
from psa.timesheets.rules import MAX_NOTE
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_grid_routes import GridPage

D = [MONDAY + timedelta(days=i) for i in range(7)]
WEEK = MONDAY.isoformat()
#: When every entry was last written, as far as the tests know.
SAVED_AT = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)

#: Ours format; the Monday note is quoted with a CRLF inside (as Harvest's and Excel's exports write it).
CSV = ("date,email,project,task,hours,billable,note\r\n"
       '2026-10-05,{email},Acme onboarding,Configure,2,yes,"Go-live checklist\r\nreviewed"\r\n'
       '2026-10-06,{email},Acme onboarding,Configure,1,yes,"Call with\nthe customer"\r\n'
       "2026-10-07,{email},Acme onboarding,Configure,1,yes,first\r\n"
       "2026-10-07,{email},Acme onboarding,Configure,0.5,yes,second\r\n")


@pytest.fixture
def imported(app, staffed):
    """(consultant, project id, task id): the week imported, a sick note on the locked Monday, the lock on
    MONDAY, and every row's updated_at set to SAVED_AT."""
    from psa.admin.services import update_settings

    consultant, _, project_id, task_id = staffed
    with app.app_context():
        report = import_time_entries(None, CSV.format(email=consultant.email), dry_run=False)
        assert not report.errors
        user = db.session.get(User, consultant.id)
        sheet = ts.get_timesheet(user, MONDAY)
        db.session.add(TimeOff(user_id=user.id, timesheet_id=sheet.id, entry_date=D[0], kind="sick", minutes=60,
                               note="Dentist\r\nat 8"))
        update_settings(None, time_lock_date=MONDAY)
        db.session.execute(sa.update(TimeEntry).values(updated_at=SAVED_AT))
        db.session.commit()
    return consultant, project_id, task_id


def _rows(app) -> dict[int, tuple]:
    """Every entry by id: (day, minutes, note, updated_at)."""
    with app.app_context():
        return {e.id: (e.entry_date, e.minutes, e.note, e.updated_at)
                for e in db.session.scalars(sa.select(TimeEntry).order_by(TimeEntry.id))}


def _off_rows(app) -> list[tuple]:
    with app.app_context():
        return [(o.id, o.entry_date, o.minutes, o.note) for o in db.session.scalars(sa.select(TimeOff))]


def _page(client) -> GridPage:
    response = client.get(f"/timesheets?week={WEEK}")
    assert response.status_code == 200
    return GridPage(response.get_data(as_text=True))


def _as_browser_posts(data: dict, line_break: str = "\r\n") -> dict:
    """The form as a browser sends it: every line break in every value as CRLF."""
    return {name: value.replace("\n", line_break) for name, value in data.items()}


def _line(page: GridPage) -> int:
    """The index of the week's one project line."""
    return next(int(m.group(1)) for name, value in page.values.items()
                if value and (m := re.fullmatch(r"rows-(\d+)-project", name)))


def _note_name(page: GridPage, day) -> str:
    return f"rows-{_line(page)}-{day.isoformat()}-note"


def _saved_rows(user) -> list[ts.GridRow]:
    """The saved week as the grid shows it and posts it back."""
    entries = db.session.scalars(sa.select(TimeEntry).where(TimeEntry.user_id == user.id)
                                 .order_by(TimeEntry.entry_date, TimeEntry.id)).all()
    offs = db.session.scalars(sa.select(TimeOff).where(TimeOff.user_id == user.id)).all()
    return WeekGrid.from_saved(MONDAY, entries, offs).grid_rows()


# --- the one boundary function ------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "kept"), [
    ("Go-live checklist\r\nreviewed", "Go-live checklist\nreviewed"),
    ("a\rb\r\nc\nd", "a\nb\nc\nd"),
    ("\r\n\r\n", "\n\n"),
    ("\n\r", "\n\n"),  # LF then a lone CR: two breaks, never joined into one
    ("no break", "no break"),
    ("", ""),
    (None, ""),
])
def test_normalize_newlines_turns_crlf_and_cr_into_lf_and_nothing_else(raw, kept):
    assert normalize_newlines(raw) == kept
    assert normalize_newlines(kept) == kept  # applying it again changes nothing


# --- no change: nothing is touched --------------------------------------------------------------


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_a_week_posted_back_unchanged_keeps_every_entry_id_note_and_updated_at(app, client, imported, line_break):
    consultant, *_ = imported
    before, offs = _rows(app), _off_rows(app)
    assert len(before) == 4
    login_as(client, consultant)
    page = _page(client)
    response = post_form(client, "/timesheets", _as_browser_posts({"week": WEEK, **page.form()}, line_break))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _rows(app) == before
    assert _off_rows(app) == offs


def test_the_grid_service_keeps_an_unchanged_week_as_it_is(app, imported):
    """The same through the service: the saved week read back as the grid shows it, notes as a browser
    re-encodes them (CRLF), goes through save_week without a lock error and without a write."""
    consultant, *_ = imported
    before = _rows(app)
    with app.app_context():
        user = db.session.get(User, consultant.id)
        rows = _saved_rows(user)
        for row in rows:
            for cell in (row.cells or {}).values():
                cell.note = cell.note.replace("\n", "\r\n")
        ts.save_week(user, user, MONDAY, rows)
        db.session.commit()
    assert _rows(app) == before


def test_a_crlf_note_on_a_locked_day_equals_the_stored_lf_note(app, imported):
    consultant, project_id, task_id = imported
    with app.app_context():
        user = db.session.get(User, consultant.id)
        monday = db.session.scalar(sa.select(TimeEntry).where(TimeEntry.entry_date == D[0]))
        monday.note = "Go-live checklist\nreviewed"  # stored LF (as the grid stores it) ...
        db.session.execute(sa.update(TimeEntry).values(updated_at=SAVED_AT))
        db.session.commit()
    before = _rows(app)
    with app.app_context():
        user = db.session.get(User, consultant.id)
        cells = {D[0]: ts.GridCell("2:00", "Go-live checklist\r\nreviewed"),  # ... posted CRLF
                 D[1]: ts.GridCell("1:00", "Call with\r\nthe customer"),
                 D[2]: ts.GridCell("1:30", "first; second")}
        ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, task_id=task_id, cells=cells),
                                          ts.GridRow(time_off_kind="sick",
                                                     cells={D[0]: ts.GridCell("1", "Dentist\r\nat 8")})])
        db.session.commit()
    assert _rows(app) == before


# --- a change touches only what changed ---------------------------------------------------------


def test_a_changed_note_on_an_open_day_changes_only_that_entry(app, client, imported):
    consultant, *_ = imported
    before = _rows(app)
    tuesday = next(i for i, row in before.items() if row[0] == D[1])
    login_as(client, consultant)
    page = _page(client)
    name = _note_name(page, D[1])
    assert page.values[name] == "Call with\nthe customer"
    data = _as_browser_posts({"week": WEEK, **page.form(**{name: "Call with\nthe customer\n\nMinutes sent"})})
    response = post_form(client, "/timesheets", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    after = _rows(app)
    assert set(after) == set(before)  # same ids
    assert after[tuesday][:3] == (D[1], 60, "Call with\nthe customer\n\nMinutes sent")
    assert after[tuesday][3] != SAVED_AT
    assert {i: row for i, row in after.items() if i != tuesday} == \
        {i: row for i, row in before.items() if i != tuesday}


def test_a_change_to_a_cell_of_two_entries_keeps_the_first_and_drops_the_other(app, client, imported):
    consultant, *_ = imported
    before = _rows(app)
    first, second = sorted(i for i, row in before.items() if row[0] == D[2])
    login_as(client, consultant)
    page = _page(client)
    index = _line(page)
    assert page.values[f"rows-{index}-{D[2].isoformat()}"] == "1:30"
    assert page.values[f"rows-{index}-{D[2].isoformat()}-note"] == "first; second"
    response = post_form(client, "/timesheets", _as_browser_posts({"week": WEEK, **page.form(**{
        f"rows-{index}-{D[2].isoformat()}": "2", f"rows-{index}-{D[2].isoformat()}-note": "merged"})}))
    assert response.status_code == 302
    after = _rows(app)
    assert second not in after
    assert after[first][:3] == (D[2], 120, "merged")
    assert {i: row for i, row in after.items() if i != first} == \
        {i: row for i, row in before.items() if i not in (first, second)}


def test_a_changed_note_on_a_locked_day_is_still_refused(app, client, imported):
    consultant, *_ = imported
    before = _rows(app)
    login_as(client, consultant)
    page = _page(client)
    name = _note_name(page, D[0])
    assert page.types[name] == "hidden"  # a locked day's note is carried, not offered
    response = post_form(client, "/timesheets", _as_browser_posts({"week": WEEK, **page.form(**{
        name: "Go-live checklist reviewed"})}))
    assert response.status_code == 400
    assert "on or before the time lock date (2026-10-05)" in response.get_data(as_text=True)
    assert _rows(app) == before


def test_a_week_with_a_change_on_another_day_saves_and_leaves_the_locked_note_alone(app, client, imported):
    consultant, *_ = imported
    before = _rows(app)
    login_as(client, consultant)
    page = _page(client)
    index = _line(page)
    response = post_form(client, "/timesheets", _as_browser_posts({"week": WEEK, **page.form(**{
        f"rows-{index}-{D[3].isoformat()}": "0:45"})}))
    assert response.status_code == 302, response.get_data(as_text=True)
    after = _rows(app)
    added = set(after) - set(before)
    assert len(added) == 1 and after[added.pop()][:3] == (D[3], 45, "")
    assert {i: after[i] for i in before} == before


# --- what the page offers ------------------------------------------------------------------------


def test_the_grid_edits_a_note_in_a_labelled_textarea_that_keeps_its_line_break(app, client, imported):
    consultant, *_ = imported
    login_as(client, consultant)
    html = client.get(f"/timesheets?week={WEEK}").get_data(as_text=True)
    page = GridPage(html)
    name = _note_name(page, D[1])
    assert page.types[name] == "textarea"
    assert page.values[name] == "Call with\nthe customer"
    assert f'<label class="visually-hidden" for="{name}">Note for ' in html
    notes = html.split("<textarea")[1:]
    assert notes and all(f'maxlength="{MAX_NOTE}"' in m.split(">", 1)[0] for m in notes)
    assert ' style="' not in html and "<script>" not in html


@pytest.mark.parametrize(("length", "saved"), [(MAX_NOTE, True), (MAX_NOTE + 1, False)])
def test_a_line_break_counts_once_towards_the_note_limit_however_it_was_posted(app, client, imported, length, saved):
    consultant, *_ = imported
    login_as(client, consultant)
    page = _page(client)
    name = _note_name(page, D[4])
    note = "a" * 10 + "\n" + "b" * (length - 11)
    data = _as_browser_posts({"week": WEEK, **page.form(**{name: note, name[:-5]: "1"})})
    assert len(data[name]) == length + 1  # CRLF on the wire
    response = post_form(client, "/timesheets", data)
    assert (response.status_code == 302) is saved
    with app.app_context():
        stored = db.session.scalar(sa.select(TimeEntry.note).where(TimeEntry.entry_date == D[4]))
    assert stored == (note if saved else None)
    if not saved:
        assert f"Keep the note to {MAX_NOTE} characters (it has {length})." in response.get_data(as_text=True)


def test_the_service_normalises_and_judges_a_note_itself(app, imported):
    """save_week (the path the API will call too) reads a note through the same boundary: CRLF counts once
    towards the limit, and what it stores has LF only."""
    consultant, *_ = imported
    pairs = MAX_NOTE // 2 + 1  # "x\r\n" * pairs: after normalising and trimming, 2 * pairs - 1 characters
    with app.app_context():
        user = db.session.get(User, consultant.id)
        rows = _saved_rows(user)
        rows[0].cells[D[4]] = ts.GridCell("1", "x\r\n" * pairs)
        with pytest.raises(ValidationError) as caught:
            ts.save_week(user, user, MONDAY, rows)
        db.session.rollback()
        assert caught.value.errors == {
            f"r0-{D[4].isoformat()}": f"Keep the note to {MAX_NOTE} characters (it has {2 * pairs - 1})."}
        rows = _saved_rows(user)
        rows[0].cells[D[4]] = ts.GridCell("1", "x\r\n" * (pairs - 1))
        ts.save_week(user, user, MONDAY, rows)
        db.session.commit()
        stored = db.session.scalar(sa.select(TimeEntry.note).where(TimeEntry.entry_date == D[4]))
    assert stored == "x\n" * (pairs - 2) + "x"
