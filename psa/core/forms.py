"""Form pieces every feature shares."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

#: IANA zones offered in selects, sorted, UTC first.
TIMEZONES = ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


def choices(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def email_field(label: str = "E-mail", required: bool = True) -> StringField:
    return StringField(
        label,
        validators=[DataRequired(message="Enter an e-mail address.") if required else Optional(),
                    Length(max=254, message="Use at most 254 characters."),
                    Email(message="Enter a valid e-mail address, like name@example.com.",
                          check_deliverability=False)],
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )


def name_field(label: str = "Name", max_length: int = 120) -> StringField:
    return StringField(
        label,
        validators=[DataRequired(message="This field is required."),
                    Length(max=max_length, message=f"Use at most {max_length} characters.")],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )


def timezone_field(label: str = "Time zone") -> SelectField:
    return SelectField(label, choices=choices((z, z) for z in TIMEZONES), default="UTC",
                       validate_choice=True)


_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def hex_colour(form, field) -> None:
    if not _HEX_COLOUR.match(field.data or ""):
        raise ValidationError("Use a colour like #0d6efd.")


class ConfirmForm(FlaskForm):
    """A bare form for POST buttons: it carries the CSRF token."""

    submit = SubmitField("Confirm")
