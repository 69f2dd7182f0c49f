"""The reminders job with hand-worked dates: contacts' customer tasks due in 2 working days (a weekend between)
and overdue, users' timesheets not submitted by Friday 14:00 in their own time zone; each reminder once, a
second run (or eight at once on PostgreSQL) sends nothing more."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from psa.core import clock
from psa.core.models import Notification, OutboxEmail, ReminderSent
from psa.core.queue import run_job
from psa.extensions import db
from psa.projects.models import Project, Task
from psa.timesheets.models import Timesheet
from tests.concurrency.helpers import race
from tests.projects.helpers import build_template, create_project

JOB = "psa.reminders.tasks.reminders_job"
SPEC = [{"name": "Kickoff", "offset_days": 3, "fee_share_percent": 100, "tasks": [
    {"name": "Soon", "offset_days": 0, "duration_days": 1, "assignee_role": "customer", "visibility": "shared"},
    {"name": "Late", "offset_days": 0, "duration_days": 1, "assignee_role": "customer", "visibility": "shared"},
    {"name": "Finished", "offset_days": 0, "duration_days": 1, "assignee_role": "customer", "visibility": "shared"},
    {"name": "Hidden", "offset_days": 0, "duration_days": 1, "assignee_role": "customer",
     "visibility": "internal"},
]}]
# Thursday 2026-12-03 (the organisation's zone is UTC): + 2 working days is Monday 2026-12-07, the weekend
# between; Tuesday 2026-12-01 is 2 working days past.
THURSDAY = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def tasks(app, make):
    """A customer's project with tasks due on hand-worked dates, all assigned to the contact Dana."""
    manager = make.user(role="manager", weekly_capacity_hours=0)  # no timesheet reminders in the task tests
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe", email="dana@contoso.example")
    project = create_project(app, build_template(app, SPEC), manager.id, account.id, date(2026, 11, 2))
    ids = project["tasks"]
    due = {"Soon": date(2026, 12, 7), "Late": date(2026, 12, 1), "Finished": date(2026, 12, 1),
           "Hidden": date(2026, 12, 1)}
    with app.app_context():
        db.session.execute(sa.update(Project).where(Project.id == project["id"]).values(status="active"))
        for name, day in due.items():
            db.session.execute(sa.update(Task).where(Task.id == ids[name]).values(
                due_date=day, assignee_contact_id=dana.id, status="done" if name == "Finished" else "todo"))
        db.session.execute(sa.delete(OutboxEmail))  # the "assigned" e-mails of the project's creation
        db.session.commit()
    return {"ids": ids, "dana": dana, "project": project["id"]}


def run_at(app, at: datetime) -> dict[str, int]:
    with clock.frozen(at):
        return run_job(app, JOB)


def outbox(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEmail.to_address, OutboxEmail.subject)
                                  .order_by(OutboxEmail.id)).all()
        db.session.remove()
    return rows


def test_due_in_two_working_days_counts_over_the_weekend_and_overdue_once(app, tasks):
    # Wednesday: Monday is 3 working days ahead (Thu, Fri, Mon): not yet; Tuesday's task is overdue
    assert run_at(app, WEDNESDAY) == {"task_due_soon": 0, "task_overdue": 1, "timesheet_due": 0}
    assert outbox(app) == [("dana@contoso.example", "PSA: “Late” is overdue")]
    # Thursday: Monday is 2 working days ahead (Fri, Mon); the overdue task was reminded already
    assert run_at(app, THURSDAY) == {"task_due_soon": 1, "task_overdue": 0, "timesheet_due": 0}
    assert outbox(app)[1:] == [("dana@contoso.example", "PSA: “Soon” is due on 2026-12-07")]
    # a second run on Thursday, then Friday (Monday is 1 working day ahead): nothing more
    assert run_at(app, THURSDAY) == {"task_due_soon": 0, "task_overdue": 0, "timesheet_due": 0}
    assert run_at(app, FRIDAY) == {"task_due_soon": 0, "task_overdue": 0, "timesheet_due": 0}
    assert len(outbox(app)) == 2
    with app.app_context():
        keys = db.session.execute(sa.select(ReminderSent.kind, ReminderSent.recipient, ReminderSent.subject_key)
                                  .order_by(ReminderSent.id)).all()
    dana, ids = tasks["dana"].id, tasks["ids"]
    assert keys == [("task_overdue", f"contact:{dana}", f"task:{ids['Late']}:2026-12-01"),
                    ("task_due_soon", f"contact:{dana}", f"task:{ids['Soon']}:2026-12-07")]


def test_a_new_due_date_is_a_new_reminder_and_a_done_task_gets_none(app, tasks):
    assert run_at(app, THURSDAY)["task_overdue"] == 1
    with app.app_context():  # moved to Wednesday, still overdue on Thursday: reminded again, once
        db.session.execute(sa.update(Task).where(Task.id == tasks["ids"]["Late"]).values(due_date=date(2026, 12, 2)))
        db.session.commit()
    assert run_at(app, THURSDAY)["task_overdue"] == 1
    assert run_at(app, THURSDAY)["task_overdue"] == 0
    with app.app_context():  # done: no reminder for its next due date
        db.session.execute(sa.update(Task).where(Task.id == tasks["ids"]["Late"]).values(
            due_date=date(2026, 11, 30), status="done"))
        db.session.commit()
    assert run_at(app, THURSDAY)["task_overdue"] == 0
    subjects = [subject for _, subject in outbox(app)]
    assert subjects.count("PSA: “Late” is overdue") == 2
    assert not any("Finished" in s or "Hidden" in s for s in subjects)


def test_contacts_who_opted_out_get_no_reminder_and_nothing_is_recorded(app, tasks):
    from psa.accounts.models import Contact

    with app.app_context():
        db.session.execute(sa.update(Contact).where(Contact.id == tasks["dana"].id).values(email_opt_out=True))
        db.session.commit()
    assert run_at(app, THURSDAY) == {"task_due_soon": 0, "task_overdue": 0, "timesheet_due": 0}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReminderSent)) == 0


# --- timesheets: Friday 14:00 in the user's own zone ----------------------------------------------------

WEEK = date(2026, 11, 30)


@pytest.fixture
def people(app, make):
    la = make.user(name="Lee LA", email="lee@example.com", timezone="America/Los_Angeles")
    utc = make.user(name="Uma UTC", email="uma@example.com", timezone="UTC")
    done = make.user(name="Sam Submitted", email="sam@example.com", timezone="UTC")
    make.user(name="Ina Inactive", email="ina@example.com", is_active_user=False)
    with app.app_context():
        db.session.add(Timesheet(user_id=done.id, week_start=WEEK, state="submitted"))
        db.session.add(Timesheet(user_id=utc.id, week_start=WEEK, state="draft"))
        db.session.commit()
    return {"la": la, "utc": utc}


def reminded(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxEmail.to_address).order_by(OutboxEmail.id)).all()


def test_friday_14_00_is_each_users_own(app, people):
    # Friday 13:59 UTC: nobody yet (in Los Angeles it is 05:59)
    assert run_at(app, datetime(2026, 12, 4, 13, 59, tzinfo=UTC))["timesheet_due"] == 0
    # Friday 14:00 UTC: Uma (UTC, a draft week); Sam submitted; Lee's 14:00 is 22:00 UTC (PST, UTC-8)
    assert run_at(app, datetime(2026, 12, 4, 14, 0, tzinfo=UTC))["timesheet_due"] == 1
    assert reminded(app) == ["uma@example.com"]
    assert run_at(app, datetime(2026, 12, 4, 21, 59, tzinfo=UTC))["timesheet_due"] == 0
    assert run_at(app, datetime(2026, 12, 4, 22, 0, tzinfo=UTC))["timesheet_due"] == 1
    assert reminded(app) == ["uma@example.com", "lee@example.com"]
    # the rest of the weekend: nothing more; Monday: a new week, not due yet
    assert run_at(app, datetime(2026, 12, 6, 23, 0, tzinfo=UTC))["timesheet_due"] == 0
    assert run_at(app, datetime(2026, 12, 7, 16, 0, tzinfo=UTC))["timesheet_due"] == 0
    with app.app_context():
        notes = db.session.execute(sa.select(Notification.user_id, Notification.message, Notification.link)
                                   .order_by(Notification.id)).all()
        subjects = db.session.scalars(sa.select(OutboxEmail.subject).order_by(OutboxEmail.id)).all()
    assert notes == [
        (people["utc"].id, "Your timesheet for the week of 2026-11-30 is not submitted yet.",
         "/timesheets?week=2026-11-30"),
        (people["la"].id, "Your timesheet for the week of 2026-11-30 is not submitted yet.",
         "/timesheets?week=2026-11-30"),
    ]
    assert subjects == ["PSA: please submit your timesheet for the week of 2026-11-30"] * 2


def test_in_los_angeles_the_week_is_still_the_local_one_after_utc_midnight(app, people):
    # Saturday 2026-12-05 05:00 UTC is Friday 21:00 in Los Angeles: its week 2026-11-30 is due there
    assert run_at(app, datetime(2026, 12, 5, 5, 0, tzinfo=UTC))["timesheet_due"] == 2
    # Monday 2026-12-07 07:00 UTC is still Sunday in Los Angeles: the same week, reminded already
    assert run_at(app, datetime(2026, 12, 7, 7, 0, tzinfo=UTC))["timesheet_due"] == 0


# --- eight at once -----------------------------------------------------------------------------------------


def test_eight_runs_at_once_send_each_reminder_once(app, tasks, people):
    at = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # Thursday: tasks due soon and overdue; no timesheet yet

    def work(index, go):
        go()
        return run_job(app, JOB)

    with clock.frozen(at):
        outcomes = race(app, work, app_context=False)
    assert [o.kind for o in outcomes] == ["ok"] * 8, [o.value for o in outcomes]
    totals = {kind: sum(o.value[kind] for o in outcomes) for kind in outcomes[0].value}
    assert totals == {"task_due_soon": 1, "task_overdue": 1, "timesheet_due": 0}
    assert sorted(s for _, s in outbox(app)) == ["PSA: “Late” is overdue", "PSA: “Soon” is due on 2026-12-07"]
    # Friday 22:00 UTC: both users' weeks at once, eight times
    with clock.frozen(datetime(2026, 12, 4, 22, 0, tzinfo=UTC)):
        outcomes = race(app, work, app_context=False)
    assert sum(o.value["timesheet_due"] for o in outcomes) == 2
    assert sorted(reminded(app)[2:]) == ["lee@example.com", "uma@example.com"]
