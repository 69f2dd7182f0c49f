"""What the account view shows, read in a fixed number of statements whatever the number of projects: every
figure is aggregated in SQL (GROUP BY project) and only combined in Python.

Hours to date count **approved** entries (SPEC §3's default for cost and T&M revenue); the minutes logged in
weeks not yet approved are shown beside them. Money (only for users who may see rates) follows SPEC §3 over the
project's life to date:
- cost = Σ approved minutes × cost rate snapshot ÷ 60, billable or not;
- revenue: time and materials = Σ approved billable minutes × bill rate snapshot ÷ 60, capped at the fee
  (the not-to-exceed amount) when set; fixed fee = Σ over done milestones of fee × share ÷ 100, each rounded to
  the cent; non-billable = 0;
- margin = revenue − cost; margin % = margin ÷ revenue × 100 (None, shown "—", when revenue is 0).
Sums are exact; each shown figure is rounded once, half-up (revenue and cost to the cent, margin from the
unrounded figures, margin % to one decimal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from psa.accounts.models import Account, Contact
from psa.auth.models import User
from psa.core.money import money_sum, round_money
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.projects.models import (
    OPEN_PROJECT_STATUSES,
    Escalation,
    Milestone,
    MilestoneRating,
    Project,
    SuccessCriterion,
)
from psa.projects.services import visible_projects_filter
from psa.projects.ttv import OpenTtv, open_time_to_value
from psa.timesheets.models import TimeEntry, Timesheet

ONE_DECIMAL = Decimal("0.1")
#: The rate columns' type: Σ rate × minutes keeps it (exact on both databases, integer cents on SQLite).
RATE = TimeEntry.__table__.c.bill_rate.type


@dataclass
class Money:
    """A project's money to date, each figure rounded once for display."""

    revenue: Decimal
    cost: Decimal
    margin: Decimal
    #: margin ÷ revenue × 100 to one decimal; None when revenue is 0.
    margin_percent: Decimal | None


@dataclass
class ProjectRow:
    """One project of the account as the view shows it."""

    project: Project
    target_ttv_days: int | None
    open_ttv: OpenTtv | None
    approved_minutes: int = 0
    unapproved_minutes: int = 0
    csat_sum: int = 0
    csat_count: int = 0
    money: Money | None = None

    @property
    def csat_average(self) -> Decimal | None:
        return average(self.csat_sum, self.csat_count)


@dataclass
class AccountOverview:
    """Everything on the account view."""

    account: Account
    owner_name: str | None
    projects: list[ProjectRow]
    criteria: list[tuple[SuccessCriterion, str]]
    escalations: list[tuple[Escalation, str, str]]
    contacts: list[Contact]
    with_money: bool
    totals: dict = field(default_factory=dict)

    @property
    def csat_count(self) -> int:
        return sum(row.csat_count for row in self.projects)

    @property
    def csat_average(self) -> Decimal | None:
        return average(sum(row.csat_sum for row in self.projects), self.csat_count)


def average(total: int, count: int) -> Decimal | None:
    """total ÷ count to one decimal, half-up (None without ratings)."""
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def margin_figures(revenue: Decimal, cost: Decimal) -> Money:
    """Revenue and cost (exact, unrounded) as shown: each rounded once; margin % on revenue, "—" at 0."""
    margin = revenue - cost
    percent = None
    if revenue != 0:
        percent = (margin * 100 / revenue).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
    return Money(round_money(revenue), round_money(cost), round_money(margin), percent)


def fee_share(fee: Decimal, percent: Decimal) -> Decimal:
    """A milestone's share of the fee: fee × percent ÷ 100, rounded to the cent (SPEC §3)."""
    return round_money(fee * percent / 100)


def capped_time_and_materials(billable_rate_minutes: Decimal, fee: Decimal | None) -> Decimal:
    """Time-and-materials revenue, exact, from Σ bill rate × billable minutes over the project's life up to a
    day: ÷ 60, capped at the not-to-exceed amount (the fee) when set (SPEC §3). A period's revenue is this
    through its last day less this through the day before its first (the margin report)."""
    revenue = billable_rate_minutes / 60
    if fee is not None and revenue > fee:
        return Decimal(fee)
    return revenue


def project_money(project: Project, billable_rate_minutes: Decimal, cost_rate_minutes: Decimal,
                  done_shares: list[tuple[Decimal, int]]) -> tuple[Decimal, Decimal]:
    """SPEC §3's revenue and cost to date, exact (unrounded), from a project's SQL aggregates: Σ bill rate ×
    approved billable minutes, Σ cost rate × approved minutes, and its done milestones' (fee share %, how many)
    pairs."""
    cost = cost_rate_minutes / 60
    if project.billing_model == "time_and_materials":
        revenue = capped_time_and_materials(billable_rate_minutes, project.fee_amount)
    elif project.billing_model == "fixed_fee" and project.fee_amount is not None:
        revenue = sum((fee_share(project.fee_amount, percent) * count for percent, count in done_shares),
                      Decimal("0"))
    else:
        revenue = Decimal("0")
    return revenue, cost


@dataclass(frozen=True)
class _ViewerParam:
    """A viewer whose id is the bound parameter viewer_id: visible_projects_filter's clause for a role, built once
    and bound to each viewer at execution."""

    role: str
    id: sa.BindParameter


#: (viewer's role, with money) -> the account view's statements (bound: account_id, viewer_id), built once: a new
#: statement would be traversed again for its cache key at each view, as long as the database takes for some.
_STATEMENTS: dict[tuple[str, bool], dict[str, sa.Select]] = {}


def _statements(role: str, with_money: bool) -> dict[str, sa.Select]:
    cached = _STATEMENTS.get((role, with_money))
    if cached is not None:
        return cached
    account_id = sa.bindparam("account_id", type_=sa.Integer)
    may_see = visible_projects_filter(_ViewerParam(role, sa.bindparam("viewer_id", type_=sa.Integer)))
    visible_ids = sa.select(Project.id).where(Project.account_id == account_id, may_see)
    visible = Project.id.in_(visible_ids)
    statements = {
        "owner": sa.select(User.name).where(User.id == sa.bindparam("owner_id", type_=sa.Integer)),
        "projects": sa.select(Project, Template.target_ttv_days)
        .outerjoin(TemplateVersion, TemplateVersion.id == Project.template_version_id)
        .outerjoin(Template, Template.id == TemplateVersion.template_id)
        .where(Project.account_id == account_id, may_see)
        .order_by(sa.case((Project.status.in_(OPEN_PROJECT_STATUSES), 0), else_=1),
                  Project.kickoff_date.desc(), Project.id),
        "criteria": sa.select(SuccessCriterion, Project.name).join(Project, Project.id == SuccessCriterion.project_id)
        .where(visible).order_by(Project.name, Project.id, SuccessCriterion.position, SuccessCriterion.id),
        "csat": sa.select(MilestoneRating.project_id, sa.func.sum(MilestoneRating.score), sa.func.count())
        .where(MilestoneRating.project_id.in_(sa.select(Project.id).where(visible)))
        .group_by(MilestoneRating.project_id),
        "escalations": sa.select(Escalation, Milestone.name, Project.name)
        .join(Milestone, Milestone.id == Escalation.milestone_id).join(Project, Project.id == Escalation.project_id)
        .where(Escalation.resolved_at.is_(None), visible)
        .order_by(Escalation.level.desc(), Escalation.slip_days.desc(), Escalation.id),
        "contacts": sa.select(Contact).where(Contact.account_id == account_id)
        .order_by(Contact.is_active_contact.desc(), sa.func.lower(Contact.name)),
    }
    approved = Timesheet.state == "approved"
    zero = sa.literal(Decimal(0), type_=RATE)
    hours_columns = [
        TimeEntry.project_id,
        sa.func.coalesce(sa.func.sum(sa.case((approved, TimeEntry.minutes), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((approved, 0), else_=TimeEntry.minutes)), 0),
    ]
    if with_money:
        hours_columns += [
            money_sum(sa.case((sa.and_(approved, TimeEntry.billable.is_(True)),
                               TimeEntry.bill_rate * TimeEntry.minutes), else_=zero)),
            money_sum(sa.case((approved, TimeEntry.cost_rate * TimeEntry.minutes), else_=zero)),
        ]
        statements["shares"] = (
            sa.select(Milestone.project_id, Milestone.fee_share_percent, sa.func.count())
            .where(Milestone.status == "done", Milestone.project_id.in_(sa.select(Project.id).where(visible)))
            .group_by(Milestone.project_id, Milestone.fee_share_percent))
    statements["hours"] = (sa.select(*hours_columns).join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
                           .where(TimeEntry.project_id.in_(sa.select(Project.id).where(visible)))
                           .group_by(TimeEntry.project_id))
    _STATEMENTS[(role, with_money)] = statements
    return statements


def account_overview(viewer: User, account: Account, *, with_money: bool, today: date | None = None) -> AccountOverview:
    """The account view's figures for `viewer` (the projects they may see), money only `with_money`."""
    statements = _statements(viewer.role, with_money)
    params = {"account_id": account.id, "viewer_id": viewer.id}
    execute = db.session.execute
    owner_name = None
    if account.owner_id is not None:
        owner_name = db.session.scalar(statements["owner"], {"owner_id": account.owner_id})

    rows = {project.id: ProjectRow(project, target, None)
            for project, target in execute(statements["projects"], params).all()}

    for project_id, ttv in open_time_to_value(list(rows), today=today).items():
        rows[project_id].open_ttv = ttv

    criteria = execute(statements["criteria"], params).all()

    for project_id, total, count in execute(statements["csat"], params):
        rows[project_id].csat_sum, rows[project_id].csat_count = int(total), int(count)

    escalations = execute(statements["escalations"], params).all()

    sums: dict[int, tuple[Decimal, Decimal]] = {}
    for row in execute(statements["hours"], params):
        rows[row[0]].approved_minutes, rows[row[0]].unapproved_minutes = int(row[1]), int(row[2])
        if with_money:
            sums[row[0]] = (row[3], row[4])

    totals: dict = {"approved_minutes": sum(r.approved_minutes for r in rows.values()),
                    "unapproved_minutes": sum(r.unapproved_minutes for r in rows.values())}
    if with_money:
        shares: dict[int, list[tuple[Decimal, int]]] = {}
        for project_id, percent, count in execute(statements["shares"], params):
            shares.setdefault(project_id, []).append((percent, int(count)))
        revenue = cost = Decimal("0")
        for project_id, row in rows.items():
            billed, costed = sums.get(project_id, (Decimal("0"), Decimal("0")))
            project_revenue, project_cost = project_money(row.project, billed, costed, shares.get(project_id, []))
            row.money = margin_figures(project_revenue, project_cost)
            revenue += project_revenue  # the account's total from the exact figures, rounded once
            cost += project_cost
        totals["money"] = margin_figures(revenue, cost)

    contacts = db.session.scalars(statements["contacts"], params).all()
    return AccountOverview(account, owner_name, list(rows.values()), [(c, name) for c, name in criteria],
                           [(e, m, p) for e, m, p in escalations], list(contacts), with_money, totals)


def hours(minutes: int) -> str:
    """Minutes as hours with up to two decimals ("10", "7.5", "0.25")."""
    value = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:,.2f}".rstrip("0").rstrip(".")
