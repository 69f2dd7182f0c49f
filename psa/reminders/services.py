"""Which reminders are due, and sending each exactly once.

Once: before a reminder is sent, its row in reminders_sent (kind, recipient, subject) is inserted with
ON CONFLICT DO NOTHING, in the same transaction as the e-mail (and in-app notification) it sends, committed
together. Only the run whose insert made the row sends; a second run, or one running at the same moment (its
insert waits for the first's commit on PostgreSQL, for the write lock on SQLite, then does nothing), sends nothing.

- "task_due_soon": an open customer task (of a planned or active project) due in 2 working days of the
  organisation's calendar, counted from the organisation's today (due on a day x with exactly 2 working days in
  (today, x], so a task due on a weekend day after them counts too); once per task, contact and due date.
- "task_overdue": the same tasks due before today; once per task, contact and due date (a new due date is a
  new reminder).
  Recipients and messages are the portal's (psa.portal.emails: task_recipients, queue_task_due_soon,
  queue_task_overdue); the "assigned" e-mail is sent at assignment and not here.
- "timesheet_due": an active user whose current ISO week (in their own time zone) is neither submitted nor
  approved once it is Friday 14:00 or later there; once per user and week, in-app and by e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from psa.admin.services import get_settings
from psa.auth.models import User
from psa.core import clock
from psa.core.auth import PERMISSIONS
from psa.core.calendar import get_calendar
from psa.core.mail import dispatch_outbox, queue_email
from psa.core.models import ReminderSent
from psa.core.notifications import notify
from psa.extensions import db
from psa.portal.emails import DUE_SOON_WORKING_DAYS, queue_task_due_soon, queue_task_overdue, task_recipients
from psa.projects import staffing
from psa.projects.models import Project, Task
from psa.timesheets.models import Timesheet

#: Project states whose tasks are reminded of.
REMINDED_PROJECT_STATUSES = ("planned", "active")
#: A user's week is due by this weekday (Friday) and local time.
TIMESHEET_DUE_WEEKDAY = 4
TIMESHEET_DUE_TIME = time(14, 0)
#: Timesheet states that count as submitted.
SUBMITTED_STATES = ("submitted", "approved")


@dataclass
class Sent:
    """What one run sent."""

    task_due_soon: int = 0
    task_overdue: int = 0
    timesheet_due: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"task_due_soon": self.task_due_soon, "task_overdue": self.task_overdue,
                "timesheet_due": self.timesheet_due}


def claim_reminder(kind: str, recipient: str, subject_key: str) -> bool:
    """Record the reminder as sent; True when this call recorded it (send it, then commit), False when it was
    recorded already (send nothing). A unique constraint decides, on both databases."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(ReminderSent.__table__).values(
        kind=kind, recipient=recipient, subject_key=subject_key, sent_at=clock.now(),
    ).on_conflict_do_nothing(index_elements=["kind", "recipient", "subject_key"])
    # RETURNING rather than rowcount: psycopg reports no reliable rowcount for a skipped INSERT ... ON CONFLICT
    statement = statement.returning(ReminderSent.__table__.c.id)
    return db.session.execute(statement).scalar() is not None


def _send_once(kind: str, recipient: str, subject_key: str, send) -> bool:
    """Claim, send, commit: one reminder per transaction, so a failure undoes its claim and nothing else."""
    try:
        if not claim_reminder(kind, recipient, subject_key) or not send():
            db.session.rollback()
            return False
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return True


# --- customer tasks --------------------------------------------------------------------------------


def _open_customer_tasks(*conditions) -> list[Task]:
    return db.session.scalars(
        sa.select(Task).join(Project, Project.id == Task.project_id)
        .where(Task.assignee_role == staffing.CUSTOMER_ROLE, Task.status != "done",
               Project.status.in_(REMINDED_PROJECT_STATUSES), *conditions)
        .order_by(Task.id)
    ).all()


def due_soon_window(today: date) -> tuple[date, date]:
    """[first, end): the due dates with exactly DUE_SOON_WORKING_DAYS working days in (today, due]."""
    calendar = get_calendar()
    return (calendar.add_working_days(today, DUE_SOON_WORKING_DAYS),
            calendar.add_working_days(today, DUE_SOON_WORKING_DAYS + 1))


def send_task_reminders(today: date | None = None) -> Sent:
    today = today or clock.org_today()
    sent = Sent()
    first, end = due_soon_window(today)
    plans = [("task_due_soon", _open_customer_tasks(Task.due_date >= first, Task.due_date < end),
              lambda contact, task: queue_task_due_soon(contact, task)),
             ("task_overdue", _open_customer_tasks(Task.due_date < today),
              lambda contact, task: queue_task_overdue(contact, task, today))]
    for kind, tasks, build in plans:
        for task in tasks:
            key = f"task:{task.id}:{task.due_date.isoformat()}"
            for contact in task_recipients(task):
                if _send_once(kind, f"contact:{contact.id}", key,
                              lambda c=contact, t=task, b=build: b(c, t) is not None):
                    setattr(sent, kind, getattr(sent, kind) + 1)
    return sent


# --- timesheets ----------------------------------------------------------------------------------------


def timesheet_week_due(now: datetime, zone_name: str) -> date | None:
    """The Monday of the week whose timesheet is due at `now` in the zone: the current week once it is Friday
    14:00 or later there (until Sunday ends), else None."""
    local = now.astimezone(clock.zone(zone_name))
    monday = local.date() - timedelta(days=local.weekday())
    deadline = datetime.combine(monday + timedelta(days=TIMESHEET_DUE_WEEKDAY), TIMESHEET_DUE_TIME,
                                tzinfo=local.tzinfo)
    return monday if local >= deadline else None


def _grid_path(monday: date) -> str:
    return current_app.url_map.bind("localhost", script_name="/").build("timesheets.grid",
                                                                        {"week": monday.isoformat()})


def send_timesheet_reminders(now: datetime | None = None) -> Sent:
    now = now or clock.now()
    sent = Sent()
    users = db.session.scalars(
        sa.select(User).where(User.is_active_user.is_(True), User.role.in_(PERMISSIONS["timesheets.use"]),
                              User.weekly_capacity_hours > 0).order_by(User.id)
    ).all()
    due = {user.id: week for user in users if (week := timesheet_week_due(now, clock.user_zone_name(user)))}
    if not due:
        return sent
    submitted = set(db.session.execute(
        sa.select(Timesheet.user_id, Timesheet.week_start)
        .where(Timesheet.user_id.in_(due), Timesheet.week_start.in_(set(due.values())),
               Timesheet.state.in_(SUBMITTED_STATES))
    ).all())
    settings = get_settings()
    brand = settings.brand_name or settings.org_name
    for user in users:
        monday = due.get(user.id)
        if monday is None or (user.id, monday) in submitted:
            continue
        path = _grid_path(monday)

        def send(user=user, monday=monday, path=path) -> bool:
            notify(user, f"Your timesheet for the week of {monday.isoformat()} is not submitted yet.", path)
            queue_email(user.email, f"{brand}: please submit your timesheet for the week of {monday.isoformat()}",
                        f"Hello {user.name},\n\nYour timesheet for the week of {monday.isoformat()} is not "
                        f"submitted yet. Please complete and submit it:\n"
                        f"{current_app.config['PSA_BASE_URL']}{path}\n")
            return True

        if _send_once("timesheet_due", f"user:{user.id}", f"week:{monday.isoformat()}", send):
            sent.timesheet_due += 1
    return sent


def send_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Every reminder due now, each once; the outbox is dispatched when any e-mail was queued."""
    now = now or clock.now()
    tasks = send_task_reminders()
    timesheets = send_timesheet_reminders(now)
    result = Sent(tasks.task_due_soon, tasks.task_overdue, timesheets.timesheet_due).as_dict()
    if any(result.values()):
        dispatch_outbox()
    return result
