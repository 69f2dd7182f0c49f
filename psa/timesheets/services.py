"""The rules of time: rates (resolved in one place), the weekly grid, the timesheet workflow, the lock,
and CSV import and export."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import Conflict

from psa.admin.services import get_settings
from psa.auth.models import User
from psa.auth.services import APPROVER_ROLES, can_be_approver
from psa.core.audit import record_audit, snapshot
from psa.core.clock import user_today  # noqa: F401 - the grid's routes read services.user_today
from psa.core.db import among, utcnow
from psa.core.db import lock as lock_rows
from psa.core.errors import ValidationError
from psa.core.events import publish as publish_event
from psa.core.money import MAX_RATE, to_money
from psa.core.text import normalize_newlines
from psa.extensions import db
from psa.timesheets.models import ProjectRate, TimeEntry, Timesheet, UserRate

ZERO = Decimal("0.00")

# --- rates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """Per-hour rates in force for one entry."""

    bill: Decimal
    cost: Decimal


class RateBook:
    """Every rate needed for a set of users and projects, loaded in two queries; resolve() is the one rule."""

    def __init__(self, user_ids: Iterable[int], project_ids: Iterable[int]):
        user_ids, project_ids = sorted(set(user_ids)), sorted(set(project_ids))
        # plain rows (no ORM objects: the forecast and the imports load thousands of lines), ids as one array on
        # PostgreSQL; user → (the days its rates start, (cost, bill) from each)
        dialect = db.session.get_bind().dialect.name
        self._history: dict[int, tuple[list[date], list[tuple[Decimal, Decimal]]]] = {}
        if user_ids:
            for user_id, day, cost, bill in db.session.execute(
                    sa.select(UserRate.user_id, UserRate.effective_from, UserRate.cost_rate, UserRate.bill_rate)
                    .where(among(UserRate.user_id, user_ids, dialect))
                    .order_by(UserRate.user_id, UserRate.effective_from)):
                days, rates = self._history.setdefault(user_id, ([], []))
                days.append(day)
                rates.append((cost, bill))
        self._card: dict[tuple[int, str], Decimal] = {}
        if project_ids:
            for project_id, user_id, role, bill in db.session.execute(
                    sa.select(ProjectRate.project_id, ProjectRate.user_id, ProjectRate.role, ProjectRate.bill_rate)
                    .where(among(ProjectRate.project_id, project_ids, dialect))):
                key = f"user:{user_id}" if user_id else f"role:{role}"
                self._card[(project_id, key)] = bill

    def resolve(self, user_id: int, role: str, project_id: int, day: date) -> Rates:
        """The rates for (user, project, date): the user's cost rate in force that day; the bill rate from the
        project's rate card for the user, else for the user's role, else the user's default bill rate in
        force that day. No rate on record yet means 0."""
        days, rates = self._history.get(user_id, ((), ()))
        index = bisect.bisect_right(days, day) - 1
        cost, base_bill = rates[index] if index >= 0 else (ZERO, ZERO)
        bill = self._card.get((project_id, f"user:{user_id}"))
        if bill is None:
            bill = self._card.get((project_id, f"role:{role}"))
        if bill is None:
            bill = base_bill
        return Rates(bill=bill, cost=cost)


def bill_rate_sql(rows, user_id, role, project_id, day: date) -> tuple[sa.FromClause, sa.ColumnElement]:
    """RateBook.resolve's bill rate as SQL, for a query over `rows` (a subquery or table whose columns include the
    user, role and project given): the project's rate card line for the user, else for the role, else the user's
    bill rate in force on `day`, else 0. Returns `rows` outer-joined to the two rate card lines (to select from)
    and the rate's expression. A hypothesis test holds it to RateBook.resolve (tests/timesheets/test_rate_sql.py)."""
    user_line = sa.orm.aliased(ProjectRate, name="user_line")
    role_line = sa.orm.aliased(ProjectRate, name="role_line")
    joined = (sa.outerjoin(rows, user_line, sa.and_(user_line.project_id == project_id, user_line.user_id == user_id))
              .outerjoin(role_line, sa.and_(role_line.project_id == project_id, role_line.user_id.is_(None),
                                            role_line.role == role)))
    in_force = (sa.select(UserRate.bill_rate)
                .where(UserRate.user_id == user_id, UserRate.effective_from <= day)
                .order_by(UserRate.effective_from.desc()).limit(1)
                .scalar_subquery())
    rate_type = ProjectRate.bill_rate.type
    return joined, sa.func.coalesce(user_line.bill_rate, role_line.bill_rate, in_force,
                                    sa.literal(ZERO, type_=rate_type), type_=rate_type)


def resolve_rates(user: User, project_id: int, day: date) -> Rates:
    """The rates in force for one user on one project on one day (see RateBook.resolve)."""
    return RateBook([user.id], [project_id]).resolve(user.id, user.role, project_id, day)


def _money(value, field: str) -> Decimal:
    """A rate as stored: at most two decimals (never rounded), no exponent, from 0 to the column's largest."""
    return to_money(value, field, high=MAX_RATE)


def set_user_rate(actor, user: User, *, effective_from: date, cost_rate, bill_rate) -> UserRate:
    """Add (or correct) the user's rates from a date; earlier rates stay in the history."""
    cost, bill = _money(cost_rate, "cost_rate"), _money(bill_rate, "bill_rate")
    if not isinstance(effective_from, date):
        raise ValidationError({"effective_from": "Enter a date as YYYY-MM-DD."})
    rate = db.session.scalar(sa.select(UserRate).where(UserRate.user_id == user.id,
                                                       UserRate.effective_from == effective_from))
    before = snapshot(rate, ("cost_rate", "bill_rate")) if rate else None
    if rate is None:
        rate = UserRate(user_id=user.id, effective_from=effective_from)
        db.session.add(rate)
    rate.cost_rate, rate.bill_rate = cost, bill
    db.session.flush()
    record_audit(actor, "rate.user_set", user, before,
                 {"effective_from": effective_from.isoformat(), "cost_rate": str(cost), "bill_rate": str(bill)})
    return rate


def set_project_rate(actor, project, *, bill_rate, role: str | None = None, user: User | None = None) -> ProjectRate:
    """Set the project's bill rate for one user or for a role (replacing the line there was)."""
    from psa.auth.models import ROLES

    if (role is None) == (user is None):
        raise ValidationError({"role": "Choose either a role or a user."})
    if role is not None and role not in ROLES:
        raise ValidationError({"role": "Choose a role from the list."})
    bill = _money(bill_rate, "bill_rate")
    column, value = (ProjectRate.user_id, user.id) if user else (ProjectRate.role, role)
    line = db.session.scalar(sa.select(ProjectRate).where(ProjectRate.project_id == project.id, column == value))
    before = snapshot(line, ("bill_rate",)) if line else None
    if line is None:
        line = ProjectRate(project_id=project.id, role=role, user_id=user.id if user else None)
        db.session.add(line)
    line.bill_rate = bill
    db.session.flush()
    record_audit(actor, "rate.project_set", project, before,
                 {"role": role, "user_id": user.id if user else None, "bill_rate": str(bill)})
    return line


def remove_project_rate(actor, line: ProjectRate) -> None:
    """Drop a rate card line: that role or person bills at their default rate again (for new snapshots)."""
    record_audit(actor, "rate.project_removed", line, before={
        "project_id": line.project_id, "role": line.role, "user_id": line.user_id, "bill_rate": str(line.bill_rate)})
    db.session.delete(line)
    db.session.flush()


# --- weeks, the lock -----------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of the ISO week holding the day."""
    return day - timedelta(days=day.weekday())


def week_days(monday: date) -> list[date]:
    return [monday + timedelta(days=i) for i in range(7)]


def lock_date() -> date | None:
    return get_settings().time_lock_date


def get_timesheet(user: User, monday: date, create: bool = False, lock: bool = False) -> Timesheet | None:
    """The user's week. With `lock`, its row is locked for the rest of the transaction and loaded fresh, so
    concurrent saves and transitions of one week apply one after the other (the week is the unit of
    serialization); with `create`, a week without a row gets one (locked): the unique constraint on
    (user, week) decides which of two sessions creating it at once inserts, and the other uses that row."""
    which = sa.select(Timesheet).where(Timesheet.user_id == user.id, Timesheet.week_start == monday)
    if not (create or lock):
        return db.session.scalar(which)
    sheet = lock_rows(which)
    if sheet is None and create:
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(Timesheet).values(user_id=user.id, week_start=monday, state="draft"))
        except IntegrityError:
            pass  # another session created the week meanwhile; its row is the week
        sheet = lock_rows(which)
    return sheet


# --- the workflow --------------------------------------------------------------------------------

#: (from state, action) → to state. Anything else answers 409.
TRANSITIONS = {
    ("draft", "submit"): "submitted",
    ("rejected", "submit"): "submitted",
    ("submitted", "approve"): "approved",
    ("submitted", "reject"): "rejected",
    ("approved", "reopen"): "draft",
}


#: What the loser of two changes to one week at once is told (409).
CHANGED_MEANWHILE = ("This week changed meanwhile (someone else saved or decided it); reload the page to see it "
                     "as it is now. Nothing was changed.")


def _transition(sheet: Timesheet, action: str, **values) -> None:
    """Move the week along TRANSITIONS with one conditional UPDATE … WHERE state = <the state it was read
    in>, setting `values` with it. Of two sessions moving one week at once exactly one matches the row; the
    other gets Conflict and changes nothing (call this before recording any audit event or notification)."""
    source = sheet.state
    target = TRANSITIONS.get((source, action))
    if target is None:
        raise Conflict(f"A {source} timesheet cannot be {action}ed"
                       f"{'' if action != 'submit' else ' again'}; nothing was changed.")
    changed = db.session.execute(
        sa.update(Timesheet).where(Timesheet.id == sheet.id, Timesheet.state == source)
        .values(state=target, **values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(CHANGED_MEANWHILE)
    for name, value in {"state": target, **values}.items():
        set_committed_value(sheet, name, value)


def can_approve(actor: User, sheet_user: User) -> bool:
    """Leaders and admins approve anyone's week; a manager approves the weeks of users they are approver of."""
    if actor.id == sheet_user.id and actor.role not in ("admin",):
        return False
    return actor.role in ("admin", "leader") or (actor.role == "manager" and sheet_user.approver_id == actor.id)


def can_approve_clause(actor: User, owner) -> sa.ColumnElement[bool]:
    """can_approve as SQL, for a query joining the week's owner (`owner`: User or an alias of it); a test
    holds the two to the same answer for every pair of roles."""
    if actor.role == "admin":
        return sa.true()
    if actor.role == "leader":
        return owner.id != actor.id
    if actor.role == "manager":
        return sa.and_(owner.approver_id == actor.id, owner.id != actor.id)
    return sa.false()


def submit_timesheet(actor: User, sheet: Timesheet) -> Timesheet:
    if actor.id != sheet.user_id:
        raise Conflict("Only the timesheet's owner submits it.")
    _transition(sheet, "submit", submitted_at=utcnow(), rejection_reason=None)
    record_audit(actor, "timesheet.submitted", sheet, after={"state": sheet.state})
    db.session.flush()
    from psa.core.notifications import notify

    for approver in approvers_of(actor):
        notify(approver, f"{actor.name} submitted the week of {sheet.week_start.isoformat()} for approval.",
               f"/timesheets/{sheet.id}")
    return sheet


def approver_in_effect(user: User) -> User | None:
    """The person who approves the user's weeks: their approver while that one is an active manager, leader
    or admin; None when the PS leaders approve (no approver set, or the approver was deactivated or demoted)."""
    approver = db.session.get(User, user.approver_id) if user.approver_id else None
    return approver if can_be_approver(approver, user) else None


def approver_in_effect_clause(owner, approver) -> sa.ColumnElement[bool]:
    """approver_in_effect as SQL, for a query joining the week's owner and (outer) their approver."""
    return sa.and_(approver.id.is_not(None), approver.is_active_user.is_(True),
                   approver.role.in_(APPROVER_ROLES), approver.id != owner.id)


def approvers_of(user: User) -> list[User]:
    """Who is told of a submitted week: the approver in effect, else every active leader."""
    approver = approver_in_effect(user)
    if approver is not None:
        return [approver]
    return list(db.session.scalars(sa.select(User).where(User.role == "leader", User.is_active_user.is_(True),
                                                         User.id != user.id)))


def approve_timesheet(actor: User, sheet: Timesheet) -> Timesheet:
    """Approve a submitted week; its entries' rate snapshots are frozen from now on."""
    owner = db.session.get(User, sheet.user_id)
    if not can_approve(actor, owner):
        raise Conflict("You are not an approver of this timesheet.")
    _transition(sheet, "approve", decided_at=utcnow(), decided_by_id=actor.id)
    record_audit(actor, "timesheet.approved", sheet, {"state": "submitted"}, {"state": "approved"})
    publish_event("timesheet.approved", {"timesheet_id": sheet.id, "user_id": owner.id, "user_name": owner.name,
                                         "week_start": sheet.week_start.isoformat(), "state": "approved",
                                         "approved_by_id": actor.id, "approved_by_name": actor.name})
    _notify(owner, f"Your timesheet for the week of {sheet.week_start.isoformat()} was approved.", sheet)
    db.session.flush()
    return sheet


def reject_timesheet(actor: User, sheet: Timesheet, reason: str) -> Timesheet:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the week is rejected, so it can be fixed."})
    if len(reason) > 500:
        raise ValidationError({"reason": "Use at most 500 characters."})
    owner = db.session.get(User, sheet.user_id)
    if not can_approve(actor, owner):
        raise Conflict("You are not an approver of this timesheet.")
    _transition(sheet, "reject", decided_at=utcnow(), decided_by_id=actor.id, rejection_reason=reason)
    record_audit(actor, "timesheet.rejected", sheet, {"state": "submitted"}, {"state": "rejected", "reason": reason})
    _notify(owner, f"Your timesheet for the week of {sheet.week_start.isoformat()} was rejected: {reason}", sheet)
    db.session.flush()
    return sheet


def reopen_timesheet(actor: User, sheet: Timesheet, reason: str = "") -> Timesheet:
    """A leader or admin reopens an approved week (audited); the entries become editable again."""
    if actor.role not in ("admin", "leader"):
        raise Conflict("Only a leader or an admin can reopen an approved week.")
    _transition(sheet, "reopen")
    record_audit(actor, "timesheet.reopened", sheet, {"state": "approved"},
                 {"state": "draft", "reason": (reason or "").strip()[:500]})
    _notify(db.session.get(User, sheet.user_id),
            f"Your approved timesheet for the week of {sheet.week_start.isoformat()} was reopened.", sheet)
    db.session.flush()
    return sheet


def _notify(user: User, message: str, sheet: Timesheet) -> None:
    from psa.core.notifications import notify

    notify(user, message, f"/timesheets?week={sheet.week_start.isoformat()}")


# --- rate recalculation --------------------------------------------------------------------------


def recalculate_rates(actor, *, since: date | None = None) -> int:
    """Re-snapshot the rates of entries whose week is not approved or submitted and whose date is after
    the time lock date; approved (frozen) and locked entries are never touched. Returns entries changed."""
    editable = sa.select(Timesheet.id).where(Timesheet.state.in_(("draft", "rejected")))
    stmt = sa.select(TimeEntry).where(TimeEntry.timesheet_id.in_(editable))
    locked = lock_date()
    if locked is not None:
        stmt = stmt.where(TimeEntry.entry_date > locked)
    if since is not None:
        stmt = stmt.where(TimeEntry.entry_date >= since)
    entries = db.session.scalars(stmt).all()
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_({e.user_id for e in entries})))}
    book = RateBook(users, {e.project_id for e in entries})
    changed = 0
    for entry in entries:
        rates = book.resolve(entry.user_id, users[entry.user_id].role, entry.project_id, entry.entry_date)
        if (entry.bill_rate, entry.cost_rate) != (rates.bill, rates.cost):
            entry.bill_rate, entry.cost_rate = rates.bill, rates.cost
            changed += 1
    db.session.flush()
    record_audit(actor, "rate.recalculated", None, after={"entries": changed})
    return changed


# --- the weekly grid -----------------------------------------------------------------------------


@dataclass
class GridCell:
    """What the user typed in one day of one row."""

    text: str = ""
    note: str = ""


@dataclass
class GridRow:
    """One row of the grid: a project (and optional task) with a billable flag, or a kind of time off."""

    project_id: int | None = None
    task_id: int | None = None
    billable: bool = True
    time_off_kind: str | None = None
    cells: dict[date, GridCell] | None = None


def member_project_ids(user: User) -> set[int]:
    """Projects the user may log time on: those they belong to (or manage) that are active or on hold."""
    from psa.projects.models import Project, project_members
    from psa.timesheets.rules import OPEN_FOR_TIME

    return set(db.session.scalars(
        sa.select(Project.id).where(
            Project.status.in_(OPEN_FOR_TIME),
            sa.or_(Project.manager_id == user.id,
                   Project.id.in_(sa.select(project_members.c.project_id).where(project_members.c.user_id == user.id))))
    ))


#: How the notes of several entries in one grid cell are joined to be shown there (and read back).
NOTE_SEPARATOR = "; "


def clean_note(note: str | None) -> str:
    """A note as it is kept and compared: LF line breaks only (normalize_newlines), no blanks around it."""
    return normalize_newlines(note).strip()


def saved_cell(entries: Iterable) -> tuple[int, str]:
    """What one grid cell shows for the entries (or time off) of its day: minutes added up, clean notes
    joined. A cell posted back unchanged equals this however the browser re-encoded its line breaks, so
    save_week leaves its rows alone."""
    entries = list(entries)
    return (sum(e.minutes for e in entries),
            NOTE_SEPARATOR.join(note for e in entries if (note := clean_note(e.note))))


def cell_key(row_index: int, day: date) -> str:
    """The name of a grid cell, used for its input and for its error message."""
    return f"r{row_index}-{day.isoformat()}"


def save_week(actor: User, user: User, monday: date, rows: list[GridRow]) -> Timesheet:
    """Save the whole week as the grid shows it, in one transaction: cells typed become entries, cells
    emptied delete theirs. Every broken rule is reported at its cell and nothing is saved.

    Only what the person changed is written: a cell posted back as saved_cell shows it (notes compared
    after clean_note, so a browser's CRLF or a dropped trailing blank is no change) keeps its rows as they
    are, same ids and updated_at; a changed cell updates its first entry in place (fresh rate snapshot) and
    deletes the others it held; a new cell adds an entry.

    The lines keep the order they are posted in (rows' order): each entry's row_position is its line's index,
    so the grid shows them so again; an unchanged entry whose line moved up (one above it was emptied, or it
    was saved before lines had an order) gets its new place without counting as changed (updated_at kept)."""
    from psa.timesheets.durations import DurationError, parse_duration
    from psa.timesheets.models import TIME_OFF_KINDS, TimeOff
    from psa.timesheets.rules import EntryRules, Refusal, minutes_refusal, note_refusal

    if monday.weekday() != 0:
        raise ValidationError({"week": "A week starts on a Monday."})
    if actor.id != user.id:
        raise Conflict("Only the owner fills in a timesheet.")
    # the week's row, locked until commit: a concurrent save of the same week waits here, then reads
    # (and replaces) what this one wrote, so the week ends as the last save asked, never as a sum
    sheet = get_timesheet(user, monday, create=True, lock=True)
    days = week_days(monday)
    # every rule is EntryRules': the week is replaced whole, so none of its saved time counts towards a day
    rules = EntryRules([user], {r.project_id for r in rows if r.time_off_kind is None and r.project_id is not None},
                       task_ids={r.task_id for r in rows if r.task_id}, days=days, replacing=[(user.id, monday)])
    refusal = rules.week_refusal(user.id, monday)
    if refusal:
        raise Conflict(refusal.followed_by("Nothing was changed."))
    errors: dict[str, str] = {}
    wanted: dict[tuple, tuple[int, str]] = {}  # (project, task, billable, day) -> (minutes, note)
    wanted_off: dict[tuple, tuple[int, str]] = {}  # (kind, day) -> (minutes, note)
    seen_rows: set[tuple] = set()
    positions: dict[tuple, int] = {}  # (project, task, billable) -> the line's place in the grid
    closed_rows: dict[int, tuple] = {}  # rows on a project no longer open to the user, judged below
    for index, row in enumerate(rows):
        row_key = f"r{index}"
        if row.time_off_kind is not None:
            if row.time_off_kind not in TIME_OFF_KINDS:
                errors[f"{row_key}-kind"] = "Choose vacation, sick or other."
                continue
            identity = ("off", row.time_off_kind)
        else:
            if row.project_id is None:
                errors[f"{row_key}-project"] = "Choose an active project you are a member of."
                continue
            refusal = rules.task_refusal(row.project_id, row.task_id)
            if refusal:
                errors[f"{row_key}-task"] = refusal
                continue
            identity = (row.project_id, row.task_id, rules.billable_for(row.project_id, row.billable))
            refusal = rules.project_refusal(user.id, row.project_id)
            if refusal:
                closed_rows[index] = (identity, refusal)
        if identity in seen_rows:
            errors[f"{row_key}-project"] = "This row is in the grid twice; put the hours in one row."
            continue
        seen_rows.add(identity)
        if row.time_off_kind is None:
            positions[identity] = index
        for day in days:
            cell = (row.cells or {}).get(day) or GridCell()
            key = cell_key(index, day)
            try:
                minutes = parse_duration(cell.text)
            except DurationError as exc:
                errors[key] = str(exc)
                continue
            note = clean_note(cell.note)
            refusal = note_refusal(note)
            if refusal:
                errors[key] = refusal
                continue
            if minutes is None:
                continue
            refusal = minutes_refusal(minutes) or rules.future_refusal(user.id, day)
            if refusal:
                errors[key] = refusal
                continue
            rules.add_minutes(user.id, day, minutes)
            if row.time_off_kind is not None:
                wanted_off[(row.time_off_kind, day)] = (minutes, note)
            else:
                wanted[(*identity, day)] = (minutes, note)
    for day in days:
        refusal = rules.day_total_refusal(user.id, day)
        if refusal:
            for index in range(len(rows)):
                key = cell_key(index, day)
                if (rows[index].cells or {}).get(day) and (rows[index].cells[day].text or "").strip():
                    errors.setdefault(key, refusal)

    existing = db.session.scalars(sa.select(TimeEntry).where(
        TimeEntry.user_id == user.id, TimeEntry.entry_date >= days[0], TimeEntry.entry_date <= days[-1])
        .order_by(TimeEntry.id).execution_options(populate_existing=True)).all()
    existing_off = db.session.scalars(sa.select(TimeOff).where(
        TimeOff.user_id == user.id, TimeOff.entry_date >= days[0], TimeOff.entry_date <= days[-1])
        .execution_options(populate_existing=True)).all()
    grouped: dict[tuple, list[TimeEntry]] = {}
    for entry in existing:
        # grouped as the grid's lines are judged: an entry flagged billable on a non-billable project (saved
        # before the rule held everywhere) is the same line as the unticked one, so it may stay as it is
        grouped.setdefault((entry.project_id, entry.task_id, rules.billable_for(entry.project_id, entry.billable),
                            entry.entry_date), []).append(entry)
    off_by_key = {(o.kind, o.entry_date): o for o in existing_off}

    # a project closed to the user (completed, cancelled, or left) keeps the time saved on it this week,
    # unchanged; nothing may be added to it or changed on it
    for index, (identity, refusal) in closed_rows.items():
        saved = {key[3]: saved_cell(entries) for key, entries in grouped.items() if key[:3] == identity}
        typed = {key[3]: value for key, value in wanted.items() if key[:3] == identity}
        if not saved:
            errors[f"r{index}-project"] = refusal
        elif typed != saved:
            errors[f"r{index}-project"] = Refusal("This project is closed to you: its saved time stays as it is; "
                                                  "log new time on an open project.", refusal.rule)

    # the lock: nothing on or before the lock date is created, changed or deleted
    for key, entries in grouped.items():
        day = key[3]
        if rules.is_locked(day):
            if wanted.get(key) != saved_cell(entries):
                errors.setdefault(_cell_for(rows, key, days, rules), rules.lock_refusal(day))
    for key in wanted:
        if rules.is_locked(key[3]) and key not in grouped:
            errors.setdefault(_cell_for(rows, key, days, rules), rules.lock_refusal(key[3]))
    for key, off in off_by_key.items():
        if rules.is_locked(key[1]) and wanted_off.get(key) != saved_cell([off]):
            errors.setdefault(_cell_for(rows, key, days, rules, off=True), rules.lock_refusal(key[1]))
    for key in wanted_off:
        if rules.is_locked(key[1]) and key not in off_by_key:
            errors.setdefault(_cell_for(rows, key, days, rules, off=True), rules.lock_refusal(key[1]))
    if errors:
        raise ValidationError(errors)

    book = RateBook([user.id], {key[0] for key in wanted})
    touched: set[int] = set()  # projects whose time changed
    moved: dict[int, int] = {}  # unchanged entries whose line has a new place: id -> row_position
    for key, entries in grouped.items():
        want = wanted.get(key)
        if want == saved_cell(entries):
            position = positions.get(key[:3])
            moved.update({entry.id: position for entry in entries if entry.row_position != position})
            continue  # unchanged: its rows stay as they are (but for their place)
        touched.add(key[0])
        if want is None:
            for entry in entries:
                db.session.delete(entry)
            continue
        first, *rest = entries
        project_id, task_id, billable, day = key
        rates = book.resolve(user.id, user.role, project_id, day)
        first.minutes, first.note, first.billable, first.timesheet_id = want[0], want[1], billable, sheet.id
        first.bill_rate, first.cost_rate = rates.bill, rates.cost
        first.row_position = positions.get(key[:3])
        for entry in rest:
            db.session.delete(entry)
    for key, (minutes, note) in wanted.items():
        if key in grouped:
            continue
        project_id, task_id, billable, day = key
        touched.add(project_id)
        rates = book.resolve(user.id, user.role, project_id, day)
        db.session.add(TimeEntry(user_id=user.id, project_id=project_id, task_id=task_id, timesheet_id=sheet.id,
                                 entry_date=day, minutes=minutes, billable=billable, note=note,
                                 bill_rate=rates.bill, cost_rate=rates.cost, row_position=positions[key[:3]]))
    for key, off in off_by_key.items():
        if key not in wanted_off:
            db.session.delete(off)
    for (kind, day), (minutes, note) in wanted_off.items():
        off = off_by_key.get((kind, day))
        if off is None:
            db.session.add(TimeOff(user_id=user.id, timesheet_id=sheet.id, entry_date=day, kind=kind,
                                   minutes=minutes, note=note))
        elif saved_cell([off]) != (minutes, note):
            off.minutes, off.note = minutes, note
    db.session.flush()
    if moved:
        # the place only: a Core UPDATE naming updated_at as it is (the column's onupdate would move it)
        table = TimeEntry.__table__
        db.session.execute(
            table.update().where(table.c.id == sa.bindparam("entry_id"))
            .values(row_position=sa.bindparam("position"), updated_at=table.c.updated_at),
            [{"entry_id": entry_id, "position": position} for entry_id, position in moved.items()])
        for entry in existing:
            if entry.id in moved:
                set_committed_value(entry, "row_position", moved[entry.id])
    from psa.projects.services import refresh_after_time_change

    # health weighs hours burned: refresh the projects whose time this save changed
    if touched:
        refresh_after_time_change(touched)
    return sheet


def _cell_for(rows: list[GridRow], key: tuple, days: list[date], rules, off: bool = False) -> str:
    """The grid cell showing a (project, task, billable, day) or (kind, day) key, or the week itself."""
    for index, row in enumerate(rows):
        if off and row.time_off_kind == key[0]:
            return cell_key(index, key[1])
        if not off and row.time_off_kind is None and (
                row.project_id, row.task_id, rules.billable_for(row.project_id, row.billable)) == key[:3]:
            return cell_key(index, key[3])
    return "week"


# --- one entry at a time (the API) -------------------------------------------------------------------------------
# The grid's rules (EntryRules) applied to a single entry: its week locked first (get_timesheet, lock), a week that
# is not a draft or rejected refused as the grid refuses it (Conflict), every other refusal at its field
# (ValidationError), the rates snapshotted by the one RateBook rule, the projects' schedules refreshed.

#: The field of one entry each rule's refusal is reported at.
_RULE_FIELDS = {"minutes": "minutes", "note": "note", "project": "project_id", "task": "task_id",
                "future": "entry_date", "lock": "entry_date", "day_total": "minutes"}


def _judge_entry(user: User, rules, errors: dict, *, project_id: int, task_id: int | None, day: date,
                 minutes: int, note: str) -> None:
    from psa.timesheets.rules import minutes_refusal, note_refusal

    for refusal in (minutes_refusal(minutes), note_refusal(note), *rules.refusals(user.id, project_id, task_id, day)):
        if refusal is None:
            continue
        if refusal.rule == "week":
            raise Conflict(refusal.followed_by("Nothing was changed."))
        errors.setdefault(_RULE_FIELDS[refusal.rule], str(refusal))


def _line_position(sheet_id: int, project_id: int, task_id: int | None, billable: bool,
                   leave_out: int | None = None) -> int:
    """The place in its week's grid of the line (project, task, billable): that of the line's entries, else
    under the week's lines (as the import places a new line)."""
    others = sa.select(TimeEntry.row_position).where(TimeEntry.timesheet_id == sheet_id,
                                                     TimeEntry.id != (leave_out or 0))
    place = db.session.scalar(others.where(
        TimeEntry.project_id == project_id, TimeEntry.billable.is_(bool(billable)),
        TimeEntry.task_id.is_(None) if task_id is None else TimeEntry.task_id == task_id)
        .where(TimeEntry.row_position.is_not(None)).order_by(TimeEntry.row_position).limit(1))
    if place is not None:
        return place
    last = db.session.scalar(sa.select(sa.func.max(TimeEntry.row_position)).where(
        TimeEntry.timesheet_id == sheet_id, TimeEntry.id != (leave_out or 0)))
    return 0 if last is None else last + 1


def _owner_only(actor: User, user: User) -> None:
    if actor.id != user.id:
        raise Conflict("Only the owner fills in a timesheet.")


def create_entry(actor: User, user: User, *, project_id: int, entry_date: date, minutes: int,
                 task_id: int | None = None, billable: bool = True, note: str | None = "") -> TimeEntry:
    """Log one entry, judged by the grid's rules (EntryRules) with the time already logged that day."""
    from psa.projects.services import refresh_after_time_change
    from psa.timesheets.rules import EntryRules

    _owner_only(actor, user)
    note = clean_note(note)
    sheet = get_timesheet(user, week_start(entry_date), create=True, lock=True)
    rules = EntryRules([user], [project_id], task_ids=[task_id] if task_id else [], days=[entry_date])
    errors: dict[str, str] = {}
    _judge_entry(user, rules, errors, project_id=project_id, task_id=task_id, day=entry_date, minutes=minutes,
                 note=note)
    rules.add_minutes(user.id, entry_date, minutes)
    if not errors and (refusal := rules.day_total_refusal(user.id, entry_date)):
        errors["minutes"] = str(refusal)
    if errors:
        raise ValidationError(errors)
    billable = rules.billable_for(project_id, billable)
    rates = resolve_rates(user, project_id, entry_date)
    entry = TimeEntry(user_id=user.id, project_id=project_id, task_id=task_id, timesheet_id=sheet.id,
                      entry_date=entry_date, minutes=minutes, billable=billable, note=note,
                      bill_rate=rates.bill, cost_rate=rates.cost,
                      row_position=_line_position(sheet.id, project_id, task_id, billable))
    db.session.add(entry)
    db.session.flush()
    refresh_after_time_change({project_id})
    return entry


def update_entry(actor: User, entry: TimeEntry, **changes) -> TimeEntry:
    """Change one entry (any of project_id, task_id, entry_date, minutes, billable, note): the day it leaves and
    the day it goes to are judged by the grid's rules (lock, week), the new values by every rule; the rates are
    snapshotted again, as the grid does for a changed cell."""
    from psa.projects.services import refresh_after_time_change
    from psa.timesheets.rules import EntryRules

    user = db.session.get(User, entry.user_id)
    _owner_only(actor, user)
    old_day, old_project = entry.entry_date, entry.project_id
    values = {"project_id": entry.project_id, "task_id": entry.task_id, "entry_date": entry.entry_date,
              "minutes": entry.minutes, "billable": entry.billable, "note": entry.note, **changes}
    values["note"] = clean_note(values["note"])
    new_day = values["entry_date"]
    # both weeks locked, earlier first (two updates moving entries between the same weeks wait, never deadlock)
    sheets = {monday: get_timesheet(user, monday, create=True, lock=True)
              for monday in sorted({week_start(old_day), week_start(new_day)})}
    rules = EntryRules([user], [old_project, values["project_id"]],
                       task_ids=[values["task_id"]] if values["task_id"] else [], days=[old_day, new_day])
    errors: dict[str, str] = {}
    # the time it held stays as it is on a project closed to the user (as the grid keeps such a line)
    if (refusal := rules.project_refusal(user.id, old_project)) and old_project != values["project_id"]:
        errors["project_id"] = str(refusal)
    for refusal in (rules.lock_refusal(old_day), rules.week_refusal(user.id, old_day)):
        if refusal and refusal.rule == "week":
            raise Conflict(refusal.followed_by("Nothing was changed."))
        if refusal:
            errors["entry_date"] = str(refusal)
    _judge_entry(user, rules, errors, project_id=values["project_id"], task_id=values["task_id"], day=new_day,
                 minutes=values["minutes"], note=values["note"])
    rules.add_minutes(user.id, old_day, -entry.minutes)
    rules.add_minutes(user.id, new_day, values["minutes"])
    if not errors and (refusal := rules.day_total_refusal(user.id, new_day)):
        errors["minutes"] = str(refusal)
    if errors:
        raise ValidationError(errors)
    billable = rules.billable_for(values["project_id"], values["billable"])
    rates = resolve_rates(user, values["project_id"], new_day)
    sheet = sheets[week_start(new_day)]
    line = (values["project_id"], values["task_id"], billable)
    if line != (entry.project_id, entry.task_id, entry.billable) or sheet.id != entry.timesheet_id:
        entry.row_position = _line_position(sheet.id, *line, leave_out=entry.id)
    entry.project_id, entry.task_id, entry.entry_date = values["project_id"], values["task_id"], new_day
    entry.minutes, entry.billable, entry.note, entry.timesheet_id = values["minutes"], billable, values["note"], sheet.id
    entry.bill_rate, entry.cost_rate = rates.bill, rates.cost
    db.session.flush()
    refresh_after_time_change({old_project, entry.project_id})
    return entry


def delete_entry(actor: User, entry: TimeEntry) -> None:
    """Delete one entry: refused on or before the lock date (at entry_date), on a project closed to the user (at
    project_id) and in a week that is not a draft or rejected (Conflict), as the grid refuses emptying its cell."""
    from psa.projects.services import refresh_after_time_change
    from psa.timesheets.rules import EntryRules

    user = db.session.get(User, entry.user_id)
    _owner_only(actor, user)
    get_timesheet(user, week_start(entry.entry_date), lock=True)
    rules = EntryRules([user], [entry.project_id], days=[entry.entry_date])
    refusal = rules.week_refusal(user.id, entry.entry_date)
    if refusal:
        raise Conflict(refusal.followed_by("Nothing was changed."))
    refusal = rules.lock_refusal(entry.entry_date)
    if refusal:
        raise ValidationError({"entry_date": str(refusal)})
    refusal = rules.project_refusal(user.id, entry.project_id)
    if refusal:  # time on a project closed to the user stays as it is (as the grid keeps it)
        raise ValidationError({"project_id": str(refusal)})
    project_id = entry.project_id
    db.session.delete(entry)
    db.session.flush()
    refresh_after_time_change({project_id})
