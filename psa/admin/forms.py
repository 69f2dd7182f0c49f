"""Forms of the admin pages."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    ColorField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from psa.accounts.models import SEGMENT_LABELS
from psa.admin.models import WEEKDAY_NAMES
from psa.auth.models import ROLE_LABELS
from psa.auth.services import PASSWORD_MAX, PASSWORD_MIN
from psa.core.forms import (  # noqa: F401
    ConfirmForm,
    IsoDateField,
    PlainSelect,
    SafeDecimalField,
    SafeIntegerField,
    choices,
    email_field,
    hex_colour,
    name_field,
    timezone_field,
)
from psa.core.validation import EARLIEST_DATE, LATEST_DATE, select_id

ROLE_CHOICES = choices(ROLE_LABELS.items())
DATE_MESSAGE = "Enter a date as YYYY-MM-DD."
#: The approver select's empty choice.
NO_APPROVER = "— none: the leaders approve —"
YEAR_MESSAGE = f"Enter a year from {EARLIEST_DATE.year} to {LATEST_DATE.year}."


class UserForm(FlaskForm):
    email = email_field()
    name = name_field()
    role = SelectField("Role", choices=ROLE_CHOICES, default="consultant", validate_choice=True)
    timezone = timezone_field()
    weekly_capacity_hours = SafeDecimalField(
        "Weekly capacity (hours)", default=Decimal("40"), places=2,
        validators=[InputRequired(message="Enter the hours a week, 0 to 168."),
                    NumberRange(min=0, max=168, message="Enter the hours a week, 0 to 168.")],
    )
    approver_id = SelectField(
        # None (no approver on the user, or no such field posted) is the "none" choice, 0
        "Approver", coerce=select_id, validate_choice=True, default=0, filters=[lambda v: 0 if v is None else v],
        choices=choices([(0, NO_APPROVER)]),  # the routes add the people who may approve
        description="Approves this person’s timesheets. Without one, the PS leaders approve them.")
    submit = SubmitField("Save")


class NewUserForm(UserForm):
    password = PasswordField(
        "Password",
        description="Leave blank to e-mail an invitation with a link to choose one.",
        validators=[Optional(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                                       message=f"Use {PASSWORD_MIN} to {PASSWORD_MAX} characters.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create user")


class AccountForm(FlaskForm):
    name = name_field("Company name", max_length=200)
    segment = SelectField("Segment", choices=choices(SEGMENT_LABELS.items()), default="mid", validate_choice=True)
    owner_id = SelectField("Owner", coerce=select_id, validate_choice=True)
    arr = SafeDecimalField("ARR", places=2, default=Decimal("0"),
                       validators=[InputRequired(message="Enter the annual contract value (0 if none)."),
                                   NumberRange(min=0, max=Decimal("999999999999.99"),
                                               message="Enter an amount from 0 to 999,999,999,999.99.")])
    submit = SubmitField("Save")


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _days(label: str, low: int = 1, high: int = 60) -> SafeIntegerField:
    return SafeIntegerField(label, validators=[InputRequired(message=f"Enter a whole number from {low} to {high}."),
                                               NumberRange(min=low, max=high,
                                                           message=f"Enter a whole number from {low} to {high}.")])


class SettingsForm(FlaskForm):
    org_name = name_field("Organisation name")
    currency = StringField("Currency (ISO code)", validators=[
        DataRequired(message="Enter a three-letter currency code."),
        Regexp(r"^[A-Za-z]{3}$", message="Enter a three-letter currency code such as USD or EUR.")],
        filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    timezone = timezone_field()
    working_days = MultiCheckboxField("Working days", choices=choices((str(i + 1), n) for i, n in enumerate(WEEKDAY_NAMES)),
                                      validators=[DataRequired(message="Choose at least one working day.")])
    time_lock_date = IsoDateField("Time lock date", validators=[Optional()],
                               description="No time entry on or before this date can be created, changed or deleted.")
    allow_future_time = BooleanField("Allow time on future dates (planned absence, for instance)")
    escalation_level1_days = _days("Level 1 at slip of (working days)")
    escalation_level2_days = _days("Level 2 at slip of (working days)")
    escalation_level3_days = _days("Level 3 at slip of (working days)")
    health_red_overdue_days = _days("Red when a milestone is overdue by more than (working days)", 0)
    health_amber_burn_points = _days("Amber when hours burned exceed progress by more than (points)", 0, 100)
    utilization_target_percent = SafeDecimalField("Utilization target (%)", places=2, validators=[
        InputRequired(message="Enter a percentage from 0 to 100."),
        NumberRange(min=0, max=100, message="Enter a percentage from 0 to 100.")])
    brand_name = name_field("Brand name (portal and customer reports)")
    brand_accent_color = ColorField("Accent colour", validators=[DataRequired(message="Choose a colour."), hex_colour])
    submit = SubmitField("Save settings")


class CrmHookForm(FlaskForm):
    """The CRM deal-won hook: its secret (write-only: never shown back) and the product → template mapping."""

    crm_hook_secret = PasswordField(
        "New secret", validators=[Optional()], render_kw={"autocomplete": "new-password"},
        description="The CRM signs each deal with it (HMAC-SHA256). Leave blank to keep the current one.")
    generate_secret = BooleanField("Generate a new secret (shown once, after saving)")
    remove_secret = BooleanField("Turn the hook off (remove the secret)")
    crm_template_map = TextAreaField(
        "Products and templates", render_kw={"rows": 4, "spellcheck": "false"},
        description="One line per product or plan: 'product = template id', e.g. 'Enterprise = 3'. A deal whose "
                    "product is not listed is refused.")
    submit = SubmitField("Save CRM hook")


class HolidayForm(FlaskForm):
    day = IsoDateField("Date", validators=[InputRequired(message=DATE_MESSAGE)])
    name = name_field("Holiday name")
    submit = SubmitField("Add holiday")


class LoadHolidaysForm(FlaskForm):
    country = SelectField("Country", validate_choice=True, widget=PlainSelect())  # about 150 countries
    year = SafeIntegerField("Year", validators=[
        InputRequired(message=YEAR_MESSAGE),
        NumberRange(min=EARLIEST_DATE.year, max=LATEST_DATE.year, message=YEAR_MESSAGE)])
    submit = SubmitField("Load public holidays")


class LogoForm(FlaskForm):
    logo = FileField("Logo (PNG, JPEG or WebP, at most 512 KB)", validators=[FileRequired(message="Choose a file.")])
    submit = SubmitField("Upload logo")


class AllowedDomainsForm(FlaskForm):
    """The account's allowed e-mail domains for its portal contacts (saved by the contacts section's route)."""

    allowed_email_domains = StringField(
        "Allowed e-mail domains", validators=[Length(max=500, message="Use at most 500 characters.")],
        description="Contacts of this account must have an address at one of these domains (for example "
                    "contoso.com, contoso.de). Leave empty to allow any domain.")
    submit = SubmitField("Save domains")
