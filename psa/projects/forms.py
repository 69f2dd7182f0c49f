"""Forms of the project pages. They check the shape of the input (a date is a date, a number a number);
the rules (who may manage, which account exists, what a fixed fee needs) are the services' to judge."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from psa.core.forms import IsoDateField, SafeDecimalField, SafeIntegerField, choices
from psa.core.validation import DATE_FORMAT_MESSAGE, id_or_zero
from psa.project_templates.models import ASSIGNEE_ROLE_LABELS
from psa.projects.models import (
    BILLING_LABELS,
    CRITERION_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    WORK_STATUS_LABELS,
)

DATE_MESSAGE = DATE_FORMAT_MESSAGE
MAX_AMOUNT = Decimal("999999999999.99")

def lenient_int(value) -> int:
    """An id from a select: 0 when it is not a number (or beyond what the database holds), so the service
    (not WTForms) says what is wrong."""
    return id_or_zero(value)


class IdSelectField(SelectField):
    """A select of ids whose value must be one of its choices, with a message of ours."""

    def __init__(self, label=None, validators=None, message="Choose an option from the list.", zero_ok=True,
                 **kwargs):
        super().__init__(label, validators, coerce=lenient_int, validate_choice=False, **kwargs)
        self.type = "SelectField"  # drawn as a select by bootstrap5/form.html's render_field
        self.choice_message = message
        #: Whether the 0 option ("none", "blank project") is an answer or only a prompt.
        self.zero_ok = zero_ok

    def pre_validate(self, form):
        offered = {value for value, *_ in self.iter_choices()} if self.choices is not None else set()
        if self.data not in offered or (self.data == 0 and not self.zero_ok):
            raise ValidationError(self.choice_message)


class IdMultipleField(SelectMultipleField):
    """A multi-select of ids; every chosen id must be offered."""

    def __init__(self, label=None, validators=None, message="Choose people from the list.", **kwargs):
        super().__init__(label, validators, coerce=lenient_int, validate_choice=False, **kwargs)
        self.type = "SelectField"  # drawn as a select by bootstrap5/form.html's render_field
        self.choice_message = message

    def pre_validate(self, form):
        offered = {value for value, *_ in self.iter_choices()} if self.choices is not None else set()
        if any(value not in offered for value in self.data or ()):
            raise ValidationError(self.choice_message)


def required_date(label: str, **kwargs) -> IsoDateField:
    return IsoDateField(label, validators=[InputRequired(message=DATE_MESSAGE)], **kwargs)


def optional_date(label: str, **kwargs) -> IsoDateField:
    return IsoDateField(label, validators=[Optional()], **kwargs)


# --- the project -----------------------------------------------------------------------------------


class ProjectForm(FlaskForm):
    """The details of a project (edit page); ProjectCreateForm adds the template."""

    #: Lenient: an unknown id reaches the service, which answers at the field.
    account_id = SelectField("Customer account", coerce=lenient_int, validate_choice=False)
    name = StringField("Project name", validators=[Length(max=200, message="Use at most 200 characters.")],
                       filters=[lambda v: v.strip() if isinstance(v, str) else v])
    kickoff_date = required_date("Kickoff date",
                                 description="Planned dates count working days from it (moved to a working day).")
    contract_signed_date = optional_date("Contract signed", description="Time to value counts from this day.")
    target_go_live_date = optional_date("Target go-live",
                                        description="Leave empty to use the last milestone's due date.")
    manager_id = SelectField("Project manager", coerce=lenient_int, validate_choice=False)
    #: Drawn as a filterable checkbox list (templates/_macros/choices.html): one plain click never drops the others.
    member_ids = IdMultipleField("Members", description="The project manager is always a member.")
    billing_model = SelectField("Billing model", choices=choices(BILLING_LABELS.items()), default="fixed_fee",
                                validate_choice=False)
    fee_amount = SafeDecimalField(
        "Fee or not-to-exceed amount", places=2,
        description="The fixed fee, or the cap of a time-and-materials project (empty for none).",
        validators=[Optional(), NumberRange(min=0, max=MAX_AMOUNT,
                                            message="Enter an amount from 0 to 999,999,999,999.99.")])
    budget_hours = SafeDecimalField(
        "Budget (hours)", places=2,
        description="Empty to use the template's estimated hours.",
        validators=[Optional(), NumberRange(min=0, max=1000000, message="Enter 0 to 1,000,000 hours.")])
    status = SelectField("Status", choices=choices(PROJECT_STATUS_LABELS.items()), default="active",
                         validate_choice=False)
    portal_shows_hours = BooleanField(
        "Show the customer the budgeted, used and remaining hours in the portal",
        description="Hours only: rates, costs and fees are never shown in the portal.", default=False)
    submit = SubmitField("Save")


class ProjectCreateForm(ProjectForm):
    template_version_id = IdSelectField(
        "Template", message="Choose a published template, or Blank project.",
        description="Milestones, tasks and success criteria are copied from the newest published version.")
    #: Who takes the template's tasks of each internal role (psa/projects/staffing.py): 0 is the default rule.
    assign_manager = IdSelectField("Manager tasks go to", message="Choose a person from the list.", default=0)
    assign_consultant = IdSelectField("Consultant tasks go to", message="Choose a person from the list.", default=0)
    assign_leader = IdSelectField("PS leader tasks go to", message="Choose a person from the list.", default=0)
    assign_admin = IdSelectField("Admin tasks go to", message="Choose a person from the list.", default=0)
    #: A contact of the project's account (offered grouped by account); 0: the customer as a group.
    assign_customer = IdSelectField(
        "Customer tasks go to", message="Choose a contact of the project's account.", default=0,
        description="A contact of the account chosen above, e-mailed their tasks; or the customer as a group.")
    submit = SubmitField("Create project")

    def role_fields(self):
        """(role, field) of the role-mapping fields, in the form's order (the customer's last)."""
        return [(role, self[f"assign_{role}"]) for role in ("manager", "consultant", "leader", "admin", "customer")]


# --- the forms of the project page ------------------------------------------------------------------


class BulkAssignForm(FlaskForm):
    """Assign the tasks ticked on the assign page to one person (the plan page stays light: no checkbox a row)."""

    task_ids = SelectMultipleField("Tasks", coerce=lenient_int, validate_choice=False)
    assignee_id = IdSelectField("Assign the chosen tasks to", message="Choose a person on the project.", default=0)
    submit = SubmitField("Assign")

    def validate_task_ids(self, field):
        if not [i for i in field.data or () if i]:
            raise ValidationError("Tick the tasks to assign first.")


#: The quick actions of the plan (QuickTaskForm.action), and what each one says it did.
QUICK_ACTIONS = {"done": "Marked done", "reopen": "Reopened", "assign": "Assigned", "block": "Set blocked",
                 "unblock": "Unblocked"}


class QuickTaskForm(FlaskForm):
    """One quick action on a task of the plan (mark done, reopen, assign, set blocked with a reason,
    unblock), posted from the panel under its row; the full edit page does the rest."""

    action = SelectField("Action", choices=choices(QUICK_ACTIONS.items()), validate_choice=False)
    assignee_id = IdSelectField("Assign to", message="Choose a person on the project.", default=0)
    blocked_reason = StringField("Blocked because", validators=[Length(max=500, message="Use at most 500 characters.")],
                                 filters=[lambda v: v.strip() if isinstance(v, str) else v])

    def validate_action(self, field):
        if field.data not in QUICK_ACTIONS:
            raise ValidationError("Choose mark done, reopen, assign, set blocked or unblock.")

    def validate(self, extra_validators=None) -> bool:
        """The person matters only to "assign": another action ignores what the select held."""
        super().validate(extra_validators)
        if self.action.data != "assign":
            self.assignee_id.errors = []
        return not any(field.errors for field in self)


class PageForm(FlaskForm):
    """A form of the project page, which holds many, each under its own prefix. Their CSRF token is checked
    once for every POST by the app-wide CSRFProtect (a prefixed form would otherwise expect its own
    "<prefix>-csrf_token"), and the page writes one plain csrf_token input per form."""

    class Meta:
        csrf = False


class TaskForm(PageForm):
    """The inline form of one task on the project page (each with its own prefix)."""

    status = SelectField("Status", choices=choices(WORK_STATUS_LABELS.items()), validate_choice=False)
    due_date = required_date("Due")
    assignee_id = IdSelectField("Assignee", message="Choose a member of the project.")
    blocked_reason = StringField("Blocked reason", validators=[Length(max=500, message="Use at most 500 characters.")],
                                 filters=[lambda v: v.strip() if isinstance(v, str) else v])
    shift_successors = BooleanField("Shift successors by the same working days", default=True)
    submit = SubmitField("Save")


class MilestoneForm(PageForm):
    """The due date of a milestone, and its status when it has no tasks."""

    due_date = required_date("Due")
    #: Only rendered for a milestone without tasks; a missing value leaves the status alone.
    status = SelectField("Status", choices=choices(WORK_STATUS_LABELS.items()), validate_choice=False)
    submit = SubmitField("Save")


class NewTaskForm(PageForm):
    milestone_id = IdSelectField("Milestone", message="Choose a milestone of this project.", zero_ok=False)
    name = StringField("Task name", validators=[Length(max=200, message="Use at most 200 characters.")])
    start_date = required_date("Start")
    duration_days = SafeIntegerField("Duration (working days)", default=1, validators=[
        InputRequired(message="Enter 1 or more working days."),
        NumberRange(min=1, max=10000, message="Enter 1 or more working days.")])
    estimated_hours = SafeDecimalField("Estimated hours", places=2, default=Decimal("0"), validators=[
        Optional(), NumberRange(min=0, max=100000, message="Enter 0 or more hours.")])
    assignee_role = SelectField("For", choices=choices(ASSIGNEE_ROLE_LABELS.items()), default="consultant",
                                validate_choice=False)
    visibility = SelectField("Visibility", choices=choices([("internal", "Internal"), ("shared", "Shared with customer")]),
                             default="internal", validate_choice=False)
    submit = SubmitField("Add task")


class NewMilestoneForm(PageForm):
    name = StringField("Milestone name", validators=[Length(max=200, message="Use at most 200 characters.")])
    due_date = required_date("Due")
    submit = SubmitField("Add milestone")


class CriterionForm(PageForm):
    outcome = StringField("Outcome", validators=[Length(max=200, message="Use at most 200 characters.")])
    metric = StringField("Metric", validators=[Length(max=200, message="Use at most 200 characters.")])
    baseline = StringField("Baseline", validators=[Length(max=120, message="Use at most 120 characters.")])
    target = StringField("Target", validators=[Length(max=120, message="Use at most 120 characters.")])
    current_value = StringField("Current value", validators=[Length(max=120, message="Use at most 120 characters.")])
    due_date = optional_date("Due")
    status = SelectField("Status", choices=choices(CRITERION_STATUS_LABELS.items()), default="not_started",
                         validate_choice=False)
    submit = SubmitField("Save")


class CommentForm(PageForm):
    body = TextAreaField("Comment", render_kw={"rows": 3})
    visibility = SelectField("Visibility", choices=choices([("internal", "Internal (team only)"),
                                                            ("shared", "Shared (shown in the portal)")]),
                             default="internal", validate_choice=False)
    submit = SubmitField("Add comment")


class AttachmentForm(PageForm):
    file = FileField("File", description="PDF, images, office documents, text, CSV or ZIP; at most 10 MB.")
    task_id = IdSelectField("Task", message="Choose a task of this project.")
    submit = SubmitField("Upload")
