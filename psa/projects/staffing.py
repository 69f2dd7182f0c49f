"""Who does a project's work: template roles mapped to people when a project is created, and tasks assigned
in bulk afterwards (SPEC §2: a task's assignee role comes from its template; the assignee is a person).

A project made from the Enterprise template with two consultants used to come out with most of its tasks
unassigned, so "My open tasks" stayed empty until each task was assigned by hand. Now, at creation, each
internal role of the template goes to people:

* a person chosen for the role on the form takes all of that role's tasks;
* otherwise the project manager takes the manager's tasks;
* otherwise the members holding that role share its tasks: the only one takes them all, several split them in
  plan order, each task to whoever has the fewest estimated hours so far (then the fewest tasks, then the
  first by name);
* a role nobody on the project holds goes to the project manager, so no internal task is left unassigned.

Customer tasks go to a contact of the project's account chosen on the form ("Customer tasks go to"), or stay
with "the customer" as a group (any contact of the account may do them). A contact newly given customer tasks is
told by e-mail: the portal (above projects, which may not import it) registers what to do through
on_contact_assigned, and contact_assigned calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa

from psa.accounts.models import Account, Contact
from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.projects.models import Project, Task, project_members

#: The roles a template task can name that internal people hold (the customer's are the customer's).
INTERNAL_ROLES = ("manager", "consultant", "leader", "admin")
CUSTOMER_ROLE = "customer"

# --- customer tasks and contacts -------------------------------------------------------------------

#: Called as listener(actor, contact, tasks) when customer tasks are given to a contact (psa.portal.emails
#: queues the "assigned to you" e-mail); registered at start, so projects never imports the portal.
_contact_assigned_listeners: list[Callable] = []


def on_contact_assigned(listener: Callable) -> Callable:
    """Register what happens when customer tasks are given to a contact (once per listener)."""
    if listener not in _contact_assigned_listeners:
        _contact_assigned_listeners.append(listener)
    return listener


def contact_assigned(actor, contact: Contact, tasks: list) -> None:
    """Customer tasks were just given to `contact`: tell the listeners (the e-mail goes through the outbox, in
    the same transaction)."""
    if tasks:
        for listener in list(_contact_assigned_listeners):
            listener(actor, contact, list(tasks))


def customer_task_contacts(account_id: int) -> list[tuple[int, str]]:
    """(id, name) of the account's active contacts, by name: whom a customer task may go to."""
    return [tuple(row) for row in db.session.execute(
        sa.select(Contact.id, Contact.name).where(Contact.account_id == account_id,
                                                  Contact.is_active_contact.is_(True))
        .order_by(sa.func.lower(Contact.name), Contact.id)).all()]


def contact_choices_by_account() -> dict[str, list[tuple[int, str]]]:
    """Every active contact, grouped by account name (the new-project form's "Customer tasks go to" offers the
    account's contacts before an account is chosen: one select with a group per account, no script)."""
    grouped: dict[str, list[tuple[int, str]]] = {}
    for row in db.session.execute(
            sa.select(Contact.id, Contact.name, Account.name.label("account"))
            .join(Account, Account.id == Contact.account_id).where(Contact.is_active_contact.is_(True))
            .order_by(Account.name, sa.func.lower(Contact.name), Contact.id)).all():
        grouped.setdefault(row.account, []).append((row.id, row.name))
    return grouped


def contact_error(contact, account_id: int) -> str | None:
    """Why `contact` may not take the customer tasks of a project of this account (None: it may): it must be an
    active contact of the project's account."""
    if not isinstance(contact, Contact) or contact.account_id != account_id:
        return "Choose a contact of the project's account."
    if not contact.is_active_contact:
        return "Choose an active contact: this one was deactivated."
    return None


def role_defaults(manager: User, members: Iterable[User]) -> dict[str, str]:
    """What each internal role gets when nobody is chosen for it, in words for the form's first option."""
    people = {u.id: u for u in [manager, *members]}.values()
    words = {}
    for role in INTERNAL_ROLES:
        holders = sorted((u for u in people if u.role == role and u.is_active), key=lambda u: (u.name.lower(), u.id))
        if role == "manager":
            words[role] = f"The project manager ({manager.name})"
        elif len(holders) == 1:
            words[role] = f"The only {role} on the project ({holders[0].name})"
        elif holders:
            words[role] = f"Shared among the {len(holders)} {role}s on the project"
        else:
            words[role] = f"The project manager ({manager.name}): no {role} on the project"
    return words


def plan_assignments(tasks: list[tuple[int, str, int]], *, manager: User, members: Iterable[User],
                     chosen: dict[str, User | None] | None = None) -> dict[int, int]:
    """task id -> user id for tasks given as (id, assignee role, estimated minutes) in plan order, by the rules
    of the module docstring. Customer tasks are left out."""
    chosen = {role: user for role, user in (chosen or {}).items() if user is not None}
    people = sorted({u.id: u for u in [manager, *members] if u.is_active}.values(),
                    key=lambda u: (u.name.lower(), u.id))
    load = {u.id: 0 for u in people}
    count = {u.id: 0 for u in people}
    result = {}
    for task_id, role, minutes in tasks:
        if role not in INTERNAL_ROLES:
            continue
        if role in chosen:
            person = chosen[role].id
        elif role == "manager":
            person = manager.id
        else:
            holders = [u.id for u in people if u.role == role]
            person = min(holders, key=lambda i: (load[i], count[i])) if holders else manager.id
        load[person] = load.get(person, 0) + minutes
        count[person] = count.get(person, 0) + 1
        result[task_id] = person
    return result


def check_chosen(chosen: dict[str, User | None], manager: User, members: Iterable[User]) -> None:
    """A person chosen for a role must be active and on the project (its manager or a member)."""
    on_project = {manager.id, *(u.id for u in members)}
    errors = {}
    for role, user in chosen.items():
        if user is None:
            continue
        if role not in INTERNAL_ROLES:
            errors[f"assign_{role}"] = "Choose a role of the template."
        elif not user.is_active or user.id not in on_project:
            errors[f"assign_{role}"] = "Choose the project manager or one of the members."
    if errors:
        raise ValidationError(errors)


def assign_new_project(project: Project, *, manager: User, members: Iterable[User],
                       chosen: dict[str, User | Contact | None] | None = None, actor=None) -> int:
    """Assign the tasks of a just-created project (create_project calls this); returns how many. The internal
    ones by the rules of the module docstring; the customer's to the contact chosen for "customer" (who is
    e-mailed), else they stay with the customer as a group."""
    members = list(members)
    chosen = dict(chosen or {})
    contact = chosen.pop(CUSTOMER_ROLE, None)
    errors = {}
    try:
        check_chosen(chosen, manager, members)
    except ValidationError as exc:
        errors.update(exc.errors)
    if contact is not None and (message := contact_error(contact, project.account_id)):
        errors[f"assign_{CUSTOMER_ROLE}"] = message
    if errors:
        raise ValidationError(errors)
    tasks = db.session.execute(sa.select(Task.id, Task.assignee_role, Task.estimated_minutes)
                               .where(Task.project_id == project.id, Task.assignee_id.is_(None))
                               .order_by(Task.due_date, Task.position, Task.id)).all()
    plan = plan_assignments([tuple(t) for t in tasks], manager=manager, members=members, chosen=chosen)
    if plan:
        db.session.execute(sa.update(Task), [{"id": i, "assignee_id": u} for i, u in plan.items()])
    customer_tasks = []
    if contact is not None:
        customer_tasks = db.session.scalars(sa.select(Task).where(
            Task.project_id == project.id, Task.assignee_role == CUSTOMER_ROLE,
            Task.assignee_contact_id.is_(None)).order_by(Task.due_date, Task.position, Task.id)).all()
        for task in customer_tasks:
            task.assignee_contact_id = contact.id
        db.session.flush()
        contact_assigned(actor, contact, customer_tasks)
    return len(plan) + len(customer_tasks)


def assign_tasks(actor, project: Project, task_ids: Iterable[int], assignee: User | None) -> int:
    """Assign several tasks of one project to one person (or unassign them) in one step, audited per task;
    returns how many changed. The person must be active and on the project."""
    task_ids = sorted(set(task_ids))
    if not task_ids:
        raise ValidationError({"task_ids": "Choose at least one task."})
    if assignee is not None:
        on_project = db.session.scalar(sa.select(sa.func.count()).select_from(project_members).where(
            project_members.c.project_id == project.id, project_members.c.user_id == assignee.id))
        if not assignee.is_active or not (on_project or assignee.id == project.manager_id):
            raise ValidationError({"assignee_id": "Choose the project manager or one of the members."})
    tasks = db.session.scalars(sa.select(Task).where(Task.id.in_(task_ids), Task.project_id == project.id)
                               .with_for_update()).all()
    if len(tasks) != len(task_ids):
        raise ValidationError({"task_ids": "Choose tasks of this project."})
    if any(task.assignee_role == CUSTOMER_ROLE for task in tasks):
        raise ValidationError({"task_ids": "Customer tasks go to a contact of the account: choose one on the "
                                           "task's Edit page. Untick them here."})
    new_id = assignee.id if assignee is not None else None
    changed = 0
    for task in tasks:
        if task.assignee_id != new_id:
            record_audit(actor, "task.updated", task, {"assignee_id": task.assignee_id}, {"assignee_id": new_id})
            task.assignee_id = new_id
            changed += 1
    db.session.flush()
    return changed
