"""Pre-aggregated time sums: what the reports read instead of a million entries.

`time_span_totals` holds, per timesheet, project, billable flag and *span*, the count of entries, Σ minutes,
Σ minutes × cost rate and Σ minutes × bill rate (exact: money × whole minutes, divided by 60 only by the reader).
A span is the part of an ISO week (Monday–Sunday) inside one calendar month: a week crossing a month end has two
spans, any other week one. So a month never cuts a span, and neither does a week.

The database keeps the table: a trigger on `time_entries` (AFTER INSERT, DELETE, and UPDATE of the summed
columns; PL/pgSQL on PostgreSQL, SQL triggers on SQLite; created by migration 6d1f3a8b2c47) adds the new row's
figures to its span and takes the old row's off, in the writer's transaction. Every write path — the grid, the
import, the API, a factory in a test, a hand-written UPDATE — is covered, and a span belongs to one timesheet, so
writers of different weeks never touch the same total (each week's writers are already serialised by its lock).
A timesheet's state is not copied: readers join `timesheets`, so an approval changes no total.

`task_time_totals` holds, per timesheet and task, the entries' count and Σ minutes in any state (migration
8e4a2c6b1d59, kept the same way): `logged_minutes` gives a task's logged minutes (the estimate at completion, the
forecast's remaining work) from it. Keyed by timesheet, so two people saving time on one task never wait for each
other.

`entry_totals` is the one reader: rows of (user, project, billable, day, week, minutes, cost, bill) that add up
to the entries of the counted states, where each row lies wholly on one side of every cut the caller names (the
period's first day, the day after its last, the day after today...). Whole spans come from the totals; a span
that a cut falls inside is read from its entries, grouped by day (at most one span per cut: a few thousand
entries on the large demo, through `ix_time_entries_date`). `rebuild_time_totals` recomputes both tables from the
entries (the large demo's bulk load, which bypasses the trigger, and a repair by hand).

Beware: a later migration that alters `time_entries` in SQLite batch mode recreates the table, which drops its
triggers; such a migration must create them again (tests/timesheets/test_span_totals.py fails otherwise)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import sqlalchemy as sa

from psa.core.money import money_sum
from psa.extensions import db
from psa.timesheets.models import AMOUNT, TimeEntry, Timesheet, task_time_totals, time_span_totals

#: SQL for an entry's span (its first and last day) per dialect, `{d}` standing for the entry's date. The
#: migration's trigger holds the same expressions.
SPAN_SQL = {
    "postgresql": (
        "GREATEST({d} - (EXTRACT(ISODOW FROM {d})::int - 1), date_trunc('month', {d})::date)",
        "LEAST({d} - (EXTRACT(ISODOW FROM {d})::int - 1) + 6, "
        "(date_trunc('month', {d}) + interval '1 month' - interval '1 day')::date)",
    ),
    "sqlite": (
        "max(date({d}, '-' || ((CAST(strftime('%w', {d}) AS INTEGER) + 6) % 7) || ' days'), "
        "date({d}, 'start of month'))",
        "min(date({d}, '-' || ((CAST(strftime('%w', {d}) AS INTEGER) + 6) % 7) || ' days', '+6 days'), "
        "date({d}, 'start of month', '+1 month', '-1 day'))",
    ),
}


def span_of(day: date) -> tuple[date, date]:
    """The span holding `day`: (first, last) day, the ISO week clipped to the day's calendar month."""
    monday = day - timedelta(days=day.weekday())
    first_of_month = day.replace(day=1)
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return max(monday, first_of_month), min(monday + timedelta(days=6), following - timedelta(days=1))


def rebuild_time_totals(timesheet_ids: Iterable[int] | None = None) -> None:
    """Recompute both totals (spans and tasks) from the entries: every timesheet's, or those of `timesheet_ids`.
    In the caller's transaction."""
    dialect = db.session.get_bind().dialect.name
    start, end = (expression.format(d="entry_date") for expression in SPAN_SQL[dialect])
    where, params = "", {}
    delete = time_span_totals.delete()
    if timesheet_ids is not None:
        ids = sorted(set(timesheet_ids))
        if not ids:
            return
        delete = delete.where(time_span_totals.c.timesheet_id.in_(ids))
        where, params = "WHERE timesheet_id IN :ids", {"ids": ids}
    db.session.execute(delete)
    tasks_delete = task_time_totals.delete()
    if timesheet_ids is not None:
        tasks_delete = tasks_delete.where(task_time_totals.c.timesheet_id.in_(ids))
    db.session.execute(tasks_delete)
    by_task = (sa.select(TimeEntry.timesheet_id, TimeEntry.task_id, sa.func.count(), sa.func.sum(TimeEntry.minutes))
               .where(TimeEntry.task_id.is_not(None)).group_by(TimeEntry.timesheet_id, TimeEntry.task_id))
    if timesheet_ids is not None:
        by_task = by_task.where(TimeEntry.timesheet_id.in_(ids))
    db.session.execute(task_time_totals.insert().from_select(["timesheet_id", "task_id", "entries", "minutes"],
                                                             by_task))
    statement = sa.text(
        "INSERT INTO time_span_totals (timesheet_id, project_id, billable, span_start, span_end, entries, minutes,"
        " cost_amount, bill_amount)"
        f" SELECT timesheet_id, project_id, billable, {start}, {end}, count(*), sum(minutes),"
        f" sum(minutes * cost_rate), sum(minutes * bill_rate) FROM time_entries {where}"
        f" GROUP BY timesheet_id, project_id, billable, {start}, {end}")
    if params:
        statement = statement.bindparams(sa.bindparam("ids", expanding=True))
    db.session.execute(statement, params)


def entry_totals(states: Iterable[str], cuts: Iterable[date] = (), date_from: date | None = None,
                 date_to: date | None = None, name: str = "entry_totals") -> sa.Subquery:
    """The counted entries (their timesheet in `states`) dated from `date_from` to `date_to` (either open), summed
    into rows that each lie wholly on one side of every day in `cuts` (a cut is the first day of a new range: a
    period's first day, the day after its last). Columns: user_id, project_id, billable, day (a date inside the
    row's days: compare it with the cuts only), week_start, minutes, cost_amount and bill_amount (Σ minutes × rate:
    divide by 60 for money)."""
    states = tuple(states)
    cuts = set(cuts)
    if date_from is not None:
        cuts.add(date_from)
    if date_to is not None:
        cuts.add(date_to + timedelta(days=1))
    split = sorted({span_of(cut) for cut in cuts if span_of(cut)[0] != cut})  # spans a cut falls inside
    totals = time_span_totals.c

    whole = (sa.select(Timesheet.user_id.label("user_id"), totals.project_id.label("project_id"),
                       totals.billable.label("billable"), totals.span_start.label("day"),
                       Timesheet.week_start.label("week_start"), totals.minutes.label("minutes"),
                       totals.cost_amount.label("cost_amount"), totals.bill_amount.label("bill_amount"))
             .join(Timesheet, Timesheet.id == totals.timesheet_id)
             .where(Timesheet.state.in_(states), totals.entries > 0))
    if split:
        whole = whole.where(totals.span_start.not_in([first for first, _ in split]))
    if date_from is not None:
        whole = whole.where(totals.span_start >= date_from)
    if date_to is not None:
        whole = whole.where(totals.span_start <= date_to)
    if not split:
        return whole.subquery(name)

    # each column cast to the totals' own type: PostgreSQL then plans the UNION ALL as one append whose unused
    # columns a reader's outer query drops (with bigint against integer, numeric against numeric(20, 2) it
    # computes every column of both halves first)
    edges = (sa.select(TimeEntry.user_id, TimeEntry.project_id, TimeEntry.billable, TimeEntry.entry_date,
                       Timesheet.week_start, sa.cast(sa.func.sum(TimeEntry.minutes), sa.Integer),
                       sa.cast(money_sum(TimeEntry.cost_rate * TimeEntry.minutes), AMOUNT),
                       sa.cast(money_sum(TimeEntry.bill_rate * TimeEntry.minutes), AMOUNT))
             .join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
             .where(Timesheet.state.in_(states),
                    sa.or_(*(TimeEntry.entry_date.between(first, last) for first, last in split)))
             .group_by(TimeEntry.user_id, TimeEntry.project_id, TimeEntry.billable, TimeEntry.entry_date,
                       Timesheet.week_start))
    if date_from is not None:
        edges = edges.where(TimeEntry.entry_date >= date_from)
    if date_to is not None:
        edges = edges.where(TimeEntry.entry_date <= date_to)
    return sa.union_all(whole, edges).subquery(name)


def logged_minutes(task_ids: sa.Select, name: str = "logged_minutes") -> sa.Subquery:
    """Minutes logged on each of the tasks `task_ids` selects, in any state: rows (task_id, minutes), a task
    without time absent."""
    totals = task_time_totals.c
    return (sa.select(totals.task_id.label("task_id"), sa.func.sum(totals.minutes).label("minutes"))
            .where(totals.task_id.in_(task_ids))
            .group_by(totals.task_id).subquery(name))
