"""Forms of the timesheet pages.

The weekly grid is posted as plain inputs with stable names, one line per row index:
``rows-0-project``, ``rows-0-task``, ``rows-0-billable``, ``rows-0-kind`` (time-off rows),
``rows-0-2026-10-05`` (the duration typed for that day) and ``rows-0-2026-10-05-note``.
WeekGrid reads them into the services' GridRows and puts the services' messages (keyed ``r0-…``) back
at the inputs. Only the shape of the input is judged here; the rules are services.save_week's.
A note is a <textarea> (its line breaks survive; browsers post them as CRLF) read through
services.clean_note, and a saved cell is shown as services.saved_cell reads it, so a week posted back
unchanged compares equal to what is stored and save_week leaves it alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from psa.core.errors import ValidationError
from psa.timesheets.durations import DurationError, parse_duration
from psa.timesheets.models import TIME_OFF_KINDS
from psa.timesheets.rules import MAX_NOTE
from psa.timesheets.services import GridCell, GridRow, clean_note, saved_cell, week_days

#: Empty project lines offered under the saved ones.
BLANK_LINES = 3
#: More lines than anyone fills in a week; a post with more is refused as a whole.
MAX_LINES = 200

_INPUT = re.compile(r"^rows-(\d{1,4})-(project|task|billable|kind|\d{4}-\d{2}-\d{2}(?:-note)?)$")
_SERVICE_KEY = re.compile(r"^r(\d+)-(.+)$")


def _id(value: str | None) -> int | None:
    """An id from a select; None when blank, 0 when not a number (the service then says what is wrong)."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() and len(value) <= 9 else 0


@dataclass
class Line:
    """One line of the grid as the page draws it and posts it back."""

    index: int
    #: vacation, sick or other for a time-off line; None for project time.
    kind: str | None = None
    project_id: int | None = None
    task_id: int | None = None
    billable: bool = True
    cells: dict[date, GridCell] = field(default_factory=dict)
    #: It holds time on a locked day, so its project, task and billable flag are shown, not offered.
    fixed: bool = False

    def name(self, part: str | date) -> str:
        """The input name of a part of the line: project, task, billable, kind, a day, or a day's note."""
        return f"rows-{self.index}-{part.isoformat() if isinstance(part, date) else part}"

    def note_name(self, day: date) -> str:
        return f"rows-{self.index}-{day.isoformat()}-note"

    def cell(self, day: date) -> GridCell:
        return self.cells.get(day) or GridCell()

    def minutes(self, day: date) -> int:
        """The minutes typed for the day; 0 when blank or not a duration."""
        try:
            return parse_duration(self.cell(day).text) or 0
        except DurationError:
            return 0

    def total(self, days: Iterable[date]) -> int:
        return sum(self.minutes(day) for day in days)

    @property
    def has_values(self) -> bool:
        return any((c.text or "").strip() or (c.note or "").strip() for c in self.cells.values())

    @property
    def is_blank(self) -> bool:
        """Nothing typed (a project chosen without hours saves nothing): the line is not sent to the
        service, so its saved time, if it had any, is deleted — as when every cell is emptied."""
        return not self.has_values


class WeekGrid:
    """The lines of one week, the messages at their inputs, and the totals the page shows."""

    #: The longest note a cell takes: the rule's limit (rules.MAX_NOTE), which the page's maxlength repeats.
    note_max_length = MAX_NOTE

    def __init__(self, monday: date, lines: list[Line]):
        self.monday = monday
        self.days = week_days(monday)
        self.lines = lines
        #: Messages by input name.
        self.errors: dict[str, str] = {}
        #: Messages that belong to no input.
        self.form_errors: list[str] = []
        self._positions: list[int] = []

    # --- building ----------------------------------------------------------------------------------

    @classmethod
    def from_saved(cls, monday: date, entries, offs, *, copied: Iterable[tuple] = (),
                   order: Callable[[tuple], object] | None = None, blank_lines: int = 0,
                   blank_billable: bool = True) -> WeekGrid:
        """The saved week: one line per (project, task, billable) with the minutes and notes of each day
        (several entries of a day are added up, their notes joined, as save_week compares them), with
        the rows copied from another week that are not there yet; then `blank_lines` empty lines; then a
        line per kind of time off."""
        days = set(week_days(monday))
        by_key: dict[tuple, dict[date, list]] = {}
        for entry in entries:
            if entry.entry_date in days:
                by_key.setdefault((entry.project_id, entry.task_id, entry.billable), {}) \
                    .setdefault(entry.entry_date, []).append(entry)
        for key in copied:
            by_key.setdefault(tuple(key), {})
        keys = sorted(by_key, key=order) if order else list(by_key)
        lines = []
        for index, key in enumerate(keys):
            cells = {}
            for day, items in by_key[key].items():
                minutes, note = saved_cell(items)
                cells[day] = GridCell(_hm(minutes), note)
            lines.append(Line(index=index, project_id=key[0], task_id=key[1], billable=bool(key[2]), cells=cells))
        lines += [Line(index=len(lines) + i, billable=blank_billable) for i in range(blank_lines)]
        grid = cls(monday, lines)
        off_cells: dict[str, dict[date, GridCell]] = {kind: {} for kind in TIME_OFF_KINDS}
        for off in offs:
            if off.entry_date in days and off.kind in off_cells:
                off_cells[off.kind][off.entry_date] = GridCell(_hm(off.minutes), saved_cell([off])[1])
        for kind in TIME_OFF_KINDS:
            grid.lines.append(Line(index=grid.next_index, kind=kind, billable=False, cells=off_cells[kind]))
        return grid

    @classmethod
    def from_formdata(cls, monday: date, formdata: Mapping[str, str]) -> WeekGrid:
        """The grid as posted: every line by its index, as typed, in index order (project lines first)."""
        days = {day.isoformat(): day for day in week_days(monday)}
        parts: dict[int, dict[str, str]] = {}
        for name in formdata:
            match = _INPUT.match(name)
            if match:
                parts.setdefault(int(match.group(1)), {})[match.group(2)] = formdata.get(name, "")
        lines = []
        for index in sorted(parts):
            values = parts[index]
            cells = {}
            for iso, day in days.items():
                text, note = values.get(iso, ""), values.get(f"{iso}-note", "")
                if text or note:
                    cells[day] = GridCell(text.strip(), clean_note(note))
            kind = values.get("kind")
            if kind is not None:
                lines.append(Line(index=index, kind=kind.strip(), billable=False, cells=cells))
            else:
                lines.append(Line(index=index, project_id=_id(values.get("project")), task_id=_id(values.get("task")),
                                  billable="billable" in values, cells=cells))
        lines.sort(key=lambda line: (line.kind is not None, line.index))
        grid = cls(monday, lines)
        if len(lines) > MAX_LINES:
            grid.form_errors.append(f"A week holds at most {MAX_LINES} lines; nothing was saved.")
        return grid

    # --- checking and sending ----------------------------------------------------------------------

    def check(self) -> bool:
        """Shape checks the service does not make: a note needs the hours it is about. True if fine."""
        for line in self.lines:
            for day, cell in line.cells.items():
                if cell.note and not cell.text:
                    self.errors.setdefault(line.name(day), "Add the hours this note is about, or clear the note.")
        return not self.errors and not self.form_errors

    def grid_rows(self) -> list[GridRow]:
        """The lines with something chosen or typed, as save_week takes them (blank lines are left out)."""
        rows, self._positions = [], []
        for line in self.lines:
            if line.is_blank:
                continue
            self._positions.append(line.index)
            if line.kind is not None:
                rows.append(GridRow(time_off_kind=line.kind, billable=False, cells=dict(line.cells)))
            else:
                rows.append(GridRow(project_id=line.project_id, task_id=line.task_id, billable=line.billable,
                                    cells=dict(line.cells)))
        return rows

    def apply_errors(self, exc: ValidationError) -> None:
        """Put save_week's messages (keyed r<row>-<day|project|task|kind>) at the inputs they name."""
        for key, message in exc.errors.items():
            match = _SERVICE_KEY.match(key)
            position = int(match.group(1)) if match else -1
            if match and position < len(self._positions):
                self.errors.setdefault(f"rows-{self._positions[position]}-{match.group(2)}", message)
            else:
                self.form_errors.append(message)

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    # --- what the page shows -----------------------------------------------------------------------

    @property
    def next_index(self) -> int:
        return max((line.index for line in self.lines), default=-1) + 1

    @property
    def project_lines(self) -> list[Line]:
        return [line for line in self.lines if line.kind is None]

    @property
    def off_lines(self) -> list[Line]:
        return [line for line in self.lines if line.kind is not None]

    def mark_fixed(self, is_locked: Callable[[date], bool]) -> None:
        """Lines holding time on a locked day keep their project, task and billable flag."""
        for line in self.lines:
            line.fixed = any(is_locked(day) and (cell.text or cell.note) for day, cell in line.cells.items())

    def drop_empty(self) -> None:
        """For a read-only week: only the lines that hold something."""
        self.lines = [line for line in self.lines if line.has_values]

    def day_total(self, day: date, lines: Iterable[Line] | None = None) -> int:
        return sum(line.minutes(day) for line in (self.lines if lines is None else lines))

    def total(self, lines: Iterable[Line] | None = None) -> int:
        lines = list(self.lines if lines is None else lines)
        return sum(line.total(self.days) for line in lines)

    @property
    def billable_total(self) -> int:
        return self.total(line for line in self.project_lines if line.billable)


def _hm(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}" if minutes else ""


class RejectForm(FlaskForm):
    """Why a week goes back to its owner; the service requires the reason and says so at the field."""

    reason = TextAreaField("Reason", validators=[Length(max=500, message="Use at most 500 characters.")],
                           filters=[lambda v: v.strip() if isinstance(v, str) else v])


class ReopenForm(FlaskForm):
    """Why an approved week is opened again; kept in the audit log."""

    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why the week is reopened."),
                                                 Length(max=500, message="Use at most 500 characters.")],
                           filters=[lambda v: v.strip() if isinstance(v, str) else v])
