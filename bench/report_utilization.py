"""Time the utilization report of a year against the bare SQL computing the same aggregates.

    .venv/bin/python bench/report_utilization.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`: about a million entries over two years; BENCH_DATABASE_URL or
instance/bench-large.sqlite, or --database-url), prints:

1. psa.reports.services.utilization_report over the last full 365 days (the year up to yesterday), approved
   hours, in process: seconds (best of --repeat) and the SQL statements it issued;
2. the baseline: the service's three aggregates written by hand as SQL text (sa.text), same joins, filters and
   GROUP BY, reading what the service reads — the pre-aggregated sums (time_span_totals) of the spans inside the
   year and the entries of the spans its first day and the day after its last cut (psa.timesheets.totals): the
   people (internal roles, active or with hours in the year) with their approver's name, their billable and
   total minutes and their time off in the year; the minutes per person and week; the time off per person and
   week — every row fetched: seconds (best of --repeat, alternating with 1);
3. the figures both give (people, billable and total hours, time off, and the same per week summed; hours to
   the hundredth, as shown), which must be equal, and the ratio service / bare SQL, PASS or FAIL against 1.5x;
4. /reports/utilization for that year (a custom period) through gunicorn (README's production settings) as the
   demo leader: p50 and p95 of --requests requests after --warmup, PASS or FAIL against 300 ms.

Before timing, every periodic job runs once in-process (reports_common.settle: the steady state gunicorn would
otherwise reach while being timed). Exits non-zero when a figure differs, a check fails or the page does not
answer 200 (with --advisory, the timing checks are printed only).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_common import ReportBench, main, year_period  # noqa: E402

#: The counted entries of the period, as psa.timesheets.totals.entry_totals reads them: the pre-aggregated sums of
#: the spans wholly inside the period (time_span_totals), and the entries of the spans the period's first day or
#: the day after its last falls inside ({split_spans}: those spans' first days; {split_days}: their days).
LOGGED = """
SELECT ts.user_id, ts.week_start, st.billable, st.minutes
FROM time_span_totals st JOIN timesheets ts ON ts.id = st.timesheet_id
WHERE ts.state IN :states AND st.entries > 0 AND st.span_start >= :start AND st.span_start <= :end{split_spans}
UNION ALL
SELECT te.user_id, ts.week_start, te.billable, sum(te.minutes)
FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
WHERE ts.state IN :states AND ({split_days}) AND te.entry_date >= :start AND te.entry_date <= :end
GROUP BY te.user_id, te.project_id, te.billable, te.entry_date, ts.week_start"""

PEOPLE = """
SELECT u.id, u.name, u.email, u.role, u.weekly_capacity_hours, ap.name AS approver_name,
       e.billable_minutes, e.total_minutes, o.off_minutes
FROM users u
LEFT JOIN users ap ON ap.id = u.approver_id
LEFT JOIN (SELECT l.user_id, sum(CASE WHEN {billable} THEN l.minutes ELSE 0 END) AS billable_minutes,
                  sum(l.minutes) AS total_minutes
           FROM ({logged}) AS l GROUP BY l.user_id) AS e ON e.user_id = u.id
LEFT JOIN (SELECT user_id, sum(minutes) AS off_minutes FROM time_off WHERE entry_date BETWEEN :start AND :end
           GROUP BY user_id) AS o ON o.user_id = u.id
WHERE u.role IN :roles AND (u.is_active = {true} OR e.user_id IS NOT NULL)
ORDER BY u.name, u.id"""

WEEKS = """
SELECT l.user_id, l.week_start, sum(CASE WHEN {billable} THEN l.minutes ELSE 0 END) AS billable_minutes,
       sum(l.minutes) AS total_minutes
FROM ({logged}) AS l
GROUP BY l.user_id, l.week_start"""

WEEK_OFF = """
SELECT o.user_id, ts.week_start, sum(o.minutes) AS off_minutes
FROM time_off o JOIN timesheets ts ON ts.id = o.timesheet_id
WHERE o.entry_date BETWEEN :start AND :end
GROUP BY o.user_id, ts.week_start"""


def logged_sql(period) -> tuple[str, dict]:
    """LOGGED for the period, and its split spans' parameters (the spans the cuts fall inside, as
    psa.timesheets.totals.span_of gives them)."""
    from psa.timesheets.totals import span_of

    cuts = {period.start, period.end + timedelta(days=1)}
    split = sorted({span_of(cut) for cut in cuts if span_of(cut)[0] != cut})
    params = {f"split_first{n}": first for n, (first, _) in enumerate(split)}
    params.update({f"split_last{n}": last for n, (_, last) in enumerate(split)})
    spans = "".join(f" AND st.span_start <> :split_first{n}" for n in range(len(split)))
    days = " OR ".join(f"te.entry_date BETWEEN :split_first{n} AND :split_last{n}" for n in range(len(split)))
    if not split:
        return LOGGED.split("UNION ALL")[0].format(split_spans=""), params
    return LOGGED.format(split_spans=spans, split_days=days), params


def hours(minutes: int) -> Decimal:
    return Decimal(minutes) / 60


def shown(figures: dict) -> dict:
    """Hours as the report shows them (format_hours: to the hundredth, half-up): the report sums each person's
    minutes ÷ 60, the baseline divides the total, which may differ in the 28th digit."""
    from psa.reports.services import format_hours

    return {k: format_hours(v) if isinstance(v, Decimal) else v for k, v in figures.items()}


def build(app, args) -> ReportBench:
    from psa.auth.models import ROLES
    from psa.reports.services import _mondays, counted_states, utilization_report

    period = year_period()
    logged, split = logged_sql(period)
    params = {"start": period.start, "end": period.end, "states": counted_states(False), "roles": tuple(ROLES),
              **split}

    def bare(sql):
        billable = sql.boolean("l.billable")
        true = "true" if sql.dialect == "postgresql" else "1"
        # the organisation's working weekdays and target, and its holidays: the capacity and the target need them
        sql.rows("SELECT working_days, utilization_target_percent FROM settings WHERE id = 1")
        sql.rows("SELECT day FROM holidays")
        return (sql.rows(PEOPLE.format(billable=billable, true=true, logged=logged), **params),
                sql.rows(WEEKS.format(billable=billable, logged=logged), **params), sql.rows(WEEK_OFF, **params))

    def figures(report) -> dict:
        in_weeks = [week for person in report.people for week in person.weeks.values()]
        return shown({"people": len(report.people), "billable_hours": report.total.billable_hours,
                      "total_hours": report.total.total_hours,
                      "time_off_hours": sum((p.time_off_hours for p in report.people), Decimal(0)),
                      "weeks_billable_hours": sum((w.billable_hours for w in in_weeks), Decimal(0)),
                      "weeks_total_hours": sum((w.total_hours for w in in_weeks), Decimal(0))})

    def bare_figures(read) -> dict:
        people, weeks, _week_off = read
        ids = {row.id for row in people}
        mondays = {monday.isoformat() for monday in _mondays(period)}  # a date, or text on SQLite
        listed = [w for w in weeks if w.user_id in ids and str(w.week_start) in mondays]
        return shown({"people": len(people),
                      "billable_hours": hours(sum(int(r.billable_minutes or 0) for r in people)),
                      "total_hours": hours(sum(int(r.total_minutes or 0) for r in people)),
                      "time_off_hours": hours(sum(int(r.off_minutes or 0) for r in people)),
                      "weeks_billable_hours": hours(sum(int(w.billable_minutes) for w in listed)),
                      "weeks_total_hours": hours(sum(int(w.total_minutes) for w in listed))})

    page = (f"/reports/utilization?period=custom&date_from={period.start.isoformat()}"
            f"&date_to={period.end.isoformat()}")
    return ReportBench(
        name="utilization", what=f"utilization report, {period.start} to {period.end}, approved hours",
        service=lambda: utilization_report(period, include_submitted=False), bare=bare,
        figures=figures, bare_figures=bare_figures, page=page,
        baseline="5 hand-written statements: the settings and holidays the capacity needs, then over the span "
                 "totals and the cut spans' entries people with their sums, sums per person and week, time off per "
                 "person and week")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
