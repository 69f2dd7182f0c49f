"""API operations: templates, projects, milestones and tasks (issue 16).

The same rules and permissions as the pages:
- templates: templates.view reads; drafts are for those who build templates (templates.manage), as on the template
  pages (a template without a published version does not exist for the others);
- projects: projects.view, and per project psa.projects.services.can_view_project (a project one may not see
  answers 404, as a missing one does); creating needs projects.create, changing the details projects.edit and
  can_edit_project (403 for a project one sees but may not edit), as the project pages;
- milestones and tasks are those of a project one sees (404 otherwise) and change as on the project page
  (projects.view): services.update_milestone, and services.update_task as the task's quick actions and edit page do
  (a later due date shifts the successors unless shift_successors is false; the milestone's status, the schedule
  and health follow).
Every figure shown on the project page is shown here to whoever sees the project (manager, status, health and its
reason, progress, dates, budget, fee); no rate is, as none is on the page.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from flask import request
from pydantic import BaseModel, ConfigDict, Field

from psa.accounts.models import Account, Contact
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
from psa.api.fields import Id, get_or_404, money, refused, text
from psa.auth.models import User
from psa.core.auth import can
from psa.core.errors import ValidationError
from psa.core.validation import MAX_DB_INT
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.project_templates.services import load_version
from psa.projects import services, staffing
from psa.projects.models import Milestone, Project, Task, project_members, task_dependencies

ProjectStatus = Literal["planned", "active", "on_hold", "completed", "cancelled"]
BillingModel = Literal["fixed_fee", "time_and_materials", "non_billable"]
Health = Literal["green", "amber", "red"]
WorkStatus = Literal["todo", "in_progress", "blocked", "done"]
#: Minutes within the database's integer (the service refuses a negative budget at its field).
Minutes = Annotated[int, Field(ge=-MAX_DB_INT, le=MAX_DB_INT)]


# --- templates ------------------------------------------------------------------------------------------------------


class TemplateOut(BaseModel):
    id: int
    name: str
    description: str
    target_ttv_days: int | None
    version_id: int = Field(description="The current version: the newest published one (for those who build "
                                        "templates, the newest version, draft or not).")
    version_number: int
    version_state: Literal["draft", "published"]
    published_version_id: int | None = Field(description="The version a project is made from (POST /projects).")


class TemplateList(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None


class TemplateTaskOut(BaseModel):
    id: int
    name: str
    offset_days: int
    duration_days: int
    estimated_minutes: int
    assignee_role: str
    visibility: str
    predecessor_ids: list[int]


class TemplateMilestoneOut(BaseModel):
    id: int
    name: str
    position: int
    offset_days: int
    is_customer_visible: bool
    requires_signoff: bool
    is_first_value: bool
    fee_share_percent: str
    tasks: list[TemplateTaskOut]


class TemplateDetail(TemplateOut):
    roles: list[str] = Field(description="The assignee roles the version's tasks name (what POST /projects maps).")
    milestones: list[TemplateMilestoneOut]


def _template_stmt():
    """Templates with their current version (see TemplateOut.version_id) and newest published version, as rows of
    columns: one statement. Templates without a version the user may see are left out."""
    manage = can("templates.manage", api_user())
    v = TemplateVersion
    visible = sa.select(v.template_id, sa.func.max(v.number).label("number")).group_by(v.template_id)
    if not manage:
        visible = visible.where(v.state == "published")
    visible = visible.subquery("visible")
    published = (sa.select(v.template_id, sa.func.max(v.number).label("number")).where(v.state == "published")
                 .group_by(v.template_id).subquery("newest_published"))
    current = sa.orm.aliased(TemplateVersion, name="current_version")
    published_version = sa.orm.aliased(TemplateVersion, name="published_version")
    return (sa.select(Template.id, Template.name, Template.description, Template.target_ttv_days,
                      current.id.label("version_id"), current.number.label("version_number"),
                      current.state.label("version_state"), published_version.id.label("published_version_id"))
            .join(visible, visible.c.template_id == Template.id)
            .join(current, sa.and_(current.template_id == Template.id, current.number == visible.c.number))
            .outerjoin(published, published.c.template_id == Template.id)
            .outerjoin(published_version, sa.and_(published_version.template_id == Template.id,
                                                  published_version.number == published.c.number)))


def _template_out(row) -> dict:
    return dict(id=row.id, name=row.name, description=row.description or "", target_ttv_days=row.target_ttv_days,
                version_id=row.version_id, version_number=row.version_number, version_state=row.version_state,
                published_version_id=row.published_version_id)


@bp.get("/templates")
@permission("templates.view")
@spec.validate(query=ListQuery, resp=responses({200: TemplateList}), tags=["templates"])
def templates_list():
    """List templates with their current version."""
    rows, cursor = paginate(_template_stmt(), Template.id, request.context.query)
    return TemplateList(items=[TemplateOut(**_template_out(row)) for row in rows],
                        next_cursor=cursor).model_dump(mode="json")


@bp.get("/templates/<int:template_id>")
@permission("templates.view")
@spec.validate(resp=responses({200: TemplateDetail}), tags=["templates"])
def template_show(template_id: int):
    """One template with its current version's milestones and tasks."""
    row = db.session.execute(_template_stmt().where(Template.id == template_id)).first() \
        if 0 < template_id <= MAX_DB_INT else None
    if row is None:
        raise ApiError(404, "There is no template with this id.")
    version = load_version(row.version_id)
    milestones = [TemplateMilestoneOut(
        id=m.id, name=m.name, position=m.position, offset_days=m.offset_days, is_customer_visible=m.is_customer_visible,
        requires_signoff=m.requires_signoff, is_first_value=m.is_first_value,
        fee_share_percent=money(m.fee_share_percent),
        tasks=[TemplateTaskOut(id=t.id, name=t.name, offset_days=t.offset_days, duration_days=t.duration_days,
                               estimated_minutes=t.estimated_minutes, assignee_role=t.assignee_role,
                               visibility=t.visibility, predecessor_ids=sorted(p.id for p in t.predecessors))
               for t in m.tasks]) for m in version.milestones]
    roles = sorted({t.assignee_role for m in milestones for t in m.tasks})
    return TemplateDetail(**_template_out(row), roles=roles, milestones=milestones).model_dump(mode="json")


# --- projects -------------------------------------------------------------------------------------------------------


class Person(BaseModel):
    id: int
    name: str


class ProjectOut(BaseModel):
    id: int
    name: str
    account_id: int
    account_name: str
    manager_id: int
    manager_name: str
    template_version_id: int | None
    status: ProjectStatus
    billing_model: BillingModel
    fee_amount: str | None = Field(description="The fee (fixed fee) or not-to-exceed amount (time and materials), "
                                               "a decimal string.")
    budget_minutes: int | None
    kickoff_date: date
    contract_signed_date: date | None
    target_go_live_date: date | None
    health: Health
    health_reason: str = Field(description="The clause that decided the health, in words.")
    health_milestone_id: int | None
    progress_percent: int
    max_slip_days: int = Field(description="The largest slip of a milestone, in working days.")
    ttv_days: int | None = Field(description="Time to value in calendar days, once the first-value milestone is done.")
    portal_shows_hours: bool
    created_at: datetime


class ProjectList(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None


class ProjectDetail(ProjectOut):
    members: list[Person]


class ProjectQuery(ListQuery):
    status: ProjectStatus | None = None
    account_id: Id | None = None
    manager_id: Id | None = None
    health: Health | None = None


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: Id | None = Field(None, description="Made from the template's newest published version; none: a "
                                                     "blank project.")
    account_id: Id
    name: text(200)
    kickoff_date: date
    manager_id: Id
    member_ids: list[Id] = Field(default_factory=list, max_length=500)
    role_assignees: dict[text(20), Id | None] = Field(
        default_factory=dict, max_length=10,
        description="Template role → who takes its tasks: a user id for an internal role (manager, consultant, "
                    "leader, admin; the project manager or a member), a contact id of the account for \"customer\"; "
                    "null or absent: the default (see psa/projects/staffing.py).")
    contract_signed_date: date | None = None
    target_go_live_date: date | None = None
    billing_model: BillingModel = "fixed_fee"
    fee_amount: text(30) | None = None
    budget_minutes: Minutes | None = None
    status: ProjectStatus = "active"
    portal_shows_hours: bool = False


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(200) | None = None
    account_id: Id | None = None
    kickoff_date: date | None = None
    contract_signed_date: date | None = None
    target_go_live_date: date | None = None
    manager_id: Id | None = None
    member_ids: list[Id] | None = Field(None, max_length=500)
    billing_model: BillingModel | None = None
    fee_amount: text(30) | None = None
    budget_minutes: Minutes | None = None
    status: ProjectStatus | None = None
    portal_shows_hours: bool | None = None


def _project_out(project: Project, account_name: str, manager_name: str) -> dict:
    return dict(
        id=project.id, name=project.name, account_id=project.account_id, account_name=account_name,
        manager_id=project.manager_id, manager_name=manager_name, template_version_id=project.template_version_id,
        status=project.status, billing_model=project.billing_model, fee_amount=money(project.fee_amount),
        budget_minutes=project.budget_minutes, kickoff_date=project.kickoff_date,
        contract_signed_date=project.contract_signed_date, target_go_live_date=project.target_go_live_date,
        health=project.health, health_reason=project.health_reason, health_milestone_id=project.health_milestone_id,
        progress_percent=project.progress_percent, max_slip_days=project.max_slip_days, ttv_days=project.ttv_days,
        portal_shows_hours=project.portal_shows_hours, created_at=project.created_at)


def _project_detail(project: Project) -> dict:
    db.session.refresh(project)
    account_name = db.session.scalar(sa.select(Account.name).where(Account.id == project.account_id))
    manager_name = db.session.scalar(sa.select(User.name).where(User.id == project.manager_id))
    members = db.session.execute(
        sa.select(User.id, User.name).join(project_members, project_members.c.user_id == User.id)
        .where(project_members.c.project_id == project.id).order_by(User.name, User.id)).all()
    return ProjectDetail(**_project_out(project, account_name, manager_name),
                         members=[Person(id=m.id, name=m.name) for m in members]).model_dump(mode="json")


def viewable_project(project_id: int) -> Project:
    """The project, or 404 when missing or not one the token's user may see (as the pages)."""
    project = get_or_404(Project, project_id, "project")
    if not services.can_view_project(api_user(), project):
        raise ApiError(404, "There is no project with this id.")
    return project


def _users(ids, field: str) -> list[User]:
    """The users of `ids`; 422 at `field` when one does not exist."""
    ids = list(dict.fromkeys(ids))
    found = db.session.scalars(sa.select(User).where(User.id.in_(ids))).all() if ids else []
    if len(found) != len(ids):
        raise refused({field: "There is no user with this id." if len(ids) == 1 else "Every id must be a user's."})
    return list(found)


def _user_or_none(user_id: int | None) -> User | None:
    """A user by id, None for none or an unknown one (the service then refuses it at its field)."""
    return db.session.get(User, user_id) if user_id else None


def _role_assignees(chosen: dict[str, int | None]) -> dict[str, User | Contact | None]:
    """The role mapping as create_project takes it (as the form's role fields): a person per internal role, a contact
    for the customer's; an id that is no one's is refused at its role."""
    result: dict[str, User | Contact | None] = {}
    for role, object_id in chosen.items():
        if object_id is None:
            result[role] = None
            continue
        model = Contact if role == staffing.CUSTOMER_ROLE else User
        found = db.session.get(model, object_id)
        if found is None:
            raise refused({f"role_assignees.{role}": f"There is no {'contact' if model is Contact else 'user'} "
                                                     "with this id."})
        result[role] = found
    return result


def _api_fields(exc_errors: dict[str, str]) -> dict[str, str]:
    """The service's field names as the API's (the form's role fields are the body's role_assignees)."""
    return {(f"role_assignees.{name[len('assign_'):]}" if name.startswith("assign_") else
             "template_id" if name == "template_version_id" else name): message
            for name, message in exc_errors.items()}


@bp.get("/projects")
@permission("projects.view")
@spec.validate(query=ProjectQuery, resp=responses({200: ProjectList}), tags=["projects"])
def projects_list():
    """List the projects the token's user may see.

    Filtered by status, account, manager and health; consultants and managers see the projects they manage or
    belong to, leaders and admins every project."""
    query: ProjectQuery = request.context.query
    stmt = (sa.select(Project, Account.name, User.name).join(Account, Account.id == Project.account_id)
            .join(User, User.id == Project.manager_id).where(services.visible_projects_filter(api_user())))
    for column, value in ((Project.status, query.status), (Project.account_id, query.account_id),
                          (Project.manager_id, query.manager_id), (Project.health, query.health)):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, cursor = paginate(stmt, Project.id, query)
    return ProjectList(items=[ProjectOut(**_project_out(*row)) for row in rows],
                       next_cursor=cursor).model_dump(mode="json")


@bp.get("/projects/<int:project_id>")
@permission("projects.view")
@spec.validate(resp=responses({200: ProjectDetail}), tags=["projects"])
def project_show(project_id: int):
    """One project: status, health and the clause that decided it, progress, dates, budget and fee, team."""
    return _project_detail(viewable_project(project_id))


@bp.post("/projects")
@permission("projects.create")
@idempotent
@spec.validate(json=ProjectCreate, headers=WriteHeaders, resp=responses({201: ProjectDetail}, 409), tags=["projects"])
def project_create():
    """Create a project, from a template or blank.

    As the new-project page: the template's newest published version is copied with its dates counted in working
    days from kickoff, and its roles go to people (`role_assignees`, or the defaults) so no internal task is left
    unassigned; customer tasks go to the chosen contact of the account or stay with the customer."""
    body: ProjectCreate = request.context.json
    version = None
    if body.template_id is not None:
        if db.session.get(Template, body.template_id) is None:
            raise refused({"template_id": "There is no template with this id."})
        version = db.session.scalar(sa.select(TemplateVersion).where(
            TemplateVersion.template_id == body.template_id, TemplateVersion.state == "published")
            .order_by(TemplateVersion.number.desc()).limit(1))
        if version is None:
            raise refused({"template_id": "This template has no published version yet."})
    try:
        project = services.create_project(
            api_user(), account=db.session.get(Account, body.account_id), name=body.name,
            kickoff_date=body.kickoff_date, manager=_user_or_none(body.manager_id),
            members=_users(body.member_ids, "member_ids"), template_version=version,
            role_assignees=_role_assignees(body.role_assignees),
            contract_signed_date=body.contract_signed_date, target_go_live_date=body.target_go_live_date,
            billing_model=body.billing_model, fee_amount=body.fee_amount, budget_minutes=body.budget_minutes,
            status=body.status, portal_shows_hours=body.portal_shows_hours)
    except ValidationError as exc:
        raise ValidationError(_api_fields(dict(exc.errors))) from None
    db.session.commit()
    return _project_detail(project), 201


@bp.patch("/projects/<int:project_id>")
@permission("projects.edit")
@idempotent
@spec.validate(json=ProjectPatch, headers=WriteHeaders, resp=responses({200: ProjectDetail}, 409), tags=["projects"])
def project_update(project_id: int):
    """Change a project's details (the edit page's fields).

    Only the fields sent change; member_ids replaces the team (the manager is always on it). Planned dates do not
    move with the kickoff date."""
    project = viewable_project(project_id)
    if not services.can_edit_project(api_user(), project):
        raise ApiError(403, "Only the project's manager, a leader or an admin changes its details.")
    body: ProjectPatch = request.context.json
    sent = body.model_fields_set

    def value(name: str):
        return getattr(body, name) if name in sent else getattr(project, name)

    members = (_users(body.member_ids or [], "member_ids") if "member_ids" in sent else db.session.scalars(
        sa.select(User).join(project_members, project_members.c.user_id == User.id)
        .where(project_members.c.project_id == project.id)).all())
    services.update_project(
        api_user(), project,
        account=db.session.get(Account, value("account_id")) if value("account_id") else None,
        name=value("name") or "", kickoff_date=value("kickoff_date"),
        contract_signed_date=value("contract_signed_date"), target_go_live_date=value("target_go_live_date"),
        manager=_user_or_none(value("manager_id")), members=members,
        billing_model=value("billing_model"),
        fee_amount=body.fee_amount if "fee_amount" in sent else project.fee_amount,
        budget_minutes=value("budget_minutes"), status=value("status"),
        portal_shows_hours=body.portal_shows_hours if "portal_shows_hours" in sent else None)
    db.session.commit()
    return _project_detail(project)


# --- milestones -----------------------------------------------------------------------------------------------------


class MilestoneOut(BaseModel):
    id: int
    project_id: int
    name: str
    position: int
    status: WorkStatus
    baseline_due_date: date
    due_date: date
    forecast_date: date | None
    slip_days: int
    completed_at: datetime | None
    is_customer_visible: bool
    requires_signoff: bool
    is_first_value: bool
    fee_share_percent: str
    signed_off_at: datetime | None


class MilestoneList(BaseModel):
    items: list[MilestoneOut]
    next_cursor: str | None


class MilestonePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_date: date | None = None
    status: WorkStatus | None = Field(None, description="Only for a milestone without tasks: one with tasks is done "
                                                        "when they all are.")


def _milestone_out(m: Milestone) -> MilestoneOut:
    return MilestoneOut(id=m.id, project_id=m.project_id, name=m.name, position=m.position, status=m.status,
                        baseline_due_date=m.baseline_due_date, due_date=m.due_date, forecast_date=m.forecast_date,
                        slip_days=m.slip_days, completed_at=m.completed_at, is_customer_visible=m.is_customer_visible,
                        requires_signoff=m.requires_signoff, is_first_value=m.is_first_value,
                        fee_share_percent=money(m.fee_share_percent), signed_off_at=m.signed_off_at)


def _viewable_milestone(milestone_id: int) -> Milestone:
    milestone = get_or_404(Milestone, milestone_id, "milestone")
    if not services.can_view_project(api_user(), db.session.get(Project, milestone.project_id)):
        raise ApiError(404, "There is no milestone with this id.")
    return milestone


@bp.get("/projects/<int:project_id>/milestones")
@permission("projects.view")
@spec.validate(query=ListQuery, resp=responses({200: MilestoneList}), tags=["milestones"])
def milestones_list(project_id: int):
    """List a project's milestones."""
    project = viewable_project(project_id)
    rows, cursor = paginate(sa.select(Milestone).where(Milestone.project_id == project.id), Milestone.id,
                            request.context.query)
    return MilestoneList(items=[_milestone_out(row[0]) for row in rows], next_cursor=cursor).model_dump(mode="json")


@bp.get("/milestones/<int:milestone_id>")
@permission("projects.view")
@spec.validate(resp=responses({200: MilestoneOut}), tags=["milestones"])
def milestone_show(milestone_id: int):
    """One milestone."""
    return _milestone_out(_viewable_milestone(milestone_id)).model_dump(mode="json")


@bp.patch("/milestones/<int:milestone_id>")
@permission("projects.view")
@idempotent
@spec.validate(json=MilestonePatch, headers=WriteHeaders, resp=responses({200: MilestoneOut}, 409),
               tags=["milestones"])
def milestone_update(milestone_id: int):
    """Move a milestone's due date, or mark a milestone without tasks done or open again (as the project page)."""
    milestone = _viewable_milestone(milestone_id)
    body: MilestonePatch = request.context.json
    services.update_milestone(api_user(), milestone, due_date=body.due_date, status=body.status)
    db.session.commit()
    db.session.refresh(milestone)
    return _milestone_out(milestone).model_dump(mode="json")


# --- tasks ----------------------------------------------------------------------------------------------------------


class TaskOut(BaseModel):
    id: int
    project_id: int
    milestone_id: int
    milestone_name: str
    name: str
    position: int
    status: WorkStatus
    start_date: date
    due_date: date
    baseline_start_date: date
    baseline_due_date: date
    forecast_date: date | None
    duration_days: int
    estimated_minutes: int
    assignee_role: str
    assignee_id: int | None
    assignee_name: str | None
    assignee_contact_id: int | None = Field(description="A customer task's contact (null: the customer as a group).")
    assignee_contact_name: str | None
    visibility: str
    blocked_reason: str | None
    completed_at: datetime | None


class TaskList(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class TaskDetail(TaskOut):
    predecessor_ids: list[int]


class TaskUpdated(TaskDetail):
    summary: str = Field(description="What the change did beyond the task, as the plan says it (\"2 following tasks "
                                     "moved 3 working days later; Go-live now forecasts 3 working days late\").")
    moved_task_ids: list[int] = Field(description="The successors whose dates moved.")


class TaskQuery(ListQuery):
    status: WorkStatus | None = None
    assignee_id: Id | None = None


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: WorkStatus | None = None
    due_date: date | None = None
    assignee_id: Id | None = Field(None, description="The project manager or a member; null: nobody.")
    assignee_contact_id: Id | None = Field(None, description="A customer task's contact; null: the customer.")
    blocked_reason: text(500) | None = Field(None, description="Required to set a task blocked.")
    shift_successors: bool = Field(True, description="A later due date moves the following tasks by as many "
                                                     "working days.")


def _task_stmt():
    return (sa.select(Task, Milestone.name, User.name, Contact.name).join(Milestone, Milestone.id == Task.milestone_id)
            .outerjoin(User, User.id == Task.assignee_id).outerjoin(Contact, Contact.id == Task.assignee_contact_id))


def _task_out(task: Task, milestone_name: str, assignee_name: str | None, contact_name: str | None) -> dict:
    return dict(id=task.id, project_id=task.project_id, milestone_id=task.milestone_id, milestone_name=milestone_name,
                name=task.name, position=task.position, status=task.status, start_date=task.start_date,
                due_date=task.due_date, baseline_start_date=task.baseline_start_date,
                baseline_due_date=task.baseline_due_date, forecast_date=task.forecast_date,
                duration_days=task.duration_days, estimated_minutes=task.estimated_minutes,
                assignee_role=task.assignee_role, assignee_id=task.assignee_id, assignee_name=assignee_name,
                assignee_contact_id=task.assignee_contact_id, assignee_contact_name=contact_name,
                visibility=task.visibility, blocked_reason=task.blocked_reason, completed_at=task.completed_at)


def _task_detail(task_id: int) -> dict:
    row = db.session.execute(_task_stmt().where(Task.id == task_id).execution_options(populate_existing=True)).one()
    predecessors = db.session.scalars(sa.select(task_dependencies.c.predecessor_id).where(
        task_dependencies.c.task_id == task_id).order_by(task_dependencies.c.predecessor_id)).all()
    return {**_task_out(*row), "predecessor_ids": list(predecessors)}


def _viewable_task(task_id: int) -> Task:
    task = get_or_404(Task, task_id, "task")
    if not services.can_view_project(api_user(), db.session.get(Project, task.project_id)):
        raise ApiError(404, "There is no task with this id.")
    return task


@bp.get("/projects/<int:project_id>/tasks")
@permission("projects.view")
@spec.validate(query=TaskQuery, resp=responses({200: TaskList}), tags=["tasks"])
def tasks_list(project_id: int):
    """List a project's tasks, filtered by status and assignee."""
    project = viewable_project(project_id)
    query: TaskQuery = request.context.query
    stmt = _task_stmt().where(Task.project_id == project.id)
    if query.status is not None:
        stmt = stmt.where(Task.status == query.status)
    if query.assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == query.assignee_id)
    rows, cursor = paginate(stmt, Task.id, query)
    return TaskList(items=[TaskOut(**_task_out(*row)) for row in rows], next_cursor=cursor).model_dump(mode="json")


@bp.get("/tasks/<int:task_id>")
@permission("projects.view")
@spec.validate(resp=responses({200: TaskDetail}), tags=["tasks"])
def task_show(task_id: int):
    """One task, with its predecessors."""
    return TaskDetail(**_task_detail(_viewable_task(task_id).id)).model_dump(mode="json")


@bp.patch("/tasks/<int:task_id>")
@permission("projects.view")
@idempotent
@spec.validate(json=TaskPatch, headers=WriteHeaders, resp=responses({200: TaskUpdated}, 409), tags=["tasks"])
def task_update(task_id: int):
    """Change a task's status, due date, assignee or blocked reason (as the plan's quick actions and the task's edit
    page).

    Only the fields sent change. Blocked needs a reason; a later due date shifts the following tasks unless
    shift_successors is false; the milestone's status, the forecast and the health follow."""
    task = _viewable_task(task_id)
    body: TaskPatch = request.context.json
    sent = body.model_fields_set
    changes: dict = {"status": body.status, "due_date": body.due_date, "blocked_reason": body.blocked_reason,
                     "shift_successors": body.shift_successors}
    if "assignee_id" in sent:
        changes["assignee"] = None
        if body.assignee_id is not None:
            changes["assignee"] = db.session.get(User, body.assignee_id)
            if changes["assignee"] is None:
                raise refused({"assignee_id": "There is no user with this id."})
    if "assignee_contact_id" in sent:
        changes["assignee_contact"] = None
        if body.assignee_contact_id is not None:
            changes["assignee_contact"] = db.session.get(Contact, body.assignee_contact_id)
            if changes["assignee_contact"] is None:
                raise refused({"assignee_contact_id": "There is no contact with this id."})
    slips_before = services.milestone_slips(task.project_id)
    change = services.TaskChange()
    services.update_task(api_user(), task, change=change, **changes)
    summary = services.change_summary(task.project_id, change, slips_before)
    db.session.commit()
    return TaskUpdated(**_task_detail(task.id), summary=summary,
                       moved_task_ids=[move[0] for move in change.moves]).model_dump(mode="json")
