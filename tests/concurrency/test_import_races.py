"""An import takes the same week locks as the grid: an import racing with the week's submission either lands
before it (its rows are in the week, then submitted) or sees the week submitted and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry, Timesheet
from tests.concurrency.conftest import MONDAY
from tests.concurrency.helpers import ROUNDS, THREADS, no_errors, race

IMPORTERS = THREADS // 2


def test_imports_racing_a_submit_never_add_time_to_a_submitted_week(app, staffed):
    consultant_id, manager_id, project_id = staffed
    with app.app_context():
        email = db.session.get(User, consultant_id).email
    for round_ in range(ROUNDS):
        monday = MONDAY + timedelta(weeks=4 + round_)
        with app.app_context():
            sheet = Timesheet(user_id=consultant_id, week_start=monday, state="draft")
            db.session.add(sheet)
            db.session.commit()
            sheet_id = sheet.id
        order: list[tuple[str, int, bool]] = []

        def work(i, go, monday=monday, sheet_id=sheet_id, order=order):
            if i < IMPORTERS:  # importers: one row each, a note of their own so none is a duplicate
                actor = db.session.get(User, manager_id)
                csv = ("date,email,project,task,hours,billable,note\n"
                       f"{monday.isoformat()},{email},Acme onboarding,,1,yes,import {i}\n")
                go()
                report = import_time_entries(actor, csv.encode(), dry_run=False)
                order.append(("import", i, report.ok))  # still holding the week's lock: commit order
                db.session.commit()
                return report
            user = db.session.get(User, consultant_id)
            sheet = db.session.get(Timesheet, sheet_id)
            go()
            ts.submit_timesheet(user, sheet)
            order.append(("submit", i, True))
            db.session.commit()
            return sheet

        outcomes = race(app, work)
        no_errors(outcomes)
        submits = [o for o in outcomes[IMPORTERS:] if o.kind == "ok"]
        assert len(submits) == 1, [o.kind for o in outcomes]
        assert all(o.kind == "conflict" for o in outcomes[IMPORTERS:] if o.kind != "ok")
        position = next(n for n, (kind, _, _) in enumerate(order) if kind == "submit")
        before = [(i, ok) for kind, i, ok in order[:position] if kind == "import"]
        after = [(i, ok) for kind, i, ok in order[position + 1:] if kind == "import"]
        assert len(before) + len(after) == IMPORTERS
        assert all(ok for _, ok in before), ("an import before the submit was refused", [o.value.errors for o in outcomes[:IMPORTERS]])
        assert not any(ok for _, ok in after), "an import after the submit was accepted"
        with app.app_context():
            notes = sorted(db.session.scalars(sa.select(TimeEntry.note).where(TimeEntry.timesheet_id == sheet_id)))
            assert db.session.get(Timesheet, sheet_id).state == "submitted"
        assert notes == sorted(f"import {i}" for i, _ in before)
