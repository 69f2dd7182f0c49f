"""Sign-in, sign-out and password reset pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from psa.auth import bp, services
from psa.auth.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, LogoutForm, ResetPasswordForm
from psa.core.auth import permission_required, public
from psa.core.mail import dispatch_outbox
from psa.core.views import save_or_errors
from psa.extensions import db, limiter, login_attempt_key

LOGIN_THROTTLED = ("Too many failed sign-in attempts for this e-mail from your address. "
                   "Wait 15 minutes and try again, or reset your password.")


def safe_next(target: str | None, default: str = "dashboard.index") -> str:
    """The `next` path if it stays on this site, else the default page."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and target.startswith("/")
                and not target.startswith(("//", "/\\")) and "\\" not in target):
            return target
    return url_for(default)


def _login_limit() -> str:
    return current_app.config["LOGIN_FAILURE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, key_func=login_attempt_key, methods=["POST"],
               deduct_when=lambda response: response.status_code != 302, error_message=LOGIN_THROTTLED)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            services.start_session(user)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(form.next.data))
        form.password.errors = ["Wrong e-mail or password."]
        status = 401
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if LogoutForm().validate_on_submit():
        if current_user.is_authenticated:
            services.end_session(current_user, current_user.session_token)
            db.session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
@limiter.limit("10 per hour", key_func=login_attempt_key, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        dispatch_outbox()
        flash("If that address belongs to an active user, a reset link is on its way. It works once.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    user, purpose_or_error = services.load_token(token)
    if user is None:
        return render_template("auth/reset_invalid.html", message=purpose_or_error), 410
    form = ResetPasswordForm()
    if form.validate_on_submit():
        response = save_or_errors(form, lambda: services.reset_password(user, form.password.data),
                                  success="Your password is set. Sign in with it now.",
                                  redirect_to=url_for("auth.login"))
        if response is not None:
            return response
    return render_template("auth/reset.html", form=form, user=user, purpose=purpose_or_error)


@bp.route("/account/password", methods=["GET", "POST"])
@permission_required("app.use")
@limiter.limit("10 per hour", key_func=lambda: f"password-change|{current_user.id}", methods=["POST"])
def change_password():
    """Change one's own password: every other sign-in (and remember-me cookie) of the user ends; this device
    gets a new sign-in and stays signed in."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()

        def change():
            services.change_password(user, form.current_password.data, form.password.data)
            services.start_session(user)

        def sign_in_again(_):
            # a device that was kept signed in stays so, with a remember-me cookie naming the new sign-in
            remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            login_user(user, remember=remember_cookie in request.cookies)

        response = save_or_errors(form, change, after_commit=sign_in_again, redirect_to=url_for("dashboard.index"),
                                  success="Your password is changed. You are signed out everywhere else.")
        if response is not None:
            return response
    status = 400 if form.errors else 200
    return render_template("auth/password.html", form=form), status
