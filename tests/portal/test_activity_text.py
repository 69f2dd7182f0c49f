"""The portal's actions in words (psa/activity/text.py): a contact acting reads "Dana Doe (customer) …", each
action the portal and the contact pages record has its sentence, and the project's activity feed says them."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from psa.activity.text import describe_events
from psa.core.db import utcnow
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.conftest import login_as
from tests.projects.helpers import ONBOARDING, build_template, create_project


@pytest.fixture
def world(app, make):
    mia = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe")
    project = create_project(app, build_template(app, ONBOARDING), mia.id, account.id, date(2030, 1, 7))
    return {"mia": mia, "dana": dana, "account": account, "project": project}


def _say(app, *, action, object_type, object_id, user=None, contact=None, before=None, after=None) -> str:
    with app.test_request_context():
        event = AuditEvent(actor_id=user.id if user else None, actor_contact_id=contact.id if contact else None,
                           action=action, object_type=object_type, object_id=object_id, before=before,
                           after=after, at=utcnow())
        db.session.add(event)
        db.session.flush()
        text = str(describe_events([event])[0])
        db.session.rollback()
        return text


def test_contacts_act_as_customers_and_each_portal_action_reads(app, world):
    dana, mia, p = world["dana"], world["mia"], world["project"]
    go_live, configure = p["milestones"]["Go-live"], p["tasks"]["Configure"]
    cases = [
        (dict(action="portal.task_completed", object_type="task", object_id=configure, contact=dana),
         "Dana Doe (customer) completed Configure in the portal"),
        (dict(action="milestone.signed_off", object_type="milestone", object_id=go_live, contact=dana,
              before={"signed_off_at": None}, after={"signed_off_at": "2030-01-20T10:00:00+00:00"}),
         "Dana Doe (customer) signed off Go-live"),
        (dict(action="milestone.rated", object_type="milestone", object_id=go_live, contact=dana,
              after={"score": 4, "comment": "Smooth cutover"}),
         "Dana Doe (customer) rated Go-live 4 out of 5: “Smooth cutover”"),
        (dict(action="portal.comment_added", object_type="task", object_id=configure, contact=dana),
         "Dana Doe (customer) commented on Configure in the portal"),
        (dict(action="portal.file_added", object_type="project", object_id=p["id"], contact=dana),
         None),
        (dict(action="portal.previewed", object_type="contact", object_id=dana.id, user=mia,
              after={"page": "project", "project_id": p["id"]}),
         None),
        (dict(action="contact.invited", object_type="contact", object_id=dana.id, user=mia),
         None),  # the contact pages may word it their way (psa/portal/services.py registers it)
        (dict(action="contact.created", object_type="contact", object_id=dana.id, user=mia,
              after={"name": "Dana Doe", "account_id": world["account"].id}),
         None),  # the contact pages may word it their way (psa/portal/services.py registers it)
        (dict(action="contact.updated", object_type="contact", object_id=dana.id, user=mia,
              before={"view_level": "full"}, after={"view_level": "my_tasks"}),
         None),  # the contact pages may word it their way (psa/portal/services.py registers it)
        (dict(action="contact.deactivated", object_type="contact", object_id=dana.id, user=mia),
         None),  # the contact pages may word it their way (psa/portal/services.py registers it)
        (dict(action="contact.signed_in", object_type="contact", object_id=dana.id, contact=dana),
         "Dana Doe (customer) signed in to the portal"),
        (dict(action="task.updated", object_type="task", object_id=configure, user=mia,
              before={"assignee_contact_id": None}, after={"assignee_contact_id": dana.id}),
         "Mia Manager assigned Configure to Dana Doe (customer)"),
        (dict(action="task.updated", object_type="task", object_id=configure, user=mia,
              before={"assignee_contact_id": dana.id}, after={"assignee_contact_id": None}),
         "Mia Manager gave Configure back to the customer as a group (was Dana Doe (customer))"),
    ]
    for kwargs, expected in cases:
        text = _say(app, **kwargs)
        assert kwargs["action"] not in text, text  # worded, not its code
        assert "Dana Doe (customer)" in text, text
        if expected:
            assert text == expected
    with app.app_context():
        name = db.session.scalar(sa.text(f"SELECT name FROM projects WHERE id = {p['id']}"))
    assert _say(app, action="portal.previewed", object_type="contact", object_id=dana.id, user=mia,
                after={"project_id": p["id"]}) == f"Mia Manager viewed the portal as Dana Doe (customer) sees it ({name})"


def test_the_project_feed_names_the_contact(app, client, world):
    with app.app_context():
        db.session.add(AuditEvent(actor_contact_id=world["dana"].id, action="milestone.signed_off",
                                  object_type="milestone", object_id=world["project"]["milestones"]["Go-live"],
                                  at=utcnow()))
        db.session.commit()
    login_as(client, world["mia"])
    html = client.get(f"/projects/{world['project']['id']}").get_data(as_text=True)
    assert "Dana Doe (customer) signed off Go-live" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
