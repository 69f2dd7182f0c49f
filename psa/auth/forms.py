"""Sign-in and password forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from psa.auth.services import PASSWORD_MAX, PASSWORD_MIN
from psa.core.forms import email_field


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."),
                                                     Length(max=PASSWORD_MAX)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()
    submit = SubmitField("Sign in")


class ForgotPasswordForm(FlaskForm):
    email = email_field()
    submit = SubmitField("Send reset link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a password."),
                    Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                           message=f"Use {PASSWORD_MIN} to {PASSWORD_MAX} characters.")],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(message="Repeat the password."),
                                        EqualTo("password", message="The two passwords differ.")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Set password")


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(message="Enter your current password."),
                                                 Length(max=PASSWORD_MAX)],
                                     render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Change password")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")
