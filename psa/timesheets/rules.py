"""The rules every way of logging time applies — the weekly grid, the CSV import and the API — in one place.

`EntryRules` is built once per save or import with the people, projects, tasks and days involved; it loads
what the rules need in a fixed number of queries (as `RateBook` does for rates) and answers per row. Each
rule answers None (the row may go in) or a `Refusal`: the message for a person, naming the rule it comes
from, so every path shows the same words and a test (or the API) can tell which rule refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

import sqlalchemy as sa

from psa.core.clock import user_today
from psa.extensions import db
from psa.timesheets.models import NOTE_MAX_LENGTH

#: The longest note an entry keeps: the size of time_entries.note (SPEC §4: 5,000 characters).
MAX_NOTE = NOTE_MAX_LENGTH
#: A day has 24 hours: no entry, and no day's entries and time off together, may hold more.
MAX_MINUTES = 1440
#: Project statuses that take time.
OPEN_FOR_TIME = ("active", "on_hold")
#: Week states that take changes (a submitted or approved week is read-only).
EDITABLE_STATES = ("draft", "rejected")

#: The rules, by the name a Refusal carries.
RULES = ("minutes", "note", "project", "task", "future", "lock", "week", "day_total")


class Refusal(str):
    """Why a rule refuses a row: the message shown to a person, with `.rule` naming the rule (one of RULES)."""

    rule: str

    def __new__(cls, message: str, rule: str) -> Refusal:
        refusal = super().__new__(cls, message)
        refusal.rule = rule
        return refusal

    def __reduce__(self):
        return Refusal, (str(self), self.rule)

    def followed_by(self, text: str) -> Refusal:
        """The same refusal with more words after it (what a path adds for its own context)."""
        return Refusal(f"{self} {text}", self.rule)


def minutes_refusal(minutes: int) -> Refusal | None:
    """An entry holds from 1 minute to 24 hours."""
    if minutes < 1:
        return Refusal("Enter a duration above 0.", "minutes")
    if minutes > MAX_MINUTES:
        return Refusal("A day has at most 24 hours.", "minutes")
    return None


def note_refusal(note: str) -> Refusal | None:
    """A note holds at most MAX_NOTE characters (its line breaks are kept and count)."""
    if len(note) > MAX_NOTE:
        return Refusal(f"Keep the note to {MAX_NOTE} characters (it has {len(note)}).", "note")
    return None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class EntryRules:
    """Every rule on time entries for a set of people, projects, tasks and days, loaded once.

    `users` are objects with `id`, `name` and `timezone` (model objects or rows). `days` are the dates the
    rows fall on. `replacing` names the weeks, as (user id, Monday), whose entries and time off the caller
    replaces whole (the grid): time already logged in them does not count towards a day's 24 hours. With
    `lock`, the weeks' rows are locked until the transaction ends (FOR UPDATE), so what is judged is what
    is written on.

    Queries: the projects, the memberships, the tasks, the weeks, the entries and the time off already logged
    (each only when there is something to ask; the settings row is read once per request).
    """

    def __init__(self, users: Iterable, project_ids: Iterable[int], *, task_ids: Iterable[int] = (),
                 days: Iterable[date] = (), replacing: Iterable[tuple[int, date]] = (), lock: bool = False):
        from psa.admin.services import get_settings
        from psa.projects.models import Project, Task, project_members
        from psa.timesheets.models import TimeEntry, TimeOff, Timesheet

        self.users = {user.id: user for user in users}
        user_ids = sorted(self.users)
        project_ids = sorted(set(project_ids))
        task_ids = sorted(set(task_ids))
        days = set(days)
        replacing = set(replacing)

        #: project id → (name, status, manager id, billing model)
        self.projects: dict[int, tuple[str, str, int, str]] = {}
        if project_ids:
            for row in db.session.execute(
                    sa.select(Project.id, Project.name, Project.status, Project.manager_id, Project.billing_model)
                    .where(Project.id.in_(project_ids))):
                self.projects[row[0]] = (row[1], row[2], row[3], row[4])
        self.members: set[tuple[int, int]] = set()
        if user_ids and self.projects:
            self.members = set(db.session.execute(
                sa.select(project_members.c.user_id, project_members.c.project_id)
                .where(project_members.c.user_id.in_(user_ids),
                       project_members.c.project_id.in_(list(self.projects)))
            ).all())
        #: task id → its project's id
        self.task_projects: dict[int, int] = dict(db.session.execute(
            sa.select(Task.id, Task.project_id).where(Task.id.in_(task_ids))).all()) if task_ids else {}

        settings = get_settings()
        self.lock_date: date | None = settings.time_lock_date
        self.allow_future_time: bool = bool(settings.allow_future_time)
        self.todays: dict[int, date] = {user_id: user_today(user) for user_id, user in self.users.items()}

        #: (user id, Monday) → (timesheet id, state), for the weeks that have a row
        self.weeks: dict[tuple[int, date], tuple[int, str]] = {}
        #: The entries already there on those days, outside the weeks replaced, as rows of (user id, day,
        #: project id, task id, minutes, note, activity)
        self.entries: list = []
        #: (user id, day) → minutes of entries and time off already there, outside the weeks replaced
        self.logged: Counter = Counter()
        self._added: Counter = Counter()
        if user_ids and days:
            first, last = min(days), max(days)
            # the weeks first (locked when writing): a save, submit or approval of one of them waits for this
            # transaction, and this one for it, so the time read below is the time written against
            weeks = (sa.select(Timesheet.id, Timesheet.user_id, Timesheet.week_start, Timesheet.state)
                     .where(Timesheet.user_id.in_(user_ids), Timesheet.week_start.between(_monday(first), last)))
            for sheet_id, user_id, monday, state in db.session.execute(
                    weeks.with_for_update(of=Timesheet) if lock else weeks):
                self.weeks[(user_id, monday)] = (sheet_id, state)
            mondays = {_monday(first) + timedelta(days=7 * n) for n in range((last - _monday(first)).days // 7 + 1)}
            if any((user_id, monday) not in replacing for user_id in user_ids for monday in mondays):
                # the entries themselves (one pass over them; an import also matches its duplicates against them)
                rows = db.session.execute(
                    sa.select(TimeEntry.user_id, TimeEntry.entry_date, TimeEntry.project_id, TimeEntry.task_id,
                              TimeEntry.minutes, TimeEntry.note, TimeEntry.activity)
                    .where(TimeEntry.user_id.in_(user_ids), TimeEntry.entry_date.between(first, last))).all()
                if replacing:
                    rows = [row for row in rows if (row[0], _monday(row[1])) not in replacing]
                self.entries = rows
                logged = self.logged
                for row in rows:
                    logged[(row[0], row[1])] += row[4]
                for user_id, day, minutes in db.session.execute(
                        sa.select(TimeOff.user_id, TimeOff.entry_date, sa.func.sum(TimeOff.minutes))
                        .where(TimeOff.user_id.in_(user_ids), TimeOff.entry_date.between(first, last))
                        .group_by(TimeOff.user_id, TimeOff.entry_date)):
                    if (user_id, _monday(day)) not in replacing:
                        logged[(user_id, day)] += int(minutes)
        self._row_verdicts: dict[tuple, tuple[Refusal, ...]] = {}
        self._day_verdicts: dict[tuple, tuple[Refusal, ...]] = {}

    # --- one rule each

    minutes_refusal = staticmethod(minutes_refusal)
    note_refusal = staticmethod(note_refusal)

    def project_refusal(self, user_id: int, project_id: int | None) -> Refusal | None:
        """Time goes on an active or on-hold project the user is a member or the manager of."""
        project = self.projects.get(project_id)
        if project is None:
            return Refusal("Choose an active project you are a member of.", "project")
        name, status, manager_id, _ = project
        if status not in OPEN_FOR_TIME:
            return Refusal(f"Project “{name}” is {status.replace('_', ' ')}; "
                           "time goes only on active or on-hold projects.", "project")
        if manager_id != user_id and (user_id, project_id) not in self.members:
            user = self.users.get(user_id)
            return Refusal(f"{user.name if user else 'The user'} is not a member of project “{name}”.", "project")
        return None

    def task_refusal(self, project_id: int, task_id: int | None) -> Refusal | None:
        """A task, when there is one, belongs to the entry's project."""
        if task_id is not None and self.task_projects.get(task_id) != project_id:
            return Refusal("That task belongs to another project.", "task")
        return None

    @staticmethod
    def no_task_called(project_name: str, task_name: str, several: bool = False) -> Refusal:
        """The task rule, when the task is given by name (an import) and the project has no task of that name."""
        if several:
            return Refusal(f"Project “{project_name}” has several tasks called “{task_name}”; time cannot be put "
                           "on one of them by name.", "task")
        return Refusal(f"Project “{project_name}” has no task called “{task_name}”.", "task")

    def future_refusal(self, user_id: int, day: date) -> Refusal | None:
        """No time ahead of the user's today (in the user's time zone), unless the settings allow it."""
        if day > self.todays[user_id] and not self.allow_future_time:
            return Refusal("Time cannot be logged ahead of today.", "future")
        return None

    def is_locked(self, day: date) -> bool:
        """Nothing on or before the time lock date may be created, changed or deleted."""
        return self.lock_date is not None and day <= self.lock_date

    def lock_refusal(self, day: date) -> Refusal | None:
        if self.is_locked(day):
            return Refusal(f"{day.isoformat()} is on or before the time lock date ({self.lock_date.isoformat()}); "
                           "it cannot change.", "lock")
        return None

    def week_state(self, user_id: int, day: date) -> str:
        """The state of the user's week holding the day (a week with no row yet is a draft)."""
        week = self.weeks.get((user_id, _monday(day)))
        return week[1] if week else "draft"

    def week_refusal(self, user_id: int, day: date) -> Refusal | None:
        """Only a draft or rejected week takes changes."""
        state = self.week_state(user_id, day)
        if state not in EDITABLE_STATES:
            user = self.users.get(user_id)
            return Refusal(f"{user.name if user else 'The user'}'s week of {_monday(day).isoformat()} is {state} "
                           "and read-only.", "week")
        return None

    def billable_for(self, project_id: int, requested: bool) -> bool:
        """Time on a non-billable project is never billable, whatever was asked; elsewhere as asked."""
        project = self.projects.get(project_id)
        return bool(requested) and not (project is not None and project[3] == "non_billable")

    # --- the day's 24 hours, over every row

    def add_minutes(self, user_id: int, day: date, minutes: int) -> None:
        """Count a row's minutes (an entry or time off) towards its day, before day_total_refusal is asked."""
        self._added[(user_id, day)] += minutes

    def day_total(self, user_id: int, day: date) -> int:
        return self.logged[(user_id, day)] + self._added[(user_id, day)]

    def day_total_refusal(self, user_id: int, day: date) -> Refusal | None:
        """The entries and time off of a day, those already logged and those added, hold at most 24 hours."""
        total = self.day_total(user_id, day)
        if total > MAX_MINUTES:
            user = self.users.get(user_id)
            return Refusal(f"More than 24 hours for {user.name if user else 'the user'} on {day.isoformat()} "
                           f"({total / 60:.2f} h with the time already logged and time off).", "day_total")
        return None

    # --- every per-row rule at once (the import, the API)

    def refusals(self, user_id: int, project_id: int, task_id: int | None, day: date) -> tuple[Refusal, ...]:
        """The project, task, future, lock and week rules for one row, in that order (() when it may go in).
        Minutes and notes are judged where they are read (minutes_refusal, note_refusal) and the day's total
        once every row is counted (add_minutes, day_total_refusal)."""
        key = (user_id, project_id, task_id)
        row = self._row_verdicts.get(key)
        if row is None:
            row = self._row_verdicts[key] = tuple(
                r for r in (self.project_refusal(user_id, project_id), self.task_refusal(project_id, task_id)) if r)
        on_day = self._day_verdicts.get((user_id, day))
        if on_day is None:
            on_day = self._day_verdicts[(user_id, day)] = tuple(
                r for r in (self.future_refusal(user_id, day), self.lock_refusal(day),
                            self.week_refusal(user_id, day)) if r)
        return row + on_day if on_day else row
