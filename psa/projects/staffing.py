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

Customer tasks stay with the customer (contacts come with the portal).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.projects.models import Project, Task, project_members

#: The roles a template task can name that internal people hold (the customer's are the customer's).
INTERNAL_ROLES = ("manager", "consultant", "leader", "admin")


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
                       chosen: dict[str, User | None] | None = None) -> int:
    """Assign the internal tasks of a just-created project (create_project calls this); returns how many."""
    members = list(members)
    check_chosen(chosen or {}, manager, members)
    tasks = db.session.execute(sa.select(Task.id, Task.assignee_role, Task.estimated_minutes)
                               .where(Task.project_id == project.id, Task.assignee_id.is_(None))
                               .order_by(Task.due_date, Task.position, Task.id)).all()
    plan = plan_assignments([tuple(t) for t in tasks], manager=manager, members=members, chosen=chosen)
    if plan:
        db.session.execute(sa.update(Task), [{"id": i, "assignee_id": u} for i, u in plan.items()])
    return len(plan)


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
    new_id = assignee.id if assignee is not None else None
    changed = 0
    for task in tasks:
        if task.assignee_id != new_id:
            record_audit(actor, "task.updated", task, {"assignee_id": task.assignee_id}, {"assignee_id": new_id})
            task.assignee_id = new_id
            changed += 1
    db.session.flush()
    return changed
