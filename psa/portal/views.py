"""What a portal page may show of each row: frozen views built from explicit allow-lists of fields.

Portal templates receive only these views (and plain values), never an ORM object: `render_portal` refuses
anything else. A column added to a model later (an internal note, a rate, a cost) therefore reaches no portal
page until someone adds it to a view here on purpose; tests/portal/test_views.py holds each view's fields to
its allow-list.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import render_template

from psa.extensions import db
from psa.projects.models import CRITERION_STATUS_LABELS, PROJECT_STATUS_LABELS, WORK_STATUS_LABELS

VIEW_LEVEL_LABELS = {"overview": "Overview", "full": "Full project", "my_tasks": "My tasks"}


@dataclass(frozen=True)
class PortalContact:
    """The person the page is drawn for."""

    name: str
    view_level: str
    view_level_label: str


@dataclass(frozen=True)
class PortalProject:
    id: int
    name: str
    status_label: str
    is_completed: bool
    kickoff_date: date
    target_go_live_date: date | None
    progress_percent: int
    next_milestone_name: str | None
    next_milestone_forecast: date | None
    shows_hours: bool


@dataclass(frozen=True)
class PortalMilestone:
    id: int
    name: str
    status: str
    status_label: str
    #: The planned date (the baseline: it never moves), the current due date, and the forecast.
    baseline_due_date: date
    due_date: date
    forecast_date: date
    slip_days: int
    completed_at: datetime | None
    requires_signoff: bool
    signed_off_at: datetime | None
    signed_off_by: str | None
    can_sign_off: bool
    can_rate: bool
    my_score: int | None
    my_comment: str | None


@dataclass(frozen=True)
class PortalTask:
    id: int
    milestone_id: int
    name: str
    status: str
    status_label: str
    start_date: date
    due_date: date
    #: "You", "Your team" (the customer as a group), a colleague's name, or "Our team".
    assignee_label: str
    is_mine: bool
    can_complete: bool
    completed_at: datetime | None


@dataclass(frozen=True)
class PortalComment:
    id: int
    body: str
    author_name: str
    created_at: datetime
    #: What the comment is on, by name ("" for the project itself).
    subject: str


@dataclass(frozen=True)
class PortalDocument:
    id: int
    name: str
    size_label: str
    created_at: datetime
    subject: str


@dataclass(frozen=True)
class PortalCriterion:
    outcome: str
    metric: str
    baseline: str
    target: str
    current_value: str
    due_date: date | None
    status: str
    status_label: str


@dataclass(frozen=True)
class PortalHours:
    """Budgeted, used and remaining hours: never rates or costs."""

    budgeted_hours: Decimal | None
    used_hours: Decimal
    remaining_hours: Decimal | None


#: The allow-lists: the only fields each view carries (tests/portal/test_views.py compares them).
ALLOWED_FIELDS = {
    PortalContact: ("name", "view_level", "view_level_label"),
    PortalProject: ("id", "name", "status_label", "is_completed", "kickoff_date", "target_go_live_date",
                    "progress_percent", "next_milestone_name", "next_milestone_forecast", "shows_hours"),
    PortalMilestone: ("id", "name", "status", "status_label", "baseline_due_date", "due_date", "forecast_date",
                      "slip_days", "completed_at", "requires_signoff", "signed_off_at", "signed_off_by",
                      "can_sign_off", "can_rate", "my_score", "my_comment"),
    PortalTask: ("id", "milestone_id", "name", "status", "status_label", "start_date", "due_date",
                 "assignee_label", "is_mine", "can_complete", "completed_at"),
    PortalComment: ("id", "body", "author_name", "created_at", "subject"),
    PortalDocument: ("id", "name", "size_label", "created_at", "subject"),
    PortalCriterion: ("outcome", "metric", "baseline", "target", "current_value", "due_date", "status",
                      "status_label"),
    PortalHours: ("budgeted_hours", "used_hours", "remaining_hours"),
}


# --- builders: each copies the listed fields, one by one ---------------------------------------------------


def contact_view(contact) -> PortalContact:
    return PortalContact(name=contact.name, view_level=contact.view_level,
                         view_level_label=VIEW_LEVEL_LABELS.get(contact.view_level, contact.view_level))


def project_view(project, next_milestone=None) -> PortalProject:
    return PortalProject(
        id=project.id, name=project.name, status_label=PROJECT_STATUS_LABELS.get(project.status, project.status),
        is_completed=project.status == "completed", kickoff_date=project.kickoff_date,
        target_go_live_date=project.target_go_live_date, progress_percent=int(project.progress_percent or 0),
        next_milestone_name=next_milestone.name if next_milestone is not None else None,
        next_milestone_forecast=(next_milestone.forecast_date or next_milestone.due_date)
        if next_milestone is not None else None,
        shows_hours=bool(project.portal_shows_hours))


def signoff_open(milestone) -> bool:
    """A milestone the customer may sign off: it requires sign-off, is done (all its tasks done, or marked
    done), and is not signed off yet."""
    return bool(milestone.requires_signoff) and milestone.status == "done" and milestone.signed_off_at is None


def milestone_view(milestone, *, signed_off_by: str | None = None, rating=None,
                   read_only: bool = False) -> PortalMilestone:
    """`rating`: this contact's (score, comment) of the milestone, or None."""
    done = milestone.status == "done"
    return PortalMilestone(
        id=milestone.id, name=milestone.name, status=milestone.status,
        status_label=WORK_STATUS_LABELS.get(milestone.status, milestone.status),
        baseline_due_date=milestone.baseline_due_date, due_date=milestone.due_date,
        forecast_date=milestone.forecast_date or milestone.due_date, slip_days=int(milestone.slip_days or 0),
        completed_at=milestone.completed_at, requires_signoff=bool(milestone.requires_signoff),
        signed_off_at=milestone.signed_off_at, signed_off_by=signed_off_by if milestone.signed_off_at else None,
        can_sign_off=signoff_open(milestone) and not read_only,
        can_rate=done and rating is None and not read_only,
        my_score=rating[0] if rating else None, my_comment=rating[1] if rating else None)


def task_view(task, *, contact_id: int, assignee_name: str | None, can_complete: bool) -> PortalTask:
    if task.assignee_role != "customer":
        label, mine = "Our team", False
    elif task.assignee_contact_id is None:
        label, mine = "Your team", True
    elif task.assignee_contact_id == contact_id:
        label, mine = "You", True
    else:
        label, mine = assignee_name or "A colleague", False
    return PortalTask(id=task.id, milestone_id=task.milestone_id, name=task.name, status=task.status,
                      status_label=WORK_STATUS_LABELS.get(task.status, task.status), start_date=task.start_date,
                      due_date=task.due_date, assignee_label=label, is_mine=mine, can_complete=can_complete,
                      completed_at=task.completed_at)


def comment_view(comment, *, author_name: str, subject: str) -> PortalComment:
    return PortalComment(id=comment.id, body=comment.body, author_name=author_name, created_at=comment.created_at,
                         subject=subject)


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def document_view(attachment, *, subject: str) -> PortalDocument:
    return PortalDocument(id=attachment.id, name=attachment.original_name, size_label=size_label(attachment.size_bytes),
                          created_at=attachment.created_at, subject=subject)


def criterion_view(criterion) -> PortalCriterion:
    return PortalCriterion(outcome=criterion.outcome, metric=criterion.metric, baseline=criterion.baseline,
                           target=criterion.target, current_value=criterion.current_value,
                           due_date=criterion.due_date, status=criterion.status,
                           status_label=CRITERION_STATUS_LABELS.get(criterion.status, criterion.status))


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def hours_view(budget_minutes: int | None, used_minutes: int) -> PortalHours:
    budgeted = _hours(budget_minutes) if budget_minutes is not None else None
    return PortalHours(budgeted_hours=budgeted, used_hours=_hours(used_minutes),
                       remaining_hours=_hours(max(budget_minutes - used_minutes, 0))
                       if budget_minutes is not None else None)


# --- rendering ---------------------------------------------------------------------------------------------

VIEW_TYPES = tuple(ALLOWED_FIELDS)
PLAIN = (str, int, float, bool, Decimal, date, datetime, type(None))


def check_context(value, where: str = "context") -> None:
    """Refuse anything but views and plain values (lists, tuples and dicts of them): never an ORM object."""
    if isinstance(value, PLAIN):
        return
    if isinstance(value, VIEW_TYPES):
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            check_context(getattr(value, f.name), f"{where}.{f.name}")
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            check_context(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_context(item, f"{where}[{key!r}]")
        return
    if isinstance(value, db.Model):
        raise TypeError(f"{where} is an ORM object ({type(value).__name__}): build a portal view instead")
    raise TypeError(f"{where} is a {type(value).__name__}, not a portal view or a plain value")


def render_portal(template: str, **context) -> str:
    """Render a portal template from views and plain values only (see check_context)."""
    for key, value in context.items():
        check_context(value, key)
    return render_template(template, **context)
