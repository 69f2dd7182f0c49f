"""CSV export of time entries (SPEC §4).

The first eight columns are those of our import (date, email, project, task, activity, hours, billable,
note), so an export imports back as it is (an entry on its project with an imported activity keeps it); account,
state and, for those who see rates (admins and leaders: rates.manage), the rate snapshots follow.

One query with joins, streamed: the file is written as it is read, whatever its size. The database writes the
cells (`_CsvCells`), so Python does nothing per row but join the lines: on PostgreSQL `COPY (…) TO STDOUT WITH
(FORMAT csv)`, whose quoting is csv.writer's (QUOTE_MINIMAL), with escape_cell's apostrophe, format_hours's
"1.50", "yes"/"no" and the rates written by the query; on SQLite the query writes each whole line. The bytes
are those csv.writer writes from the same rows with escape_cell and format_hours (the tests compare the two).
A year of a large team's time (half a million entries) takes well under twice the bare COPY of its rows.

Rows come in the order date, e-mail, project, entry id, text compared by code point (COLLATE "C" on
PostgreSQL, SQLite's own order): a stable order, the same on both databases, cheaper to sort than a locale's.

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
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from psa.core.auth import can
from psa.extensions import db
from psa.timesheets.imports import FORMULA_STARTS

#: The columns, ours first (what the import reads), then what a spreadsheet wants beside them.
HEADER = ("date", "email", "project", "task", "activity", "hours", "billable", "note", "account", "state",
          "bill_rate", "cost_rate")
#: The last columns of HEADER, written only for those who see rates.
RATE_COLUMNS = ("bill_rate", "cost_rate")
#: Lines fetched (and written) per batch: about a megabyte of CSV.
BATCH = 5000
#: What the export's sort may use on PostgreSQL (set for its transaction only) rather than spill a year to disk;
#: a request runs one export.
EXPORT_WORK_MEM = "64MB"
#: The export page counts the matching entries up to this many (about 16 MB of CSV), beyond which it says "more
#: than": counting a million entries would take longer than the page should.
COUNT_CAP = 100_000


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


def _conditions(filters: ExportFilters, viewer) -> list:
    """The WHERE clauses: what the viewer may see, then the filters (over time entries, projects and weeks)."""
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    conditions = [visible_entries_filter(viewer)]
    if filters.date_from:
        conditions.append(TimeEntry.entry_date >= filters.date_from)
    if filters.date_to:
        conditions.append(TimeEntry.entry_date <= filters.date_to)
    if filters.user_id:
        conditions.append(TimeEntry.user_id == filters.user_id)
    if filters.project_id:
        conditions.append(TimeEntry.project_id == filters.project_id)
    if filters.account_id:
        conditions.append(Project.account_id == filters.account_id)
    if filters.state:
        conditions.append(Timesheet.state == filters.state)
    return conditions


class _ByCodePoint(sa.sql.expression.ColumnElement):
    """A text column compared by code point, for ORDER BY: `column COLLATE "C"` on PostgreSQL (UTF-8 bytes sort
    as code points, where the locale's collation would order otherwise), the column alone on SQLite (its own
    order)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # the column is in the cache key

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(_ByCodePoint)
def _by_code_point(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(_ByCodePoint, "postgresql")
def _by_code_point_postgresql(element, compiler, **kw):
    return compiler.process(element.column.collate("C"), **kw)


def _rows_statement(columns, filters: ExportFilters, viewer):
    """SELECT `columns` over the exported entries joined to their person, project, account, task and week, in
    the file's order: date, e-mail, project, entry."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects.models import Project, Task
    from psa.timesheets.models import TimeEntry, Timesheet

    stmt = (sa.select(*columns).select_from(TimeEntry)
            .join(Project, Project.id == TimeEntry.project_id)
            .join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
            .join(User, User.id == TimeEntry.user_id)
            .join(Account, Account.id == Project.account_id)
            .outerjoin(Task, Task.id == TimeEntry.task_id)
            .where(*_conditions(filters, viewer)))
    return stmt.order_by(TimeEntry.entry_date, _ByCodePoint(User.email), _ByCodePoint(Project.name), TimeEntry.id)


def export_statement(filters: ExportFilters, viewer):
    """The export's rows as plain typed columns, in the file's order (what the file is written from; the bench's
    baseline)."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects.models import Project, Task
    from psa.timesheets.models import TimeEntry, Timesheet

    return _rows_statement((
        TimeEntry.entry_date, User.email, Project.name.label("project"), Task.name.label("task"), TimeEntry.activity,
        TimeEntry.minutes, TimeEntry.billable, TimeEntry.note, Account.name.label("account"), Timesheet.state,
        TimeEntry.bill_rate, TimeEntry.cost_rate), filters, viewer)


class ExportSummary(NamedTuple):
    """What the export page says the filters match: `entries` and their `minutes`; when more than COUNT_CAP
    entries match, more=True, entries=COUNT_CAP and minutes=None (not counted)."""

    entries: int
    minutes: int | None
    more: bool = False


def export_summary(filters: ExportFilters, viewer) -> ExportSummary:
    """How many entries the export would hold and their minutes, counted in SQL up to COUNT_CAP, over time
    entries joined only to what the conditions name: the project for an account filter or a manager's
    visibility, the week for a state filter. One statement, which reads at most COUNT_CAP + 1 matching entries
    (ix_time_entries_date for a period): some 30 ms at most, whatever the table's size."""
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    matching = sa.select(TimeEntry.minutes).select_from(TimeEntry)
    if filters.account_id or (exports_everyone(viewer) and not shows_rates(viewer)):
        matching = matching.join(Project, Project.id == TimeEntry.project_id)
    if filters.state:
        matching = matching.join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
    matching = matching.where(*_conditions(filters, viewer)).limit(COUNT_CAP + 1).subquery()
    count, minutes = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(matching.c.minutes), 0))).one()
    if count > COUNT_CAP:
        return ExportSummary(COUNT_CAP, None, more=True)
    return ExportSummary(int(count), int(minutes))


# --- the cells, written by the database ---------------------------------------------------------------------


def _sql(text: str):
    """A constant piece of SQL, inlined in the statement (no parameter)."""
    return sa.literal_column(text, sa.Text)


def _concat(*parts):
    result = parts[0]
    for part in parts[1:]:
        result = result.op("||", return_type=sa.Text)(part)
    return result


#: escape_cell's characters as code points, for SQL: (61, 43, 45, 64, 9, 13).
_FORMULA_CODES = _sql("(" + ", ".join(str(ord(char)) for char in FORMULA_STARTS) + ")")


class _CsvCells:
    """The export's cells as SQL expressions for one database, each what Python would write: escape_cell's
    apostrophe, format_hours, yes/no, the rates with their two places, text quoted as csv.writer quotes it
    (QUOTE_MINIMAL: a cell holding a comma, a double quote, CR or LF in double quotes, its quotes doubled).

    PostgreSQL: COPY's CSV output quotes by those very rules, so `cell` only escapes, giving NULL for an empty
    cell (COPY writes NULL as nothing and '' as ""). SQLite: `cell` quotes too and `line` joins the cells with
    commas and CRLF."""

    def __init__(self, dialect_name: str):
        self.postgresql = dialect_name == "postgresql"

    def _starts_a_formula(self, text):
        first = sa.func.ascii(text) if self.postgresql else sa.func.unicode(text)  # its first character's code
        return first.op("IN")(_FORMULA_CODES)

    def cell(self, text, escape: bool = True, nullable: bool = False):
        """A text cell, with escape_cell's apostrophe unless escape=False; NULL (from the outer join: nullable=True)
        is the empty cell."""
        if self.postgresql:
            escaped = sa.case((self._starts_a_formula(text), _concat(_sql("''''"), text)), else_=text) if escape else text
            return sa.func.nullif(escaped, _sql("''"))
        if nullable:
            text = sa.func.coalesce(text, _sql("''"))
        prefix = [sa.case((self._starts_a_formula(text), _sql("''''")), else_=_sql("''"))] if escape else []
        needs_quotes = sa.or_(*(sa.func.instr(text, _sql(char)) > 0 for char in ("','", "'\"'", "char(13)", "char(10)")))
        quoted = _concat(_sql("'\"'"), *prefix, sa.func.replace(text, _sql("'\"'"), _sql("'\"\"'")), _sql("'\"'"))
        return sa.case((needs_quotes, quoted), else_=_concat(*prefix, text) if prefix else text)

    def date(self, column):
        """YYYY-MM-DD: SQLite stores dates so; PostgreSQL prints them so under DateStyle ISO, which the export
        sets for its transaction (to_char would cost a third of a microsecond a row)."""
        return column

    def hours(self, minutes):
        """format_hours: minutes / 60 rounded to two places, from round(100 m / 60) = (5 m + 1) div 3 in whole
        numbers (never a tie: 100 m / 60 is never a whole and a half)."""
        hundredths = _sql(f"((5 * {minutes.table.name}.{minutes.name} + 1) / 3)")
        if self.postgresql:
            return hundredths.op("*")(_sql("0.01"))  # a NUMERIC with two places
        return sa.func.printf(_sql("'%d.%02d'"), hundredths.op("/")(_sql("100")), hundredths.op("%")(_sql("100")))

    def yes_no(self, flag):
        return sa.case((flag, _sql("'yes'")), else_=_sql("'no'"))

    def money(self, column):
        """An ExactNumeric as f"{value:.2f}" writes it: NUMERIC(p, 2) prints so on PostgreSQL; on SQLite the column
        holds whole cents (units of 10^-scale, never negative: a check constraint)."""
        if self.postgresql:
            return column
        scale = column.type.scale
        units, unit = _sql(f"{column.table.name}.{column.name}"), _sql(str(10 ** scale))
        return sa.func.printf(_sql(f"'%d.%0{scale}d'"), units.op("/")(unit), units.op("%")(unit))

    def line(self, cells):
        """SQLite: the cells joined by commas, CRLF-ended."""
        parts = [cells[0]]
        for cell in cells[1:]:
            parts += [_sql("','"), cell]
        return _concat(*parts, _sql("char(13, 10)"))


def _cells(csv_cells: _CsvCells, rates: bool) -> list:
    """The file's columns, in HEADER's order, as SQL expressions."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects.models import Project, Task
    from psa.timesheets.models import TimeEntry, Timesheet

    cells = [csv_cells.date(TimeEntry.entry_date), csv_cells.cell(User.email, escape=False),
             csv_cells.cell(Project.name), csv_cells.cell(Task.name, nullable=True), csv_cells.cell(TimeEntry.activity),
             csv_cells.hours(TimeEntry.minutes), csv_cells.yes_no(TimeEntry.billable), csv_cells.cell(TimeEntry.note),
             csv_cells.cell(Account.name), csv_cells.cell(Timesheet.state, escape=False)]
    if rates:
        cells += [csv_cells.money(TimeEntry.bill_rate), csv_cells.money(TimeEntry.cost_rate)]
    return cells


def _header(viewer) -> str:
    """A byte-order mark (spreadsheets then read the file as UTF-8) and the header line."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(header_for(viewer))
    return "\ufeff" + buffer.getvalue()


def export_csv(filters: ExportFilters, viewer) -> Iterator[str]:
    """The CSV file in pieces of about a megabyte: the header, then the entries' lines as the database writes
    them, read as they are written."""
    yield _header(viewer)
    connection = db.session.connection()
    csv_cells = _CsvCells(connection.dialect.name)
    cells = _cells(csv_cells, shows_rates(viewer))
    if csv_cells.postgresql:
        yield from _copy_lines(connection, _rows_statement(cells, filters, viewer))
        return
    stmt = _rows_statement([csv_cells.line(cells).label("line")], filters, viewer)
    for lines in connection.execute(stmt.execution_options(yield_per=BATCH)).scalars().partitions():
        yield "".join(lines)


def _copy_lines(connection, stmt) -> Iterator[str]:
    """PostgreSQL: the rows of `stmt` through `COPY (stmt) TO STDOUT WITH (FORMAT csv)`, CRLF-ended, in batches.

    Each COPY message is one row ending with its LF (the protocol says so), so the line ends are found without
    reading the cells. For this transaction, the sort may use EXPORT_WORK_MEM and dates print as YYYY-MM-DD
    (DateStyle ISO, PostgreSQL's default, whatever the server's). The statement is reported
    to the engine's statement listeners (logging, the tests' counter) as those run through SQLAlchemy are."""
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    statement, params = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)", compiled.params
    connection.exec_driver_sql(f"SELECT set_config('work_mem', '{EXPORT_WORK_MEM}', true), "
                               "set_config('DateStyle', 'ISO, YMD', true)")  # for this transaction only
    driver = connection.connection.driver_connection
    encoding = driver.info.encoding
    with driver.cursor() as cursor:
        connection.dispatch.before_cursor_execute(connection, cursor, statement, params, None, False)
        with cursor.copy(statement, params) as copy:
            batch = []
            for row in copy:
                batch.append(row[:-1])
                if len(batch) == BATCH:
                    batch.append(b"")
                    yield b"\r\n".join(batch).decode(encoding)
                    batch = []
            if batch:
                batch.append(b"")
                yield b"\r\n".join(batch).decode(encoding)
        connection.dispatch.after_cursor_execute(connection, cursor, statement, params, None, False)
