"""Audit events read as sentences (psa.activity.text): every action the features record, its values as people
read them (hours, money with the currency, labels, names), its object named and linked, a deleted one named from
the event's data; and the audit log and a project's activity show the same sentence with the same link."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from psa.activity.text import describe_events
from psa.core.audit import record_audit
from psa.core.db import utcnow
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.project_templates.models import Template
from psa.projects import services
from psa.projects.models import Project, SuccessCriterion, Task
from psa.timesheets.models import Timesheet
from tests.conftest import login_as
from tests.projects.helpers import ONBOARDING, build_template, create_project

WEEK = date(2026, 11, 16)


@pytest.fixture
def world(app, make):
    """Mia Manager runs "Contoso rollout" (from the onboarding template) for the account Contoso; Ann Consultant
    is on it and has a timesheet for the week of 2026-11-16."""
    mia = make.user(role="manager", name="Mia Manager")
    ann = make.user(role="consultant", name="Ann Consultant")
    account = make.account(name="Contoso")
    with app.app_context():
        kickoff = services.org_today()
    project = create_project(app, build_template(app, ONBOARDING, criteria=({"outcome": "Adoption"},)), mia.id,
                             account.id, kickoff, member_ids=(ann.id,))
    with app.app_context():
        db.session.get(Project, project["id"]).name = "Contoso rollout"
        sheet = Timesheet(user_id=ann.id, week_start=WEEK)
        db.session.add(sheet)
        db.session.flush()
        criterion = db.session.scalar(sa.select(SuccessCriterion.id).where(SuccessCriterion.project_id == project["id"]))
        template = db.session.scalar(sa.select(Template.id))
        db.session.get(Template, template).name = "Standard onboarding"
        db.session.commit()
        ids = {"sheet": sheet.id, "criterion": criterion, "template": template}
    return {"mia": mia, "ann": ann, "account": account, "project": project, **ids}


@pytest.fixture
def said(app, world):
    """said(actor, action, object_type, object_id, before, after) → (the sentence, the line), in a request."""
    def sentence(actor, action, object_type, object_id, before=None, after=None):
        with app.test_request_context():
            event = AuditEvent(actor_id=actor.id if actor else None, action=action, object_type=object_type,
                               object_id=object_id, before=before, after=after, at=utcnow())
            db.session.add(event)
            db.session.flush()
            event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.id == event.id)
                                      .options(sa.orm.selectinload(AuditEvent.actor)))
            line = describe_events([event])[0]
            db.session.rollback()
            return str(line), line
    return sentence


def _text(said, *args, **kwargs) -> str:
    return said(*args, **kwargs)[0]


# --- projects -----------------------------------------------------------------------------------------


def test_project_events(said, world):
    mia, ann, pid = world["mia"], world["ann"], world["project"]["id"]
    # 23,400 min = 390 h; 24,000 min = 400 h
    text, line = said(mia, "project.updated", "project", pid, {"budget_minutes": 23400}, {"budget_minutes": 24000})
    assert text == "Mia Manager changed the budget of Contoso rollout from 390 h to 400 h"
    assert f'<a href="/projects/{pid}">Contoso rollout</a>' in line.__html__()
    # 23,460 min = 391 h; 90 min = 1.5 h
    assert _text(said, mia, "project.created", "project", pid, None, {"name": "Contoso rollout", "budget_minutes": 23460}) \
        == "Mia Manager created the project Contoso rollout (budget 391 h)"
    assert _text(said, mia, "project.updated", "project", pid, {"budget_minutes": None}, {"budget_minutes": 90}) \
        == "Mia Manager set the budget of Contoso rollout to 1.5 h"
    assert _text(said, mia, "project.updated", "project", pid,
                 {"fee_amount": "12000.00", "status": "planned", "manager_id": mia.id, "kickoff_date": "2026-11-02"},
                 {"fee_amount": "15500.50", "status": "active", "manager_id": ann.id, "kickoff_date": "2026-11-09"}) \
        == ("Mia Manager changed the fee of Contoso rollout from USD 12,000.00 to USD 15,500.50, changed its status "
            "from Planned to Active, changed its project manager from Mia Manager to Ann Consultant, and moved its "
            "kickoff date from 2026-11-02 to 2026-11-09")
    assert _text(said, mia, "project.updated", "project", pid, {"billing_model": "fixed_fee"},
                 {"billing_model": "time_and_materials"}) \
        == "Mia Manager changed the billing model of Contoso rollout from Fixed fee to Time and materials"


def test_task_and_milestone_events(said, world):
    mia, ann = world["mia"], world["ann"]
    pid, tasks, milestones = world["project"]["id"], world["project"]["tasks"], world["project"]["milestones"]
    configure, kickoff = tasks["Configure"], milestones["Kickoff"]
    text, line = said(mia, "task.updated", "task", configure, {"due_date": "2026-11-19"}, {"due_date": "2026-11-21"})
    assert text == "Mia Manager moved Configure's due date from 2026-11-19 to 2026-11-21"
    assert f'<a href="/projects/{pid}#task-{configure}">Configure</a>&#39;s due date' in line.__html__()
    assert line.context.name == "Contoso rollout" and line.context.url == f"/projects/{pid}"
    assert _text(said, mia, "task.updated", "task", configure, {"assignee_id": None}, {"assignee_id": ann.id}) \
        == "Mia Manager assigned Configure to Ann Consultant"
    assert _text(said, mia, "task.updated", "task", configure, {"assignee_id": ann.id}, {"assignee_id": mia.id}) \
        == "Mia Manager reassigned Configure from Ann Consultant to Mia Manager"
    assert _text(said, ann, "task.updated", "task", configure,
                 {"status": "in_progress", "blocked_reason": None}, {"status": "blocked", "blocked_reason": "No VPN"}) \
        == "Ann Consultant changed the status of Configure from In progress to Blocked, and set its blocked reason to “No VPN”"
    assert _text(said, mia, "task.created", "task", configure, None,
                 {"name": "Configure", "start_date": "2026-11-17", "due_date": "2026-11-19"}) \
        == "Mia Manager added the task Configure (start date 2026-11-17, due date 2026-11-19)"
    train = tasks["Train users"]
    assert _text(said, mia, "task.shifted", "task", train, {"start_date": "2026-11-23", "due_date": "2026-11-25"},
                 {"start_date": "2026-11-25", "due_date": "2026-11-27"}) \
        == ("Mia Manager moved Train users' start date from 2026-11-23 to 2026-11-25, and moved its due date from "
            "2026-11-25 to 2026-11-27, following its predecessor")
    assert _text(said, mia, "task.shift_undone", "task", train, {"start_date": "2026-11-25", "due_date": "2026-11-27"},
                 {"start_date": "2026-11-23", "due_date": "2026-11-25"}) \
        == ("Mia Manager moved Train users' start date from 2026-11-25 to 2026-11-23, and moved its due date from "
            "2026-11-27 to 2026-11-25, undoing a shift")
    text, line = said(mia, "milestone.status_changed", "milestone", kickoff, {"status": "in_progress"}, {"status": "done"})
    assert text == "Mia Manager changed the status of Kickoff from In progress to Done"
    assert f'href="/projects/{pid}#milestone-{kickoff}"' in line.__html__()
    assert _text(said, mia, "milestone.updated", "milestone", kickoff, {"due_date": "2026-11-19"},
                 {"due_date": "2026-11-20"}) == "Mia Manager moved Kickoff's due date from 2026-11-19 to 2026-11-20"
    assert _text(said, mia, "milestone.created", "milestone", kickoff, None, {"name": "Kickoff", "due_date": "2026-11-20"}) \
        == "Mia Manager added the milestone Kickoff (due date 2026-11-20)"


def test_success_criteria_and_files(said, world):
    mia, pid, criterion = world["mia"], world["project"]["id"], world["criterion"]
    text, line = said(mia, "criterion.saved", "successcriterion", criterion, None, {"outcome": "Adoption"})
    assert text == "Mia Manager added the success criterion Adoption"
    assert f'href="/projects/{pid}#criterion-{criterion}"' in line.__html__()
    assert _text(said, mia, "criterion.saved", "successcriterion", criterion,
                 {"current_value": "", "status": "not_started"}, {"current_value": "7", "status": "on_track"}) \
        == "Mia Manager set the current value of Adoption to “7”, and changed its status from Not started to On track"
    assert _text(said, mia, "criterion.saved", "successcriterion", criterion, {}, {}) \
        == "Mia Manager saved Adoption (nothing changed)"
    # a file deleted since (or never there): named from the event, the project named and linked
    text, line = said(mia, "attachment.added", "attachment", 987654, None, {"name": "runbook.pdf", "project_id": pid})
    assert text == "Mia Manager uploaded runbook.pdf to Contoso rollout"
    assert f'<a href="/projects/{pid}">Contoso rollout</a>' in line.__html__() and "runbook.pdf</a>" not in line.__html__()


def test_an_object_deleted_since_is_named_from_its_data_or_as_a_deleted_one(said, world):
    mia = world["mia"]
    text, line = said(mia, "task.updated", "task", 987654, {"status": "todo"}, {"status": "done"})
    assert text == "Mia Manager changed the status of a deleted task from To do to Done"
    assert "<a " not in line.__html__() and line.context is None
    assert _text(said, mia, "task.created", "task", 987654, None,
                 {"name": "Old step", "start_date": "2026-11-17", "due_date": "2026-11-17"}) \
        == "Mia Manager added the task Old step (start date 2026-11-17, due date 2026-11-17)"
    assert _text(said, mia, "milestone.updated", "milestone", 987654, {"status": "todo"}, {"status": "done"}) \
        == "Mia Manager changed the status of a deleted milestone from To do to Done"
    assert _text(said, mia, "account.updated", "account", 987654, {"arr": "1.00"}, {"arr": "2.00"}) \
        == "Mia Manager changed the ARR of a deleted account from USD 1.00 to USD 2.00"


# --- people and accounts -------------------------------------------------------------------------------


def test_user_events(said, world):
    mia, ann = world["mia"], world["ann"]
    text, line = said(mia, "user.created", "user", ann.id, None, {"name": "Ann Consultant", "role": "consultant"})
    assert text == "Mia Manager created the user Ann Consultant (Consultant)"
    assert f'<a href="/admin/users/{ann.id}">Ann Consultant</a>' in line.__html__()
    assert _text(said, mia, "user.invited", "user", ann.id) == "Mia Manager invited Ann Consultant"
    assert _text(said, mia, "user.role_changed", "user", ann.id, {"role": "consultant"}, {"role": "manager"}) \
        == "Mia Manager changed the role of Ann Consultant from Consultant to Project manager"
    assert _text(said, mia, "user.approver_changed", "user", ann.id, {"approver_id": None}, {"approver_id": mia.id}) \
        == "Mia Manager set the approver of Ann Consultant to Mia Manager"
    assert _text(said, mia, "user.updated", "user", ann.id,
                 {"weekly_capacity_hours": "40.00", "timezone": "UTC"},
                 {"weekly_capacity_hours": "32.50", "timezone": "Europe/Paris"}) \
        == ("Mia Manager changed the weekly capacity of Ann Consultant from 40 h to 32.5 h, and changed its time zone "
            "from UTC to Europe/Paris")
    assert _text(said, mia, "user.deactivated", "user", ann.id, {"is_active_user": True}, {"is_active_user": False}) \
        == "Mia Manager deactivated Ann Consultant"
    assert _text(said, mia, "user.activated", "user", ann.id, {"is_active_user": False}, {"is_active_user": True}) \
        == "Mia Manager reactivated Ann Consultant"
    assert _text(said, None, "user.password_reset_requested", "user", ann.id) \
        == "The system sent a password reset link to Ann Consultant"
    assert _text(said, ann, "user.password_reset", "user", ann.id) == "Ann Consultant reset their password"
    assert _text(said, ann, "user.password_changed", "user", ann.id) == "Ann Consultant changed their password"


def test_account_events(said, world):
    mia, ann, account = world["mia"], world["ann"], world["account"]
    text, line = said(mia, "account.created", "account", account.id, None,
                      {"name": "Contoso", "segment": "mid", "owner_id": None, "arr": "1000.00"})
    assert text == "Mia Manager created the account Contoso (segment Mid touch)"
    assert f'<a href="/admin/accounts/{account.id}">Contoso</a>' in line.__html__()
    assert _text(said, mia, "account.updated", "account", account.id,
                 {"arr": "1000.00", "owner_id": None, "segment": "mid"}, {"arr": "2500.50", "owner_id": ann.id,
                                                                         "segment": "high"}) \
        == ("Mia Manager changed the ARR of Contoso from USD 1,000.00 to USD 2,500.50, set its owner to "
            "Ann Consultant, and changed its segment from Mid touch to High touch")


# --- settings and holidays --------------------------------------------------------------------------------


def test_settings_and_holiday_events(said, world, make):
    mia = world["mia"]
    text, line = said(mia, "settings.updated", "settings", 1,
                      {"currency": "USD", "working_days": "12345", "time_lock_date": None, "allow_future_time": False,
                       "escalation_level2_days": 3, "utilization_target_percent": "75.00"},
                      {"currency": "EUR", "working_days": "1234", "time_lock_date": "2026-10-31",
                       "allow_future_time": True, "escalation_level2_days": 4, "utilization_target_percent": "80.50"})
    assert text == ("Mia Manager changed the currency of the organisation from USD to EUR, changed its working days "
                    "from Mon, Tue, Wed, Thu, Fri to Mon, Tue, Wed, Thu, set its time lock date to 2026-10-31, changed "
                    "its future time allowed from no to yes, changed its escalation level 2 from 3 working days to "
                    "4 working days, and changed its utilization target from 75 % to 80.5 %")
    assert '<a href="/admin/settings">the organisation</a>' in line.__html__()
    assert _text(said, mia, "settings.logo_changed", "settings", 1, {"brand_logo_filename": None},
                 {"brand_logo_filename": "abc.png"}) == "Mia Manager uploaded a new logo"
    assert _text(said, mia, "settings.logo_removed", "settings", 1, {"brand_logo_filename": "abc.png"},
                 {"brand_logo_filename": None}) == "Mia Manager removed the logo"
    holiday = make.holiday(day=date(2026, 12, 25), name="Christmas Day")
    text, line = said(mia, "holiday.added", "holiday", holiday.id, None, {"day": "2026-12-25", "name": "Christmas Day"})
    assert text == "Mia Manager added the holiday Christmas Day (2026-12-25)"
    assert '<a href="/admin/settings#holidays">Christmas Day</a>' in line.__html__()
    assert _text(said, mia, "holiday.deleted", "holiday", 987654, {"day": "2026-12-26", "name": "Boxing Day"}) \
        == "Mia Manager removed the holiday Boxing Day (2026-12-26)"
    assert _text(said, mia, "holiday.loaded", "settings", 1, None, {"country": "FR", "year": 2027, "added": 11}) \
        == "Mia Manager loaded 11 public holidays of France for 2027"


# --- time and rates ------------------------------------------------------------------------------------


def test_timesheet_events(said, world):
    mia, ann, sheet = world["mia"], world["ann"], world["sheet"]
    text, line = said(mia, "timesheet.approved", "timesheet", sheet, {"state": "submitted"}, {"state": "approved"})
    assert text == "Mia Manager approved Ann Consultant's week of 2026-11-16"
    assert f'<a href="/timesheets/{sheet}">Ann Consultant&#39;s week of 2026-11-16</a>' in line.__html__()
    assert _text(said, ann, "timesheet.submitted", "timesheet", sheet, None, {"state": "submitted"}) \
        == "Ann Consultant submitted their week of 2026-11-16"
    assert _text(said, mia, "timesheet.rejected", "timesheet", sheet, {"state": "submitted"},
                 {"state": "rejected", "reason": "Friday is missing"}) \
        == "Mia Manager rejected Ann Consultant's week of 2026-11-16: Friday is missing"
    assert _text(said, mia, "timesheet.reopened", "timesheet", sheet, {"state": "approved"},
                 {"state": "draft", "reason": ""}) == "Mia Manager reopened Ann Consultant's week of 2026-11-16"
    assert _text(said, mia, "timesheet.approved", "timesheet", 987654, {"state": "submitted"}, {"state": "approved"}) \
        == "Mia Manager approved a deleted timesheet"


def test_rate_and_import_events(said, world):
    mia, ann, pid = world["mia"], world["ann"], world["project"]["id"]
    assert _text(said, mia, "rate.user_set", "user", ann.id, None,
                 {"effective_from": "2026-01-01", "cost_rate": "50.00", "bill_rate": "120.00"}) \
        == "Mia Manager set the rates of Ann Consultant from 2026-01-01: cost USD 50.00 an hour, bill USD 120.00 an hour"
    assert _text(said, mia, "rate.user_set", "user", ann.id, {"cost_rate": "50.00", "bill_rate": "120.00"},
                 {"effective_from": "2026-01-01", "cost_rate": "55.00", "bill_rate": "1250.00"}) \
        == ("Mia Manager changed the rates of Ann Consultant from 2026-01-01: cost USD 55.00 an hour, "
            "bill USD 1,250.00 an hour")
    assert _text(said, mia, "rate.project_set", "project", pid, None,
                 {"role": "consultant", "user_id": None, "bill_rate": "150.00"}) \
        == "Mia Manager set the bill rate of the Consultant role on Contoso rollout to USD 150.00 an hour"
    assert _text(said, mia, "rate.project_set", "project", pid, {"bill_rate": "140.00"},
                 {"role": None, "user_id": ann.id, "bill_rate": "150.00"}) \
        == ("Mia Manager changed the bill rate of Ann Consultant on Contoso rollout from USD 140.00 an hour to "
            "USD 150.00 an hour")
    assert _text(said, mia, "rate.project_removed", "projectrate", 987654,
                 {"project_id": pid, "role": None, "user_id": ann.id, "bill_rate": "150.00"}) \
        == "Mia Manager removed the bill rate of Ann Consultant (USD 150.00 an hour) from Contoso rollout"
    assert _text(said, mia, "rate.recalculated", "system", None, None, {"entries": 12}) \
        == "Mia Manager recalculated the rates of 12 time entries"
    assert _text(said, mia, "time.imported", "system", None, None,
                 {"format": "harvest", "entries": 40, "duplicates": 3, "timesheets_created": 2}) \
        == "Mia Manager imported 40 time entries from a Harvest import file (3 already there, 2 new timesheets)"
    assert _text(said, mia, "time.imported", "system", None, None,
                 {"format": "ours", "entries": 1, "duplicates": 0, "timesheets_created": 0}) \
        == "Mia Manager imported 1 time entry from a PSA export file"


# --- templates, and what nobody worded ----------------------------------------------------------------------


def test_template_events(said, world):
    mia, template = world["mia"], world["template"]
    text, line = said(mia, "template.created", "template", template, None, {"name": "Standard onboarding"})
    assert text == "Mia Manager created the template Standard onboarding"
    assert f'<a href="/templates/{template}">Standard onboarding</a>' in line.__html__()
    assert _text(said, mia, "template.published", "template", template, None, {"version": 2}) \
        == "Mia Manager published version 2 of Standard onboarding"
    assert _text(said, mia, "template.draft_created", "template", template, None, {"version": 3}) \
        == "Mia Manager started a draft of Standard onboarding (version 3)"
    assert _text(said, mia, "template.imported", "template", template, None, {"version": 1}) \
        == "Mia Manager imported Standard onboarding (version 1)"
    assert _text(said, mia, "template.duplicated", "template", template, None, {"from": "Old onboarding"}) \
        == "Mia Manager duplicated “Old onboarding” as Standard onboarding"


def test_an_action_nobody_worded_still_reads(said, world):
    assert _text(said, None, "zone.checked", "system", None, None, {}) == "The system zone.checked"


def test_every_recorded_action_has_its_own_wording():
    """Every record_audit call in psa/ names an action that ACTIONS words (none falls back to its code)."""
    from pathlib import Path

    from psa.activity.text import ACTIONS

    source = "\n".join(p.read_text() for p in Path("psa").rglob("*.py"))
    recorded = set(re.findall(r'record_audit\([^,]+, "([a-z_]+\.[a-z_]+)"', source))
    recorded |= set(re.findall(r'"(user\.[a-z_]+)" if', source)) | set(re.findall(r'else "(user\.[a-z_]+)"', source))
    assert len(recorded) > 35
    assert recorded - set(ACTIONS) == set()


# --- the pages ----------------------------------------------------------------------------------------------


def _sentences(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", s).strip()
            for s in re.findall(r'<span class="text-break" data-testid="audit-sentence">(.*?)</span>', page, re.S)]


def test_the_audit_log_and_the_project_activity_say_the_same_sentence_with_the_same_link(app, client, make, world):
    mia, pid = world["mia"], world["project"]["id"]
    configure = world["project"]["tasks"]["Configure"]
    with app.app_context():
        task = db.session.get(Task, configure)
        old_due = task.due_date
        services.update_task(db.session.get(type(mia), mia.id), task, due_date=old_due + timedelta(days=2),
                             shift_successors=False)
        db.session.commit()
        new_due = old_due + timedelta(days=2)
    sentence = (f'Mia Manager moved <a href="/projects/{pid}#task-{configure}">Configure</a>&#39;s due date from '
                f"{old_due.isoformat()} to {new_due.isoformat()}")

    login_as(client, mia)
    activity = _sentences(client.get(f"/projects/{pid}").get_data(as_text=True))
    assert sentence in activity

    client = app.test_client()
    login_as(client, make.user(role="admin"))
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert sentence in _sentences(audit)
    assert f'in <a href="/projects/{pid}">Contoso rollout</a>' in audit  # the task's project, under the sentence
    filtered = client.get("/admin/audit?type=task").get_data(as_text=True)
    assert sentence in _sentences(filtered)
    assert not any("created the project" in html.unescape(s) for s in _sentences(filtered))
    assert "created the project" in " ".join(_sentences(client.get("/admin/audit?type=project").get_data(as_text=True)))


def test_rate_changes_stay_out_of_the_activity_of_those_who_do_not_see_rates(app, client, make, world):
    mia, ann, pid = world["mia"], world["ann"], world["project"]["id"]
    with app.app_context():
        record_audit(db.session.get(type(mia), mia.id), "rate.project_set", db.session.get(Project, pid), None,
                     {"role": "consultant", "user_id": None, "bill_rate": "150.00"})
        db.session.commit()
    login_as(client, ann)
    assert "bill rate" not in " ".join(_sentences(client.get(f"/projects/{pid}").get_data(as_text=True)))
    client = app.test_client()
    login_as(client, make.user(role="admin"))
    assert ("set the bill rate of the Consultant role on" in
            " ".join(_sentences(client.get(f"/projects/{pid}").get_data(as_text=True))))


def test_the_audit_log_names_a_task_deleted_since(app, client, make, world):
    mia = world["mia"]
    with app.app_context():
        db.session.add(AuditEvent(actor_id=mia.id, action="task.updated", object_type="task", object_id=987654,
                                  before={"status": "todo"}, after={"status": "done"}, at=utcnow()))
        db.session.commit()
    login_as(client, make.user(role="admin"))
    assert "Mia Manager changed the status of a deleted task from To do to Done" in \
        _sentences(client.get("/admin/audit").get_data(as_text=True))

