"""Project pages: creating a project, the project page (plan, timeline, success plan, comments, files,
activity) and its forms, editing the details, and file downloads.

Every view: load (404), authorize (404 too unless the user may see the project, exactly as for an id that
does not exist; 403 to edit the details of a project one sees but may not edit), call one service, respond.
A failed form re-renders the project page with that form's messages at its fields (HTTP 400).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, send_file, session, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from psa.accounts.models import Account, Contact
from psa.auth.models import User
from psa.core.audit import describe_events
from psa.core.auth import can, permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import ConfirmForm, PlainSelect, choices, hours_to_minutes, minutes_to_hours
from psa.core.views import save_or_errors
from psa.extensions import db
from psa.project_templates.models import ASSIGNEE_ROLE_LABELS, TemplateVersion
from psa.project_templates.services import published_versions, version_roles
from psa.projects import bp, services, staffing
from psa.projects.forms import (
    QUICK_ACTIONS,
    AttachmentForm,
    BulkAssignForm,
    CommentForm,
    CriterionForm,
    MilestoneForm,
    NewMilestoneForm,
    NewTaskForm,
    ProjectCreateForm,
    ProjectForm,
    QuickTaskForm,
    TaskForm,
)
from psa.projects.models import (
    BILLING_LABELS,
    CRITERION_STATUS_LABELS,
    HEALTH_BADGES,
    HEALTH_LABELS,
    PROJECT_STATUS_LABELS,
    WORK_STATUS_LABELS,
    Attachment,
    Comment,
    Escalation,
    Milestone,
    MilestoneRating,
    Project,
    SuccessCriterion,
    Task,
    project_members,
    task_dependencies,
)
from psa.projects.timeline import build_timeline
from psa.projects.ttv import project_target_ttv, ttv_fact

#: How many comments and activity events the project page shows (newest first).
COMMENT_LIMIT = 100
ACTIVITY_LIMIT = 50
WORK_STATUS_BADGES = {"todo": "text-bg-light border", "in_progress": "text-bg-primary", "blocked": "text-bg-danger",
                      "done": "text-bg-success"}
CRITERION_STATUS_BADGES = {"not_started": "text-bg-light border", "on_track": "text-bg-success",
                           "at_risk": "text-bg-warning", "achieved": "text-bg-primary", "missed": "text-bg-danger"}


def _iso(value) -> str:
    """A date as the day macro of projects/_macros.html shows it, for the task rows (hundreds of them)."""
    return value.isoformat() if value else "—"


# --- loading and authorizing ---------------------------------------------------------------------



def _authorize(project: Project) -> Project:
    """404 unless the user may see the project: a project they may not see answers as one that does not exist."""
    if not services.can_view_project(current_user, project):
        abort(404)
    return project


def _viewable_project(project_id: int) -> Project:
    """The project with everything the page draws (services.load_project); 404 if missing or not visible."""
    project = services.load_project(project_id)
    if project is None:
        abort(404)
    return _authorize(project)


def _user_or_none(user_id: int) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _contact_or_none(contact_id: int) -> Contact | None:
    return db.session.get(Contact, contact_id) if contact_id else None


# --- choices -------------------------------------------------------------------------------------


def _active_users(*roles: str):
    stmt = sa.select(User.id, User.name).where(User.is_active_user.is_(True)).order_by(User.name)
    if roles:
        stmt = stmt.where(User.role.in_(roles))
    return db.session.execute(stmt).all()


def _project_form_choices(form: ProjectForm, project: Project | None = None) -> None:
    accounts = db.session.execute(sa.select(Account.id, Account.name).order_by(Account.name)).all()
    form.account_id.choices = choices([(0, "— Choose an account —"), *[(a.id, a.name) for a in accounts]])
    managers = [(u.id, u.name) for u in _active_users("admin", "leader", "manager")]
    members = [(u.id, u.name) for u in _active_users()]
    if project is not None:  # people on the project stay selectable even once deactivated
        known = {user_id for user_id, _ in members}
        members += [(u.id, f"{u.name} (inactive)") for u in project.members if u.id not in known]
        if project.manager_id not in {user_id for user_id, _ in managers}:
            managers.append((project.manager.id, project.manager.name))
    form.manager_id.choices = choices([(0, "— Choose a project manager —"), *managers])
    form.member_ids.choices = choices(members)
    if isinstance(form, ProjectCreateForm):
        versions = published_versions()
        roles = version_roles([version_id for version_id, _ in versions])
        # each option names its template's roles, so app.js shows only those role fields
        form.template_version_id.choices = [SelectChoice(0, "Blank project", render_kw={"data-roles": ""}), *[
            SelectChoice(version_id, label, render_kw={"data-roles": " ".join(roles.get(version_id, []))})
            for version_id, label in versions]]
        for role, field in form.role_fields():
            if role != staffing.CUSTOMER_ROLE:
                field.choices = choices([(0, "Automatic (see above)"), *members])
        # every account's active contacts, a group an account: the server checks the one chosen is the account's
        form.assign_customer.choices = [SelectChoice(0, "The customer (anyone at the account)"), *[
            SelectChoice(contact_id, name, optgroup=account)
            for account, contacts in staffing.contact_choices_by_account().items() for contact_id, name in contacts]]


def _project_fields(form: ProjectForm) -> dict:
    """The form's values as create_project / update_project take them (objects, minutes)."""
    member_ids = [i for i in form.member_ids.data or () if i]
    members = db.session.scalars(sa.select(User).where(User.id.in_(member_ids))).all() if member_ids else []
    return dict(
        account=db.session.get(Account, form.account_id.data) if form.account_id.data else None,
        name=form.name.data or "", kickoff_date=form.kickoff_date.data,
        contract_signed_date=form.contract_signed_date.data, target_go_live_date=form.target_go_live_date.data,
        manager=_user_or_none(form.manager_id.data), members=members, billing_model=form.billing_model.data,
        fee_amount=form.fee_amount.data, budget_minutes=hours_to_minutes(form.budget_hours.data),
        portal_shows_hours=bool(form.portal_shows_hours.data),
    )


def _member_choices(members, current: User | None = None):
    pairs = [(0, "— Unassigned —"), *[(u.id, u.name) for u in members]]
    if current is not None and current.id not in {u.id for u in members}:
        pairs.append((current.id, f"{current.name} (not a member)"))
    return choices(pairs)


def _project_members(project_id: int) -> list[User]:
    table = project_members
    return db.session.scalars(sa.select(User).join(table, table.c.user_id == User.id)
                              .where(table.c.project_id == project_id).order_by(User.name)).all()


def _milestone_choices(project_id: int):
    rows = db.session.execute(sa.select(Milestone.id, Milestone.name).where(Milestone.project_id == project_id)
                              .order_by(Milestone.position)).all()
    return choices([(0, "— Choose a milestone —"), *[(r.id, r.name) for r in rows]])


def _task_choices(project_id: int):
    rows = db.session.execute(sa.select(Task.id, Task.name).join(Milestone, Milestone.id == Task.milestone_id)
                              .where(Task.project_id == project_id).order_by(Milestone.position, Task.position)).all()
    return choices([(0, "— The project —"), *[(r.id, r.name) for r in rows]])


# --- the project page ----------------------------------------------------------------------------


def _activity(project: Project, names: dict, people: dict, contacts: dict | None = None) -> list:
    """The newest audit events of the project and of its milestones, tasks, criteria and files, in the audit
    log's words (psa.core.audit.describe_events), from the names the page has loaded (contacts: the customer's
    people, who act in the portal); rate changes only for those who see rates."""
    events = services.project_activity(project.id, ACTIVITY_LIMIT)
    if not can("rates.manage"):
        events = [event for event in events if not event.action.startswith("rate.")]
    return describe_events(events, project=project, names=names, people=people, contacts=contacts or {})


def _customer_side(project: Project) -> tuple[dict[int, str], dict[int, dict]]:
    """What the plan shows of the customer, in one statement whatever the plan's size: contact id -> name (the
    account's contacts, any other one a task or a sign-off names, any who rated) and milestone id -> its ratings
    (score, comment, the contact's name, when) oldest first, with their average ({"rows": [...], "average":
    "4.5"}). Contacts left-joined to their ratings of this project."""
    named = {t.assignee_contact_id for m in project.milestones for t in m.tasks if t.assignee_contact_id}
    named |= {m.signed_off_by_contact_id for m in project.milestones if m.signed_off_by_contact_id}
    rating = MilestoneRating
    rows = db.session.execute(
        sa.select(Contact.id, Contact.name, rating.id.label("rating_id"), rating.milestone_id, rating.score,
                  rating.comment, rating.created_at)
        .outerjoin(rating, sa.and_(rating.contact_id == Contact.id, rating.project_id == project.id))
        .where(sa.or_(Contact.account_id == project.account_id, Contact.id.in_(sorted(named)),
                      rating.id.is_not(None)))
        .order_by(rating.created_at, rating.id)).all()
    contacts = {row.id: row.name for row in rows}
    ratings: dict[int, dict] = {}
    for row in rows:
        if row.rating_id is not None:
            ratings.setdefault(row.milestone_id, {"rows": []})["rows"].append(
                {"score": row.score, "comment": row.comment, "contact": row.name, "created_at": row.created_at})
    for found in ratings.values():
        found["average"] = _average(sum(r["score"] for r in found["rows"]), len(found["rows"]))
    return contacts, ratings


def _render_page(project: Project, status: int = 200, **forms):
    """The project page. `forms` replaces the blank form(s) of the one that failed:
    milestone_forms, criterion_forms (dicts by id), new_task_form, new_milestone_form, new_criterion_form,
    comment_form, attachment_form; failed names the section to point at."""
    failed = forms.pop("failed", None)
    notice = forms.pop("notice", None)
    today = services.org_today()
    criteria = db.session.scalars(sa.select(SuccessCriterion).where(SuccessCriterion.project_id == project.id)
                                  .order_by(SuccessCriterion.position, SuccessCriterion.id)).all()
    comments = db.session.scalars(
        sa.select(Comment).options(joinedload(Comment.author), joinedload(Comment.author_contact))
        .where(Comment.project_id == project.id)
        .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(COMMENT_LIMIT)).all()
    attachments = db.session.execute(
        sa.select(Attachment, User.name.label("uploader")).outerjoin(User, User.id == Attachment.uploaded_by_id)
        .where(Attachment.project_id == project.id).order_by(Attachment.created_at.desc(), Attachment.id.desc())
    ).all()

    # the open escalations, highest level first, with who acknowledged each: one query
    escalations = db.session.execute(
        sa.select(Escalation, User.name.label("acknowledged_by"))
        .outerjoin(User, User.id == Escalation.acknowledged_by_id)
        .where(Escalation.project_id == project.id, Escalation.resolved_at.is_(None))
        .order_by(Escalation.level.desc(), Escalation.id)).all()

    tasks = [t for m in project.milestones for t in m.tasks]
    task_names = {t.id: t.name for t in tasks}
    names = {("project", project.id): project.name,
             **{("milestone", m.id): m.name for m in project.milestones},
             **{("task", t.id): t.name for t in tasks},
             **{("successcriterion", c.id): c.outcome for c in criteria},
             **{("attachment", row.Attachment.id): row.Attachment.original_name for row in attachments}}
    people = {u.id: u.name for u in project.members} | {project.manager.id: project.manager.name}
    people |= {t.assignee.id: t.assignee.name for t in tasks if t.assignee is not None}
    contact_names, ratings = _customer_side(project)

    milestone_forms = forms.pop("milestone_forms", {})
    for milestone in project.milestones:
        milestone_forms.setdefault(milestone.id, MilestoneForm(formdata=None, obj=milestone,
                                                               prefix=f"milestone-{milestone.id}"))
    criterion_forms = forms.pop("criterion_forms", {})
    for criterion in criteria:
        criterion_forms.setdefault(criterion.id, CriterionForm(formdata=None, obj=criterion,
                                                               prefix=f"criterion-{criterion.id}"))
    new_task_form = forms.pop("new_task_form", None) or NewTaskForm(formdata=None, prefix="new-task")
    new_task_form.milestone_id.choices = choices(
        [(0, "— Choose a milestone —"), *[(m.id, m.name) for m in project.milestones]])
    attachment_form = forms.pop("attachment_form", None) or AttachmentForm(formdata=None, prefix="attachment")
    attachment_form.task_id.choices = choices([(0, "— The project —"), *[(t.id, t.name) for t in tasks]])
    attachment_form.task_id.widget = PlainSelect()

    return render_template(
        "projects/show.html", project=project, today=today, tasks=tasks, task_names=task_names,
        can_edit=services.can_edit_project(current_user, project),
        criteria=criteria, comments=comments, attachments=attachments, escalations=escalations,
        milestone_names={m.id: m.name for m in project.milestones},
        activity=_activity(project, names, people, contact_names),
        contact_names=contact_names, ratings=ratings,
        timeline=build_timeline(project.milestones, today, project.kickoff_date),
        # the template's target is read (one statement) only for a project that reached value: the fact names it then
        time_to_value=ttv_fact(project, project.milestones,
                               project_target_ttv(project) if project.ttv_days is not None else None, today),
        milestone_forms=milestone_forms, criterion_forms=criterion_forms,
        new_task_form=new_task_form,
        new_milestone_form=forms.pop("new_milestone_form", None) or NewMilestoneForm(formdata=None,
                                                                                      prefix="new-milestone"),
        new_criterion_form=forms.pop("new_criterion_form", None) or CriterionForm(formdata=None,
                                                                                   prefix="new-criterion"),
        comment_form=forms.pop("comment_form", None) or CommentForm(formdata=None, prefix="comment"),
        attachment_form=attachment_form, failed=failed, notice=notice, undo=_undo_for(project.id),
        edit_criterion=request.args.get("edit_criterion", type=int),
        bulk_people=_plan_people(project),
        health_badges=HEALTH_BADGES, health_labels=HEALTH_LABELS, status_labels=WORK_STATUS_LABELS, status_badges=WORK_STATUS_BADGES,
        criterion_labels=CRITERION_STATUS_LABELS, criterion_badges=CRITERION_STATUS_BADGES,
        project_status_labels=PROJECT_STATUS_LABELS, billing_labels=BILLING_LABELS,
        minutes_to_hours=minutes_to_hours, iso=_iso,
    ), status


def _failed(project_id: int, anchor: str, label: str, **forms):
    """Roll the failed change back and show the page again with the form's messages."""
    db.session.rollback()
    return _render_page(_viewable_project(project_id), status=400, failed={"anchor": anchor, "label": label},
                        **forms)


def _page_url(project_id: int, anchor: str) -> str:
    return url_for("projects.show", project_id=project_id, _anchor=anchor)


# --- routes --------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@permission_required("projects.create")
def new():
    form = ProjectCreateForm()
    _project_form_choices(form)
    if request.method == "GET":
        form.account_id.data = request.args.get("account_id", 0, type=int)
        form.template_version_id.data = request.args.get("template_version_id", 0, type=int)
        form.manager_id.data = current_user.id
        form.kickoff_date.data = services.org_today()
    if form.validate_on_submit():
        version_id = form.template_version_id.data
        chosen = {role: (_contact_or_none if role == staffing.CUSTOMER_ROLE else _user_or_none)(field.data)
                  for role, field in form.role_fields()}
        response = save_or_errors(
            form, lambda: services.create_project(
                current_user, template_version=db.session.get(TemplateVersion, version_id) if version_id else None,
                role_assignees=chosen, **_project_fields(form)),
            success=lambda project: f"Project {project.name} created.",
            redirect_to=lambda project: url_for("projects.show", project_id=project.id))
        if response is not None:
            return response
    return render_template("projects/form.html", form=form, project=None), 400 if form.errors else 200


@bp.route("/<int:project_id>")
@permission_required("projects.view")
def show(project_id: int):
    notice = session.pop(NOTICE_KEY, None)
    if notice and notice.get("project_id") != project_id:
        notice = None
    return _render_page(_viewable_project(project_id), notice=notice)


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
@permission_required("projects.edit")
def edit(project_id: int):
    project = _viewable_project(project_id)
    if not services.can_edit_project(current_user, project):
        abort(403)
    form = ProjectForm(obj=project)
    _project_form_choices(form, project)
    if request.method == "GET":
        form.member_ids.data = [u.id for u in project.members]
        form.budget_hours.data = minutes_to_hours(project.budget_minutes)
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.update_project(current_user, project, status=form.status.data,
                                                  **_project_fields(form)),
            success=f"Project {form.name.data} saved.", redirect_to=url_for("projects.show", project_id=project_id))
        if response is not None:
            return response
    return render_template("projects/form.html", form=form, project=project), 400 if form.errors else 200


def _task_form(task: Task, formdata=None, project: Project | None = None) -> TaskForm:
    """The edit form of one task: posted values, or the task's own; members (and a departed assignee) to pick,
    or for a customer task the account's active contacts (and a departed one) and "the customer"."""
    customer = task.assignee_role == staffing.CUSTOMER_ROLE
    if formdata is None:
        form = TaskForm(formdata=None, obj=task, prefix=f"task-{task.id}")
        form.assignee_id.data = (task.assignee_contact_id if customer else task.assignee_id) or 0
    else:
        form = TaskForm(prefix=f"task-{task.id}")
    if customer:
        project = project or db.session.get(Project, task.project_id)
        account_name = db.session.scalar(sa.select(Account.name).where(Account.id == project.account_id))
        pairs = [(0, f"The customer (anyone at {account_name})"), *staffing.customer_task_contacts(project.account_id)]
        current = _contact_or_none(task.assignee_contact_id)
        if current is not None and current.id not in {contact_id for contact_id, _ in pairs}:
            pairs.append((current.id, f"{current.name} (inactive)" if not current.is_active_contact
                          else f"{current.name} (another account)"))
        form.assignee_id.choices = choices(pairs)
        form.assignee_id.label.text = "Contact"
        form.assignee_id.choice_message = "Choose a contact of the account, or the customer."
    else:
        form.assignee_id.choices = _member_choices(_project_members(task.project_id),
                                                   _user_or_none(task.assignee_id))
    return form


def _render_task_edit(task: Task, project: Project, form: TaskForm, status: int = 200):
    """The small page that edits one task (the project page lists tasks read-only, each with an Edit link)."""
    milestone = db.session.get(Milestone, task.milestone_id)
    table = task_dependencies
    predecessors = db.session.scalars(sa.select(Task.name).join(table, table.c.predecessor_id == Task.id)
                                      .where(table.c.task_id == task.id).order_by(Task.position, Task.id)).all()
    return render_template(
        "projects/task_edit.html", task=task, project=project, milestone=milestone, form=form,
        predecessors=predecessors,
        failed=status != 200, status_labels=WORK_STATUS_LABELS, status_badges=WORK_STATUS_BADGES,
        minutes_to_hours=minutes_to_hours,
    ), status


@bp.route("/<int:project_id>/tasks/<int:task_id>/edit")
@permission_required("projects.view")
def task_edit(project_id: int, task_id: int):
    task = db.get_or_404(Task, task_id)
    if task.project_id != project_id:
        abort(404)
    project = _authorize(db.get_or_404(Project, project_id))
    return _render_task_edit(task, project, _task_form(task, project=project))


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@permission_required("projects.view")
def task_update(task_id: int):
    task = db.get_or_404(Task, task_id)
    project = _authorize(db.get_or_404(Project, task.project_id))
    form = _task_form(task, formdata=request.form, project=project)
    if form.validate_on_submit():
        slips_before = services.milestone_slips(task.project_id)
        change = services.TaskChange()
        # a customer task's select holds contacts (update_task's assignee_contact), another's people
        whom = ({"assignee_contact": _contact_or_none(form.assignee_id.data)}
                if task.assignee_role == staffing.CUSTOMER_ROLE else {"assignee": _user_or_none(form.assignee_id.data)})
        try:
            services.update_task(current_user, task, status=form.status.data, due_date=form.due_date.data,
                                 blocked_reason=form.blocked_reason.data or "",
                                 shift_successors=form.shift_successors.data, change=change, **whom)
        except ValidationError as exc:
            db.session.rollback()
            errors = dict(exc.errors)
            if "assignee_contact_id" in errors:
                errors["assignee_id"] = errors.pop("assignee_contact_id")
            apply_errors(form, ValidationError(errors))
            return _render_task_edit(task, project, form, status=400)
        summary = services.change_summary(task.project_id, change, slips_before)
        db.session.commit()
        # said next to the task on the plan (not in the banner a screen above it), with an undo of the shift
        session[NOTICE_KEY] = {"project_id": task.project_id, "task_id": task.id,
                               "text": f"Saved. {summary}." if summary else "Saved."}
        session[UNDO_KEY] = ({"project_id": task.project_id, "task_id": task.id,
                              "moves": [[i, *(d.isoformat() for d in dates)] for i, *dates in change.moves]}
                             if change.moves else None)
        return redirect(_page_url(task.project_id, f"task-{task.id}"))
    db.session.rollback()
    return _render_task_edit(task, project, form, status=400)


def _plan_people(project: Project) -> list[tuple[int, str]]:
    """Who a task of the plan may be given to (quick assign, bulk assign): the members and the manager."""
    people = {u.id: u.name for u in project.members} | {project.manager.id: project.manager.name}
    return sorted(people.items(), key=lambda pair: pair[1].lower())


#: What each quick action changes, as update_task's arguments (assign and block add theirs).
_QUICK_CHANGES = {"done": {"status": "done"}, "reopen": {"status": "todo"}, "assign": {},
                  "block": {"status": "blocked"}, "unblock": {"status": "in_progress"}}


@bp.route("/tasks/<int:task_id>/quick", methods=["POST"])
@permission_required("projects.view")
def task_quick(task_id: int):
    """A quick action from the plan (mark done, reopen, assign, set blocked with a reason, unblock), through the
    same rule as the edit page (services.update_task). The plan's script posts it with fetch and gets the page
    back to swap in (400 with the messages as JSON when refused); a plain post is redirected to the task."""
    task = db.get_or_404(Task, task_id)
    project = _viewable_project(task.project_id)
    fetched = request.headers.get("X-Requested-With") == "fetch"
    form = QuickTaskForm()
    form.assignee_id.choices = choices([(0, "Nobody"), *_plan_people(project)])
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        action = form.action.data
        changes = dict(_QUICK_CHANGES[action])
        if action == "assign":
            changes["assignee"] = _user_or_none(form.assignee_id.data)
        if action == "block":
            changes["blocked_reason"] = form.blocked_reason.data or ""
        slips_before = services.milestone_slips(task.project_id)
        change = services.TaskChange()
        try:
            services.update_task(current_user, task, change=change, **changes)
        except ValidationError as exc:
            db.session.rollback()
            errors = dict(exc.errors)
        else:
            summary = services.change_summary(task.project_id, change, slips_before)
            db.session.commit()
            said = QUICK_ACTIONS[action]
            if action == "assign":
                said += f" to {changes['assignee'].name}" if changes["assignee"] else " to nobody"
            session[NOTICE_KEY] = {"project_id": task.project_id, "task_id": task.id,
                                   "text": f"{said}. {summary}." if summary else f"{said}."}
            session.pop(UNDO_KEY, None)
            if fetched:
                return show(task.project_id)
            return redirect(_page_url(task.project_id, f"task-{task.id}"))
    else:
        db.session.rollback()
        errors = {name: messages[0] for name, messages in form.errors.items() if messages}
    errors = {("form" if name in ("csrf_token", "action", "status") else name): message
              for name, message in errors.items()}
    if fetched:
        return jsonify(errors=errors), 400
    flash(next(iter(errors.values()), "The task was not changed."), "danger")
    return redirect(_page_url(task.project_id, f"task-{task.id}"))


#: Session keys: the line shown under the task just saved, and the one undo of the successors it moved.
NOTICE_KEY, UNDO_KEY = "plan_notice", "plan_undo"


def _undo_for(project_id: int) -> dict | None:
    undo = session.get(UNDO_KEY)
    return undo if undo and undo.get("project_id") == project_id else None


@bp.route("/<int:project_id>/undo-shift", methods=["POST"])
@permission_required("projects.view")
def undo_shift(project_id: int):
    """Put back the following tasks the last task change moved (once; a task changed since keeps its dates)."""
    project = _authorize(db.get_or_404(Project, project_id))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    undo = _undo_for(project.id)
    session.pop(UNDO_KEY, None)
    if not undo:
        flash("There is nothing to undo.", "warning")
        return redirect(_page_url(project.id, "plan"))
    moves = [(int(i), *(date.fromisoformat(d) for d in dates)) for i, *dates in undo["moves"]]
    undone = services.undo_successor_shift(current_user, project, moves)
    db.session.commit()
    kept = len(moves) - undone
    text = f"Undone: {undone} following task{'s' if undone != 1 else ''} back on {'its' if undone == 1 else 'their'} dates."
    if kept:
        text += f" {kept} changed since and kept {'its' if kept == 1 else 'their'} new dates."
    session[NOTICE_KEY] = {"project_id": project.id, "task_id": undo["task_id"], "text": text}
    return redirect(_page_url(project.id, f"task-{undo['task_id']}"))


def _assigned_message(ticked: int, changed: int, assignee: User | None) -> str:
    who = assignee.name if assignee else "nobody"
    text = f"{ticked} task{'s' if ticked != 1 else ''} now assigned to {who}"
    return text + (f" ({ticked - changed} already {'was' if ticked - changed == 1 else 'were'})." if changed < ticked else ".")


@bp.route("/<int:project_id>/tasks/assign", methods=["GET", "POST"])
@permission_required("projects.view")
def tasks_assign(project_id: int):
    """Assign several tasks of the plan to one person (or nobody) at once: tick them, choose, assign."""
    project = _viewable_project(project_id)
    form = BulkAssignForm()
    tasks = [t for m in project.milestones for t in m.tasks]
    form.task_ids.choices = [(t.id, t.name) for t in tasks]
    form.assignee_id.choices = choices([(0, "Nobody"), *_plan_people(project)])
    if form.validate_on_submit():
        assignee = _user_or_none(form.assignee_id.data)
        response = save_or_errors(
            form, lambda: staffing.assign_tasks(current_user, project, form.task_ids.data or [], assignee),
            success=lambda changed: _assigned_message(len(set(form.task_ids.data)), changed, assignee),
            redirect_to=_page_url(project.id, "plan"))
        if response is not None:
            return response
    db.session.rollback()
    return render_template("projects/assign.html", project=project, form=form,
                           role_labels=ASSIGNEE_ROLE_LABELS, status_labels=WORK_STATUS_LABELS), \
        400 if form.errors else 200


@bp.route("/milestones/<int:milestone_id>", methods=["POST"])
@permission_required("projects.view")
def milestone_update(milestone_id: int):
    milestone = db.get_or_404(Milestone, milestone_id)
    _authorize(db.get_or_404(Project, milestone.project_id))
    form = MilestoneForm(prefix=f"milestone-{milestone.id}")
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.update_milestone(current_user, milestone, due_date=form.due_date.data,
                                                    status=form.status.data or None),
            success=lambda _: f"Milestone “{milestone.name}” saved.",
            redirect_to=_page_url(milestone.project_id, f"milestone-{milestone.id}"))
        if response is not None:
            return response
    return _failed(milestone.project_id, f"milestone-{milestone.id}", f"Milestone “{milestone.name}”",
                   milestone_forms={milestone.id: form})


@bp.route("/<int:project_id>/tasks", methods=["POST"])
@permission_required("projects.view")
def task_add(project_id: int):
    project = _authorize(db.get_or_404(Project, project_id))
    form = NewTaskForm(prefix="new-task")
    form.milestone_id.choices = _milestone_choices(project.id)
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.add_task_to_milestone(
                current_user, db.session.get(Milestone, form.milestone_id.data), name=form.name.data or "",
                start_date=form.start_date.data, duration_days=form.duration_days.data,
                estimated_minutes=hours_to_minutes(form.estimated_hours.data) or 0,
                assignee_role=form.assignee_role.data, visibility=form.visibility.data),
            success=lambda task: f"Task “{task.name}” added.",
            redirect_to=lambda task: _page_url(project.id, f"task-{task.id}"))
        if response is not None:
            return response
    return _failed(project.id, "add-task", "The new task", new_task_form=form)


@bp.route("/<int:project_id>/milestones", methods=["POST"])
@permission_required("projects.view")
def milestone_add(project_id: int):
    project = _authorize(db.get_or_404(Project, project_id))
    form = NewMilestoneForm(prefix="new-milestone")
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.add_milestone_to_project(current_user, project, name=form.name.data or "",
                                                            due_date=form.due_date.data),
            success=lambda milestone: f"Milestone “{milestone.name}” added.",
            redirect_to=lambda milestone: _page_url(project.id, f"milestone-{milestone.id}"))
        if response is not None:
            return response
    return _failed(project.id, "add-milestone", "The new milestone", new_milestone_form=form)


def _criterion_fields(form: CriterionForm) -> dict:
    return {name: getattr(form, name).data for name in services.CRITERION_FIELDS}


@bp.route("/<int:project_id>/criteria", methods=["POST"])
@permission_required("projects.view")
def criterion_add(project_id: int):
    project = _authorize(db.get_or_404(Project, project_id))
    form = CriterionForm(prefix="new-criterion")
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.save_criterion(current_user, project, **_criterion_fields(form)),
            success="Success criterion added.",
            redirect_to=_page_url(project.id, "success-plan"))
        if response is not None:
            return response
    return _failed(project.id, "add-criterion", "The new success criterion", new_criterion_form=form)


@bp.route("/criteria/<int:criterion_id>", methods=["POST"])
@permission_required("projects.view")
def criterion_update(criterion_id: int):
    criterion = db.get_or_404(SuccessCriterion, criterion_id)
    project = _authorize(db.get_or_404(Project, criterion.project_id))
    form = CriterionForm(prefix=f"criterion-{criterion.id}")
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.save_criterion(current_user, project, criterion, **_criterion_fields(form)),
            success="Success criterion saved.",
            redirect_to=_page_url(project.id, f"criterion-{criterion.id}"))
        if response is not None:
            return response
    return _failed(project.id, f"criterion-{criterion.id}", "The success criterion",
                   criterion_forms={criterion.id: form})


@bp.route("/<int:project_id>/comments", methods=["POST"])
@permission_required("projects.view")
def comment_add(project_id: int):
    project = _authorize(db.get_or_404(Project, project_id))
    form = CommentForm(prefix="comment")
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.add_comment(current_user, project, body=form.body.data or "",
                                               visibility=form.visibility.data),
            success="Comment added.",
            redirect_to=_page_url(project.id, "comments"))
        if response is not None:
            return response
    return _failed(project.id, "comments", "The comment", comment_form=form)


@bp.route("/<int:project_id>/attachments", methods=["POST"])
@permission_required("projects.view")
def attachment_add(project_id: int):
    project = _authorize(db.get_or_404(Project, project_id))
    form = AttachmentForm(prefix="attachment")
    form.task_id.choices = _task_choices(project.id)
    if form.validate_on_submit():
        upload = form.file.data
        response = save_or_errors(
            form, lambda: services.add_attachment(
                current_user, project, filename=getattr(upload, "filename", "") or "",
                data=upload.read() if upload else b"",
                task=db.session.get(Task, form.task_id.data) if form.task_id.data else None),
            success=lambda _: f"{Path(upload.filename).name} uploaded.",
            redirect_to=_page_url(project.id, "attachments"))
        if response is not None:
            return response
    return _failed(project.id, "attachments", "The upload", attachment_form=form)


@bp.route("/attachments/<int:attachment_id>")
@permission_required("projects.view")
def attachment_download(attachment_id: int):
    attachment = db.get_or_404(Attachment, attachment_id)
    _authorize(db.get_or_404(Project, attachment.project_id))
    path = services.attachment_folder() / attachment.stored_name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.original_name, max_age=0)


# --- customer satisfaction -----------------------------------------------------------------------


def _csat_rows(group_columns, label, *joins, visible):
    """Average rating (exact: sum and count in SQL) and count per group, best first."""
    stmt = sa.select(*group_columns, sa.func.sum(MilestoneRating.score).label("total"),
                     sa.func.count(MilestoneRating.id).label("count")) \
        .select_from(MilestoneRating).join(Project, Project.id == MilestoneRating.project_id)
    for target, on, outer in joins:
        stmt = stmt.join(target, on, isouter=outer)
    stmt = stmt.where(visible).group_by(*group_columns)
    rows = db.session.execute(stmt).all()
    result = [{"label": label(row), "row": row, "count": row.count, "average": _average(row.total, row.count)}
              for row in rows]
    return sorted(result, key=lambda r: (-(r["row"].total / r["row"].count), r["label"].lower()))


def _average(total: int, count: int) -> str:
    """4.25 → "4.3" (one decimal, half up, from the exact sum and count)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str((Decimal(int(total)) / Decimal(count)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@bp.route("/csat")
@permission_required("projects.view")
def csat():
    """Customer satisfaction: the customers' milestone ratings (1 to 5) averaged per project, per template and
    per project manager, over the projects the user may see (leaders and admins: all)."""
    from psa.project_templates.models import Template

    visible = services.visible_projects_filter(current_user)
    by_project = _csat_rows((Project.id, Project.name, Account.name.label("account")),
                            lambda r: r.name, (Account, Account.id == Project.account_id, False), visible=visible)
    by_template = _csat_rows(
        (Template.id, Template.name), lambda r: r.name or "Blank projects",
        (TemplateVersion, TemplateVersion.id == Project.template_version_id, True),
        (Template, Template.id == TemplateVersion.template_id, True), visible=visible)
    by_manager = _csat_rows((User.id, User.name), lambda r: r.name, (User, User.id == Project.manager_id, False),
                            visible=visible)
    total = sum(int(r["row"].total) for r in by_project)
    count = sum(r["count"] for r in by_project)
    return render_template("projects/csat.html", by_project=by_project, by_template=by_template,
                           by_manager=by_manager, count=count, average=_average(total, count) if count else None)
