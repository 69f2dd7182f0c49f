"""Time the margin report of a year against the bare SQL computing the same aggregates.

    .venv/bin/python bench/report_margin.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`: about a million entries over two years; BENCH_DATABASE_URL or
instance/bench-large.sqlite, or --database-url), prints:

1. psa.reports.margin.margin_report over the last full 365 days (the year up to yesterday), approved hours, in
   process: seconds (best of --repeat) and the SQL statements it issued;
2. the baseline: the service's five statements written by hand as SQL text (sa.text), same joins, filters and
   GROUP BY, reading what the service reads — the pre-aggregated span totals (time_span_totals) for whole spans and
   the entries of the spans a cut falls inside (the year's first day, the day after its last, the day after today),
   grouped by day, once: the counted time per project, bucket (before the year, each of its months, after it) and
   to date (day up to today); every project with whether a milestone of it was completed in the year (the listed
   ones, open now or with counted time or a completed milestone in the year, picked from these two as the service
   does, in Python); the done milestones' fee shares per project, percent and month; the listed fixed-fee projects'
   remaining estimated minutes (open tasks less the minutes logged on each, read from the task totals for those
   tasks) and, for those without counted time to date, their members' current cost rates — every row fetched:
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

import re
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

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


ENTRY_BUCKETS = """
SELECT r.project_id, {bucket} AS bucket, CASE WHEN r.day <= :today THEN 1 ELSE 0 END AS to_date,
       coalesce(sum(r.cost_amount), 0), coalesce(sum(CASE WHEN {billable} THEN r.bill_amount ELSE 0 END), 0),
       sum(r.minutes)
FROM ({rows}) AS r
GROUP BY 1, 2, 3"""

COMPLETED = "m.status = 'done' AND m.completed_at >= :starts AND m.completed_at < :ends"

# every project with whether a milestone of it was completed in the period (the listing is decided from that, its
# status and the buckets above)
PROJECTS = f"""
SELECT p.id, p.name, p.status, p.billing_model, p.fee_amount, a.id AS account_id, a.name AS account_name,
       u.id AS manager_id, u.name AS manager_name,
       EXISTS (SELECT 1 FROM milestones m WHERE m.project_id = p.id AND {COMPLETED}) AS milestone_done
FROM projects p JOIN accounts a ON a.id = p.account_id JOIN users u ON u.id = p.manager_id
ORDER BY lower(a.name), a.id, lower(p.name), p.id"""

SHARES = f"""
SELECT m.project_id, m.fee_share_percent, {{milestone_month}} AS month, count(*)
FROM milestones m JOIN projects p ON p.id = m.project_id
WHERE {COMPLETED} AND p.billing_model = 'fixed_fee'
GROUP BY 1, 2, 3"""


def rows_among(sql, statement: str, name: str, ids: list, **params) -> list:
    """sql.rows with `IN :<name>` over `ids`: on PostgreSQL one array parameter (= ANY), as the service binds it,
    not a parameter per id."""
    if sql.dialect != "postgresql":
        return sql.rows(statement, **params, **{name: ids})
    named = set(re.findall(r"(?<![:\w]):(\w+)", statement))
    values = {key: value for key, value in params.items() if key in named}
    values[name] = ids
    binds = [sa.bindparam(name, type_=ARRAY(sa.Integer))]
    binds += [sa.bindparam(key, type_=sa.Date()) for key, value in values.items() if isinstance(value, date)]
    return sql.connection.execute(sa.text(statement.replace(f"IN :{name}", f"= ANY(:{name})")).bindparams(*binds),
                                  values).all()


def month_bucket(column: str, bound: str, count: int) -> str:
    """The index of the period's month holding `column` (the service's _month_bucket): CASE over :<bound><i>."""
    return "CASE " + " ".join(f"WHEN {column} {'<=' if bound == 'last' else '<'} :{bound}{i} THEN {i}"
                              for i in range(count)) + f" ELSE {count} END"


# the listed fixed-fee projects' (:fixed) open tasks less the minutes logged on each (from the task totals)
REMAINING = """
WITH o AS (SELECT t.id, t.project_id, t.estimated_minutes FROM tasks t
           WHERE t.status <> 'done' AND t.project_id IN :fixed)
SELECT o.project_id,
       sum(CASE WHEN o.estimated_minutes - coalesce(l.minutes, 0) > 0
                THEN o.estimated_minutes - coalesce(l.minutes, 0) ELSE 0 END)
FROM o
LEFT JOIN (SELECT tt.task_id, sum(tt.minutes) AS minutes FROM task_time_totals tt
           JOIN o AS t ON t.id = tt.task_id GROUP BY tt.task_id) AS l ON l.task_id = o.id
GROUP BY o.project_id"""

# the current cost rates of the members of the listed fixed-fee projects without counted time to date (:unlogged)
MEMBER_RATES = """
SELECT pm.project_id, coalesce(sum(ur.cost_rate), 0), count(*)
FROM project_members pm
JOIN (SELECT user_id, max(effective_from) AS since FROM user_rates WHERE effective_from <= :today
      GROUP BY user_id) AS c ON c.user_id = pm.user_id
JOIN user_rates ur ON ur.user_id = c.user_id AND ur.effective_from = c.since
WHERE pm.project_id IN :unlogged
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

    # the report's cuts: the period's first day, the day after its last, the day after today (a span never crosses
    # a month, so the rows also lie each in one month)
    all_time = split([period.start, period.end + timedelta(days=1), today + timedelta(days=1)])

    def numbered(spans) -> dict:
        values = {}
        for i, (first, last) in enumerate(spans):
            values.update({f"split_first{i}": first, f"split_last{i}": last})
        return values

    open_statuses = set(OPEN_PROJECT_STATUSES)
    count = len(months)
    bucket = ("CASE WHEN r.day < :start THEN -1 " + month_bucket("r.day", "last", count).removeprefix("CASE "))

    def bare(sql):
        entry_buckets = ENTRY_BUCKETS.format(rows=span_rows(all_time, bounded=False),
                                             billable=sql.boolean("r.billable"), bucket=bucket)
        bucket_rows = sql.rows(entry_buckets, **params, **numbered(all_time))
        # the listing (open, a milestone completed in the period, or counted time in a month of the period) and
        # the ids the last two statements need: as the service, in Python between the statements
        in_period, logged = set(), set()
        for project_id, month, to_date, _cost, _billed, _minutes in bucket_rows:
            if 0 <= month < count:
                in_period.add(project_id)
            if to_date:
                logged.add(project_id)
        rows = [row for row in sql.rows(PROJECTS, **params)
                if row.status in open_statuses or row.milestone_done or row.id in in_period]
        fixed = [row.id for row in rows if row.billing_model == "fixed_fee"]
        unlogged = [project_id for project_id in fixed if project_id not in logged]
        return (sql, bucket_rows, rows, sql.rows(shares_sql, **params), rows_among(sql, REMAINING, "fixed", fixed),
                rows_among(sql, MEMBER_RATES, "unlogged", unlogged, **params))

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
        sql, bucket_rows, rows, share_rows, remaining_rows, rate_rows = read
        zero = Decimal(0)
        # per project: the period's cost, billed and minutes, billed before it, cost and minutes to date, and per
        # month of the period its cost and billed amounts
        sums: dict = {}
        for project_id, month, to_date, cost, billed, minutes in bucket_rows:
            cost, billed, minutes = sql.exact(cost), sql.exact(billed), int(minutes or 0)
            found = sums.setdefault(project_id, {"cost": zero, "billed": zero, "minutes": 0, "before": zero,
                                                 "cost_to_date": zero, "minutes_to_date": 0, "months": {}})
            if to_date:
                found["cost_to_date"] += cost
                found["minutes_to_date"] += minutes
            if month < 0:
                found["before"] += billed
            elif month < count:
                found["cost"] += cost
                found["billed"] += billed
                found["minutes"] += minutes
                cost_before, billed_before = found["months"].get(month, (zero, zero))
                found["months"][month] = (cost_before + cost, billed_before + billed)
        empty = {"cost": zero, "billed": zero, "minutes": 0, "before": zero, "cost_to_date": zero,
                 "minutes_to_date": 0, "months": {}}
        shares: dict = {}
        for project_id, percent, _month, number in share_rows:
            shares.setdefault(project_id, []).append((sql.exact(percent), int(number)))
        remaining = {project_id: int(minutes or 0) for project_id, minutes in remaining_rows}
        rates = {project_id: (sql.exact(total), int(number)) for project_id, total, number in rate_rows}
        revenue = cost = eac = zero
        minutes = 0
        # by month: cost as logged (each month's exact sum ÷ 60); T&M the capped running revenue's steps; fixed fee
        # per milestone's month
        month_cost = [zero] * count
        month_revenue = [zero] * count
        fee_of = {}
        for row in rows:
            fee = fee_of[row.id] = None if row.fee_amount is None else sql.exact(row.fee_amount)
            found = sums.get(row.id, empty)
            minutes += found["minutes"]
            cost += found["cost"] / 60
            for month, (month_cost_sum, _) in found["months"].items():
                month_cost[month] += month_cost_sum
            if row.billing_model == "time_and_materials":
                earned = capped_time_and_materials(found["before"], fee)
                revenue += capped_time_and_materials(found["before"] + found["billed"], fee) - earned
                if found["months"]:
                    running = found["before"]
                    for index in range(count):
                        running += found["months"].get(index, (zero, zero))[1]
                        capped = capped_time_and_materials(running, fee)
                        month_revenue[index] += capped - earned
                        earned = capped
            elif row.billing_model == "fixed_fee":
                if fee is not None:
                    revenue += sum((fee_share(fee, p) * n for p, n in shares.get(row.id, [])), zero)
                cost_to_date, minutes_to_date = found["cost_to_date"] / 60, found["minutes_to_date"]
                if minutes_to_date:
                    blended = cost_to_date * 60 / minutes_to_date
                else:
                    total, number = rates.get(row.id, (zero, 0))
                    blended = total / number if number else zero
                eac += cost_to_date + Decimal(remaining.get(row.id, 0)) / 60 * blended
        for project_id, percent, month, number in share_rows:
            if month < count and fee_of.get(project_id) is not None:
                month_revenue[month] += fee_share(fee_of[project_id], sql.exact(percent)) * int(number)
        return {"projects": len(rows), "hours": Decimal(minutes) / 60, "revenue": round_money(revenue),
                "cost": round_money(cost), "eac": round_money(eac),
                "month_revenue": tuple(str(round_money(m)) for m in month_revenue),
                "month_cost": tuple(str(round_money(m / 60)) for m in month_cost)}

    page = f"/reports/margin?period=custom&date_from={period.start.isoformat()}&date_to={period.end.isoformat()}"
    return ReportBench(
        name="margin", what=f"margin report, {period.start} to {period.end}, approved hours",
        service=lambda: margin_report(period, include_submitted=False, today=today), bare=bare,
        figures=figures, bare_figures=bare_figures, page=page,
        baseline="5 hand-written statements (the counted time per project, bucket and to date, read once from the "
                 "span totals and the cut spans' entries; every project with its completed-milestone flag; fee "
                 "shares per month; the listed fixed-fee projects' remaining minutes and members' rates)")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
