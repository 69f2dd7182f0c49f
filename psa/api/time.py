"""API operations: time entries and timesheets (issue 16).

The same rules and permissions as the pages: every write calls psa.timesheets.services (create_entry, update_entry,
delete_entry — the grid's EntryRules one entry at a time —, submit_timesheet, approve_timesheet, reject_timesheet),
whose conditional updates make a second decision of one week 409. Who sees what is the time export's rule
(psa.timesheets.exports.visible_entries_filter: consultants their own entries, managers also their reports' and their
projects', leaders and admins every entry) and only those who see rates on the pages (shows_rates: admins and
leaders) get bill_rate and cost_rate. Only its owner writes an entry, as only its owner fills in the grid.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from flask import request
from pydantic import AfterValidator, BaseModel, Field
from werkzeug.exceptions import Conflict

from psa.api import bp, spec
from psa.api.core import (
    ApiError,
    ListQuery,
    WriteHeaders,
    api_user,
    idempotent,
    paginate,
    permission,
    responses,
)
from psa.auth.models import User
from psa.core.auth import can
from psa.core.validation import DATE_WINDOW_MESSAGE, MAX_DB_INT, in_window
from psa.extensions import db
from psa.projects.models import Project
from psa.timesheets import services
from psa.timesheets.exports import shows_rates, visible_entries_filter
from psa.timesheets.models import TimeEntry, Timesheet

TAGS_ENTRIES = ["time entries"]
TAGS_SHEETS = ["timesheets"]
STATES = Literal["draft", "submitted", "approved", "rejected"]


def _in_window(day: date) -> date:
    if not in_window(day):
        raise ValueError(DATE_WINDOW_MESSAGE)
    return day


def _printable(text: str) -> str:
    if any((unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") or unicodedata.category(ch) == "Cs"
           for ch in text):
        raise ValueError("Remove control characters.")
    return text


Day = Annotated[date, AfterValidator(_in_window)]
Id = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
Note = Annotated[str, AfterValidator(_printable)]


def _id_or_404(value: int) -> int:
    """Ids past the database's integer answer 404 as a missing row does (never a database error)."""
    if value < 1 or value > MAX_DB_INT:
        raise ApiError(404)
    return value


def _conflict(exc: Conflict) -> ApiError:
    return ApiError(409, exc.description)


# --- time entries ----------------------------------------------------------------------------------------------------


class TimeEntryOut(BaseModel):
    """A time entry. bill_rate and cost_rate (per hour, frozen on the entry) only for those who see rates."""

    id: int
    user_id: int
    project_id: int
    task_id: int | None
    timesheet_id: int
    state: str = Field(description="The state of the entry's week.")
    entry_date: date
    minutes: int
    billable: bool
    note: str
    activity: str
    bill_rate: str | None = Field(None, description="Decimal string; admins and leaders only.")
    cost_rate: str | None = Field(None, description="Decimal string; admins and leaders only.")


class TimeEntryPage(BaseModel):
    items: list[TimeEntryOut]
    next_cursor: str | None


class TimeEntryQuery(ListQuery):
    user_id: Id | None = None
    project_id: Id | None = None
    date_from: Day | None = None
    date_to: Day | None = None
    state: STATES | None = Field(None, description="The state of the entries' week.")


class TimeEntryCreate(BaseModel):
    project_id: Id
    task_id: Id | None = None
    entry_date: Day
    minutes: int = Field(description="Whole minutes, 1 to 1440.")
    billable: bool = True
    note: Note = ""

    model_config = {"extra": "forbid"}


class TimeEntryPatch(BaseModel):
    project_id: Id | None = None
    task_id: Id | None = None
    entry_date: Day | None = None
    minutes: int | None = None
    billable: bool | None = None
    note: Note | None = None

    model_config = {"extra": "forbid"}


def _entry_out(entry: TimeEntry, state: str, rates: bool) -> dict:
    body = TimeEntryOut(id=entry.id, user_id=entry.user_id, project_id=entry.project_id, task_id=entry.task_id,
                        timesheet_id=entry.timesheet_id, state=state, entry_date=entry.entry_date,
                        minutes=entry.minutes, billable=entry.billable, note=entry.note, activity=entry.activity or "",
                        bill_rate=str(entry.bill_rate) if rates else None,
                        cost_rate=str(entry.cost_rate) if rates else None).model_dump(mode="json")
    if not rates:
        del body["bill_rate"], body["cost_rate"]
    return body


def _visible_entries(viewer):
    return (sa.select(TimeEntry, Timesheet.state).join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
            .join(Project, Project.id == TimeEntry.project_id).where(visible_entries_filter(viewer)))


def _entry(entry_id: int) -> tuple[TimeEntry, str]:
    """The entry and its week's state, 404 unless the viewer may see it."""
    row = db.session.execute(_visible_entries(api_user()).where(TimeEntry.id == _id_or_404(entry_id))).first()
    if row is None:
        raise ApiError(404)
    return row[0], row[1]


def _own_entry(entry_id: int) -> TimeEntry:
    entry, _ = _entry(entry_id)
    if entry.user_id != api_user().id:
        raise ApiError(403, "Only the entry's owner changes it.")
    return entry


def _state_of(entry: TimeEntry) -> str:
    return db.session.scalar(sa.select(Timesheet.state).where(Timesheet.id == entry.timesheet_id))


@bp.get("/time-entries")
@permission("timesheets.use")
@spec.validate(query=TimeEntryQuery, resp=responses({200: TimeEntryPage}), tags=TAGS_ENTRIES)
def list_time_entries():
    """List time entries.

    The entries the token's user may see (their own; managers also their reports' and their projects'; leaders and
    admins every entry), by id, filtered by person, project, dates and the week's state."""
    query: TimeEntryQuery = request.context.query
    viewer = api_user()
    stmt = _visible_entries(viewer)
    if query.user_id is not None:
        stmt = stmt.where(TimeEntry.user_id == query.user_id)
    if query.project_id is not None:
        stmt = stmt.where(TimeEntry.project_id == query.project_id)
    if query.date_from is not None:
        stmt = stmt.where(TimeEntry.entry_date >= query.date_from)
    if query.date_to is not None:
        stmt = stmt.where(TimeEntry.entry_date <= query.date_to)
    if query.state is not None:
        stmt = stmt.where(Timesheet.state == query.state)
    rows, cursor = paginate(stmt, TimeEntry.id, query)
    rates = shows_rates(viewer)
    return {"items": [_entry_out(row[0], row[1], rates) for row in rows], "next_cursor": cursor}, 200


@bp.get("/time-entries/<int:entry_id>")
@permission("timesheets.use")
@spec.validate(resp=responses({200: TimeEntryOut}), tags=TAGS_ENTRIES)
def get_time_entry(entry_id: int):
    """One time entry."""
    entry, state = _entry(entry_id)
    return _entry_out(entry, state, shows_rates(api_user())), 200


@bp.post("/time-entries")
@permission("timesheets.use")
@idempotent
@spec.validate(json=TimeEntryCreate, headers=WriteHeaders, resp=responses({201: TimeEntryOut}, 409),
               tags=TAGS_ENTRIES)
def create_time_entry():
    """Log a time entry.

    For the token's user, by the weekly grid's rules: an active or on-hold project they are a member or the manager
    of, the task of that project, not ahead of today, not on or before the time lock date, at most 24 hours a day
    (422 at the field); a submitted or approved week is read-only (409). The rates in force are frozen on it."""
    body: TimeEntryCreate = request.context.json
    user = api_user()
    try:
        entry = services.create_entry(user, user, project_id=body.project_id, task_id=body.task_id,
                                      entry_date=body.entry_date, minutes=body.minutes, billable=body.billable,
                                      note=body.note)
    except Conflict as exc:
        raise _conflict(exc) from None
    db.session.commit()
    return _entry_out(entry, _state_of(entry), shows_rates(user)), 201


@bp.patch("/time-entries/<int:entry_id>")
@permission("timesheets.use")
@idempotent
@spec.validate(json=TimeEntryPatch, headers=WriteHeaders, resp=responses({200: TimeEntryOut}, 409),
               tags=TAGS_ENTRIES)
def update_time_entry(entry_id: int):
    """Change a time entry.

    Only its owner; the fields sent change (task_id null takes the task off), judged as the grid judges a changed
    cell, and the rates are snapshotted again."""
    body: TimeEntryPatch = request.context.json
    entry = _own_entry(entry_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("project_id", "entry_date", "minutes", "billable", "note"):
        if name in changes and changes[name] is None:
            raise ApiError(422, fields={name: "This field cannot be null."})
    try:
        services.update_entry(api_user(), entry, **changes)
    except Conflict as exc:
        raise _conflict(exc) from None
    db.session.commit()
    return _entry_out(entry, _state_of(entry), shows_rates(api_user())), 200


@bp.delete("/time-entries/<int:entry_id>")
@permission("timesheets.use")
@idempotent
@spec.validate(headers=WriteHeaders, resp=responses({204: None}, 409), tags=TAGS_ENTRIES)
def delete_time_entry(entry_id: int):
    """Delete a time entry.

    Only its owner; refused on or before the time lock date (422) and in a submitted or approved week (409)."""
    entry = _own_entry(entry_id)
    try:
        services.delete_entry(api_user(), entry)
    except Conflict as exc:
        raise _conflict(exc) from None
    db.session.commit()
    return "", 204


# --- timesheets --------------------------------------------------------------------------------------------------------


class TimesheetOut(BaseModel):
    id: int
    user_id: int
    user_name: str
    week_start: date
    state: str
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by_id: int | None
    rejection_reason: str | None


class TimesheetProjectTotal(BaseModel):
    label: str = Field(description="Account – project.")
    minutes: int
    billable_minutes: int


class TimesheetTotals(BaseModel):
    minutes: int = Field(description="Minutes of entries in the week.")
    billable_minutes: int
    time_off_minutes: int
    projects: list[TimesheetProjectTotal]


class TimesheetDetail(TimesheetOut):
    totals: TimesheetTotals


class TimesheetPage(BaseModel):
    items: list[TimesheetOut]
    next_cursor: str | None


class TimesheetQuery(ListQuery):
    user_id: Id | None = None
    week_start: Day | None = Field(None, description="A Monday.")
    state: STATES | None = None


class RejectBody(BaseModel):
    reason: Note = Field(description="Why the week goes back to its owner (required, at most 500 characters).")

    model_config = {"extra": "forbid"}


def _visible_sheets(viewer):
    """Weeks the viewer may open (as the pages: their own, those they may approve; leaders and admins every one)."""
    stmt = sa.select(Timesheet, User.name).join(User, User.id == Timesheet.user_id)
    if can("timesheets.reopen", viewer):
        return stmt
    return stmt.where(sa.or_(Timesheet.user_id == viewer.id, services.can_approve_clause(viewer, User)))


def _sheet_out(sheet: Timesheet, name: str) -> dict:
    return TimesheetOut(id=sheet.id, user_id=sheet.user_id, user_name=name, week_start=sheet.week_start,
                        state=sheet.state, submitted_at=sheet.submitted_at, decided_at=sheet.decided_at,
                        decided_by_id=sheet.decided_by_id,
                        rejection_reason=sheet.rejection_reason).model_dump(mode="json")


def _sheet(sheet_id: int) -> tuple[Timesheet, str]:
    row = db.session.execute(_visible_sheets(api_user()).where(Timesheet.id == _id_or_404(sheet_id))).first()
    if row is None:
        raise ApiError(404)
    return row[0], row[1]


def _detail(sheet: Timesheet, name: str) -> dict:
    from psa.timesheets.routes import _week_totals  # the approval page's figures

    totals = _week_totals([sheet.id])[sheet.id]
    return TimesheetDetail(**_sheet_out(sheet, name), totals=TimesheetTotals(
        minutes=totals["minutes"], billable_minutes=totals["billable"], time_off_minutes=totals["off"],
        projects=[TimesheetProjectTotal(label=line["label"], minutes=line["minutes"],
                                        billable_minutes=line["billable"]) for line in totals["projects"]],
    )).model_dump(mode="json")


@bp.get("/timesheets")
@permission("timesheets.use")
@spec.validate(query=TimesheetQuery, resp=responses({200: TimesheetPage}), tags=TAGS_SHEETS)
def list_timesheets():
    """List timesheets.

    The weeks the token's user may open: their own and those they may approve (leaders and admins every week)."""
    query: TimesheetQuery = request.context.query
    stmt = _visible_sheets(api_user())
    if query.user_id is not None:
        stmt = stmt.where(Timesheet.user_id == query.user_id)
    if query.week_start is not None:
        stmt = stmt.where(Timesheet.week_start == query.week_start)
    if query.state is not None:
        stmt = stmt.where(Timesheet.state == query.state)
    rows, cursor = paginate(stmt, Timesheet.id, query)
    return {"items": [_sheet_out(row[0], row[1]) for row in rows], "next_cursor": cursor}, 200


@bp.get("/timesheets/<int:sheet_id>")
@permission("timesheets.use")
@spec.validate(resp=responses({200: TimesheetDetail}), tags=TAGS_SHEETS)
def get_timesheet(sheet_id: int):
    """One timesheet with its totals.

    Minutes in all, billable, time off and per project (the approval page's figures)."""
    sheet, name = _sheet(sheet_id)
    return _detail(sheet, name), 200


def _decide(sheet_id: int, action) -> tuple[dict, int]:
    sheet, name = _sheet(sheet_id)
    owner = db.session.get(User, sheet.user_id)
    if not services.can_approve(api_user(), owner):
        raise ApiError(403, "You are not an approver of this timesheet.")
    try:
        action(sheet)
    except Conflict as exc:
        raise _conflict(exc) from None
    db.session.commit()
    return _detail(sheet, name), 200


@bp.post("/timesheets/<int:sheet_id>/submit")
@permission("timesheets.use")
@idempotent
@spec.validate(headers=WriteHeaders, resp=responses({200: TimesheetDetail}, 409), tags=TAGS_SHEETS)
def submit_timesheet(sheet_id: int):
    """Submit a week for approval.

    Only its owner; a draft or rejected week (409 otherwise). Its approver (or the leaders) are notified."""
    sheet, name = _sheet(sheet_id)
    if sheet.user_id != api_user().id:
        raise ApiError(403, "Only the timesheet's owner submits it.")
    try:
        services.submit_timesheet(api_user(), sheet)
    except Conflict as exc:
        raise _conflict(exc) from None
    db.session.commit()
    return _detail(sheet, name), 200


@bp.post("/timesheets/<int:sheet_id>/approve")
@permission("timesheets.approve")
@idempotent
@spec.validate(headers=WriteHeaders, resp=responses({200: TimesheetDetail}, 409), tags=TAGS_SHEETS)
def approve_timesheet(sheet_id: int):
    """Approve a submitted week.

    By one of its approvers (its owner's manager, leaders, admins); a week not submitted, or decided meanwhile, 409.
    Its entries' rates are frozen from now on."""
    return _decide(sheet_id, lambda sheet: services.approve_timesheet(api_user(), sheet))


@bp.post("/timesheets/<int:sheet_id>/reject")
@permission("timesheets.approve")
@idempotent
@spec.validate(json=RejectBody, headers=WriteHeaders, resp=responses({200: TimesheetDetail}, 409),
               tags=TAGS_SHEETS)
def reject_timesheet(sheet_id: int):
    """Reject a submitted week with a reason.

    By one of its approvers; the reason is required (422) and shown to the owner, who can change and submit the
    week again."""
    body: RejectBody = request.context.json
    return _decide(sheet_id, lambda sheet: services.reject_timesheet(api_user(), sheet, body.reason))
