"""The escalations page: open and resolved escalations of the projects the user may see, filtered by level,
manager, account and age, and acknowledging one."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import aliased

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core.auth import permission_required
from psa.core.db import utcnow
from psa.core.errors import ValidationError
from psa.core.pagination import paginate
from psa.core.validation import id_or_zero
from psa.escalations import bp
from psa.escalations.forms import AcknowledgeForm
from psa.escalations.services import REASON_LABELS, RESOLUTION_LABELS, acknowledge_escalation, milestone_path
from psa.extensions import db
from psa.projects.models import Escalation, Milestone, Project
from psa.projects.services import visible_projects_filter

#: The age filter: escalations open for at least this many days.
AGES = ((0, "Any age"), (1, "Open 1+ day"), (3, "Open 3+ days"), (7, "Open 7+ days"), (14, "Open 14+ days"),
        (30, "Open 30+ days"))
LEVEL_BADGES = {1: "text-bg-warning", 2: "text-bg-danger", 3: "text-bg-dark"}


def _int_arg(name: str, allowed=None) -> int:
    value = id_or_zero(request.args.get(name))
    return value if allowed is None or value in allowed else 0


def _visible(statement):
    """Limit to escalations of projects the user may see (projects.services.can_view_project, in SQL)."""
    return statement.where(visible_projects_filter(current_user))


@bp.route("/")
@permission_required("projects.view")
def index():
    state = "resolved" if request.args.get("state") == "resolved" else "open"
    level = _int_arg("level", {1, 2, 3})
    manager_id = _int_arg("manager")
    account_id = _int_arg("account")
    age = _int_arg("age", {days for days, _ in AGES})
    manager, acknowledger = aliased(User), aliased(User)
    stmt = _visible(
        sa.select(Escalation, Milestone.name.label("milestone"), Milestone.due_date, Project.name.label("project"),
                  Project.manager_id, manager.name.label("manager"), Account.id.label("account_id"),
                  Account.name.label("account"), acknowledger.name.label("acknowledged_by"))
        .join(Milestone, Milestone.id == Escalation.milestone_id).join(Project, Project.id == Escalation.project_id)
        .join(Account, Account.id == Project.account_id).join(manager, manager.id == Project.manager_id)
        .outerjoin(acknowledger, acknowledger.id == Escalation.acknowledged_by_id))
    if state == "open":
        stmt = stmt.where(Escalation.resolved_at.is_(None)).order_by(Escalation.level.desc(), Escalation.opened_at,
                                                                     Escalation.id)
    else:
        stmt = stmt.where(Escalation.resolved_at.is_not(None)).order_by(Escalation.resolved_at.desc(),
                                                                        Escalation.id.desc())
    if level:
        stmt = stmt.where(Escalation.level == level)
    if manager_id:
        stmt = stmt.where(Project.manager_id == manager_id)
    if account_id:
        stmt = stmt.where(Project.account_id == account_id)
    if age:
        stmt = stmt.where(Escalation.opened_at <= utcnow() - timedelta(days=age))
    page = paginate(stmt)
    page.items = db.session.execute(stmt.limit(page.per_page).offset((page.page - 1) * page.per_page)).all() \
        if page.items else []
    managers = db.session.execute(_visible(
        sa.select(User.id, User.name).join(Project, Project.manager_id == User.id)).distinct()
        .order_by(User.name)).all()
    accounts = db.session.execute(_visible(
        sa.select(Account.id, Account.name).join(Project, Project.account_id == Account.id)
        .join(Escalation, Escalation.project_id == Project.id)).distinct().order_by(Account.name)).all()
    now = utcnow()
    return render_template(
        "escalations/index.html", page=page, state=state, level=level, manager_id=manager_id,
        account_id=account_id, age=age, ages=AGES, managers=managers, accounts=accounts, now=now,
        level_badges=LEVEL_BADGES, reason_labels=REASON_LABELS, resolution_labels=RESOLUTION_LABELS,
        milestone_path=milestone_path, form=AcknowledgeForm(formdata=None))


@bp.route("/acknowledge", methods=["POST"])
@permission_required("projects.view")
def acknowledge():
    form = AcknowledgeForm()
    escalation_id = id_or_zero(form.escalation_id.data)
    escalation = db.session.scalar(_visible(
        sa.select(Escalation).join(Project, Project.id == Escalation.project_id)
        .where(Escalation.id == escalation_id))) if escalation_id else None
    if escalation is None:
        abort(404)
    back = request.form.get("next") or ""
    target = back if back.startswith("/") and not back.startswith("//") else url_for("escalations.index")
    if not form.validate():
        flash(next(iter(form.note.errors), "Check the note."), "danger")
        return redirect(target)
    try:
        acknowledge_escalation(current_user, escalation, form.note.data or "")
    except ValidationError as exc:
        db.session.rollback()
        flash(next(iter(exc.errors.values()), str(exc)), "danger")
        return redirect(target)
    db.session.commit()
    flash(f"Acknowledged the level {escalation.level} escalation.", "success")
    return redirect(target)
