"""E-mails to contacts about their customer tasks (psa/portal/emails.py): assigned, due soon, overdue, each with
the branding name, the portal link and an opt-out link that works (GET asks, POST opts out); a contact who
opted out, or was deactivated, gets nothing; a task the portal does not show is never named."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from psa.accounts.models import Contact
from psa.admin.services import update_settings
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from psa.portal import emails
from psa.projects.models import Task
from tests.conftest import csrf_token
from tests.projects.helpers import build_template, create_project

SPEC = [{"name": "Kickoff", "offset_days": 3, "fee_share_percent": 100, "tasks": [
    {"name": "Share SSO details", "offset_days": 0, "duration_days": 2, "assignee_role": "customer",
     "visibility": "shared"},
    {"name": "Secret prep", "offset_days": 0, "duration_days": 1, "assignee_role": "customer",
     "visibility": "internal"},
]}]


@pytest.fixture
def world(app, make):
    manager = make.user(role="manager")
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe", email="dana@contoso.example")
    project = create_project(app, build_template(app, SPEC), manager.id, account.id, date(2030, 1, 7))
    with app.app_context():
        update_settings(None, brand_name="Acme Onboarding")
        db.session.commit()
    return {"dana": dana, "project": project, "account": account}


def _load(world):
    contact = db.session.get(Contact, world["dana"].id)
    task = db.session.get(Task, world["project"]["tasks"]["Share SSO details"])
    hidden = db.session.get(Task, world["project"]["tasks"]["Secret prep"])
    return contact, task, hidden


def _outbox() -> list[OutboxEmail]:
    return db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()


def test_the_three_messages_carry_branding_the_portal_link_and_an_opt_out_link(app, world):
    with app.app_context():
        contact, task, hidden = _load(world)
        assert len(emails.queue_tasks_assigned(contact, [task, hidden])) == 1
        assert emails.queue_task_due_soon(contact, task) is not None
        assert emails.queue_task_overdue(contact, task, today=date(2030, 1, 14)) is not None
        assert emails.queue_tasks_assigned(contact, [hidden]) == []  # an internal task is never named
        sent = _outbox()
        assert [m.to_address for m in sent] == ["dana@contoso.example"] * 3
        assigned, due, overdue = sent
        assert assigned.subject == f"Acme Onboarding: “Share SSO details” is yours ({_project_name(world)})"
        assert due.subject == "Acme Onboarding: “Share SSO details” is due on 2030-01-08"
        assert "in 2 working days" in due.body
        assert overdue.subject == "Acme Onboarding: “Share SSO details” is overdue"
        assert "was due on 2030-01-08 (4 working days ago)" in overdue.body
        for message in sent:
            assert message.body.startswith("Hello Dana Doe,")
            base = app.config["PSA_BASE_URL"]
            assert f"Open the project in the portal: {base}/portal/" in message.body
            assert re.search(re.escape(base) + r"/portal/opt-out/\S+", message.body)
            assert "Secret prep" not in message.body and "Acme Onboarding" in message.body
        db.session.rollback()


def _project_name(world) -> str:
    from psa.projects.models import Project

    return db.session.get(Project, world["project"]["id"]).name


def test_the_opt_out_link_asks_then_turns_the_emails_off_and_opted_out_contacts_get_nothing(app, client, world):
    with app.app_context():
        contact, task, _ = _load(world)
        emails.queue_task_due_soon(contact, task)
        db.session.commit()
        link = re.search(re.escape(app.config["PSA_BASE_URL"]) + r"(/portal/opt-out/\S+)", _outbox()[0].body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "Stop these e-mails" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, world["dana"].id).email_opt_out is False  # a GET changes nothing
    response = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert response.status_code == 200 and 'data-testid="opted-out"' in response.get_data(as_text=True)
    with app.app_context():
        contact, task, _ = _load(world)
        assert contact.email_opt_out is True
        assert db.session.scalar(sa.select(AuditEvent.actor_contact_id).where(
            AuditEvent.action == "contact.opted_out")) == contact.id
        before = len(_outbox())
        assert emails.queue_tasks_assigned(contact, [task]) == []
        assert emails.queue_task_due_soon(contact, task) is None
        assert emails.queue_task_overdue(contact, task) is None
        assert emails.task_recipients(task) == []
        assert len(_outbox()) == before
    # without a valid token: 404, as a page that does not exist; a token of another purpose does not pass
    assert client.get("/portal/opt-out/forged").status_code == 404
    assert client.get(link[:-2] + "xx").status_code == 404
    with app.app_context():
        from itsdangerous import URLSafeSerializer

        other = URLSafeSerializer(app.config["SECRET_KEY"], salt="something-else").dumps(
            {"contact": world["dana"].id, "email": "dana@contoso.example"})
    assert client.get(f"/portal/opt-out/{other}").status_code == 404


def test_a_deactivated_contact_gets_nothing_and_a_group_task_goes_to_full_view_contacts(app, make, world):
    lead = make.contact(account=world["account"], name="Lee Lead", view_level="full")
    make.contact(account=world["account"], name="Mo Mine", view_level="my_tasks")
    with app.app_context():
        contact, task, hidden = _load(world)
        assert {c.name for c in emails.task_recipients(task)} == {"Dana Doe", "Lee Lead"}
        assert emails.task_recipients(hidden) == []
        contact.is_active_contact = False
        assert emails.queue_task_due_soon(contact, task) is None
        assert {c.name for c in emails.task_recipients(task)} == {"Lee Lead"}
        task.assignee_contact_id = lead.id
        assert [c.name for c in emails.task_recipients(task)] == ["Lee Lead"]
        db.session.rollback()
