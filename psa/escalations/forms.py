"""The escalations page's forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import Length

from psa.escalations.services import NOTE_MAX


class AcknowledgeForm(FlaskForm):
    """Acknowledge one escalation, with an optional note. The page holds one per open escalation; the app-wide
    CSRFProtect checks the token of every POST, and each form writes it as a plain csrf_token input."""

    class Meta:
        csrf = False

    escalation_id = HiddenField()
    note = StringField("Note", validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters.")])
    submit = SubmitField("Acknowledge")
