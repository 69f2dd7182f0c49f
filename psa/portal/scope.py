"""What a portal contact may see: the ONE place that decides it. Every portal page and action loads its rows
through the statements below (never a bare `db.session.get`), so a row outside them answers 404 exactly as an
id that does not exist.

The rules (SPEC §1: "sees the progress of *their* projects only"):
- projects: their own account's, in any status but cancelled (planned, active, on hold, completed);
- milestones: those marked customer-visible;
- tasks: shared tasks of customer-visible milestones, narrowed by the contact's view level:
    full      every such task;
    my_tasks  only customer tasks assigned to this contact or to "the customer" as a group (no contact);
    overview  only the open ones of those (what is waiting on them) — the project is otherwise read at the
              milestone level;
  a task marked internal is never shown, even a customer task (the team shares it when it is ready);
- the contact may complete a visible, open customer task assigned to them or to the group;
- comments and documents (attachments): shared ones on the project itself, on a visible milestone, or on a
  task the contact sees (and a document on a comment only when that comment is visible);
- success criteria: all of the project's (the success plan is agreed with the customer at kickoff).

Each `*_stmt` is a SQLAlchemy select, so a page reads each kind of row with one statement whatever the size of
the project; the helpers without `_stmt` run them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql import Select

from psa.accounts.models import Contact
from psa.extensions import db
from psa.projects.models import Attachment, Comment, Milestone, Project, SuccessCriterion, Task

#: The project statuses a contact sees (a cancelled project leaves the portal).
PORTAL_PROJECT_STATUSES = ("planned", "active", "on_hold", "completed")
VIEW_LEVELS = ("overview", "full", "my_tasks")
#: An id larger than any row's (ids from the URL are checked before they reach the database).
MAX_ID = 2**31 - 1


def _id(value) -> int | None:
    return value if isinstance(value, int) and 0 < value <= MAX_ID else None


# --- projects ----------------------------------------------------------------------------------------------


def projects_where(contact: Contact):
    """The WHERE clause of the projects the contact sees."""
    return sa.and_(Project.account_id == contact.account_id, Project.status.in_(PORTAL_PROJECT_STATUSES))


def projects_stmt(contact: Contact) -> Select:
    return sa.select(Project).where(projects_where(contact)).order_by(Project.kickoff_date.desc(), Project.id)


def visible_projects(contact: Contact, extra=None) -> list[Project]:
    """The contact's projects, newest kickoff first; `extra` narrows them further (a preview: the projects the
    internal user may also see)."""
    stmt = projects_stmt(contact)
    if extra is not None:
        stmt = stmt.where(extra)
    return list(db.session.scalars(stmt))


def project_for(contact: Contact, project_id) -> Project | None:
    """The project if the contact sees it, else None (the route answers 404, as for a missing id)."""
    project_id = _id(project_id)
    if project_id is None:
        return None
    return db.session.scalar(sa.select(Project).where(Project.id == project_id, projects_where(contact)))


# --- milestones --------------------------------------------------------------------------------------------


def milestones_where(contact: Contact):
    return sa.and_(Milestone.is_customer_visible.is_(True),
                   Milestone.project_id.in_(sa.select(Project.id).where(projects_where(contact))))


def milestones_stmt(contact: Contact, project_ids) -> Select:
    """The customer-visible milestones of the given projects (of the contact's), in plan order."""
    return (sa.select(Milestone).where(milestones_where(contact), Milestone.project_id.in_(project_ids))
            .order_by(Milestone.project_id, Milestone.position, Milestone.id))


def visible_milestones(contact: Contact, project: Project) -> list[Milestone]:
    return list(db.session.scalars(milestones_stmt(contact, [project.id])))


def milestone_for(contact: Contact, milestone_id) -> Milestone | None:
    milestone_id = _id(milestone_id)
    if milestone_id is None:
        return None
    return db.session.scalar(sa.select(Milestone).where(Milestone.id == milestone_id, milestones_where(contact)))


# --- tasks -------------------------------------------------------------------------------------------------


def assigned_to(contact: Contact):
    """Customer tasks of this contact or of "the customer" as a group."""
    return sa.and_(Task.assignee_role == "customer",
                   sa.or_(Task.assignee_contact_id == contact.id, Task.assignee_contact_id.is_(None)))


def tasks_where(contact: Contact):
    """The tasks the contact sees, at their view level (see the module's rules)."""
    shown = sa.and_(Task.visibility == "shared",
                    Task.milestone_id.in_(sa.select(Milestone.id).where(milestones_where(contact))))
    if contact.view_level == "full":
        return shown
    if contact.view_level == "my_tasks":
        return sa.and_(shown, assigned_to(contact))
    return sa.and_(shown, assigned_to(contact), Task.status != "done")  # overview, and any unknown level


def tasks_stmt(contact: Contact, project_ids) -> Select:
    return (sa.select(Task).where(tasks_where(contact), Task.project_id.in_(project_ids))
            .order_by(Task.project_id, Task.milestone_id, Task.position, Task.id))


def visible_tasks(contact: Contact, project: Project) -> list[Task]:
    return list(db.session.scalars(tasks_stmt(contact, [project.id])))


def waiting_stmt(contact: Contact, project_ids) -> Select:
    """What waits on the contact: open, shared customer tasks of theirs or the group's, at every view level."""
    return (sa.select(Task).where(tasks_where(contact), assigned_to(contact), Task.status != "done",
                                  Task.project_id.in_(project_ids))
            .order_by(Task.due_date, Task.id))


def task_for(contact: Contact, task_id) -> Task | None:
    task_id = _id(task_id)
    if task_id is None:
        return None
    return db.session.scalar(sa.select(Task).where(Task.id == task_id, tasks_where(contact),
                                                   Task.project_id.in_(sa.select(Project.id).where(
                                                       projects_where(contact)))))


def can_complete(contact: Contact, task: Task) -> bool:
    """A contact completes an open customer task of theirs or of the group (the task already scoped)."""
    return (task.assignee_role == "customer" and task.assignee_contact_id in (None, contact.id)
            and task.status != "done")


# --- comments, documents, criteria -------------------------------------------------------------------------


def comments_where(contact: Contact):
    return sa.and_(
        Comment.visibility == "shared",
        Comment.project_id.in_(sa.select(Project.id).where(projects_where(contact))),
        sa.or_(Comment.milestone_id.is_(None),
               Comment.milestone_id.in_(sa.select(Milestone.id).where(milestones_where(contact)))),
        sa.or_(Comment.task_id.is_(None), Comment.task_id.in_(sa.select(Task.id).where(tasks_where(contact)))),
    )


def comments_stmt(contact: Contact, project: Project) -> Select:
    return (sa.select(Comment).where(comments_where(contact), Comment.project_id == project.id)
            .order_by(Comment.created_at.desc(), Comment.id.desc()))


def visible_comments(contact: Contact, project: Project) -> list[Comment]:
    return list(db.session.scalars(comments_stmt(contact, project)))


def attachments_where(contact: Contact):
    return sa.and_(
        Attachment.visibility == "shared",
        Attachment.project_id.in_(sa.select(Project.id).where(projects_where(contact))),
        sa.or_(Attachment.task_id.is_(None),
               Attachment.task_id.in_(sa.select(Task.id).where(tasks_where(contact)))),
        sa.or_(Attachment.comment_id.is_(None),
               Attachment.comment_id.in_(sa.select(Comment.id).where(comments_where(contact)))),
    )


def attachments_stmt(contact: Contact, project: Project) -> Select:
    return (sa.select(Attachment).where(attachments_where(contact), Attachment.project_id == project.id)
            .order_by(Attachment.created_at.desc(), Attachment.id.desc()))


def visible_attachments(contact: Contact, project: Project) -> list[Attachment]:
    return list(db.session.scalars(attachments_stmt(contact, project)))


def attachment_for(contact: Contact, attachment_id) -> Attachment | None:
    attachment_id = _id(attachment_id)
    if attachment_id is None:
        return None
    return db.session.scalar(sa.select(Attachment).where(Attachment.id == attachment_id,
                                                         attachments_where(contact)))


def criteria_stmt(contact: Contact, project: Project) -> Select:
    return (sa.select(SuccessCriterion)
            .where(SuccessCriterion.project_id == project.id,
                   SuccessCriterion.project_id.in_(sa.select(Project.id).where(projects_where(contact))))
            .order_by(SuccessCriterion.position, SuccessCriterion.id))


def visible_criteria(contact: Contact, project: Project) -> list[SuccessCriterion]:
    return list(db.session.scalars(criteria_stmt(contact, project)))
