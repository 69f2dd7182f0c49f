"""The weekly grid through the pages: saving, h:mm and totals, every broken rule shown at its input with
nothing saved, read-only weeks and locked days, submitting, copying last week's rows, and the query budget."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from tests.admin.helpers import field_errors
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY

D = [MONDAY + timedelta(days=i) for i in range(7)]  # Monday .. Sunday of the test week
WEEK = MONDAY.isoformat()


# --- reading and posting the grid ------------------------------------------------------------------


class GridPage(HTMLParser):
    """The grid's controls as the browser would post them: inputs, selects (their selected option),
    checkboxes; plus which controls are marked invalid and which are visible text inputs. A select's
    options are those served in it (a row's task select: "— No task —" and its saved task; timesheet.js
    adds the rest from the page's <template>s)."""

    def __init__(self, html: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.invalid: set[str] = set()
        self.aria_labelled: set[str] = set()  # controls named by aria-label (the hours inputs), not a <label>
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if name and a.get("aria-label"):
            self.aria_labelled.add(name)
        if tag == "input" and name:
            kind = a.get("type", "text")
            self.types[name] = kind
            if kind == "checkbox":
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            else:
                self.values[name] = a.get("value") or ""
            if "is-invalid" in (a.get("class") or ""):
                self.invalid.add(name)
        elif tag == "select" and name:
            self._select = name
            self.types[name] = "select"
            self.values.setdefault(name, "")
            self.options[name] = []
            if "is-invalid" in (a.get("class") or ""):
                self.invalid.add(name)
        elif tag == "textarea" and name:
            self._textarea = name
            self.types[name] = "textarea"
            self.values[name] = ""
            if "is-invalid" in (a.get("class") or ""):
                self.invalid.add(name)
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value", ""))
            if "selected" in a:
                self.values[self._select] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def form(self, **changes) -> dict:
        """What the page would post, with some values changed (None removes a field)."""
        data = {k: v for k, v in self.values.items() if k != "csrf_token"}
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        return data

    def row_of(self, project_id: int, task_id: int | None = None) -> int:
        """The index of the line showing the project (and task)."""
        for name, value in self.values.items():
            match = re.fullmatch(r"rows-(\d+)-project", name)
            if match and value == str(project_id):
                index = match.group(1)
                if self.values.get(f"rows-{index}-task", "") == (str(task_id) if task_id else ""):
                    return int(index)
        raise AssertionError(f"no line for project {project_id} task {task_id}")

    def blank_rows(self) -> list[int]:
        return sorted(int(m.group(1)) for name, value in self.values.items()
                      if (m := re.fullmatch(r"rows-(\d+)-project", name)) and value == "")

    def kind_row(self, kind: str) -> int:
        return next(int(m.group(1)) for name, value in self.values.items()
                    if (m := re.fullmatch(r"rows-(\d+)-kind", name)) and value == kind)

    def editable(self, name: str) -> bool:
        return self.types.get(name) in ("text", "select", "checkbox", "textarea")


def _cells(index: int, monday: date = MONDAY, **by_day) -> dict:
    """rows-<index>-<day> fields of the week of `monday`: mon='1:30', note_mon='...'."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    data = {}
    for i, name in enumerate(names):
        day = (monday + timedelta(days=i)).isoformat()
        if name in by_day:
            data[f"rows-{index}-{day}"] = by_day[name]
        if f"note_{name}" in by_day:
            data[f"rows-{index}-{day}-note"] = by_day[f"note_{name}"]
    return data


def _line(index: int, project_id, task_id=None, billable=True, monday: date = MONDAY, **by_day) -> dict:
    data = {f"rows-{index}-project": str(project_id or ""), f"rows-{index}-task": str(task_id or "")}
    if billable:
        data[f"rows-{index}-billable"] = "y"
    data.update(_cells(index, monday, **by_day))
    return data


def _off(index: int, kind: str, monday: date = MONDAY, **by_day) -> dict:
    return {f"rows-{index}-kind": kind, **_cells(index, monday, **by_day)}


def _save(client, *parts: dict, week: str = WEEK):
    data = {"week": week}
    for part in parts:
        data.update(part)
    return post_form(client, "/timesheets", data)


def _entries(app, user_id: int) -> list[tuple]:
    with app.app_context():
        return [(e.entry_date, e.project_id, e.task_id, e.billable, e.minutes, e.note) for e in db.session.scalars(
            sa.select(TimeEntry).where(TimeEntry.user_id == user_id).order_by(TimeEntry.entry_date, TimeEntry.id))]


def _offs(app, user_id: int) -> list[tuple]:
    with app.app_context():
        return [(o.entry_date, o.kind, o.minutes) for o in db.session.scalars(
            sa.select(TimeOff).where(TimeOff.user_id == user_id).order_by(TimeOff.entry_date))]


def _state(app, user_id: int, monday: date = MONDAY) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(Timesheet.state).where(Timesheet.user_id == user_id,
                                                                  Timesheet.week_start == monday))


def _page(client, week: str = WEEK, **args) -> tuple[str, GridPage]:
    query = "&".join(f"{k}={v}" for k, v in {"week": week, **args}.items())
    response = client.get(f"/timesheets?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, GridPage(html)


def _testid(html: str, testid: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text).strip()
            for text in re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', html, re.S)]


def _other_project(app, make, manager_id: int, members=(), billing_model="time_and_materials", name="Globex rollout"):
    """A second project (with one task) on another account; returns (project id, task id)."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    with app.app_context():
        manager = db.session.get(User, manager_id)
        project = create_project(manager, account=make.account(name=f"{name} Inc"), name=name,
                                 kickoff_date=date(2026, 9, 1), manager=manager,
                                 members=[db.session.get(User, m) for m in members],
                                 billing_model=billing_model,
                                 fee_amount=None if billing_model == "non_billable" else Decimal("1000"))
        milestone = add_milestone_to_project(manager, project, name="Go", due_date=date(2026, 12, 1))
        task = add_task_to_milestone(manager, milestone, name="Migrate", start_date=date(2026, 9, 1))
        db.session.commit()
        return project.id, task.id


# --- saving, h:mm, totals ----------------------------------------------------------------------------


def test_the_grid_saves_every_way_of_typing_and_shows_h_mm_with_totals(app, client, staffed):
    consultant, _, project_id, task_id = staffed
    login_as(client, consultant)
    response = _save(client, _line(0, project_id, task_id, mon="1:30", tue="1.5", wed="90m", thu="1h30m",
                                   note_mon="Workshop"),
                     _line(1, ""),  # a blank line is ignored
                     _line(2, project_id, billable=False, thu="0,5"),
                     _line(3, project_id, task_id),  # so is a line with a project but no hours (not "twice")
                     _off(5, "vacation", fri="8"), _off(6, "sick"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/timesheets?week={WEEK}")
    assert _entries(app, consultant.id) == [
        (D[0], project_id, task_id, True, 90, "Workshop"), (D[1], project_id, task_id, True, 90, ""),
        (D[2], project_id, task_id, True, 90, ""), (D[3], project_id, task_id, True, 90, ""),
        (D[3], project_id, None, False, 30, "")]
    assert _offs(app, consultant.id) == [(D[4], "vacation", 480)]
    assert _state(app, consultant.id) == "draft"

    html, page = _page(client, week=D[3].isoformat())  # any day of the week shows its Monday first
    assert "Week of 2026-10-05 – 2026-10-11" in html and 'data-testid="state">Draft' in html
    task_row = page.row_of(project_id, task_id)
    assert [page.values[f"rows-{task_row}-{d.isoformat()}"] for d in D] == ["1:30"] * 4 + [""] * 3
    assert page.values[f"rows-{task_row}-{WEEK}-note"] == "Workshop"
    assert page.values[f"rows-{task_row}-billable"] == "y"
    plain_row = page.row_of(project_id)
    assert page.values[f"rows-{plain_row}-{D[3].isoformat()}"] == "0:30"
    assert f"rows-{plain_row}-billable" not in page.values  # unticked
    assert page.values[f"rows-{page.kind_row('vacation')}-{D[4].isoformat()}"] == "8:00"
    assert _testid(html, "day-total") == ["1:30", "1:30", "1:30", "2:00", "8:00", "0:00", "0:00"]
    assert _testid(html, "week-total") == ["14:30"]
    assert "Project time <span data-total=\"project\">6:30</span>" in html
    assert "billable <span data-total=\"billable\">6:00</span>" in html
    assert len(page.blank_rows()) == 3  # room to add to
    # every control has a label (the hours inputs an aria-label: a <label> each made a big week heavy)
    for name, kind in page.types.items():
        if kind in ("text", "select", "checkbox"):
            assert f'for="{name}"' in html or name in page.aria_labelled, name
    assert any(name.endswith(D[0].isoformat()) for name in page.aria_labelled)


def test_saving_the_page_as_shown_changes_nothing_and_clearing_a_cell_deletes_its_entry(app, client, staffed):
    consultant, _, project_id, task_id = staffed
    login_as(client, consultant)
    _save(client, _line(0, project_id, task_id, mon="2", tue="3", note_tue="Config"))
    with app.app_context():
        ids_before = db.session.scalars(sa.select(TimeEntry.id).order_by(TimeEntry.id)).all()
    _, page = _page(client)
    assert post_form(client, "/timesheets", page.form()).status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(TimeEntry.id).order_by(TimeEntry.id)).all() == ids_before
    row = page.row_of(project_id, task_id)
    assert post_form(client, "/timesheets", page.form(**{f"rows-{row}-{WEEK}": ""})).status_code == 302
    assert [(e[0], e[4], e[5]) for e in _entries(app, consultant.id)] == [(D[1], 180, "Config")]


def test_the_grid_opens_on_this_week_in_the_users_time_zone_and_survives_a_bad_week(app, client, make, staffed):
    from psa.timesheets.services import user_today, week_start

    consultant, *_ = staffed
    login_as(client, consultant)
    with app.app_context():
        monday = week_start(user_today(db.session.get(User, consultant.id)))
    html = client.get("/timesheets").get_data(as_text=True)
    assert f'name="week" value="{monday.isoformat()}"' in html
    assert "This week</a>" not in html  # already there
    bad = client.get("/timesheets?week=someday")
    assert bad.status_code == 200 and "is not a date" in bad.get_data(as_text=True)
    assert client.get("/timesheets?week=99999-01-01").status_code == 200
    html, _ = _page(client)
    assert 'href="/timesheets?week=2026-09-28"' in html and 'href="/timesheets?week=2026-10-12"' in html


# --- every broken rule: at its input, typed values kept, nothing saved ---------------------------------


def _rule_cases():
    mon, tue = D[0].isoformat(), D[1].isoformat()
    return [
        ("bad duration", lambda p, t, o: [_line(2, p, t, mon="abc")], f"rows-2-{mon}", "not a duration", "abc"),
        ("zero", lambda p, t, o: [_line(2, p, t, mon="0")], f"rows-2-{mon}", "above 0", "0"),
        ("over 24 h in a cell", lambda p, t, o: [_line(2, p, t, mon="25")], f"rows-2-{mon}", "at most 24 hours", "25"),
        ("over 24 h a day across rows",
         lambda p, t, o: [_line(2, p, t, mon="14"), _line(3, p, billable=False, mon="11")],
         f"rows-3-{mon}", "More than 24 hours", "11"),
        ("over 24 h with time off", lambda p, t, o: [_line(2, p, t, mon="20"), _off(7, "sick", mon="5")],
         f"rows-7-{mon}", "More than 24 hours", "5"),
        ("unknown project", lambda p, t, o: [_line(2, 999999, mon="1")], "rows-2-project", "member of", "999999"),
        ("a project the user is not on", lambda p, t, o: [_line(2, o[0], mon="1")], "rows-2-project", "member of",
         None),
        ("task of another project", lambda p, t, o: [_line(2, p, o[1], mon="1")], "rows-2-task", "another project",
         None),
        ("the same row twice", lambda p, t, o: [_line(2, p, t, mon="1"), _line(3, p, t, tue="1")], "rows-3-project",
         "twice", None),
        ("a note without hours", lambda p, t, o: [_line(2, p, t, note_tue="forgot the hours")], f"rows-2-{tue}",
         "Add the hours", ""),
        ("an unknown kind of time off", lambda p, t, o: [_off(7, "holiday", mon="1")], "rows-7-kind",
         "vacation, sick or other", None),
    ]


@pytest.mark.parametrize(("case", "rows", "field", "message", "typed"), _rule_cases(),
                         ids=[c[0] for c in _rule_cases()])
def test_every_broken_rule_is_shown_at_its_input_and_nothing_is_saved(
        app, client, make, staffed, case, rows, field, message, typed):
    consultant, manager, project_id, task_id = staffed
    other = _other_project(app, make, manager.id)
    login_as(client, consultant)
    saved = (_line(0, project_id, task_id, billable=False, sun="3"), _off(9, "other", sat="2"))
    assert _save(client, *saved).status_code == 302  # what is there before
    before, offs_before = _entries(app, consultant.id), _offs(app, consultant.id)

    # index 1 is a blank line the user skipped: messages still land on the line they belong to
    response = _save(client, *saved, _line(1, ""), *rows(project_id, task_id, other))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(message in m for m in field_errors(html, field)), (field, field_errors(html, field))
    page = GridPage(html)
    if page.editable(field):
        assert field in page.invalid
    if typed is not None:
        assert page.values[field] == typed  # what was typed is shown again
    assert "The week was not saved" in html
    assert _entries(app, consultant.id) == before and _offs(app, consultant.id) == offs_before


def test_a_future_day_is_refused_at_its_cell(app, client, staffed):
    from psa.timesheets.services import user_today, week_start

    consultant, _, project_id, _ = staffed
    login_as(client, consultant)
    with app.app_context():
        next_monday = week_start(user_today(db.session.get(User, consultant.id))) + timedelta(days=7)
    response = _save(client, {"rows-0-project": str(project_id), f"rows-0-{next_monday.isoformat()}": "2"},
                     week=next_monday.isoformat())
    assert response.status_code == 400
    assert "ahead of today" in field_errors(response.get_data(as_text=True), f"rows-0-{next_monday.isoformat()}")[0]
    assert _entries(app, consultant.id) == []


def test_a_post_for_a_week_that_is_not_a_date_is_a_400(client, staffed):
    consultant, _, project_id, _ = staffed
    login_as(client, consultant)
    assert _save(client, _line(0, project_id, mon="1"), week="soon").status_code == 400
    assert post_form(client, "/timesheets/submit?week=nope").status_code == 400


# --- read-only weeks and locked days ---------------------------------------------------------------------


def _submit(client, week: str = WEEK):
    return post_form(client, f"/timesheets/submit?week={week}")


@pytest.mark.parametrize("state", ["submitted", "approved"])
def test_a_submitted_or_approved_week_is_read_only(app, client, staffed, state):
    consultant, manager, project_id, task_id = staffed
    login_as(client, consultant)
    _save(client, _line(0, project_id, task_id, mon="2", note_mon="Kickoff"))
    assert _submit(client).status_code == 302
    if state == "approved":
        approver = app.test_client()
        login_as(approver, manager)
        with app.app_context():
            sheet_id = db.session.scalar(sa.select(Timesheet.id))
        assert post_form(approver, f"/timesheets/{sheet_id}/approve").status_code == 302

    html, page = _page(client)
    assert [n for n in page.values if n.startswith("rows-")] == []  # no inputs at all
    assert 'data-testid="locked"' not in html  # "Locked" is the time lock's word; this week is read-only
    label = "Submitted — waiting for approval" if state == "submitted" else "Approved"
    assert f'data-testid="state">{label}' in html
    assert ">2:00<" in html and "Kickoff" in html and "Submit for approval" not in html and ">Save<" not in html
    before = _entries(app, consultant.id)
    response = _save(client, _line(0, project_id, task_id, mon="5"))
    assert response.status_code == 409 and "read-only" in response.get_data(as_text=True)
    assert _entries(app, consultant.id) == before and _state(app, consultant.id) == state


def test_days_on_or_before_the_lock_date_are_read_only_and_cannot_change(app, client, staffed):
    from psa.admin.services import update_settings

    consultant, _, project_id, task_id = staffed
    login_as(client, consultant)
    _save(client, _line(0, project_id, task_id, mon="1", tue="2", note_mon="Locked note"))
    with app.app_context():
        update_settings(None, time_lock_date=D[0])  # Monday locked, Tuesday open
        db.session.commit()

    html, page = _page(client)
    row = page.row_of(project_id, task_id)
    assert page.types[f"rows-{row}-{WEEK}"] == "hidden"  # shown, not editable
    assert page.types[f"rows-{row}-{D[1].isoformat()}"] == "text"
    assert page.types[f"rows-{row}-project"] == "hidden"  # its line holds locked time
    assert all(page.types[f"rows-{i}-{WEEK}"] == "hidden" for i in page.blank_rows())
    assert 'data-testid="lock-note"' in html and "2026-10-05" in html

    before = _entries(app, consultant.id)
    for change in ({f"rows-{row}-{WEEK}": "3"}, {f"rows-{row}-{WEEK}": "", f"rows-{row}-{WEEK}-note": ""},
                   {f"rows-{row}-{WEEK}-note": "edited"}):
        response = post_form(client, "/timesheets", page.form(**change))
        assert response.status_code == 400
        assert "time lock date" in field_errors(response.get_data(as_text=True), f"rows-{row}-{WEEK}")[0]
        assert _entries(app, consultant.id) == before
    # a new entry on the locked day, on a blank line
    blank = page.blank_rows()[0]
    response = post_form(client, "/timesheets", page.form(**{f"rows-{blank}-project": str(project_id),
                                                            f"rows-{blank}-{WEEK}": "1"}))
    assert response.status_code == 400 and "time lock date" in response.get_data(as_text=True)
    # the page as shown, with Tuesday changed, saves; Monday stays
    assert post_form(client, "/timesheets", page.form(**{f"rows-{row}-{D[1].isoformat()}": "4"})).status_code == 302
    assert [(e[0], e[4], e[5]) for e in _entries(app, consultant.id)] == [(D[0], 60, "Locked note"), (D[1], 240, "")]


# --- submitting, copying, other people's weeks ------------------------------------------------------------


def test_submit_moves_the_week_on_and_a_second_submit_is_a_409(app, client, staffed):
    consultant, _, project_id, _ = staffed
    login_as(client, consultant)
    _save(client, _line(0, project_id, mon="1"))
    response = _submit(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"?week={WEEK}")
    assert _state(app, consultant.id) == "submitted"
    again = _submit(client)
    assert again.status_code == 409 and "Conflict" in again.get_data(as_text=True)
    assert _state(app, consultant.id) == "submitted"


def test_an_empty_week_can_be_submitted(app, client, staffed):
    consultant, *_ = staffed
    login_as(client, consultant)
    assert _submit(client, week=D[2].isoformat()).status_code == 302  # any day of the week
    assert _state(app, consultant.id) == "submitted"


def test_copy_last_weeks_rows_prefills_rows_without_hours(app, client, staffed):
    consultant, _, project_id, task_id = staffed
    login_as(client, consultant)
    previous = MONDAY - timedelta(days=7)
    assert _save(client, _line(0, project_id, task_id, monday=previous, mon="2"),
                 _line(1, project_id, billable=False, monday=previous, tue="1"),
                 week=previous.isoformat()).status_code == 302
    _save(client, _line(0, project_id, task_id, wed="3"))  # this week already has one of them

    html, page = _page(client, copy="last")
    assert "Rows copied from the week before" in html
    task_row, plain_row = page.row_of(project_id, task_id), page.row_of(project_id)
    assert page.values[f"rows-{task_row}-{D[2].isoformat()}"] == "3:00"  # not doubled
    assert [page.values[f"rows-{plain_row}-{d.isoformat()}"] for d in D] == [""] * 7  # no hours copied
    assert f"rows-{plain_row}-billable" not in page.values
    # saving the page as shown adds nothing
    before = _entries(app, consultant.id)
    assert post_form(client, "/timesheets", page.form()).status_code == 302
    assert _entries(app, consultant.id) == before
    empty = client.get(f"/timesheets?week={previous.isoformat()}&copy=last").get_data(as_text=True)
    assert "The week before has no rows to copy" in empty


def test_an_approver_sees_the_week_read_only_and_others_get_403(app, client, make, staffed):
    consultant, manager, project_id, task_id = staffed
    login_as(client, consultant)
    _save(client, _line(0, project_id, task_id, mon="2", note_mon="Design"))
    _submit(client)
    with app.app_context():
        sheet_id = db.session.scalar(sa.select(Timesheet.id))
    assert client.get(f"/timesheets/{sheet_id}").headers["Location"].endswith(f"/timesheets?week={WEEK}")

    approver = app.test_client()
    login_as(approver, manager)
    html = approver.get(f"/timesheets/{sheet_id}").get_data(as_text=True)
    assert "Cleo Consultant’s timesheet" in html and "Design" in html and "Approve</button>" in html
    assert [n for n in GridPage(html).values if n.startswith("rows-")] == []

    for role in ("consultant", "manager"):
        stranger = app.test_client()
        login_as(stranger, make.user(role=role))
        assert stranger.get(f"/timesheets/{sheet_id}").status_code == 403
    assert approver.get("/timesheets/999999").status_code == 404


def test_time_on_a_project_that_closed_stays_and_the_rest_of_the_week_still_saves(app, client, make, staffed):
    """A project completed mid-week: its saved time is shown and kept, other rows still save, and
    changing the time on the closed project is refused at its project."""
    from psa.projects.models import Project

    consultant, manager, project_id, task_id = staffed
    other_id, _ = _other_project(app, make, manager.id, members=(consultant.id,))
    login_as(client, consultant)
    _save(client, _line(0, project_id, task_id, mon="2"))
    with app.app_context():
        db.session.get(Project, project_id).status = "completed"
        db.session.commit()

    html, page = _page(client)
    row = page.row_of(project_id, task_id)
    assert "(not open to you)" in html
    blank = page.blank_rows()[0]
    response = post_form(client, "/timesheets", page.form(**{f"rows-{blank}-project": str(other_id),
                                                            f"rows-{blank}-{D[1].isoformat()}": "1"}))
    assert response.status_code == 302
    assert [(e[0], e[1], e[4]) for e in _entries(app, consultant.id)] == [(D[0], project_id, 120), (D[1], other_id, 60)]

    _, page = _page(client)
    response = post_form(client, "/timesheets", page.form(**{f"rows-{row}-{D[2].isoformat()}": "1"}))
    assert response.status_code == 400
    assert "closed" in field_errors(response.get_data(as_text=True), f"rows-{row}-project")[0]
    assert len(_entries(app, consultant.id)) == 2


def test_a_line_on_a_non_billable_project_offers_the_box_unticked_by_default(app, client, make, staffed):
    consultant, manager, *_ = staffed
    internal_id, _ = _other_project(app, make, manager.id, members=(consultant.id,), billing_model="non_billable",
                                    name="Internal")
    login_as(client, consultant)
    html, _ = _page(client)
    assert f'<option value="{internal_id}" data-billable="0">' in html


def test_a_user_on_no_project_is_told_so_and_can_still_log_time_off(app, client, make):
    loner = make.user(role="consultant")
    login_as(client, loner)
    html, page = _page(client)
    assert 'data-testid="no-projects"' in html
    response = _save(client, _off(page.kind_row("sick"), "sick", tue="8"))
    assert response.status_code == 302 and _offs(app, loner.id) == [(D[1], "sick", 480)]


# --- the query budget ----------------------------------------------------------------------------------


def _busy_week(app, make, staffed_manager_id: int, user, rows: int, projects: int):
    """`rows` grid lines for the user: `projects` projects with tasks, lines per (task, billable)."""
    from psa.projects.models import Milestone, Project
    from psa.projects.services import add_task_to_milestone
    from psa.timesheets import services as ts

    tasks_per_project = -(-rows // (2 * projects))  # rounded up
    project_ids = [_other_project(app, make, staffed_manager_id, members=(user.id,), name=f"Project {user.id}-{p}")[0]
                   for p in range(projects)]
    with app.app_context():
        u = db.session.get(User, user.id)
        lines = []
        for project_id in project_ids:
            project = db.session.get(Project, project_id)
            milestone = db.session.scalar(sa.select(Milestone).where(Milestone.project_id == project.id))
            for t in range(tasks_per_project):
                task = add_task_to_milestone(u, milestone, name=f"Task {t}", start_date=date(2026, 9, 1))
                for billable in (True, False):
                    lines.append((project_id, task.id, billable))
        grid = [ts.GridRow(project_id=p, task_id=t, billable=b,
                           cells={D[i % 5]: ts.GridCell("0:15", f"n{i}"), D[(i + 1) % 5]: ts.GridCell("0:10")})
                for i, (p, t, b) in enumerate(lines[:rows])]
        grid.append(ts.GridRow(time_off_kind="vacation", cells={D[5]: ts.GridCell("4")}))
        ts.save_week(u, u, MONDAY, grid)
        db.session.commit()
    return rows


def test_the_grid_runs_as_many_statements_for_50_rows_as_for_5(app, make, staffed, count_queries):
    consultant, manager, *_ = staffed
    light, heavy = make.user(role="consultant"), make.user(role="consultant")
    _busy_week(app, make, manager.id, light, rows=5, projects=1)
    _busy_week(app, make, manager.id, heavy, rows=50, projects=5)

    counts, pages = [], []
    for user in (light, heavy):
        client = app.test_client()
        login_as(client, user)
        assert client.get(f"/timesheets?week={WEEK}").status_code == 200  # warm-up
        with count_queries() as statements:
            response = client.get(f"/timesheets?week={WEEK}")
        assert response.status_code == 200
        counts.append(statements)
        pages.append(response.get_data(as_text=True))
    assert pages[0].count('data-testid="grid-row"') == 5 and pages[1].count('data-testid="grid-row"') == 50
    assert len(counts[0]) == len(counts[1]), "\n".join(["5 rows:", *counts[0], "", "50 rows:", *counts[1]])
    assert len(counts[1]) <= 9, "\n".join(counts[1])
