"""Forms of the template builder.

The builder shows many forms on one page (one per milestone, per task, per task's predecessors…), so
each carries a prefix ("m12-name", "t40-offset_days") and the names stay unique; the app-wide
CSRFProtect checks the token of every POST, so these forms leave the token to the page
(``csrf_token()``) instead of carrying a prefixed copy. The forms parse input (a number is a number);
the template services hold the rules (ranges, names, cycles) and their messages.
"""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional, ValidationError

from psa.core.forms import CheckboxListField, SafeDecimalField, SafeIntegerField, choices, hours_to_minutes
from psa.core.validation import select_id
from psa.project_templates.models import ASSIGNEE_ROLE_LABELS
from psa.project_templates.services import MAX_ESTIMATED_MINUTES

VISIBILITY_LABELS = {"internal": "Internal", "shared": "Shared with customer"}
#: The most estimated effort a task may carry, in hours.
MAX_TASK_HOURS = MAX_ESTIMATED_MINUTES // 60


class WholeNumberField(SafeIntegerField):
    """An integer input whose parse error says what to type (and refuses what no column holds)."""


class NumberField(SafeDecimalField):
    """A decimal input that says what to type, and refuses NaN, infinity and exponent notation (which
    Decimal() accepts) with a message at the field."""


def _hours(form, field) -> None:
    value = field.data
    if value is None:
        return
    if value < 0 or value > MAX_TASK_HOURS:
        raise ValidationError(f"Enter 0 to {MAX_TASK_HOURS:,} hours.")
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most 2 decimals, like 1.25.")


class _BuilderForm(FlaskForm):
    class Meta:
        csrf = False  # checked app-wide by CSRFProtect; see the module docstring

    def hide_labels(self):
        """Keep the labels for screen readers only, where a table header already names each column."""
        for field in self:
            field.render_kw = {**(field.render_kw or {}), "label_class": "visually-hidden"}
        return self


class NewTemplateForm(FlaskForm):
    name = StringField("Name", render_kw={"maxlength": 120})
    description = TextAreaField("Description", render_kw={"rows": 3})
    target_ttv_days = WholeNumberField("Target time to value (days)", validators=[Optional()],
                                       description="Calendar days from contract signed to first value; "
                                                   "leave empty if there is no target.",
                                       render_kw={"inputmode": "numeric", "min": 1, "max": 3650})
    submit = SubmitField("Create template")


class VersionDetailsForm(_BuilderForm):
    name = StringField("Template name", render_kw={"maxlength": 120})
    description = TextAreaField("Description", render_kw={"rows": 2})
    target_ttv_days = WholeNumberField("Target time to value (days)", validators=[Optional()],
                                       description="Calendar days from contract signed to first value; empty: none.",
                                       render_kw={"inputmode": "numeric", "min": 1, "max": 3650})
    notes = TextAreaField("Version notes", description="What changed in this version.", render_kw={"rows": 2})

    def service_fields(self) -> dict:
        return dict(name=self.name.data, description=self.description.data,
                    target_ttv_days=self.target_ttv_days.data, notes=self.notes.data)


class MilestoneForm(_BuilderForm):
    name = StringField("Milestone name", render_kw={"maxlength": 200})
    offset_days = WholeNumberField("Due (working days after kickoff)", default=0,
                                   render_kw={"inputmode": "numeric"})
    fee_share_percent = NumberField("Fee share (%)", places=2, default=Decimal("0"),
                                    render_kw={"inputmode": "decimal"})
    is_customer_visible = BooleanField("Customer-visible", default=True)
    requires_signoff = BooleanField("Requires customer sign-off")
    is_first_value = BooleanField("First value (time to value stops here)")

    def service_fields(self) -> dict:
        return dict(name=self.name.data, offset_days=self.offset_days.data,
                    fee_share_percent=self.fee_share_percent.data,
                    is_customer_visible=self.is_customer_visible.data,
                    requires_signoff=self.requires_signoff.data, is_first_value=self.is_first_value.data)


class TaskForm(_BuilderForm):
    name = StringField("Task name", render_kw={"maxlength": 200})
    offset_days = WholeNumberField("Starts (working days after kickoff)", default=0,
                                   render_kw={"inputmode": "numeric"})
    duration_days = WholeNumberField("Duration (working days)", default=1, render_kw={"inputmode": "numeric"})
    estimated_hours = NumberField("Estimated hours", places=2, default=Decimal("0"),
                                  validators=[_hours], render_kw={"inputmode": "decimal"})
    assignee_role = SelectField("Assignee", choices=choices(ASSIGNEE_ROLE_LABELS.items()), default="consultant",
                                validate_choice=False)
    visibility = SelectField("Visibility", choices=choices(VISIBILITY_LABELS.items()), default="internal",
                             validate_choice=False)
    #: Saved with the fields above, in the same form: nothing typed is lost by another button. Any id may be
    #: posted; the service decides which are allowed (tasks of the same version, no cycle).
    predecessors = CheckboxListField("Predecessors", coerce=select_id, validate_choice=False,
                                     description="Tasks that must finish before this one starts.")

    @property
    def estimated_minutes(self):
        """The service speaks minutes; its messages about them belong at the hours field."""
        return self.estimated_hours

    def service_fields(self) -> dict:
        return dict(name=self.name.data, offset_days=self.offset_days.data, duration_days=self.duration_days.data,
                    estimated_minutes=hours_to_minutes(self.estimated_hours.data) or 0,
                    assignee_role=self.assignee_role.data, visibility=self.visibility.data)


class CriterionForm(_BuilderForm):
    outcome = StringField("Outcome", render_kw={"maxlength": 200,
                                                "placeholder": "Faster month-end close"})
    metric = StringField("Metric", validators=[Length(max=200, message="Use at most 200 characters.")],
                         render_kw={"maxlength": 200, "placeholder": "Days to close the books"})
    baseline = StringField("Baseline", validators=[Length(max=120, message="Use at most 120 characters.")],
                           render_kw={"maxlength": 120})
    target = StringField("Target", validators=[Length(max=120, message="Use at most 120 characters.")],
                         render_kw={"maxlength": 120})
    due_offset_days = WholeNumberField("Due (calendar days after kickoff)", validators=[Optional()],
                                       render_kw={"inputmode": "numeric"})

    def service_fields(self) -> dict:
        return dict(outcome=self.outcome.data, metric=self.metric.data, baseline=self.baseline.data,
                    target=self.target.data, due_offset_days=self.due_offset_days.data)


class DuplicateForm(_BuilderForm):
    name = StringField("Name of the copy", render_kw={"maxlength": 120})


class ImportForm(FlaskForm):
    file = FileField("Template file (JSON)", validators=[FileRequired("Choose a JSON file exported from PSA.")],
                     render_kw={"accept": ".json,application/json"})
    submit = SubmitField("Import")
