"""The dashboard at / and the in-app notifications.

The dashboard is the portfolio of the projects the user may see: a filtered, sorted, paginated
table with health counts, the milestones due in the next two weeks and the user's own open tasks.
Every block is one query whatever the number of projects (related rows are joined on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import aliased, contains_eager

from psa.accounts.models import SEGMENT_LABELS, SEGMENTS, Account
from psa.auth.models import User
from psa.core.auth import permission_required
from psa.core.clock import org_today, org_zone_name
from psa.core.forms import ConfirmForm
from psa.core.models import Notification
from psa.core.notifications import mark_all_read
from psa.core.pagination import paginate
from psa.core.validation import db_id
from psa.dashboard import bp
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.projects.models import (
    HEALTH_BADGES,
    HEALTH_LABELS,
    HEALTHS,
    OPEN_PROJECT_STATUSES,
    PROJECT_STATUS_LABELS,
    PROJECT_STATUSES,
    Milestone,
    Project,
    Task,
)
from psa.projects.services import visible_projects_filter

#: How far ahead the "due soon" block looks, in calendar days.
DUE_SOON_DAYS = 14
#: Rows shown in the "due soon" and "my tasks" blocks (the total is always shown).
BLOCK_LIMIT = 20
#: Status filter choices: the open ones (the default), everything, or one status.
STATUS_CHOICES = [("open", "Open projects"), ("all", "All statuses"),
                  *((s, PROJECT_STATUS_LABELS[s]) for s in PROJECT_STATUSES)]
#: Health sorts by severity: green < amber < red.
_HEALTH_RANK = sa.case({"green": 0, "amber": 1, "red": 2}, value=Project.health, else_=0)
_STATUS_RANK = sa.case({s: i for i, s in enumerate(PROJECT_STATUSES)}, value=Project.status, else_=0)
DEFAULT_SORT = "-health"


@dataclass(frozen=True)
class Filters:
    """The portfolio filters read from the query string; unknown values (and ids no column holds) are ignored."""

    status: str = "open"
    health: str = ""
    manager: int | None = None
    account: int | None = None
    segment: str = ""
    template: int | None = None

    @classmethod
    def from_args(cls, args) -> Filters:
        status = args.get("status", "open")
        health = args.get("health", "")
        segment = args.get("segment", "")
        return cls(
            status=status if status in dict(STATUS_CHOICES) else "open",
            health=health if health in HEALTHS else "",
            manager=args.get("manager", type=db_id),
            account=args.get("account", type=db_id),
            segment=segment if segment in SEGMENTS else "",
            template=args.get("template", type=db_id),
        )

    @property
    def is_default(self) -> bool:
        return self == Filters()

    def clauses(self, *, with_health: bool = True) -> list:
        """WHERE clauses on Project (Account must be joined for the segment)."""
        where = []
        if self.status == "open":
            where.append(Project.status.in_(OPEN_PROJECT_STATUSES))
        elif self.status != "all":
            where.append(Project.status == self.status)
        if with_health and self.health:  # a cancelled project has no health worth the name
            where.extend([Project.health == self.health, Project.status != "cancelled"])
        if self.manager is not None:
            where.append(Project.manager_id == self.manager)
        if self.account is not None:
            where.append(Project.account_id == self.account)
        if self.segment:
            where.append(Account.segment == self.segment)
        if self.template is not None:
            where.append(Project.template_version_id.in_(
                sa.select(TemplateVersion.id).where(TemplateVersion.template_id == self.template)))
        return where


def _sort_columns(manager):
    """Sort keys of the portfolio table: ?sort=<key> ascending, ?sort=-<key> descending."""
    return {
        "name": sa.func.lower(Project.name),
        "account": sa.func.lower(Account.name),
        "manager": sa.func.lower(manager.name),
        "status": _STATUS_RANK,
        "health": _HEALTH_RANK,
        "progress": Project.progress_percent,
        "slip": Project.max_slip_days,
        "kickoff": Project.kickoff_date,
        "go_live": Project.target_go_live_date,
    }


def _order_by(sort: str, manager) -> tuple[str, list]:
    columns = _sort_columns(manager)
    key = sort.lstrip("-")
    if key not in columns:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.lstrip("-")
    column = columns[key]
    primary = column.desc() if sort.startswith("-") else column.asc()
    if key == "go_live":  # projects without a go-live date go last either way
        primary = sa.nulls_last(primary)
    return sort, [primary, sa.func.lower(Project.name), Project.id]


def _filter_options(visible) -> dict:
    """The choices of the manager, account and template filters: those of the projects the user sees."""
    managers = db.session.execute(
        sa.select(User.id, User.name).join(Project, Project.manager_id == User.id).where(visible)
        .distinct().order_by(User.name)).all()
    accounts = db.session.execute(
        sa.select(Account.id, Account.name).join(Project, Project.account_id == Account.id).where(visible)
        .distinct().order_by(Account.name)).all()
    templates = db.session.execute(
        sa.select(Template.id, Template.name).join(TemplateVersion, TemplateVersion.template_id == Template.id)
        .join(Project, Project.template_version_id == TemplateVersion.id).where(visible)
        .distinct().order_by(Template.name)).all()
    return {"managers": managers, "accounts": accounts, "templates": templates}


def _health_counts(visible, filters: Filters) -> dict[str, int]:
    """Projects per health in the filtered set (every filter but health itself, so the counts can be
    used to narrow by health; cancelled projects left out), in one GROUP BY query."""
    rows = db.session.execute(
        sa.select(Project.health, sa.func.count(Project.id))
        .join(Account, Account.id == Project.account_id)
        .where(visible, Project.status != "cancelled", *filters.clauses(with_health=False))
        .group_by(Project.health)).all()
    counts = dict.fromkeys(HEALTHS, 0)
    counts.update({health: count for health, count in rows})
    return counts


def _due_milestones(visible, today):
    """Open milestones of open visible projects due from today to DUE_SOON_DAYS ahead, with the total."""
    total = sa.func.count().over().label("total")
    return db.session.execute(
        sa.select(Milestone.id, Milestone.name, Milestone.due_date, Milestone.forecast_date, Milestone.slip_days,
                  Milestone.status, Project.id.label("project_id"), Project.name.label("project_name"),
                  Account.name.label("account_name"), total)
        .join(Project, Project.id == Milestone.project_id)
        .join(Account, Account.id == Project.account_id)
        .where(visible, Project.status.in_(OPEN_PROJECT_STATUSES), Milestone.status != "done",
               Milestone.due_date >= today, Milestone.due_date <= today + timedelta(days=DUE_SOON_DAYS))
        .order_by(Milestone.due_date, Milestone.slip_days.desc(), Project.name, Milestone.position)
        .limit(BLOCK_LIMIT)).all()


def _my_tasks(user):
    """The user's open tasks in open projects, earliest due first, with the total."""
    total = sa.func.count().over().label("total")
    return db.session.execute(
        sa.select(Task.id, Task.name, Task.status, Task.due_date, Task.forecast_date,
                  Milestone.name.label("milestone_name"), Project.id.label("project_id"),
                  Project.name.label("project_name"), Account.name.label("account_name"), total)
        .join(Milestone, Milestone.id == Task.milestone_id)
        .join(Project, Project.id == Task.project_id)
        .join(Account, Account.id == Project.account_id)
        .where(Task.assignee_id == user.id, Task.status != "done", Project.status.in_(OPEN_PROJECT_STATUSES))
        .order_by(Task.due_date, Project.name, Milestone.position, Task.position)
        .limit(BLOCK_LIMIT)).all()


@bp.route("/")
@permission_required("app.use")
def index():
    # cached schedules are kept fresh by the writes that change them and by the daily job; the page
    # recomputes nothing, and says when the oldest forecast it shows was computed if not today
    today = org_today()
    visible = visible_projects_filter(current_user)
    schedule_as_of = db.session.scalar(sa.select(sa.func.min(Project.schedule_refreshed_on)).where(
        visible, Project.status.in_(OPEN_PROJECT_STATUSES)))
    filters = Filters.from_args(request.args)
    manager = aliased(User, name="manager")
    sort, order = _order_by(request.args.get("sort", DEFAULT_SORT), manager)
    statement = (
        sa.select(Project)
        .join(Project.account).join(Project.manager.of_type(manager))
        .options(contains_eager(Project.account), contains_eager(Project.manager.of_type(manager)))
        .where(visible, *filters.clauses())
        .order_by(*order)
    )
    page = paginate(statement)
    options = _filter_options(visible)
    due = _due_milestones(visible, today)
    tasks = _my_tasks(current_user)
    recent = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(5)
    ).all()
    return render_template(
        "dashboard/index.html",
        page=page, filters=filters, sort=sort, today=today, schedule_as_of=schedule_as_of, org_zone=org_zone_name(),
        has_any_project=bool(options["accounts"]),  # every visible project has an account
        health_counts=_health_counts(visible, filters), options=options,
        status_choices=STATUS_CHOICES, health_labels=HEALTH_LABELS, health_badges=HEALTH_BADGES, segment_labels=SEGMENT_LABELS,
        status_labels=PROJECT_STATUS_LABELS,
        due_milestones=due, due_total=due[0].total if due else 0, due_days=DUE_SOON_DAYS,
        my_tasks=tasks, my_tasks_total=tasks[0].total if tasks else 0,
        account_count=db.session.scalar(sa.select(sa.func.count(Account.id))),
        notifications=recent,
    )


@bp.route("/notifications")
@permission_required("app.use")
def notifications():
    stmt = (sa.select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    return render_template("dashboard/notifications.html", page=paginate(stmt), confirm=ConfirmForm())


@bp.route("/notifications/read", methods=["POST"])
@permission_required("app.use")
def notifications_read():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = mark_all_read(current_user)
    db.session.commit()
    flash(f"{count} notification{'s' if count != 1 else ''} marked read.", "info")
    return redirect(url_for("dashboard.notifications"))
