"""The pre-aggregated time sums (psa/timesheets/totals.py): spans worked by hand, the database's span expressions
against Python's, the trigger keeping the totals equal to the entries through inserts, updates and deletes
(hypothesis), and entry_totals giving the entries' sums between any cuts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psa.extensions import db
from psa.timesheets.models import TimeEntry, Timesheet, task_time_totals, time_span_totals
from psa.timesheets.totals import SPAN_SQL, entry_totals, rebuild_time_totals, span_of


@pytest.mark.parametrize(("day", "first", "last"), [
    (date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 6)),    # Tuesday: its week began in November
    (date(2026, 11, 30), date(2026, 11, 30), date(2026, 11, 30)),  # Monday, the month's last day: a span of one
    (date(2026, 12, 31), date(2026, 12, 28), date(2026, 12, 31)),  # Thursday: the week runs into January
    (date(2027, 1, 3), date(2027, 1, 1), date(2027, 1, 3)),        # Sunday of a week begun in December
    (date(2026, 6, 10), date(2026, 6, 8), date(2026, 6, 14)),      # a week inside one month
    (date(2024, 2, 29), date(2024, 2, 26), date(2024, 2, 29)),     # leap day, a Thursday
])
def test_a_span_is_the_week_inside_the_month(day, first, last):
    assert span_of(day) == (first, last)


def test_the_databases_span_is_pythons(ctx):
    """Every day of 2024–2027 (leap year, every weekday at every month end) through the dialect's SQL."""
    dialect = db.session.get_bind().dialect.name
    first, last = (expression.format(d="d") for expression in SPAN_SQL[dialect])
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(4 * 366)]
    if dialect == "postgresql":
        rows = db.session.execute(sa.text(
            f"SELECT d, {first}, {last} FROM generate_series(CAST(:a AS date), CAST(:b AS date), interval '1 day')"
            " AS g(t), LATERAL (SELECT CAST(t AS date) AS d) AS x"), {"a": days[0], "b": days[-1]}).all()
    else:
        rows = db.session.execute(sa.text(
            f"WITH RECURSIVE s(d) AS (SELECT :a UNION ALL SELECT date(d, '+1 day') FROM s WHERE d < :b)"
            f" SELECT d, {first}, {last} FROM s"), {"a": days[0].isoformat(), "b": days[-1].isoformat()}).all()
    got = {_day(d): (_day(f), _day(t)) for d, f, t in rows}
    assert got == {day: span_of(day) for day in days}


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _stored() -> dict:
    c = time_span_totals.c
    return {(r.timesheet_id, r.project_id, r.billable, _day(r.span_start)):
            (_day(r.span_end), r.entries, r.minutes, r.cost_amount, r.bill_amount)
            for r in db.session.execute(sa.select(time_span_totals).where(c.entries > 0))}


def _stored_tasks() -> dict:
    c = task_time_totals.c
    return {(r.timesheet_id, r.task_id): (r.entries, r.minutes)
            for r in db.session.execute(sa.select(task_time_totals).where(c.entries > 0))}


def _expected_tasks() -> dict:
    sums: dict = {}
    for e in db.session.scalars(sa.select(TimeEntry).where(TimeEntry.task_id.is_not(None))):
        n, minutes = sums.get((e.timesheet_id, e.task_id), (0, 0))
        sums[(e.timesheet_id, e.task_id)] = (n + 1, minutes + e.minutes)
    return sums


def _expected() -> dict:
    sums: dict = {}
    for e in db.session.scalars(sa.select(TimeEntry)):
        first, last = span_of(e.entry_date)
        key = (e.timesheet_id, e.project_id, e.billable, first)
        _, n, minutes, cost, bill = sums.get(key, (last, 0, 0, Decimal("0.00"), Decimal("0.00")))
        sums[key] = (last, n + 1, minutes + e.minutes, cost + e.minutes * e.cost_rate, bill + e.minutes * e.bill_rate)
    return sums


def _two_projects(make, tasks: dict | None = None):
    """Two projects of one account, managed by a manager: their ids. With `tasks`, each project gets two tasks,
    their ids put in tasks[project id]."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    manager = make.user(role="manager")
    account = make.account()
    ids = []
    for name in ("Alpha", "Beta"):
        project = create_project(manager, account=account, name=name, kickoff_date=date(2026, 9, 1),
                                 manager=manager, members=[], billing_model="time_and_materials")
        if tasks is not None:
            milestone = add_milestone_to_project(manager, project, name="Build", due_date=date(2027, 3, 1))
            tasks[project.id] = [add_task_to_milestone(manager, milestone, name=f"Task {n}",
                                                       start_date=date(2026, 9, 1)).id for n in (1, 2)]
        ids.append(project.id)
    db.session.commit()
    return ids


@pytest.fixture
def weeks(ctx, make):
    """Two people, two projects, a week each around the November/December 2026 month end and a week inside
    December."""
    ann, bob = make.user(), make.user()
    tasks: dict = {}
    projects = _two_projects(make, tasks)
    sheets = []
    for user in (ann, bob):
        for monday in (date(2026, 11, 30), date(2026, 12, 7)):
            sheet = Timesheet(user_id=user.id, week_start=monday, state="draft")
            db.session.add(sheet)
            db.session.flush()
            sheets.append(sheet)
    db.session.commit()
    return {"sheets": sheets, "projects": projects, "tasks": tasks}


RATES = st.sampled_from([Decimal("0.00"), Decimal("80.00"), Decimal("125.50"), Decimal("99.99")])
OPERATION = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 3), st.integers(0, 1), st.integers(0, 6), st.integers(1, 600),
              st.booleans(), RATES, RATES, st.integers(0, 2)),
    st.tuples(st.just("change"), st.integers(0, 50), st.sampled_from(["minutes", "billable", "project", "day",
                                                                      "rates", "note", "sheet", "task"]),
              st.integers(1, 600)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=12))
def test_the_trigger_keeps_the_totals_equal_to_the_entries(weeks, operations):
    sheets, projects, tasks = weeks["sheets"], weeks["projects"], weeks["tasks"]
    try:
        for operation in operations:
            entries = db.session.scalars(sa.select(TimeEntry).order_by(TimeEntry.id)).all()
            if operation[0] == "add":
                _, s, p, offset, minutes, billable, bill, cost, t = operation
                sheet = sheets[s]
                db.session.add(TimeEntry(user_id=sheet.user_id, project_id=projects[p], timesheet_id=sheet.id,
                                         entry_date=sheet.week_start + timedelta(days=offset), minutes=minutes,
                                         billable=billable, bill_rate=bill, cost_rate=cost,
                                         task_id=[None, *tasks[projects[p]]][t]))
            elif entries and operation[0] == "change":
                _, index, field, value = operation
                entry = entries[index % len(entries)]
                if field == "minutes":
                    entry.minutes = value
                elif field == "billable":
                    entry.billable = not entry.billable
                elif field == "project":
                    entry.project_id = projects[1] if entry.project_id == projects[0] else projects[0]
                    entry.task_id = tasks[entry.project_id][value % 2] if value % 3 else None
                elif field == "task":  # another of its project's tasks, or none
                    entry.task_id = [None, *tasks[entry.project_id]][value % 3]
                elif field == "day":  # within its week: across the month end and back
                    sheet = next(s for s in sheets if s.id == entry.timesheet_id)
                    entry.entry_date = sheet.week_start + timedelta(days=value % 7)
                elif field == "rates":
                    entry.bill_rate, entry.cost_rate = Decimal(value), Decimal(value) / 4
                elif field == "sheet":  # the same person's other week, same weekday
                    mine = [s for s in sheets if s.user_id == entry.user_id and s.id != entry.timesheet_id][0]
                    entry.entry_date = mine.week_start + (entry.entry_date - _sheet(sheets, entry).week_start)
                    entry.timesheet_id = mine.id
                else:
                    entry.note = f"note {value}"
            elif entries and operation[0] == "delete":
                db.session.delete(entries[operation[1] % len(entries)])
            db.session.flush()
            assert _stored() == _expected()
            assert _stored_tasks() == _expected_tasks()
        db.session.commit()
        assert _stored() == _expected() and _stored_tasks() == _expected_tasks()
        # a bulk UPDATE and DELETE in plain SQL too
        db.session.execute(sa.update(TimeEntry).where(TimeEntry.minutes > 300).values(minutes=TimeEntry.minutes - 5))
        db.session.execute(sa.delete(TimeEntry).where(TimeEntry.minutes < 100))
        assert _stored() == _expected() and _stored_tasks() == _expected_tasks()
        # and the rebuild gives the same tables
        before = (_stored(), _stored_tasks())
        rebuild_time_totals()
        assert (_stored(), _stored_tasks()) == before
        rebuild_time_totals([sheets[0].id])
        assert (_stored(), _stored_tasks()) == before
    finally:
        db.session.rollback()
        db.session.execute(sa.delete(TimeEntry))
        db.session.execute(sa.delete(time_span_totals))
        db.session.execute(sa.delete(task_time_totals))
        db.session.commit()


def _sheet(sheets, entry):
    return next(s for s in sheets if s.id == entry.timesheet_id)


DAYS = st.dates(min_value=date(2026, 11, 23), max_value=date(2027, 1, 10))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(DAYS, max_size=4), bounds=st.tuples(st.none() | DAYS, st.none() | DAYS),
       submitted=st.booleans())
def test_entry_totals_add_up_to_the_entries_between_any_cuts(spread, cuts, bounds, submitted):
    """Per project and range between the cuts: Σ minutes, cost and bill of entry_totals' rows equal the entries'."""
    date_from, date_to = bounds
    states = ("approved", "submitted") if submitted else ("approved",)
    edges = sorted(set(cuts))

    def segment(day):
        return sum(1 for cut in edges if day >= cut)

    expected: dict = {}
    for e, state in spread:
        if state not in states or (date_from and e.entry_date < date_from) or (date_to and e.entry_date > date_to):
            continue
        key = (e.project_id, e.user_id, e.billable, segment(e.entry_date))
        m, c, b = expected.get(key, (0, Decimal(0), Decimal(0)))
        expected[key] = (m + e.minutes, c + e.minutes * e.cost_rate, b + e.minutes * e.bill_rate)
    rows = entry_totals(states, cuts, date_from, date_to)
    got: dict = {}
    for row in db.session.execute(sa.select(rows)):
        key = (row.project_id, row.user_id, row.billable, segment(_day(row.day)))
        m, c, b = got.get(key, (0, Decimal(0), Decimal(0)))
        got[key] = (m + row.minutes, c + row.cost_amount, b + row.bill_amount)
    assert got == expected


@pytest.fixture
def spread(ctx, make):
    """Entries on every day from 2026-11-23 to 2027-01-10 for two people on two projects, in weeks of every
    state; returns (entry, its week's state) pairs."""
    ann, bob = make.user(), make.user()
    alpha, beta = _two_projects(make)
    states = ["approved", "submitted", "draft", "approved", "rejected", "approved", "submitted"]
    out = []
    monday, n = date(2026, 11, 23), 0
    while monday <= date(2027, 1, 10):
        for user in (ann, bob):
            state = states[n % len(states)]
            n += 1
            sheet = Timesheet(user_id=user.id, week_start=monday, state=state)
            db.session.add(sheet)
            db.session.flush()
            for offset in range(7):
                for project_id, billable in ((alpha, True), (beta, offset % 3 != 0)):
                    entry = TimeEntry(user_id=user.id, project_id=project_id, timesheet_id=sheet.id,
                                      entry_date=monday + timedelta(days=offset), minutes=15 * (offset + 1 + n % 5),
                                      billable=billable, bill_rate=Decimal("150.00") + n,
                                      cost_rate=Decimal("70.25") + offset)
                    db.session.add(entry)
                    out.append((entry, state))
        monday += timedelta(days=7)
    db.session.commit()
    return out
