"""E-mails to contacts about their customer tasks, through the outbox (psa.core.mail.queue_email): tasks assigned
to them, a task due in 2 working days, a task overdue. The jobs schedule the reminders; this module writes the
messages and decides who gets them.

Every message carries the organisation's branding name, a link to the project in the portal and an opt-out link
(GET /portal/opt-out/<token>, psa/portal/optout.py). The token is signed (itsdangerous, with its own salt, so no
other signed value of the app works as one) and names the contact and their e-mail address. A contact who opted
out, or was deactivated, gets none of these messages; nor is a task they cannot see in the portal (an internal
task, or one of an internal milestone) ever named in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.routing import BuildError

from psa.accounts.models import Contact
from psa.admin.services import get_settings
from psa.core.audit import record_audit
from psa.core.calendar import get_calendar
from psa.core.clock import org_today
from psa.core.mail import queue_email
from psa.core.models import OutboxEmail
from psa.extensions import db
from psa.projects import staffing
from psa.projects.models import Milestone, Project, Task

#: The purpose of the opt-out token: a value signed for anything else never passes as one.
OPT_OUT_SALT = "psa.portal.email-opt-out"
#: How many working days ahead the "due soon" reminder is sent (the jobs issue schedules it).
DUE_SOON_WORKING_DAYS = 2


def _link(endpoint: str, **values) -> str:
    """An absolute link for an e-mail, on PSA_BASE_URL, in a request or out of one (the jobs send reminders)."""
    path = current_app.url_map.bind("localhost", script_name="/").build(endpoint, values, force_external=False)
    return current_app.config["PSA_BASE_URL"] + path


# --- the opt-out token -------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=OPT_OUT_SALT)


def opt_out_token(contact: Contact) -> str:
    """The signed token of the contact's opt-out link (it names the contact and their address)."""
    return _serializer().dumps({"contact": contact.id, "email": contact.email})


def contact_for_opt_out(token: str) -> Contact | None:
    """The contact an opt-out token was made for, or None (forged, altered, or the address changed since)."""
    try:
        data = _serializer().loads(token or "")
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("contact"), int):
        return None
    contact = db.session.get(Contact, data["contact"])
    if contact is None or contact.email != data.get("email"):
        return None
    return contact


def opt_out_url(contact: Contact) -> str:
    return _link("portal.opt_out", token=opt_out_token(contact))


def opt_out(contact: Contact) -> bool:
    """Turn off the contact's task e-mails (audited); False when they were off already."""
    if contact.email_opt_out:
        return False
    contact.email_opt_out = True
    record_audit(contact, "contact.opted_out", contact, {"email_opt_out": False}, {"email_opt_out": True})
    db.session.flush()
    return True


# --- who gets them -----------------------------------------------------------------------------------


def wants_email(contact: Contact | None) -> bool:
    """An active contact who has not opted out."""
    return contact is not None and bool(contact.is_active_contact) and not contact.email_opt_out


def task_recipients(task: Task) -> list[Contact]:
    """Whom a reminder about a customer task goes to: its contact, or, for a task of the customer as a group,
    the account's contacts who see whole projects (view level "full"); never one who opted out or was
    deactivated. Empty for a task the portal does not show."""
    if task.assignee_role != staffing.CUSTOMER_ROLE or not _shown_in_portal([task]):
        return []
    if task.assignee_contact_id is not None:
        contact = db.session.get(Contact, task.assignee_contact_id)
        return [contact] if wants_email(contact) else []
    account_id = db.session.scalar(sa.select(Project.account_id).where(Project.id == task.project_id))
    return db.session.scalars(sa.select(Contact).where(
        Contact.account_id == account_id, Contact.is_active_contact.is_(True), Contact.email_opt_out.is_(False),
        Contact.view_level == "full").order_by(Contact.name, Contact.id)).all()


def _shown_in_portal(tasks: Iterable[Task]) -> list[Task]:
    """The tasks a contact of the account sees in the portal: shared tasks of customer-visible milestones."""
    tasks = [t for t in tasks if t.visibility == "shared"]
    if not tasks:
        return []
    visible = set(db.session.scalars(sa.select(Milestone.id).where(
        Milestone.id.in_({t.milestone_id for t in tasks}), Milestone.is_customer_visible.is_(True))).all())
    return [t for t in tasks if t.milestone_id in visible]


# --- the messages ------------------------------------------------------------------------------------


def _brand() -> str:
    settings = get_settings()
    return settings.brand_name or settings.org_name


def _project_url(project_id: int) -> str:
    """The project in the portal (its home page if the portal has no project page)."""
    try:
        return _link("portal.project", project_id=project_id)
    except BuildError:
        return _link("portal.home")


def _footer(contact: Contact, brand: str) -> str:
    return (f"\n--\nYou get this e-mail as a contact of your company in the {brand} customer portal. "
            f"To stop e-mails about your tasks, open:\n{opt_out_url(contact)}\n")


def _days(n: int) -> str:
    return f"{n} working day{'' if n == 1 else 's'}"


def _send(contact: Contact, subject: str, lines: list[str], project_id: int) -> OutboxEmail:
    brand = _brand()
    body = "\n".join([f"Hello {contact.name},", "", *lines, "", f"Open the project in the portal: "
                      f"{_project_url(project_id)}", _footer(contact, brand)])
    return queue_email(contact.email, f"{brand}: {subject}", body)


def queue_tasks_assigned(contact: Contact, tasks: Iterable[Task]) -> list[OutboxEmail]:
    """"<task> is yours": one e-mail per project for the tasks just given to the contact (none when the contact
    opted out or the portal does not show the tasks)."""
    shown = _shown_in_portal(tasks)
    if not wants_email(contact) or not shown:
        return []
    by_project: dict[int, list[Task]] = {}
    for task in shown:
        by_project.setdefault(task.project_id, []).append(task)
    names = dict(db.session.execute(sa.select(Project.id, Project.name).where(Project.id.in_(by_project))).all())
    sent = []
    for project_id, project_tasks in by_project.items():
        project_tasks.sort(key=lambda t: (t.due_date, t.position, t.id))
        if len(project_tasks) == 1:
            task = project_tasks[0]
            subject = f"“{task.name}” is yours ({names[project_id]})"
            lines = [f"You have a new task on {names[project_id]}: {task.name}, due on {task.due_date.isoformat()}."]
        else:
            subject = f"{len(project_tasks)} tasks are yours ({names[project_id]})"
            lines = [f"You have {len(project_tasks)} new tasks on {names[project_id]}:", "",
                     *[f"- {t.name}, due on {t.due_date.isoformat()}" for t in project_tasks]]
        sent.append(_send(contact, subject, lines, project_id))
    return sent


def _one_task(contact: Contact, task: Task) -> tuple[bool, str]:
    """Whether the contact gets an e-mail about the task, and its project's name."""
    if not wants_email(contact) or not _shown_in_portal([task]) or task.status == "done":
        return False, ""
    return True, db.session.scalar(sa.select(Project.name).where(Project.id == task.project_id))


def queue_task_due_soon(contact: Contact, task: Task) -> OutboxEmail | None:
    """"<task> is due in 2 working days" (the job calls it for open customer tasks due then)."""
    ok, project_name = _one_task(contact, task)
    if not ok:
        return None
    return _send(contact, f"“{task.name}” is due on {task.due_date.isoformat()}",
                 [f"A reminder: your task {task.name} on {project_name} is due on {task.due_date.isoformat()}, "
                  f"in {_days(DUE_SOON_WORKING_DAYS)}."], task.project_id)


def queue_task_overdue(contact: Contact, task: Task, today: date | None = None) -> OutboxEmail | None:
    """"<task> is overdue": due before today and still open (the job calls it)."""
    ok, project_name = _one_task(contact, task)
    if not ok:
        return None
    today = today or org_today()
    late = get_calendar().working_days_between(task.due_date, today)
    return _send(contact, f"“{task.name}” is overdue",
                 [f"Your task {task.name} on {project_name} was due on {task.due_date.isoformat()}"
                  + (f" ({_days(late)} ago)." if late else "."),
                  "The project waits for it: please complete it in the portal, or reply to your project manager."],
                 task.project_id)


@staffing.on_contact_assigned
def _tell_the_contact(actor, contact: Contact, tasks: list[Task]) -> None:
    """Customer tasks were given to a contact (task edit page, project creation): they are e-mailed."""
    queue_tasks_assigned(contact, tasks)
