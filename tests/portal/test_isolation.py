"""Isolation over the URL map (issue 13, acceptance 1): every portal route taking an id, given the id of another
account's object (project, milestone, task, attachment), of an object the contact may not see in their own
project (hidden milestone, internal task or file), or of no object at all, answers 404 and changes nothing; a
signed-in contact asking for any internal page gets 404 or the portal's sign-in, never the page."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa

from psa.core.models import AuditEvent
from psa.extensions import db
from psa.portal import CONTACT_REACHABLE
from psa.projects.models import Attachment, Comment, Milestone, MilestoneRating, Task
from tests.portal.helpers import login_contact
from tests.portal.world import PDF, world

MISSING = 987654321
#: Arguments of portal routes naming an object, and the keys of that object in the world (another account's
#: first, then our own project's hidden ones).
OBJECT_ARGS = {
    "project_id": ("project",),
    "milestone_id": ("milestone_done", "milestone_hidden"),
    "task_id": ("task_other", "task_group", "task_hidden", "task_internal", "task_customer_internal"),
    "attachment_id": ("file_shared", "file_internal", "file_on_internal_task"),
}
#: What a POST carries, so a route that got past its scope check would change something.
POSTED = {"body": "Hijacked", "score": "5", "comment": "Hijacked"}


def portal_rules(app):
    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint.startswith("portal.") and r.arguments and not r.arguments & {"token"}]
    unknown = {a for r in rules for a in r.arguments} - OBJECT_ARGS.keys()
    assert not unknown, f"classify {unknown} in tests/portal/test_isolation.py"
    return rules


def _state(app):
    with app.app_context():
        return (tuple(db.session.scalars(sa.select(Task.status).order_by(Task.id))),
                tuple(db.session.scalars(sa.select(Milestone.signed_off_at).order_by(Milestone.id))),
                db.session.scalar(sa.select(sa.func.count(Comment.id))),
                db.session.scalar(sa.select(sa.func.count(Attachment.id))),
                db.session.scalar(sa.select(sa.func.count(MilestoneRating.id))),
                db.session.scalar(sa.select(sa.func.count(AuditEvent.id))))


def _token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal/").get_data(as_text=True)).group(1)


def _call(client, rule, value, method, token):
    path = re.sub(r"<(?:\w+:)?(\w+)>", str(value), rule.rule)
    if method == "GET":
        return client.get(path)
    data = {"csrf_token": token, **POSTED, "file": (io.BytesIO(PDF), "x.pdf")}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_every_portal_route_answers_404_for_another_accounts_objects_as_for_missing_ones(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    token = _token(client)
    before = _state(app)
    checked = 0
    for rule in portal_rules(app):
        (arg,) = rule.arguments
        others = [w["b"][key] for key in OBJECT_ARGS[arg]] + [w["cancelled"][OBJECT_ARGS[arg][0]]]
        if arg != "project_id":  # our own project's objects the contact may not see or act on
            others += [w["a"][key] for key in OBJECT_ARGS[arg] if key in (
                "milestone_hidden", "task_hidden", "task_internal", "task_customer_internal", "file_internal",
                "file_on_internal_task")]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            absent = _call(client, rule, MISSING, method, token).status_code
            assert absent == 404, (rule.endpoint, method, "missing", absent)
            for value in others:
                seen = _call(client, rule, value, method, token).status_code
                assert seen == 404, (rule.endpoint, method, value, seen)
                checked += 1
    assert checked >= 30
    assert _state(app) == before


def test_form_fields_naming_another_accounts_task_answer_404(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    token = _token(client)
    before = _state(app)
    page = f"/portal/projects/{w['a']['project']}"
    for task_id in (w["b"]["task_shared"], w["a"]["task_internal"], MISSING, "1e309", "x" * 40):
        assert client.post(f"{page}/comments", data={"csrf_token": token, "body": "Hi",
                                                      "task_id": task_id}).status_code == 404
        assert client.post(f"{page}/attachments", data={"csrf_token": token, "task_id": task_id,
                                                         "file": (io.BytesIO(PDF), "x.pdf")},
                           content_type="multipart/form-data").status_code == 404
    assert _state(app) == before


def test_a_contact_never_reaches_an_internal_page(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("portal.") and not rule.endpoint.startswith("portal.preview"):
            continue
        if rule.endpoint in CONTACT_REACHABLE or rule.endpoint in ("static", "bootstrap.static"):
            continue
        if "GET" not in rule.methods:
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        path = re.sub(r"<\w+:(\w+)>", "x", path)
        response = client.get(path)
        assert response.status_code == 404 or (
            response.status_code == 302 and response.headers["Location"].startswith("/portal/login")), (
            rule.endpoint, response.status_code)
        checked += 1
    assert checked > 30


def test_the_preview_of_another_accounts_contact_shows_nothing_of_them(app, client, make):
    from tests.conftest import login_as

    w = world(app, make)
    login_as(client, w["manager"])
    html = client.get(f"/portal/preview/projects/{w['a']['project']}?contact={w['other'].id}").get_data(as_text=True)
    assert "You are viewing" not in html and "OTHER-CONTACT" not in html
