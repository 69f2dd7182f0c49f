"""Form pieces every feature shares."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import html_params

from psa.core.emails import email_problem
from psa.core.validation import (
    DATE_FORMAT_MESSAGE,
    DATE_WINDOW_MESSAGE,
    NUMBER_MESSAGE,
    WHOLE_NUMBER_MESSAGE,
    in_window,
    parse_decimal,
    parse_int,
)

#: IANA zones offered in selects, sorted, UTC first.
TIMEZONES = ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


def choices(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class PlainSelect:
    """WTForms' Select markup for a long list of options (a plan's 400 tasks, 3,000 projects on the export
    page), one f-string an option instead of html_params an option (a quarter of the time). Use as a field's
    widget: `field.widget = PlainSelect()` or `SelectField(..., widget=PlainSelect())`."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        options = "".join(f'<option value="{escape(value)}"{" selected" if selected else ""}>{escape(label)}</option>'
                          for value, label, selected, *_ in field.iter_choices())
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (templates/_macros/choices.html `checkbox_list`, with a
    filter box), where a plain <select multiple> loses every choice on one click without Ctrl."""


def email_address(form, field) -> None:
    """WTForms validator: the one e-mail rule of psa.core.emails (the CLI and services apply it too)."""
    if field.data:
        problem = email_problem(field.data)
        if problem:
            raise ValidationError(problem)


def email_field(label: str = "E-mail", required: bool = True) -> StringField:
    return StringField(
        label,
        validators=[DataRequired(message="Enter an e-mail address.") if required else Optional(),
                    email_address],
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
                       validate_choice=True, widget=PlainSelect())  # about 600 zones


_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def hex_colour(form, field) -> None:
    if not _HEX_COLOUR.match(field.data or ""):
        raise ValidationError("Use a colour like #0d6efd.")


class ConfirmForm(FlaskForm):
    """A bare form for POST buttons (publish, delete, move, deactivate...): it carries the CSRF token."""

    submit = SubmitField("Confirm")


# --- hours typed, minutes stored ------------------------------------------------------------------


def hours_to_minutes(hours: Decimal | None) -> int | None:
    """Hours as typed in a form (at most 2 decimals, which the field checks) as whole minutes, rounded half
    up: 1.25 h is 75, 0.01 h (0.6 min) is 1, 0.05 h is 3; None (left blank) stays None."""
    if hours is None:
        return None
    return int((Decimal(hours) * 60).to_integral_value(rounding=ROUND_HALF_UP))


def minutes_to_hours(minutes: int | None) -> Decimal | None:
    """Minutes as hours with 2 decimals, rounded half up: 75 is 1.25, 1 is 0.02; None stays None."""
    if minutes is None:
        return None
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- typed values: dates in the window, plain numbers ----------------------------------------------


class IsoDateField(DateField):
    """A YYYY-MM-DD date inside the window of SPEC §3 (2000-01-01 to 2099-12-31); anything else gets a
    message at the field and no value."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0] or "").strip():
            self.data = None  # blank: InputRequired or Optional decides
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(DATE_FORMAT_MESSAGE) from None
        if self.data is not None and not in_window(self.data):
            self.data = None
            raise ValueError(DATE_WINDOW_MESSAGE)

    def pre_validate(self, form):
        _stop_after_parse_error(self)


def in_date_window(form, field) -> None:
    """A validator for any date field: the date lies in the window of SPEC §3."""
    if field.data is not None and not in_window(field.data):
        raise ValidationError(DATE_WINDOW_MESSAGE)


class _ParsedInput:
    """Shared by the safe number fields: an empty value is None; anything else goes through `parse`, whose
    ValueError becomes the field's one message (and no range message after it)."""

    def parse(self, text: str):
        raise NotImplementedError

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] is None or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = self.parse(valuelist[0])
        except ValueError:
            self.data = None
            raise

    def pre_validate(self, form):
        _stop_after_parse_error(self)


class SafeDecimalField(_ParsedInput, DecimalField):
    """A decimal typed by a person: plain digits with at most `places` decimals. NaN, sNaN, infinity and
    exponent notation (all of which Decimal() accepts) get a message at the field, never an exception."""

    def __init__(self, label=None, validators=None, places=2, message=NUMBER_MESSAGE, **kwargs):
        super().__init__(label, validators, places=places, **kwargs)
        self.parse_message = message

    def parse(self, text: str):
        return parse_decimal(text, places=self.places, message=self.parse_message)


class SafeIntegerField(_ParsedInput, IntegerField):
    """A whole number within the database's integer range; anything else gets a message at the field."""

    def __init__(self, label=None, validators=None, message=WHOLE_NUMBER_MESSAGE, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.parse_message = message

    def parse(self, text: str):
        return parse_int(text, message=self.parse_message)


def _stop_after_parse_error(field) -> None:
    """A value that could not be read has its message already: no range message after it."""
    if field.process_errors:
        raise StopValidation()


def plain_amount(form, field) -> None:
    """A validator for an amount typed in a text input (rates): a plain number with at most two decimals,
    no exponent notation, NaN or infinity. Blank is left to the service to judge."""
    text = (field.data or "").strip() if isinstance(field.data, str) else field.data
    if text in (None, ""):
        return
    try:
        parse_decimal(text, places=2, message="Enter an amount such as 120 or 95.50.")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
