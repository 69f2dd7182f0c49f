"""CSV export of time entries (SPEC §4).

The first eight columns are those of our import (date, email, project, task, activity, hours, billable,
note), so an export imports back as it is (an entry on its project with an imported activity keeps it); account,
state and, for those who see rates (admins and leaders: rates.manage), the rate snapshots follow. One query with joins, streamed in batches: the file is written as
it is read, whatever its size.

Who exports what: admins and leaders every entry; other holders of timesheets.export (managers) the entries
on projects they may open, their own, and those of the people whose weeks they approve (they see those weeks
on the approval page anyway); everyone else their own entries only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from psa.core.auth import can
from psa.extensions import db
from psa.timesheets.durations import format_hours
from psa.timesheets.imports import escape_cell

#: The columns, ours first (what the import reads), then what a spreadsheet wants beside them.
HEADER = ("date", "email", "project", "task", "activity", "hours", "billable", "note", "account", "state",
          "bill_rate", "cost_rate")
#: The last columns of HEADER, written only for those who see rates.
RATE_COLUMNS = ("bill_rate", "cost_rate")
#: Rows fetched (and written) per batch.
BATCH = 2000


@dataclass(frozen=True)
class ExportFilters:
    """Which entries to export; None means any."""

    date_from: date | None = None
    date_to: date | None = None
    user_id: int | None = None
    project_id: int | None = None
    account_id: int | None = None
    state: str | None = None


def exports_everyone(viewer) -> bool:
    """Holders of timesheets.export export other people's time (all of it, or what they may see); everyone
    else only their own."""
    return can("timesheets.export", viewer)


def shows_rates(viewer) -> bool:
    """Bill and cost rates are for admins and leaders (rates.manage)."""
    return can("rates.manage", viewer)


def header_for(viewer) -> tuple[str, ...]:
    return HEADER if shows_rates(viewer) else HEADER[:-len(RATE_COLUMNS)]


def visible_entries_filter(viewer):
    """A WHERE clause (over time_entries joined to projects) limiting entries to those the viewer may export."""
    from psa.auth.models import User
    from psa.projects.services import visible_projects_filter
    from psa.timesheets.models import TimeEntry

    if shows_rates(viewer):  # admins and leaders: every entry
        return sa.true()
    own = TimeEntry.user_id == viewer.id
    if not exports_everyone(viewer):
        return own
    reports = TimeEntry.user_id.in_(sa.select(User.id).where(User.approver_id == viewer.id))
    return sa.or_(own, reports, visible_projects_filter(viewer))


def filter_choices(viewer) -> tuple[list, list, list]:
    """(people, accounts, projects) the export's filters offer, as (id, label) pairs with the 0 option first:
    those whose entries the viewer may export, and the accounts and projects of those entries."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects.models import Project, project_members
    from psa.projects.services import visible_projects_filter
    from psa.timesheets.models import TimeEntry

    people_stmt = sa.select(User.id, User.name).order_by(sa.func.lower(User.name), User.id)
    projects = (sa.select(Project.id, Project.name, Account.id.label("account_id"), Account.name.label("account"))
                .join(Account, Account.id == Project.account_id)
                .order_by(sa.func.lower(Account.name), sa.func.lower(Project.name)))
    if not shows_rates(viewer):
        visible = sa.select(Project.id).where(visible_projects_filter(viewer)).correlate(None)
        if exports_everyone(viewer):
            reports = sa.select(User.id).where(User.approver_id == viewer.id)
            loggers = sa.or_(TimeEntry.user_id == viewer.id, TimeEntry.user_id.in_(reports))
            people_stmt = people_stmt.where(sa.or_(
                User.id == viewer.id, User.approver_id == viewer.id,
                User.id.in_(sa.select(project_members.c.user_id).where(project_members.c.project_id.in_(visible))),
                User.id.in_(sa.select(Project.manager_id).where(Project.id.in_(visible))),
                User.id.in_(sa.select(TimeEntry.user_id).where(TimeEntry.project_id.in_(visible)))))
        else:
            loggers = TimeEntry.user_id == viewer.id
            people_stmt = people_stmt.where(User.id == viewer.id)
        projects = projects.where(sa.or_(Project.id.in_(visible),
                                         Project.id.in_(sa.select(TimeEntry.project_id).where(loggers))))
    rows = db.session.execute(projects).all()
    people = [(0, "Everyone" if exports_everyone(viewer) else "Me"), *db.session.execute(people_stmt).all()]
    accounts = {row.account_id: row.account for row in rows}
    return (people, [(0, "Any account"), *accounts.items()],
            [(0, "Any project"), *[(row.id, f"{row.account} — {row.name}") for row in rows]])


def _filtered(stmt, filters: ExportFilters, viewer):
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    stmt = stmt.where(visible_entries_filter(viewer))
    if filters.date_from:
        stmt = stmt.where(TimeEntry.entry_date >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(TimeEntry.entry_date <= filters.date_to)
    if filters.user_id:
        stmt = stmt.where(TimeEntry.user_id == filters.user_id)
    if filters.project_id:
        stmt = stmt.where(TimeEntry.project_id == filters.project_id)
    if filters.account_id:
        stmt = stmt.where(Project.account_id == filters.account_id)
    if filters.state:
        stmt = stmt.where(Timesheet.state == filters.state)
    return stmt


def _joined(stmt):
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    return (stmt.select_from(TimeEntry)
            .join(Project, Project.id == TimeEntry.project_id)
            .join(Timesheet, Timesheet.id == TimeEntry.timesheet_id))


def export_statement(filters: ExportFilters, viewer):
    """The one query behind the file: entries with their person, project, account, task and week state."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects.models import Project, Task
    from psa.timesheets.models import TimeEntry, Timesheet

    stmt = _joined(sa.select(
        TimeEntry.entry_date, User.email, Project.name.label("project"), Task.name.label("task"), TimeEntry.activity,
        TimeEntry.minutes, TimeEntry.billable, TimeEntry.note, Account.name.label("account"), Timesheet.state, TimeEntry.bill_rate,
        TimeEntry.cost_rate))
    stmt = (stmt.join(User, User.id == TimeEntry.user_id)
            .join(Account, Account.id == Project.account_id)
            .outerjoin(Task, Task.id == TimeEntry.task_id))
    return _filtered(stmt, filters, viewer).order_by(TimeEntry.entry_date, User.email, Project.name, TimeEntry.id)


def export_summary(filters: ExportFilters, viewer) -> tuple[int, int]:
    """(entries, minutes) the export would hold, counted in SQL."""
    from psa.timesheets.models import TimeEntry

    stmt = _joined(sa.select(sa.func.count(TimeEntry.id), sa.func.coalesce(sa.func.sum(TimeEntry.minutes), 0)))
    count, minutes = db.session.execute(_filtered(stmt, filters, viewer)).one()
    return int(count), int(minutes)


def _line(writer, row, rates: bool) -> None:
    cells = [row.entry_date.isoformat(), row.email, escape_cell(row.project), escape_cell(row.task or ""),
             escape_cell(row.activity or ""), format_hours(row.minutes), "yes" if row.billable else "no", escape_cell(row.note or ""),
             escape_cell(row.account), row.state]
    if rates:
        cells += [f"{row.bill_rate:.2f}", f"{row.cost_rate:.2f}"]
    writer.writerow(cells)


def export_csv(filters: ExportFilters, viewer) -> Iterator[str]:
    """The CSV file in pieces (a byte-order mark first, so spreadsheets read it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header_for(viewer))
    rates = shows_rates(viewer)
    result = db.session.execute(export_statement(filters, viewer).execution_options(yield_per=BATCH))
    for batch in result.partitions():
        for row in batch:
            _line(writer, row, rates)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
