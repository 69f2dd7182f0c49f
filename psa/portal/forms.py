"""Portal forms: a contact's sign-in pages, and the contact form internal users fill in on an account."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import Length

from psa.accounts.models import STAKEHOLDER_LABELS, VIEW_LEVEL_LABELS
from psa.auth.forms import LoginForm, ResetPasswordForm
from psa.core.forms import choices, email_field, name_field


class PortalLoginForm(LoginForm):
    """The portal's sign-in: e-mail and password, as /login's."""


class SignInLinkForm(FlaskForm):
    email = email_field()
    submit = SubmitField("E-mail me a sign-in link")


class AcceptInvitationForm(ResetPasswordForm):
    submit = SubmitField("Set password and sign in")


class UseLinkForm(FlaskForm):
    """The confirm button of an e-mailed sign-in link: the POST uses the link, so a mail scanner that follows
    links (GET) does not use it up."""

    submit = SubmitField("Sign in")


class ContactForm(FlaskForm):
    name = name_field("Name")
    email = email_field("E-mail")
    title = StringField("Title", validators=[Length(max=120, message="Use at most 120 characters.")],
                        filters=[lambda v: v.strip() if isinstance(v, str) else v])
    stakeholder_role = SelectField("Stakeholder role", choices=choices(STAKEHOLDER_LABELS.items()),
                                   default="daily_user", validate_choice=True)
    view_level = SelectField("Portal view", choices=choices(VIEW_LEVEL_LABELS.items()), default="full",
                             validate_choice=True,
                             description="Overview only: milestones and progress. Full project: the customer-facing "
                                         "plan. My tasks only: the tasks assigned to this contact.")
    submit = SubmitField("Save")
