"""Time to value report (SPEC §3) at /reports/ttv and /reports/ttv.csv, read from the nightly snapshots
(psa.projects.ttv.take_ttv_snapshot) and the open projects (psa.projects.ttv.open_projects_statement).

- Cohorts: the latest snapshot day's rows per template, segment and kickoff quarter (count, median, 75th
  percentile, mean, share within target) beside the template's current target, filtered by template and segment.
- Trend: per snapshot day, the median TTV of the filtered cohorts. A day's figure is the cohort medians weighted
  by their project count (exactly the median when one cohort is shown); summed in SQL with GROUP BY taken_on,
  divided and rounded half-up to the hundredth here. Drawn as a server-side SVG line (presentation attributes).
- Open projects: days elapsed since the start (contract signed, else kickoff) and the forecast TTV (the
  first-value milestone's forecast), against the template's target. The page lists the OPEN_ROWS_SHOWN furthest
  over target and links "show all" (?open=all); the CSV always holds every one.

Statements per page whatever the number of rows: the latest day, the template choices, the cohorts, the trend
and the open projects with their first-value milestone (five), besides the session's own.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import NamedTuple

import sqlalchemy as sa
from flask import Response, current_app, render_template, request, stream_with_context, url_for

from psa.accounts.models import SEGMENT_LABELS, SEGMENTS, Account
from psa.core import report_cache
from psa.core.auth import permission_required
from psa.core.clock import org_today
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.projects.models import Project, TtvSnapshot
from psa.projects.ttv import open_projects_statement, open_ttv_days
from psa.reports import bp
from psa.timesheets.imports import escape_cell

#: The open projects listed on the page (furthest over target first) unless ?open=all; the CSV holds them all.
OPEN_ROWS_SHOWN = 200
BLANK_TEMPLATE = "No template (blank projects)"
#: The other reports, linked from the sub-nav when their page is registered.
REPORT_LINKS = (("reports.utilization", "Utilization"), ("reports.margin", "Margin"),
                ("reports.forecast", "Revenue forecast"), ("reports.ttv", "Time to value"))
MAX_KEY = 2 ** 31 - 1
HUNDREDTH = Decimal("0.01")


class BadFilter(ValueError):
    """A filter value the report does not know: the page answers 400 with the message."""


@dataclass(frozen=True)
class Filters:
    template: int | None = None  # a template key (0: blank projects); None: all
    segment: str | None = None  # one of SEGMENTS; None: all

    def args(self) -> dict:
        args = {}
        if self.template is not None:
            args["template"] = str(self.template)
        if self.segment is not None:
            args["segment"] = self.segment
        return args


def parse_filters(values) -> Filters:
    """The filters from the query string; BadFilter for a value that is not a template key or a segment."""
    raw_template = (values.get("template") or "").strip()
    raw_segment = (values.get("segment") or "").strip()
    template = None
    if raw_template:
        if not raw_template.isascii() or not raw_template.isdigit() or int(raw_template) > MAX_KEY:
            raise BadFilter("Choose a template from the list.")
        template = int(raw_template)
    segment = None
    if raw_segment:
        if raw_segment not in SEGMENTS:
            raise BadFilter("Choose a segment from the list.")
        segment = raw_segment
    return Filters(template, segment)


@dataclass(frozen=True)
class CohortRow:
    template_key: int
    template_name: str
    segment: str
    kickoff_quarter: str
    project_count: int
    median_days: Decimal
    p75_days: Decimal
    mean_days: Decimal
    within_target_share: Decimal | None
    target_days: int | None

    @property
    def template_label(self) -> str:
        return template_label(self.template_key, self.template_name)

    @property
    def segment_label(self) -> str:
        return SEGMENT_LABELS.get(self.segment, self.segment)

    @property
    def within_target_percent(self) -> Decimal | None:
        return None if self.within_target_share is None else (self.within_target_share * 100).quantize(HUNDREDTH)


@dataclass(frozen=True)
class TrendPoint:
    taken_on: date
    median_days: Decimal
    project_count: int
    x: float = 0.0
    y: float = 0.0


#: An open project's standing against its target, in the order the page lists them, with its words and badge.
STATE_ORDER = {"past": 0, "forecast_over": 1, "on_track": 2, "no_target": 3}
STATE_LABELS = {"past": "Past target", "forecast_over": "Forecast over target", "on_track": "On track",
                "no_target": "No target"}
STATE_BADGES = {"past": "text-bg-danger", "forecast_over": "text-bg-warning", "on_track": "text-bg-success",
                "no_target": "text-bg-secondary"}


def against_target(elapsed_days: int, forecast_days: int | None, target_days: int | None) -> tuple[str, int | None]:
    """(state, over by) of an open project. The state: 'past' (already beyond the target), 'forecast_over',
    'on_track', or 'no_target'; over by: the days the later of elapsed and forecast lies beyond the target
    (negative: inside it; None without a target)."""
    if target_days is None:
        return "no_target", None
    over_by = max(elapsed_days, forecast_days or 0) - target_days
    if elapsed_days > target_days:
        return "past", over_by
    if forecast_days is not None and forecast_days > target_days:
        return "forecast_over", over_by
    return "on_track", over_by


class OpenRow(NamedTuple):
    """An open project on the report; state and over_by from against_target, worked out once per row (a plain
    tuple: the report builds one per open project, ~1,300 on the large demo)."""

    project_id: int
    name: str
    account: str
    template_label: str
    segment: str
    start: date
    elapsed_days: int
    forecast_days: int | None
    target_days: int | None
    state: str
    over_by: int | None

    @property
    def segment_label(self) -> str:
        return SEGMENT_LABELS.get(self.segment, self.segment)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def state_badge(self) -> str:
        return STATE_BADGES[self.state]


@dataclass
class Chart:
    """The trend's geometry for templates/reports/ttv.html (a viewBox of width × height)."""

    width: int = 640
    height: int = 240
    left: int = 48
    right: int = 624
    top: int = 16
    bottom: int = 200
    y_max: Decimal = Decimal(0)
    points: list[TrendPoint] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str, str]] = field(default_factory=list)  # x, text, anchor
    target_y: float | None = None

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if n == 0 else 'L'} {p.x:.1f} {p.y:.1f}" for n, p in enumerate(self.points))


@dataclass
class TtvReport:
    filters: Filters
    latest: date | None
    templates: list[tuple[int, str]]
    cohorts: list[CohortRow]
    trend: list[TrendPoint]
    chart: Chart | None
    open_rows: list[OpenRow]
    today: date
    chosen_target: int | None = None

def template_label(key: int, name: str) -> str:
    return BLANK_TEMPLATE if key == 0 else (name or f"Template {key}")


def _snapshot_filters(stmt, filters: Filters):
    if filters.template is not None:
        stmt = stmt.where(TtvSnapshot.template_key == filters.template)
    if filters.segment is not None:
        stmt = stmt.where(TtvSnapshot.segment == filters.segment)
    return stmt


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round top for the y axis at or above value (10, 20, 50, 100, 200…)."""
    top = Decimal(10)
    while top < value:
        for step in (2, Decimal("2.5"), 2):
            top *= step
            if top >= value:
                break
    return top


def build_chart(trend: list[TrendPoint], target: int | None) -> Chart | None:
    if not trend:
        return None
    chart = Chart()
    highest = max([p.median_days for p in trend] + ([Decimal(target)] if target else []))
    chart.y_max = _nice_ceiling(highest if highest > 0 else Decimal(1))
    span_y = chart.bottom - chart.top

    def y_of(value: Decimal) -> float:
        return chart.bottom - float(value / chart.y_max) * span_y

    first, last = trend[0].taken_on, trend[-1].taken_on
    days = (last - first).days
    width = chart.right - chart.left
    points = []
    for p in trend:
        x = chart.left + (width / 2 if days == 0 else (p.taken_on - first).days / days * width)
        points.append(TrendPoint(p.taken_on, p.median_days, p.project_count, x, y_of(p.median_days)))
    chart.points = points
    chart.y_ticks = [(y_of(chart.y_max * k / 4), f"{(chart.y_max * k / 4).normalize():f}") for k in range(5)]
    if days == 0:
        chart.x_labels = [(points[0].x, first.isoformat(), "middle")]
    else:
        chart.x_labels = [(chart.left, first.isoformat(), "start"), (chart.right, last.isoformat(), "end")]
    if target:
        chart.target_y = y_of(Decimal(target))
    return chart


def ttv_report(filters: Filters, today: date | None = None) -> TtvReport:
    today = today or org_today()
    connection = db.session.connection()  # Core rows: no ORM result handling
    latest = connection.scalar(sa.select(sa.func.max(TtvSnapshot.taken_on)))
    templates: list[tuple[int, str]] = []
    cohorts: list[CohortRow] = []
    trend: list[TrendPoint] = []
    if latest is not None:
        # the template choices: every template a snapshot names, with the name of its latest row
        names = connection.execute(
            sa.select(TtvSnapshot.template_key, TtvSnapshot.template_name, sa.func.max(TtvSnapshot.taken_on))
            .group_by(TtvSnapshot.template_key, TtvSnapshot.template_name)).all()
        newest: dict[int, tuple[date, str]] = {}
        for key, name, day in names:
            if key not in newest or day > newest[key][0]:
                newest[key] = (day, name)
        templates = sorted(((k, template_label(k, n)) for k, (_d, n) in newest.items()),
                           key=lambda kv: (kv[0] == 0, kv[1].lower(), kv[0]))
        s = TtvSnapshot
        rows = connection.execute(_snapshot_filters(  # plain columns, in CohortRow's order: no ORM objects
            sa.select(s.template_key, s.template_name, s.segment, s.kickoff_quarter, s.project_count, s.median_days,
                      s.p75_days, s.mean_days, s.within_target_share, Template.target_ttv_days)
            .outerjoin(Template, Template.id == s.template_key)
            .where(s.taken_on == latest), filters)).all()
        cohorts = sorted((CohortRow(*row) for row in rows),
                         key=lambda c: (c.template_key == 0, c.template_label.lower(), c.template_key,
                                        SEGMENTS.index(c.segment) if c.segment in SEGMENTS else 9,
                                        c.kickoff_quarter))
        weighted = sa.func.sum(TtvSnapshot.median_days * TtvSnapshot.project_count)
        for day, total, count in connection.execute(_snapshot_filters(
                sa.select(TtvSnapshot.taken_on, weighted, sa.func.sum(TtvSnapshot.project_count))
                .group_by(TtvSnapshot.taken_on).order_by(TtvSnapshot.taken_on), filters)):
            if count:
                trend.append(TrendPoint(day, (Decimal(total) / count).quantize(HUNDREDTH, ROUND_HALF_UP), count))
    open_rows = _open_rows(filters, today)
    chosen_target = None
    if filters.template:
        chosen_target = next((c.target_days for c in cohorts), None)
        if chosen_target is None:
            chosen_target = next((r.target_days for r in open_rows), None)
    return TtvReport(filters=filters, latest=latest, templates=templates, cohorts=cohorts, trend=trend,
                     chart=build_chart(trend, chosen_target), open_rows=open_rows, today=today,
                     chosen_target=chosen_target)


def cached_ttv_report(filters: Filters) -> TtvReport:
    """ttv_report as of today, reused while its data is unchanged (psa.core.report_cache): what the page, the CSV
    and the API show. Do not change the result."""
    today = org_today()
    return report_cache.cached("ttv", (filters, today), lambda: ttv_report(filters, today))


#: (template filtered, segment filtered) -> the open projects' statement (bound: template_key, segment), built
#: once: a new one would be traversed again for its cache key at each request.
_OPEN_STATEMENTS: dict[tuple[bool, bool], sa.Select] = {}


def _open_statement(by_template: bool, by_segment: bool) -> sa.Select:
    cached = _OPEN_STATEMENTS.get((by_template, by_segment))
    if cached is not None:
        return cached
    base = open_projects_statement()  # id, start, first-value forecast date
    key = sa.func.coalesce(TemplateVersion.template_id, 0)
    stmt = (base.add_columns(Project.name, Account.name.label("account"), Account.segment, key.label("key"),
                             Template.name.label("template_name"), Template.target_ttv_days)
            .join(Account, Account.id == Project.account_id)
            .outerjoin(TemplateVersion, TemplateVersion.id == Project.template_version_id)
            .outerjoin(Template, Template.id == TemplateVersion.template_id))
    if by_template:
        stmt = stmt.where(key == sa.bindparam("template_key", type_=sa.Integer))
    if by_segment:
        stmt = stmt.where(Account.segment == sa.bindparam("segment", type_=sa.String))
    _OPEN_STATEMENTS[(by_template, by_segment)] = stmt
    return stmt


def _open_rows(filters: Filters, today: date) -> list[OpenRow]:
    """Open projects without a TTV yet, filtered, with elapsed and forecast days (psa.projects.ttv's rule), in one
    statement (the projects with their account, template and first-value milestone); furthest over target
    first."""
    stmt = _open_statement(filters.template is not None, filters.segment is not None)
    params = {"template_key": filters.template, "segment": filters.segment}
    labels: dict[int, str] = {}  # a template's label, per template key (its name is the same on every row)
    keyed: list[tuple[tuple, OpenRow]] = []
    append, new_row, order = keyed.append, tuple.__new__, STATE_ORDER  # OpenRow built as the plain tuple it is
    # plain rows through the session's connection, fetched at once (fetchall, not a fetchone per row): no ORM
    # loading for 1,000s of tuples
    for project_id, start, forecast_date, name, account, segment, key, template_name, target in \
            db.session.connection().execute(stmt, params).all():
        elapsed, forecast = open_ttv_days(start, forecast_date, today)
        state, over_by = against_target(elapsed, forecast, target)
        label = labels.get(key)
        if label is None:
            label = labels[key] = template_label(key, template_name or "")
        append(((order[state], -(over_by or 0), -elapsed, name.lower(), project_id),
                new_row(OpenRow, (project_id, name, account, label, segment, start, elapsed, forecast, target, state,
                                  over_by))))
    keyed.sort(key=itemgetter(0))  # each row's key computed once
    return list(map(itemgetter(1), keyed))


def fmt_days(value) -> str:
    return "—" if value is None else f"{value}"


def fmt_percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}"


CSV_HEADER = ["section", "snapshot_date", "template", "segment", "kickoff_quarter", "projects", "median_days",
              "p75_days", "mean_days", "within_target_percent", "target_days", "project", "account", "start_date",
              "elapsed_days", "forecast_days", "state"]


def csv_rows(report: TtvReport):
    """The page's figures as CSV cells: a row per cohort, per trend day and per open project (all of them)."""
    latest = report.latest.isoformat() if report.latest else ""
    blank = [""] * len(CSV_HEADER)

    def row(**cells):
        line = list(blank)
        for name, value in cells.items():
            line[CSV_HEADER.index(name)] = value
        return line

    yield CSV_HEADER
    for c in report.cohorts:
        yield row(section="cohort", snapshot_date=latest, template=escape_cell(c.template_label),
                  segment=c.segment_label, kickoff_quarter=c.kickoff_quarter, projects=str(c.project_count),
                  median_days=fmt_days(c.median_days), p75_days=fmt_days(c.p75_days), mean_days=fmt_days(c.mean_days),
                  within_target_percent=fmt_percent(c.within_target_percent), target_days=fmt_days(c.target_days))
    for p in report.trend:
        yield row(section="trend", snapshot_date=p.taken_on.isoformat(), projects=str(p.project_count),
                  median_days=fmt_days(p.median_days))
    for o in report.open_rows:
        yield row(section="open", template=escape_cell(o.template_label), segment=o.segment_label,
                  target_days=fmt_days(o.target_days), project=escape_cell(o.name), account=escape_cell(o.account),
                  start_date=o.start.isoformat(), elapsed_days=str(o.elapsed_days),
                  forecast_days=fmt_days(o.forecast_days), state=o.state_label)


def _report_links() -> list[tuple[str, str]]:
    return [(endpoint, label) for endpoint, label in REPORT_LINKS if endpoint in current_app.view_functions]


def _url_parts(endpoint: str, key: str) -> tuple[str, str]:
    """The endpoint's URL around its one integer argument `key`, built once: a page of links to the same
    endpoint writes prefix + id + suffix instead of building each URL."""
    marker = 987654321
    prefix, suffix = url_for(endpoint, **{key: marker}).split(str(marker), 1)
    return prefix, suffix


def _render(report: TtvReport | None, filters: Filters, error: str | None = None, status: int = 200,
            show_all: bool = False):
    shown = OPEN_ROWS_SHOWN
    if report is not None and (show_all or len(report.open_rows) <= OPEN_ROWS_SHOWN):
        shown = len(report.open_rows)
    return render_template("reports/ttv.html", report=report, filters=filters, error=error,
                           segments=[(s, SEGMENT_LABELS.get(s, s)) for s in SEGMENTS], links=_report_links(),
                           days=fmt_days, pct=fmt_percent, shown=shown,
                           open_shown=report.open_rows[:shown] if report is not None else [],
                           project_url=_url_parts("projects.show", "project_id")), status


@bp.route("/ttv")
@permission_required("reports.view")
def ttv():
    """Time to value per template, segment and kickoff quarter from the latest snapshot, the trend of the median
    across snapshots, and the open projects against their target (the furthest over it; ?open=all: every one)."""
    try:
        filters = parse_filters(request.args)
    except BadFilter as error:
        return _render(None, Filters(), str(error), 400)
    return _render(cached_ttv_report(filters), filters, show_all=request.args.get("open") == "all")


@bp.route("/ttv.csv")
@permission_required("reports.view")
def ttv_csv():
    """The same figures as CSV, streamed."""
    try:
        filters = parse_filters(request.args)
    except BadFilter as error:
        return _render(None, Filters(), str(error), 400)
    report = cached_ttv_report(filters)

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        yield "\ufeff"
        for cells in csv_rows(report):
            writer.writerow(cells)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"ttv-{(report.latest or report.today).isoformat()}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
