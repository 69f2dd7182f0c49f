"""bill_rate_sql (the revenue forecast's bill rate, in SQL) gives what RateBook.resolve gives, for any rate
history and rate card: the project's line for the user, else for the role, else the user's rate in force that day,
else 0."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets.models import ProjectRate, UserRate
from psa.timesheets.services import RateBook, bill_rate_sql

FIRST = date(2026, 1, 1)
#: The days asked about: before any rate, inside the history, on a change day, after the last.
DAYS = [FIRST - timedelta(days=1), FIRST, FIRST + timedelta(days=10), FIRST + timedelta(days=40)]
ROLES = ["consultant", "manager"]
BILLS = st.sampled_from([Decimal("0.00"), Decimal("80.00"), Decimal("125.50"), Decimal("150.00")])


@pytest.fixture
def cast(ctx, make):
    """Three people (two consultants, a manager) and two projects."""
    from psa.projects.services import create_project

    people = [make.user(role="consultant"), make.user(role="consultant"), make.user(role="manager")]
    manager = db.session.get(User, people[2].id)
    projects = [create_project(manager, account=make.account(), name=f"Rated {n}", kickoff_date=FIRST,
                               manager=manager, billing_model="time_and_materials").id for n in range(2)]
    db.session.commit()
    return [p.id for p in people], projects


HISTORY = st.dictionaries(st.tuples(st.integers(0, 2), st.sampled_from([0, 10, 30])), BILLS, max_size=6)
CARD = st.dictionaries(st.tuples(st.integers(0, 1), st.sampled_from(["user:0", "user:1", "user:2", *ROLES])),
                       BILLS, max_size=6)


def rate_in_sql(user_id, role, project_id, day):
    """bill_rate_sql over a one-row subquery of the user, role and project."""
    asked = sa.select(sa.literal(user_id, sa.Integer).label("user_id"), sa.literal(role, sa.String).label("role"),
                      sa.literal(project_id, sa.Integer).label("project_id")).subquery("asked")
    joined, bill = bill_rate_sql(asked, asked.c.user_id, asked.c.role, asked.c.project_id, day)
    return db.session.scalar(sa.select(bill).select_from(joined))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=HISTORY, card=CARD)
def test_the_sql_gives_the_rate_books_bill_rate(cast, history, card):
    people, projects = cast
    for (person, offset), bill in history.items():
        db.session.add(UserRate(user_id=people[person], effective_from=FIRST + timedelta(days=offset),
                                cost_rate=Decimal("10.00"), bill_rate=bill))
    for (project, key), bill in card.items():
        kind, _, value = key.partition(":")
        db.session.add(ProjectRate(project_id=projects[project], bill_rate=bill,
                                   user_id=people[int(value)] if kind == "user" else None,
                                   role=key if kind != "user" else None))
    db.session.flush()
    try:
        book = RateBook(people, projects)
        asked = [(user_id, role, project_id, day) for user_id in [*people, None] for role in ROLES
                 for project_id in projects for day in DAYS]
        for user_id, role, project_id, day in asked:
            expected = book.resolve(user_id, role, project_id, day).bill
            found = rate_in_sql(user_id, role, project_id, day)
            assert found == expected, (user_id, role, project_id, day, history, card)
    finally:
        db.session.rollback()
        db.session.execute(sa.delete(UserRate))
        db.session.execute(sa.delete(ProjectRate))
        db.session.commit()


def test_a_worked_example(cast):
    """Ann bills 100 from 1 January and 120 from 11 January; project A's card bills her at 200 and managers at 180;
    project B has no card. Ann on A: 200 (her line, any day); the manager on A: 180 (the role line); Ann on B: 100
    on the 5th, 120 on the 11th, 0 before any rate."""
    (ann, _, manager), (a, b) = cast
    db.session.add_all([
        UserRate(user_id=ann, effective_from=FIRST, cost_rate=Decimal("50.00"), bill_rate=Decimal("100.00")),
        UserRate(user_id=ann, effective_from=FIRST + timedelta(days=10), cost_rate=Decimal("50.00"),
                 bill_rate=Decimal("120.00")),
        ProjectRate(project_id=a, user_id=ann, bill_rate=Decimal("200.00")),
        ProjectRate(project_id=a, role="manager", bill_rate=Decimal("180.00")),
    ])
    db.session.flush()

    rate = rate_in_sql
    assert rate(ann, "consultant", a, FIRST + timedelta(days=4)) == Decimal("200.00")
    assert rate(manager, "manager", a, FIRST) == Decimal("180.00")
    assert rate(None, "manager", a, FIRST) == Decimal("180.00")
    assert rate(None, "consultant", a, FIRST) == Decimal("0.00")
    assert rate(ann, "consultant", b, FIRST + timedelta(days=4)) == Decimal("100.00")
    assert rate(ann, "consultant", b, FIRST + timedelta(days=10)) == Decimal("120.00")
    assert rate(ann, "consultant", b, FIRST - timedelta(days=1)) == Decimal("0.00")
    db.session.rollback()
