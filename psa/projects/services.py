"""The rules of projects (SPEC §3: progress, forecast, slip, health, each in one function) and the
operations that change a project: creating it from a template, changing tasks and milestones,
shifting successors, success criteria, comments and attachments."""

from __future__ import annotations

import gc
import json
import secrets
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_request_context
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from psa.accounts.models import Account
from psa.admin.services import get_settings
from psa.auth.models import User
from psa.core.audit import record_audit, snapshot
from psa.core.auth import can
from psa.core.calendar import WorkCalendar, get_calendar
from psa.core.clock import org_today
from psa.core.db import utcnow
from psa.core.errors import ValidationError
from psa.core.events import publish as publish_event
from psa.core.models import AuditEvent
from psa.core.money import MAX_AMOUNT, to_money
from psa.core.queue import dispatch
from psa.core.validation import check_date, date_errors
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from psa.project_templates.services import load_version
from psa.projects.models import (
    BILLING_MODELS,
    CRITERION_STATUSES,
    HEALTH_REASON_MAX,
    OPEN_PROJECT_STATUSES,
    PROJECT_STATUSES,
    WORK_STATUSES,
    Attachment,
    Comment,
    Escalation,
    Milestone,
    Project,
    SuccessCriterion,
    Task,
    project_members,
    task_dependencies,
)
from psa.projects.ttv import record_time_to_value

# =================================================================================================
# SPEC §3 rules. Pure functions over plain values; refresh_schedule() applies them to stored rows.
# =================================================================================================


@dataclass(frozen=True)
class PlanTask:
    """What the rules need to know of a task."""

    id: int
    milestone_id: int
    status: str
    due_date: date
    duration_days: int
    estimated_minutes: int
    completed_on: date | None = None
    predecessor_ids: tuple[int, ...] = ()

    @property
    def is_done(self) -> bool:
        return self.status == "done"


def progress(tasks: Iterable[PlanTask], done_without_tasks: bool = False) -> Fraction:
    """SPEC §3 Progress: estimated hours of done tasks / estimated hours of all tasks; by task count
    where no task has an estimate. With no tasks at all: 1 if the milestone is marked done, else 0."""
    tasks = list(tasks)
    if not tasks:
        return Fraction(1 if done_without_tasks else 0)
    total = sum(t.estimated_minutes for t in tasks)
    if total:
        return Fraction(sum(t.estimated_minutes for t in tasks if t.is_done), total)
    return Fraction(sum(1 for t in tasks if t.is_done), len(tasks))


def forecast_tasks(tasks: Iterable[PlanTask], today: date, calendar: WorkCalendar) -> dict[int, date]:
    """SPEC §3 Forecast of every task: a done task's completion date; an open task's forecast end is the
    latest of its due date, today if it is overdue, and its predecessors' latest forecast end plus its
    duration in working days."""
    by_id = {t.id: t for t in tasks}
    forecasts: dict[int, date] = {}

    def visit(task: PlanTask, trail: frozenset[int]) -> date:
        if task.id in forecasts:
            return forecasts[task.id]
        if task.is_done:
            result = task.completed_on or task.due_date
        else:
            candidates = [task.due_date]
            if task.due_date < today:
                candidates.append(today)
            ends = [visit(by_id[p], trail | {task.id}) for p in task.predecessor_ids
                    if p in by_id and p not in trail]
            if ends:
                candidates.append(calendar.add_working_days(max(ends), task.duration_days))
            result = max(candidates)
        forecasts[task.id] = result
        return result

    for task in by_id.values():
        visit(task, frozenset())
    return forecasts


def milestone_forecast(due_date: date, tasks: Iterable[PlanTask], forecasts: dict[int, date]) -> date:
    """SPEC §3: a milestone's forecast is the latest forecast of its open tasks, or its due date if none."""
    open_ends = [forecasts[t.id] for t in tasks if not t.is_done]
    return max(open_ends) if open_ends else due_date


def slip(due_date: date, forecast: date, calendar: WorkCalendar) -> int:
    """SPEC §3 Slip: working days from the milestone's due date to its forecast (0 if not later)."""
    return calendar.working_days_between(due_date, forecast)


@dataclass(frozen=True)
class MilestoneState:
    due_date: date
    is_done: bool
    slip_days: int
    #: What a health reason calls it and links to (optional for the rule itself).
    name: str = ""
    id: int | None = None


@dataclass(frozen=True)
class HealthVerdict:
    """Health, the clause of SPEC §3 that decided it in words, and the milestone that clause names (if any)."""

    health: str
    reason: str
    milestone_id: int | None = None


def _days(n: int) -> str:
    return f"{n} working day{'' if n == 1 else 's'}"


def health_verdict(milestones: Iterable[MilestoneState], *, today: date, calendar: WorkCalendar,
                   progress_ratio: Fraction, burned_minutes: int, budget_minutes: int | None,
                   open_escalation_level: int = 0, red_overdue_days: int = 5,
                   amber_burn_points: int = 15, escalated_milestone: str = "",
                   escalated_milestone_id: int | None = None) -> HealthVerdict:
    """SPEC §3 Health: red if an open escalation is at level ≥ 2 or a milestone is overdue by more than
    red_overdue_days working days; amber if a milestone slips, or hours burned / budget hours exceeds
    progress by more than amber_burn_points percentage points; green otherwise. The first clause that holds
    decides, and is said in words naming the worst milestone (the most overdue, the most slipping, or the one
    whose escalation is at the highest open level: escalated_milestone and its id)."""
    milestones = [m for m in milestones if not m.is_done]
    if open_escalation_level >= 2:
        if escalated_milestone:
            return HealthVerdict("red", f"Escalation level {open_escalation_level} open on {escalated_milestone}",
                                 escalated_milestone_id)
        return HealthVerdict("red", f"Escalation level {open_escalation_level} is open")
    overdue = [(calendar.working_days_between(m.due_date, today), m) for m in milestones]
    late = max(overdue, key=lambda pair: pair[0], default=(0, None))
    if late[0] > red_overdue_days:
        return HealthVerdict("red", f"{late[1].name or 'A milestone'} is overdue by {_days(late[0])}", late[1].id)
    slipping = max(milestones, key=lambda m: m.slip_days, default=None)
    if slipping is not None and slipping.slip_days > 0:
        return HealthVerdict("amber", f"{slipping.name or 'A milestone'} forecasts {_days(slipping.slip_days)} late",
                             slipping.id)
    if budget_minutes:
        burn = Fraction(burned_minutes, budget_minutes)
        if (burn - progress_ratio) * 100 > amber_burn_points:
            return HealthVerdict("amber", f"Burned {int(burn * 100)} % of the budget at "
                                          f"{int(progress_ratio * 100)} % progress")
    return HealthVerdict("green", "On schedule and within budget" if budget_minutes else "On schedule")


def health(milestones: Iterable[MilestoneState], **kwargs) -> str:
    """SPEC §3 Health as a word (green, amber, red); see health_verdict for the rule and its reason."""
    return health_verdict(milestones, **kwargs).health


# --- applying the rules to stored projects -------------------------------------------------------


#: Where health's burn figure comes from: a function of project ids returning minutes logged per project.
#: Time is logged in timesheets, which depends on projects, so projects cannot import it; the app registers
#: psa.timesheets.burn.burned_minutes_by_project at start (create_app) through set_burn_source.
_burn_source: Callable[[list[int]], dict[int, int]] | None = None


def set_burn_source(source: Callable[[list[int]], dict[int, int]] | None) -> None:
    """Register the function giving minutes logged per project (None unregisters it)."""
    global _burn_source
    _burn_source = source


def burned_minutes_by_project(project_ids: list[int]) -> dict[int, int]:
    """Minutes logged per project (every entry, whatever its week's state), for health's burn clause."""
    if _burn_source is None:
        raise RuntimeError("No burn source registered: create_app registers psa.timesheets.burn.")
    return _burn_source(project_ids)


@dataclass(frozen=True)
class OpenEscalation:
    """A project's open escalation at its highest level: what health's escalation clause names."""

    level: int
    milestone_id: int
    milestone_name: str


def open_escalations(project_ids: list[int]) -> dict[int, OpenEscalation]:
    """The open escalation at the highest level per project (the earliest opened on a tie), in one query."""
    if not project_ids:
        return {}
    e, m = Escalation.__table__.c, Milestone.__table__.c
    rows = db.session.connection().execute(
        sa.select(e.project_id, e.level, e.milestone_id, m.name).join(Milestone.__table__, m.id == e.milestone_id)
        .where(e.resolved_at.is_(None), e.project_id.in_(project_ids))
        .order_by(e.project_id, e.level.desc(), e.opened_at, e.id)).all()
    found: dict[int, OpenEscalation] = {}
    for project_id, level, milestone_id, name in rows:
        found.setdefault(project_id, OpenEscalation(level, milestone_id, name))
    return found


def open_escalation_levels(project_ids: list[int]) -> dict[int, int]:
    """Highest open escalation level per project, for health's escalation clause (one query)."""
    return {project_id: found.level for project_id, found in open_escalations(project_ids).items()}


#: The job that sweeps one project's escalations after a change to its plan (psa.escalations, named by its dotted
#: path: projects may not import escalations, which import projects).
SWEEP_PROJECT_JOB = "psa.escalations.tasks.sweep_project_job"
SWEEP_PROJECTS_JOB = "psa.escalations.tasks.sweep_projects_job"


def _sweep_after_commit(project_ids: list[int]) -> None:
    """In a request, have the escalations of these projects swept once the request's transaction commits (their
    forecasts and slips just changed): by the worker, or in the request when Redis does not answer (dispatch).
    Nothing is swept when the transaction rolls back; a job (or the sweep itself, which sets
    session.info["psa_no_sweep_hook"]) refreshing schedules queues nothing."""
    if not has_request_context():
        return
    session = db.session()
    if session.info.get("psa_no_sweep_hook"):
        return
    pending: set[int] = session.info.setdefault("psa_sweep_projects", set())
    pending.update(project_ids)
    if session.info.get("psa_sweep_watched"):
        return
    session.info["psa_sweep_watched"] = True

    def committed(_session):
        ids = sorted(pending)
        pending.clear()
        if len(ids) == 1:
            dispatch(SWEEP_PROJECT_JOB, ids[0])
        elif ids:
            dispatch(SWEEP_PROJECTS_JOB, ids)

    def rolled_back(_session):
        pending.clear()

    sa.event.listen(session, "after_commit", committed)
    sa.event.listen(session, "after_rollback", rolled_back)


#: Projects refreshed per round of queries (bounds the IN lists and the memory of one round).
REFRESH_CHUNK = 1000


def refresh_schedule(project_ids: Iterable[int], today: date | None = None) -> int:
    """Recompute and store forecasts, slips, progress and health of the given projects (SPEC §3), in a
    fixed number of queries per REFRESH_CHUNK projects whatever their size; returns how many it refreshed.

    Reads plain rows (no ORM objects) and writes only the values that changed, in bulk. Pending changes
    are flushed first; objects of the session whose cached values changed get the new ones, so a page
    rendered later in the same request shows them."""
    project_ids = sorted(set(project_ids))
    if not project_ids:
        return 0
    today = today or org_today()
    calendar = get_calendar()
    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    db.session.flush()
    with _cyclic_gc_paused():
        for start in range(0, len(project_ids), REFRESH_CHUNK):
            _refresh_chunk(project_ids[start:start + REFRESH_CHUNK], today, calendar, settings, zone)
    _sweep_after_commit(project_ids)
    return len(project_ids)


@contextmanager
def _cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while a refresh builds its rows and plans: they are hundreds of
    thousands of acyclic objects that live until the refresh ends, and each full collection their growth
    triggers rescans the whole heap (measured: 0.8 s of CPU becomes 0.55 s at 40,000 tasks). Reference
    counting still frees everything; the collector resumes afterwards, unless something else had paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _refresh_chunk(project_ids: list[int], today: date, calendar: WorkCalendar, settings, zone: ZoneInfo) -> None:
    p, m, t, d = Project.__table__.c, Milestone.__table__.c, Task.__table__.c, task_dependencies.c
    execute = db.session.connection().execute
    # the project rows are locked first (in id order) so two transactions refreshing the same project take
    # turns, and the second one reads what the first committed (a refresh never writes a stale result)
    projects = execute(sa.select(p.id, p.status, p.budget_minutes, p.progress_percent, p.max_slip_days, p.health,
                                 p.health_reason, p.health_milestone_id, p.schedule_refreshed_on, p.name).where(p.id.in_(project_ids)).order_by(p.id)
                       .with_for_update(key_share=True)).all()
    milestones = execute(sa.select(m.id, m.project_id, m.name, m.status, m.due_date, m.completed_at, m.forecast_date,
                                   m.slip_days).where(m.project_id.in_(project_ids))
                         .order_by(m.project_id, m.position)).all()
    tasks = execute(sa.select(t.id, t.project_id, t.milestone_id, t.status, t.due_date, t.duration_days,
                              t.estimated_minutes, t.completed_at, t.forecast_date)
                    .where(t.project_id.in_(project_ids))).all()
    edges: dict[int, list[int]] = {}
    for task_id, predecessor_id in execute(sa.select(d.task_id, d.predecessor_id).join(Task.__table__, t.id == d.task_id)
                                           .where(t.project_id.in_(project_ids))).all():
        edges.setdefault(task_id, []).append(predecessor_id)
    burned = burned_minutes_by_project(project_ids)
    escalations = open_escalations(project_ids)

    plans_by_project: dict[int, list[PlanTask]] = {}
    old_task_forecasts: dict[int, date | None] = {}
    no_edges = ()
    for task_id, project_id, milestone_id, status, due_date, duration, estimate, completed_at, forecast in tasks:
        plans = plans_by_project.get(project_id)
        if plans is None:
            plans = plans_by_project[project_id] = []
        plans.append(PlanTask(task_id, milestone_id, status, due_date, duration, estimate,
                              completed_at.astimezone(zone).date() if completed_at else None,
                              tuple(edges.get(task_id, no_edges))))
        old_task_forecasts[task_id] = forecast
    milestones_by_project: dict[int, list] = {}
    for row in milestones:
        milestones_by_project.setdefault(row.project_id, []).append(row)

    task_changes: list[dict] = []
    milestone_changes: list[dict] = []
    project_changes: list[dict] = []
    for project in projects:
        plans = plans_by_project.get(project.id, [])
        forecasts = forecast_tasks(plans, today, calendar)
        task_changes.extend({"id": task_id, "forecast_date": forecast} for task_id, forecast in forecasts.items()
                            if old_task_forecasts[task_id] != forecast)
        plans_by_milestone: dict[int, list[PlanTask]] = {}
        for plan in plans:
            plans_by_milestone.setdefault(plan.milestone_id, []).append(plan)
        states = []
        for row in milestones_by_project.get(project.id, []):
            if row.status == "done":
                forecast = (row.completed_at.astimezone(zone).date() if row.completed_at else None) or row.due_date
                slip_days = 0
            else:
                forecast = milestone_forecast(row.due_date, plans_by_milestone.get(row.id, ()), forecasts)
                slip_days = slip(row.due_date, forecast, calendar)
            if (row.forecast_date, row.slip_days) != (forecast, slip_days):
                milestone_changes.append({"id": row.id, "forecast_date": forecast, "slip_days": slip_days})
            states.append(MilestoneState(row.due_date, row.status == "done", slip_days, row.name, row.id))
        ratio = progress(plans) if plans else progress([], done_without_tasks=bool(states) and all(
            s.is_done for s in states))
        verdict = health_verdict(
            states, today=today, calendar=calendar, progress_ratio=ratio,
            burned_minutes=burned.get(project.id, 0), budget_minutes=project.budget_minutes,
            open_escalation_level=escalations[project.id].level if project.id in escalations else 0,
            escalated_milestone=escalations[project.id].milestone_name if project.id in escalations else "",
            escalated_milestone_id=escalations[project.id].milestone_id if project.id in escalations else None,
            red_overdue_days=settings.health_red_overdue_days,
            amber_burn_points=settings.health_amber_burn_points,
        ) if project.status != "cancelled" else HealthVerdict("green", "Cancelled: health is not followed")
        values = {
            "progress_percent": int(ratio * 100),
            "max_slip_days": max((s.slip_days for s in states), default=0),
            "health": verdict.health,
            "health_reason": verdict.reason[:HEALTH_REASON_MAX],
            "health_milestone_id": verdict.milestone_id,
            "schedule_refreshed_on": today,
        }
        if any(getattr(project, name) != value for name, value in values.items()):
            project_changes.append({"id": project.id, **values})
        if project.schedule_refreshed_on is not None and project.health != verdict.health:
            publish_event("project.health_changed", {"project_id": project.id, "project_name": project.name,
                                                     "health": verdict.health, "previous_health": project.health,
                                                     "reason": values["health_reason"]})
    _bulk_update(Task, task_changes)
    _bulk_update(Milestone, milestone_changes)
    _bulk_update(Project, project_changes)


def _bulk_update(model, changes: list[dict]) -> None:
    """Write `changes` (dicts of id and new column values, all with the same keys) to the model's table:
    on PostgreSQL one UPDATE … FROM json_to_recordset(:rows) (the rows travel as one JSON text, serialised
    in C), elsewhere one executemany of UPDATE … WHERE id = :id. Objects of the session for those rows take
    the new values as committed ones."""
    if not changes:
        return
    table = model.__table__
    names = [name for name in changes[0] if name != "id"]
    if db.session.get_bind().dialect.name == "postgresql":
        source = (sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", type_=sa.Text), sa.JSON))
                  .table_valued(*(sa.column(name, table.c[name].type) for name in ("id", *names)))
                  .render_derived(name="v", with_types=True))
        statement = (sa.update(table).where(table.c.id == source.c.id)
                     .values({name: source.c[name] for name in names}))
        db.session.execute(statement, {"rows": json.dumps(changes, default=date.isoformat)})
    else:
        statement = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
                     .values({name: sa.bindparam(name) for name in names}))
        db.session.connection().execute(statement, [{"row_id": row["id"], **{n: row[n] for n in names}}
                                                    for row in changes])
    identity_map, mapper = db.session.identity_map, sa.inspect(model)
    for row in changes:
        loaded = identity_map.get(mapper.identity_key_from_primary_key([row["id"]]))
        if loaded is not None:
            for name in names:
                set_committed_value(loaded, name, row[name])


def refresh_stale_schedules(today: date | None = None) -> int:
    """Refresh open projects not yet refreshed today (forecasts move with the calendar); one query when none."""
    today = today or org_today()
    stale = db.session.scalars(sa.select(Project.id).where(
        Project.status.in_(OPEN_PROJECT_STATUSES),
        sa.or_(Project.schedule_refreshed_on.is_(None), Project.schedule_refreshed_on < today))).all()
    refresh_schedule(stale, today)
    return len(stale)


def refresh_open_schedules(today: date | None = None) -> int:
    """Refresh every open project: what a change of the calendar or of the thresholds calls."""
    return refresh_schedule(db.session.scalars(sa.select(Project.id).where(
        Project.status.in_(OPEN_PROJECT_STATUSES))).all(), today)


def refresh_after_time_change(project_ids: Iterable[int]) -> int:
    """Time was logged, changed or deleted on these projects (by the grid, an import or the API): their
    burn, an input of health, moved."""
    return refresh_schedule(project_ids)


# =================================================================================================
# Operations
# =================================================================================================

PROJECT_FIELDS = ("name", "account_id", "kickoff_date", "contract_signed_date", "target_go_live_date", "manager_id",
                  "billing_model", "fee_amount", "budget_minutes", "status", "portal_shows_hours")
TASK_AUDIT_FIELDS = ("status", "start_date", "due_date", "assignee_id", "blocked_reason")


def _check_project_fields(*, account, name, kickoff_date, contract_signed_date, manager, billing_model, fee_amount,
                          budget_minutes, status, target_go_live_date=None) -> Decimal | None:
    """Refuse what is wrong, at its field; return the fee as stored (two decimals, never rounded) or None."""
    errors = {}
    if not isinstance(account, Account):
        errors["account_id"] = "Choose an existing customer account."
    if not (name or "").strip():
        errors["name"] = "Give the project a name."
    elif len(name.strip()) > 200:
        errors["name"] = "Use at most 200 characters."
    if not isinstance(kickoff_date, date):
        errors["kickoff_date"] = "Enter the kickoff date as YYYY-MM-DD."
    errors.update(date_errors(kickoff_date=kickoff_date, contract_signed_date=contract_signed_date,
                              target_go_live_date=target_go_live_date))
    if contract_signed_date and isinstance(kickoff_date, date) and contract_signed_date > kickoff_date:
        errors["contract_signed_date"] = "The contract is signed on or before kickoff."
    if target_go_live_date and isinstance(kickoff_date, date) and target_go_live_date < kickoff_date:
        errors["target_go_live_date"] = "Go-live cannot be before kickoff."
    if not isinstance(manager, User) or not manager.is_active or manager.role == "consultant":
        errors["manager_id"] = "Choose an active manager, leader or admin."
    if billing_model not in BILLING_MODELS:
        errors["billing_model"] = "Choose fixed fee, time and materials or non-billable."
    if fee_amount is not None and fee_amount != "":
        try:
            fee_amount = to_money(fee_amount, "fee_amount", high=MAX_AMOUNT)
        except ValidationError as exc:
            errors.update(exc.errors)
            fee_amount = None
    else:
        fee_amount = None
    if "fee_amount" not in errors and billing_model == "fixed_fee" and not fee_amount:
        errors["fee_amount"] = "A fixed-fee project needs its fee."
    if billing_model == "non_billable" and fee_amount:
        errors["fee_amount"] = "A non-billable project has no fee."
    if budget_minutes is not None and budget_minutes < 0:
        errors["budget_minutes"] = "The budget cannot be negative."
    if status not in PROJECT_STATUSES:
        errors["status"] = "Choose a status from the list."
    if errors:
        raise ValidationError(errors)
    return fee_amount


def _check_members(members: Iterable[User], project: Project | None = None) -> list[User]:
    """The members as a list; each one active, or already on the project (the forms' pickers offer active people
    and, when editing, the project's current members even once deactivated)."""
    members = list(members)
    current = set()
    if project is not None and project.id is not None:
        current = set(db.session.scalars(sa.select(project_members.c.user_id).where(
            project_members.c.project_id == project.id)))
    if any(not isinstance(u, User) or not (u.is_active or u.id in current) for u in members):
        raise ValidationError({"member_ids": "Choose active people as members."})
    return members


def create_project(actor, *, account: Account, name: str, kickoff_date: date, manager: User,
                   template_version: TemplateVersion | None = None, contract_signed_date: date | None = None,
                   target_go_live_date: date | None = None, members: Iterable[User] = (),
                   billing_model: str = "fixed_fee", fee_amount: Decimal | None = None,
                   budget_minutes: int | None = None, status: str = "active",
                   role_assignees: dict[str, User | None] | None = None, portal_shows_hours: bool = False) -> Project:
    """Create a project, from a published template version or blank. Every date comes from the template's
    working-day offsets from K = kickoff + 0 working days, and is stored as baseline and current date. The
    template's internal tasks go to people by psa.projects.staffing (`role_assignees`: a person chosen per
    role, None for the default)."""
    fee_amount = _check_project_fields(account=account, name=name, kickoff_date=kickoff_date,
                                       contract_signed_date=contract_signed_date, manager=manager,
                                       billing_model=billing_model, fee_amount=fee_amount,
                                       budget_minutes=budget_minutes, status=status,
                                       target_go_live_date=target_go_live_date)
    members = _check_members(members)
    if template_version is not None and template_version.state != "published":
        raise ValidationError({"template_version_id": "Only a published template version can be used."})
    calendar = get_calendar()
    project = Project(account_id=account.id, name=name.strip(), kickoff_date=kickoff_date,
                      contract_signed_date=contract_signed_date, manager_id=manager.id, billing_model=billing_model,
                      fee_amount=fee_amount, budget_minutes=budget_minutes, status=status,
                      portal_shows_hours=bool(portal_shows_hours),
                      template_version_id=template_version.id if template_version else None)
    db.session.add(project)
    db.session.flush()
    members = list(members)
    member_ids = {manager.id, *(u.id for u in members)}
    db.session.execute(sa.insert(project_members), [{"project_id": project.id, "user_id": i}
                                                             for i in sorted(member_ids)])
    last_due = kickoff_date
    if template_version is not None:
        version = load_version(template_version.id)
        k = calendar.add_working_days(kickoff_date, 0)
        copies: dict[int, Task] = {}
        total_estimate = 0
        for tm in version.milestones:
            due = calendar.add_working_days(k, tm.offset_days)
            milestone = Milestone(project_id=project.id, position=tm.position, name=tm.name, baseline_due_date=due,
                                  due_date=due, is_customer_visible=tm.is_customer_visible,
                                  requires_signoff=tm.requires_signoff, is_first_value=tm.is_first_value,
                                  fee_share_percent=tm.fee_share_percent)
            db.session.add(milestone)
            db.session.flush()
            last_due = max(last_due, due)
            for tt in tm.tasks:
                start = calendar.add_working_days(k, tt.offset_days)
                task_due = calendar.add_working_days(start, tt.duration_days - 1)
                task = Task(project_id=project.id, milestone_id=milestone.id, position=tt.position, name=tt.name,
                            baseline_start_date=start, baseline_due_date=task_due, start_date=start,
                            due_date=task_due, duration_days=tt.duration_days,
                            estimated_minutes=tt.estimated_minutes, assignee_role=tt.assignee_role,
                            visibility=tt.visibility)
                db.session.add(task)
                copies[tt.id] = task
                total_estimate += tt.estimated_minutes
        db.session.flush()
        rows = [{"task_id": copies[tt.id].id, "predecessor_id": copies[p.id].id}
                for tm in version.milestones for tt in tm.tasks for p in tt.predecessors]
        if rows:
            db.session.execute(sa.insert(task_dependencies), rows)
        for tc in version.criteria:
            db.session.add(SuccessCriterion(
                project_id=project.id, position=tc.position, outcome=tc.outcome, metric=tc.metric,
                baseline=tc.baseline, target=tc.target,
                due_date=date.fromordinal(kickoff_date.toordinal() + tc.due_offset_days)
                if tc.due_offset_days is not None else None))
        if budget_minutes is None and total_estimate:
            project.budget_minutes = total_estimate
        from psa.projects.staffing import assign_new_project

        assign_new_project(project, manager=manager, members=members, chosen=role_assignees)
    project.target_go_live_date = target_go_live_date or last_due
    db.session.flush()
    record_audit(actor, "project.created", project, after=snapshot(project, PROJECT_FIELDS))
    publish_event("project.created", {"project_id": project.id, "project_name": project.name,
                                      "account_id": account.id, "account_name": account.name, "status": status})
    refresh_schedule([project.id])
    return project


def update_project(actor, project: Project, *, account: Account, name: str, kickoff_date: date,
                   contract_signed_date: date | None, target_go_live_date: date | None, manager: User,
                   members: Iterable[User], billing_model: str, fee_amount: Decimal | None,
                   budget_minutes: int | None, status: str, portal_shows_hours: bool | None = None) -> Project:
    """Change a project's details; the kickoff date is kept for reference, planned dates do not move.
    `portal_shows_hours` None keeps the portal's hours widget as it is."""
    fee_amount = _check_project_fields(account=account, name=name, kickoff_date=kickoff_date,
                                       contract_signed_date=contract_signed_date, manager=manager,
                                       billing_model=billing_model, fee_amount=fee_amount,
                                       budget_minutes=budget_minutes, status=status,
                                       target_go_live_date=target_go_live_date)
    members = _check_members(members, project)
    before = snapshot(project, PROJECT_FIELDS)
    project.account_id, project.name, project.kickoff_date = account.id, name.strip(), kickoff_date
    project.contract_signed_date, project.target_go_live_date = contract_signed_date, target_go_live_date
    project.manager_id, project.billing_model, project.fee_amount = manager.id, billing_model, fee_amount
    project.budget_minutes, project.status = budget_minutes, status
    if portal_shows_hours is not None:
        project.portal_shows_hours = bool(portal_shows_hours)
    table = project_members
    db.session.execute(sa.delete(table).where(table.c.project_id == project.id))
    member_ids = {manager.id, *(u.id for u in members)}
    db.session.execute(sa.insert(table), [{"project_id": project.id, "user_id": i} for i in sorted(member_ids)])
    db.session.flush()
    record_audit(actor, "project.updated", project, before, snapshot(project, PROJECT_FIELDS))
    record_time_to_value([project.id])  # the contract signed and kickoff dates are where TTV counts from
    refresh_schedule([project.id])
    return project


def successors_of(task_id: int, project_id: int) -> list[int]:
    """Every task that waits, directly or through others, for the given task."""
    edges: dict[int, list[int]] = {}
    for successor, predecessor in db.session.execute(
        sa.select(task_dependencies.c.task_id, task_dependencies.c.predecessor_id)
        .join(Task, Task.id == task_dependencies.c.task_id).where(Task.project_id == project_id)
    ):
        edges.setdefault(predecessor, []).append(successor)
    found, stack = [], [task_id]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in found and nxt != task_id:
                found.append(nxt)
                stack.append(nxt)
    return found


def _milestone_event(milestone: Milestone) -> dict:
    """The data of a milestone's webhook events (psa.core.events): ids, names and state, no money."""
    project_name = db.session.scalar(sa.select(Project.name).where(Project.id == milestone.project_id))
    return {"project_id": milestone.project_id, "project_name": project_name, "milestone_id": milestone.id,
            "milestone_name": milestone.name, "status": milestone.status}


def _sync_milestone_status(milestone_id: int, actor=None) -> None:
    """A milestone is done when all its tasks are done; otherwise its status follows its tasks. The change
    is recorded as the act of whoever changed the task."""
    milestone = db.session.get(Milestone, milestone_id)
    statuses = db.session.scalars(sa.select(Task.status).where(Task.milestone_id == milestone_id)).all()
    if not statuses:
        return
    before = snapshot(milestone, ("status",))
    if all(s == "done" for s in statuses):
        new = "done"
    elif "blocked" in statuses:
        new = "blocked"
    elif any(s in ("in_progress", "done") for s in statuses):
        new = "in_progress"
    else:
        new = "todo"
    if new != milestone.status:
        milestone.status = new
        milestone.completed_at = utcnow() if new == "done" else None
        record_audit(actor, "milestone.status_changed", milestone, before, snapshot(milestone, ("status",)))
        if new == "done":
            publish_event("milestone.completed", lambda: _milestone_event(milestone))
        if milestone.is_first_value:
            record_time_to_value([milestone.project_id])  # SPEC §3: TTV stored on completion, cleared on reopening


def _on_project(user: User, project_id: int) -> bool:
    """The user manages the project or is one of its members."""
    table = project_members
    return bool(db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(
        Project.id == project_id, sa.or_(Project.manager_id == user.id, sa.exists().where(
            table.c.project_id == project_id, table.c.user_id == user.id)))))


@dataclass
class TaskChange:
    """What update_task did beyond the task itself: the successors it moved (id, old start, old due, new
    start, new due) and by how many working days, for the message next to the task and its undo."""

    moved_by: int = 0
    moves: list[tuple[int, date, date, date, date]] = field(default_factory=list)


def update_task(actor, task: Task, *, status: str | None = None, due_date: date | None = None,
                assignee: User | None | bool = False, blocked_reason: str | None = None,
                shift_successors: bool = True, change: TaskChange | None = None,
                assignee_contact=False) -> Task:
    """Change a task's status, due date, assignee or blocked reason. Moving the due date later by n working
    days moves every successor's dates by n working days too, unless shift_successors is False; the
    baseline never moves. `change`, when given, is told which successors moved. `assignee_contact` (a
    customer task's): an active contact of the project's account, or None for "the customer" as a group
    (False leaves it); a contact newly given the task is e-mailed (psa.projects.staffing.contact_assigned)."""
    from psa.projects import staffing

    errors = {}
    calendar = get_calendar()
    if status is not None and status not in WORK_STATUSES:
        errors["status"] = "Choose to do, in progress, blocked or done."
    new_status = status or task.status
    reason = (blocked_reason if blocked_reason is not None else task.blocked_reason or "").strip()
    if new_status == "blocked" and not reason:
        errors["blocked_reason"] = "Say why the task is blocked."
    if len(reason) > 500:
        errors["blocked_reason"] = "Use at most 500 characters."
    if due_date is not None and due_date < task.start_date:
        errors["due_date"] = f"The due date cannot be before the task starts ({task.start_date.isoformat()})."
    errors.update(date_errors(due_date=due_date))
    if assignee not in (False, None) and (not isinstance(assignee, User) or not assignee.is_active):
        errors["assignee_id"] = "Choose an active user."
    elif isinstance(assignee, User) and assignee.id != task.assignee_id and not _on_project(assignee, task.project_id):
        # the rule the plan's and the edit page's pickers drew (they offer only the project's people)
        errors["assignee_id"] = "Choose the project manager or one of the members."
    elif (isinstance(assignee, User) and assignee.id != task.assignee_id
          and task.assignee_role == staffing.CUSTOMER_ROLE):
        errors["assignee_id"] = "A customer task goes to one of the customer's contacts: choose one on its page."
    if assignee_contact is not False:
        if task.assignee_role != staffing.CUSTOMER_ROLE:
            errors["assignee_contact_id"] = "Only a customer task goes to a contact."
        elif assignee_contact is not None and (message := staffing.contact_error(assignee_contact, db.session.scalar(
                sa.select(Project.account_id).where(Project.id == task.project_id)))):
            errors["assignee_contact_id"] = message
    if errors:
        raise ValidationError(errors)
    audited = (*TASK_AUDIT_FIELDS, "assignee_contact_id")
    before = snapshot(task, audited)
    if status is not None and status != task.status:
        task.status = status
        task.completed_at = utcnow() if status == "done" else None
    task.blocked_reason = reason if new_status == "blocked" else None
    if assignee is not False:
        task.assignee_id = assignee.id if assignee else None
    newly_assigned = None
    if assignee_contact is not False:
        new_contact_id = assignee_contact.id if assignee_contact is not None else None
        if new_contact_id != task.assignee_contact_id and assignee_contact is not None:
            newly_assigned = assignee_contact
        task.assignee_contact_id = new_contact_id
    shifted = 0
    if due_date is not None and due_date != task.due_date:
        moved_by = calendar.working_days_between(task.due_date, due_date)
        task.due_date = due_date
        if shift_successors and moved_by > 0:
            for successor in db.session.scalars(sa.select(Task).where(
                    Task.id.in_(successors_of(task.id, task.project_id)))):
                successor_before = snapshot(successor, ("start_date", "due_date"))
                old_start, old_due = successor.start_date, successor.due_date
                successor.start_date = calendar.add_working_days(successor.start_date, moved_by)
                successor.due_date = calendar.add_working_days(successor.due_date, moved_by)
                if change is not None:
                    change.moved_by = moved_by
                    change.moves.append((successor.id, old_start, old_due, successor.start_date, successor.due_date))
                record_audit(actor, "task.shifted", successor, successor_before,
                             snapshot(successor, ("start_date", "due_date")))
                shifted += 1
    db.session.flush()
    after = snapshot(task, audited)
    if before != after:
        record_audit(actor, "task.updated", task, before, after)
    if newly_assigned is not None:
        staffing.contact_assigned(actor, newly_assigned, [task])
    _sync_milestone_status(task.milestone_id, actor)
    refresh_schedule([task.project_id])
    return task


def undo_successor_shift(actor, project: Project, moves: Iterable[tuple[int, date, date, date, date]]) -> int:
    """Put back the successors a task change moved (TaskChange.moves), each only if it still has the dates that
    change gave it (a conditional update: a successor changed since keeps its dates); returns how many."""
    undone = 0
    for task_id, old_start, old_due, new_start, new_due in moves:
        result = db.session.execute(
            sa.update(Task).where(Task.id == task_id, Task.project_id == project.id, Task.start_date == new_start,
                                  Task.due_date == new_due)
            .values(start_date=old_start, due_date=old_due).execution_options(synchronize_session=False))
        if result.rowcount:
            undone += 1
            task = db.session.get(Task, task_id)
            db.session.refresh(task, ["start_date", "due_date"])
            record_audit(actor, "task.shift_undone", task, {"start_date": new_start.isoformat(),
                                                            "due_date": new_due.isoformat()},
                         {"start_date": old_start.isoformat(), "due_date": old_due.isoformat()})
    db.session.flush()
    refresh_schedule([project.id])
    return undone


def change_summary(project_id: int, change: TaskChange, slips_before: dict[int, int]) -> str:
    """The consequence of a task change in words, for the line under the task: the successors moved and the
    milestones whose forecast moved ("3 following tasks moved 2 working days later; Go-live now forecasts 1
    working day late"). `slips_before` is milestone id -> slip days read before the change."""
    parts = []
    if change.moves:
        count = len(change.moves)
        parts.append(f"{count} following task{'s' if count != 1 else ''} moved {_days(change.moved_by)} later")
    rows = db.session.execute(sa.select(Milestone.id, Milestone.name, Milestone.slip_days)
                              .where(Milestone.project_id == project_id).order_by(Milestone.position)).all()
    for row in rows:
        before = slips_before.get(row.id, 0)
        if row.slip_days != before:
            parts.append(f"{row.name} now forecasts {_days(row.slip_days)} late" if row.slip_days
                         else f"{row.name} is back on schedule")
    return "; ".join(parts)


def milestone_slips(project_id: int) -> dict[int, int]:
    """Milestone id -> cached slip days of a project (read before a change, for change_summary)."""
    return dict(db.session.execute(sa.select(Milestone.id, Milestone.slip_days)
                                   .where(Milestone.project_id == project_id)).all())


def update_milestone(actor, milestone: Milestone, *, due_date: date | None = None, status: str | None = None) -> Milestone:
    """Move a milestone's due date, or mark a milestone without tasks done or open again."""
    before = snapshot(milestone, ("due_date", "status"))
    check_date(due_date, "due_date", required=False)
    if status is not None:
        if status not in WORK_STATUSES:
            raise ValidationError({"status": "Choose to do, in progress, blocked or done."})
        has_tasks = db.session.scalar(sa.select(sa.func.count(Task.id)).where(Task.milestone_id == milestone.id))
        if has_tasks:
            raise ValidationError({"status": "This milestone is done when all its tasks are done."})
        milestone.status = status
        milestone.completed_at = utcnow() if status == "done" else None
    if due_date is not None:
        milestone.due_date = due_date
    db.session.flush()
    after = snapshot(milestone, ("due_date", "status"))
    if before != after:
        record_audit(actor, "milestone.updated", milestone, before, after)
    if after["status"] == "done" != before["status"]:
        publish_event("milestone.completed", lambda: _milestone_event(milestone))
    if status is not None and milestone.is_first_value:
        record_time_to_value([milestone.project_id])
    refresh_schedule([milestone.project_id])
    return milestone


def add_task_to_milestone(actor, milestone: Milestone, *, name: str, start_date: date, duration_days: int = 1,
                          estimated_minutes: int = 0, assignee_role: str = "consultant",
                          visibility: str = "internal") -> Task:
    """Add a task to a running project (for blank projects and additions to a plan)."""
    from psa.project_templates.services import clean_task_fields

    clean = clean_task_fields({"name": name, "offset_days": 0, "duration_days": duration_days,
                         "estimated_minutes": estimated_minutes, "assignee_role": assignee_role,
                         "visibility": visibility})
    if not isinstance(start_date, date):
        raise ValidationError({"start_date": "Enter the start date as YYYY-MM-DD."})
    check_date(start_date, "start_date")
    calendar = get_calendar()
    start = calendar.add_working_days(start_date, 0)
    due = calendar.add_working_days(start, clean["duration_days"] - 1)
    position = (db.session.scalar(sa.select(sa.func.max(Task.position)).where(Task.milestone_id == milestone.id))
                or 0) + 1
    task = Task(project_id=milestone.project_id, milestone_id=milestone.id, position=position, name=clean["name"],
                baseline_start_date=start, baseline_due_date=due, start_date=start, due_date=due,
                duration_days=clean["duration_days"], estimated_minutes=clean["estimated_minutes"],
                assignee_role=clean["assignee_role"], visibility=clean["visibility"])
    db.session.add(task)
    db.session.flush()
    record_audit(actor, "task.created", task, after=snapshot(task, ("name", "start_date", "due_date")))
    _sync_milestone_status(milestone.id, actor)
    refresh_schedule([milestone.project_id])
    return task


def add_milestone_to_project(actor, project: Project, *, name: str, due_date: date) -> Milestone:
    if not (name or "").strip() or len(name.strip()) > 200:
        raise ValidationError({"name": "Give the milestone a name of at most 200 characters."})
    if not isinstance(due_date, date):
        raise ValidationError({"due_date": "Enter the due date as YYYY-MM-DD."})
    check_date(due_date, "due_date")
    position = (db.session.scalar(sa.select(sa.func.max(Milestone.position))
                                  .where(Milestone.project_id == project.id)) or 0) + 1
    milestone = Milestone(project_id=project.id, position=position, name=name.strip(), baseline_due_date=due_date,
                          due_date=due_date)
    db.session.add(milestone)
    db.session.flush()
    record_audit(actor, "milestone.created", milestone, after=snapshot(milestone, ("name", "due_date")))
    refresh_schedule([project.id])
    return milestone


# --- success criteria ----------------------------------------------------------------------------

CRITERION_FIELDS = ("outcome", "metric", "baseline", "target", "current_value", "due_date", "status")


def save_criterion(actor, project: Project, criterion: SuccessCriterion | None = None, **fields) -> SuccessCriterion:
    outcome = (fields.get("outcome") or "").strip()
    errors = {}
    if not outcome or len(outcome) > 200:
        errors["outcome"] = "Describe the outcome in at most 200 characters."
    if fields.get("status", "not_started") not in CRITERION_STATUSES:
        errors["status"] = "Choose a status from the list."
    for name, limit in (("metric", 200), ("baseline", 120), ("target", 120), ("current_value", 120)):
        if len((fields.get(name) or "").strip()) > limit:
            errors[name] = f"Use at most {limit} characters."
    errors.update(date_errors(due_date=fields.get("due_date")))
    if errors:
        raise ValidationError(errors)
    if criterion is None:
        position = (db.session.scalar(sa.select(sa.func.max(SuccessCriterion.position))
                                      .where(SuccessCriterion.project_id == project.id)) or 0) + 1
        criterion = SuccessCriterion(project_id=project.id, position=position)
        db.session.add(criterion)
        before = None
    else:
        before = snapshot(criterion, CRITERION_FIELDS)
    criterion.outcome = outcome
    for name in ("metric", "baseline", "target", "current_value"):
        setattr(criterion, name, (fields.get(name) or "").strip())
    criterion.due_date = fields.get("due_date")
    criterion.status = fields.get("status", "not_started")
    db.session.flush()
    record_audit(actor, "criterion.saved", criterion, before, snapshot(criterion, CRITERION_FIELDS))
    return criterion


# --- comments and attachments --------------------------------------------------------------------

#: Attachment types accepted, by extension, with the content type they are served as.
ATTACHMENT_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "txt": "text/plain", "csv": "text/csv", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation", "zip": "application/zip",
}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def add_comment(actor, project: Project, *, body: str, visibility: str = "internal", milestone: Milestone | None = None,
                task: Task | None = None) -> Comment:
    """A comment by an internal user, or by a portal contact (`actor.is_contact`: its contact author, always
    shared)."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > 5000:
        raise ValidationError({"body": "Use at most 5,000 characters."})
    if visibility not in ("internal", "shared"):
        raise ValidationError({"visibility": "Choose internal or shared."})
    by_contact = bool(getattr(actor, "is_contact", False))
    if by_contact:
        visibility = "shared"  # a customer's comment is always the customer's to see
    comment = Comment(project_id=project.id, milestone_id=milestone.id if milestone else None,
                      task_id=task.id if task else None,
                      author_id=None if by_contact else getattr(actor, "id", None),
                      author_contact_id=actor.id if by_contact else None,
                      visibility=visibility, body=body)
    db.session.add(comment)
    db.session.flush()
    return comment


def attachment_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "attachments"


#: What each allowed type's content starts with (docx, xlsx and pptx are zip files); the text types (None)
#: must decode as UTF-8 and hold no NUL instead.
ATTACHMENT_SIGNATURES: dict[str, tuple[bytes, ...] | None] = {
    "pdf": (b"%PDF-",), "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"), "docx": (b"PK\x03\x04",), "xlsx": (b"PK\x03\x04",), "pptx": (b"PK\x03\x04",),
    "zip": (b"PK\x03\x04",), "txt": None, "csv": None,
}


def content_matches_type(extension: str, data: bytes) -> bool:
    """Whether the file's content is what its extension says: the type is checked by content, so a renamed
    executable or page is refused whatever its name. Internal and portal uploads share the rule."""
    if extension not in ATTACHMENT_SIGNATURES:
        return False
    signatures = ATTACHMENT_SIGNATURES[extension]
    if signatures is not None:
        return data.startswith(signatures)
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def add_attachment(actor, project: Project, *, filename: str, data: bytes, task: Task | None = None,
                   comment: Comment | None = None, visibility: str = "internal") -> Attachment:
    """Store a file under a random name outside the web root, within the size and type limits; the type is
    checked by the file's content as well as its name. A portal contact's file (`actor.is_contact`) is shared
    and carries its contact as uploader."""
    name = Path((filename or "").replace("\\", "/")).name.strip()[:255]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if not name:
        raise ValidationError({"file": "Choose a file."})
    if extension not in ATTACHMENT_TYPES:
        raise ValidationError({"file": "Allowed types: " + ", ".join(sorted(ATTACHMENT_TYPES)) + "."})
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise ValidationError({"file": "A file can be at most 10 MB."})
    if not data:
        raise ValidationError({"file": "The file is empty."})
    if not content_matches_type(extension, data):
        raise ValidationError({"file": f"This file's content is not a .{extension} file."})
    by_contact = bool(getattr(actor, "is_contact", False))
    if by_contact:
        visibility = "shared"
    if visibility not in ("internal", "shared"):
        raise ValidationError({"visibility": "Choose internal or shared."})
    stored = secrets.token_hex(24)
    attachment = Attachment(project_id=project.id, task_id=task.id if task else None,
                            comment_id=comment.id if comment else None, original_name=name, stored_name=stored,
                            content_type=ATTACHMENT_TYPES[extension], size_bytes=len(data),
                            uploaded_by_id=None if by_contact else getattr(actor, "id", None),
                            uploaded_by_contact_id=actor.id if by_contact else None, visibility=visibility)
    db.session.add(attachment)
    db.session.flush()
    record_audit(actor, "portal.file_added" if by_contact else "attachment.added", attachment,
                 after={"name": name, "project_id": project.id})
    db.session.flush()
    # the file is written once the row is in the transaction, and removed if the transaction rolls back
    folder = attachment_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / stored
    path.write_bytes(data)
    _remove_on_rollback(path)
    return attachment


def _remove_on_rollback(path: Path) -> None:
    """Delete the file if the session's transaction rolls back instead of committing (no orphan on disk)."""
    session = db.session()
    pending = session.info.setdefault("psa_new_files", [])
    pending.append(path)
    if session.info.get("psa_new_files_watched"):
        return
    session.info["psa_new_files_watched"] = True

    def committed(_session):
        pending.clear()

    def rolled_back(_session):
        for written in pending:
            written.unlink(missing_ok=True)
        pending.clear()

    sa.event.listen(session, "after_commit", committed)
    sa.event.listen(session, "after_rollback", rolled_back)


# --- loading for pages ---------------------------------------------------------------------------


def load_project(project_id: int) -> Project | None:
    """A project with its account, manager, members, milestones, tasks (with assignees and predecessors)."""
    return db.session.scalar(
        sa.select(Project).where(Project.id == project_id).options(
            selectinload(Project.account), selectinload(Project.manager), selectinload(Project.members),
            selectinload(Project.milestones).selectinload(Milestone.tasks).options(
                selectinload(Task.assignee), selectinload(Task.predecessors)),
        )
    )


#: The audit object types of a project's activity feed, and the rows whose ids they carry (None: the project).
ACTIVITY_SOURCES = {"project": None, "milestone": Milestone, "task": Task, "successcriterion": SuccessCriterion,
                    "attachment": Attachment}


def project_activity(project_id: int, limit: int = 50) -> list[AuditEvent]:
    """The newest `limit` audit events of the project and of its milestones, tasks, criteria and files
    (newest first, ties by id), with their actors.

    One UNION ALL branch per object type, each its own newest `limit` (so each uses ix_audit_events_object,
    where one OR of IN subqueries made PostgreSQL walk ix_audit_events_at backwards over every event), then
    the merged ids cut to `limit`: the same events in the same order as the OR."""
    newest = (AuditEvent.at.desc(), AuditEvent.id.desc())
    branches = []
    for object_type, model in ACTIVITY_SOURCES.items():
        ids = (AuditEvent.object_id == project_id if model is None
               else AuditEvent.object_id.in_(sa.select(model.id).where(model.project_id == project_id)))
        branch = (sa.select(AuditEvent.id).where(AuditEvent.object_type == object_type, ids)
                  .order_by(*newest).limit(limit).subquery(f"activity_{object_type}"))
        branches.append(sa.select(branch.c.id))
    merged = sa.union_all(*branches).subquery("activity")
    return db.session.scalars(
        sa.select(AuditEvent).options(joinedload(AuditEvent.actor))
        .where(AuditEvent.id.in_(sa.select(merged.c.id))).order_by(*newest).limit(limit)
    ).all()


def can_view_project(user, project: Project) -> bool:
    """Admins and leaders see every project; managers and consultants see projects they manage or belong to."""
    if user.role in ("admin", "leader"):
        return True
    if project.manager_id == user.id:
        return True
    table = project_members
    return db.session.scalar(sa.select(sa.func.count()).select_from(table).where(
        table.c.project_id == project.id, table.c.user_id == user.id)) > 0


def can_edit_project(user, project: Project) -> bool:
    """Editing a project's details (manager, members, fee...): projects.edit and being its manager, or a leader
    or admin. A manager who is only a member of another manager's project may not."""
    if not can("projects.edit", user):
        return False
    return user.role in ("admin", "leader") or project.manager_id == user.id


def visible_projects_filter(user):
    """A WHERE clause limiting projects to those the user may see (see can_view_project)."""
    if user.role in ("admin", "leader"):
        return sa.true()
    table = project_members
    return sa.or_(Project.manager_id == user.id,
                  Project.id.in_(sa.select(table.c.project_id).where(table.c.user_id == user.id)))
