"""Eight people log time on the same two tasks of one project at once, each touching them in an order opposite
to the next one's: nobody waits on anybody's totals (they are kept per timesheet), nobody deadlocks, and the span
and task totals equal a rebuild from the entries afterwards."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.extensions import db
from tests.concurrency.helpers import THREADS, race

MONDAY = date(2026, 10, 5)


def test_simultaneous_entries_on_shared_tasks_keep_the_totals(app, make):
    from psa.auth.models import User
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project
    from psa.timesheets.models import task_time_totals, time_span_totals
    from psa.timesheets.services import create_entry
    from psa.timesheets.totals import rebuild_time_totals

    manager = make.user(role="manager")
    people = [make.user(role="consultant") for _ in range(THREADS)]
    with app.app_context():
        m = db.session.get(User, manager.id)
        members = [db.session.get(User, p.id) for p in people]
        project = create_project(m, account=make.account(), name="Shared", kickoff_date=date(2026, 9, 1),
                                 manager=m, members=members, billing_model="time_and_materials",
                                 fee_amount=Decimal("90000"))
        milestone = add_milestone_to_project(m, project, name="Build", due_date=date(2027, 3, 1))
        tasks = [add_task_to_milestone(m, milestone, name=f"Task {n}", start_date=date(2026, 9, 1)).id
                 for n in (1, 2)]
        db.session.commit()
        project_id = project.id

    def work(index, go):
        user = db.session.get(User, people[index].id)
        order = tasks if index % 2 else tasks[::-1]
        go()
        for day in range(3):  # Wednesday to Friday: the month does not matter, the order does
            for task_id in order:
                create_entry(user, user, project_id=project_id, task_id=task_id,
                             entry_date=MONDAY + timedelta(days=2 + day), minutes=60 + index)
        db.session.commit()

    outcomes = race(app, work)
    assert [o.kind for o in outcomes] == ["ok"] * THREADS, [o.value for o in outcomes]
    with app.app_context():
        def totals():
            return (sorted(map(tuple, db.session.execute(sa.select(time_span_totals)))),
                    sorted(map(tuple, db.session.execute(sa.select(task_time_totals)))))

        kept = totals()
        assert sum(row[5] for row in kept[0]) == 3 * 2 * THREADS  # every entry counted once
        assert sum(row[3] for row in kept[1]) == sum(3 * 2 * (60 + i) for i in range(THREADS))
        rebuild_time_totals()
        assert totals() == kept
        db.session.rollback()
