"""Demo rates and a few months of time in every state, for `psa demo`."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.core.db import utcnow
from psa.extensions import db
from psa.projects.models import Project, Task, project_members
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from psa.timesheets.services import RateBook, set_project_rate, set_user_rate, week_start

#: role -> (cost, bill) per hour a year ago; everyone got a raise two months ago.
DEMO_RATES = {"consultant": (Decimal("62"), Decimal("165")), "manager": (Decimal("78"), Decimal("195")),
              "leader": (Decimal("95"), Decimal("240")), "admin": (Decimal("70"), Decimal("0"))}
NOTES = ["Workshop with the customer", "Configuration", "Data migration checks", "Status call", "Documentation",
         "Integration testing", "Training session prep", ""]
WEEKS = 10


def load_demo_time(users: dict, today: date) -> int:
    """Rates for everyone, a rate card line, and WEEKS weeks of entries: older weeks approved, last week
    submitted (one rejected), this week in draft. Returns the number of entries."""
    rng = random.Random(20261123)
    for user in users.values():
        cost, bill = DEMO_RATES[user.role]
        set_user_rate(None, user, effective_from=today - timedelta(days=365), cost_rate=cost, bill_rate=bill)
        set_user_rate(None, user, effective_from=today - timedelta(days=60), cost_rate=cost + 4, bill_rate=bill + 10)
    managers = [u for u in users.values() if u.role == "manager"]
    for user in users.values():
        if user.role == "consultant":
            user.approver_id = managers[user.id % len(managers)].id
    tm_project = db.session.scalar(sa.select(Project).where(Project.billing_model == "time_and_materials",
                                                            Project.status == "active").order_by(Project.id))
    if tm_project is not None:
        set_project_rate(None, tm_project, role="consultant", bill_rate=Decimal("155"))

    loggers = [u for u in users.values() if u.role in ("consultant", "manager")]
    membership = {}
    for user_id, project_id in db.session.execute(
        sa.select(project_members.c.user_id, project_members.c.project_id)
        .join(Project, Project.id == project_members.c.project_id)
        .where(Project.status.in_(("active", "on_hold", "completed")))
    ):
        membership.setdefault(user_id, []).append(project_id)
    tasks_by_project = {}
    for task_id, project_id in db.session.execute(sa.select(Task.id, Task.project_id).where(
            Task.assignee_role != "customer")):
        tasks_by_project.setdefault(project_id, []).append(task_id)
    billable = dict(db.session.execute(sa.select(Project.id, Project.billing_model)).all())
    book = RateBook([u.id for u in loggers], {p for ids in membership.values() for p in ids})
    this_monday = week_start(today)
    rejected_user = loggers[0].id
    entries, offs = [], []
    for user in loggers:
        projects = sorted(membership.get(user.id, []))
        if not projects:
            continue
        for back in range(WEEKS, -1, -1):
            monday = this_monday - timedelta(weeks=back)
            state = "approved" if back >= 2 else "submitted" if back == 1 else "draft"
            if back == 1 and user.id == rejected_user:
                state = "rejected"
            sheet = Timesheet(user_id=user.id, week_start=monday, state=state)
            if state != "draft":
                sheet.submitted_at = utcnow()
            if state in ("approved", "rejected"):
                sheet.decided_at, sheet.decided_by_id = utcnow(), user.approver_id or managers[0].id
                if state == "rejected":
                    sheet.rejection_reason = "Friday's hours are missing a note for the customer."
            db.session.add(sheet)
            db.session.flush()
            for offset in range(5):
                day = monday + timedelta(days=offset)
                if day > today:
                    break
                if back == 4 and offset == 2 and user.role == "consultant":
                    offs.append(dict(user_id=user.id, timesheet_id=sheet.id, entry_date=day, kind="vacation",
                                     minutes=480, note="Long weekend"))
                    continue
                remaining = rng.choice([360, 420, 450, 480, 480, 510])
                for project_id in rng.sample(projects, k=min(len(projects), rng.choice([1, 2, 2, 3]))):
                    if remaining <= 0:
                        break
                    minutes = min(remaining, rng.choice([60, 90, 120, 180, 240]))
                    remaining -= minutes
                    rates = book.resolve(user.id, user.role, project_id, day)
                    tasks = tasks_by_project.get(project_id) or [None]
                    entries.append(dict(
                        user_id=user.id, project_id=project_id, task_id=rng.choice(tasks), timesheet_id=sheet.id,
                        entry_date=day, minutes=minutes, billable=billable[project_id] != "non_billable",
                        note=rng.choice(NOTES), bill_rate=rates.bill, cost_rate=rates.cost,
                        created_at=utcnow(), updated_at=utcnow()))
    if entries:
        db.session.execute(sa.insert(TimeEntry), entries)
    if offs:
        db.session.execute(sa.insert(TimeOff), offs)
    db.session.flush()
    return len(entries)
