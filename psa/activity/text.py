"""Audit events as sentences people read: "Mia Manager moved Build's due date from 2026-11-19 to 2026-11-21".

One function, `describe_events`, serves the admin audit log and a project's activity feed. Each event becomes an
`AuditLine`: its sentence (text with the object it acts on as a link) and, for the audit log, the project the
object belongs to. Values read as people know them: minutes as hours ("390 h"), money with the currency, dates
as YYYY-MM-DD, booleans yes/no, statuses and roles by their labels, people and accounts by name.

Names and links are resolved in one query per kind of object present on the page (`KINDS`: every task of
the page in one query, every user in one...), never one per event. An object deleted since is named from the
event's data when it holds a name ("Configure"), else "a deleted task".

It lives in psa.activity, above every feature, because naming a task or a timesheet needs the features'
models and labels: the audit log (admin) and the project page (projects) reach it through
psa.core.audit.describe_events, connected at start, so no feature imports it (tests/core/test_imports.py).
A kind of object is added with `register_kind` and an action's wording with `register_action`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import url_for
from markupsafe import Markup, escape

from psa.accounts.models import SEGMENT_LABELS, STAKEHOLDER_LABELS, VIEW_LEVEL_LABELS, Account, Contact
from psa.admin.models import Holiday
from psa.auth.models import ROLE_LABELS, User
from psa.core.forms import minutes_to_hours
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.project_templates.models import Template
from psa.projects.models import (
    BILLING_LABELS,
    CRITERION_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    WORK_STATUS_LABELS,
    Attachment,
    Comment,
    Escalation,
    Milestone,
    Project,
    SuccessCriterion,
    Task,
)
from psa.timesheets.models import TIMESHEET_STATE_LABELS, Timesheet

# --- the pieces of a sentence ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """An object as a sentence names it: its name, and where it is shown (None: deleted, or no page)."""

    name: str
    url: str | None = None
    #: The project it belongs to (a task's, a file's…), which the audit log shows under the sentence.
    parent: Ref | None = None
    #: The user who owns it (a timesheet's), and how it reads when that user acts on it ("their week of …").
    owner_id: int | None = None
    own_name: str | None = None


@dataclass
class AuditLine:
    """One audit event in words. `str(line)` is the sentence; in a template `{{ line }}` is the sentence
    with the object as a link."""

    event: AuditEvent
    actor: str
    parts: list = field(default_factory=list)
    #: The project the object belongs to, when it is not the project itself.
    context: Ref | None = None

    def __str__(self) -> str:
        return "".join(part.name if isinstance(part, Ref) else part for part in self.parts)

    def __html__(self) -> Markup:
        html = Markup("")
        for part in self.parts:
            if isinstance(part, Ref) and part.url:
                html += Markup('<a href="{}">{}</a>').format(part.url, part.name)
            else:
                html += escape(part.name if isinstance(part, Ref) else part)
        return html

    @property
    def text(self) -> str:
        return str(self)


# --- the kinds of objects and how they are looked up ----------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of audited object (AuditEvent.object_type): how "a deleted one" reads, how to load the names
    and links of many at once (one query), and which field of an event's data names it."""

    noun: str
    load: Callable[[set[int]], dict[int, Ref]] | None = None
    name_fields: tuple[str, ...] = ("name",)


def _project_url(project_id: int, anchor: str | None = None) -> str:
    return url_for("projects.show", project_id=project_id, _anchor=anchor)


def project_ref(project_id: int, name: str) -> Ref:
    return Ref(name, _project_url(project_id))


def ref_for(object_type: str, object_id: int, name: str, project_id: int, project_name: str) -> Ref:
    """The Ref of a project or of one of its milestones, tasks, success criteria or files, from names the
    caller holds already (the project page holds them all)."""
    if object_type == "project":
        return project_ref(object_id, name)
    anchors = {"milestone": f"milestone-{object_id}", "task": f"task-{object_id}",
               "successcriterion": f"criterion-{object_id}", "attachment": "attachments"}
    return Ref(name, _project_url(project_id, anchors[object_type]), parent=project_ref(project_id, project_name))


def _rows(stmt) -> list:
    return db.session.execute(stmt).all()


def _load_users(ids: set[int]) -> dict[int, Ref]:
    return {r.id: Ref(r.name, url_for("admin.user_edit", user_id=r.id))
            for r in _rows(sa.select(User.id, User.name).where(User.id.in_(ids)))}


def _load_accounts(ids: set[int]) -> dict[int, Ref]:
    return {r.id: Ref(r.name, url_for("admin.account_edit", account_id=r.id))
            for r in _rows(sa.select(Account.id, Account.name).where(Account.id.in_(ids)))}


def _load_projects(ids: set[int]) -> dict[int, Ref]:
    return {r.id: project_ref(r.id, r.name)
            for r in _rows(sa.select(Project.id, Project.name).where(Project.id.in_(ids)))}


def _project_part_loader(object_type: str, model, name_column) -> Callable[[set[int]], dict[int, Ref]]:
    """Load milestones, tasks, criteria or files with their project's name, in one query."""
    def load(ids: set[int]) -> dict[int, Ref]:
        rows = _rows(sa.select(model.id, name_column.label("name"), Project.id.label("project_id"),
                               Project.name.label("project_name"))
                     .join(Project, Project.id == model.project_id).where(model.id.in_(ids)))
        return {r.id: ref_for(object_type, r.id, r.name, r.project_id, r.project_name) for r in rows}
    return load


def _load_templates(ids: set[int]) -> dict[int, Ref]:
    return {r.id: Ref(r.name, url_for("project_templates.newest_version", template_id=r.id))
            for r in _rows(sa.select(Template.id, Template.name).where(Template.id.in_(ids)))}


def _load_timesheets(ids: set[int]) -> dict[int, Ref]:
    rows = _rows(sa.select(Timesheet.id, Timesheet.week_start, Timesheet.user_id, User.name)
                 .join(User, User.id == Timesheet.user_id).where(Timesheet.id.in_(ids)))
    return {r.id: Ref(f"{r.name}'s week of {r.week_start.isoformat()}", url_for("timesheets.sheet", sheet_id=r.id),
                      owner_id=r.user_id, own_name=f"their week of {r.week_start.isoformat()}") for r in rows}


def _load_holidays(ids: set[int]) -> dict[int, Ref]:
    url = url_for("admin.settings", _anchor="holidays")
    return {r.id: Ref(r.name, url) for r in _rows(sa.select(Holiday.id, Holiday.name).where(Holiday.id.in_(ids)))}


def _load_contacts(ids: set[int]) -> dict[int, Ref]:
    """Contacts as sentences name them, "Dana Doe (customer)", linked to their account's contacts."""
    return {r.id: Ref(contact_name(r.name), url_for("admin.account_edit", account_id=r.account_id, _anchor="contacts"))
            for r in _rows(sa.select(Contact.id, Contact.name, Contact.account_id).where(Contact.id.in_(ids)))}


def contact_name(name: str) -> str:
    """How a contact reads in a sentence: as a person of the customer, never mistaken for a colleague."""
    return f"{name} (customer)"


def _load_comments(ids: set[int]) -> dict[int, Ref]:
    """A comment reads as "a comment on <project>", linked to the project's comments."""
    rows = _rows(sa.select(Comment.id, Project.id.label("project_id"), Project.name.label("project_name"))
                 .join(Project, Project.id == Comment.project_id).where(Comment.id.in_(ids)))
    return {r.id: Ref(f"a comment on {r.project_name}", _project_url(r.project_id, "comments"),
                      parent=project_ref(r.project_id, r.project_name)) for r in rows}


def _load_settings(ids: set[int]) -> dict[int, Ref]:
    return {i: Ref("the organisation", url_for("admin.settings")) for i in ids}  # one row, always there


def _load_escalations(ids: set[int]) -> dict[int, Ref]:
    """An escalation reads as "the escalation of Build", linked to the milestone on its project's page."""
    rows = _rows(sa.select(Escalation.id, Escalation.milestone_id, Milestone.name, Project.id.label("project_id"),
                           Project.name.label("project_name"))
                 .join(Milestone, Milestone.id == Escalation.milestone_id)
                 .join(Project, Project.id == Escalation.project_id).where(Escalation.id.in_(ids)))
    return {r.id: Ref(f"the escalation of {r.name}", _project_url(r.project_id, f"milestone-{r.milestone_id}"),
                      parent=project_ref(r.project_id, r.project_name)) for r in rows}


#: Every kind of object the features audit, by AuditEvent.object_type.
KINDS: dict[str, Kind] = {
    "user": Kind("user", _load_users),
    "account": Kind("account", _load_accounts),
    "project": Kind("project", _load_projects),
    "milestone": Kind("milestone", _project_part_loader("milestone", Milestone, Milestone.name)),
    "task": Kind("task", _project_part_loader("task", Task, Task.name)),
    "successcriterion": Kind("success criterion",
                             _project_part_loader("successcriterion", SuccessCriterion, SuccessCriterion.outcome),
                             name_fields=("outcome",)),
    "attachment": Kind("file", _project_part_loader("attachment", Attachment, Attachment.original_name)),
    "template": Kind("template", _load_templates),
    "timesheet": Kind("timesheet", _load_timesheets),
    "holiday": Kind("holiday", _load_holidays),
    "settings": Kind("settings", _load_settings),
    "projectrate": Kind("project rate"),
    "contact": Kind("contact", _load_contacts),
    "comment": Kind("comment", _load_comments, name_fields=()),
    "escalation": Kind("escalation", _load_escalations, name_fields=()),
}

#: Fields whose value is the id of another object, and that object's kind.
ID_FIELDS = {"assignee_id": "user", "manager_id": "user", "owner_id": "user", "approver_id": "user",
             "user_id": "user", "account_id": "account", "project_id": "project", "contact_id": "contact",
             "assignee_contact_id": "contact"}


def register_kind(object_type: str, kind: Kind) -> None:
    """Let a feature name and link a kind of object it audits."""
    KINDS[object_type] = kind


# --- values ----------------------------------------------------------------------------------------

#: How a field is called in a sentence ("the budget of …"); a field not listed reads as its name.
FIELD_LABELS = {
    "due_date": "due date", "start_date": "start date", "assignee_id": "assignee", "blocked_reason": "blocked reason",
    "portal_shows_hours": "hours shown in the portal",
    "account_id": "account", "kickoff_date": "kickoff date", "contract_signed_date": "contract signed date",
    "target_go_live_date": "target go-live date", "manager_id": "project manager", "billing_model": "billing model",
    "fee_amount": "fee", "budget_minutes": "budget", "current_value": "current value", "owner_id": "owner",
    "arr": "ARR", "approver_id": "approver", "weekly_capacity_hours": "weekly capacity", "is_active_user": "active",
    "email": "e-mail address", "timezone": "time zone", "org_name": "name", "currency": "currency",
    "working_days": "working days", "time_lock_date": "time lock date", "allow_future_time": "future time allowed",
    "escalation_level1_days": "escalation level 1", "escalation_level2_days": "escalation level 2",
    "escalation_level3_days": "escalation level 3", "health_red_overdue_days": "red health threshold",
    "health_amber_burn_points": "amber health threshold", "utilization_target_percent": "utilization target",
    "brand_name": "brand name", "brand_accent_color": "accent colour", "cost_rate": "cost rate",
    "bill_rate": "bill rate", "effective_from": "effective date", "assignee_contact_id": "contact",
    "view_level": "portal view", "stakeholder_role": "stakeholder role", "is_active_contact": "active",
    "email_opt_out": "e-mail reminders turned off", "title": "title",
    "allowed_email_domains": "allowed e-mail domains",
}
MONEY_FIELDS = {"fee_amount", "arr"}
RATE_FIELDS = {"cost_rate", "bill_rate"}
DAY_FIELDS = {"escalation_level1_days", "escalation_level2_days", "escalation_level3_days", "health_red_overdue_days"}
TEXT_FIELDS = {"name", "outcome", "metric", "baseline", "target", "current_value", "blocked_reason", "reason",
               "org_name", "brand_name", "title"}
#: Status values by the kind of object they belong to.
STATUS_LABELS = {"task": WORK_STATUS_LABELS, "milestone": WORK_STATUS_LABELS, "project": PROJECT_STATUS_LABELS,
                 "successcriterion": CRITERION_STATUS_LABELS}
WEEKDAYS = {"1": "Mon", "2": "Tue", "3": "Wed", "4": "Thu", "5": "Fri", "6": "Sat", "7": "Sun"}


def _number(value: Decimal) -> str:
    """1200.50 → "1,200.5"; 391.00 → "391"."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


class _Values:
    """Formats one page's values, with the names loaded for it and the organisation's currency."""

    def __init__(self, refs: dict[tuple[str, int], Ref], currency: str):
        self.refs, self.currency = refs, currency

    def ref(self, object_type: str, object_id, data: Iterable[dict | None] = ()) -> Ref:
        """The object's Ref; deleted since: named from the event's data if it holds a name, else "a deleted …"."""
        found = self.refs.get((object_type, object_id)) if object_id is not None else None
        if found is not None:
            return found
        kind = KINDS.get(object_type)
        for values in data:
            for name_field in (kind.name_fields if kind else ("name",)):
                if values and values.get(name_field):
                    return Ref(str(values[name_field]))
        if kind is None:
            return Ref(f"{object_type} {object_id}" if object_id is not None else object_type)
        return Ref(f"a deleted {kind.noun}")

    def show(self, name: str, value, object_type: str = "") -> str:
        """A field's value as people read it."""
        if value is None or value == "":
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if name in ID_FIELDS:
            return self.ref(ID_FIELDS[name], value).name
        if name.endswith("_minutes"):
            return f"{_number(minutes_to_hours(int(value)))} h"
        if name == "weekly_capacity_hours" and _decimal(value) is not None:
            return f"{_number(_decimal(value))} h"
        if name in MONEY_FIELDS | RATE_FIELDS and _decimal(value) is not None:
            amount = f"{self.currency} {_decimal(value):,.2f}"
            return f"{amount} an hour" if name in RATE_FIELDS else amount
        if name == "status":
            return STATUS_LABELS.get(object_type, {}).get(value) or WORK_STATUS_LABELS.get(value, str(value))
        if name == "state":
            return TIMESHEET_STATE_LABELS.get(value, str(value))
        if name == "billing_model":
            return BILLING_LABELS.get(value, str(value))
        if name == "role":
            return ROLE_LABELS.get(value, str(value))
        if name == "segment":
            return SEGMENT_LABELS.get(value, str(value))
        if name == "view_level":
            return VIEW_LEVEL_LABELS.get(value, str(value))
        if name == "stakeholder_role":
            return STAKEHOLDER_LABELS.get(value, str(value))
        if name == "working_days":
            return ", ".join(WEEKDAYS.get(day, day) for day in str(value))
        if name in DAY_FIELDS:
            return f"{value} working day{'' if str(value) == '1' else 's'}"
        if name == "health_amber_burn_points":
            return f"{value} points"
        if name == "utilization_target_percent" and _decimal(value) is not None:
            return f"{_number(_decimal(value))} %"
        if name in TEXT_FIELDS:
            return f"“{value}”"
        return str(value)  # dates are stored as YYYY-MM-DD


# --- sentences ---------------------------------------------------------------------------------------


def _possessive(ref: Ref) -> list:
    return [ref, "'" if ref.name.endswith("s") else "'s"]


def _clauses(values: _Values, obj: Ref, object_type: str, before: dict | None, after: dict | None,
             fields: Iterable[str] | None = None) -> list:
    """"moved Build's due date from A to B, and changed its status from To do to Done": one clause per
    changed field, the object named in the first and "its" in the others."""
    before, after = before or {}, after or {}
    keys = [k for k in (fields if fields is not None else after or before) if k in after or k in before]
    parts: list = []
    for index, key in enumerate(keys):
        first = index == 0
        old, new = before.get(key), after.get(key)
        label = FIELD_LABELS.get(key, key.replace("_", " "))
        was, now = values.show(key, old, object_type), values.show(key, new, object_type)
        its = [obj] if first else ["it"]
        if index:
            parts.append(", and " if index == len(keys) - 1 else ", ")
        if key == "assignee_contact_id":  # a customer task: a contact, or the customer as a group (None)
            if old is None:
                parts += ["assigned ", *its, f" to {now}"]
            elif new is None:
                parts += ["gave ", *its, f" back to the customer as a group (was {was})"]
            else:
                parts += ["reassigned ", *its, f" from {was} to {now}"]
        elif key == "assignee_id":
            if old is None:
                parts += ["assigned ", *its, f" to {now}"]
            elif new is None:
                parts += ["unassigned ", *its, f" (was {was})"]
            else:
                parts += ["reassigned ", *its, f" from {was} to {now}"]
        elif old in (None, "") and key in before:
            parts += [f"set the {label} of ", *its, f" to {now}"] if first else [f"set its {label} to {now}"]
        elif new in (None, ""):
            parts += [f"cleared the {label} of ", *its, f" (was {was})"] if first else \
                [f"cleared its {label} (was {was})"]
        elif key.endswith("_date"):
            owner = _possessive(obj) if first else ["its"]
            parts += ["moved ", *owner, f" {label} from {was} to {now}"]
        elif key not in before:
            parts += [f"set the {label} of ", *its, f" to {now}"] if first else [f"set its {label} to {now}"]
        else:
            parts += [f"changed the {label} of ", *its, f" from {was} to {now}"] if first else \
                [f"changed its {label} from {was} to {now}"]
    return parts


def _changed(values, obj, event) -> list:
    clauses = _clauses(values, obj, event.object_type, event.before, event.after)
    return clauses or ["saved ", obj, " (nothing changed)"]


def _created(noun: str, *details: str):
    """"created the project X (budget 400 h)"."""
    def sentence(values, obj, event) -> list:
        data = event.after or {}
        shown = [f"{FIELD_LABELS.get(k, k)} {values.show(k, data[k], event.object_type)}" for k in details
                 if data.get(k) not in (None, "")]
        return [f"{noun} ", obj, f" ({', '.join(shown)})" if shown else ""]
    return sentence


#: Where _said puts the object.
OBJ = object()


def _said(*words) -> Callable:
    """A sentence with the object in it: _said("approved ", OBJ) → "approved Ann's week of 2026-11-16"."""
    def sentence(values, obj, event) -> list:
        return [obj if word is OBJ else word for word in words]
    return sentence


def _user_created(values, obj, event):
    role = (event.after or {}).get("role")
    return ["created the user ", obj, f" ({values.show('role', role)})" if role else ""]


def _own(verb: str) -> Callable:
    """"Ann Consultant changed their password" (the user acting on themselves) or "… the password of Ann"."""
    def sentence(values, obj, event):
        if event.actor_id is not None and event.actor_id == event.object_id:
            return [f"{verb} their password"]
        return [f"{verb} the password of ", obj]
    return sentence


def _timesheet(verb: str) -> Callable:
    """"approved Ann Consultant's week of 2026-11-16" ("their week" for its owner), with the reason if any."""
    def sentence(values, obj, event):
        reason = (event.after or {}).get("reason")
        if obj.own_name and obj.owner_id == event.actor_id:
            obj = Ref(obj.own_name, obj.url)
        return [f"{verb} ", obj, f": {reason}" if reason else ""]
    return sentence


def _shifted(ending: str) -> Callable:
    def sentence(values, obj, event):
        return [*_clauses(values, obj, event.object_type, event.before, event.after, ("start_date", "due_date")),
                ending]
    return sentence


def _criterion_saved(values, obj, event):
    if event.before is None:
        return ["added the success criterion ", obj]
    return _changed(values, obj, event)


def _attachment_added(values, obj, event):
    project_id = (event.after or {}).get("project_id")
    return ["uploaded ", obj, " to ", values.ref("project", project_id)] if project_id else ["uploaded ", obj]


def _holiday(verb: str) -> Callable:
    def sentence(values, obj, event):
        data = event.after or event.before or {}
        return [f"{verb} the holiday ", obj, f" ({data['day']})" if data.get("day") else ""]
    return sentence


def _holidays_loaded(values, obj, event):
    data = event.after or {}
    country = _country_name(data.get("country") or "")
    added = data.get("added", 0)
    return [f"loaded {added} public holiday{'' if added == 1 else 's'} of {country} for {data.get('year')}"]


def _country_name(code: str) -> str:
    from psa.admin.services import holiday_countries

    return dict(holiday_countries()).get(code, code)


def _rate_target(values, data: dict) -> str:
    if data.get("user_id"):
        return values.show("user_id", data["user_id"])
    return f"the {values.show('role', data.get('role'))} role"


def _user_rate_set(values, obj, event):
    after = event.after or {}
    since = after.get("effective_from")
    rates = f"cost {values.show('cost_rate', after.get('cost_rate'))}, bill {values.show('bill_rate', after.get('bill_rate'))}"
    if event.before:
        return ["changed the rates of ", obj, f" from {since}: {rates}"]
    return ["set the rates of ", obj, f" from {since}: {rates}"]


def _project_rate_set(values, obj, event):
    after = event.after or {}
    target, rate = _rate_target(values, after), values.show("bill_rate", after.get("bill_rate"))
    if event.before and event.before.get("bill_rate") is not None:
        return [f"changed the bill rate of {target} on ", obj,
                f" from {values.show('bill_rate', event.before['bill_rate'])} to {rate}"]
    return [f"set the bill rate of {target} on ", obj, f" to {rate}"]


def _project_rate_removed(values, obj, event):
    before = event.before or {}
    project = values.ref("project", before.get("project_id"))
    return [f"removed the bill rate of {_rate_target(values, before)} "
            f"({values.show('bill_rate', before.get('bill_rate'))}) from ", project]


def _rates_recalculated(values, obj, event):
    entries = (event.after or {}).get("entries", 0)
    return [f"recalculated the rates of {entries} time entr{'y' if entries == 1 else 'ies'}"]


def _time_imported(values, obj, event):
    from psa.timesheets.imports import FORMAT_LABELS

    data = event.after or {}
    entries, duplicates, created = data.get("entries", 0), data.get("duplicates", 0), data.get("timesheets_created", 0)
    source = FORMAT_LABELS.get(data.get("format"), data.get("format") or "a")
    details = [f"{duplicates} already there"] if duplicates else []
    details += [f"{created} new timesheet{'' if created == 1 else 's'}"] if created else []
    return [f"imported {entries} time entr{'y' if entries == 1 else 'ies'} from a {source} file",
            f" ({', '.join(details)})" if details else ""]


def _template_version(verb: str, version_first: bool = False) -> Callable:
    """"published version 2 of Standard onboarding" or "imported Standard onboarding (version 1)"."""
    def sentence(values, obj, event):
        version = (event.after or {}).get("version")
        if version is None:
            return [f"{verb} ", obj]
        if version_first:
            return [f"{verb} version {version} of ", obj]
        return [f"{verb} ", obj, f" (version {version})"]
    return sentence


def _template_target(values, obj, event):
    """"changed the target time to value of Standard onboarding from 45 to 30 days" (set, or removed)."""
    old = (event.before or {}).get("target_ttv_days")
    new = (event.after or {}).get("target_ttv_days")
    if new is None:
        return ["removed the target time to value of ", obj, f" (was {old} days)" if old else ""]
    if old is None:
        return ["set the target time to value of ", obj, f" to {new} days"]
    return ["changed the target time to value of ", obj, f" from {old} to {new} days"]


def _template_duplicated(values, obj, event):
    source = (event.after or {}).get("from")
    return ([f"duplicated “{source}” as ", obj] if source else ["duplicated a template as ", obj])


def _settings_updated(values, obj, event):
    return _clauses(values, obj, "settings", event.before, event.after) or ["saved the settings (nothing changed)"]


def _rated(values, obj, event):
    """"rated Go-live 4 out of 5: “Smooth cutover”"."""
    data = event.after or {}
    score, comment = data.get("score"), (data.get("comment") or "").strip()
    said = ["rated ", obj, f" {score} out of 5" if score is not None else ""]
    return [*said, f": “{comment}”" if comment else ""]


def _portal_comment(values, obj, event):
    """"commented on Configure in the portal" (the object: the task, milestone or project commented on, or the
    comment itself, which reads as "a comment on <project>")."""
    if event.object_type == "comment":
        project_id = (event.after or {}).get("project_id")
        target = values.ref("project", project_id) if project_id is not None else obj
        return ["commented on ", target, " in the portal"]
    return ["commented on ", obj, " in the portal"]


def _portal_file(values, obj, event):
    project_id = (event.after or {}).get("project_id")
    if project_id is not None and event.object_type == "attachment":
        return ["shared the file ", obj, " on ", values.ref("project", project_id), " in the portal"]
    return ["shared the file ", obj, " in the portal"]


def _previewed(values, obj, event):
    """"viewed the portal as Dana Doe (customer) sees it (Contoso rollout)": the object is the contact (the
    project in the data), or the project (the contact in the data)."""
    data = event.after or {}
    if event.object_type == "contact":
        project_id = data.get("project_id")
        return ["viewed the portal as ", obj, " sees it",
                *([" (", values.ref("project", project_id), ")"] if project_id is not None else [])]
    contact_id = data.get("contact_id")
    who = values.show("contact_id", contact_id) if contact_id is not None else "the customer"
    return ["viewed the portal of ", obj, f" as {who} sees it"]


def _comment_added(values, obj, event):
    """"commented on Contoso rollout" (" in the portal" when a contact wrote it)."""
    where = " in the portal" if getattr(event, "actor_contact_id", None) is not None else ""
    return [*_portal_comment(values, obj, event)[:-1], where]


def _contact_created(values, obj, event):
    account_id = (event.after or {}).get("account_id")
    return ["added the contact ", obj, *([" to ", values.ref("account", account_id)] if account_id else [])]


def _signed_in(values, obj, event):
    if event.actor_contact_id is not None and event.actor_contact_id == event.object_id:
        return ["signed in to the portal"]
    return ["signed in to the portal as ", obj]


def _escalation(verb: str) -> Callable:
    """"opened the escalation of Build at level 2 (slip 4 working days, forecast slip)"; the sweep is the system."""
    def sentence(values, obj, event):
        data = event.after or {}
        if verb == "resolved":
            why = {"done": "the milestone is done", "back_on_track": "back on track",
                   "project_closed": "the project is closed"}.get(data.get("resolution"))
            return ["resolved ", obj, f" ({why})" if why else ""]
        slip = data.get("slip_days")
        reason = {"overdue": "overdue", "forecast_slip": "forecast slip"}.get(data.get("reason"), "")
        detail = ", ".join(part for part in (
            f"slip {slip} working day{'' if slip == 1 else 's'}" if slip is not None else "", reason) if part)
        return [f"{verb} ", obj, f" {'at' if verb == 'opened' else 'to'} level {data.get('level')}",
                f" ({detail})" if detail else ""]
    return sentence


def _acknowledged(values, obj, event):
    data = event.after or {}
    note = (data.get("note") or "").strip()
    level = f" at level {data['level']}" if data.get("level") else ""
    return ["acknowledged ", obj, level, f": “{note}”" if note else ""]


#: The wording of every action the features record: (values, object Ref, event) → the parts after the actor.
def _job(verb: str) -> Callable:
    """"queued the failed job psa.jobs.tasks.deliver_outbox_job again" (the admin jobs page)."""
    def sentence(values, obj, event):
        return [verb.format(name=(event.after or {}).get("name") or "?")]
    return sentence


def _outbox_retried(values, obj, event):
    attempts = (event.before or {}).get("attempts")
    return [f"sent the failed e-mail #{event.object_id} again"
            + (f" (it had failed {attempts} attempts)" if attempts else "")]


def _api_token(verb: str) -> Callable:
    """"created the API token “CRM sync”" (the secret is never recorded)."""
    def sentence(values, obj, event):
        name = (event.after or {}).get("name")
        return [f"{verb} the API token" + (f" “{name}”" if name else f" #{event.object_id}")]
    return sentence


def _crm_deal(values, obj, event):
    deal = (event.after or {}).get("deal_id")
    return ["created ", obj, " from the CRM deal" + (f" {deal}" if deal else "")]


def _webhook(words: str, before: bool = False) -> Callable:
    """"registered the webhook endpoint https://…" (by its URL: endpoints have no name)."""
    def sentence(values, obj, event):
        url = ((event.before if before else event.after) or {}).get("url")
        return [f"{words} " + (url if url else f"#{event.object_id}")]
    return sentence


ACTIONS: dict[str, Callable] = {
    # projects
    "project.created": _created("created the project", "budget_minutes"),
    "project.updated": _changed,
    "milestone.created": _created("added the milestone", "due_date"),
    "milestone.updated": _changed,
    "milestone.status_changed": _changed,
    "task.created": _created("added the task", "start_date", "due_date"),
    "task.updated": _changed,
    "task.shifted": _shifted(", following its predecessor"),
    "task.shift_undone": _shifted(", undoing a shift"),
    "criterion.saved": _criterion_saved,
    "attachment.added": _attachment_added,
    # users and accounts
    "user.created": _user_created,
    "user.invited": _said("invited ", OBJ),
    "user.updated": _changed,
    "user.role_changed": _changed,
    "user.approver_changed": _changed,
    "user.activated": _said("reactivated ", OBJ),
    "user.deactivated": _said("deactivated ", OBJ),
    "user.password_reset_requested": _said("sent a password reset link to ", OBJ),
    "user.password_reset": _own("reset"),
    "user.password_changed": _own("changed"),
    "account.created": _created("created the account", "segment"),
    "account.updated": _changed,
    # settings
    "settings.updated": _settings_updated,
    "settings.logo_changed": _said("uploaded a new logo"),
    "settings.logo_removed": _said("removed the logo"),
    "holiday.added": _holiday("added"),
    "holiday.deleted": _holiday("removed"),
    "holiday.loaded": _holidays_loaded,
    # background jobs and the e-mail outbox (/admin/jobs)
    "job.requeued": _job("queued the failed job {name} again"),
    "job.deleted": _job("deleted the failed job {name}"),
    "outbox.retried": _outbox_retried,
    # time and rates
    "timesheet.submitted": _timesheet("submitted"),
    "timesheet.approved": _timesheet("approved"),
    "timesheet.rejected": _timesheet("rejected"),
    "timesheet.reopened": _timesheet("reopened"),
    "rate.user_set": _user_rate_set,
    "rate.project_set": _project_rate_set,
    "rate.project_removed": _project_rate_removed,
    "rate.recalculated": _rates_recalculated,
    "time.imported": _time_imported,
    # templates
    "template.created": _said("created the template ", OBJ),
    "template.published": _template_version("published", version_first=True),
    "template.draft_created": _template_version("started a draft of"),
    "template.duplicated": _template_duplicated,
    "template.imported": _template_version("imported"),
    "template.target_changed": _template_target,
    # the customer portal: what contacts do there, and what the team does with contacts
    "portal.task_completed": _said("completed ", OBJ, " in the portal"),
    "portal.comment_added": _portal_comment,
    "portal.file_added": _portal_file,
    "portal.previewed": _previewed,
    "milestone.signed_off": _said("signed off ", OBJ),
    "milestone.rated": _rated,
    "contact.invited": _said("invited ", OBJ, " to the portal"),
    "contact.created": _contact_created,
    "contact.updated": _changed,
    "contact.deactivated": _said("deactivated the contact ", OBJ),
    "contact.signed_in": _signed_in,
    "contact.activated": _said("reactivated the contact ", OBJ),
    "contact.sign_in_link_sent": _said("sent a portal sign-in link to ", OBJ),
    "contact.invitation_accepted": _said("accepted the invitation to the portal"),
    "contact.signed_in_by_link": _said("signed in to the portal with an e-mailed link"),
    "account.domains_changed": _changed,
    "comment.added": _comment_added,
    "contact.opted_out": _said("turned off the e-mails about their portal tasks"),
    # escalations (opened, raised and resolved by the sweep: the system)
    "escalation.opened": _escalation("opened"),
    "escalation.raised": _escalation("raised"),
    "escalation.resolved": _escalation("resolved"),
    "escalation.acknowledged": _acknowledged,
    # the JSON API, the CRM hook and outgoing webhooks
    "api_token.created": _api_token("created"),
    "api_token.revoked": _api_token("revoked"),
    "project.created_from_crm_deal": _crm_deal,
    "settings.crm_hook_updated": _said("changed the CRM hook's settings"),
    "webhook.created": _webhook("registered the webhook endpoint"),
    "webhook.updated": _changed,
    "webhook.secret_rotated": _webhook("rotated the signing secret of the webhook endpoint"),
    "webhook.deleted": _webhook("deleted the webhook endpoint", before=True),
    "webhook.test_sent": _webhook("sent a test delivery to the webhook endpoint"),
    "webhook.delivery_retried": _said("queued the failed webhook delivery ", OBJ, " again"),
}


def register_action(action: str, sentence: Callable) -> None:
    """Let a feature word an action it records."""
    ACTIONS[action] = sentence


def _unknown(values, obj, event) -> list:
    """An action nobody worded: its code, then its changes."""
    parts = [f"{event.action} on ", obj] if event.object_id is not None else [event.action]
    clauses = _clauses(values, obj, event.object_type, event.before, event.after)
    return [*parts, ": ", *clauses] if clauses and event.before is not None else parts


# --- the one entry point -----------------------------------------------------------------------------


def _wanted(events: list[AuditEvent]) -> dict[str, set[int]]:
    """The ids to name, by kind: the objects acted on and the ids in their changes."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.actor_id is not None and "actor" in sa.inspect(event).unloaded:
            wanted.setdefault("user", set()).add(event.actor_id)
        if getattr(event, "actor_contact_id", None) is not None:
            wanted.setdefault("contact", set()).add(event.actor_contact_id)
        if event.object_type in KINDS and event.object_id is not None:
            wanted.setdefault(event.object_type, set()).add(event.object_id)
        for data in (event.before, event.after):
            for key, value in (data or {}).items():
                if key in ID_FIELDS and isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(ID_FIELDS[key], set()).add(value)
    return wanted


def describe_events(events: Iterable[AuditEvent], known: dict[tuple[str, int], Ref] | None = None) -> list[AuditLine]:
    """The events as sentences, in their order. Names and links come from `known` ((object type, id) → Ref:
    what the caller has loaded already) and from one query per other kind of object present."""
    events = list(events)
    refs = dict(known or {})
    for object_type, ids in _wanted(events).items():
        missing = {i for i in ids if (object_type, i) not in refs}
        loader = KINDS[object_type].load
        if missing and loader is not None:
            refs.update({(object_type, i): ref for i, ref in loader(missing).items()})
    from psa.admin.services import get_settings  # the settings row, loaded once per request

    values = _Values(refs, get_settings().currency)
    lines = []
    for event in events:
        obj = values.ref(event.object_type, event.object_id, (event.after, event.before))
        sentence = ACTIONS.get(event.action, _unknown)
        if event.actor_id is None and getattr(event, "actor_contact_id", None) is not None:
            actor = values.ref("contact", event.actor_contact_id).name
            if actor.startswith("a deleted"):
                actor = "A former contact (customer)"
        elif event.actor_id is None:
            actor = "The system"
        elif "actor" in sa.inspect(event).unloaded:
            actor = values.ref("user", event.actor_id).name
        else:
            actor = event.actor.name if event.actor is not None else "a deleted user"
        parts = [f"{actor} ", *sentence(values, obj, event)]
        context = obj.parent if obj.parent is not None and obj.parent not in parts else None
        lines.append(AuditLine(event=event, actor=actor, parts=parts, context=context))
    return lines


def describe(events: Iterable[AuditEvent], project=None, names: dict | None = None,
             people: dict | None = None, contacts: dict | None = None) -> list[AuditLine]:
    """What psa.core.audit.describe_events calls. For a project's activity feed, `project` (the Project) with
    the `names` ((object type, id) → name), `people` (user id → name) and `contacts` (contact id → name) the
    page has loaded already, so the feed costs no query more than the page."""
    known: dict[tuple[str, int], Ref] = {}
    if project is not None:
        known = {key: ref_for(*key, name, project.id, project.name) for key, name in (names or {}).items()}
        known |= {("user", user_id): Ref(name) for user_id, name in (people or {}).items()}
        known |= {("contact", contact_id): Ref(contact_name(name)) for contact_id, name in (contacts or {}).items()}
        known[("account", project.account_id)] = Ref(project.account.name)
    return describe_events(events, known=known)
