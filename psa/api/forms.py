"""Forms of the API-token pages (psa.api.tokens)."""

from __future__ import annotations

import secrets

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import Length, Optional, ValidationError

from psa.core import clock
from psa.core.forms import IsoDateField, name_field

#: The message when the expiry is today or past (the window 2000–2099 is IsoDateField's).
EXPIRY_PAST_MESSAGE = "Choose a date after today (the token works until the end of that day), or leave it empty."


class NewTokenForm(FlaskForm):
    """A new token of the signed-in user: a name saying what uses it, and an optional last day."""

    name = name_field("Name", max_length=100)
    #: A random key per form shown: the same form sent twice makes one token (psa.api.services.TokenAlreadyMade).
    form_key = HiddenField(default=lambda: secrets.token_urlsafe(24), validators=[Optional(), Length(max=64)])
    expires_on = IsoDateField(
        "Expires after (optional)", validators=[Optional()],
        description="The last day the token works, in your time zone (YYYY-MM-DD). Empty: until revoked.")

    def validate_expires_on(self, field) -> None:
        if field.data is not None and field.data <= clock.user_today(current_user):
            raise ValidationError(EXPIRY_PAST_MESSAGE)
