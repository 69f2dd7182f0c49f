"""Time the time-to-value report (all cohorts) against the bare SQL reading the same rows.

    .venv/bin/python bench/report_ttv.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`; BENCH_DATABASE_URL or instance/bench-large.sqlite, or
--database-url), prints:

1. psa.reports.ttv_report.ttv_report with no filter (every template and segment: all cohorts), in process:
   seconds (best of --repeat) and the SQL statements it issued;
2. the baseline: the service's five statements written by hand as SQL text (sa.text), same joins, filters and
   GROUP BY — the latest snapshot day; the template choices (key, name, latest day, GROUP BY key and name); the
   latest day's cohorts with their template's target; the trend (per snapshot day, Σ median × projects and
   Σ projects); the open projects without a TTV with account, segment, template and first-value milestone
   (row_number() per project) — every row fetched: seconds (best of --repeat, alternating with 1);
3. the figures both give (templates, cohorts and their projects, the trend's days and weighted medians, the open
   projects with their elapsed and forecast days: the bare rows combined with the report's rules, untimed), which
   must be equal, and the ratio service / bare SQL, PASS or FAIL against 1.5x;
4. /reports/ttv through gunicorn (README's production settings) as the demo leader: p50 and p95 of --requests
   requests after --warmup, PASS or FAIL against 300 ms.

Before timing, every periodic job runs once in-process (reports_common.settle): on a large demo that has none,
that records the projects' TTV and takes today's snapshot (the report reads snapshots; the large demo stores no
history of them, so the trend has the days the jobs have run). Exits non-zero when a figure differs, a check
fails or the page does not answer 200 (with --advisory, the timing checks are printed only).
"""

from __future__ import annotations

import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_common import ReportBench, main  # noqa: E402

LATEST = "SELECT max(taken_on) FROM ttv_snapshots"

TEMPLATES = """
SELECT template_key, template_name, max(taken_on) FROM ttv_snapshots GROUP BY template_key, template_name"""

COHORTS = """
SELECT s.template_key, s.template_name, s.segment, s.kickoff_quarter, s.project_count, s.median_days, s.p75_days,
       s.mean_days, s.within_target_share, t.target_ttv_days
FROM ttv_snapshots s LEFT JOIN templates t ON t.id = s.template_key
WHERE s.taken_on = :latest"""

TREND = """
SELECT taken_on, sum(median_days * project_count), sum(project_count)
FROM ttv_snapshots GROUP BY taken_on ORDER BY taken_on"""

OPEN_PROJECTS = """
SELECT p.id, coalesce(p.contract_signed_date, p.kickoff_date) AS start, fv.forecast_date, p.name,
       a.name AS account, a.segment, coalesce(tv.template_id, 0) AS key, t.name AS template_name, t.target_ttv_days
FROM projects p
LEFT JOIN (SELECT project_id, forecast_date
           FROM (SELECT m.project_id, m.status, m.completed_at, m.forecast_date,
                        row_number() OVER (PARTITION BY m.project_id ORDER BY m.position, m.id) AS rank
                 FROM milestones m WHERE m.is_first_value = {true}) AS ranked
           WHERE rank = 1) AS fv ON fv.project_id = p.id
JOIN accounts a ON a.id = p.account_id
LEFT JOIN template_versions tv ON tv.id = p.template_version_id
LEFT JOIN templates t ON t.id = tv.template_id
WHERE p.ttv_days IS NULL AND p.status IN :open"""


def as_date(value) -> date | None:
    """A date column read through sa.text: a date on PostgreSQL, ISO text on SQLite."""
    return value if value is None or isinstance(value, date) else date.fromisoformat(str(value)[:10])


def build(app, args) -> ReportBench:
    from psa.core import clock
    from psa.projects.models import OPEN_PROJECT_STATUSES
    from psa.reports.ttv_report import Filters, ttv_report

    today = clock.org_today()
    opened = tuple(OPEN_PROJECT_STATUSES)

    def bare(sql):
        latest = as_date(sql.rows(LATEST)[0][0])
        templates = cohorts = trend = []
        if latest is not None:
            templates = sql.rows(TEMPLATES)
            cohorts = sql.rows(COHORTS, latest=latest)
            trend = sql.rows(TREND)
        projects = sql.rows(OPEN_PROJECTS.format(true="true" if sql.dialect == "postgresql" else "1"), open=opened)
        return sql, latest, templates, cohorts, trend, projects

    def figures(report) -> dict:
        return {"latest": report.latest, "templates": len(report.templates), "cohorts": len(report.cohorts),
                "cohort_projects": sum(c.project_count for c in report.cohorts),
                "trend": tuple((p.taken_on.isoformat(), str(p.median_days)) for p in report.trend),
                "open": len(report.open_rows), "elapsed_days": sum(r.elapsed_days for r in report.open_rows),
                "forecast_days": sum(r.forecast_days or 0 for r in report.open_rows),
                "past_target": sum(r.state == "past" for r in report.open_rows)}

    def bare_figures(read) -> dict:
        sql, latest, templates, cohorts, trend, projects = read
        points = []
        for day, total, count in trend:
            if count:
                median = (sql.exact(total) / int(count)).quantize(Decimal("0.01"), ROUND_HALF_UP)
                points.append((as_date(day).isoformat(), str(median)))
        listed = []
        for p in projects:
            start, forecast = as_date(p.start), as_date(p.forecast_date)
            listed.append((p, ((today - start).days, (forecast - start).days if forecast else None)))
        return {"latest": latest, "templates": len({key for key, _name, _day in templates}),
                "cohorts": len(cohorts), "cohort_projects": sum(int(c.project_count) for c in cohorts),
                "trend": tuple(points), "open": len(listed),
                "elapsed_days": sum(elapsed for _p, (elapsed, _f) in listed),
                "forecast_days": sum(forecast or 0 for _p, (_e, forecast) in listed),
                "past_target": sum(p.target_ttv_days is not None and elapsed > p.target_ttv_days
                                   for p, (elapsed, _f) in listed)}

    return ReportBench(
        name="ttv", what="time to value report, all cohorts", service=lambda: ttv_report(Filters(), today),
        bare=bare, figures=figures, bare_figures=bare_figures, page="/reports/ttv",
        baseline="5 hand-written statements (latest day, template choices, cohorts, trend, open projects with "
                 "their first-value milestone)")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
