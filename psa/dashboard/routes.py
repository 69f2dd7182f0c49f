"""The dashboard at / (each role's first screen), the full task lists it links to, and the in-app notifications.

The first screen leads with what the role acts on. Whoever approves time (managers, leaders, admins) sees what
needs a decision: projects by health with the clause that decided it, weeks waiting for their approval, blocked
tasks and the customer's overdue tasks. A consultant sees their open tasks (overdue first) and their week (hours
logged against the week's capacity). Below: the portfolio of the projects the user may see (a filtered, sorted,
paginated table with health counts), the milestones due in the next two weeks and the latest notifications.
Every block is one query whatever the number of rows (related rows are joined, counts are aggregated in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import aliased, contains_eager

from psa.accounts.models import SEGMENT_LABELS, SEGMENTS, Account
from psa.auth.models import User
from psa.core.auth import can, permission_required
from psa.core.calendar import capacity_hours, get_calendar
from psa.core.clock import org_today, org_zone_name, user_today
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
    WORK_STATUS_LABELS,
    Milestone,
    Project,
    Task,
)
from psa.projects.services import visible_projects_filter
from psa.timesheets.durations import format_minutes
from psa.timesheets.models import TIMESHEET_STATE_LABELS, TimeEntry, TimeOff, Timesheet
from psa.timesheets.routes import STATE_BADGES
from psa.timesheets.services import can_approve_clause, week_start

#: How far ahead the "due soon" block looks, in calendar days.
DUE_SOON_DAYS = 14
#: Rows shown in the "due soon" block (the total is always shown).
BLOCK_LIMIT = 20
#: Rows each block of the first screen shows; its count and a link to the full list tell the rest.
FIRST_ROWS = 5
#: Rows of the user's own open tasks on the dashboard (the full list is one click away).
MY_TASK_ROWS = 8
#: Status filter choices: the open ones (the default), everything, or one status.
STATUS_CHOICES = [("open", "Open projects"), ("all", "All statuses"),
                  *((s, PROJECT_STATUS_LABELS[s]) for s in PROJECT_STATUSES)]
#: Health sorts by severity: green < amber < red.
_HEALTH_RANK = sa.case({"green": 0, "amber": 1, "red": 2}, value=Project.health, else_=0)
_STATUS_RANK = sa.case({s: i for i, s in enumerate(PROJECT_STATUSES)}, value=Project.status, else_=0)
DEFAULT_SORT = "-health"
#: The sorts offered in the filter form (at phone width the column headers that sort are folded away).
SORT_CHOICES = [("-health", "Worst health first"), ("-slip", "Most slip first"), ("progress", "Least progress first"),
                ("go_live", "Go-live soonest"), ("name", "Project name"), ("account", "Account"),
                ("manager", "Project manager"), ("status", "Status"), ("-kickoff", "Latest kickoff")]


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

    @property
    def active_count(self) -> int:
        """How many filters differ from the default (said on the phone's folded filter button)."""
        default = Filters()
        return sum(getattr(self, name) != getattr(default, name) for name in self.__dataclass_fields__)

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


def _attention_projects(visible, filters: Filters):
    """The first FIRST_ROWS off-track and at-risk projects of the filtered set, worst first (their number is
    health_counts' red + amber)."""
    return db.session.execute(
        sa.select(Project.id, Project.name, Project.health, Project.health_reason, Project.health_milestone_id,
                  Project.max_slip_days, Account.name.label("account_name"))
        .join(Account, Account.id == Project.account_id)
        .where(visible, Project.status != "cancelled", Project.health.in_(("red", "amber")),
               *filters.clauses(with_health=False))
        .order_by(_HEALTH_RANK.desc(), Project.max_slip_days.desc(), sa.func.lower(Project.name), Project.id)
        .limit(FIRST_ROWS)).all()


def _weeks_to_approve(user):
    """Submitted weeks the user may approve (the rule of timesheets.services.can_approve, as SQL), oldest first,
    each with its owner and the minutes logged, with the total — one query."""
    owner = aliased(User, name="owner")
    minutes = (sa.select(sa.func.coalesce(sa.func.sum(TimeEntry.minutes), 0))
               .where(TimeEntry.timesheet_id == Timesheet.id).scalar_subquery())
    return db.session.execute(
        sa.select(Timesheet.id, Timesheet.week_start, owner.name.label("owner_name"), minutes.label("minutes"),
                  sa.func.count().over().label("total"))
        .join(owner, owner.id == Timesheet.user_id)
        .where(Timesheet.state == "submitted", can_approve_clause(user, owner))
        .order_by(Timesheet.week_start, owner.name, Timesheet.id)
        .limit(FIRST_ROWS)).all()


@dataclass(frozen=True)
class TaskList:
    """One list of tasks the dashboard counts and links to in full (/tasks?show=<key>)."""

    title: str
    empty: str
    #: The tasks' project must be one the user sees (the user's own tasks are theirs wherever they are).
    visible_only: bool = True


TASK_LISTS = {
    "mine": TaskList("My open tasks", "No open tasks assigned to you", visible_only=False),
    "blocked": TaskList("Blocked tasks", "No blocked tasks"),
    "customer_overdue": TaskList("Customer tasks overdue", "No customer task is overdue"),
}


def _task_list_statement(key: str, user, today):
    """The tasks of one TASK_LISTS list in open projects, in the order shown (overdue and oldest first)."""
    where = [Project.status.in_(OPEN_PROJECT_STATUSES)]
    if key == "mine":
        where += [Task.assignee_id == user.id, Task.status != "done"]
    elif key == "blocked":
        where += [Task.status == "blocked"]
    else:
        where += [Task.assignee_role == "customer", Task.due_date < today, Task.status != "done"]
    if TASK_LISTS[key].visible_only:
        where.append(visible_projects_filter(user))
    return (
        sa.select(Task.id, Task.name, Task.status, Task.due_date, Task.forecast_date, Task.blocked_reason,
                  Milestone.name.label("milestone_name"), Project.id.label("project_id"),
                  Project.name.label("project_name"), Account.name.label("account_name"))
        .join(Milestone, Milestone.id == Task.milestone_id)
        .join(Project, Project.id == Task.project_id)
        .join(Account, Account.id == Project.account_id)
        .where(*where)
        .order_by(Task.due_date, sa.func.lower(Project.name), Milestone.position, Task.position, Task.id))


def _first_tasks(key: str, user, today, limit: int = FIRST_ROWS):
    """The first rows of a task list, each with the list's total — one query."""
    return db.session.execute(_task_list_statement(key, user, today)
                              .add_columns(sa.func.count().over().label("total")).limit(limit)).all()


def _my_week(user) -> dict:
    """This week (in the user's zone) of the user's timesheet: its state, minutes logged, time off and the
    capacity left by the time off (one query of scalar subqueries), and the minutes of each day (one GROUP BY)."""
    monday = week_start(user_today(user))
    sunday = monday + timedelta(days=6)
    sheet = sa.select(Timesheet).where(Timesheet.user_id == user.id, Timesheet.week_start == monday).subquery()
    row = db.session.execute(sa.select(
        sa.select(sheet.c.state).scalar_subquery().label("state"),
        sa.select(sa.func.coalesce(sa.func.sum(TimeEntry.minutes), 0)).where(
            TimeEntry.user_id == user.id, TimeEntry.entry_date >= monday, TimeEntry.entry_date <= sunday)
        .scalar_subquery().label("logged"),
        sa.select(sa.func.coalesce(sa.func.sum(TimeOff.minutes), 0)).where(
            TimeOff.user_id == user.id, TimeOff.entry_date >= monday, TimeOff.entry_date <= sunday)
        .scalar_subquery().label("off"),
    )).one()
    per_day = dict(db.session.execute(
        sa.select(TimeEntry.entry_date, sa.func.sum(TimeEntry.minutes)).where(
            TimeEntry.user_id == user.id, TimeEntry.entry_date >= monday, TimeEntry.entry_date <= sunday)
        .group_by(TimeEntry.entry_date)).all())
    weekly = int(user.weekly_capacity_hours * 60)
    off = int(row.off or 0)
    # the utilization report's capacity (holidays and time off count): this week's working days × weekly ÷ 5
    calendar = get_calendar()
    working_days = sum(1 for i in range(7) if calendar.is_working_day(monday + timedelta(days=i)))
    capacity = int(capacity_hours(working_days, user.weekly_capacity_hours, Decimal(off) / 60) * 60)
    logged = int(row.logged or 0)
    today = user_today(user)
    days = [{"date": day, "minutes": int(per_day.get(day) or 0), "today": day == today}
            for day in (monday + timedelta(days=i) for i in range(7))]
    return {"monday": monday, "sunday": sunday, "state": row.state or "draft", "logged": logged, "off": off,
            "weekly": weekly, "capacity": capacity, "days": days,
            "percent": min(100, round(100 * logged / capacity)) if capacity else (100 if logged else 0)}


@bp.route("/")
@permission_required("app.use")
def index():
    # cached schedules are kept fresh by the writes that change them and by the daily job; the page
    # recomputes nothing, and says when the oldest forecast it shows was computed if not today
    today = org_today()
    visible = visible_projects_filter(current_user)
    decides = can("timesheets.approve")  # managers, leaders and admins: the first screen is what needs a decision
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
    tasks = _first_tasks("mine", current_user, today, MY_TASK_ROWS)
    decisions = {}
    if decides:
        weeks = _weeks_to_approve(current_user)
        blocked = _first_tasks("blocked", current_user, today)
        customer = _first_tasks("customer_overdue", current_user, today)
        decisions = {
            "projects": _attention_projects(visible, filters),
            "weeks": weeks, "weeks_total": weeks[0].total if weeks else 0,
            "blocked": blocked, "blocked_total": blocked[0].total if blocked else 0,
            "customer": customer, "customer_total": customer[0].total if customer else 0,
        }
    recent = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(5)
    ).all()
    return render_template(
        "dashboard/index.html",
        page=page, filters=filters, sort=sort, today=today, schedule_as_of=schedule_as_of, org_zone=org_zone_name(),
        has_any_project=bool(options["accounts"]),  # every visible project has an account
        health_counts=_health_counts(visible, filters), options=options,
        status_choices=STATUS_CHOICES, sort_choices=SORT_CHOICES, health_labels=HEALTH_LABELS,
        health_badges=HEALTH_BADGES, segment_labels=SEGMENT_LABELS, status_labels=PROJECT_STATUS_LABELS,
        work_status_labels=WORK_STATUS_LABELS,
        due_milestones=due, due_total=due[0].total if due else 0, due_days=DUE_SOON_DAYS,
        my_tasks=tasks, my_tasks_total=tasks[0].total if tasks else 0,
        decides=decides, decisions=decisions, task_lists=TASK_LISTS,
        week=None if decides else _my_week(current_user), hm=lambda minutes: format_minutes(minutes) or "0:00",
        timesheet_state_labels=TIMESHEET_STATE_LABELS, timesheet_state_badges=STATE_BADGES,
        account_count=db.session.scalar(sa.select(sa.func.count(Account.id))) if can("accounts.view") else None,
        notifications=recent,
    )


@bp.route("/tasks")
@permission_required("app.use")
def tasks():
    """A full task list the dashboard links to: ?show=mine (the default), blocked or customer_overdue."""
    key = request.args.get("show", "mine")
    if key not in TASK_LISTS:
        key = "mine"
    today = org_today()
    statement = _task_list_statement(key, current_user, today)
    page = paginate(statement)  # paginates the first column, the task ids; the rows of the page in one more query
    found = {row.id: row for row in db.session.execute(statement.where(Task.id.in_(page.items)))} if page.items else {}
    return render_template("dashboard/tasks.html", key=key, task_list=TASK_LISTS[key], task_lists=TASK_LISTS,
                           page=page, rows=[found[task_id] for task_id in page.items if task_id in found], today=today,
                           work_status_labels=WORK_STATUS_LABELS)


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
