"""CSV export of time entries (SPEC §4).

The first seven columns are those of our import (date, email, project, task, hours, billable, note), so
an export imports back as it is; account, state and the rate snapshots follow. One query with joins,
streamed in batches: the file is written as it is read, whatever its size.
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
HEADER = ("date", "email", "project", "task", "hours", "billable", "note", "account", "state", "bill_rate",
          "cost_rate")
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
    """Holders of timesheets.export export anyone's time; everyone else only their own."""
    return can("timesheets.export", viewer)


def _filtered(stmt, filters: ExportFilters, viewer):
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    if not exports_everyone(viewer):
        stmt = stmt.where(TimeEntry.user_id == viewer.id)
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
        TimeEntry.entry_date, User.email, Project.name.label("project"), Task.name.label("task"), TimeEntry.minutes,
        TimeEntry.billable, TimeEntry.note, Account.name.label("account"), Timesheet.state, TimeEntry.bill_rate,
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


def _line(buffer: io.StringIO, writer, row) -> None:
    writer.writerow((
        row.entry_date.isoformat(), row.email, escape_cell(row.project), escape_cell(row.task or ""),
        format_hours(row.minutes), "yes" if row.billable else "no", escape_cell(row.note or ""),
        escape_cell(row.account), row.state, f"{row.bill_rate:.2f}", f"{row.cost_rate:.2f}"))


def export_csv(filters: ExportFilters, viewer) -> Iterator[str]:
    """The CSV file in pieces (a byte-order mark first, so spreadsheets read it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    result = db.session.execute(export_statement(filters, viewer).execution_options(yield_per=BATCH))
    for batch in result.partitions():
        for row in batch:
            _line(buffer, writer, row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
