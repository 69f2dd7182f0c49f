"""The margin report (SPEC §3): per project over a period, revenue, cost, margin and margin % (on revenue, "—" at
revenue 0), rolled up by account, project manager, billing model and the portfolio; for fixed fee also the
estimate at completion and the projected margin. Routes and rules both live here.

- cost = Σ minutes × cost rate snapshot ÷ 60 of the counted entries (approved; with the switch, submitted too) dated
  in the period, billable or not;
- time and materials: capped(through the period's last day) − capped(through the day before its first), where
  capped(d) = Σ billable minutes × bill rate ÷ 60 of counted entries dated up to d, capped at the not-to-exceed
  amount over the project's life (psa.customers.services.capped_time_and_materials, the account view's rule);
- fixed fee: Σ over milestones done and completed in the period (their completion instant within the period's days
  in the organisation's zone) of fee × share ÷ 100, each rounded to the cent (psa.customers.services.fee_share);
- non-billable: revenue 0 (cost only: an investment);
- fixed fee estimate at completion = cost to date (counted entries up to today) + remaining estimated hours (Σ over
  open tasks of max(0, estimate − minutes logged on the task in any state)) × blended cost rate (cost to date ÷
  hours to date; before any counted time, the mean current cost rate of the project's members); projected margin =
  fee − EAC.
- by month: the same figures for the portfolio over each calendar month of the period (the cap applied month by
  month, so the months add up to the period).
Five statements whatever the number of projects or entries. The counted time is read once, through the
pre-aggregated span totals (psa.timesheets.totals.entry_totals, never every entry), GROUP BY project × bucket (before
the period, each of its months, after it) × to date; the per-project sums (the period's cost and minutes, billed
before and through its end, cost and minutes to date) and the month split are added up from those rows in Python. A
second statement reads every project with whether a milestone of it was completed in the period, which with its
status and its time decides the listing; then the fee shares per month, the listed fixed-fee projects' remaining
estimate (their open tasks' logged minutes from the task totals, as psa.timesheets.totals.logged_minutes) and, for
those without counted time to date, their members' current cost rates. Sums stay exact (a month's cost is its exact
sum ÷ 60, once); each shown figure is rounded once, half-up.

The page shows the portfolio, the months (chart and table), the billing models and the managers in full, and the
projects and accounts tables 50 rows a page (each table its own page parameter, projects_page and accounts_page, so
the filters and the other table's page survive; the chart of margin by project draws the page's projects); the CSV
and the PDF hold every row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, render_template, request, stream_with_context, url_for
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core import clock, report_cache
from psa.core.auth import permission_required
from psa.core.charts import bar_chart
from psa.core.db import among
from psa.core.money import money_sum, round_money
from psa.core.pagination import requested_page
from psa.customers.services import capped_time_and_materials, fee_share
from psa.extensions import db
from psa.projects.models import (
    BILLING_LABELS,
    BILLING_MODELS,
    OPEN_PROJECT_STATUSES,
    Milestone,
    Project,
    Task,
    project_members,
)
from psa.reports import bp
from psa.reports.forms import UtilizationForm
from psa.reports.pdf_jobs import pdf_response
from psa.reports.services import Period, counted_states, period_for
from psa.timesheets.imports import escape_cell
from psa.timesheets.models import AMOUNT, UserRate, task_time_totals
from psa.timesheets.totals import entry_totals

ZERO = Decimal(0)
ONE_DECIMAL = Decimal("0.1")


@dataclass
class Figures:
    """Exact (unrounded) money of a project or a group; shown figures are rounded once, on the way out."""

    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    #: Fixed fee only: Σ estimate at completion and Σ fee of the fixed-fee projects (None when there are none).
    eac: Decimal | None = None
    fee: Decimal | None = None

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        """margin ÷ revenue × 100 to one decimal, half-up; None (shown "—") at revenue 0."""
        if self.revenue == 0:
            return None
        return (self.margin * 100 / self.revenue).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)

    @property
    def projected_margin(self) -> Decimal | None:
        if self.eac is None or self.fee is None:
            return None
        return self.fee - self.eac

    def add(self, other: Figures) -> None:
        self.revenue += other.revenue
        self.cost += other.cost
        if other.eac is not None:
            self.eac = (self.eac or ZERO) + other.eac
            self.fee = (self.fee or ZERO) + (other.fee or ZERO)


@dataclass
class ProjectRow(Figures):
    project_id: int = 0
    name: str = ""
    status: str = ""
    billing_model: str = ""
    account_id: int = 0
    account_name: str = ""
    manager_id: int = 0
    manager_name: str = ""
    minutes: int = 0
    milestones_done: int = 0
    remaining_minutes: int = 0

    @property
    def billing_label(self) -> str:
        return BILLING_LABELS.get(self.billing_model, self.billing_model)


@dataclass
class GroupRow(Figures):
    label: str = ""
    key: int | str = ""
    projects: int = 0


@dataclass
class MonthRow(Figures):
    """The portfolio's figures over one calendar month of the period (its days inside the period)."""

    first: date = date.min
    last: date = date.min

    @property
    def label(self) -> str:
        return self.first.strftime("%Y-%m")


@dataclass
class MarginReport:
    period: Period
    include_submitted: bool
    today: object
    projects: list[ProjectRow]
    #: The period's calendar months (clipped to the period), each with the portfolio's revenue and cost.
    months: list[MonthRow] = field(default_factory=list)
    accounts: list[GroupRow] = field(default_factory=list)
    managers: list[GroupRow] = field(default_factory=list)
    models: list[GroupRow] = field(default_factory=list)
    total: GroupRow = field(default_factory=lambda: GroupRow(label="Portfolio"))


def _org_instant(day) -> datetime:
    """The first instant of `day` in the organisation's zone, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=clock.zone(clock.org_zone_name()))


def period_months(period: Period) -> list[MonthRow]:
    """The calendar months the period touches, each clipped to the period's days."""
    months, first = [], period.start
    while first <= period.end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        months.append(MonthRow(first=first, last=min(period.end, following - timedelta(days=1))))
        first = following
    return months


def _month_bucket(column, months: list[MonthRow]):
    """The index of the month holding `column` (a date, or an aware instant compared with the months' first
    instants in the organisation's zone)."""
    if isinstance(column.type, sa.Date):
        return sa.case(*((column <= m.last, i) for i, m in enumerate(months)), else_=len(months))
    return sa.case(*((column < _org_instant(m.last + timedelta(days=1)), i) for i, m in enumerate(months)),
                   else_=len(months))


def _among(column, ids: list[int], connection):
    """`column` IN the ids, as one array on PostgreSQL (psa.core.db.among)."""
    return among(column, ids, connection.dialect.name)


def _entry_buckets(states, period: Period, today, months: list[MonthRow], dialect: str) -> sa.Select:
    """The counted time, read once through the pre-aggregated span totals (psa.timesheets.totals.entry_totals:
    whole spans from the totals; the spans that the period's first day, the day after its last and the day after
    today fall inside, from their entries), summed per project × bucket × to date: the bucket -1 before the period,
    0 to n-1 the period's months, n after it; to date 1 for the days up to today. Columns: project, bucket, to
    date, cost (Σ minutes × cost rate), billed (Σ billable minutes × bill rate), minutes. A span never crosses a
    month, so every row lies in one bucket; the report derives every time sum from these rows. On PostgreSQL the
    sums are read as the driver's Decimals (NUMERIC sums of NUMERIC(20, 2): the same values, without the exact
    type's check of thousands of them)."""
    cuts = (period.start, period.end + timedelta(days=1), today + timedelta(days=1))
    rows = entry_totals(states, cuts, name="span_rows")
    day = rows.c.day
    bucket = sa.case((day < period.start, -1), *((day <= m.last, i) for i, m in enumerate(months)),
                     else_=len(months))
    to_date = sa.case((day <= today, 1), else_=0)
    zero = sa.literal(Decimal(0), type_=AMOUNT)
    cost = money_sum(rows.c.cost_amount)
    billed = money_sum(sa.case((rows.c.billable.is_(True), rows.c.bill_amount), else_=zero))
    if dialect == "postgresql":
        cost, billed = (sa.type_coerce(sums, sa.Numeric(asdecimal=True)) for sums in (cost, billed))
    return (sa.select(rows.c.project_id, bucket, to_date, cost, billed, sa.func.sum(rows.c.minutes))
            .group_by(rows.c.project_id, bucket, to_date))


def margin_report(period: Period, include_submitted: bool = False, today=None) -> MarginReport:
    """The report over `period`: every project open now or with counted time or a completed milestone in it."""
    today = today or clock.org_today()
    states = counted_states(include_submitted)
    months = period_months(period)
    count = len(months)
    # Core rows through the session's connection: thousands of rows, no ORM result handling
    connection = db.session.connection()

    # per project: [cost, minutes, billed before, billed in the period, cost to date, minutes to date,
    # {month: [cost, billed]}] — exact sums of the bucket rows (Decimal addition is exact at these sizes)
    sums: dict[int, list] = {}
    for project_id, bucket, to_date, cost, billed, minutes in connection.execute(
            _entry_buckets(states, period, today, months, connection.dialect.name)).all():
        found = sums.get(project_id)
        if found is None:
            found = sums[project_id] = [ZERO, 0, ZERO, ZERO, ZERO, 0, {}]
        if to_date:
            found[4] += cost
            found[5] += minutes
        if bucket < 0:
            found[2] += billed
        elif bucket < count:
            found[0] += cost
            found[1] += minutes
            found[3] += billed
            month = found[6].get(bucket)
            if month is None:
                found[6][bucket] = [cost, billed]
            else:
                month[0] += cost
                month[1] += billed

    starts, ends = _org_instant(period.start), _org_instant(period.end + timedelta(days=1))
    completed = sa.and_(Milestone.status == "done", Milestone.completed_at >= starts, Milestone.completed_at < ends)
    has_milestone = sa.select(Milestone.id).where(Milestone.project_id == Project.id, completed) \
        .correlate(Project).exists()
    # every project, with whether one of its milestones was completed in the period: listed when open, with that,
    # or with counted time in the period (a month bucket above)
    open_statuses = set(OPEN_PROJECT_STATUSES)
    rows = [row for row in connection.execute(
        sa.select(Project.id, Project.name, Project.status, Project.billing_model, Project.fee_amount,
                  Account.id, Account.name, User.id, User.name, has_milestone)
        .join(Account, Account.id == Project.account_id).join(User, User.id == Project.manager_id)
        .order_by(sa.func.lower(Account.name), Account.id, sa.func.lower(Project.name), Project.id)).all()
        if row[2] in open_statuses or row[9] or (row[0] in sums and sums[row[0]][6])]

    shares: dict[int, list[tuple[Decimal, int]]] = {}
    milestone_month = _month_bucket(Milestone.completed_at, months)
    # a project with a milestone completed in the period is listed: no need to ask again
    monthly_shares = connection.execute(
        sa.select(Milestone.project_id, Milestone.fee_share_percent, milestone_month, sa.func.count())
        .join(Project, Project.id == Milestone.project_id)
        .where(completed, Project.billing_model == "fixed_fee")
        .group_by(Milestone.project_id, Milestone.fee_share_percent, milestone_month)).all()
    for project_id, percent, _, number in monthly_shares:
        shares.setdefault(project_id, []).append((percent, int(number)))

    # the listed fixed-fee projects: their open tasks' remaining minutes (less the minutes logged on each, in any
    # state, from the task totals); the members' current cost rates for those without counted time to date
    fixed_ids = [row[0] for row in rows if row[3] == "fixed_fee"]
    open_tasks = (sa.select(Task.id, Task.project_id, Task.estimated_minutes)
                  .where(Task.status != "done", _among(Task.project_id, fixed_ids, connection)).cte("open_fixed_tasks"))
    # the minutes logged on them, in any state (the task totals, psa.timesheets.totals.logged_minutes's source),
    # joined to the open tasks rather than probed for each: a hash join over the totals
    totals = task_time_totals.c
    logged = (sa.select(totals.task_id.label("task_id"), sa.func.sum(totals.minutes).label("minutes"))
              .join(open_tasks, open_tasks.c.id == totals.task_id).group_by(totals.task_id).subquery("task_minutes"))
    left = open_tasks.c.estimated_minutes - sa.func.coalesce(logged.c.minutes, 0)
    remaining = dict(connection.execute(
        sa.select(open_tasks.c.project_id, sa.func.sum(sa.case((left > 0, left), else_=0)))
        .outerjoin(logged, logged.c.task_id == open_tasks.c.id)
        .group_by(open_tasks.c.project_id)).all())

    unlogged = [project_id for project_id in fixed_ids if not (project_id in sums and sums[project_id][5])]
    current = (sa.select(UserRate.user_id.label("user_id"), sa.func.max(UserRate.effective_from).label("since"))
               .where(UserRate.effective_from <= today).group_by(UserRate.user_id).subquery("current_rates"))
    member_rates = {project_id: (total, int(number)) for project_id, total, number in connection.execute(
        sa.select(project_members.c.project_id, money_sum(UserRate.cost_rate), sa.func.count())
        .join(current, current.c.user_id == project_members.c.user_id)
        .join(UserRate, sa.and_(UserRate.user_id == current.c.user_id, UserRate.effective_from == current.c.since))
        .where(_among(project_members.c.project_id, unlogged, connection))
        .group_by(project_members.c.project_id))}

    report = MarginReport(period=period, include_submitted=include_submitted, today=today, projects=[],
                          months=months)
    month_cost = [ZERO] * count
    month_revenue = [ZERO] * count
    month_billed = [ZERO] * count  # uncapped T&M billed amounts (Σ minutes × bill rate) per month
    empty = (ZERO, 0, ZERO, ZERO, ZERO, 0, {})
    projects = report.projects
    amounts: dict[tuple[int, Decimal], Decimal] = {}  # a milestone's share of its project's fee, per percent
    for project_id, name, status, model, fee, account_id, account_name, manager_id, manager_name, _ in rows:
        cost, minutes, billed_before, billed, cost_to_date, minutes_to_date, by_month = sums.get(project_id, empty)
        item = ProjectRow(project_id=project_id, name=name, status=status, billing_model=model,
                          account_id=account_id, account_name=account_name, manager_id=manager_id,
                          manager_name=manager_name, minutes=minutes, cost=cost / 60)
        for index, (amount, _) in by_month.items():
            month_cost[index] += amount  # exact: ÷ 60 once per month below
        if model == "time_and_materials":
            earned = capped_time_and_materials(billed_before, fee)
            item.revenue = capped_time_and_materials(billed_before + billed, fee) - earned
            if by_month:
                through = billed_before + billed
                if capped_time_and_materials(through, fee) == capped_time_and_materials(through, None):
                    # the cap does not bite by the period's end: each month's revenue is its billed amount ÷ 60,
                    # added up exactly across projects and divided once per month below
                    for index, (_, amount) in by_month.items():
                        month_billed[index] += amount
                else:
                    # the capped running revenue's steps month by month (so the months add up to the period)
                    running = billed_before
                    for index in range(count):
                        month = by_month.get(index)
                        if month is not None:
                            running += month[1]
                        capped = capped_time_and_materials(running, fee)
                        month_revenue[index] += capped - earned
                        earned = capped
        elif model == "fixed_fee":
            done = shares.get(project_id, ())
            item.milestones_done = sum(number for _, number in done)
            if fee is not None:
                revenue = ZERO
                for percent, number in done:
                    amount = amounts.get((project_id, percent))
                    if amount is None:
                        amount = amounts[project_id, percent] = fee_share(fee, percent)
                    revenue += amount * number
                item.revenue = revenue
            cost_to_date = cost_to_date / 60
            item.remaining_minutes = int(remaining.get(project_id) or 0)
            if minutes_to_date:
                blended = cost_to_date * 60 / minutes_to_date
            else:
                total, number = member_rates.get(project_id, (ZERO, 0))
                blended = total / number if number else ZERO
            item.eac = cost_to_date + Decimal(item.remaining_minutes) / 60 * blended
            item.fee = fee if fee is not None else ZERO
        projects.append(item)
    fee_of = {row[0]: row[4] for row in rows}
    for project_id, percent, bucket, number in monthly_shares:
        fee = fee_of.get(project_id)
        if bucket < count and fee is not None:
            amount = amounts.get((project_id, percent))
            month_revenue[bucket] += (fee_share(fee, percent) if amount is None else amount) * number
    for month, cost, revenue, billed in zip(months, month_cost, month_revenue, month_billed, strict=True):
        month.cost, month.revenue = cost / 60, revenue + billed / 60

    # the roll-ups, in one pass over the projects (each group in the order of its first project)
    accounts: dict = {}
    managers: dict = {}
    models: dict = {}
    total = report.total
    for item in projects:
        for groups, key, label in ((accounts, item.account_id, item.account_name),
                                   (managers, item.manager_id, item.manager_name),
                                   (models, item.billing_model, None)):
            group = groups.get(key)
            if group is None:
                group = groups[key] = GroupRow(label=item.billing_label if label is None else label,
                                                   key=key)
            group.add(item)
            group.projects += 1
        total.add(item)
    total.projects = len(projects)
    report.accounts = list(accounts.values())
    report.managers = sorted(managers.values(), key=lambda g: (g.label.lower(), g.key))
    order = {model: n for n, model in enumerate(BILLING_MODELS)}
    report.models = sorted(models.values(), key=lambda g: order.get(g.key, 99))
    return report


def cached_margin_report(period: Period, include_submitted: bool = False) -> MarginReport:
    """margin_report as of today, reused while its data is unchanged (psa.core.report_cache): what the page, the
    CSV, the PDF and the API show. Do not change the result."""
    today = clock.org_today()
    return report_cache.cached("margin", (period, include_submitted, today),
                               lambda: margin_report(period, include_submitted, today))


# --- display -----------------------------------------------------------------------------------------------------


def money(value: Decimal | None) -> str:
    """A figure rounded once, half-up to the cent, with thousands separators ("—" for none)."""
    return "—" if value is None else f"{round_money(value):,.2f}"


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} %"


def hours(minutes: int) -> str:
    return f"{(Decimal(minutes) / 60).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


CSV_HEADER = ["section", "name", "account", "project_manager", "billing_model", "period_start", "period_end",
              "revenue", "cost", "margin", "margin_percent", "estimate_at_completion", "projected_margin"]


def _cells(report: MarginReport, section: str, name: str, account: str, manager: str, model: str, f: Figures):
    pct = f.margin_percent
    return [section, escape_cell(name), escape_cell(account), escape_cell(manager), model,
            report.period.start.isoformat(), report.period.end.isoformat(), money(f.revenue), money(f.cost),
            money(f.margin), "—" if pct is None else str(pct), money(f.eac), money(f.projected_margin)]


def csv_rows(report: MarginReport):
    """The report's figures as CSV cells: the same strings as the HTML (percent without its sign)."""
    yield CSV_HEADER
    for p in report.projects:
        yield _cells(report, "project", p.name, p.account_name, p.manager_name, p.billing_label, p)
    for g in report.accounts:
        yield _cells(report, "account", g.label, g.label, "", "", g)
    for g in report.managers:
        yield _cells(report, "project_manager", g.label, "", g.label, "", g)
    for g in report.models:
        yield _cells(report, "billing_model", g.label, "", "", g.label, g)
    yield _cells(report, "total", report.total.label, "", "", "", report.total)


# --- routes ------------------------------------------------------------------------------------------------------


def _filters() -> tuple[UtilizationForm, Period | None]:
    form = UtilizationForm(formdata=request.args)
    if not form.validate():
        return form, None
    return form, period_for(form.period.data, clock.org_today(), form.date_from.data, form.date_to.data)


def _args(form: UtilizationForm) -> dict:
    args = {"period": form.period.data}
    if form.period.data == "custom":
        args.update(date_from=form.date_from.data.isoformat(), date_to=form.date_to.data.isoformat())
    if form.include_submitted.data:
        args["include_submitted"] = "y"
    return args


def margin_charts(report: MarginReport, projects: list[ProjectRow] | None = None) -> dict:
    """The report's SVG charts (psa.core.charts), the same on the page and in the PDF: margin by project (every
    project, or those of `projects`: the page's) and by month."""
    shown = report.projects if projects is None else projects
    return {"chart": bar_chart([(p.name, p.margin) for p in shown], value_text=money),
            "month_chart": bar_chart([(m.label, m.margin) for m in report.months], value_text=money)}


def margin_pdf_html(report: MarginReport) -> str:
    """The PDF's HTML (reports/margin_pdf.html): the page's figures, formatters and charts, for WeasyPrint. Its
    chart of margin by project draws what the page's first page draws (the first PER_PAGE projects in the table's
    order) and says so when there are more: thousands of bars would be a grey block over many pages; the table
    lists every project."""
    return render_template("reports/margin_pdf.html", report=report, money=money, pct=percent, hrs=hours,
                           generated_on=clock.org_today().isoformat(), chart_limit=PER_PAGE,
                           **margin_charts(report, report.projects[:PER_PAGE]))


#: Rows per page of the page's projects and accounts tables (the CSV and the PDF hold every row).
PER_PAGE = 50


class RowsPage(Pagination):
    """A page of a list the report already holds (its projects or accounts, in the report's order), with the list
    pages' pager (flask_sqlalchemy's Pagination: pages, has_prev, iter_pages...); a page past the last shows the
    last. `param` is the page's query parameter (each table has its own, so the filters and the other table's page
    survive) and `href(n)` the page's link: the request's query string with `param` set to n, built once."""

    def __init__(self, rows: list, param: str, per_page: int = PER_PAGE):
        asked = requested_page(request.args.get(param))
        last = max(1, -(-len(rows) // per_page))
        super().__init__(page=min(asked, last), per_page=per_page, error_out=False, rows=rows)
        self.param = param
        others = [(key, value) for key, value in request.args.items(multi=True) if key != param]
        base = request.path + "?" + urlencode([*others, (param, "")])
        self._base = base

    def _query_items(self) -> list:
        rows = self._query_args["rows"]
        return rows[(self.page - 1) * self.per_page:self.page * self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["rows"])

    def href(self, number: int) -> str:
        return f"{self._base}{number}"


def _page(form, report, args, status=200):
    if report is None:
        return render_template("reports/margin.html", form=form, report=None, args=args, money=money, pct=percent,
                               hrs=hours, chart=None, month_chart=None), status
    projects, accounts = RowsPage(report.projects, "projects_page"), RowsPage(report.accounts, "accounts_page")
    # links built once, each row varying the query string or the id at the end of the path
    export = url_for("timesheets.export_page", date_from=report.period.start.isoformat(),
                     date_to=report.period.end.isoformat(), state="" if report.include_submitted else "approved")
    project_path = url_for("projects.show", project_id=0).removesuffix("0")
    return render_template("reports/margin.html", form=form, report=report, args=args, money=money, pct=percent,
                           hrs=hours, projects=projects, accounts=accounts, export=export, project_path=project_path,
                           **margin_charts(report, projects.items)), status


@bp.route("/margin")
@permission_required("reports.view")
def margin():
    """Revenue, cost and margin per project over a period, rolled up by account, manager and billing model."""
    form, period = _filters()
    if period is None:
        return _page(form, None, {}, 400)
    return _page(form, cached_margin_report(period, include_submitted=form.include_submitted.data), _args(form))


@bp.route("/margin.csv")
@permission_required("reports.view")
def margin_csv():
    """The same figures as CSV, streamed."""
    form, period = _filters()
    if period is None:
        return _page(form, None, {}, 400)
    report = cached_margin_report(period, include_submitted=form.include_submitted.data)

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        yield "\ufeff"
        for row in csv_rows(report):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"margin-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/margin.pdf")
@permission_required("reports.view")
def margin_pdf():
    """The same figures as a PDF (WeasyPrint, reports/margin_pdf.html), downloaded; past 50 projects built by a job
    and offered on its page (psa.reports.pdf_jobs)."""
    form, period = _filters()
    if period is None:
        return _page(form, None, {}, 400)
    report = cached_margin_report(period, include_submitted=form.include_submitted.data)
    return pdf_response("margin", period, form.include_submitted.data, report, current_user)
