"""Template builder pages: list, create, edit a draft version, publish, copy, export and import.

Every change is one POST endpoint doing one action: load (404), authorize (the decorator), call one
service, commit, redirect back to the builder at the item. A ValidationError rolls back and re-renders
the builder with the message at the field (400); a change to a published version is a Conflict (409).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from psa.core.auth import can, permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.extensions import db
from psa.project_templates import bp
from psa.project_templates import services as templates
from psa.project_templates.forms import (
    ConfirmForm,
    CriterionForm,
    DuplicateForm,
    ImportForm,
    MilestoneForm,
    NewTemplateForm,
    PredecessorsForm,
    TaskForm,
    VersionDetailsForm,
    minutes_to_hours,
)
from psa.project_templates.models import (
    ASSIGNEE_ROLE_LABELS,
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)


def _get_or_404(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _confirmed() -> None:
    """POST buttons carry only their CSRF token; a request without a valid one never gets here."""
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _to_builder(version_id: int, anchor: str | None = None):
    return redirect(url_for("project_templates.builder", version_id=version_id, _anchor=anchor))


# --- the builder page ----------------------------------------------------------------------------


def _builder_forms(version: TemplateVersion, failed: dict) -> dict:
    """Every form of the builder, filled from the version, except the one that failed (kept as posted)."""

    def pick(key, make):
        return failed[key] if key in failed else make()

    all_tasks = [(t, m) for m in version.milestones for t in m.tasks]
    forms = {
        "details": pick("details", lambda: VersionDetailsForm(
            formdata=None, prefix="details", obj=version, name=version.template.name,
            description=version.template.description)),
        "new_milestone": pick("new_milestone", lambda: MilestoneForm(formdata=None, prefix="new-milestone")),
        "new_criterion": pick("new_criterion", lambda: CriterionForm(formdata=None, prefix="new-criterion")),
        "duplicate": pick("duplicate", lambda: DuplicateForm(
            formdata=None, prefix="duplicate", name=f"{version.template.name} (copy)")),
        "publish": pick("publish", lambda: ConfirmForm(formdata=None)),
        "milestones": {}, "new_tasks": {}, "tasks": {}, "predecessors": {},
    }
    for m in version.milestones:
        forms["milestones"][m.id] = pick(("milestone", m.id), lambda m=m: MilestoneForm(
            formdata=None, prefix=f"m{m.id}", obj=m))
        forms["new_tasks"][m.id] = pick(("new_task", m.id), lambda m=m: TaskForm(
            formdata=None, prefix=f"new-task{m.id}"))
    for t, _m in all_tasks:
        forms["tasks"][t.id] = pick(("task", t.id), lambda t=t: TaskForm(
            formdata=None, prefix=f"t{t.id}", obj=t, estimated_hours=minutes_to_hours(t.estimated_minutes)))
        form = pick(("predecessors", t.id), lambda t=t: PredecessorsForm(
            formdata=None, prefix=f"p{t.id}", predecessors=[p.id for p in t.predecessors]))
        form.predecessors.choices = [(other.id, f"{other.name} ({m.name})") for other, m in all_tasks
                                     if other.id != t.id]
        forms["predecessors"][t.id] = form
    return forms


def _render_builder(version_id: int, status: int = 200, **failed):
    version = templates.load_version(version_id)
    if version is None:
        abort(404)
    failed = {(key.split("_", 1)[0] if isinstance(key, str) and key[-1].isdigit() else key): form
              for key, form in failed.items()}
    versions = db.session.scalars(sa.select(TemplateVersion).where(TemplateVersion.template_id == version.template_id)
                                  .order_by(TemplateVersion.number)).all()
    editable = version.is_draft and can("templates.manage")
    return render_template(
        "project_templates/builder.html", version=version, versions=versions, editable=editable,
        forms=_builder_forms(version, _failed_keys(failed)) if editable else None,
        confirm=ConfirmForm(formdata=None), duplicate_form=DuplicateForm(formdata=None, prefix="duplicate",
                                                                         name=f"{version.template.name} (copy)"),
        problems=templates.publish_problems(version) if version.is_draft else [],
        fee_total=sum((m.fee_share_percent for m in version.milestones), 0),
        role_labels=ASSIGNEE_ROLE_LABELS, minutes_to_hours=minutes_to_hours,
    ), status


def _failed_keys(failed: dict) -> dict:
    return failed


def _refuse(version_id: int, key, form, exc: ValidationError | None = None):
    """Undo what the service began, show the message at the field, and answer 400."""
    db.session.rollback()
    if exc is not None:
        apply_errors(form, exc)
    return _render_builder(version_id, 400, **{"_failed": {key: form}})
