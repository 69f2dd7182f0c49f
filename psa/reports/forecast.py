"""Revenue forecast (SPEC §3): by calendar month of the organisation's zone, for six months starting with the
current one.

- Fixed fee: each open milestone's share of the fee (fee × percent ÷ 100, rounded to the cent) in the month of its
  *forecast* date (its due date while no forecast is cached). Milestones completed in the current month are
  recognised revenue, shown beside the forecast.
- Time and materials: each open task's remaining estimated hours, max(0, estimate − hours logged on the task; every
  entry counts, whatever its week's state), × the bill rate the project's rate card gives the task's assignee, or
  its role when no one is assigned (psa.timesheets.services.RateBook.resolve, the one rule, at today's date), in
  the month of the task's forecast end (its due date while none is cached). Capped so that recognised revenue
  (approved billable entries over the project's life, capped) plus forecast never exceeds the not-to-exceed
  amount: the remaining headroom goes to the earliest months first. Recognised T&M revenue of the current month =
  capped revenue through today − capped revenue through the day before the month's first.
- Non-billable projects bring 0 and are left out.
A date before the current month (an overdue milestone or task) counts in the current month; a date after the
sixth month counts as "later" (it takes headroom after the six months, and is not shown).

*Revenue at risk* of a month = the forecast revenue of that month whose baseline date lies in an earlier month
(work that has slipped into it). Where a cap cuts a month's T&M revenue, the slipped part counts first
(at risk = min(slipped uncapped revenue, capped month revenue)).

Sums are exact; each shown figure is rounded once, half-up to the cent. Every aggregate is SQL (GROUP BY project
and month bucket): five aggregate statements and the rate book's two, whatever the number of projects,
milestones, tasks or entries (besides the sign-in and the organisation's settings).
"""

from __future__ import annotations

import csv
import io
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Response, current_app, render_template, url_for

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core import clock
from psa.core.auth import permission_required
from psa.core.charts import bar_chart
from psa.core.money import money_sum, round_money
from psa.customers.services import fee_share
from psa.extensions import db
from psa.projects.models import BILLING_LABELS, OPEN_PROJECT_STATUSES, Milestone, Project, Task
from psa.reports import bp
from psa.timesheets.imports import escape_cell
from psa.timesheets.models import TimeEntry, Timesheet
from psa.timesheets.services import RateBook

MONTHS = 6
#: The bucket of dates after the sixth month.
LATER = MONTHS
ZERO = Decimal("0")
RATE = TimeEntry.__table__.c.bill_rate.type


@dataclass(frozen=True)
class Month:
    first: date
    last: date

    @property
    def label(self) -> str:
        return self.first.strftime("%b %Y")

    @property
    def key(self) -> str:
        return self.first.strftime("%Y-%m")


@dataclass
class Cell:
    """One project's (or the total's) figures in one month, exact until shown."""

    recognised: Decimal = ZERO
    forecast: Decimal = ZERO
    at_risk: Decimal = ZERO

    def add(self, other: Cell) -> None:
        self.recognised += other.recognised
        self.forecast += other.forecast
        self.at_risk += other.at_risk


@dataclass
class ProjectForecast:
    project_id: int
    name: str
    account: str
    billing_model: str
    fee_amount: Decimal | None
    months: list[Cell] = field(default_factory=lambda: [Cell() for _ in range(MONTHS)])

    @property
    def billing_label(self) -> str:
        return BILLING_LABELS[self.billing_model]

    @property
    def forecast_total(self) -> Decimal:
        return sum((cell.forecast for cell in self.months), ZERO)


@dataclass
class Forecast:
    today: date
    months: list[Month]
    projects: list[ProjectForecast]
    totals: list[Cell]

    @property
    def forecast_total(self) -> Decimal:
        return sum((cell.forecast for cell in self.totals), ZERO)


def months_from(today: date) -> list[Month]:
    """The six calendar months starting with today's."""
    months, first = [], today.replace(day=1)
    for _ in range(MONTHS):
        last = first.replace(day=monthrange(first.year, first.month)[1])
        months.append(Month(first, last))
        first = last + timedelta(days=1)
    return months


def _forecast_bucket(column, months: list[Month]):
    """0 for dates up to the current month's end (overdue ones included), … 5, then LATER."""
    return sa.case(*((column <= m.last, i) for i, m in enumerate(months)), else_=LATER)


def _baseline_bucket(column, months: list[Month]):
    """-1 for dates before the current month, 0 … 5, then LATER."""
    return sa.case((column < months[0].first, -1), *((column <= m.last, i) for i, m in enumerate(months)),
                   else_=LATER)


def _utc(day: date) -> datetime:
    """The first instant of `day` in the organisation's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=clock.zone(clock.org_zone_name())).astimezone(UTC)


def revenue_forecast(today: date | None = None) -> Forecast:
    """The forecast for the six months from today's (the organisation's today by default)."""
    today = today or clock.org_today()
    months = months_from(today)
    open_project = sa.and_(Project.status.in_(OPEN_PROJECT_STATUSES), Project.fee_amount.is_not(None))
    cells: dict[int, list[Cell]] = {}

    def cell(project_id: int, bucket: int) -> Cell:
        project_cells = cells.get(project_id)
        if project_cells is None:
            project_cells = cells[project_id] = [Cell() for _ in range(MONTHS)]
        return project_cells[bucket]

    # 1. Fixed fee, open milestones: (project, share %, forecast month, baseline month) → how many.
    due = sa.func.coalesce(Milestone.forecast_date, Milestone.due_date)
    f_bucket, b_bucket = _forecast_bucket(due, months), _baseline_bucket(Milestone.baseline_due_date, months)
    for project_id, fee, percent, fb, bb, count in db.session.execute(
            sa.select(Milestone.project_id, Project.fee_amount, Milestone.fee_share_percent, f_bucket, b_bucket,
                      sa.func.count())
            .join(Project, Project.id == Milestone.project_id)
            .where(open_project, Project.billing_model == "fixed_fee", Milestone.status != "done")
            .group_by(Milestone.project_id, Project.fee_amount, Milestone.fee_share_percent, f_bucket, b_bucket)):
        if fb == LATER:
            continue
        amount = fee_share(fee, percent) * int(count)
        target = cell(project_id, fb)
        target.forecast += amount
        if bb < fb:
            target.at_risk += amount

    # 2. Fixed fee recognised this month: milestones completed in it (the organisation's days).
    for project_id, fee, percent, count in db.session.execute(
            sa.select(Milestone.project_id, Project.fee_amount, Milestone.fee_share_percent, sa.func.count())
            .join(Project, Project.id == Milestone.project_id)
            .where(Project.billing_model == "fixed_fee", Project.fee_amount.is_not(None),
                   Milestone.status == "done", Milestone.completed_at >= _utc(months[0].first),
                   Milestone.completed_at < _utc(months[0].last + timedelta(days=1)))
            .group_by(Milestone.project_id, Project.fee_amount, Milestone.fee_share_percent)):
        cell(project_id, 0).recognised += fee_share(fee, percent) * int(count)

    # 3. Time and materials recognised: approved billable revenue before this month and through today.
    approved_billable = sa.and_(Timesheet.state == "approved", TimeEntry.billable.is_(True))
    zero = sa.literal(Decimal(0), type_=RATE)
    earned: dict[int, tuple[Decimal, Decimal]] = {}
    tm_project = Project.billing_model == "time_and_materials"
    for project_id, before, through in db.session.execute(
            sa.select(TimeEntry.project_id,
                      money_sum(sa.case((TimeEntry.entry_date < months[0].first,
                                         TimeEntry.bill_rate * TimeEntry.minutes), else_=zero)),
                      money_sum(TimeEntry.bill_rate * TimeEntry.minutes))
            .join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
            .join(Project, Project.id == TimeEntry.project_id)
            .where(tm_project, approved_billable, TimeEntry.entry_date <= today)
            .group_by(TimeEntry.project_id)):
        earned[project_id] = (before / 60, through / 60)

    # 4. Time and materials forecast: remaining minutes of open tasks by (project, assignee, role, months). The
    # minutes logged are summed for those tasks only (read through the entries' task index), not for every task.
    open_tm_task = sa.and_(Project.status.in_(OPEN_PROJECT_STATUSES), tm_project, Task.status != "done")
    forecast_tasks = sa.select(Task.id).join(Project, Project.id == Task.project_id).where(open_tm_task)
    logged = (sa.select(TimeEntry.task_id, sa.func.sum(TimeEntry.minutes).label("minutes"))
              .where(TimeEntry.task_id.in_(forecast_tasks)).group_by(TimeEntry.task_id).subquery())
    left = Task.estimated_minutes - sa.func.coalesce(logged.c.minutes, 0)
    remaining = sa.func.sum(sa.case((left > 0, left), else_=0))
    role = sa.func.coalesce(User.role, Task.assignee_role)
    f_bucket = _forecast_bucket(sa.func.coalesce(Task.forecast_date, Task.due_date), months)
    b_bucket = _baseline_bucket(Task.baseline_due_date, months)
    work = db.session.execute(
        sa.select(Task.project_id, Task.assignee_id, role, f_bucket, b_bucket, remaining)
        .join(Project, Project.id == Task.project_id)
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(logged, logged.c.task_id == Task.id)
        .where(open_tm_task)
        .group_by(Task.project_id, Task.assignee_id, role, f_bucket, b_bucket)).all()

    ids = set(cells) | set(earned) | {row[0] for row in work}
    # every billable project's name, kept for those ids: one plain statement, where an IN of the (thousands of) ids
    # costs more to render and send than the few rows more it reads
    projects = {
        pid: ProjectForecast(pid, name, account, model, fee)
        for pid, name, account, model, fee in db.session.execute(
            sa.select(Project.id, Project.name, Account.name, Project.billing_model, Project.fee_amount)
            .join(Account, Account.id == Project.account_id)
            .where(Project.billing_model != "non_billable")).all()
        if pid in ids
    } if ids else {}

    rates = RateBook((row[1] for row in work if row[1] is not None), (row[0] for row in work)) if work else None
    # uncapped T&M forecast per project and bucket (0 … LATER): [amount, slipped part]
    wanted: dict[int, dict[int, list[Decimal]]] = {}
    bills: dict[tuple, Decimal] = {}  # one resolve per (assignee, role, project), whatever its months
    for project_id, assignee_id, role_name, fb, bb, minutes in work:
        if not minutes:
            continue
        bill = bills.get((assignee_id, role_name, project_id))
        if bill is None:
            bill = bills[(assignee_id, role_name, project_id)] = rates.resolve(assignee_id, role_name, project_id,
                                                                               today).bill
        amount = bill * int(minutes) / 60
        slot = wanted.setdefault(project_id, {}).setdefault(fb, [ZERO, ZERO])
        slot[0] += amount
        if bb < fb:
            slot[1] += amount

    for project_id in ids:
        project = projects[project_id]
        if project.billing_model != "time_and_materials":
            continue
        before, through = earned.get(project_id, (ZERO, ZERO))
        cap = project.fee_amount
        if cap is not None:
            before, through = min(before, cap), min(through, cap)
        if through - before:
            cell(project_id, 0).recognised += through - before
        headroom = None if cap is None else cap - through
        for bucket in sorted(wanted.get(project_id, {})):
            amount, slipped = wanted[project_id][bucket]
            if headroom is not None:
                amount = min(amount, headroom)
                headroom -= amount
            if bucket == LATER:
                continue
            target = cell(project_id, bucket)
            target.forecast += amount
            target.at_risk += min(slipped, amount)

    rows, totals = [], [Cell() for _ in range(MONTHS)]
    for project_id, project_cells in cells.items():
        project = projects[project_id]
        if not any(c.recognised or c.forecast for c in project_cells):
            continue
        project.months = project_cells
        rows.append(project)
        for total, c in zip(totals, project_cells, strict=True):
            total.add(c)
    rows.sort(key=lambda p: (p.account.lower(), p.name.lower(), p.project_id))
    return Forecast(today, months, rows, totals)


def money(amount: Decimal) -> str:
    """A figure as shown: rounded once, half-up to the cent, with thousands separators."""
    return f"{round_money(amount):,}"


#: The reports' pages, for the sub-nav (those not registered yet are left out).
REPORTS = (("Utilization", "reports.utilization"), ("Margin", "reports.margin"),
           ("Revenue forecast", "reports.forecast"), ("Time to value", "reports.ttv"))


def report_links(current: str) -> list[tuple[str, str, bool]]:
    """(label, href, is current) for each registered report."""
    return [(label, url_for(endpoint), endpoint == current) for label, endpoint in REPORTS
            if endpoint in current_app.view_functions]


def csv_rows(report: Forecast):
    """The same figures as the page, a line per project and month, then the totals."""
    yield ["row", "account", "project", "billing_model", "month", "recognised", "forecast", "at_risk"]
    for project in report.projects:
        for month, c in zip(report.months, project.months, strict=True):
            yield ["project", escape_cell(project.account), escape_cell(project.name), project.billing_label,
                   month.key, str(round_money(c.recognised)), str(round_money(c.forecast)),
                   str(round_money(c.at_risk))]
    for month, c in zip(report.months, report.totals, strict=True):
        yield ["total", "", "All projects", "", month.key, str(round_money(c.recognised)),
               str(round_money(c.forecast)), str(round_money(c.at_risk))]


@bp.route("/forecast")
@permission_required("reports.view")
def forecast():
    """The revenue forecast by month for six months, per project and in total."""
    report = revenue_forecast()
    return render_template("reports/forecast.html", report=report, money=money,
                           report_links=report_links("reports.forecast"),
                           chart=bar_chart([(month.label, cell.forecast)
                                            for month, cell in zip(report.months, report.totals, strict=True)],
                                           marks=[cell.at_risk for cell in report.totals], value_text=money,
                                           mark_text=money))


@bp.route("/forecast.csv")
@permission_required("reports.view")
def forecast_csv():
    """The same figures as CSV, streamed (the report is read before the first line, so no request context is held)."""
    report = revenue_forecast()

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        yield "\ufeff"
        for row in csv_rows(report):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"revenue-forecast-{report.months[0].key}.csv"
    return Response(lines(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
