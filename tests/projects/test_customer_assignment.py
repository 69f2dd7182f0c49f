"""Customer tasks go to a contact of the project's account (or stay with the customer as a group): on the task's
edit page, at project creation ("Customer tasks go to"), never through the bulk assign page; the contact is
e-mailed, the change audited and named on the plan."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from psa.accounts.models import Contact
from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from psa.projects import services
from psa.projects.models import Task
from tests.conftest import login_as, post_form
from tests.projects.helpers import build_template, create_project

KICKOFF = date(2030, 1, 7)
SPEC = [
    {"name": "Kickoff", "offset_days": 3, "fee_share_percent": 100, "tasks": [
        {"name": "Kickoff call", "offset_days": 0, "duration_days": 1, "estimated_minutes": 60,
         "assignee_role": "manager"},
        {"name": "Share SSO details", "offset_days": 1, "duration_days": 2, "assignee_role": "customer",
         "visibility": "shared"},
        {"name": "Sign the data agreement", "offset_days": 2, "duration_days": 1, "assignee_role": "customer",
         "visibility": "shared"},
    ]},
]


@pytest.fixture
def world(app, make):
    mia = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe", email="dana@contoso.example")
    eli = make.contact(account=account, name="Eli Gone", email="eli@contoso.example", is_active_contact=False)
    stranger = make.contact(name="Sam Stranger", email="sam@other.example")  # another account's
    version_id = build_template(app, SPEC)
    return {"mia": mia, "account": account, "dana": dana, "eli": eli, "stranger": stranger, "version_id": version_id}


def _project(app, world) -> dict:
    return create_project(app, world["version_id"], world["mia"].id, world["account"].id, KICKOFF)


def _outbox(app) -> list[OutboxEmail]:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()


def _contact_of(app, task_id: int) -> int | None:
    with app.app_context():
        return db.session.scalar(sa.select(Task.assignee_contact_id).where(Task.id == task_id))


def test_the_edit_page_of_a_customer_task_offers_the_accounts_active_contacts_and_the_customer(app, client, world):
    project = _project(app, world)
    task_id = project["tasks"]["Share SSO details"]
    login_as(client, world["mia"])
    page = client.get(f"/projects/{project['id']}/tasks/{task_id}/edit").get_data(as_text=True)
    assert "The customer (anyone at Contoso)" in page and "Dana Doe" in page
    assert "Eli Gone" not in page and "Sam Stranger" not in page and "Mia Manager</option>" not in page
    internal = client.get(f"/projects/{project['id']}/tasks/{project['tasks']['Kickoff call']}/edit")
    assert "Dana Doe" not in internal.get_data(as_text=True)

    prefix = f"task-{task_id}"
    form = {f"{prefix}-status": "todo", f"{prefix}-due_date": "2030-01-09", f"{prefix}-assignee_id": world["dana"].id,
            f"{prefix}-blocked_reason": ""}
    response = post_form(client, f"/projects/tasks/{task_id}", form)
    assert response.status_code == 302
    assert _contact_of(app, task_id) == world["dana"].id
    emails = _outbox(app)
    assert [e.to_address for e in emails] == ["dana@contoso.example"]
    assert "Share SSO details" in emails[0].body and "/portal/opt-out/" in emails[0].body
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "task.updated",
                                                              AuditEvent.object_id == task_id))
        assert event.after == {"assignee_contact_id": world["dana"].id}
    plan = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    row = plan[plan.index(f'id="task-{task_id}"'):]
    assert "<td>Dana Doe</td>" in row[:row.index("</tr>")]
    assert "assigned Share SSO details to Dana Doe (customer)" in re.sub(r"<[^>]+>", "", plan)  # the activity feed

    # an inactive contact, another account's: refused at the field, nothing changes
    for refused in (world["eli"].id, world["stranger"].id):
        response = post_form(client, f"/projects/tasks/{task_id}", {**form, f"{prefix}-assignee_id": refused})
        assert response.status_code == 400
        assert "is-invalid" in response.get_data(as_text=True)
        assert _contact_of(app, task_id) == world["dana"].id
    # back to the customer as a group: the plan says "Customer"; no new e-mail
    assert post_form(client, f"/projects/tasks/{task_id}", {**form, f"{prefix}-assignee_id": 0}).status_code == 302
    assert _contact_of(app, task_id) is None and len(_outbox(app)) == 1
    plan = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    row = plan[plan.index(f'id="task-{task_id}"'):]
    assert "<td>Customer</td>" in row[:row.index("</tr>")]


def test_update_task_checks_the_contact(app, world):
    project = _project(app, world)
    with app.app_context():
        mia = db.session.get(User, world["mia"].id)
        customer_task = db.session.get(Task, project["tasks"]["Share SSO details"])
        internal_task = db.session.get(Task, project["tasks"]["Kickoff call"])
        dana, eli, stranger = (db.session.get(Contact, world[k].id) for k in ("dana", "eli", "stranger"))
        with pytest.raises(ValidationError) as refused:
            services.update_task(mia, internal_task, assignee_contact=dana)
        assert "customer task" in refused.value.errors["assignee_contact_id"]
        for contact in (eli, stranger):
            with pytest.raises(ValidationError):
                services.update_task(mia, customer_task, assignee_contact=contact)
        services.update_task(mia, customer_task, assignee_contact=dana)
        services.update_task(mia, customer_task, assignee_contact=dana)  # unchanged: no second e-mail
        db.session.commit()
    assert len(_outbox(app)) == 1


def _create_form(world, **extra) -> dict:
    return {"account_id": world["account"].id, "template_version_id": world["version_id"], "name": "Contoso rollout",
            "kickoff_date": "2030-01-07", "contract_signed_date": "", "target_go_live_date": "",
            "manager_id": world["mia"].id, "member_ids": [], "billing_model": "fixed_fee", "fee_amount": "1000",
            "budget_hours": "", **extra}


def test_project_creation_maps_the_customer_role_to_a_contact_of_the_account(app, client, world):
    login_as(client, world["mia"])
    page = client.get(f"/projects/new?template_version_id={world['version_id']}").get_data(as_text=True)
    assert 'name="assign_customer"' in page and 'data-assign-role="customer"' in page
    assert '<optgroup label="Contoso">' in page and "The customer (anyone at the account)" in page
    assert "Eli Gone" not in page

    # another account's contact: refused at the field, nothing created
    response = post_form(client, "/projects/new", _create_form(world, assign_customer=world["stranger"].id))
    assert response.status_code == 400 and "Choose a contact of the project" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 0

    response = post_form(client, "/projects/new", _create_form(world, assign_customer=world["dana"].id))
    assert response.status_code == 302
    with app.app_context():
        rows = dict(db.session.execute(sa.select(Task.name, Task.assignee_contact_id)).all())
    assert rows == {"Kickoff call": None, "Share SSO details": world["dana"].id,
                    "Sign the data agreement": world["dana"].id}
    emails = _outbox(app)
    assert len(emails) == 1 and emails[0].to_address == "dana@contoso.example"  # one e-mail for both tasks
    assert "Share SSO details" in emails[0].body and "Sign the data agreement" in emails[0].body

    # the default: the customer as a group
    response = post_form(client, "/projects/new", _create_form(world, name="Second rollout"))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Task.id)).where(
            Task.assignee_role == "customer", Task.assignee_contact_id.is_(None))) == 2


def test_the_bulk_assign_page_leaves_customer_tasks_to_their_contact(app, client, world):
    project = _project(app, world)
    login_as(client, world["mia"])
    response = post_form(client, f"/projects/{project['id']}/tasks/assign",
                         {"task_ids": [project["tasks"]["Share SSO details"]], "assignee_id": world["mia"].id})
    assert response.status_code == 400 and "Customer tasks go to a contact" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Task, project["tasks"]["Share SSO details"]).assignee_id is None
