"""The sweep (SPEC §3 escalation levels): hand-worked slips with a holiday inside, the right people notified
once per level, raised on a later slip, resolved when done or back on track, idempotent, and a constant
number of statements whatever the number of milestones."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from click.testing import CliRunner

from psa.activity.text import describe_events
from psa.auth.models import User
from psa.core.models import AuditEvent
from psa.escalations.services import acknowledge_escalation, sweep_escalations, target_level
from psa.extensions import db
from psa.projects import services
from psa.projects.models import Escalation, Milestone, Project, Task
from tests.escalations.conftest import (
    HOLIDAY,
    build_project,
    emails,
    escalation_rows,
    notified,
    on,
    refresh_and_sweep,
)

BUILD = [("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1)]),
         ("Go-live", date(2026, 12, 18), [("Cutover", date(2026, 12, 18), 1)])]


def test_target_level_follows_the_thresholds():
    assert [target_level(slip, (1, 3, 7)) for slip in (0, 1, 2, 3, 6, 7, 30)] == [0, 1, 1, 2, 2, 3, 3]
    assert [target_level(slip, (2, 4, 9)) for slip in (1, 2, 4, 9)] == [0, 1, 2, 3]


def test_a_slipping_milestone_escalates_rises_and_resolves_notifying_each_level_once(app, make, people):
    make.holiday(day=HOLIDAY, name="Founders day")
    ids = build_project(app, people, make, milestones=BUILD)
    build = ids["milestones"]["Build"]

    # Tue 17 Nov: Build was due Fri 13; working days after the 13th up to the 17th: Mon 16 is a holiday, so only
    # Tue 17: slip 1 → level 1 (the project manager), overdue
    result = refresh_and_sweep(app, date(2026, 11, 17))
    assert (result.opened, result.raised, result.resolved, result.notifications, result.emails) == (1, 0, 0, 1, 1)
    assert escalation_rows(app) == [(build, 1, "overdue", 1, 1, False, None, False)]
    assert notified(app) == [("Mia Manager", "Escalation level 1: Build of Contoso rollout is overdue (due "
                                             "2026-11-13), 1 working day late")]
    assert emails(app) == [(people["mia"].email, "Escalation level 1: Build (Contoso rollout)")]

    # Wed 18: Tue 17 and Wed 18 = 2 working days (3 without the holiday, which would be level 2): still level 1,
    # and neither the same level nor a second sweep notifies anyone again
    for _ in range(2):
        result = refresh_and_sweep(app, date(2026, 11, 18))
        assert (result.opened, result.raised, result.notifications) == (0, 0, 0)
    assert escalation_rows(app) == [(build, 1, "overdue", 1, 1, False, None, False)]
    assert len(notified(app)) == 1 and len(emails(app)) == 1

    # Mia acknowledges it
    with on(app, date(2026, 11, 18)):
        acknowledge_escalation(db.session.get(User, people["mia"].id), db.session.scalar(sa.select(Escalation)),
                               "Vendor late, chasing")
        db.session.commit()
    assert escalation_rows(app)[0][-1] is True

    # Thu 19: 17, 18, 19 = 3 → level 2: un-acknowledged, and Mia and Lee told (Ivy is inactive); health is red and
    # its reason names the escalation
    result = refresh_and_sweep(app, date(2026, 11, 19))
    assert (result.opened, result.raised, result.notifications) == (0, 1, 2)
    assert escalation_rows(app) == [(build, 2, "overdue", 3, 2, False, None, False)]
    assert notified(app)[1:] == [(name, "Escalation level 2: Build of Contoso rollout is overdue (due 2026-11-13), "
                                        "3 working days late") for name in ("Mia Manager", "Lee Leader")]
    with on(app, date(2026, 11, 19)):
        project = db.session.get(Project, ids["project"])
        assert (project.health, project.health_reason, project.health_milestone_id) == (
            "red", "Escalation level 2 open on Build", build)

    # Wed 25: 17, 18, 19, 20, 23, 24, 25 = 7 → level 3: Mia, Lee, Ada and Olga (the account's owner)
    result = refresh_and_sweep(app, date(2026, 11, 25))
    assert (result.raised, result.notifications, result.emails) == (1, 4, 4)
    assert sorted(name for name, _ in notified(app)[3:]) == ["Ada Admin", "Lee Leader", "Mia Manager", "Olga Owner"]
    assert len(emails(app)) == 7

    # a lower slip keeps the level until resolved: Build moved to Fri 20 slips 23, 24, 25 = 3 (level 2): stays 3
    with on(app, date(2026, 11, 25)):
        mia = db.session.get(User, people["mia"].id)
        services.update_milestone(mia, db.session.get(Milestone, build), due_date=date(2026, 11, 20))
        db.session.commit()
    result = refresh_and_sweep(app, date(2026, 11, 25))
    assert (result.raised, result.resolved, result.notifications) == (0, 0, 0)
    assert escalation_rows(app)[0][1:4] == (3, "overdue", 7)

    # done: resolved ('done'), health back from red, and nobody notified of it
    with on(app, date(2026, 11, 26)):
        mia = db.session.get(User, people["mia"].id)
        services.update_task(mia, db.session.get(Task, ids["tasks"]["Configure"]), status="done")
        db.session.commit()
    result = refresh_and_sweep(app, date(2026, 11, 26))
    assert (result.resolved, result.notifications) == (1, 0)
    assert escalation_rows(app) == [(build, 3, "overdue", 7, 3, True, "done", False)]
    with on(app, date(2026, 11, 26)):
        assert db.session.get(Project, ids["project"]).health != "red"
        # the system's audit trail, in words
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "escalation")
                                    .order_by(AuditEvent.id)).all()
        with app.test_request_context():
            said = [str(line) for line in describe_events(events)]
    assert said == [
        "The system opened the escalation of Build at level 1 (slip 1 working day, overdue)",
        "Mia Manager acknowledged the escalation of Build at level 1: “Vendor late, chasing”",
        "The system raised the escalation of Build to level 2 (slip 3 working days, overdue)",
        "The system raised the escalation of Build to level 3 (slip 7 working days, overdue)",
        "The system resolved the escalation of Build (the milestone is done)",
    ]
    assert len(notified(app)) == 7


def test_a_forecast_slip_resolves_when_the_slip_returns_to_zero(app, make, people):
    # Design due Fri 27 Nov; its task runs Thu 26 to Mon 30 (3 working days): forecast Mon 30, slip 1 → level 1
    ids = build_project(app, people, make, milestones=[
        ("Design", date(2026, 11, 27), [("Draft", date(2026, 11, 26), 3)])])
    refresh_and_sweep(app, date(2026, 11, 18))
    design = ids["milestones"]["Design"]
    assert escalation_rows(app) == [(design, 1, "forecast_slip", 1, 1, False, None, False)]
    with on(app, date(2026, 11, 18)):
        services.update_task(db.session.get(User, people["mia"].id), db.session.get(Task, ids["tasks"]["Draft"]),
                             due_date=date(2026, 11, 27))
        db.session.commit()
    result = refresh_and_sweep(app, date(2026, 11, 18))
    assert (result.resolved, result.notifications) == (1, 0)
    assert escalation_rows(app) == [(design, 1, "forecast_slip", 1, 1, True, "back_on_track", False)]
    # slipping again later opens a new escalation (the partial unique index only holds one open one)
    with on(app, date(2026, 11, 18)):
        services.update_task(db.session.get(User, people["mia"].id), db.session.get(Task, ids["tasks"]["Draft"]),
                             due_date=date(2026, 12, 3))
        db.session.commit()
    result = refresh_and_sweep(app, date(2026, 11, 18))
    # Mon 30, Tue 1, Wed 2, Thu 3 Dec: slip 4 → level 2 at once: Mia and Lee
    assert (result.opened, result.notifications) == (1, 2)
    assert escalation_rows(app)[1] == (design, 2, "forecast_slip", 4, 2, False, None, False)


def test_the_sweep_issues_the_same_number_of_statements_at_5_and_50_milestones(app, make, people, count_queries):
    from psa.projects.services import refresh_schedule

    counts = []
    for n in (5, 50):
        ids = build_project(app, people, make, name=f"Rollout {n}", account_name=f"Account {n}", milestones=[
            (f"M{i}", date(2026, 11, 6), [(f"T{n}.{i}", date(2026, 11, 6), 1)]) for i in range(n)])
        with on(app, date(2026, 11, 18)):
            refresh_schedule([ids["project"]])
            db.session.commit()
        with on(app, date(2026, 11, 18)):
            with count_queries() as statements:
                result = sweep_escalations()
                db.session.commit()
            # due Fri 6 Nov, today Wed 18: 9, 10, 11, 12, 13, 16, 17, 18 = 8 working days → level 3: four people each
            assert result.opened == n and result.notifications == n * 4
        counts.append(len(statements))
        with on(app, date(2026, 11, 18)):
            with count_queries() as again:
                assert sweep_escalations().as_dict() == {"opened": 0, "raised": 0, "resolved": 0,
                                                         "notifications": 0, "emails": 0}
        counts.append(len(again))
    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    assert counts[1] <= 2  # the settings and the one read that finds nothing to change


def test_psa_escalate_says_what_it_did(app, make, people):
    build_project(app, people, make, milestones=BUILD)
    with on(app, date(2026, 11, 17)):
        services.refresh_open_schedules()
        db.session.commit()
        output = CliRunner().invoke(app.cli, ["escalate"]).output
    assert output == "Escalations: 1 opened, 0 raised, 0 resolved; 1 notification and 1 e-mail sent.\n"
