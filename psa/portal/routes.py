"""Portal routes: thin (load, authorize through psa.portal.scope, call a service, respond).

Here: `contact_required`, a contact's sign-in pages (password, invitation, e-mailed sign-in link, sign-out),
and the internal pages where users holding "accounts.manage" manage an account's contacts. Those are routes of
the admin blueprint (/admin/accounts/<id>/contacts/..., next to the account page that lists the contacts and
links to them): they call the portal's services, and psa/admin may not import psa/portal. The portal's own
pages (portal.home, portal.project, ...) live in psa/portal/pages.py."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from psa.accounts.models import Account, Contact
from psa.admin import bp as admin_bp
from psa.admin.forms import AllowedDomainsForm
from psa.core.auth import is_contact, permission_required, public
from psa.core.errors import ValidationError, apply_errors
from psa.core.mail import dispatch_outbox
from psa.core.views import save_or_errors
from psa.extensions import db, limiter, login_attempt_key
from psa.portal import bp, services
from psa.portal.forms import AcceptInvitationForm, ContactForm, PortalLoginForm, SignInLinkForm, UseLinkForm

LOGIN_THROTTLED = ("Too many failed sign-in attempts for this e-mail from your address. "
                   "Wait 15 minutes and try again, or ask for a sign-in link by e-mail.")
LINK_SENT = "If that e-mail belongs to a contact, a link is on its way. It works once, for 15 minutes."


def contact_required(view):
    """A portal page: a signed-in contact only. Anyone else (anonymous, or an internal user, whose session is
    not a contact's) is sent to the portal's sign-in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_contact():
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    wrapped.contact_only = True
    return public(wrapped)  # no internal sign-in asked: the URL-map tests read contact_only instead


# --- a contact's sign-in --------------------------------------------------------------------------------------


def portal_next(target: str | None) -> str:
    """The `next` path if it is a portal page of this site, else the portal's home."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and target.startswith("/portal/")
                and "\\" not in target and "//" not in target):
            return target
    return url_for("portal.home")


def _sign_in(contact: Contact, remember: bool = False) -> None:
    """Start a sign-in of the contact (a session row), commit, and hand it to Flask-Login."""
    services.start_contact_session(contact)
    db.session.commit()
    login_user(contact, remember=remember)


def _refused(exc: services.LinkRefused):
    db.session.rollback()
    return render_template("portal/auth/link_refused.html", message=exc.message), exc.status


def _login_limit() -> str:
    return current_app.config["LOGIN_FAILURE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, key_func=login_attempt_key, methods=["POST"],
               deduct_when=lambda response: response.status_code != 302, error_message=LOGIN_THROTTLED)
def login():
    if is_contact():
        return redirect(portal_next(request.args.get("next")))
    form = PortalLoginForm()
    status = 200
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        contact = services.authenticate_contact(form.email.data, form.password.data)
        if contact is not None:
            _sign_in(contact, remember=form.remember.data)
            return redirect(portal_next(form.next.data))
        form.password.errors = ["Wrong e-mail or password."]
        status = 401
    return render_template("portal/auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """End this sign-in of the contact (its session row: the cookies stop working wherever they were copied)."""
    if is_contact():
        services.end_contact_session(current_user, current_user.session_token)
        db.session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("portal.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """An invitation: choose a password (the POST uses the link), then the contact is signed in."""
    try:
        contact = services.check_link(token, "invite")
    except services.LinkRefused as exc:
        return _refused(exc)
    form = AcceptInvitationForm()
    status = 200
    if form.validate_on_submit():
        try:
            contact = services.accept_invitation(token, form.password.data)
        except services.LinkRefused as exc:
            return _refused(exc)
        except ValidationError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            _sign_in(contact)
            flash("Your password is set. Welcome!", "success")
            return redirect(url_for("portal.home"))
    if form.errors:
        status = 400
    return render_template("portal/auth/accept.html", form=form, contact=contact), status


@bp.route("/link", methods=["GET", "POST"])
@public
@limiter.limit("10 per hour", key_func=login_attempt_key, methods=["POST"])
def request_link():
    """Ask for a sign-in link by e-mail. The answer is the same whether the address is known or not."""
    form = SignInLinkForm()
    if form.validate_on_submit():
        services.request_sign_in_link(form.email.data)
        db.session.commit()
        dispatch_outbox()
        flash(LINK_SENT, "info")
        return redirect(url_for("portal.login"))
    return render_template("portal/auth/request_link.html", form=form), 400 if form.errors else 200


@bp.route("/link/<token>", methods=["GET", "POST"])
@public
def sign_in_link(token: str):
    """An e-mailed sign-in link: the GET shows a button (a mail scanner following the link uses nothing up);
    its POST uses the link and signs the contact in."""
    form = UseLinkForm()
    try:
        if form.validate_on_submit():
            contact = services.sign_in_with_link(token)
            _sign_in(contact)
            return redirect(url_for("portal.home"))
        contact = services.check_link(token, "signin")
    except services.LinkRefused as exc:
        return _refused(exc)
    return render_template("portal/auth/use_link.html", form=form, contact=contact)


# --- an account's contacts, managed by internal users (admin blueprint: /admin/accounts/<id>/contacts) -------


def _account_contact(account_id: int, contact_id: int) -> tuple[Account, Contact]:
    """The account and its contact, or 404 (a contact of another account is as missing as none)."""
    account = db.get_or_404(Account, account_id)
    contact = db.session.scalar(sa.select(Contact).where(Contact.id == contact_id, Contact.account_id == account.id))
    if contact is None:
        abort(404)
    return account, contact


def _back(account: Account) -> str:
    return url_for("admin.account_edit", account_id=account.id) + "#contacts"


def _contact_fields(form: ContactForm) -> dict:
    return dict(name=form.name.data, email=form.email.data, title=form.title.data or "",
                stakeholder_role=form.stakeholder_role.data, view_level=form.view_level.data)


@admin_bp.route("/accounts/<int:account_id>/contacts/new", methods=["GET", "POST"])
@permission_required("accounts.manage")
def contact_new(account_id: int):
    account = db.get_or_404(Account, account_id)
    form = ContactForm()
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.create_contact(current_user, account, **_contact_fields(form)),
            success=lambda contact: f"{contact.name} added. Send them an invitation to the portal.",
            redirect_to=_back(account))
        if response is not None:
            return response
    return render_template("admin/contact_form.html", form=form, account=account, contact=None), \
        400 if form.errors else 200


@admin_bp.route("/accounts/<int:account_id>/contacts/<int:contact_id>", methods=["GET", "POST"])
@permission_required("accounts.manage")
def contact_edit(account_id: int, contact_id: int):
    account, contact = _account_contact(account_id, contact_id)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.update_contact(current_user, contact, **_contact_fields(form)),
            success=lambda c: f"{c.name} saved.", redirect_to=_back(account))
        if response is not None:
            return response
    return render_template("admin/contact_form.html", form=form, account=account, contact=contact), \
        400 if form.errors else 200


@admin_bp.route("/accounts/<int:account_id>/contacts/<int:contact_id>/active", methods=["POST"])
@permission_required("accounts.manage")
def contact_active(account_id: int, contact_id: int):
    """Deactivate (their sign-ins end at once) or reactivate a contact: the form's `active` is 0 or 1."""
    account, contact = _account_contact(account_id, contact_id)
    active = request.form.get("active") == "1"
    return save_or_errors(
        None, lambda: services.set_contact_active(current_user, contact, active),
        success=lambda c: f"{c.name} {'reactivated' if active else 'deactivated: their portal sign-ins ended'}.",
        redirect_to=_back(account))


@admin_bp.route("/accounts/<int:account_id>/contacts/<int:contact_id>/invite", methods=["POST"])
@permission_required("accounts.manage")
def contact_invite(account_id: int, contact_id: int):
    """E-mail the contact an invitation to the portal (again: the earlier link stops working)."""
    account, contact = _account_contact(account_id, contact_id)
    return save_or_errors(
        None, lambda: services.invite_contact(current_user, contact),
        success=f"Invitation sent to {contact.email}. The link works once, for 7 days.",
        redirect_to=_back(account), after_commit=lambda _: dispatch_outbox())


@admin_bp.route("/accounts/<int:account_id>/contact-domains", methods=["GET", "POST"])
@permission_required("accounts.manage")
def account_domains(account_id: int):
    """The account's allowed e-mail domains for its contacts (also a form in the account page's contacts
    section, which posts here)."""
    account = db.get_or_404(Account, account_id)
    form = AllowedDomainsForm(obj=account)
    if form.validate_on_submit():
        response = save_or_errors(
            form, lambda: services.set_allowed_email_domains(current_user, account,
                                                             form.allowed_email_domains.data or ""),
            success="Allowed e-mail domains saved.", redirect_to=_back(account))
        if response is not None:
            return response
    return render_template("admin/contact_domains.html", form=form, account=account), 400 if form.errors else 200
