"""Eight sweeps at once on PostgreSQL (threads released by a barrier, each in its own app context and session):
exactly one open escalation per milestone and one notification per person and level."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from psa.core.clock import frozen
from psa.escalations.services import sweep_escalations
from psa.extensions import db
from tests.concurrency.helpers import no_errors, race
from tests.escalations.conftest import at, build_project, escalation_rows, notified, on


@pytest.fixture
def postgresql_only(app):
    """Runs on both databases: the race is PostgreSQL's (SQLite serializes writers), and on SQLite the same
    invariant must hold with the writers queued."""


def _sweep_at_once(app):
    def work(index, go):
        go()
        result = sweep_escalations()
        db.session.commit()
        return result.as_dict()
    outcomes = race(app, work)
    no_errors(outcomes)
    return [outcome.value for outcome in outcomes]


def test_eight_sweeps_at_once_open_one_escalation_per_milestone_and_notify_once(app, make, people, postgresql_only):
    # three milestones due Fri 13 Nov, one two weeks later (forecast slip via a long task)
    ids = build_project(app, people, make, milestones=[
        *[(f"M{i}", date(2026, 11, 13), [(f"T{i}", date(2026, 11, 13), 1)]) for i in range(3)],
        ("Late", date(2026, 11, 27), [("Long", date(2026, 11, 26), 3)])])
    with on(app, date(2026, 11, 17)):  # M0-2: 16, 17 = 2 → level 1; Late: Mon 30 → 1 → level 1
        from psa.projects.services import refresh_open_schedules

        refresh_open_schedules()
        db.session.commit()
    with frozen(at(date(2026, 11, 17))):
        results = _sweep_at_once(app)
    assert sum(r["opened"] for r in results) == 4 and sum(r["notifications"] for r in results) == 4
    rows = escalation_rows(app)
    assert sorted(row[0] for row in rows) == sorted(ids["milestones"].values())
    assert Counter(notified(app)).most_common(1)[0][1] == 1

    # Thu 19: M0-2 slip 16-19 = 4 → level 2 (Mia and Lee each, once per milestone); Late stays at level 1
    with on(app, date(2026, 11, 19)):
        refresh_open_schedules()
        db.session.commit()
    with frozen(at(date(2026, 11, 19))):
        results = _sweep_at_once(app)
    assert sum(r["raised"] for r in results) == 3 and sum(r["opened"] for r in results) == 0
    assert sum(r["notifications"] for r in results) == 6
    rows = escalation_rows(app)
    assert len(rows) == 4 and sorted(row[1] for row in rows) == [1, 2, 2, 2]
    said = notified(app)
    assert len(said) == 10 and Counter(said).most_common(1)[0][1] == 1
    assert Counter(name for name, message in said if message.startswith("Escalation level 2")) == {
        "Mia Manager": 3, "Lee Leader": 3}
