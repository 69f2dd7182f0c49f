"""The customer-facing project status report (issue 15): one project as a PDF for a business review with the
customer, drawn from exactly what the portal's project page shows (psa.portal.pages.project_context, through
psa.portal.scope and the allow-listed views of psa.portal.views) and rendered with render_portal's checks (views
and plain values only, never an ORM object).

Whom it is drawn for (the "audience"):
- a contact downloading it from the portal: that contact, at their own view level (overview, full project or
  my tasks), exactly as their project page reads;
- an internal user downloading it from the project page: the project's account at view level "full project"
  (`internal_audience`), i.e. what any full-project contact of that account sees. The user's own permissions
  never add anything: the report is customer-facing whoever downloads it.

What it holds: the organisation's branding name, the project's name, the account's name, the date generated
(the organisation's today), the progress and next milestone as the portal shows them, the customer-visible
milestones split into done (with the completion date and sign-off) and next (planned date, due date, forecast,
status), the success criteria (outcome, metric, baseline, target, current, due, status), the open customer tasks
the audience sees (with their due dates), and the shared risks.

"Shared risks" are risks the customer can already see in the portal, nothing more:
- every customer-visible milestone still open whose forecast is later than its due date, with the slip in
  working days (the cached slip of psa.projects.services, the number the portal prints as "N working days late");
- every task the audience sees that is blocked, by name, milestone, who it is with and its due date. Its blocked
  reason is NOT printed: a task's reason has no customer visibility of its own (the team writes it for
  itself, and the portal never shows it), so it stays internal.

Never in it: internal tasks, hidden milestones, comments, documents, hours (even where the portal shows them),
rates, costs, fees, budgets, margins, health and its reason, escalations, notes, other accounts' data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from psa.accounts.models import Account
from psa.admin.services import get_settings
from psa.core import clock
from psa.extensions import db
from psa.portal.pages import project_context
from psa.portal.views import contact_view, render_portal

TEMPLATE = "portal/status_pdf.html"
#: The label psa.portal.views.task_view gives a task that is not the customer's (assigned to the team).
OUR_TEAM = "Our team"
DEFAULT_ACCENT = "#0d6efd"


@dataclass(frozen=True)
class Audience:
    """Whom an internal download is drawn for: the fields psa.portal.scope reads of a contact. Id 0 is no
    contact's (ids start at 1): no task is "yours", no rating is "yours"."""

    id: int
    account_id: int
    view_level: str


def internal_audience(project) -> Audience:
    """The project's account at view level "full project": what an internal user's download shows."""
    return Audience(id=0, account_id=project.account_id, view_level="full")


def status_report(audience, project, *, today: date | None = None) -> dict:
    """The report's context: portal views and plain values only (render_portal checks it). `audience` is a
    Contact or an Audience; `project` must already be one the audience sees (psa.portal.scope.project_for)."""
    today = today or clock.org_today()
    page = project_context(audience, project, read_only=True)
    milestones = page["milestones"]
    milestone_names = {m.id: m.name for m in milestones}
    done = [m for m in milestones if m.status == "done"]
    upcoming = [m for m in milestones if m.status != "done"]
    customer_tasks = sorted((t for t in page["tasks"] if t.assignee_label != OUR_TEAM and t.status != "done"),
                            key=lambda t: (t.due_date, t.id))
    blocked = sorted((t for t in page["tasks"] if t.status == "blocked"), key=lambda t: (t.due_date, t.id))
    slipping = [m for m in upcoming if m.slip_days > 0]
    settings = get_settings()
    accent = settings.brand_accent_color if re.fullmatch(r"#[0-9a-fA-F]{6}", settings.brand_accent_color or "") \
        else DEFAULT_ACCENT
    is_contact = not isinstance(audience, Audience)
    return {
        "brand_name": settings.brand_name or settings.org_name,
        "accent": accent,
        "account_name": db.session.scalar(sa.select(Account.name).where(Account.id == project.account_id)) or "",
        "portal_contact": contact_view(audience) if is_contact else None,
        "project": page["project"],
        "generated_on": today.isoformat(),
        "done_milestones": done,
        "next_milestones": upcoming,
        "criteria": page["criteria"],
        "customer_tasks": customer_tasks,
        "blocked_tasks": [(milestone_names.get(t.milestone_id, ""), t) for t in blocked],
        "slipping_milestones": slipping,
    }


def render_html(report: dict) -> str:
    """The report's HTML (the print template), through render_portal: no ORM object reaches it."""
    return render_portal(TEMPLATE, **report)


def slug(name: str) -> str:
    """The project's name for a file name: ASCII letters, digits and dashes, at most 60 characters."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")


def filename(project, report: dict) -> str:
    """status-<project slug, or its id when the name has no letter or digit>-<YYYY-MM-DD>.pdf"""
    return f"status-{slug(project.name) or project.id}-{report['generated_on']}.pdf"
