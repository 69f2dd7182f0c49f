"""CSV time import (SPEC §4, §5): our own export, Harvest and Toggl Track, all-or-nothing, with a dry run.

The file's format is told by its header row (columns are matched by name, in any order, whatever their
case). People are matched by e-mail, or by name where the file has no e-mail; projects by name within
the client (account) where the file names one; tasks by name within their project. Nothing is ever
created but time entries and the draft timesheets of the weeks they fall in.

Every row is checked by the rules of the weekly grid (rules.EntryRules, which the grid and the API call
too). One bad row refuses the whole file: the report
lists every bad row with its line number and why, and nothing is written. A row equal to an entry
already there (same person, date, project, task, minutes and note) is a duplicate and is skipped, so
importing a file twice creates its entries once.

The work is done in a fixed number of queries whatever the size of the file: the people, the projects,
their tasks, the memberships, the entries and time off already logged by the file's people over the
file's dates, and their timesheets are loaded once; the new entries are inserted in bulk.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from psa.core.audit import record_audit
from psa.core.db import begin_write, utcnow
from psa.core.errors import ValidationError
from psa.core.validation import DATE_WINDOW_MESSAGE, in_window
from psa.extensions import db
from psa.timesheets.durations import DurationError, parse_duration
from psa.timesheets.rules import EntryRules, minutes_refusal, note_refusal
from psa.timesheets.services import clean_note

#: Entries inserted per statement.
INSERT_CHUNK = 5000

#: Format key → the name people know it by.
FORMAT_LABELS = {
    "ours": "PSA export",
    "harvest": "Harvest import",
    "harvest_report": "Harvest detailed report",
    "toggl": "Toggl Track",
    "toggl_detailed": "Toggl Track detailed export",
}

#: For each format: our field → the header naming it (lower case). Columns not named are ignored.
COLUMNS = {
    "ours": {"date": "date", "email": "email", "project": "project", "task": "task", "hours": "hours",
             "billable": "billable", "note": "note", "client": "account"},
    "harvest": {"date": "date", "client": "client", "project": "project", "task": "task", "note": "notes",
                "hours": "hours", "first_name": "first name", "last_name": "last name", "billable": "billable?",
                "email": "email"},
    "toggl": {"name": "user", "email": "email", "client": "client", "project": "project", "task": "task",
              "note": "description", "billable": "billable", "date": "start date", "duration": "duration"},
}

#: What each format must have, in the spelling its makers use (for the message when a column is missing).
REQUIRED = {
    "ours": ("date", "email", "project", "hours"),
    "harvest": ("Date", "Project", "Hours", "First name", "Last name"),
    "toggl": ("Start date", "Duration", "Project"),
}

FORMATS_HELP = ("Use one of: ours (date, email, project, task, hours, billable, note); Harvest (Date, Client, "
                "Project, Task, Notes, Hours, First name, Last name); Toggl Track (User, Email, Client, Project, "
                "Task, Description, Billable, Start date, Start time, Duration, Tags).")

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_HMS = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")
_YES = {"yes", "y", "true", "1", "billable", "x"}
_NO = {"no", "n", "false", "0", "non-billable", "not billable", "nonbillable"}
#: Characters that make a spreadsheet read a cell as a formula; exports put an apostrophe before them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """Why one line of the file was refused (line 1 is the header)."""

    line: int
    message: str


@dataclass
class PersonSummary:
    """What the import creates for one person."""

    name: str
    entries: int = 0
    minutes: int = 0


@dataclass
class ImportReport:
    """What an import found, and what it created (or, in a dry run or when refused, would create)."""

    format: str
    dry_run: bool
    #: Data rows read (blank lines are not counted).
    rows: int = 0
    #: Entries created (or to be created), and their minutes.
    entries: int = 0
    minutes: int = 0
    #: Line numbers of rows skipped because an equal entry is already there.
    duplicates: list[int] = field(default_factory=list)
    #: Line numbers of rows whose task was not found and that go on their project without a task
    #: (only when the import was asked to do so).
    untasked: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Weeks with no timesheet yet (created as drafts).
    new_timesheets: int = 0
    people: list[PersonSummary] = field(default_factory=list)

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS.get(self.format, self.format)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def created(self) -> int:
        """Entries actually written: none in a dry run, none when any row is bad."""
        return 0 if self.dry_run or self.errors else self.entries

    def error_groups(self) -> list[tuple[str, str, int]]:
        """(message, the lines it applies to as ranges, how many) — every bad row, grouped by why."""
        lines: dict[str, list[int]] = {}
        for error in self.errors:
            lines.setdefault(error.message, []).append(error.line)
        groups = [(message, line_ranges(numbers), len(numbers)) for message, numbers in lines.items()]
        return sorted(groups, key=lambda group: lines[group[0]][0])

    @property
    def duplicate_lines(self) -> str:
        return line_ranges(self.duplicates)

    @property
    def untasked_lines(self) -> str:
        return line_ranges(self.untasked)


def line_ranges(numbers: list[int]) -> str:
    """2, 3, 4, 7 → "2–4, 7"."""
    numbers = sorted(set(numbers))
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}–{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}–{previous}")
    return ", ".join(parts)


# --- reading the file ----------------------------------------------------------------------------


def _key(text: str) -> str:
    """How names are compared: case and runs of spaces do not matter."""
    return " ".join(text.split()).casefold()


def unescape_cell(text: str) -> str:
    """Undo the apostrophe our export puts before a cell a spreadsheet would take for a formula."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def escape_cell(text: str) -> str:
    """Put an apostrophe before a cell a spreadsheet would take for a formula (CSV injection)."""
    return "'" + text if text and text.startswith(FORMULA_STARTS) else text


def detect_format(headers: list[str]) -> str:
    """The format named by a header row (lower-cased names), or ValidationError at the file field."""
    names = set(headers)
    if {"start date", "duration"} <= names:
        missing = [label for label in REQUIRED["toggl"] if label.lower() not in names]
        if "email" not in names and "user" not in names:
            missing.append("Email or User")
        kind = "toggl_detailed" if {"end date", "end time"} & names else "toggl"
    elif {"first name", "last name"} & names:
        missing = [label for label in REQUIRED["harvest"] if label.lower() not in names]
        kind = "harvest_report" if {"billable?", "hours rounded", "billable rate", "cost rate"} & names else "harvest"
    elif "email" in names or {"date", "hours"} <= names:
        missing = [label for label in REQUIRED["ours"] if label not in names]
        kind = "ours"
    else:
        raise ValidationError({"file": "The first line does not name the columns of a format we read. " + FORMATS_HELP})
    if missing:
        raise ValidationError({"file": f"The file lacks the column{'s' if len(missing) > 1 else ''} "
                                       f"{', '.join(missing)} ({FORMAT_LABELS[kind]} format). " + FORMATS_HELP})
    return kind


def _columns(kind: str) -> dict[str, str]:
    return COLUMNS["toggl" if kind.startswith("toggl") else "harvest" if kind.startswith("harvest") else "ours"]


@dataclass
class _Raw:
    """One data row as read, its fields parsed where they can be without the database."""

    line: int
    day: date | None
    minutes: int | None
    billable: bool
    note: str
    email: str
    person: str
    project: str
    client: str
    task: str
    errors: list[str]


#: The fields a row is read into, in this order.
_FIELDS = ("date", "time", "billable", "note", "email", "name", "first_name", "last_name", "project", "client", "task")


def _read(text: str) -> tuple[str, list[_Raw]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise ValidationError({"file": "The file is empty. " + FORMATS_HELP})
        headers = [" ".join(cell.strip().split()).lower() for cell in header]
        kind = detect_format(headers)
        position: dict[str, int] = {}
        for index, name in enumerate(headers):
            position.setdefault(name, index)
        columns = dict(_columns(kind))
        columns["time"] = columns.pop("duration" if kind.startswith("toggl") else "hours")
        picks = [position.get(columns.get(name, ""), -1) for name in _FIELDS]
        parser = _RowParser(kind, has_names="first_name" in columns and (
            position.get("first name") is not None or position.get("last name") is not None))
        rows: list[_Raw] = []
        previous_end = reader.line_num
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            count = len(values)
            cells = [values[i].strip() if 0 <= i < count else "" for i in picks]
            if not any(cells) and not any(value.strip() for value in values):
                continue
            rows.append(parser.parse(line, *cells))
    except csv.Error as exc:
        raise ValidationError({"file": f"Line {reader.line_num} cannot be read as CSV ({exc})."}) from None
    return kind, rows


class _RowParser:
    """Reads the cells of one row into a _Raw; dates and durations repeat, so each text is parsed once."""

    def __init__(self, kind: str, has_names: bool):
        self.toggl = kind.startswith("toggl")
        self.has_names = has_names
        self.dates: dict[str, tuple[date | None, str | None]] = {}
        self.durations: dict[str, tuple[int | None, str | None]] = {}

    def _day(self, text: str) -> tuple[date | None, str | None]:
        found = self.dates.get(text)
        if found is None:
            day = parse_day(text)
            error = None if day else (f"“{text[:40]}” is not a date; write YYYY-MM-DD or M/D/YYYY." if text
                                      else "The date is missing.")
            if day and not in_window(day):
                day, error = None, f"{day.isoformat()}: {DATE_WINDOW_MESSAGE}"
            found = self.dates[text] = (day, error)
        return found

    def _minutes(self, text: str) -> tuple[int | None, str | None]:
        found = self.durations.get(text)
        if found is None:
            try:
                minutes = parse_toggl_duration(text) if self.toggl else parse_duration(text)
                error = "The hours are missing." if minutes is None else minutes_refusal(minutes)
            except DurationError as exc:
                minutes, error = None, str(exc)
            found = self.durations[text] = (minutes if error is None else None, error)
        return found

    def parse(self, line, day_text, time_text, flag, note, email, name, first, last, project, client, task) -> _Raw:
        errors: list[str] = []
        day, error = self._day(day_text)
        if error:
            errors.append(error)
        minutes, error = self._minutes(time_text)
        if error:
            errors.append(error)
        billable = True
        if flag:
            flag = flag.lower()
            if flag in _NO:
                billable = False
            elif flag not in _YES:
                errors.append(f"Billable must be yes or no, not “{flag}”.")
        if note and note[0] == "'":
            note = unescape_cell(note)
        note = clean_note(note)  # LF line breaks, as the grid keeps them
        error = note_refusal(note)
        if error:
            errors.append(error)
        if self.has_names:
            name = f"{first} {last}".strip()
        return _Raw(line=line, day=day, minutes=minutes, billable=billable, note=note, email=email.lower(),
                    person=name, project=unescape_cell(project), client=unescape_cell(client),
                    task=unescape_cell(task), errors=errors)


def parse_day(text: str) -> date | None:
    """YYYY-MM-DD or M/D/YYYY (Harvest's two spellings), else None."""
    match = _ISO_DATE.match(text)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        match = _US_DATE.match(text)
        if match:
            return date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    return None


def parse_toggl_duration(text: str) -> int | None:
    """Toggl's HH:MM:SS, rounded to the nearest minute (half a minute up); other spellings as the grid reads them."""
    match = _HMS.match(text)
    if not match:
        return parse_duration(text)
    if len(match.group(1).lstrip("0")) > 4:
        raise DurationError(f"“{text[:40]}” is too long for a duration; a day has at most 24 hours.")
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + int(match.group(3))
    minutes = int((Decimal(seconds) / 60).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    if minutes <= 0:
        raise DurationError(f"“{text}” is less than half a minute; enter a duration above 0.")
    return minutes


# --- the import ----------------------------------------------------------------------------------


def import_time_entries(actor, data: bytes | str, *, dry_run: bool = True,
                        unknown_task_on_project: bool = False) -> ImportReport:
    """Read a CSV file of time entries and, unless it is a dry run or a row is bad, create them.

    With unknown_task_on_project, a row naming a task its project does not have (Harvest's tasks are often
    activity types such as "Design") goes on the project without a task instead of being refused.

    A file that cannot be read at all raises ValidationError at the "file" field; bad rows are listed in
    the report's errors and nothing is written. Returns the report either way.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."}) \
                from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValidationError({"file": "The file is not a CSV text file."})
    kind, raws = _read(text)
    report = ImportReport(format=kind, dry_run=dry_run, rows=len(raws))
    if not raws:
        raise ValidationError({"file": "The file has a header line but no rows of time."})
    if not dry_run:
        begin_write()  # SQLite: the import holds the write lock from its first read to its commit
    plan = _Plan(raws, unknown_task_on_project=unknown_task_on_project)
    plan.check(report, lock=not dry_run)
    if report.errors or dry_run or not plan.to_create:
        return report
    plan.write(actor, report)
    return report


class _Plan:
    """The rows of one file matched against the database, checked, and (when asked) written."""

    def __init__(self, raws: list[_Raw], unknown_task_on_project: bool = False):
        from psa.accounts.models import Account
        from psa.auth.models import User
        from psa.projects.models import Project

        self.raws = raws
        self.unknown_task_on_project = unknown_task_on_project
        self.users = {row.id: row for row in db.session.execute(
            sa.select(User.id, User.email, User.name, User.role, User.timezone))}
        self.by_email = {row.email.lower(): row.id for row in self.users.values()}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        for row in self.users.values():
            self.by_name[_key(row.name)].append(row.id)
        self.projects = {row.id: row for row in db.session.execute(
            sa.select(Project.id, Project.name, Account.name.label("account"))
            .join(Account, Account.id == Project.account_id))}
        self.projects_by_name: dict[str, list[int]] = defaultdict(list)
        for row in self.projects.values():
            self.projects_by_name[_key(row.name)].append(row.id)
        self.to_create: list[dict] = []

    # --- matching names to rows of ours

    def _user(self, raw: _Raw, cache: dict) -> tuple[int | None, str | None]:
        key = (raw.email, raw.person)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._match_user(raw)
        return found

    def _match_user(self, raw: _Raw) -> tuple[int | None, str | None]:
        if raw.email:
            user_id = self.by_email.get(raw.email)
            return (user_id, None) if user_id else (None, f"No user has the e-mail {raw.email}.")
        if raw.person:
            found = self.by_name.get(_key(raw.person), [])
            if len(found) == 1:
                return found[0], None
            if found:
                return None, f"Several people are called “{raw.person}”; add an e-mail column to tell them apart."
            return None, f"No user is called “{raw.person}”."
        return None, "The row names no person (an e-mail, or a first and last name)."

    def _project(self, raw: _Raw, cache: dict) -> tuple[int | None, str | None]:
        if not raw.project:
            return None, "The project is missing."
        cache_key = (raw.project, raw.client)
        if cache_key not in cache:
            found = self.projects_by_name.get(_key(raw.project), [])
            if raw.client:
                found = [pid for pid in found if _key(self.projects[pid].account) == _key(raw.client)]
            where = f" for client “{raw.client}”" if raw.client else ""
            if len(found) == 1:
                cache[cache_key] = (found[0], None)
            elif found:
                cache[cache_key] = (None, f"Several projects are called “{raw.project}”{where}; "
                                          "add a client column to tell them apart.")
            else:
                cache[cache_key] = (None, f"No project is called “{raw.project}”{where}.")
        return cache[cache_key]

    # --- the rules

    def check(self, report: ImportReport, lock: bool = False) -> None:
        """Match and check every row by EntryRules (the grid's rules); with lock (a real import), the rows'
        weeks stay locked until commit."""
        from psa.projects.models import Task
        from psa.timesheets.services import week_start

        project_cache: dict = {}
        user_cache: dict = {}
        matched: list[tuple[_Raw, int | None, int | None]] = []
        for raw in self.raws:
            user_id, error = self._user(raw, user_cache)
            if error:
                raw.errors.append(error)
            project_id, error = self._project(raw, project_cache)
            if error:
                raw.errors.append(error)
            matched.append((raw, user_id, project_id))

        project_ids = {pid for _, _, pid in matched if pid}
        user_ids = {uid for _, uid, _ in matched if uid}
        days = {raw.day for raw in self.raws if raw.day}

        tasks: dict[tuple[int, str], list[int]] = defaultdict(list)
        if project_ids:
            for task_id, project_id, name in db.session.execute(
                    sa.select(Task.id, Task.project_id, Task.name).where(Task.project_id.in_(project_ids))):
                tasks[(project_id, _key(name))].append(task_id)
        # the weeks first, locked when writing (EntryRules loads them before the time already logged): a save,
        # submit or approval of one of them waits for the import (and the import for it), so what is checked
        # below is what the rows are written against
        rules = EntryRules([self.users[uid] for uid in sorted(user_ids)], project_ids,
                           task_ids=[task_id for ids in tasks.values() for task_id in ids], days=days, lock=lock)
        existing: Counter = Counter()
        for row in rules.entries:
            existing[(row[0], row[1], row[2], row[3], row[4], clean_note(row[5]))] += 1

        mondays: dict[date, date] = {}
        task_cache: dict[tuple[int, str], tuple[int | None, str | None]] = {}

        def monday_of(day: date) -> date:
            monday = mondays.get(day)
            if monday is None:
                monday = mondays[day] = week_start(day)
            return monday

        def task_of(project_id: int, name: str) -> tuple[int | None, str | None]:
            found = task_cache.get((project_id, name))
            if found is None:
                ids = tasks.get((project_id, _key(name)), [])
                project_name = self.projects[project_id].name
                found = task_cache[(project_id, name)] = (
                    (ids[0], None) if len(ids) == 1 else
                    (None, EntryRules.no_task_called(project_name, name, several=True)) if ids else
                    (None, None) if self.unknown_task_on_project else
                    (None, EntryRules.no_task_called(project_name, name)))
            return found

        candidates: list[tuple[_Raw, int, int, int | None]] = []
        refusals = rules.refusals
        add_minutes = rules.add_minutes
        for raw, user_id, project_id in matched:
            task_id = None
            if project_id and raw.task:
                task_id, error = task_of(project_id, raw.task)
                if error:
                    raw.errors.append(error)
                elif task_id is None:
                    report.untasked.append(raw.line)
            if raw.errors or not (user_id and project_id and raw.day and raw.minutes):
                continue
            identity = (user_id, raw.day, project_id, task_id, raw.minutes, raw.note)
            if existing[identity] > 0:  # a multiset: each entry there matches one row of the file
                existing[identity] -= 1
                report.duplicates.append(raw.line)
                continue
            refused = refusals(user_id, project_id, task_id, raw.day)
            if refused:
                raw.errors.extend(refused)
            add_minutes(user_id, raw.day, raw.minutes)
            candidates.append((raw, user_id, project_id, task_id))

        for raw, user_id, _project_id, _task_id in candidates:
            refusal = rules.day_total_refusal(user_id, raw.day)
            if refusal:
                raw.errors.append(refusal)

        report.errors = [RowError(raw.line, message) for raw in self.raws for message in raw.errors]
        if report.errors:
            return
        people: dict[int, PersonSummary] = {}
        new_weeks: set[tuple[int, date]] = set()
        for raw, user_id, project_id, task_id in candidates:
            monday = monday_of(raw.day)
            if (user_id, monday) not in rules.weeks:
                new_weeks.add((user_id, monday))
            billable = rules.billable_for(project_id, raw.billable)
            self.to_create.append({"user_id": user_id, "project_id": project_id, "task_id": task_id,
                                   "entry_date": raw.day, "minutes": raw.minutes, "billable": billable,
                                   "note": raw.note, "_week": monday})
            summary = people.setdefault(user_id, PersonSummary(self.users[user_id].name))
            summary.entries += 1
            summary.minutes += raw.minutes
        report.entries = len(self.to_create)
        report.minutes = sum(row["minutes"] for row in self.to_create)
        report.new_timesheets = len(new_weeks)
        report.people = sorted(people.values(), key=lambda p: p.name.casefold())
        self.sheets, self.new_weeks = rules.weeks, new_weeks

    # --- writing

    def write(self, actor, report: ImportReport) -> None:
        from psa.projects.services import refresh_after_time_change
        from psa.timesheets.models import TimeEntry, Timesheet
        from psa.timesheets.services import RateBook

        now = utcnow()
        sheet_ids = {key: value[0] for key, value in self.sheets.items()}
        if self.new_weeks:
            try:
                db.session.execute(sa.insert(Timesheet), [
                    {"user_id": user_id, "week_start": monday, "state": "draft"}
                    for user_id, monday in sorted(self.new_weeks)])
            except IntegrityError:
                db.session.rollback()
                raise Conflict("Someone logged time in the same weeks while the file was being imported; "
                               "nothing was imported. Run the import again.") from None
            user_ids = {user_id for user_id, _ in self.new_weeks}
            mondays = [monday for _, monday in self.new_weeks]
            for sheet_id, user_id, monday in db.session.execute(
                    sa.select(Timesheet.id, Timesheet.user_id, Timesheet.week_start)
                    .where(Timesheet.user_id.in_(user_ids), Timesheet.week_start.between(min(mondays), max(mondays)))):
                sheet_ids[(user_id, monday)] = sheet_id
        book = RateBook({row["user_id"] for row in self.to_create}, {row["project_id"] for row in self.to_create})
        for row in self.to_create:
            rates = book.resolve(row["user_id"], self.users[row["user_id"]].role, row["project_id"], row["entry_date"])
            row["timesheet_id"] = sheet_ids[(row["user_id"], row.pop("_week"))]
            row["bill_rate"], row["cost_rate"] = rates.bill, rates.cost
            row["created_at"] = row["updated_at"] = now
        for start in range(0, len(self.to_create), INSERT_CHUNK):
            db.session.execute(sa.insert(TimeEntry), self.to_create[start:start + INSERT_CHUNK])
        record_audit(actor, "time.imported", None, after={
            "format": report.format, "entries": report.entries, "duplicates": len(report.duplicates),
            "timesheets_created": report.new_timesheets})
        refresh_after_time_change({row["project_id"] for row in self.to_create})
        db.session.flush()
