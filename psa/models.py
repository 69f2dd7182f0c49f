"""Imports every model module, so the metadata knows every table (Alembic and tests rely on it)."""

from psa.accounts.models import Account, Contact, ContactSession, PortalLink  # noqa: F401
from psa.admin.models import Holiday, Settings  # noqa: F401
from psa.api.models import ApiToken, DealWon, IdempotencyRecord  # noqa: F401
from psa.auth.models import User  # noqa: F401
from psa.core import report_cache  # noqa: F401,E402  (report_changes, report_epoch, report_version)
from psa.core.models import AuditEvent, Notification, OutboxEmail, ReminderSent  # noqa: F401
from psa.project_templates.models import (  # noqa: F401
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)
from psa.projects.models import (  # noqa: F401
    Attachment,
    Comment,
    Escalation,
    Milestone,
    MilestoneRating,
    Project,
    SuccessCriterion,
    Task,
    TtvSnapshot,
)
from psa.reports.models import ReportFile  # noqa: F401
from psa.timesheets.models import ProjectRate, TimeEntry, TimeOff, Timesheet, UserRate  # noqa: F401
from psa.webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: F401
