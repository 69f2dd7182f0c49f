"""Revenue forecast (SPEC §3): by calendar month of the organisation's zone, for six months starting with the
current one.

- Fixed fee: each open milestone's share of the fee (fee × percent ÷ 100, rounded to the cent) in the month of its
  *forecast* date (its due date while no forecast is cached). Milestones completed in the current month are
  recognised revenue, shown beside the forecast.
- Time and materials: each open task's remaining estimated hours, max(0, estimate − hours logged on the task; every
  entry counts, whatever its week's state), × the bill rate the project's rate card gives the task's assignee, or
  its role when no one is assigned (RateBook.resolve's rule at today's date, as SQL: bill_rate_sql), in
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
from typing import NamedTuple

import sqlalchemy as sa
from flask import Response, current_app, render_template, request, url_for
from flask_sqlalchemy.pagination import Pagination

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core import clock, report_cache
from psa.core.auth import permission_required
from psa.core.charts import bar_chart
from psa.core.money import money_sum, round_money
from psa.core.pagination import requested_page
from psa.customers.services import fee_share
from psa.extensions import db
from psa.projects.models import BILLING_LABELS, OPEN_PROJECT_STATUSES, Milestone, Project, Task
from psa.reports import bp
from psa.timesheets.imports import escape_cell
from psa.timesheets.models import AMOUNT
from psa.timesheets.services import bill_rate_sql
from psa.timesheets.totals import entry_totals, logged_minutes

MONTHS = 6
#: The bucket of dates after the sixth month.
LATER = MONTHS
ZERO = Decimal("0")


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


class Cell(NamedTuple):
    """One project's (or the total's) figures in one month, exact until shown: a plain tuple (six per project,
    thousands of projects: no garbage-collector work)."""

    recognised: Decimal = ZERO
    forecast: Decimal = ZERO
    at_risk: Decimal = ZERO


#: Where a cell's figures sit in a project's flat list of sums while the forecast adds them up (3 per month).
RECOGNISED, FORECAST, AT_RISK = 0, 1, 2


@dataclass(slots=True)
class ProjectForecast:
    project_id: int
    name: str
    account: str
    billing_model: str
    fee_amount: Decimal | None
    #: [recognised, forecast, at risk] for each month in turn, as the forecast added them up
    sums: list[Decimal] = field(default_factory=lambda: [ZERO] * (3 * MONTHS))
    _months: list[Cell] | None = None

    @property
    def months(self) -> list[Cell]:
        """The month by month figures (built when first read: a page shows 50 projects of thousands)."""
        if self._months is None:
            flat = self.sums
            self._months = list(map(Cell, flat[RECOGNISED::3], flat[FORECAST::3], flat[AT_RISK::3]))
        return self._months

    @property
    def billing_label(self) -> str:
        return BILLING_LABELS[self.billing_model]

    @property
    def forecast_total(self) -> Decimal:
        return sum(self.sums[FORECAST::3], ZERO)


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


def _plain(result, size: int = 1000):
    """A result's rows as plain tuples, fetched `size` at a time: not a fetch per row, and not thousands of Row
    objects alive at once (which the garbage collector would move to its oldest generation, making its full
    collections, of the whole process, come more often); a tuple of numbers and text is never scanned again."""
    for part in result.partitions(size):
        for row in part:
            yield tuple(row)


def _exact_reader(dialect: str):
    """How the forecast reads its exact (ExactNumeric) columns: on PostgreSQL a NUMERIC arrives from the driver as
    an exact Decimal already, so they are read as plain Numeric (the same SQL, without ExactNumeric's per-value
    check in Python: thousands of values a call); SQLite stores them as whole units, which ExactNumeric turns back
    into Decimals."""
    if dialect != "postgresql":
        return lambda column: column
    return lambda column: sa.type_coerce(column, sa.Numeric(asdecimal=True))


def revenue_forecast(today: date | None = None) -> Forecast:
    """The forecast for the six months from today's (the organisation's today by default)."""
    today = today or clock.org_today()
    months = months_from(today)
    open_project = sa.and_(Project.status.in_(OPEN_PROJECT_STATUSES), Project.fee_amount.is_not(None))
    # plain rows through the session's connection (thousands of tuples, no ORM loading), read by _plain
    connection = db.session.connection()
    exact = _exact_reader(connection.dialect.name)
    # project → its sums, [recognised, forecast, at risk] for each month in turn (one list, made into Cells at the end)
    sums: dict[int, list[Decimal]] = {}

    def project_sums(project_id: int) -> list[Decimal]:
        flat = sums.get(project_id)
        if flat is None:
            flat = sums[project_id] = [ZERO] * (3 * MONTHS)
        return flat

    # every billable project's name, account, billing model and fee (the fee read once per project, not per row of
    # the milestones' statement): one plain statement, where an IN of the (thousands of) ids shown costs more to
    # render and send than the few rows more it reads
    projects = {row[0]: row for row in _plain(connection.execute(
        sa.select(Project.id, Project.name, Account.name, Project.billing_model, exact(Project.fee_amount))
        .join(Account, Account.id == Project.account_id)
        .where(Project.billing_model != "non_billable")))}

    # 1. Fixed fee, open milestones forecast up to the sixth month (later ones are not shown and take no headroom):
    # (project, share %, forecast month, baseline month) → how many.
    due = sa.func.coalesce(Milestone.forecast_date, Milestone.due_date)
    f_bucket, b_bucket = _forecast_bucket(due, months), _baseline_bucket(Milestone.baseline_due_date, months)
    shares: dict[tuple[int, Decimal], Decimal] = {}  # fee_share once per (project, percent)
    for project_id, percent, fb, bb, count in _plain(connection.execute(
            sa.select(Milestone.project_id, exact(Milestone.fee_share_percent), f_bucket, b_bucket, sa.func.count())
            .join(Project, Project.id == Milestone.project_id)
            .where(open_project, Project.billing_model == "fixed_fee", Milestone.status != "done",
                   due <= months[-1].last)
            .group_by(Milestone.project_id, Milestone.fee_share_percent, f_bucket, b_bucket))):
        share = shares.get((project_id, percent))
        if share is None:
            share = shares[(project_id, percent)] = fee_share(projects[project_id][4], percent)
        amount = share * count
        flat = sums.get(project_id) or project_sums(project_id)
        flat[3 * fb + FORECAST] += amount
        if bb < fb:
            flat[3 * fb + AT_RISK] += amount

    # 2. Fixed fee recognised this month: milestones completed in it (the organisation's days).
    for project_id, fee, percent, count in _plain(connection.execute(
            sa.select(Milestone.project_id, exact(Project.fee_amount), exact(Milestone.fee_share_percent),
                      sa.func.count())
            .join(Project, Project.id == Milestone.project_id)
            .where(Project.billing_model == "fixed_fee", Project.fee_amount.is_not(None),
                   Milestone.status == "done", Milestone.completed_at >= _utc(months[0].first),
                   Milestone.completed_at < _utc(months[0].last + timedelta(days=1)))
            .group_by(Milestone.project_id, Project.fee_amount, Milestone.fee_share_percent))):
        project_sums(project_id)[RECOGNISED] += fee_share(fee, percent) * int(count)

    # 3. Time and materials recognised: approved billable revenue before this month and through today, read through
    # the pre-aggregated sums (psa.timesheets.totals; cuts: the month's first day and the day after today), not the
    # entries of the projects' lives.
    earned_rows = entry_totals(("approved",), cuts=(months[0].first,), date_to=today, name="earned_totals")
    zero = sa.literal(Decimal(0), type_=AMOUNT)
    earned: dict[int, tuple[Decimal, Decimal]] = {}
    tm_project = Project.billing_model == "time_and_materials"
    for project_id, before, through in _plain(connection.execute(
            sa.select(earned_rows.c.project_id,
                      exact(money_sum(sa.case((earned_rows.c.day < months[0].first, earned_rows.c.bill_amount),
                                              else_=zero))),
                      exact(money_sum(earned_rows.c.bill_amount)))
            .join(Project, Project.id == earned_rows.c.project_id)
            .where(tm_project, earned_rows.c.billable.is_(True))
            .group_by(earned_rows.c.project_id))):
        earned[project_id] = (before / 60, through / 60)

    # 4. Time and materials forecast: remaining minutes of open tasks by (project, assignee, role, months). The open
    # tasks of open T&M projects are read through the partial index of open tasks by project (ix_tasks_project_open:
    # an index-only scan of those projects' open tasks, not a scan of every task), once for the rows and once for the
    # minutes logged on those tasks only, read from the per-timesheet task totals
    # (psa.timesheets.totals.logged_minutes), not from their entries. Not a CTE: PostgreSQL would materialise it
    # and, blind to its ids' uniqueness, overestimate the join with the logged minutes by a hundredfold.
    open_tm_task = sa.and_(Project.status.in_(OPEN_PROJECT_STATUSES), tm_project, Task.status != "done")
    tasks = (sa.select(Task.id, Task.project_id, Task.assignee_id, Task.assignee_role, Task.estimated_minutes,
                       Task.forecast_date, Task.due_date, Task.baseline_due_date)
             .join(Project, Project.id == Task.project_id).where(open_tm_task).subquery("open_tm_tasks"))
    task = tasks.c
    logged = logged_minutes(sa.select(Task.id).join(Project, Project.id == Task.project_id).where(open_tm_task),
                            name="logged")
    left = task.estimated_minutes - sa.func.coalesce(logged.c.minutes, 0)
    remaining = sa.func.sum(sa.case((left > 0, left), else_=0))
    role = sa.func.coalesce(User.role, task.assignee_role)
    f_bucket = _forecast_bucket(sa.func.coalesce(task.forecast_date, task.due_date), months)
    b_bucket = _baseline_bucket(task.baseline_due_date, months)
    work = (sa.select(task.project_id, task.assignee_id, role.label("role"), f_bucket.label("fb"),
                      b_bucket.label("bb"), remaining.label("minutes"))
            .select_from(tasks)
            .outerjoin(User, User.id == task.assignee_id)
            .outerjoin(logged, logged.c.task_id == task.id)
            .group_by(task.project_id, task.assignee_id, role, f_bucket, b_bucket)
            .having(remaining > 0)  # a quarter of the groups have no work left: they would bring 0
            .subquery("work"))
    # each group's minutes at the bill rate RateBook.resolve would give its assignee (or role) on the project today
    # (timesheets.services.bill_rate_sql, held to it by a test), summed per project and month in SQL
    w = work.c
    rated, bill = bill_rate_sql(work, w.assignee_id, w.role, w.project_id, today)
    # uncapped T&M forecast per project and bucket (0 … LATER): [amount, slipped part]
    wanted: dict[int, dict[int, list[Decimal]]] = {}
    for project_id, fb, bb, total in _plain(connection.execute(
            sa.select(w.project_id, w.fb, w.bb, exact(sa.func.sum(bill * w.minutes))).select_from(rated)
            .group_by(w.project_id, w.fb, w.bb))):
        amount = total / 60
        buckets = wanted.get(project_id)
        if buckets is None:
            buckets = wanted[project_id] = {}
        slot = buckets.get(fb)
        if slot is None:
            slot = buckets[fb] = [ZERO, ZERO]
        slot[0] += amount
        if bb < fb:
            slot[1] += amount

    for project_id in set(earned) | set(wanted):
        _, _, _, model, cap = projects[project_id]
        if model != "time_and_materials":
            continue
        before, through = earned.get(project_id, (ZERO, ZERO))
        if cap is not None:
            before, through = min(before, cap), min(through, cap)
        if through - before:
            project_sums(project_id)[RECOGNISED] += through - before
        headroom = None if cap is None else cap - through
        for bucket in sorted(wanted.get(project_id, {})):
            amount, slipped = wanted[project_id][bucket]
            if headroom is not None:
                amount = min(amount, headroom)
                headroom -= amount
            if bucket == LATER:
                continue
            flat = project_sums(project_id)
            flat[3 * bucket + FORECAST] += amount
            flat[3 * bucket + AT_RISK] += min(slipped, amount)

    rows = []
    for project_id, flat in sums.items():
        if not (any(flat[RECOGNISED::3]) or any(flat[FORECAST::3])):
            continue
        _, name, account, model, fee = projects[project_id]
        rows.append(ProjectForecast(project_id, name, account, model, fee, flat))
    # the totals column by column over the listed projects' sums (C loops: sum over a zip)
    totals = ([sum(column, ZERO) for column in zip(*(p.sums for p in rows), strict=True)] if rows
              else [ZERO] * (3 * MONTHS))
    rows.sort(key=lambda p: (p.account.lower(), p.name.lower(), p.project_id))
    return Forecast(today, months, rows, [Cell(*totals[i:i + 3]) for i in range(0, 3 * MONTHS, 3)])


def cached_revenue_forecast() -> Forecast:
    """revenue_forecast from today, reused while its data is unchanged (psa.core.report_cache): what the page, the
    CSV and the API show. Do not change the result."""
    today = clock.org_today()
    return report_cache.cached("forecast", today, lambda: revenue_forecast(today))


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


#: Project rows per page of /reports/forecast (the months' totals and the chart always cover every project; the CSV
#: holds every row).
PROJECTS_PER_PAGE = 50


class RowsPage(Pagination):
    """A page of rows already computed (the forecast's projects: its totals need every one), with the interface
    of the list pages' pager (templates/_macros/ui.html). A page past the last shows the last one."""

    def __init__(self, rows: list, page: int, per_page: int):
        self._rows = rows
        pages = max(1, -(-len(rows) // per_page))
        super().__init__(page=min(page, pages), per_page=per_page, max_per_page=None, error_out=False)

    def _query_items(self) -> list:
        return self._rows[self._query_offset:self._query_offset + self.per_page]

    def _query_count(self) -> int:
        return len(self._rows)

    @property
    def total_label(self) -> str:
        return f"{self.total:,}"


@bp.route("/forecast")
@permission_required("reports.view")
def forecast():
    """The revenue forecast by month for six months, in total and per project (PROJECTS_PER_PAGE a page)."""
    report = cached_revenue_forecast()
    page = RowsPage(report.projects, requested_page(request.args.get("page")), PROJECTS_PER_PAGE)
    return render_template("reports/forecast.html", report=report, money=money, page=page,
                           report_links=report_links("reports.forecast"),
                           chart=bar_chart([(month.label, cell.forecast)
                                            for month, cell in zip(report.months, report.totals, strict=True)],
                                           marks=[cell.at_risk for cell in report.totals], value_text=money,
                                           mark_text=money))


@bp.route("/forecast.csv")
@permission_required("reports.view")
def forecast_csv():
    """The same figures as CSV, streamed (the report is read before the first line, so no request context is held)."""
    report = cached_revenue_forecast()

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
