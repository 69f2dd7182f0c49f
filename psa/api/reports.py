"""API operations: reports (issue 16) — utilization, margin, the revenue forecast and time to value, for those who
see them on the pages (reports.view: leaders and admins).

Each calls the report's own service (utilization_report and period_for, margin_report, revenue_forecast, ttv_report
and parse_filters) with the filters judged by the pages' own rules (the period by the pages' UtilizationForm, TTV's
by parse_filters) and answers the figures the HTML and the CSV show: hours and money rounded once, half-up, to the
hundredth (as Decimal strings, without thousands separators), percentages to the tenth (null where the page shows
"—"); durations in whole minutes, days as integers or Decimal strings as the report keeps them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from flask import request
from pydantic import BaseModel, Field
from werkzeug.datastructures import MultiDict

from psa.api import bp, spec
from psa.api.core import ApiError, permission, responses
from psa.api.time import Day
from psa.core import clock
from psa.core.money import round_money
from psa.reports.forecast import cached_revenue_forecast
from psa.reports.margin import cached_margin_report
from psa.reports.services import Period, cached_utilization_report, format_hours, period_for
from psa.reports.ttv_report import BadFilter, cached_ttv_report, parse_filters

TAGS = ["reports"]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(round_money(value))


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class PeriodQuery(BaseModel):
    """The period of the utilization and margin reports, as on their pages."""

    period: Literal["this_month", "last_month", "this_quarter", "last_quarter", "custom"] = Field(
        "this_month", description="A preset, or custom with date_from and date_to (at most 731 days).")
    date_from: Day | None = None
    date_to: Day | None = None
    include_submitted: bool = Field(False, description="Count submitted (not yet approved) weeks too.")


def _period(query: PeriodQuery) -> Period:
    """The period, judged by the pages' form (UtilizationForm): a custom one needs both days, in order, ≤ 731 days."""
    from psa.reports.forms import UtilizationForm

    form = UtilizationForm(formdata=MultiDict({
        "period": query.period, "date_from": query.date_from.isoformat() if query.date_from else "",
        "date_to": query.date_to.isoformat() if query.date_to else ""}))
    if not form.validate():
        raise ApiError(422, fields={name: errors[0] for name, errors in form.errors.items() if errors})
    return period_for(form.period.data, clock.org_today(), form.date_from.data, form.date_to.data)


# --- utilization --------------------------------------------------------------------------------------------------


class UtilizationFigures(BaseModel):
    capacity_hours: str
    billable_hours: str
    total_hours: str
    billable_utilization_percent: str | None = Field(description="null at capacity 0.")
    total_utilization_percent: str | None


class UtilizationPerson(UtilizationFigures):
    user_id: int
    name: str
    email: str
    role: str
    team: str = Field(description="Their approver's name (the team), or 'No approver'.")
    weekly_capacity_hours: str
    time_off_hours: str


class UtilizationGroup(UtilizationFigures):
    label: str
    people: int


class UtilizationOut(BaseModel):
    period_start: date
    period_end: date
    include_submitted: bool
    working_days: int
    target_percent: str
    people: list[UtilizationPerson]
    roles: list[UtilizationGroup]
    teams: list[UtilizationGroup]
    total: UtilizationGroup


def _figures(f) -> dict:
    return {"capacity_hours": format_hours(f.capacity), "billable_hours": format_hours(f.billable_hours),
            "total_hours": format_hours(f.total_hours), "billable_utilization_percent": _pct(f.billable_percent),
            "total_utilization_percent": _pct(f.total_percent)}


def _group(g) -> UtilizationGroup:
    return UtilizationGroup(label=g.label, people=g.people, **_figures(g))


@bp.get("/reports/utilization")
@permission("reports.view")
@spec.validate(query=PeriodQuery, resp=responses({200: UtilizationOut}), tags=TAGS)
def utilization():
    """Utilization per person, role and team.

    Capacity, billable and total hours and utilization over the period (approved weeks; with include_submitted,
    submitted ones too): the figures of /reports/utilization and its CSV."""
    query: PeriodQuery = request.context.query
    report = cached_utilization_report(_period(query), include_submitted=query.include_submitted)
    return UtilizationOut(
        period_start=report.period.start, period_end=report.period.end, include_submitted=report.include_submitted,
        working_days=report.working_days, target_percent=str(report.target_percent),
        people=[UtilizationPerson(user_id=p.user_id, name=p.name, email=p.email, role=p.role, team=p.team,
                                  weekly_capacity_hours=format_hours(p.weekly_capacity_hours),
                                  time_off_hours=format_hours(p.time_off_hours), **_figures(p))
                for p in report.people],
        roles=[_group(g) for g in report.roles], teams=[_group(g) for g in report.teams],
        total=_group(report.total)).model_dump(mode="json"), 200


# --- margin ---------------------------------------------------------------------------------------------------------


class MarginFigures(BaseModel):
    revenue: str
    cost: str
    margin: str
    margin_percent: str | None = Field(description="margin ÷ revenue × 100; null at revenue 0.")
    estimate_at_completion: str | None = Field(description="Fixed-fee projects only.")
    projected_margin: str | None


class MarginProject(MarginFigures):
    project_id: int
    name: str
    status: str
    billing_model: str
    account_id: int
    account_name: str
    manager_id: int
    manager_name: str
    minutes: int
    milestones_done: int


class MarginGroup(MarginFigures):
    label: str
    projects: int


class MarginMonth(MarginFigures):
    month: str = Field(description="YYYY-MM")
    first_day: date
    last_day: date


class MarginOut(BaseModel):
    period_start: date
    period_end: date
    include_submitted: bool
    projects: list[MarginProject]
    months: list[MarginMonth]
    accounts: list[MarginGroup]
    managers: list[MarginGroup]
    billing_models: list[MarginGroup]
    total: MarginGroup


def _margin(f) -> dict:
    return {"revenue": _money(f.revenue), "cost": _money(f.cost), "margin": _money(f.margin),
            "margin_percent": _pct(f.margin_percent), "estimate_at_completion": _money(f.eac),
            "projected_margin": _money(f.projected_margin)}


def _margin_group(g) -> MarginGroup:
    return MarginGroup(label=g.label, projects=g.projects, **_margin(g))


@bp.get("/reports/margin")
@permission("reports.view")
@spec.validate(query=PeriodQuery, resp=responses({200: MarginOut}), tags=TAGS)
def margin():
    """Margin per project, account, manager, billing model and month.

    Revenue, cost, margin and margin % over the period, with the estimate at completion and projected margin of
    fixed-fee projects: the figures of /reports/margin and its CSV."""
    query: PeriodQuery = request.context.query
    report = cached_margin_report(_period(query), include_submitted=query.include_submitted)
    return MarginOut(
        period_start=report.period.start, period_end=report.period.end, include_submitted=report.include_submitted,
        projects=[MarginProject(project_id=p.project_id, name=p.name, status=p.status, billing_model=p.billing_model,
                                account_id=p.account_id, account_name=p.account_name, manager_id=p.manager_id,
                                manager_name=p.manager_name, minutes=p.minutes, milestones_done=p.milestones_done,
                                **_margin(p)) for p in report.projects],
        months=[MarginMonth(month=m.label, first_day=m.first, last_day=m.last, **_margin(m)) for m in report.months],
        accounts=[_margin_group(g) for g in report.accounts], managers=[_margin_group(g) for g in report.managers],
        billing_models=[_margin_group(g) for g in report.models],
        total=_margin_group(report.total)).model_dump(mode="json"), 200


# --- revenue forecast -------------------------------------------------------------------------------------------------


class ForecastCell(BaseModel):
    month: str = Field(description="YYYY-MM")
    recognised: str
    forecast: str
    at_risk: str = Field(description="Forecast revenue of the month whose baseline lay in an earlier month.")


class ForecastProject(BaseModel):
    project_id: int
    name: str
    account: str
    billing_model: str
    fee_amount: str | None
    forecast_total: str
    months: list[ForecastCell]


class ForecastOut(BaseModel):
    today: date
    months: list[str]
    projects: list[ForecastProject]
    totals: list[ForecastCell]
    forecast_total: str


def _cells(months, cells) -> list[ForecastCell]:
    return [ForecastCell(month=m.key, recognised=_money(c.recognised), forecast=_money(c.forecast),
                         at_risk=_money(c.at_risk)) for m, c in zip(months, cells, strict=True)]


@bp.get("/reports/forecast")
@permission("reports.view")
@spec.validate(resp=responses({200: ForecastOut}), tags=TAGS)
def forecast():
    """The revenue forecast by month.

    Six calendar months from the organisation's current one, per project and in total, with revenue already
    recognised and the revenue at risk: the figures of /reports/forecast and its CSV."""
    report = cached_revenue_forecast()
    return ForecastOut(
        today=report.today, months=[m.key for m in report.months],
        projects=[ForecastProject(project_id=p.project_id, name=p.name, account=p.account,
                                  billing_model=p.billing_model, fee_amount=_money(p.fee_amount),
                                  forecast_total=_money(p.forecast_total), months=_cells(report.months, p.months))
                  for p in report.projects],
        totals=_cells(report.months, report.totals),
        forecast_total=_money(report.forecast_total)).model_dump(mode="json"), 200


# --- time to value ----------------------------------------------------------------------------------------------------


class TtvQuery(BaseModel):
    template: str | None = Field(None, max_length=20, description="A template's key (0: blank projects).")
    segment: str | None = Field(None, max_length=40)


class TtvCohort(BaseModel):
    template_key: int
    template: str
    segment: str
    kickoff_quarter: str
    projects: int
    median_days: str | None
    p75_days: str | None
    mean_days: str | None
    within_target_percent: str | None
    target_days: int | None


class TtvTrendPoint(BaseModel):
    snapshot_date: date
    median_days: str
    projects: int


class TtvOpenProject(BaseModel):
    project_id: int
    name: str
    account: str
    template: str
    segment: str
    start_date: date
    elapsed_days: int
    forecast_days: int | None
    target_days: int | None
    state: Literal["past", "forecast_over", "on_track", "no_target"]
    over_by_days: int | None


class TtvOut(BaseModel):
    template: int | None
    segment: str | None
    snapshot_date: date | None = Field(description="The latest snapshot's day (the cohorts').")
    cohorts: list[TtvCohort]
    trend: list[TtvTrendPoint]
    open_projects: list[TtvOpenProject]


@bp.get("/reports/ttv")
@permission("reports.view")
@spec.validate(query=TtvQuery, resp=responses({200: TtvOut}), tags=TAGS)
def ttv():
    """Time to value per cohort, its trend and the open projects.

    The latest snapshot's cohorts (template, segment, kickoff quarter), the median per snapshot day, and every open
    project against its target, filtered by template and segment: the figures of /reports/ttv and its CSV."""
    query: TtvQuery = request.context.query
    errors = {}
    for name in ("template", "segment"):
        try:
            parse_filters({name: getattr(query, name)})
        except BadFilter as error:
            errors[name] = str(error)
    if errors:
        raise ApiError(422, fields=errors)
    report = cached_ttv_report(parse_filters({"template": query.template, "segment": query.segment}))
    return TtvOut(
        template=report.filters.template, segment=report.filters.segment, snapshot_date=report.latest,
        cohorts=[TtvCohort(template_key=c.template_key, template=c.template_label, segment=c.segment,
                           kickoff_quarter=c.kickoff_quarter, projects=c.project_count, median_days=_pct(c.median_days),
                           p75_days=_pct(c.p75_days), mean_days=_pct(c.mean_days),
                           within_target_percent=_pct(c.within_target_percent), target_days=c.target_days)
                 for c in report.cohorts],
        trend=[TtvTrendPoint(snapshot_date=p.taken_on, median_days=str(p.median_days), projects=p.project_count)
               for p in report.trend],
        open_projects=[TtvOpenProject(project_id=o.project_id, name=o.name, account=o.account,
                                      template=o.template_label, segment=o.segment, start_date=o.start,
                                      elapsed_days=o.elapsed_days, forecast_days=o.forecast_days,
                                      target_days=o.target_days, state=o.state, over_by_days=o.over_by)
                       for o in report.open_rows]).model_dump(mode="json"), 200
