"""CSV time import (SPEC §4, §5): our own export, Harvest and Toggl Track, all-or-nothing, with a dry run.

The file's format is told by its header row (columns are matched by name, in any order, whatever their
case). People are matched by e-mail, or by name where the file has no e-mail; projects by name within
the client (account) where the file names one; tasks by name within their project. Nothing is ever
created but time entries and the draft timesheets of the weeks they fall in.

Files are read as real exports write them (SPEC §4): as a stream (a year of a team's Harvest export is tens
of megabytes), with or without a byte-order mark, CRLF or LF. Harvest's and Toggl's Task column often holds
an activity ("Design") rather than one of our tasks: a row whose task is one of the project's goes on it,
any other goes on the project with the name kept as the entry's activity (strict_tasks refuses it instead;
our own format always does, its activity having a column of its own).
Durations round half-up to whole minutes (durations.half_up_minutes); a Harvest or Toggl row that rounds to
0 is skipped with a warning. Dates: YYYY-MM-DD, day-first dotted (26.01.2015) and slashed; the order of a
file's slashed dates is told by a date whose first number is over 12 (day/month) or whose second is
(month/day), else the caller says it (date_order) — the import never guesses.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from psa.core.audit import record_audit
from psa.core.db import begin_write, utcnow
from psa.core.errors import ValidationError
from psa.core.validation import DATE_WINDOW_MESSAGE, in_window
from psa.extensions import db
from psa.timesheets.durations import DurationError, parse_duration, seconds_to_minutes
from psa.timesheets.models import ACTIVITY_MAX_LENGTH
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
             "billable": "billable", "note": "note", "client": "account", "activity": "activity"},
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

#: The orders a file's slashed dates may be written in: value → what the form shows.
DATE_ORDERS = {"mdy": "month/day/year (3/4/2026 is 4 March)", "dmy": "day/month/year (3/4/2026 is 3 April)"}
#: The largest time import accepted (SPEC §4: a year of a 100-person team's Harvest export is about 50 MB).
MAX_IMPORT_BYTES = 64 * 1024 * 1024

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_HINT = "write YYYY-MM-DD, DD.MM.YYYY or a slashed date such as 1/26/2026"
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


class PlannedEntry(NamedTuple):
    """The entry one line of the file becomes."""

    line: int
    person: str
    day: date
    project: str
    #: The task's name, or "" when the entry goes on the project.
    task: str
    activity: str
    minutes: int
    billable: bool


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
    #: Rows (to be) put on one of their project's tasks.
    on_task: int = 0
    #: Line numbers of rows whose task is not one of the project's: they go on the project without a task,
    #: the name kept as the entry's activity.
    untasked: list[int] = field(default_factory=list)
    #: Activity → how many of those rows name it.
    activities: Counter = field(default_factory=Counter)
    #: Line numbers of rows skipped because their duration rounds to 0 minutes (Toggl's 00:00:02).
    skipped_zero: list[int] = field(default_factory=list)
    #: How the file's slashed dates were read ("mdy", "dmy"), None when it has none.
    date_order: str | None = None
    errors: list[RowError] = field(default_factory=list)
    #: Weeks with no timesheet yet (created as drafts).
    new_timesheets: int = 0
    people: list[PersonSummary] = field(default_factory=list)
    #: What each row becomes, in the file's order (duplicates and skipped rows are not there).
    plan: list[PlannedEntry] = field(default_factory=list)

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

    @property
    def skipped_zero_lines(self) -> str:
        return line_ranges(self.skipped_zero)

    @property
    def date_order_label(self) -> str:
        return DATE_ORDERS.get(self.date_order or "", "")

    def activity_counts(self) -> list[tuple[str, int]]:
        """(activity, rows), most rows first."""
        return sorted(self.activities.items(), key=lambda item: (-item[1], item[0].casefold()))


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
    #: None when missing or bad; 0 when the duration rounds to 0 minutes (the row is skipped).
    minutes: int | None
    billable: bool
    note: str
    email: str
    person: str
    project: str
    client: str
    task: str
    activity: str
    errors: list[str]
    #: A slashed date, read once the file's order is known.
    date_text: str = ""


#: The fields a row is read into, in this order.
_FIELDS = ("date", "time", "billable", "note", "email", "name", "first_name", "last_name", "project", "client", "task",
           "activity")


def _text_lines(data: bytes | str | IO[bytes]) -> Iterator[str]:
    """The file's lines as text, read as a stream: UTF-8 with or without a byte-order mark. Raises
    ValidationError at the file field for a file that is not UTF-8 text."""
    if isinstance(data, str):
        text: IO[str] = io.StringIO(data.removeprefix("\ufeff"), newline="")
    else:
        text = io.TextIOWrapper(io.BytesIO(data) if isinstance(data, bytes) else data, encoding="utf-8-sig",
                                newline="")
    try:
        for line in text:
            if "\x00" in line:
                raise ValidationError({"file": "The file is not a CSV text file."})
            yield line
    except UnicodeDecodeError:
        raise ValidationError({"file": "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."}) \
            from None
    finally:
        if isinstance(text, io.TextIOWrapper):
            text.detach()  # the caller's stream stays open: it is the caller's to close


def _read(data: bytes | str | IO[bytes]) -> tuple[str, list[_Raw], _RowParser]:
    reader = csv.reader(_text_lines(data))
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
        parse = parser.parse
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            count = len(values)
            cells = [values[i].strip() if 0 <= i < count else "" for i in picks]
            if not any(cells) and not any(value.strip() for value in values):
                continue
            rows.append(parse(line, *cells))
    except csv.Error as exc:
        raise ValidationError({"file": f"Line {reader.line_num} cannot be read as CSV ({exc})."}) from None
    return kind, rows, parser


class _RowParser:
    """Reads the cells of one row into a _Raw; dates and durations repeat, so each text is parsed once."""

    def __init__(self, kind: str, has_names: bool):
        self.toggl = kind.startswith("toggl")
        #: Harvest and Toggl exports hold entries that round to 0 minutes: skipped; ours refuses them (the grid's rule).
        self.zero_ok = kind != "ours"
        self.has_names = has_names
        self.dates: dict[str, tuple[date | None, str | None]] = {}
        self.durations: dict[str, tuple[int | None, str | None]] = {}
        #: Rows whose date is slashed, read by resolve_dates once the order is known.
        self.slashed_rows: list[_Raw] = []
        #: Orders the file's slashed dates prove ("dmy" for 26/1/2026, "mdy" for 1/26/2026), and one date
        #: that reads both ways (for the question).
        self.evidence: set[str] = set()
        self.ambiguous_sample = ""

    def _day(self, text: str) -> tuple[date | None, str | None]:
        found = self.dates.get(text)
        if found is None:
            day: date | None = None
            error = None
            slashed = _SLASHED_DATE.match(text)
            if slashed:
                first, second = int(slashed.group(1)), int(slashed.group(2))
                if first > 12 and second <= 12:
                    self.evidence.add("dmy")
                elif second > 12 and first <= 12:
                    self.evidence.add("mdy")
                elif first <= 12 and second <= 12 and first != second and not self.ambiguous_sample:
                    self.ambiguous_sample = text
                found = self.dates[text] = (None, "slashed")
                return found
            day = parse_day(text)
            if day is None:
                error = f"“{text[:40]}” is not a date; {_DATE_HINT}." if text else "The date is missing."
            found = self.dates[text] = _in_window(day, error)
        return found

    def _minutes(self, text: str) -> tuple[int | None, str | None]:
        found = self.durations.get(text)
        if found is None:
            try:
                minutes = (parse_toggl_duration(text) if self.toggl
                           else parse_duration(text, zero_ok=self.zero_ok))
                error = ("The hours are missing." if minutes is None else
                         None if minutes == 0 else minutes_refusal(minutes))
            except DurationError as exc:
                minutes, error = None, str(exc)
            found = self.durations[text] = (minutes if error is None else None, error)
        return found

    def parse(self, line, day_text, time_text, flag, note, email, name, first, last, project, client, task,
              activity) -> _Raw:
        errors: list[str] = []
        day, error = self._day(day_text)
        slashed = error == "slashed"
        if error and not slashed:
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
        if activity:
            activity = _activity(unescape_cell(activity))
        raw = _Raw(line=line, day=day, minutes=minutes, billable=billable, note=note, email=email.lower(),
                   person=name, project=unescape_cell(project), client=unescape_cell(client),
                   task=unescape_cell(task), activity=activity, errors=errors)
        if slashed:
            raw.date_text = day_text
            self.slashed_rows.append(raw)
        return raw

    def date_order(self, chosen: str | None) -> str | None:
        """The order the file's slashed dates are read in: the one chosen, else the one a date proves; None
        when the file has none. Raises ValidationError at date_order when the file cannot tell."""
        if not self.slashed_rows:
            return None
        if chosen in DATE_ORDERS:
            return chosen
        if len(self.evidence) == 1:
            return next(iter(self.evidence))
        if not self.evidence and not self.ambiguous_sample:
            return "mdy"  # every slashed date reads the same either way (5/5/2026)
        if self.evidence:
            raise ValidationError({"date_order": "The file's slashed dates are written both ways (some day/month, "
                                                 "some month/day): choose the order it uses; dates that do not "
                                                 "read that way are listed as errors."})
        sample = self.ambiguous_sample or self.slashed_rows[0].date_text
        raise ValidationError({"date_order": f"The file's dates read both ways (“{sample}”): month/day or "
                                             "day/month? Choose the order the file uses and check it again."})

    def resolve_dates(self, order: str | None) -> None:
        """Read the slashed dates in `order` (the date's error, if any, goes first in its row's errors)."""
        if not order:
            return
        read: dict[str, tuple[date | None, str | None]] = {}
        for raw in self.slashed_rows:
            found = read.get(raw.date_text)
            if found is None:
                match = _SLASHED_DATE.match(raw.date_text)
                first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
                month, day_of_month = (first, second) if order == "mdy" else (second, first)
                try:
                    day: date | None = date(year, month, day_of_month)
                    error = None
                except ValueError:
                    day, error = None, (f"“{raw.date_text}” is not a date read as {order_words(order)}; "
                                        f"{_DATE_HINT}.")
                found = read[raw.date_text] = _in_window(day, error)
            raw.day = found[0]
            if found[1]:
                raw.errors.insert(0, found[1])


def order_words(order: str) -> str:
    return "month/day/year" if order == "mdy" else "day/month/year"


def _in_window(day: date | None, error: str | None) -> tuple[date | None, str | None]:
    if day and not in_window(day):
        return None, f"{day.isoformat()}: {DATE_WINDOW_MESSAGE}"
    return day, error


def _activity(text: str) -> str:
    """An activity name as an entry keeps it: one line, at most ACTIVITY_MAX_LENGTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= ACTIVITY_MAX_LENGTH else text[:ACTIVITY_MAX_LENGTH - 1] + "…"


def parse_day(text: str) -> date | None:
    """YYYY-MM-DD or DD.MM.YYYY (day first, as Harvest writes dates in German, Swiss and other locales), else
    None. Slashed dates depend on the file's order: see _RowParser.date_order."""
    match = _ISO_DATE.match(text)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        match = _DOTTED_DATE.match(text)
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None
    return None


def parse_toggl_duration(text: str) -> int | None:
    """Toggl's HH:MM:SS in whole minutes, half a minute rounding up (0 for under half a minute); other
    spellings as the grid reads them."""
    match = _HMS.match(text)
    if not match:
        return parse_duration(text, zero_ok=True)
    if len(match.group(1).lstrip("0")) > 4:
        raise DurationError(f"“{text[:40]}” is too long for a duration; a day has at most 24 hours.")
    return seconds_to_minutes(int(match.group(1)) * 3600 + int(match.group(2)) * 60 + int(match.group(3)))


# --- the import ----------------------------------------------------------------------------------


def import_time_entries(actor, data: bytes | str | IO[bytes], *, dry_run: bool = True, strict_tasks: bool = False,
                        date_order: str | None = None) -> ImportReport:
    """Read a CSV file of time entries and, unless it is a dry run or a row is bad, create them.

    `data` is the file: bytes, text, or a binary stream (an upload), read as a stream. A Harvest or Toggl row
    naming a task its project does not have (their tasks are often activities such as "Design") goes on the
    project without a task, the name kept as the entry's activity; with strict_tasks it is refused instead, as
    it always is in our format (which carries the activity in a column of its own).
    `date_order` ("mdy" or "dmy") says how the file writes slashed dates when none of them tells.

    A file that cannot be read at all, or whose slashed dates read both ways with no date_order, raises
    ValidationError (at "file" or "date_order"); bad rows are listed in the report's errors and nothing is
    written. Returns the report either way.
    """
    kind, raws, parser = _read(data)
    if not raws:
        raise ValidationError({"file": "The file has a header line but no rows of time."})
    order = parser.date_order(date_order)
    parser.resolve_dates(order)
    report = ImportReport(format=kind, dry_run=dry_run, rows=len(raws), date_order=order)
    report.skipped_zero = [raw.line for raw in raws if raw.minutes == 0]
    if report.skipped_zero:
        raws = [raw for raw in raws if raw.minutes != 0]
    if not dry_run:
        begin_write()  # SQLite: the import holds the write lock from its first read to its commit
    # our format has an activity column: a task it names that the project lacks is a mistake, as in the grid
    plan = _Plan(raws, strict_tasks=strict_tasks or kind == "ours")
    plan.check(report, lock=not dry_run)
    if report.errors or dry_run or not plan.to_create:
        return report
    plan.write(actor, report)
    return report


class _Plan:
    """The rows of one file matched against the database, checked, and (when asked) written."""

    def __init__(self, raws: list[_Raw], strict_tasks: bool = False):
        from psa.accounts.models import Account
        from psa.auth.models import User
        from psa.projects.models import Project

        self.raws = raws
        self.strict_tasks = strict_tasks
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
        task_names: dict[int, str] = {}
        if project_ids:
            for task_id, project_id, name in db.session.execute(
                    sa.select(Task.id, Task.project_id, Task.name).where(Task.project_id.in_(project_ids))):
                tasks[(project_id, _key(name))].append(task_id)
                task_names[task_id] = name
        # the weeks first, locked when writing (EntryRules loads them before the time already logged): a save,
        # submit or approval of one of them waits for the import (and the import for it), so what is checked
        # below is what the rows are written against
        rules = EntryRules([self.users[uid] for uid in sorted(user_ids)], project_ids,
                           task_ids=[task_id for ids in tasks.values() for task_id in ids], days=days, lock=lock)
        existing: Counter = Counter()
        for row in rules.entries:  # (user, day, project, task, minutes, note, activity)
            existing[(row[0], row[1], row[2], row[3], row[4], clean_note(row[5]), row[6])] += 1

        mondays: dict[date, date] = {}
        task_cache: dict[tuple[int, str], tuple[int | None, str | None]] = {}

        def monday_of(day: date) -> date:
            monday = mondays.get(day)
            if monday is None:
                monday = mondays[day] = week_start(day)
            return monday

        def task_of(project_id: int, name: str) -> tuple[int | None, str | None]:
            """The project's one task of that name; else (None, None), the row going on the project (or the
            task rule's refusal with strict_tasks)."""
            found = task_cache.get((project_id, name))
            if found is None:
                ids = tasks.get((project_id, _key(name)), [])
                project_name = self.projects[project_id].name
                found = task_cache[(project_id, name)] = (
                    (ids[0], None) if len(ids) == 1 else
                    (None, None) if not self.strict_tasks else
                    (None, EntryRules.no_task_called(project_name, name, several=bool(ids))))
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
                elif task_id is None and not raw.activity:
                    raw.activity = _activity(raw.task)  # Harvest's "Design": kept on the entry
            if raw.errors or not (user_id and project_id and raw.day and raw.minutes):
                continue
            identity = (user_id, raw.day, project_id, task_id, raw.minutes, raw.note, raw.activity)
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
        plan = report.plan
        for raw, user_id, project_id, task_id in candidates:
            monday = monday_of(raw.day)
            if (user_id, monday) not in rules.weeks:
                new_weeks.add((user_id, monday))
            billable = rules.billable_for(project_id, raw.billable)
            self.to_create.append({"user_id": user_id, "project_id": project_id, "task_id": task_id,
                                   "entry_date": raw.day, "minutes": raw.minutes, "billable": billable,
                                   "note": raw.note, "activity": raw.activity, "_week": monday})
            if task_id is not None:
                report.on_task += 1
            elif raw.activity:  # a task not the project's, or our export's activity column
                report.untasked.append(raw.line)
                report.activities[raw.activity] += 1
            summary = people.setdefault(user_id, PersonSummary(self.users[user_id].name))
            summary.entries += 1
            summary.minutes += raw.minutes
            plan.append(PlannedEntry(raw.line, summary.name, raw.day, self.projects[project_id].name,
                                     task_names[task_id] if task_id is not None else "", raw.activity,
                                     raw.minutes, billable))
        report.entries = len(self.to_create)
        report.minutes = sum(row["minutes"] for row in self.to_create)
        report.new_timesheets = len(new_weeks)
        report.people = sorted(people.values(), key=lambda p: p.name.casefold())
        self.sheets, self.new_weeks = rules.weeks, new_weeks

    # --- writing

    def _place_lines(self, existing_sheet_ids) -> None:
        """Each row's row_position, its line's place in its week's grid: a line the week already has keeps its
        place; a new line goes under the week's lines, in the order the file first names it (the grid's order,
        services.save_week)."""
        from psa.timesheets.models import TimeEntry

        places: dict[tuple, int | None] = {}  # (sheet, project, task, billable) -> place; None: saved unordered
        following: dict[int, int] = {}  # sheet -> the place of its next new line
        sheet_ids = sorted({row["timesheet_id"] for row in self.to_create} & set(existing_sheet_ids))
        for start in range(0, len(sheet_ids), INSERT_CHUNK):
            for sheet_id, project_id, task_id, billable, place in db.session.execute(
                    sa.select(TimeEntry.timesheet_id, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.billable,
                              sa.func.min(TimeEntry.row_position))
                    .where(TimeEntry.timesheet_id.in_(sheet_ids[start:start + INSERT_CHUNK]))
                    .group_by(TimeEntry.timesheet_id, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.billable)):
                places[(sheet_id, project_id, task_id, bool(billable))] = place
                following[sheet_id] = max(following.get(sheet_id, 0), -1 if place is None else place + 1)
        for row in self.to_create:
            key = (row["timesheet_id"], row["project_id"], row["task_id"], bool(row["billable"]))
            if key not in places:
                places[key] = following.get(key[0], 0)
                following[key[0]] = places[key] + 1
            row["row_position"] = places[key]

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
        self._place_lines({key: value[0] for key, value in self.sheets.items()}.values())
        # Core, not the ORM's bulk insert: the ORM leaves a None (an entry without a task) out of a row's keys,
        # so rows with and without a task would each go to the database alone
        insert = TimeEntry.__table__.insert()
        for start in range(0, len(self.to_create), INSERT_CHUNK):
            db.session.execute(insert, self.to_create[start:start + INSERT_CHUNK])
        record_audit(actor, "time.imported", None, after={
            "format": report.format, "entries": report.entries, "duplicates": len(report.duplicates),
            "timesheets_created": report.new_timesheets})
        refresh_after_time_change({row["project_id"] for row in self.to_create})
        db.session.flush()
