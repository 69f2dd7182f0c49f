"""Template builder pages: list, create, edit a draft version, publish, copy, export and import.

Every change is one POST endpoint doing one action: load (404), authorize (the decorator), call one
service, commit, redirect back to the builder at the item. A ValidationError rolls back and re-renders
the builder with the message at the field (400); a change to a published version is refused by the
service with a Conflict, which the app's error handler answers with 409.
"""

from __future__ import annotations

import json
from decimal import Decimal

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from psa.core.auth import can, permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import ConfirmForm, minutes_to_hours
from psa.core.views import save_or_errors
from psa.extensions import db
from psa.project_templates import bp
from psa.project_templates import services as templates
from psa.project_templates.forms import (
    VISIBILITY_LABELS,
    CriterionForm,
    DuplicateForm,
    ImportForm,
    MilestoneForm,
    NewTemplateForm,
    TaskForm,
    VersionDetailsForm,
)
from psa.project_templates.models import (
    ASSIGNEE_ROLE_LABELS,
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)

DIRECTIONS = {"up": -1, "down": 1}



def _confirmed() -> None:
    """POST buttons carry only their CSRF token (a request without a valid one never gets here)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _direction() -> int:
    direction = DIRECTIONS.get(request.form.get("direction", ""))
    if direction is None:
        abort(400)
    return direction


def _visible_version(version_id: int) -> TemplateVersion:
    """The version, or 404: drafts are for those who build templates (templates.manage), as if absent for others."""
    version = templates.load_version(version_id)
    if version is None or (version.is_draft and not can("templates.manage")):
        abort(404)
    return version


def _builder_url(version_id: int, anchor: str | None = None) -> str:
    return url_for("project_templates.builder", version_id=version_id, _anchor=anchor)


def _to_builder(version_id: int, anchor: str | None = None):
    return redirect(_builder_url(version_id, anchor))


# --- list, new, import ---------------------------------------------------------------------------


@bp.route("/")
@permission_required("templates.view")
def index():
    rows = templates.latest_versions()
    if not can("templates.manage"):  # others see published versions only
        rows = [(template, published, published) for template, _latest, published in rows if published]
    return render_template("project_templates/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("templates.manage")
def new():
    form = NewTemplateForm()
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: templates.create_template(current_user, name=form.name.data,
                                                    description=form.description.data,
                                                    target_ttv_days=form.target_ttv_days.data),
            success=lambda version: (f"Template {version.template.name} created. Add its milestones and tasks, "
                                     "then publish it."),
            redirect_to=lambda version: _builder_url(version.id))
        if response is not None:
            return response
    status = 400 if request.method == "POST" else 200
    return render_template("project_templates/new.html", form=form), status


@bp.route("/import", methods=["GET", "POST"])
@permission_required("templates.manage")
def import_file():
    form = ImportForm()
    if form.validate_on_submit():
        try:
            data = json.loads(form.file.data.read())
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            form.file.errors.append("This file is not valid JSON. Choose a file exported from PSA.")
        else:
            response = save_or_errors(
                form, lambda: templates.import_template(current_user, data),
                success=lambda version: f"Imported as {version.template.name} v{version.number} (draft).",
                redirect_to=lambda version: _builder_url(version.id))
            if response is not None:
                return response
    status = 400 if request.method == "POST" else 200
    return render_template("project_templates/import.html", form=form), status


@bp.route("/<int:template_id>")
@permission_required("templates.view")
def newest_version(template_id: int):
    template = db.get_or_404(Template, template_id)
    stmt = sa.select(TemplateVersion.id).where(TemplateVersion.template_id == template.id)
    if not can("templates.manage"):
        stmt = stmt.where(TemplateVersion.state == "published")
    newest = db.session.scalar(stmt.order_by(TemplateVersion.number.desc()).limit(1))
    if newest is None:
        abort(404)
    return _to_builder(newest)


# --- the builder page ----------------------------------------------------------------------------


def _details_form(version: TemplateVersion) -> VersionDetailsForm:
    """The draft's details as saved: the template's name, description and target time to value, the version's notes."""
    form = VersionDetailsForm(formdata=None, prefix="details", obj=version, name=version.template.name,
                              description=version.template.description)
    form.target_ttv_days.data = version.template.target_ttv_days
    return form


def _builder_forms(version: TemplateVersion, failed: dict) -> dict:
    """Every form of the builder, filled from the version, except the one that failed (kept as posted).

    Keys of `failed`: "details", "new_milestone", "new_criterion", "duplicate", "publish", or
    ("milestone" | "new_task", id). A task is edited on its own page (task_edit).
    """

    def pick(key, make):
        return failed[key] if key in failed else make()

    forms = {
        "duplicate": pick("duplicate", lambda: DuplicateForm(
            formdata=None, prefix="duplicate", name=f"{version.template.name} (copy)")),
    }
    if not version.is_draft:
        return forms
    forms.update({
        "details": pick("details", lambda: _details_form(version)),
        "new_milestone": pick("new_milestone", lambda: MilestoneForm(formdata=None, prefix="new-milestone")),
        "new_criterion": pick("new_criterion", lambda: CriterionForm(formdata=None, prefix="new-criterion")),
        "publish": pick("publish", lambda: ConfirmForm(formdata=None)),
        "milestones": {}, "new_tasks": {},
    })
    task_choices = _task_choices(version)
    for m in version.milestones:
        forms["milestones"][m.id] = pick(("milestone", m.id), lambda m=m: MilestoneForm(
            formdata=None, prefix=f"m{m.id}", obj=m))
        forms["new_tasks"][m.id] = pick(("new_task", m.id), lambda m=m: TaskForm(
            formdata=None, prefix=f"new-task{m.id}"))
        forms["new_tasks"][m.id].predecessors.choices = task_choices
    return forms


def _task_choices(version: TemplateVersion, leave_out: int | None = None) -> list[tuple[int, str]]:
    """The version's tasks as predecessor choices, named with their milestone, in plan order."""
    return [(t.id, f"{t.name} ({m.name})") for m in version.milestones for t in m.tasks if t.id != leave_out]


def _render_builder(version_id: int, status: int = 200, failed: dict | None = None):
    version = _visible_version(version_id)
    manage = can("templates.manage")
    stmt = sa.select(TemplateVersion).where(TemplateVersion.template_id == version.template_id)
    if not manage:
        stmt = stmt.where(TemplateVersion.state == "published")
    versions = db.session.scalars(stmt.order_by(TemplateVersion.number)).all()
    return render_template(
        "project_templates/builder.html", version=version, versions=versions, manage=manage,
        editable=manage and version.is_draft, forms=_builder_forms(version, failed or {}) if manage else {},
        confirm=ConfirmForm(formdata=None), draft=next((v for v in versions if v.is_draft), None),
        problems=templates.publish_problems(version) if version.is_draft else [],
        fee_total=sum((m.fee_share_percent for m in version.milestones), Decimal("0")),
        role_labels=ASSIGNEE_ROLE_LABELS, visibility_labels=VISIBILITY_LABELS, hours=minutes_to_hours,
    ), status


def _refused(version_id: int, key, form, exc: ValidationError | None = None):
    """Undo what the service began, show its message at the field, and answer 400."""
    db.session.rollback()
    if exc is not None:
        apply_errors(form, exc)
    return _render_builder(version_id, 400, failed={key: form})


@bp.route("/versions/<int:version_id>")
@permission_required("templates.view")
def builder(version_id: int):
    return _render_builder(version_id)


@bp.route("/versions/<int:version_id>/export.json")
@permission_required("templates.view")
def export(version_id: int):
    version = _visible_version(version_id)
    body = json.dumps(templates.export_version(version), indent=2, ensure_ascii=False)
    filename = secure_filename(f"{version.template.name}-v{version.number}.json") or f"template-v{version.number}.json"
    return Response(body + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/versions/<int:version_id>/details", methods=["POST"])
@permission_required("templates.manage")
def details_update(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    form = VersionDetailsForm(prefix="details")
    if not form.validate_on_submit():
        return _refused(version.id, "details", form)
    return save_or_errors(
        form, lambda: templates.update_version_details(current_user, version, **form.service_fields()),
        success="Details saved.", redirect_to=_builder_url(version.id, "details"),
        on_error=lambda exc: _refused(version.id, "details", form, exc))


@bp.route("/versions/<int:version_id>/publish", methods=["POST"])
@permission_required("templates.manage")
def publish(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    return save_or_errors(
        form, lambda: templates.publish_version(current_user, version),
        success=lambda _: (f"Version {version.number} published. New projects can use it; "
                           "it can no longer change."),
        redirect_to=_builder_url(version.id),
        on_error=lambda exc: _refused(version.id, "publish", form, exc))


@bp.route("/versions/<int:version_id>/new-draft", methods=["POST"])
@permission_required("templates.manage")
def draft_new(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    _confirmed()
    draft = templates.new_draft(current_user, version.template)
    db.session.commit()
    flash(f"Draft v{draft.number} is ready to edit. Projects keep the version they were made from.", "success")
    return _to_builder(draft.id)


@bp.route("/versions/<int:version_id>/duplicate", methods=["POST"])
@permission_required("templates.manage")
def duplicate(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    form = DuplicateForm(prefix="duplicate")
    if not form.validate_on_submit():
        return _refused(version.id, "duplicate", form)
    return save_or_errors(
        form, lambda: templates.duplicate_template(current_user, version.template, form.name.data),
        success=lambda copy: f"{copy.template.name} created as a copy of {version.template.name}.",
        redirect_to=lambda copy: _builder_url(copy.id),
        on_error=lambda exc: _refused(version.id, "duplicate", form, exc))


# --- milestones ----------------------------------------------------------------------------------


@bp.route("/versions/<int:version_id>/milestones", methods=["POST"])
@permission_required("templates.manage")
def milestone_add(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    form = MilestoneForm(prefix="new-milestone")
    if not form.validate_on_submit():
        return _refused(version.id, "new_milestone", form)
    return save_or_errors(
        form, lambda: templates.add_milestone(current_user, version, **form.service_fields()),
        success=lambda milestone: f"Milestone {milestone.name} added.",
        redirect_to=lambda milestone: _builder_url(version.id, f"milestone-{milestone.id}"),
        on_error=lambda exc: _refused(version.id, "new_milestone", form, exc))


@bp.route("/milestones/<int:milestone_id>", methods=["POST"])
@permission_required("templates.manage")
def milestone_update(milestone_id: int):
    milestone = db.get_or_404(TemplateMilestone, milestone_id)
    form = MilestoneForm(prefix=f"m{milestone.id}")
    key = ("milestone", milestone.id)
    if not form.validate_on_submit():
        return _refused(milestone.version_id, key, form)
    return save_or_errors(
        form, lambda: templates.update_milestone(current_user, milestone, **form.service_fields()),
        success=lambda _: f"Milestone {milestone.name} saved.",
        redirect_to=_builder_url(milestone.version_id, f"milestone-{milestone.id}"),
        on_error=lambda exc: _refused(milestone.version_id, key, form, exc))


@bp.route("/milestones/<int:milestone_id>/move", methods=["POST"])
@permission_required("templates.manage")
def milestone_move(milestone_id: int):
    milestone = db.get_or_404(TemplateMilestone, milestone_id)
    _confirmed()
    templates.move(current_user, milestone, _direction())
    db.session.commit()
    return _to_builder(milestone.version_id, f"milestone-{milestone.id}")


@bp.route("/milestones/<int:milestone_id>/delete", methods=["POST"])
@permission_required("templates.manage")
def milestone_delete(milestone_id: int):
    milestone = db.get_or_404(TemplateMilestone, milestone_id)
    _confirmed()
    version_id, name = milestone.version_id, milestone.name
    templates.delete_milestone(current_user, milestone)
    db.session.commit()
    flash(f"Milestone {name} and its tasks deleted.", "success")
    return _to_builder(version_id, "milestones")


# --- tasks ---------------------------------------------------------------------------------------


@bp.route("/milestones/<int:milestone_id>/tasks", methods=["POST"])
@permission_required("templates.manage")
def task_add(milestone_id: int):
    milestone = db.get_or_404(TemplateMilestone, milestone_id)
    form = TaskForm(prefix=f"new-task{milestone.id}")
    form.predecessors.choices = []  # any id may be posted; the service decides which are allowed
    key = ("new_task", milestone.id)
    if not form.validate_on_submit():
        return _refused(milestone.version_id, key, form)
    return save_or_errors(
        form, lambda: templates.add_task_with_predecessors(
            current_user, milestone, form.predecessors.data or [], **form.service_fields()),
        success=lambda task: f"Task {task.name} added.",
        redirect_to=lambda task: _builder_url(milestone.version_id, f"task-{task.id}"),
        on_error=lambda exc: _refused(milestone.version_id, key, form, exc))


def _render_task_edit(task: TemplateTask, form: TaskForm, status: int = 200):
    version = _visible_version(templates.task_version_id(task))
    if not version.is_draft:  # a published version is frozen: its tasks are read on the builder page
        return _to_builder(version.id, f"task-{task.id}")
    form.predecessors.choices = _task_choices(version, leave_out=task.id)
    milestone = next(m for m in version.milestones if m.id == task.milestone_id)
    return render_template("project_templates/task_edit.html", task=task, form=form, version=version,
                           milestone=milestone, failed=status != 200), status


@bp.route("/tasks/<int:task_id>/edit")
@permission_required("templates.manage")
def task_edit(task_id: int):
    """One task's fields and predecessors in one form (a draft's task; a published one goes to the builder)."""
    task = db.get_or_404(TemplateTask, task_id)
    _visible_version(templates.task_version_id(task))  # loads the version's tasks with their predecessors
    form = TaskForm(formdata=None, prefix="task", obj=task, estimated_hours=minutes_to_hours(task.estimated_minutes))
    form.predecessors.data = [p.id for p in task.predecessors]  # ids (obj= would give the task objects)
    return _render_task_edit(task, form)


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@permission_required("templates.manage")
def task_update(task_id: int):
    """Save the task edit page: the fields and the predecessors together, or neither."""
    task = db.get_or_404(TemplateTask, task_id)
    form = TaskForm(prefix="task")
    form.predecessors.choices = []  # any id may be posted; the service decides which are allowed
    version_id = templates.task_version_id(task)

    def refused(exc: ValidationError | None = None):
        db.session.rollback()
        if exc is not None:
            apply_errors(form, exc)
        return _render_task_edit(db.get_or_404(TemplateTask, task_id), form, 400)

    if not form.validate_on_submit():
        return refused()
    return save_or_errors(
        form, lambda: templates.save_task(current_user, task, form.predecessors.data or [], **form.service_fields()),
        success=lambda _: f"Task {task.name} saved.", redirect_to=_builder_url(version_id, f"task-{task.id}"),
        on_error=refused)


@bp.route("/tasks/<int:task_id>/move", methods=["POST"])
@permission_required("templates.manage")
def task_move(task_id: int):
    task = db.get_or_404(TemplateTask, task_id)
    _confirmed()
    templates.move(current_user, task, _direction())
    db.session.commit()
    return _to_builder(templates.task_version_id(task), f"task-{task.id}")


@bp.route("/tasks/<int:task_id>/delete", methods=["POST"])
@permission_required("templates.manage")
def task_delete(task_id: int):
    task = db.get_or_404(TemplateTask, task_id)
    _confirmed()
    version_id, milestone_id, name = templates.task_version_id(task), task.milestone_id, task.name
    templates.delete_task(current_user, task)
    db.session.commit()
    flash(f"Task {name} deleted.", "success")
    return _to_builder(version_id, f"milestone-{milestone_id}")


# --- success criteria ----------------------------------------------------------------------------


@bp.route("/versions/<int:version_id>/criteria", methods=["POST"])
@permission_required("templates.manage")
def criterion_add(version_id: int):
    version = db.get_or_404(TemplateVersion, version_id)
    form = CriterionForm(prefix="new-criterion")
    if not form.validate_on_submit():
        return _refused(version.id, "new_criterion", form)
    return save_or_errors(
        form, lambda: templates.add_criterion(current_user, version, **form.service_fields()),
        success=lambda criterion: f"Success criterion {criterion.outcome} added.",
        redirect_to=_builder_url(version.id, "criteria"),
        on_error=lambda exc: _refused(version.id, "new_criterion", form, exc))


@bp.route("/criteria/<int:criterion_id>/move", methods=["POST"])
@permission_required("templates.manage")
def criterion_move(criterion_id: int):
    criterion = db.get_or_404(TemplateCriterion, criterion_id)
    _confirmed()
    templates.move(current_user, criterion, _direction())
    db.session.commit()
    return _to_builder(criterion.version_id, "criteria")


@bp.route("/criteria/<int:criterion_id>/delete", methods=["POST"])
@permission_required("templates.manage")
def criterion_delete(criterion_id: int):
    criterion = db.get_or_404(TemplateCriterion, criterion_id)
    _confirmed()
    version_id = criterion.version_id
    templates.delete_criterion(current_user, criterion)
    db.session.commit()
    flash("Success criterion deleted.", "success")
    return _to_builder(version_id, "criteria")
