"""What a contact does in the portal: complete a task, comment, upload a document, sign off a milestone, rate
one. Each rule takes rows already scoped by psa.portal.scope, changes them (a conditional update where two
requests could race), records the audit event with the contact as actor and tells the project manager in-app.
The routes (psa/portal/pages.py) commit."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.exc import IntegrityError

from psa.accounts.models import Contact
from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.db import utcnow
from psa.core.errors import ValidationError
from psa.core.events import publish as publish_event
from psa.core.notifications import notify
from psa.extensions import db
from psa.projects import services as projects
from psa.projects.models import Attachment, Comment, Milestone, MilestoneRating, Project, Task
from psa.timesheets.models import TimeEntry

#: The longest comment given with a rating.
RATING_COMMENT_MAX = 2000

class Conflict(Exception):
    """The change lost to another (already done, already signed off, already rated): nothing changed."""


def _tell_manager(project: Project, message: str, anchor: str) -> None:
    manager = db.session.get(User, project.manager_id)
    if manager is not None:
        notify(manager, message, url_for("projects.show", project_id=project.id, _anchor=anchor))


def used_minutes(project: Project) -> int:
    """Minutes logged on the project (one aggregate: never a rate or a cost)."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(TimeEntry.minutes), 0))
                                 .where(TimeEntry.project_id == project.id)) or 0)


def complete_task(contact: Contact, project: Project, task: Task) -> Task:
    """Mark an open customer task of the contact's (or of the group's) done. The conditional update decides
    between two clicks; psa.projects.services.update_task then syncs the milestone and refreshes the schedule."""
    from psa.portal.scope import can_complete

    if not can_complete(contact, task):
        raise Conflict("This task is not yours to complete." if task.status != "done"
                       else "This task is already done.")
    before = task.status
    won = db.session.execute(
        sa.update(Task).where(Task.id == task.id, Task.status != "done")
        .values(status="done", completed_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if not won:
        raise Conflict("This task is already done.")
    db.session.refresh(task)
    record_audit(contact, "portal.task_completed", task, {"status": before}, {"status": "done"})
    projects.update_task(contact, task)  # the milestone's status and the schedule follow
    _tell_manager(project, f"{contact.name} completed {task.name} in the portal ({project.name}).",
                  f"task-{task.id}")
    return task


def add_comment(contact: Contact, project: Project, *, body: str, task: Task | None = None) -> Comment:
    comment = projects.add_comment(contact, project, body=body, visibility="shared", task=task)
    record_audit(contact, "portal.comment_added", task if task is not None else project,
                 after={"comment_id": comment.id, "project_id": project.id})
    _tell_manager(project, f"{contact.name} commented on {project.name}: {comment.body[:120]}", "comments")
    return comment


def add_document(contact: Contact, project: Project, *, filename: str, data: bytes,
                 task: Task | None = None) -> Attachment:
    attachment = projects.add_attachment(contact, project, filename=filename, data=data, task=task,
                                         visibility="shared")
    _tell_manager(project, f"{contact.name} uploaded {attachment.original_name} to {project.name}.", "attachments")
    return attachment


def sign_off_milestone(contact: Contact, project: Project, milestone: Milestone) -> Milestone:
    """Sign off a done milestone that requires it; once (a conditional update: the first contact wins)."""
    if milestone.status != "done":
        raise Conflict(f"{milestone.name} can be signed off once it is done.")
    won = db.session.execute(
        sa.update(Milestone).where(Milestone.id == milestone.id, Milestone.signed_off_at.is_(None),
                                   Milestone.requires_signoff.is_(True), Milestone.status == "done")
        .values(signed_off_at=utcnow(), signed_off_by_contact_id=contact.id)
        .execution_options(synchronize_session=False)).rowcount
    if not won:
        raise Conflict(f"{milestone.name} is already signed off.")
    db.session.refresh(milestone)
    record_audit(contact, "milestone.signed_off", milestone, {"signed_off_at": None},
                 {"signed_off_at": milestone.signed_off_at.isoformat(), "contact": contact.name})
    publish_event("milestone.signed_off", {"project_id": project.id, "project_name": project.name,
                                           "milestone_id": milestone.id, "milestone_name": milestone.name,
                                           "contact_id": contact.id, "contact_name": contact.name,
                                           "signed_off_at": milestone.signed_off_at.isoformat()})
    _tell_manager(project, f"{contact.name} signed off {milestone.name} ({project.name}).",
                  f"milestone-{milestone.id}")
    return milestone


def _score(raw) -> int:
    raw = (raw or "").strip() if isinstance(raw, str) else raw
    if isinstance(raw, str) and raw in ("1", "2", "3", "4", "5"):
        return int(raw)
    if isinstance(raw, int) and 1 <= raw <= 5:
        return raw
    raise ValidationError({"score": "Choose a score from 1 to 5."})


def rate_milestone(contact: Contact, project: Project, milestone: Milestone, *, score, comment: str = "") -> MilestoneRating:
    """Rate a completed milestone, once per contact (the unique constraint decides; a second rating changes
    nothing and says so)."""
    if milestone.status != "done":
        raise Conflict(f"{milestone.name} can be rated once it is done.")
    value = _score(score)
    text = (comment or "").replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ValidationError({"comment": "The comment holds a character that cannot be stored."})
    if len(text) > RATING_COMMENT_MAX:
        raise ValidationError({"comment": f"Use at most {RATING_COMMENT_MAX:,} characters."})
    already = db.session.scalar(sa.select(MilestoneRating.id).where(MilestoneRating.milestone_id == milestone.id,
                                                                    MilestoneRating.contact_id == contact.id))
    if already is not None:
        raise Conflict(f"You have already rated {milestone.name}; a rating cannot be changed.")
    rating = MilestoneRating(milestone_id=milestone.id, contact_id=contact.id, project_id=project.id, score=value,
                             comment=text)
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:
        raise Conflict(f"You have already rated {milestone.name}; a rating cannot be changed.") from None
    record_audit(contact, "milestone.rated", milestone, None, {"score": value, "comment": text[:500]})
    _tell_manager(project, f"{contact.name} rated {milestone.name} {value}/5 ({project.name}).",
                  f"milestone-{milestone.id}")
    return rating
