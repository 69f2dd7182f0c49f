"""Time the margin report of a year against the bare SQL computing the same aggregates.

    .venv/bin/python bench/report_margin.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`: about a million entries over two years; BENCH_DATABASE_URL or
instance/bench-large.sqlite, or --database-url), prints:

1. psa.reports.margin.margin_report over the last full 365 days (the year up to yesterday), approved hours, in
   process: seconds (best of --repeat) and the SQL statements it issued;
2. the baseline: the service's five aggregates written by hand as SQL text (sa.text), same joins, filters and
   GROUP BY, reading what the service reads — the pre-aggregated span totals (time_span_totals) for whole spans and
   the entries of the spans a cut falls inside (the year's first day, the day after its last, the day after today),
   grouped by day: the listed projects (open now, or with counted time or a completed milestone in the year) with
   their sums per project (cost in the year, billed through the year's end and before its start, minutes, cost and
   minutes to date), the done milestones' fee shares per project, percent and month, the year's cost and billed
   amounts per project and calendar month, the fixed-fee projects' remaining estimated minutes (open tasks less the
   minutes logged on each, read from the task totals for those tasks) and their members' current cost rates — every row fetched:
   seconds (best of --repeat, alternating with 1); for context, once, the raw-entries sums the report read before
   the totals;
3. the figures both give (projects, hours, revenue, cost, estimate at completion, and revenue and cost per
   month: computed from the bare rows with the report's rules, untimed), which must be equal, and the ratio service / bare SQL,
   PASS or FAIL against 1.5x;
4. /reports/margin for that year through gunicorn (README's production settings) as the demo leader: p50 and
   p95 of --requests requests after --warmup, PASS or FAIL against 300 ms.

Exits non-zero when a figure differs, a check fails or the page does not answer 200 (with --advisory, the
timing checks are printed only). Writes nothing but the leader's sign-in (a session row).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_common import ReportBench, Sql, main, year_period  # noqa: E402


def span_rows(split: list, bounded: bool) -> str:
    """The counted entries as rows each wholly on one side of the cuts (psa.timesheets.totals.entry_totals, by
    hand): whole spans from time_span_totals, the `split` spans (those a cut falls inside: :split_first<i> to
    :split_last<i>) from their entries, grouped by day; `bounded`: only the period's (:start to :end)."""
    whole = """SELECT t.project_id, t.billable, t.span_start AS day, t.minutes, t.cost_amount, t.bill_amount
  FROM time_span_totals t JOIN timesheets ts ON ts.id = t.timesheet_id
  WHERE ts.state IN :states AND t.entries > 0"""
    if split:
        whole += " AND t.span_start NOT IN (" + ", ".join(f":split_first{i}" for i in range(len(split))) + ")"
    if bounded:
        whole += " AND t.span_start BETWEEN :start AND :end"
    if not split:
        return whole
    days = " OR ".join(f"te.entry_date BETWEEN :split_first{i} AND :split_last{i}" for i in range(len(split)))
    edges = f"""SELECT te.project_id, te.billable, te.entry_date, sum(te.minutes), sum(te.cost_rate * te.minutes),
         sum(te.bill_rate * te.minutes)
  FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
  WHERE ts.state IN :states AND ({days}){' AND te.entry_date BETWEEN :start AND :end' if bounded else ''}
  GROUP BY te.project_id, te.billable, te.entry_date"""
    return f"{whole}\n  UNION ALL\n  {edges}"


ENTRY_SUMS = """
SELECT r.project_id,
       coalesce(sum(CASE WHEN r.day BETWEEN :start AND :end THEN r.cost_amount ELSE 0 END), 0) AS cost,
       coalesce(sum(CASE WHEN {billable} AND r.day <= :end THEN r.bill_amount ELSE 0 END), 0) AS billed_to_end,
       coalesce(sum(CASE WHEN {billable} AND r.day < :start THEN r.bill_amount ELSE 0 END), 0) AS billed_before,
       sum(CASE WHEN r.day BETWEEN :start AND :end THEN r.minutes ELSE 0 END) AS minutes,
       coalesce(sum(CASE WHEN r.day <= :today THEN r.cost_amount ELSE 0 END), 0) AS cost_to_date,
       sum(CASE WHEN r.day <= :today THEN r.minutes ELSE 0 END) AS minutes_to_date,
       sum(CASE WHEN r.day BETWEEN :start AND :end THEN 1 ELSE 0 END) AS period_rows
FROM ({rows}) AS r
GROUP BY r.project_id"""

COMPLETED = "m.status = 'done' AND m.completed_at >= :starts AND m.completed_at < :ends"

PROJECTS = f"""
SELECT p.id, p.name, p.status, p.billing_model, p.fee_amount, a.id AS account_id, a.name AS account_name,
       u.id AS manager_id, u.name AS manager_name, e.cost, e.billed_to_end, e.billed_before, e.minutes,
       e.cost_to_date, e.minutes_to_date
FROM projects p JOIN accounts a ON a.id = p.account_id JOIN users u ON u.id = p.manager_id
LEFT JOIN ({{entry_sums}}) AS e ON e.project_id = p.id
WHERE p.status IN :open OR coalesce(e.period_rows, 0) > 0
   OR EXISTS (SELECT 1 FROM milestones m WHERE m.project_id = p.id AND {COMPLETED})
ORDER BY lower(a.name), a.id, lower(p.name), p.id"""

SHARES = f"""
SELECT m.project_id, m.fee_share_percent, {{milestone_month}} AS month, count(*)
FROM milestones m JOIN projects p ON p.id = m.project_id
WHERE {COMPLETED} AND p.billing_model = 'fixed_fee'
GROUP BY 1, 2, 3"""

MONTHLY = """
SELECT r.project_id, {entry_month} AS month, coalesce(sum(r.cost_amount), 0),
       coalesce(sum(CASE WHEN {billable} THEN r.bill_amount ELSE 0 END), 0)
FROM ({rows}) AS r
GROUP BY 1, 2"""


def month_bucket(column: str, bound: str, count: int) -> str:
    """The index of the period's month holding `column` (the service's _month_bucket): CASE over :<bound><i>."""
    return "CASE " + " ".join(f"WHEN {column} {'<=' if bound == 'last' else '<'} :{bound}{i} THEN {i}"
                              for i in range(count)) + f" ELSE {count} END"


# the fixed-fee projects that may be listed (the service's superset: open, a milestone completed in the period, or
# a span total overlapping it); the figures are read for the listed ones only
FIXED = f"""SELECT p.id FROM projects p WHERE p.billing_model = 'fixed_fee' AND (p.status IN :open
  OR p.id IN (SELECT m.project_id FROM milestones m WHERE {COMPLETED})
  OR p.id IN (SELECT t.project_id FROM time_span_totals t WHERE t.entries > 0 AND t.span_end >= :start
              AND t.span_start <= :end))"""

REMAINING = f"""
WITH o AS (SELECT t.id, t.project_id, t.estimated_minutes FROM tasks t
           WHERE t.status <> 'done' AND t.project_id IN ({FIXED}))
SELECT o.project_id,
       sum(CASE WHEN o.estimated_minutes - coalesce(l.minutes, 0) > 0
                THEN o.estimated_minutes - coalesce(l.minutes, 0) ELSE 0 END)
FROM o
LEFT JOIN (SELECT tt.task_id, sum(tt.minutes) AS minutes FROM task_time_totals tt
           WHERE tt.task_id IN (SELECT id FROM o) GROUP BY tt.task_id) AS l ON l.task_id = o.id
GROUP BY o.project_id"""

MEMBER_RATES = """
SELECT pm.project_id, coalesce(sum(ur.cost_rate), 0), count(*)
FROM project_members pm
JOIN (SELECT user_id, max(effective_from) AS since FROM user_rates WHERE effective_from <= :today
      GROUP BY user_id) AS c ON c.user_id = pm.user_id
JOIN user_rates ur ON ur.user_id = c.user_id AND ur.effective_from = c.since
WHERE pm.project_id IN (SELECT p.id FROM projects p WHERE p.billing_model = 'fixed_fee')
GROUP BY pm.project_id"""

#: For context only (untimed against the limit): the raw-entries SQL of the report before the span totals, its
#: entry sums over every counted entry.
RAW_ENTRY_SUMS = """
SELECT te.project_id,
       coalesce(sum(CASE WHEN te.entry_date BETWEEN :start AND :end THEN te.cost_rate * te.minutes ELSE 0 END), 0),
       coalesce(sum(CASE WHEN {billable} AND te.entry_date <= :end THEN te.bill_rate * te.minutes ELSE 0 END), 0),
       coalesce(sum(CASE WHEN {billable} AND te.entry_date < :start THEN te.bill_rate * te.minutes ELSE 0 END), 0),
       sum(CASE WHEN te.entry_date BETWEEN :start AND :end THEN te.minutes ELSE 0 END),
       coalesce(sum(CASE WHEN te.entry_date <= :today THEN te.cost_rate * te.minutes ELSE 0 END), 0),
       sum(CASE WHEN te.entry_date <= :today THEN te.minutes ELSE 0 END)
FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
WHERE ts.state IN :states
GROUP BY te.project_id"""

RAW_MONTHLY = """
SELECT te.project_id, {entry_month} AS month, coalesce(sum(te.cost_rate * te.minutes), 0),
       coalesce(sum(CASE WHEN {billable} THEN te.bill_rate * te.minutes ELSE 0 END), 0)
FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
WHERE ts.state IN :states AND te.entry_date BETWEEN :start AND :end
GROUP BY 1, 2"""


def build(app, args) -> ReportBench:
    from psa.core import clock
    from psa.core.money import round_money
    from psa.customers.services import capped_time_and_materials, fee_share
    from psa.projects.models import OPEN_PROJECT_STATUSES
    from psa.reports.margin import _org_instant, margin_report, period_months
    from psa.reports.services import counted_states
    from psa.timesheets.totals import span_of

    period = year_period()
    today = clock.org_today()
    params = {"start": period.start, "end": period.end, "today": today, "states": counted_states(False),
              "open": tuple(OPEN_PROJECT_STATUSES), "starts": _org_instant(period.start),
              "ends": _org_instant(period.end + timedelta(days=1))}

    months = period_months(period)
    params.update({f"last{i}": m.last for i, m in enumerate(months)})
    params.update({f"next{i}": _org_instant(m.last + timedelta(days=1)) for i, m in enumerate(months)})
    shares_sql = SHARES.format(milestone_month=month_bucket("m.completed_at", "next", len(months)))

    def split(cuts) -> list:
        """The spans the cuts fall inside (a cut on a span's first day splits nothing), as the service's reader."""
        return sorted({span_of(cut) for cut in cuts if span_of(cut)[0] != cut})

    # the report's cuts: the period's first day, the day after its last, the day after today; the months' own
    # sums are bounded by the period (its first day and the day after its last)
    all_time = split([period.start, period.end + timedelta(days=1), today + timedelta(days=1)])
    in_period = split([period.start, period.end + timedelta(days=1)])

    def numbered(spans) -> dict:
        values = {}
        for i, (first, last) in enumerate(spans):
            values.update({f"split_first{i}": first, f"split_last{i}": last})
        return values

    def bare(sql):
        billable = sql.boolean("r.billable")
        entry_sums = ENTRY_SUMS.format(rows=span_rows(all_time, bounded=False), billable=billable)
        monthly = MONTHLY.format(rows=span_rows(in_period, bounded=True), billable=billable,
                                 entry_month=month_bucket("r.day", "last", len(months)))
        return (sql, sql.rows(PROJECTS.format(entry_sums=entry_sums), **params, **numbered(all_time)),
                sql.rows(shares_sql, **params), sql.rows(monthly, **params, **numbered(in_period)),
                sql.rows(REMAINING, **params), sql.rows(MEMBER_RATES, **params))

    def raw_entries_seconds() -> float:
        """For context: the two raw-entries statements the report used before the span totals (entry sums per
        project over every counted entry; per project and month over the period's), fetched fully, once."""
        with app.app_context():
            from psa.extensions import db

            with db.engine.connect() as connection:
                sql = Sql(connection)
                billable = sql.boolean("te.billable")
                started = time.perf_counter()
                sql.rows(RAW_ENTRY_SUMS.format(billable=billable), **params)
                sql.rows(RAW_MONTHLY.format(billable=billable,
                                            entry_month=month_bucket("te.entry_date", "last", len(months))), **params)
                seconds = time.perf_counter() - started
                connection.rollback()
        return seconds

    print(f"{'(context)':<23} the raw-entries sums the report read before the span totals (entry sums per project, "
          f"per project and month): {raw_entries_seconds():.4f} s, once", flush=True)

    def figures(report) -> dict:
        eac = sum((p.eac for p in report.projects if p.eac is not None), Decimal(0))
        return {"projects": len(report.projects), "hours": Decimal(sum(p.minutes for p in report.projects)) / 60,
                "revenue": round_money(report.total.revenue), "cost": round_money(report.total.cost),
                "eac": round_money(eac), "month_revenue": tuple(str(round_money(m.revenue)) for m in report.months),
                "month_cost": tuple(str(round_money(m.cost)) for m in report.months)}

    def bare_figures(read) -> dict:
        sql, rows, share_rows, monthly_rows, remaining_rows, rate_rows = read
        shares: dict = {}
        for project_id, percent, _month, count in share_rows:
            shares.setdefault(project_id, []).append((sql.exact(percent), int(count)))
        remaining = {project_id: int(minutes or 0) for project_id, minutes in remaining_rows}  # listed ones read
        rates = {project_id: (sql.exact(total), int(count)) for project_id, total, count in rate_rows}
        revenue = cost = eac = Decimal(0)
        minutes = 0
        for row in rows:
            fee = None if row.fee_amount is None else sql.exact(row.fee_amount)
            minutes += int(row.minutes or 0)
            cost += sql.exact(row.cost) / 60
            if row.billing_model == "time_and_materials":
                revenue += (capped_time_and_materials(sql.exact(row.billed_to_end), fee)
                            - capped_time_and_materials(sql.exact(row.billed_before), fee))
            elif row.billing_model == "fixed_fee":
                if fee is not None:
                    revenue += sum((fee_share(fee, p) * n for p, n in shares.get(row.id, [])), Decimal(0))
                cost_to_date, minutes_to_date = sql.exact(row.cost_to_date) / 60, int(row.minutes_to_date or 0)
                if minutes_to_date:
                    blended = cost_to_date * 60 / minutes_to_date
                else:
                    total, count = rates.get(row.id, (Decimal(0), 0))
                    blended = total / count if count else Decimal(0)
                eac += cost_to_date + Decimal(remaining.get(row.id, 0)) / 60 * blended
        # by month: cost as logged; T&M the capped running revenue's steps; fixed fee per milestone's month
        month_cost = [Decimal(0)] * len(months)
        month_revenue = [Decimal(0)] * len(months)
        by_id = {row.id: row for row in rows}
        fee_of = {row.id: None if row.fee_amount is None else sql.exact(row.fee_amount) for row in rows}
        billed: dict = {}
        for project_id, month, month_cost_sum, month_billed in monthly_rows:
            if month >= len(months) or project_id not in by_id:
                continue
            month_cost[month] += sql.exact(month_cost_sum) / 60
            if by_id[project_id].billing_model == "time_and_materials":
                billed.setdefault(project_id, {})[month] = sql.exact(month_billed)
        for project_id, amounts in billed.items():
            fee, running = fee_of[project_id], sql.exact(by_id[project_id].billed_before)
            earned = capped_time_and_materials(running, fee)
            for index in range(len(months)):
                running += amounts.get(index, Decimal(0))
                capped = capped_time_and_materials(running, fee)
                month_revenue[index] += capped - earned
                earned = capped
        for project_id, percent, month, count in share_rows:
            if month < len(months) and fee_of.get(project_id) is not None:
                month_revenue[month] += fee_share(fee_of[project_id], sql.exact(percent)) * int(count)
        return {"projects": len(rows), "hours": Decimal(minutes) / 60, "revenue": round_money(revenue),
                "cost": round_money(cost), "eac": round_money(eac),
                "month_revenue": tuple(str(round_money(m)) for m in month_revenue),
                "month_cost": tuple(str(round_money(m)) for m in month_cost)}

    page = f"/reports/margin?period=custom&date_from={period.start.isoformat()}&date_to={period.end.isoformat()}"
    return ReportBench(
        name="margin", what=f"margin report, {period.start} to {period.end}, approved hours",
        service=lambda: margin_report(period, include_submitted=False, today=today), bare=bare,
        figures=figures, bare_figures=bare_figures, page=page,
        baseline="5 hand-written statements (listed projects with entry sums from the span totals and the cut "
                 "spans' entries, fee shares per month, the same per project and month, remaining minutes, member "
                 "rates)")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
