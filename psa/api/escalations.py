"""API operations: escalations (issue 16) — those of the projects the token's user may see (the escalations page's
rule, psa.projects.services.visible_projects_filter; any other answers 404), and acknowledging one with a note
through psa.escalations.services.acknowledge_escalation (one conditional update: a second acknowledgement, or one of
a resolved escalation, answers 409)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from flask import request
from pydantic import BaseModel, Field
from sqlalchemy.orm import aliased
from werkzeug.exceptions import Conflict

from psa.accounts.models import Account
from psa.api import bp, spec
from psa.api.core import (
    ApiError,
    ListQuery,
    WriteHeaders,
    api_user,
    idempotent,
    paginate,
    permission,
    responses,
)
from psa.api.time import Note, _id_or_404
from psa.auth.models import User
from psa.core.validation import MAX_DB_INT
from psa.escalations.services import NOTE_MAX, acknowledge_escalation
from psa.extensions import db
from psa.projects.models import Escalation, Milestone, Project
from psa.projects.services import visible_projects_filter

TAGS = ["escalations"]


class EscalationOut(BaseModel):
    id: int
    project_id: int
    project_name: str
    account_id: int
    account_name: str
    manager_id: int
    manager_name: str
    milestone_id: int
    milestone_name: str
    milestone_due_date: date | None
    level: int = Field(description="1 to 3.")
    reason: Literal["overdue", "forecast_slip"]
    slip_days: int = Field(description="Working days of slip when the level was last set.")
    opened_at: datetime
    raised_at: datetime | None
    acknowledged_by_id: int | None
    acknowledged_by_name: str | None
    acknowledged_at: datetime | None
    acknowledgement_note: str
    resolved_at: datetime | None
    resolution: str | None = Field(description="done, back_on_track or project_closed once resolved.")
    open: bool


class EscalationPage(BaseModel):
    items: list[EscalationOut]
    next_cursor: str | None


class EscalationQuery(ListQuery):
    level: int | None = Field(None, ge=1, le=3)
    open: bool | None = Field(None, description="true: open only; false: resolved only.")
    project_id: Annotated[int, Field(ge=1, le=MAX_DB_INT)] | None = None


class AcknowledgeBody(BaseModel):
    note: Note = Field("", max_length=NOTE_MAX)

    model_config = {"extra": "forbid"}


def _visible():
    manager, acknowledger = aliased(User), aliased(User)
    return (sa.select(Escalation, Milestone.name, Milestone.due_date, Project.name, Account.id, Account.name,
                      Project.manager_id, manager.name, acknowledger.name)
            .join(Milestone, Milestone.id == Escalation.milestone_id).join(Project, Project.id == Escalation.project_id)
            .join(Account, Account.id == Project.account_id).join(manager, manager.id == Project.manager_id)
            .outerjoin(acknowledger, acknowledger.id == Escalation.acknowledged_by_id)
            .where(visible_projects_filter(api_user())))


def _out(row) -> dict:
    e, milestone, due, project, account_id, account, manager_id, manager, acknowledger = row
    return EscalationOut(
        id=e.id, project_id=e.project_id, project_name=project, account_id=account_id, account_name=account,
        manager_id=manager_id, manager_name=manager, milestone_id=e.milestone_id, milestone_name=milestone,
        milestone_due_date=due, level=e.level, reason=e.reason, slip_days=e.slip_days, opened_at=e.opened_at,
        raised_at=e.raised_at, acknowledged_by_id=e.acknowledged_by_id, acknowledged_by_name=acknowledger,
        acknowledged_at=e.acknowledged_at, acknowledgement_note=e.acknowledgement_note or "",
        resolved_at=e.resolved_at, resolution=e.resolution, open=e.resolved_at is None).model_dump(mode="json")


def _row(escalation_id: int):
    row = db.session.execute(_visible().where(Escalation.id == _id_or_404(escalation_id))).first()
    if row is None:
        raise ApiError(404)
    return row


@bp.get("/escalations")
@permission("projects.view")
@spec.validate(query=EscalationQuery, resp=responses({200: EscalationPage}), tags=TAGS)
def list_escalations():
    """List escalations.

    Of the projects the token's user may see, by id, filtered by level, open or resolved, and project."""
    query: EscalationQuery = request.context.query
    stmt = _visible()
    if query.level is not None:
        stmt = stmt.where(Escalation.level == query.level)
    if query.open is True:
        stmt = stmt.where(Escalation.resolved_at.is_(None))
    elif query.open is False:
        stmt = stmt.where(Escalation.resolved_at.is_not(None))
    if query.project_id is not None:
        stmt = stmt.where(Escalation.project_id == query.project_id)
    rows, cursor = paginate(stmt, Escalation.id, query)
    return {"items": [_out(row) for row in rows], "next_cursor": cursor}, 200


@bp.get("/escalations/<int:escalation_id>")
@permission("projects.view")
@spec.validate(resp=responses({200: EscalationOut}), tags=TAGS)
def get_escalation(escalation_id: int):
    """One escalation."""
    return _out(_row(escalation_id)), 200


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@permission("projects.view")
@idempotent
@spec.validate(json=AcknowledgeBody, headers=WriteHeaders, resp=responses({200: EscalationOut}, 409), tags=TAGS)
def acknowledge(escalation_id: int):
    """Acknowledge an open escalation with a note.

    As on the escalations page: anyone who sees its project; an escalation acknowledged or resolved already, 409."""
    body: AcknowledgeBody = request.context.json
    row = _row(escalation_id)
    try:
        acknowledge_escalation(api_user(), row[0], body.note)
    except Conflict as exc:
        raise ApiError(409, exc.description) from None
    db.session.commit()
    return _out(_row(escalation_id)), 200
