"""Forms of the time import, the time export and the rates pages. They check the shape of the input; the
services (imports, set_user_rate, set_project_rate, recalculate_rates) judge it and say what is wrong."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.validators import Length, ValidationError

from psa.core.forms import PlainSelect, choices, plain_amount
from psa.projects.forms import IdSelectField, optional_date, required_date
from psa.timesheets.imports import DATE_ORDERS
from psa.timesheets.models import TIMESHEET_STATE_LABELS

MONEY_HINT = "Per hour, for example 120 or 95.50."


class ImportForm(FlaskForm):
    file = FileField("CSV file (ours, Harvest or Toggl Track)",
                     validators=[FileRequired(message="Choose a CSV file to import.")],
                     render_kw={"accept": ".csv,text/csv"})
    dry_run = BooleanField("Dry run: check the file and show what would be created, without saving", default=True)
    date_order = SelectField(
        "Slashed dates (3/4/2026) in the file are",
        choices=choices([("", "Told by the file (asked when it cannot tell)"),
                         *((value, label.capitalize()) for value, label in DATE_ORDERS.items())]),
        validate_choice=True, default="",
        description="Dotted dates (26.01.2015) are always day first, and YYYY-MM-DD is never in doubt.")
    strict_tasks = BooleanField(
        "Refuse rows whose task is not one of the project's",
        description="Harvest's and Toggl's tasks are often activities (“Design”, “Meetings”) rather than tasks of "
                    "the plan. Unticked, such rows go on the project without a task, the activity kept on the entry. "
                    "PSA's own format always refuses them (it has an activity column).")


class ExportForm(FlaskForm):
    """The export's filters, read from the query string (a GET form: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    date_from = optional_date("From")
    date_to = optional_date("To")
    # long lists (3,000 projects, 1,000 accounts at size): drawn by PlainSelect, a third of WTForms' time
    user_id = IdSelectField("Person", message="Choose a person from the list.", default=0, widget=PlainSelect())
    account_id = IdSelectField("Account", message="Choose an account from the list.", default=0, widget=PlainSelect())
    project_id = IdSelectField("Project", message="Choose a project from the list.", default=0, widget=PlainSelect())
    state = SelectField("Week state", choices=choices([("", "Any state"), *TIMESHEET_STATE_LABELS.items()]),
                        validate_choice=True, default="")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end of the period comes before its start.")


class UserRateForm(FlaskForm):
    user_id = IdSelectField("Person", message="Choose a person from the list.", zero_ok=False)
    effective_from = required_date("Effective from")
    cost_rate = StringField("Cost rate", validators=[Length(max=20, message="Use at most 20 characters."),
                                                     plain_amount],
                            description=MONEY_HINT, render_kw={"inputmode": "decimal"})
    bill_rate = StringField("Default bill rate", validators=[Length(max=20, message="Use at most 20 characters."),
                                                             plain_amount],
                            description=MONEY_HINT, render_kw={"inputmode": "decimal"})
    submit = SubmitField("Add rate")


class ProjectRateForm(FlaskForm):
    applies_to = SelectField("Applies to", validate_choice=False,
                             description="A line for a person wins over the line for their role.")
    bill_rate = StringField("Bill rate", validators=[Length(max=20, message="Use at most 20 characters."),
                                                     plain_amount],
                            description=MONEY_HINT, render_kw={"inputmode": "decimal"})
    submit = SubmitField("Save rate card line")

    def validate_applies_to(self, field):
        if not field.data or field.data not in {value for value, *_ in self.applies_to.iter_choices()}:
            raise ValidationError("Choose a role or a person from the list.")


class RecalculateForm(FlaskForm):
    since = optional_date("Only entries from", description="Leave empty for every unapproved entry.")
    submit = SubmitField("Recalculate unapproved entries")
