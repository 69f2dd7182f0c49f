"""Utilization (SPEC §3): capacity, billable and total hours per user over a period, rolled up per role, per team
and for the portfolio, with a week-by-user heat map.

capacity = working days in the period (the organisation's calendar, holidays excluded) × weekly capacity hours / 5
           − the user's time off logged in the period (whatever its week's state), never below 0;
billable utilization = billable hours / capacity; total utilization = all hours / capacity ("—" at capacity 0).
Hours count approved weeks by default; `include_submitted` adds submitted ones. A roll-up is the sum of its users'
hours over the sum of their capacities. A *team* is the people who share an approver (their manager).

Every sum is SQL (GROUP BY user, and user × week for the heat map): three statements whatever the number of people
or entries, besides the settings and the calendar. Working days are counted in Python, once per period and week.
Hours are read through psa.timesheets.totals.entry_totals (the period's first day and the day after its last are
its cuts): the pre-aggregated sums of the weeks inside the period, and the entries of the (at most two) spans its
ends fall inside, not a year's half a million entries.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from psa.admin.services import get_settings
from psa.auth.models import ROLE_LABELS, ROLES, User
from psa.core import clock, report_cache
from psa.core.calendar import WorkCalendar, capacity_hours, get_calendar
from psa.extensions import db
from psa.timesheets.imports import escape_cell
from psa.timesheets.models import TimeOff, Timesheet
from psa.timesheets.totals import entry_totals

PRESET_LABELS = {"this_month": "This month", "last_month": "Last month", "this_quarter": "This quarter",
                 "last_quarter": "Last quarter", "custom": "Custom dates"}
#: The longest custom period (two years): the heat map has a column a week.
MAX_PERIOD_DAYS = 731
ONE_DAY = timedelta(days=1)
HUNDRED = Decimal(100)
NO_TEAM = "No approver"


@dataclass(frozen=True)
class Period:
    """The days from `start` to `end`, both included, in the organisation's time zone."""

    start: date
    end: date


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_end(day: date) -> date:
    return date(day.year, day.month, monthrange(day.year, day.month)[1])


def period_for(preset: str, today: date, date_from: date | None = None, date_to: date | None = None) -> Period:
    """The period a preset names relative to `today` (the organisation's), or the custom dates."""
    if preset == "custom":
        if date_from is None or date_to is None or date_to < date_from:
            raise ValueError("a custom period needs a first day on or before its last day")
        return Period(date_from, date_to)
    if preset == "this_month":
        return Period(today.replace(day=1), _month_end(today))
    if preset == "last_month":
        last = today.replace(day=1) - ONE_DAY
        return Period(last.replace(day=1), last)
    if preset == "this_quarter":
        first = _quarter_start(today)
        return Period(first, _month_end(date(first.year, first.month + 2, 1)))
    if preset == "last_quarter":
        end = _quarter_start(today) - ONE_DAY
        return Period(_quarter_start(end), end)
    raise ValueError(f"unknown period preset {preset!r}")


def working_days_in(calendar: WorkCalendar, start: date, end: date) -> int:
    """Working days from start to end, both included."""
    return calendar.working_days_between(start - ONE_DAY, end)


def percent(hours: Decimal, capacity: Decimal) -> Decimal | None:
    """hours / capacity as a percentage rounded half-up to 0.1; None (shown "—") at capacity 0."""
    if capacity <= 0:
        return None
    return (hours * HUNDRED / capacity).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _hours(minutes) -> Decimal:
    return Decimal(int(minutes or 0)) / 60


@dataclass(slots=True)
class Figures:
    """Capacity and hours of a person or a group, and the utilization they give."""

    capacity: Decimal = Decimal(0)
    billable_hours: Decimal = Decimal(0)
    total_hours: Decimal = Decimal(0)

    @property
    def billable_percent(self) -> Decimal | None:
        return percent(self.billable_hours, self.capacity)

    @property
    def total_percent(self) -> Decimal | None:
        return percent(self.total_hours, self.capacity)

    def add(self, other: Figures) -> None:
        self.capacity += other.capacity
        self.billable_hours += other.billable_hours
        self.total_hours += other.total_hours


class WeekFigures(NamedTuple):
    """A person's capacity and hours in one week of the heat map: a plain tuple (a year is a cell per person and
    week, 5,700 for 108 people: cheap to build, and no garbage-collector work), with Figures' percentages."""

    capacity: Decimal
    billable_hours: Decimal
    total_hours: Decimal

    @property
    def billable_percent(self) -> Decimal | None:
        return percent(self.billable_hours, self.capacity)

    @property
    def total_percent(self) -> Decimal | None:
        return percent(self.total_hours, self.capacity)


@dataclass(slots=True)
class PersonRow(Figures):
    user_id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    team: str = NO_TEAM
    weekly_capacity_hours: Decimal = Decimal(0)
    time_off_hours: Decimal = Decimal(0)
    #: Week start → that week's WeekFigures (the days of the week inside the period).
    weeks: dict = field(default_factory=dict)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(slots=True)
class GroupRow(Figures):
    label: str = ""
    people: int = 0


@dataclass
class UtilizationReport:
    period: Period
    include_submitted: bool
    target_percent: Decimal
    working_days: int
    weeks: list[date]
    people: list[PersonRow]
    roles: list[GroupRow]
    teams: list[GroupRow]
    total: GroupRow

    def band(self, figures: Figures | WeekFigures) -> str:
        """The heat map's band of a total utilization against the target."""
        return self.band_of(figures.total_percent)

    def band_of(self, value: Decimal | None) -> str:
        """The heat map's band of a total utilization percentage (None at capacity 0)."""
        if value is None:
            return "none"
        if value > HUNDRED:
            return "over"
        if value >= self.target_percent:
            return "on"
        if value >= self.target_percent - 15:
            return "near"
        return "under"


def counted_states(include_submitted: bool) -> tuple[str, ...]:
    return ("approved", "submitted") if include_submitted else ("approved",)


def _mondays(period: Period) -> list[date]:
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def utilization_report(period: Period, include_submitted: bool = False) -> UtilizationReport:
    """The report over `period`: per person (active internal people, and anyone with hours in it), per role, per
    team and in total, with each person's weeks."""
    settings = get_settings()
    calendar = get_calendar()
    states = counted_states(include_submitted)
    days = working_days_in(calendar, period.start, period.end)
    weeks = _mondays(period)
    week_days = {monday: working_days_in(calendar, max(monday, period.start), min(monday + timedelta(days=6),
                                                                                   period.end))
                 for monday in weeks}

    # the counted entries of the period, summed per person, project, billable flag and span
    # (psa.timesheets.totals): whole spans from the pre-aggregated totals, the spans the period's ends cut from
    # their entries; each row lies inside the period
    logged = entry_totals(states, date_from=period.start, date_to=period.end)
    billable_minutes = sa.func.sum(sa.case((logged.c.billable.is_(True), logged.c.minutes), else_=0))
    entries = (sa.select(logged.c.user_id.label("user_id"), billable_minutes.label("billable_minutes"),
                         sa.func.sum(logged.c.minutes).label("total_minutes"))
               .group_by(logged.c.user_id).subquery("entry_sums"))
    absences = (sa.select(TimeOff.user_id.label("user_id"), sa.func.sum(TimeOff.minutes).label("off_minutes"))
                .where(TimeOff.entry_date.between(period.start, period.end))
                .group_by(TimeOff.user_id).subquery("time_off_sums"))
    approver = aliased(User, name="approver")
    # plain rows through the session's connection (no ORM loading of thousands of tuples)
    connection = db.session.connection()
    people_rows = connection.execute(
        sa.select(User.id, User.name, User.email, User.role, User.weekly_capacity_hours,
                  approver.name.label("approver_name"), entries.c.billable_minutes, entries.c.total_minutes,
                  absences.c.off_minutes)
        .outerjoin(approver, approver.id == User.approver_id)
        .outerjoin(entries, entries.c.user_id == User.id)
        .outerjoin(absences, absences.c.user_id == User.id)
        .where(User.role.in_(ROLES), sa.or_(User.is_active_user.is_(True), entries.c.user_id.is_not(None)))
        .order_by(User.name, User.id)).all()

    week_entries = connection.execute(
        sa.select(logged.c.user_id, logged.c.week_start, billable_minutes.label("billable_minutes"),
                  sa.func.sum(logged.c.minutes).label("total_minutes"))
        .group_by(logged.c.user_id, logged.c.week_start)).all()
    off_week = Timesheet.week_start
    week_absences = connection.execute(
        sa.select(TimeOff.user_id, off_week.label("week_start"), sa.func.sum(TimeOff.minutes).label("off_minutes"))
        .join(Timesheet, Timesheet.id == TimeOff.timesheet_id)
        .where(TimeOff.entry_date.between(period.start, period.end))
        .group_by(TimeOff.user_id, off_week)).all()

    # plain tuples and one dict look-up per person and week: the heat map has a cell per person and week (5,700
    # for 108 people over a year)
    zero = Decimal(0)
    hours: dict[int, Decimal] = {}  # minutes → hours, each division once (weeks repeat their sums)

    def as_hours(minutes) -> Decimal:
        value = hours.get(minutes)
        if value is None:
            value = hours[minutes] = _hours(minutes)
        return value

    logged_by_user: dict[int, dict[date, tuple[Decimal, Decimal]]] = {}  # person → week → (billable, total)
    for user_id, monday, billable, total in week_entries:
        logged_by_user.setdefault(user_id, {})[monday] = (as_hours(billable), as_hours(total))
    off_by_user: dict[int, dict[date, Decimal]] = {}  # person → week → time off
    for user_id, monday, minutes in week_absences:
        off_by_user.setdefault(user_id, {})[monday] = as_hours(minutes)
    week_list = [(monday, week_days[monday]) for monday in weeks]
    day_counts = set(week_days.values())
    nothing = (zero, zero)

    people: list[PersonRow] = []
    for row in people_rows:
        user_id = row.id
        weekly = Decimal(row.weekly_capacity_hours or 0)
        off = _hours(row.off_minutes)
        person = PersonRow(
            user_id=user_id, name=row.name, email=row.email, role=row.role, team=row.approver_name or NO_TEAM,
            weekly_capacity_hours=weekly, time_off_hours=off,
            capacity=capacity_hours(days, weekly, off),
            billable_hours=_hours(row.billable_minutes), total_hours=_hours(row.total_minutes))
        # a week's capacity without time off depends only on its working days (0 to 7): computed once per count
        capacities = {n: capacity_hours(n, weekly) for n in day_counts}
        logged = logged_by_user.get(user_id, {}).get
        offs = off_by_user.get(user_id)
        if offs is None:
            person.weeks = {monday: WeekFigures(capacities[n], *logged(monday, nothing)) for monday, n in week_list}
        else:
            for monday, n in week_list:
                week_off = offs.get(monday)
                person.weeks[monday] = WeekFigures(capacity_hours(n, weekly, week_off) if week_off else capacities[n],
                                                   *logged(monday, nothing))
        people.append(person)

    def roll_up(key) -> list[GroupRow]:
        groups: dict[str, GroupRow] = {}
        for person in people:
            label = key(person)
            group = groups.setdefault(label, GroupRow(label=label))
            group.add(person)
            group.people += 1
        return list(groups.values())

    role_order = {role: n for n, role in enumerate(ROLES)}
    roles = sorted(roll_up(lambda p: p.role_label), key=lambda g: role_order.get(
        next((r for r, label in ROLE_LABELS.items() if label == g.label), ""), 99))
    teams = sorted(roll_up(lambda p: p.team), key=lambda g: (g.label == NO_TEAM, g.label))
    total = GroupRow(label="All people", people=len(people))
    for person in people:
        total.add(person)
    return UtilizationReport(period=period, include_submitted=include_submitted,
                             target_percent=Decimal(settings.utilization_target_percent), working_days=days,
                             weeks=weeks, people=people, roles=roles, teams=teams, total=total)


def cached_utilization_report(period: Period, include_submitted: bool = False) -> UtilizationReport:
    """utilization_report, reused while its data is unchanged (psa.core.report_cache): what the page, the CSV, the
    PDF and the API show. Do not change the result."""
    return report_cache.cached("utilization", (period, include_submitted, clock.org_today()),
                               lambda: utilization_report(period, include_submitted))


CSV_HEADER = ["section", "name", "email", "role", "team", "period_start", "period_end", "capacity_hours",
              "time_off_hours", "billable_hours", "total_hours", "billable_utilization_percent",
              "total_utilization_percent", "target_percent"]


def format_hours(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def format_percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}"


def csv_rows(report: UtilizationReport):
    """The report's rows as CSV cells: one per person, per role, per team and the total (the HTML's figures)."""
    def cells(section, name, email, role, team, figures, time_off=""):
        return [section, escape_cell(name), escape_cell(email), role, escape_cell(team), report.period.start.isoformat(), report.period.end.isoformat(),
                format_hours(figures.capacity), time_off, format_hours(figures.billable_hours),
                format_hours(figures.total_hours), format_percent(figures.billable_percent),
                format_percent(figures.total_percent), format_percent(report.target_percent)]

    yield CSV_HEADER
    for person in report.people:
        yield cells("person", person.name, person.email, person.role_label, person.team, person,
                    format_hours(person.time_off_hours))
    for group in report.roles:
        yield cells("role", group.label, "", group.label, "", group)
    for group in report.teams:
        yield cells("team", group.label, "", "", group.label, group)
    yield cells("total", report.total.label, "", "", "", report.total)
