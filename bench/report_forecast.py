"""Time the revenue forecast against the bare SQL computing the same aggregates.

    .venv/bin/python bench/report_forecast.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`; BENCH_DATABASE_URL or instance/bench-large.sqlite, or
--database-url), prints:

1. psa.reports.forecast.revenue_forecast for the six months from today (the report has no period), in process:
   seconds (best of --repeat) and the SQL statements it issued;
2. the baseline: the service's aggregates written by hand as SQL text (sa.text), same joins, filters and GROUP
   BY — the billable projects' names, accounts, billing models and fees; open fixed-fee milestones forecast up
   to the sixth month per project, share, forecast and baseline month; fixed-fee milestones done this month;
   approved billable time-and-materials revenue before this month and through today per project, read as the
   service reads it (the pre-aggregated span totals, and the entries of the spans the month's first day and the
   day after today cut: psa.timesheets.totals); the open time-and-materials tasks' remaining minutes (estimate
   less the minutes logged on those tasks, read from the per-timesheet task totals task_time_totals; the open
   tasks read twice, for the rows and for the IN, as the service reads them — a CTE named once, which PostgreSQL
   inlines) per project, assignee, role, forecast and baseline month where some work remains,
   with the bill rate the rate book would resolve joined in SQL (the project's rate card for the assignee, else
   for the role, else the assignee's rate in force today, else 0: one statement where the service reads the
   rate book's two and resolves in Python) — every row fetched: seconds (best of --repeat, alternating with 1);
3. the figures both give (per month: forecast, recognised and at-risk revenue, each rounded to the cent as
   shown; the bare rows combined with the report's rules — fee shares, the cap's headroom — untimed), which
   must be equal, and the ratio service / bare SQL, PASS or FAIL against 1.5x;
4. /reports/forecast through gunicorn (README's production settings) as the demo leader: p50 and p95 of
   --requests requests after --warmup, PASS or FAIL against 300 ms.

Before timing, every periodic job runs once in-process (reports_common.settle: the cached forecasts brought to
today, as gunicorn would while being timed). Exits non-zero when a figure differs, a check fails or the page
does not answer 200 (with --advisory, the timing checks are printed only).
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_common import ReportBench, main  # noqa: E402

MONTHS = 6
LATER = MONTHS


def forecast_bucket(column: str) -> str:
    """0 for dates up to the current month's end, … 5, then LATER (the service's _forecast_bucket)."""
    return "CASE " + " ".join(f"WHEN {column} <= :last{i} THEN {i}" for i in range(MONTHS)) + f" ELSE {LATER} END"


def baseline_bucket(column: str) -> str:
    """-1 for dates before the current month, 0 … 5, then LATER (the service's _baseline_bucket)."""
    return (f"CASE WHEN {column} < :first0 THEN -1 "
            + " ".join(f"WHEN {column} <= :last{i} THEN {i}" for i in range(MONTHS)) + f" ELSE {LATER} END")


FIXED_OPEN = f"""
SELECT m.project_id, m.fee_share_percent,
       {forecast_bucket("coalesce(m.forecast_date, m.due_date)")} AS fb,
       {baseline_bucket("m.baseline_due_date")} AS bb, count(*)
FROM milestones m JOIN projects p ON p.id = m.project_id
WHERE p.status IN :open AND p.fee_amount IS NOT NULL AND p.billing_model = 'fixed_fee' AND m.status <> 'done'
  AND coalesce(m.forecast_date, m.due_date) <= :last5
GROUP BY 1, 2, 3, 4"""

FIXED_DONE = """
SELECT m.project_id, p.fee_amount, m.fee_share_percent, count(*)
FROM milestones m JOIN projects p ON p.id = m.project_id
WHERE p.billing_model = 'fixed_fee' AND p.fee_amount IS NOT NULL AND m.status = 'done'
  AND m.completed_at >= :month_starts AND m.completed_at < :month_ends
GROUP BY m.project_id, p.fee_amount, m.fee_share_percent"""

#: Approved billable time-and-materials revenue before this month and through today, as
#: psa.timesheets.totals.entry_totals reads it: the pre-aggregated sums (time_span_totals) of the spans up to today
#: that no cut falls inside, and the entries of the spans the month's first day or the day after today falls inside
#: ({split_spans}: those spans' first days left out of the totals; {split_days}: their days read from the entries).
EARNED = """
WITH logged AS (
  SELECT st.project_id, st.billable, st.span_start AS day, st.bill_amount
  FROM time_span_totals st JOIN timesheets ts ON ts.id = st.timesheet_id
  WHERE ts.state = 'approved' AND st.entries > 0 AND st.span_start <= :today{split_spans}
  {edges})
SELECT l.project_id,
       coalesce(sum(CASE WHEN l.day < :first0 THEN l.bill_amount ELSE 0 END), 0) AS before,
       coalesce(sum(l.bill_amount), 0) AS through
FROM logged l JOIN projects p ON p.id = l.project_id
WHERE p.billing_model = 'time_and_materials' AND {billable}
GROUP BY l.project_id"""

EDGES = """UNION ALL
  SELECT te.project_id, te.billable, te.entry_date, sum(te.bill_rate * te.minutes)
  FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
  WHERE ts.state = 'approved' AND ({split_days}) AND te.entry_date <= :today
  GROUP BY te.user_id, te.project_id, te.billable, te.entry_date, ts.week_start"""


def earned_sql(first: date, today: date) -> tuple[str, dict]:
    """EARNED with the spans its cuts (the month's first day, the day after today) fall inside, as
    psa.timesheets.totals.span_of gives them, and their parameters."""
    from psa.timesheets.totals import span_of

    cuts = {first, today + timedelta(days=1)}
    split = sorted({span_of(cut) for cut in cuts if span_of(cut)[0] != cut})
    params = {f"split_first{n}": first for n, (first, _) in enumerate(split)}
    params.update({f"split_last{n}": last for n, (_, last) in enumerate(split)})
    spans = "".join(f" AND st.span_start <> :split_first{n}" for n in range(len(split)))
    days = " OR ".join(f"te.entry_date BETWEEN :split_first{n} AND :split_last{n}" for n in range(len(split)))
    edges = EDGES.format(split_days=days) if split else ""
    return EARNED.replace("{split_spans}", spans).replace("{edges}", edges), params


WORK = f"""
WITH open_tm_tasks AS (SELECT t.id, t.project_id, t.assignee_id, t.assignee_role, t.estimated_minutes,
                              t.forecast_date, t.due_date, t.baseline_due_date
                       FROM tasks t JOIN projects p ON p.id = t.project_id
                       WHERE p.status IN :open AND p.billing_model = 'time_and_materials' AND t.status <> 'done'),
logged AS (SELECT task_id, sum(minutes) AS minutes FROM task_time_totals
           WHERE task_id IN (SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id
                             WHERE p.status IN :open AND p.billing_model = 'time_and_materials'
                               AND t.status <> 'done')
           GROUP BY task_id),
work AS (
  SELECT t.project_id, t.assignee_id, coalesce(u.role, t.assignee_role) AS role_name,
         {forecast_bucket("coalesce(t.forecast_date, t.due_date)")} AS fb,
         {baseline_bucket("t.baseline_due_date")} AS bb,
         sum(CASE WHEN t.estimated_minutes - coalesce(l.minutes, 0) > 0
                  THEN t.estimated_minutes - coalesce(l.minutes, 0) ELSE 0 END) AS minutes
  FROM open_tm_tasks t
  LEFT JOIN users u ON u.id = t.assignee_id
  LEFT JOIN logged l ON l.task_id = t.id
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(CASE WHEN t.estimated_minutes - coalesce(l.minutes, 0) > 0
                  THEN t.estimated_minutes - coalesce(l.minutes, 0) ELSE 0 END) > 0)
SELECT w.project_id, w.fb, w.bb, w.minutes,
       coalesce(pu.bill_rate, pr.bill_rate,
                (SELECT ur.bill_rate FROM user_rates ur WHERE ur.user_id = w.assignee_id AND ur.effective_from <= :today
                 ORDER BY ur.effective_from DESC LIMIT 1), 0) AS bill
FROM work w
LEFT JOIN project_rates pu ON pu.project_id = w.project_id AND pu.user_id = w.assignee_id
LEFT JOIN project_rates pr ON pr.project_id = w.project_id AND pr.role = w.role_name"""

NAMES = """
SELECT p.id, p.name, a.name AS account, p.billing_model, p.fee_amount
FROM projects p JOIN accounts a ON a.id = p.account_id WHERE p.billing_model <> 'non_billable'"""


def build(app, args) -> ReportBench:
    from psa.core import clock
    from psa.core.money import round_money
    from psa.customers.services import fee_share
    from psa.projects.models import OPEN_PROJECT_STATUSES
    from psa.reports.forecast import _utc, months_from, revenue_forecast

    today = clock.org_today()
    months = months_from(today)
    params = {"today": today, "open": tuple(OPEN_PROJECT_STATUSES), "month_starts": _utc(months[0].first),
              "month_ends": _utc(months[0].last + timedelta(days=1)),
              **{f"last{i}": m.last for i, m in enumerate(months)}, "first0": months[0].first}
    earned_statement, split = earned_sql(months[0].first, today)
    params.update(split)

    def bare(sql):
        names = sql.rows(NAMES)
        fixed_open, fixed_done = sql.rows(FIXED_OPEN, **params), sql.rows(FIXED_DONE, **params)
        earned = sql.rows(earned_statement.replace("{billable}", sql.boolean("l.billable")), **params)
        work = sql.rows(WORK, **params)
        return sql, fixed_open, fixed_done, earned, work, names

    def shown(cells) -> dict:
        return {"forecast": tuple(str(round_money(c[0])) for c in cells),
                "recognised": tuple(str(round_money(c[1])) for c in cells),
                "at_risk": tuple(str(round_money(c[2])) for c in cells)}

    def figures(report) -> dict:
        return {"projects": len(report.projects),
                **shown([(c.forecast, c.recognised, c.at_risk) for c in report.totals])}

    def bare_figures(read) -> dict:
        sql, fixed_open, fixed_done, earned, work, names = read
        cells: dict[int, list[list[Decimal]]] = {}

        def cell(project_id, bucket):
            return cells.setdefault(project_id, [[Decimal(0)] * 3 for _ in range(MONTHS)])[bucket]

        projects = {row.id: row for row in names}
        for project_id, percent, fb, bb, count in fixed_open:
            amount = fee_share(sql.exact(projects[project_id].fee_amount), sql.exact(percent)) * int(count)
            cell(project_id, fb)[0] += amount
            if bb < fb:
                cell(project_id, fb)[2] += amount
        for project_id, fee, percent, count in fixed_done:
            cell(project_id, 0)[1] += fee_share(sql.exact(fee), sql.exact(percent)) * int(count)
        wanted: dict[int, dict[int, list[Decimal]]] = {}
        for project_id, fb, bb, minutes, bill in work:
            if not minutes:
                continue
            amount = sql.exact(bill) * int(minutes) / 60
            slot = wanted.setdefault(project_id, {}).setdefault(fb, [Decimal(0), Decimal(0)])
            slot[0] += amount
            if bb < fb:
                slot[1] += amount
        gained = {project_id: (sql.exact(before) / 60, sql.exact(through) / 60)
                  for project_id, before, through in earned}
        for project_id, project in projects.items():
            if project.billing_model != "time_and_materials":
                continue
            before, through = gained.get(project_id, (Decimal(0), Decimal(0)))
            cap = None if project.fee_amount is None else sql.exact(project.fee_amount)
            if cap is not None:
                before, through = min(before, cap), min(through, cap)
            if through - before:
                cell(project_id, 0)[1] += through - before
            headroom = None if cap is None else cap - through
            for bucket in sorted(wanted.get(project_id, {})):
                amount, slipped = wanted[project_id][bucket]
                if headroom is not None:
                    amount = min(amount, headroom)
                    headroom -= amount
                if bucket == LATER:
                    continue
                cell(project_id, bucket)[0] += amount
                cell(project_id, bucket)[2] += min(slipped, amount)
        totals = [[Decimal(0)] * 3 for _ in range(MONTHS)]
        listed = 0
        for project_cells in cells.values():
            if not any(c[0] or c[1] for c in project_cells):
                continue
            listed += 1
            for total, c in zip(totals, project_cells, strict=True):
                for k in range(3):
                    total[k] += c[k]
        return {"projects": listed, **shown(totals)}

    return ReportBench(
        name="forecast", what=f"revenue forecast, {months[0].first} to {months[-1].last}",
        service=lambda: revenue_forecast(today), bare=bare, figures=figures, bare_figures=bare_figures,
        page="/reports/forecast",
        baseline="5 hand-written statements (project names, open fixed-fee milestones, milestones done this month, "
                 "T&M revenue earned from the span totals, T&M remaining work with its bill rate)")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
