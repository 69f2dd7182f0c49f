"""The portal's pages, drawn for one contact through psa.portal.scope (what they may see) and psa.portal.views
(the fields a page may show). Routes are thin: load through the scope (404 outside it, as for a missing id),
call one rule of psa.portal.work, respond.

"View as customer": an internal user who may see a project previews the same pages as a given contact sees
them (/portal/preview?contact=<id>, /portal/preview/projects/<id>?contact=<id>), read only and audited."""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import abort, flash, redirect, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import aliased

from psa.accounts.models import Account, Contact
from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.auth import is_contact, permission_required
from psa.core.clock import org_today
from psa.core.errors import ValidationError
from psa.core.pdf import pdf_download
from psa.extensions import db
from psa.portal import bp, scope, work
from psa.portal.routes import contact_required
from psa.portal.views import (
    check_context,
    comment_view,
    contact_view,
    criterion_view,
    document_view,
    hours_view,
    milestone_view,
    project_view,
    render_portal,
    task_view,
)
from psa.projects import bp as projects_bp
from psa.projects import services as projects
from psa.projects.models import Comment, Milestone, MilestoneRating, Project, Task
from psa.projects.timeline import build_timeline

MAX_ID = scope.MAX_ID


# --- drawing the pages -------------------------------------------------------------------------------------


def _next_open(milestones: list[Milestone]) -> Milestone | None:
    return next((m for m in milestones if m.status != "done"), None)


def home_context(contact: Contact, projects_extra=None) -> dict:
    """The home page's views: the contact's projects (progress, next milestone and its forecast) and what waits
    on them. Three statements whatever the number of projects."""
    rows = scope.visible_projects(contact, projects_extra)
    ids = [p.id for p in rows]
    by_project: dict[int, list[Milestone]] = {}
    waiting = []
    if ids:
        for milestone in db.session.scalars(scope.milestones_stmt(contact, ids)):
            by_project.setdefault(milestone.project_id, []).append(milestone)
        waiting = list(db.session.scalars(scope.waiting_stmt(contact, ids)))
    views = [project_view(p, _next_open(by_project.get(p.id, []))) for p in rows]
    names = {p.id: p.name for p in rows}
    return {
        "projects": views,
        "waiting": [(names[t.project_id], t.project_id,
                     task_view(t, contact_id=contact.id, assignee_name=None, can_complete=False)) for t in waiting],
    }


def project_context(contact: Contact, project: Project, *, read_only: bool = False) -> dict:
    """The project page's views. One statement per kind of row (milestones, ratings, tasks, comments,
    documents, criteria, hours), whatever the size of the project."""
    milestone_rows = db.session.execute(
        scope.milestones_stmt(contact, [project.id]).add_columns(Contact.name)
        .outerjoin(Contact, sa.and_(Contact.id == Milestone.signed_off_by_contact_id,
                                    Contact.account_id == contact.account_id))).all()
    ratings = {row.milestone_id: (row.score, row.comment) for row in db.session.execute(
        sa.select(MilestoneRating.milestone_id, MilestoneRating.score, MilestoneRating.comment)
        .where(MilestoneRating.contact_id == contact.id, MilestoneRating.project_id == project.id))}
    milestones = [milestone_view(m, signed_off_by=signer, rating=ratings.get(m.id), read_only=read_only)
                  for m, signer in milestone_rows]
    milestone_names = {m.id: m.name for m in milestones}

    assignee = aliased(Contact)
    task_rows = db.session.execute(
        scope.tasks_stmt(contact, [project.id]).add_columns(assignee.name)
        .outerjoin(assignee, sa.and_(assignee.id == Task.assignee_contact_id,
                                     assignee.account_id == contact.account_id))).all()
    tasks = [task_view(t, contact_id=contact.id, assignee_name=name,
                       can_complete=not read_only and scope.can_complete(contact, t)) for t, name in task_rows]
    task_names = {t.id: t.name for t in tasks}

    def subject(task_id, milestone_id=None) -> str:
        if task_id is not None:
            return task_names.get(task_id, "")
        if milestone_id is not None:
            return milestone_names.get(milestone_id, "")
        return ""

    author_contact = aliased(Contact)
    comment_rows = db.session.execute(
        scope.comments_stmt(contact, project).add_columns(User.name, author_contact.name)
        .outerjoin(User, User.id == Comment.author_id)
        .outerjoin(author_contact, sa.and_(author_contact.id == Comment.author_contact_id,
                                           author_contact.account_id == contact.account_id))).all()
    comments = [comment_view(c, author_name=user_name or contact_name or "Someone",
                             subject=subject(c.task_id, c.milestone_id))
                for c, user_name, contact_name in comment_rows]
    documents = [document_view(a, subject=subject(a.task_id))
                 for a in db.session.scalars(scope.attachments_stmt(contact, project))]
    criteria = [criterion_view(c) for c in db.session.scalars(scope.criteria_stmt(contact, project))]
    hours = hours_view(project.budget_minutes, work.used_minutes(project)) if project.portal_shows_hours else None
    return {
        "project": project_view(project, _next_open([m for m, _ in milestone_rows])),
        "milestones": milestones,
        "tasks": tasks,
        "comments": comments,
        "documents": documents,
        "criteria": criteria,
        "hours": hours,
        "timeline": build_timeline(milestones, org_today(), project.kickoff_date),
        "waiting_count": sum(1 for t in tasks if t.is_mine and t.status != "done"),
        "read_only": read_only,
    }


# --- the contact's pages -----------------------------------------------------------------------------------


@bp.route("/")
@contact_required
def home():
    contact = current_user._get_current_object()
    return render_portal("portal/home.html", portal_contact=contact_view(contact), preview=None,
                         preview_contact_id=None, **home_context(contact))


@bp.route("/projects/<int:project_id>")
@contact_required
def project(project_id: int):
    contact = current_user._get_current_object()
    found = scope.project_for(contact, project_id)
    if found is None:
        abort(404)
    return _render_project(contact, found)


@bp.route("/projects/<int:project_id>/status.pdf")
@contact_required
def project_status_pdf(project_id: int):
    """The project's status report as a PDF (psa.portal.status_report), at the contact's own view level; through
    the same scope as the project page (another account's project answers 404)."""
    from psa.portal import status_report  # imported here: it draws from this module's project_context

    contact = current_user._get_current_object()
    found = _loaded_or_404(scope.project_for(contact, project_id))
    report = status_report.status_report(contact, found)
    return pdf_download(status_report.render_html(report), status_report.filename(found, report))


@projects_bp.route("/<int:project_id>/status.pdf")
@permission_required("projects.view")
def status_pdf(project_id: int):
    """The customer-facing status report (psa.portal.status_report) for whoever may see the project page (a route
    of the projects blueprint, defined here because the portal sits above projects): what the account's contacts
    see at view level "full project", nothing internal. A cancelled project has none (its contacts no longer see
    it): 404, as in "view as customer"."""
    from psa.portal import status_report
    from psa.projects.routes import _authorize

    project = db.session.get(Project, project_id) if 0 < project_id <= scope.MAX_ID else None
    if project is None:
        abort(404)
    _authorize(project)
    audience = status_report.internal_audience(project)
    if scope.project_for(audience, project.id) is None:
        abort(404)
    report = status_report.status_report(audience, project)
    return pdf_download(status_report.render_html(report), status_report.filename(project, report))


def _render_project(contact: Contact, project_row: Project, errors: dict | None = None, values: dict | None = None,
                    status: int = 200):
    return render_portal("portal/project.html", portal_contact=contact_view(contact), preview=None,
                         errors=errors or {}, values=values or {},
                         **project_context(contact, project_row)), status


def _loaded_or_404(row):
    if row is None:
        abort(404)
    return row


def _done(project_id: int, message: str, anchor: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("portal.project", project_id=project_id, _anchor=anchor))


def _refused(contact: Contact, project_row: Project, exc: ValidationError, values: dict | None = None,
             status: int = 400):
    db.session.rollback()
    project_row = _loaded_or_404(scope.project_for(contact, project_row.id))
    return _render_project(contact, project_row, errors=exc.errors, values=values, status=status)


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@contact_required
def task_complete(task_id: int):
    contact = current_user._get_current_object()
    task = _loaded_or_404(scope.task_for(contact, task_id))
    project_row = _loaded_or_404(scope.project_for(contact, task.project_id))
    try:
        work.complete_task(contact, project_row, task)
    except work.Conflict as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("portal.project", project_id=project_row.id, _anchor="tasks"))
    return _done(project_row.id, f"{task.name} is done. Thank you!", f"task-{task.id}")


def _form_task(contact: Contact, project_row: Project) -> Task | None:
    """The task a comment or a file is on (the form's task_id), scoped; 404 outside the contact's tasks."""
    raw = (request.form.get("task_id") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        abort(404)
    task = _loaded_or_404(scope.task_for(contact, int(raw)))
    if task.project_id != project_row.id:
        abort(404)
    return task


@bp.route("/projects/<int:project_id>/comments", methods=["POST"])
@contact_required
def comment_add(project_id: int):
    contact = current_user._get_current_object()
    project_row = _loaded_or_404(scope.project_for(contact, project_id))
    task = _form_task(contact, project_row)
    body = request.form.get("body", "")
    try:
        work.add_comment(contact, project_row, body=body, task=task)
    except ValidationError as exc:
        return _refused(contact, project_row, exc, values={"body": body[:5000]})
    return _done(project_row.id, "Comment added.", "comments")


@bp.route("/projects/<int:project_id>/attachments", methods=["POST"])
@contact_required
def attachment_add(project_id: int):
    contact = current_user._get_current_object()
    project_row = _loaded_or_404(scope.project_for(contact, project_id))
    task = _form_task(contact, project_row)
    upload = request.files.get("file")
    try:
        attachment = work.add_document(contact, project_row, filename=getattr(upload, "filename", "") or "",
                                       data=upload.read() if upload else b"", task=task)
    except ValidationError as exc:
        return _refused(contact, project_row, exc)
    return _done(project_row.id, f"{attachment.original_name} uploaded.", "documents")


@bp.route("/attachments/<int:attachment_id>")
@contact_required
def attachment_download(attachment_id: int):
    contact = current_user._get_current_object()
    attachment = _loaded_or_404(scope.attachment_for(contact, attachment_id))
    path = projects.attachment_folder() / attachment.stored_name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.original_name, max_age=0)


@bp.route("/milestones/<int:milestone_id>/sign-off", methods=["POST"])
@contact_required
def milestone_sign_off(milestone_id: int):
    contact = current_user._get_current_object()
    milestone = _loaded_or_404(scope.milestone_for(contact, milestone_id))
    if not milestone.requires_signoff:
        abort(404)  # no sign-off to give: as for a milestone that does not exist
    project_row = _loaded_or_404(scope.project_for(contact, milestone.project_id))
    try:
        work.sign_off_milestone(contact, project_row, milestone)
    except work.Conflict as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("portal.project", project_id=project_row.id, _anchor=f"milestone-{milestone.id}"))
    return _done(project_row.id, f"You signed off {milestone.name}.", f"milestone-{milestone.id}")


@bp.route("/milestones/<int:milestone_id>/rating", methods=["POST"])
@contact_required
def milestone_rate(milestone_id: int):
    contact = current_user._get_current_object()
    milestone = _loaded_or_404(scope.milestone_for(contact, milestone_id))
    project_row = _loaded_or_404(scope.project_for(contact, milestone.project_id))
    score, comment = request.form.get("score", ""), request.form.get("comment", "")
    try:
        work.rate_milestone(contact, project_row, milestone, score=score, comment=comment)
    except work.Conflict as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("portal.project", project_id=project_row.id, _anchor=f"milestone-{milestone.id}"))
    except ValidationError as exc:
        errors = {f"rating-{milestone.id}-{field}": message for field, message in exc.errors.items()}
        return _refused(contact, project_row, ValidationError(errors),
                        values={f"rating-{milestone.id}-comment": comment[:2000]})
    return _done(project_row.id, f"Thank you for rating {milestone.name}.", f"milestone-{milestone.id}")


# --- "view as customer" ------------------------------------------------------------------------------------


def internal_only(permission: str):
    """A preview route: internal users holding `permission`; a contact gets 404 (as for any page they may not
    reach), an anonymous visitor the internal sign-in."""

    def decorator(view):
        guarded = permission_required(permission)(view)

        @wraps(view)
        def wrapped(*args, **kwargs):
            if is_contact():
                abort(404)
            return guarded(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


def _preview_contact() -> Contact | None:
    raw = (request.args.get("contact") or "").strip()
    if not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        return None
    return db.session.get(Contact, int(raw))


@bp.route("/preview")
@internal_only("projects.view")
def preview_home():
    contact = _preview_contact()
    if contact is None:
        abort(404)
    context = home_context(contact, projects.visible_projects_filter(current_user))
    if not context["projects"]:
        abort(404)  # none of this contact's projects is one the user may see
    record_audit(current_user, "portal.previewed", db.session.get(Account, contact.account_id),
                 after={"contact_id": contact.id})
    db.session.commit()
    return render_portal("portal/home.html", portal_contact=contact_view(contact),
                         preview={"name": contact.name, "back_url": url_for("projects.show",
                                                                             project_id=context["projects"][0].id)},
                         preview_contact_id=contact.id, **context)


@bp.route("/preview/projects/<int:project_id>")
@internal_only("projects.view")
def preview_project(project_id: int):
    project_row = db.session.get(Project, project_id) if 0 < project_id <= MAX_ID else None
    if project_row is None or not projects.can_view_project(current_user, project_row):
        abort(404)
    contact = _preview_contact()
    if contact is None or contact.account_id != project_row.account_id:
        contacts = db.session.scalars(sa.select(Contact).where(Contact.account_id == project_row.account_id)
                                      .order_by(Contact.name, Contact.id)).all()
        choices = [(c.id, c.name, contact_view(c).view_level_label) for c in contacts]
        check_context(choices)
        return render_portal("portal/preview_choose.html", portal_contact=None, preview=None,
                             project_name=project_row.name, project_id=project_row.id, choices=choices,
                             back_url=url_for("projects.show", project_id=project_row.id))
    if scope.project_for(contact, project_row.id) is None:
        abort(404)  # a cancelled project: the contact would not see it
    record_audit(current_user, "portal.previewed", project_row, after={"contact_id": contact.id})
    db.session.commit()
    return render_portal("portal/project.html", portal_contact=contact_view(contact),
                         preview={"name": contact.name,
                                  "back_url": url_for("projects.show", project_id=project_row.id)},
                         errors={}, values={}, **project_context(contact, project_row, read_only=True))
