"""Admin pages: users, customer accounts, settings, holidays, branding, the audit log; and the public
branding endpoints (the accent stylesheet and the logo, outside /admin: the sign-in page shows them)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user

from psa.accounts import services as account_services
from psa.accounts.models import SEGMENT_LABELS, STAKEHOLDER_LABELS, VIEW_LEVEL_LABELS, Account, Contact
from psa.admin import bp, crm_settings
from psa.admin import services as admin
from psa.admin.forms import (
    NO_APPROVER,
    AccountForm,
    AllowedDomainsForm,
    ConfirmForm,
    CrmHookForm,
    HolidayForm,
    LoadHolidaysForm,
    LogoForm,
    NewUserForm,
    SettingsForm,
    UserForm,
)
from psa.admin.models import Holiday
from psa.auth import services as user_services
from psa.auth.models import ROLE_LABELS, User
from psa.core.audit import describe_events
from psa.core.auth import permission_required, public
from psa.core.clock import org_today
from psa.core.db import contains_pattern
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import choices
from psa.core.mail import dispatch_outbox
from psa.core.models import AuditEvent
from psa.core.pagination import paginate
from psa.core.views import save_or_errors
from psa.extensions import db
from psa.project_templates.models import Template


@bp.route("/")
@permission_required("accounts.view")
def index():
    if current_user.role == "admin":
        return redirect(url_for("admin.users"))
    return redirect(url_for("admin.accounts"))


# --- users ---------------------------------------------------------------------------------------


@bp.route("/users")
@permission_required("admin.users")
def users():
    search = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    stmt = sa.select(User).order_by(User.is_active_user.desc(), sa.func.lower(User.name))
    if search:
        like = contains_pattern(search)
        stmt = stmt.where(sa.or_(sa.func.lower(User.name).like(like, escape="\\"), User.email.like(like, escape="\\")))
    if role in ROLE_LABELS:
        stmt = stmt.where(User.role == role)
    return render_template("admin/users.html", page=paginate(stmt), search=search, role=role,
                           roles=ROLE_LABELS, confirm=ConfirmForm())



def _approver_choices(user: User | None):
    """Who may approve a user's weeks: active managers, leaders and admins other than the user (one query);
    the user's current approver stays offered, marked, when no longer one of them (so other changes save)."""
    rows = db.session.execute(
        sa.select(User.id, User.name, User.role, User.is_active_user)
        .where(sa.or_(sa.and_(User.role.in_(user_services.APPROVER_ROLES), User.is_active_user.is_(True)),
                      User.id == (user.approver_id if user and user.approver_id else 0)))
        .order_by(sa.func.lower(User.name), User.id)).all()
    offered = []
    for row in rows:
        if user is not None and row.id == user.id:
            continue
        label = f"{row.name} ({ROLE_LABELS.get(row.role, row.role)})"
        if not row.is_active_user or row.role not in user_services.APPROVER_ROLES:
            label += " — no longer an approver: the leaders approve"
        offered.append((row.id, label))
    return choices([(0, NO_APPROVER), *offered])


def _approver(approver_id: int | None) -> User | None:
    return db.session.get(User, approver_id) if approver_id else None


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("admin.users")
def user_new():
    form = NewUserForm()
    form.approver_id.choices = _approver_choices(None)
    if form.validate_on_submit():
        fields = dict(email=form.email.data, name=form.name.data, role=form.role.data,
                      timezone=form.timezone.data, weekly_capacity_hours=form.weekly_capacity_hours.data,
                      approver=_approver(form.approver_id.data))
        with_password = bool(form.password.data)

        def create():
            if with_password:
                return user_services.create_user(current_user, password=form.password.data, **fields)
            return user_services.invite_user(current_user, **fields)

        response = save_or_errors(
            form, create, after_commit=lambda _: dispatch_outbox(), redirect_to=url_for("admin.users"),
            success=lambda user: (f"{user.name} can sign in now with the password you set." if with_password
                                  else f"Invitation e-mailed to {user.email}."))
        if response is not None:
            return response
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("admin.users")
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user)
    form.approver_id.choices = _approver_choices(user)
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: user_services.update_user(current_user, user, email=form.email.data, name=form.name.data,
                                                    role=form.role.data, timezone=form.timezone.data,
                                                    weekly_capacity_hours=form.weekly_capacity_hours.data,
                                                    approver=_approver(form.approver_id.data)),
            success=lambda _: f"{user.name} saved.", redirect_to=url_for("admin.users"))
        if response is not None:
            return response
    return render_template("admin/user_form.html", form=form, user=user, confirm=ConfirmForm())


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@permission_required("admin.users")
def user_set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    return save_or_errors(None, lambda: user_services.set_user_active(current_user, user, active),
                          success=lambda _: f"{user.name} is {'active' if active else 'deactivated'}.",
                          redirect_to=url_for("admin.users"))


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@permission_required("admin.users")
def user_reinvite(user_id: int):
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not user.is_active:
        flash("Reactivate the user before inviting them again.", "warning")
    else:
        user_services.send_invitation(current_user, user)
        db.session.commit()
        dispatch_outbox()
        flash(f"A new invitation went to {user.email}.", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


# --- customer accounts ---------------------------------------------------------------------------


def _owner_choices():
    owners = db.session.execute(
        sa.select(User.id, User.name).where(User.is_active_user.is_(True)).order_by(User.name)
    ).all()
    return choices([(0, "— No owner —"), *[(row.id, row.name) for row in owners]])


def _owner(owner_id: int | None) -> User | None:
    return db.session.get(User, owner_id) if owner_id else None


@bp.route("/accounts")
@permission_required("accounts.view")
def accounts():
    search = request.args.get("q", "").strip()[:200]
    segment = request.args.get("segment", "")
    page = paginate(account_services.account_list_query(search, segment))
    return render_template("admin/accounts.html", page=page, search=search, segment=segment,
                           segments=SEGMENT_LABELS)



@bp.route("/accounts/new", methods=["GET", "POST"])
@permission_required("accounts.manage")
def account_new():
    form = AccountForm()
    form.owner_id.choices = _owner_choices()
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: account_services.create_account(current_user, name=form.name.data, segment=form.segment.data,
                                                          owner=_owner(form.owner_id.data), arr=form.arr.data),
            success=lambda account: f"Account {account.name} created.", redirect_to=url_for("admin.accounts"))
        if response is not None:
            return response
    return render_template("admin/account_form.html", form=form, account=None)


@bp.route("/accounts/<int:account_id>", methods=["GET", "POST"])
@permission_required("accounts.manage")
def account_edit(account_id: int):
    account = db.get_or_404(Account, account_id)
    form = AccountForm(obj=account)
    form.owner_id.choices = _owner_choices()
    if request.method == "GET":
        form.owner_id.data = account.owner_id or 0
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: account_services.update_account(current_user, account, name=form.name.data,
                                                          segment=form.segment.data, owner=_owner(form.owner_id.data),
                                                          arr=form.arr.data),
            success=lambda _: f"Account {account.name} saved.", redirect_to=url_for("admin.accounts"))
        if response is not None:
            return response
    contacts = db.session.scalars(sa.select(Contact).where(Contact.account_id == account.id)
                                  .order_by(Contact.is_active_contact.desc(), sa.func.lower(Contact.name))).all()
    return render_template("admin/account_form.html", form=form, account=account, contacts=contacts,
                           domains_form=AllowedDomainsForm(obj=account, formdata=None),
                           stakeholder_labels=STAKEHOLDER_LABELS, view_level_labels=VIEW_LEVEL_LABELS)


# --- settings, holidays, branding ----------------------------------------------------------------


def _settings_page(form=None, holiday_form=None, logo_form=None, load_form=None, status=200, crm_form=None):
    settings = admin.get_settings()
    # a secret generated by the last save is shown on this one page, then never again (the session holds only a
    # marker of it, never the secret)
    reveal = session.pop("crm_secret_reveal", None)
    new_crm_secret = None
    if reveal and settings.crm_hook_secret and reveal == crm_settings.secret_marker(settings.crm_hook_secret):
        new_crm_secret = settings.crm_hook_secret
    if crm_form is None:
        crm_form = CrmHookForm(formdata=None)
        crm_form.crm_template_map.data = crm_settings.template_map_text(settings)
    if load_form is None:
        load_form = LoadHolidaysForm(formdata=None)
        load_form.country.choices = choices(admin.holiday_countries())
        load_form.country.data = admin.default_holiday_country(settings)
        load_form.year.data = org_today().year
    if form is None:
        form = SettingsForm(obj=settings)
        form.working_days.data = list(settings.working_days)
    return render_template(
        "admin/settings.html", form=form, settings=settings,
        holiday_form=holiday_form or HolidayForm(formdata=None), logo_form=logo_form or LogoForm(formdata=None),
        holidays=admin.list_holidays(), confirm=ConfirmForm(), load_form=load_form, crm_form=crm_form,
        new_crm_secret=new_crm_secret,
        crm_templates=db.session.execute(sa.select(Template.id, Template.name).order_by(Template.id)).all(),
    ), status, ({"Cache-Control": "no-store"} if new_crm_secret else {})


@bp.route("/settings/crm", methods=["POST"])
@permission_required("admin.settings")
def crm_hook_save():
    """The CRM hook's secret and mapping; a generated secret is shown once, on the settings page this redirects to
    (neither the address nor the session cookie holds it)."""
    form = CrmHookForm()
    if form.validate_on_submit():
        try:
            generated = crm_settings.update_crm_hook(
                current_user, admin.get_settings(), secret=form.crm_hook_secret.data,
                generate=form.generate_secret.data, remove=form.remove_secret.data,
                template_map=form.crm_template_map.data)
        except ValidationError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            if generated is not None:
                session["crm_secret_reveal"] = crm_settings.secret_marker(generated)
            flash("CRM hook saved." if generated is None else
                  "CRM hook saved with a new secret: copy it now, it is not shown again.", "success")
            return redirect(url_for("admin.settings", _anchor="crm-hook"))
    return _settings_page(crm_form=form, status=400)


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("admin.settings")
def settings():
    if request.method == "GET":
        return _settings_page()
    form = SettingsForm()
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in admin.SETTINGS_FIELDS if name != "working_days"}
        fields["working_days"] = "".join(form.working_days.data)
        response = save_or_errors(form, lambda: admin.update_settings(current_user, **fields),
                                  success="Settings saved.", redirect_to=url_for("admin.settings"))
        if response is not None:
            return response
    return _settings_page(form=form, status=400)


@bp.route("/settings/holidays", methods=["POST"])
@permission_required("admin.settings")
def holiday_add():
    form = HolidayForm()
    if form.validate_on_submit():
        response = save_or_errors(form, lambda: admin.add_holiday(current_user, form.day.data, form.name.data),
                                  success=lambda holiday: f"{holiday.name} on {holiday.day.isoformat()} added.",
                                  redirect_to=url_for("admin.settings", _anchor="holidays"))
        if response is not None:
            return response
    return _settings_page(holiday_form=form, status=400)


@bp.route("/settings/holidays/load", methods=["POST"])
@permission_required("admin.settings")
def holidays_load():
    form = LoadHolidaysForm()
    form.country.choices = choices(admin.holiday_countries())
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: admin.load_public_holidays(current_user, form.country.data, form.year.data),
            success=lambda added: (f"{len(added)} public holiday{'s' if len(added) != 1 else ''} of "
                                   f"{form.country.data} for {form.year.data} added; edit the list below."),
            redirect_to=url_for("admin.settings", _anchor="holidays"))
        if response is not None:
            return response
    return _settings_page(load_form=form, status=400)


@bp.route("/settings/holidays/<int:holiday_id>/delete", methods=["POST"])
@permission_required("admin.settings")
def holiday_delete(holiday_id: int):
    holiday = db.get_or_404(Holiday, holiday_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    admin.delete_holiday(current_user, holiday)
    db.session.commit()
    flash("Holiday removed.", "success")
    return redirect(url_for("admin.settings", _anchor="holidays"))


@bp.route("/settings/logo", methods=["POST"])
@permission_required("admin.settings")
def logo_upload():
    form = LogoForm()
    if form.validate_on_submit():
        response = save_or_errors(form, lambda: admin.save_logo(current_user, form.logo.data.read()),
                                  success="Logo uploaded.", redirect_to=url_for("admin.settings", _anchor="branding"))
        if response is not None:
            return response
    return _settings_page(logo_form=form, status=400)


@bp.route("/settings/logo/delete", methods=["POST"])
@permission_required("admin.settings")
def logo_delete():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    admin.remove_logo(current_user)
    db.session.commit()
    flash("Logo removed.", "success")
    return redirect(url_for("admin.settings", _anchor="branding"))


# --- audit log -----------------------------------------------------------------------------------


#: What the audit log's type filter offers: the object types the features record, in words.
AUDIT_TYPE_LABELS = {
    "account": "Customer accounts", "attachment": "Files", "holiday": "Holidays", "milestone": "Milestones",
    "project": "Projects", "projectrate": "Project rates", "settings": "Settings", "successcriterion": "Success criteria",
    "task": "Tasks", "template": "Templates", "templateversion": "Template versions", "timesheet": "Timesheets",
    "user": "Users", "userrate": "User rates", "system": "System",
}


@bp.route("/audit")
@permission_required("admin.audit")
def audit():
    stmt = sa.select(AuditEvent).options(sa.orm.selectinload(AuditEvent.actor))
    object_type = request.args.get("type", "").strip()[:40]
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    page = paginate(stmt, per_page=50)
    types = sorted(AUDIT_TYPE_LABELS.items(), key=lambda pair: pair[1])
    if object_type and object_type not in AUDIT_TYPE_LABELS:  # a type typed into the address keeps showing
        types.append((object_type, object_type))
    return render_template("admin/audit.html", page=page, lines=describe_events(page.items),
                           object_type=object_type, types=types)


# --- public branding -------------------------------------------------------------------------------

#: The branding the layout links to on every page, signed in or not (no /admin prefix).
branding = Blueprint("branding", __name__)


@branding.route("/branding.css")
@public
def stylesheet():
    """The accent colour as CSS custom properties (a stylesheet, since the CSP forbids inline styles)."""
    colour = admin.get_settings().brand_accent_color
    css = (f":root {{ --psa-accent: {colour}; --bs-primary: {colour}; --bs-link-color: {colour}; }}\n"
           f".btn-primary {{ --bs-btn-bg: {colour}; --bs-btn-border-color: {colour}; "
           f"--bs-btn-hover-bg: {colour}; --bs-btn-hover-border-color: {colour}; "
           f"--bs-btn-active-bg: {colour}; --bs-btn-active-border-color: {colour}; }}\n"
           f".navbar.psa-navbar {{ border-bottom: 3px solid {colour}; }}\n")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-cache"
    return response


@branding.route("/branding/logo")
@public
def logo():
    filename = admin.get_settings().brand_logo_filename
    if not filename:
        abort(404)
    return send_from_directory(admin.logo_folder(), filename, max_age=300)
