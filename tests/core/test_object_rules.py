"""Object rules over the whole URL map: every route taking the id of a project or of something in one
(milestone, task, criterion, comment, attachment, rate card line) answers an internal user who may not see
that project exactly as it answers an id that does not exist: 404 (or 403 for both, where the user lacks
the route's permission altogether), and changes nothing.

A route whose arguments the walk does not know makes the test fail, so a new route is covered."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core.auth import can
from psa.extensions import db
from psa.projects import services as projects
from psa.projects.models import Attachment, Comment, Milestone, Project, SuccessCriterion, Task
from psa.timesheets.models import ProjectRate
from psa.timesheets.services import set_project_rate
from tests.conftest import csrf_token, login_as

#: Arguments naming an object that belongs to a project, and the key of that object in the `hidden` fixture.
PROJECT_SCOPED = {"project_id": "project", "milestone_id": "milestone", "task_id": "task",
                  "criterion_id": "criterion", "comment_id": "comment", "attachment_id": "attachment",
                  "line_id": "rate_line"}
#: Arguments that name no project object (people, accounts, contacts, holidays, timesheets, templates, tokens,
#: files, background jobs, outbox e-mails, report files).
NOT_PROJECT_SCOPED = {"user_id", "account_id", "contact_id", "holiday_id", "sheet_id", "template_id", "version_id",
                      "token", "filename", "job_id", "email_id", "file_id", "endpoint_id", "delivery_id",
                      "token_id"}
#: Blueprints whose milestone_id / task_id / criterion_id are template objects, shared by every project.
TEMPLATE_BLUEPRINTS = {"project_templates"}
#: Endpoints served by libraries, not by our views.
LIBRARY_ENDPOINTS = {"static", "bootstrap.static"}
MISSING = 987654321
#: Fields a POST might carry, so a form that validated would change something (it must not get that far).
POSTED = {"direction": "up", "status": "done", "name": "Hijacked", "comment-body": "Hijacked",
          "comment-visibility": "internal", "new-milestone-name": "Hijacked", "new-milestone-due_date": "2030-02-01",
          "new-criterion-outcome": "Hijacked", "new-criterion-status": "on_track", "fee_amount": "1",
          "bill_rate": "1", "applies_to": "role:consultant"}


def project_scoped_rules(app):
    """(rule, methods) of every rule with a project-scoped argument; fails on an argument nobody classified."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in LIBRARY_ENDPOINTS:
            continue
        if rule.endpoint.startswith("api."):  # token-only (401 to a session); the API's object rules are walked
            continue  # with tokens in tests/api (a consultant's token gets 404 for a project not theirs)
        unknown = rule.arguments - PROJECT_SCOPED.keys() - NOT_PROJECT_SCOPED
        assert not unknown, (f"{rule.endpoint} ({rule.rule}) takes {sorted(unknown)}: say in tests/core/"
                             "test_object_rules.py whether it names a project object and how to fill it")
        if rule.endpoint.split(".")[0] in TEMPLATE_BLUEPRINTS:
            continue
        if getattr(app.view_functions[rule.endpoint], "contact_only", False):
            continue  # a portal contact's page: an internal user is sent to the portal's sign-in; the walk over
            # another account's objects is tests/portal/test_isolation.py's
        if rule.arguments & PROJECT_SCOPED.keys():
            found.append((rule, sorted(rule.methods - {"HEAD", "OPTIONS"})))
    return found


def fill(rule, ids: dict) -> str:
    """The rule's path with each argument replaced by ids[argument] (the fixture's objects, or MISSING)."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)


@pytest.fixture
def hidden(app, make, tmp_path):
    """A project (with one of everything in it) that the outsiders below are not on."""
    owner = make.user(role="manager", name="Owner Manager")
    member = make.user(role="consultant", name="Member Consultant")
    account = make.account()
    with app.app_context():
        actor = db.session.get(User, owner.id)
        project = projects.create_project(actor, account=db.session.get(Account, account.id), name="Secret rollout",
                                          kickoff_date=date(2030, 1, 7), manager=actor,
                                          members=[db.session.get(User, member.id)], fee_amount=Decimal("50000"))
        milestone = projects.add_milestone_to_project(actor, project, name="Kickoff", due_date=date(2030, 1, 14))
        task = projects.add_task_to_milestone(actor, milestone, name="Configure", start_date=date(2030, 1, 8))
        criterion = projects.save_criterion(actor, project, outcome="Faster close", status="on_track")
        comment = projects.add_comment(actor, project, body="Internal note")
        attachment = projects.add_attachment(actor, project, filename="sow.pdf", data=b"%PDF-1.4 sow", task=task)
        line = set_project_rate(actor, project, bill_rate=Decimal("150"), role="consultant")
        db.session.commit()
        return {"project": project.id, "milestone": milestone.id, "task": task.id, "criterion": criterion.id,
                "comment": comment.id, "attachment": attachment.id, "rate_line": line.id, "member": member}


def _ids(objects: dict | None) -> dict:
    return {arg: (objects[key] if objects else MISSING) for arg, key in PROJECT_SCOPED.items()}


def _state(app, project_id: int):
    """Everything a refused request might have changed."""
    with app.app_context():
        project = db.session.get(Project, project_id)
        counts = tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                       for model in (Milestone, Task, SuccessCriterion, Comment, Attachment, ProjectRate))
        statuses = tuple(db.session.scalars(sa.select(Task.status).order_by(Task.id)))
        return (project.name, project.manager_id, project.fee_amount, counts, statuses)


def test_the_walk_finds_every_kind_of_project_object(app):
    named = {arg for rule, _ in project_scoped_rules(app) for arg in rule.arguments & PROJECT_SCOPED.keys()}
    # a comment has no route of its own today; every other kind has at least one
    assert named == set(PROJECT_SCOPED) - {"comment_id"}, named


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_a_project_one_may_not_see_answers_as_if_it_did_not_exist(app, client, make, hidden, role):
    outsider = make.user(role=role)
    login_as(client, outsider)
    token = csrf_token(client, "/")
    before = _state(app, hidden["project"])
    real, missing = _ids(hidden), _ids(None)
    checked = 0
    for rule, methods in project_scoped_rules(app):
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        expected = 404 if permission is None or can(permission, outsider) else 403
        for method in methods:
            data = {"csrf_token": token, **POSTED} if method == "POST" else None
            seen = client.open(fill(rule, real), method=method, data=data).status_code
            absent = client.open(fill(rule, missing), method=method, data=data).status_code
            assert (seen, absent) == (expected, expected), (rule.endpoint, method, seen, absent)
            checked += 1
    assert checked >= 12
    assert _state(app, hidden["project"]) == before


def test_a_member_reaches_the_same_routes(app, client, hidden):
    """The ids the walk fills in are real: a member of the project gets past the object rule on every GET."""
    member = hidden["member"]
    login_as(client, member)
    real = _ids(hidden)
    for rule, methods in project_scoped_rules(app):
        if "GET" not in methods:
            continue
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        expected = 200 if permission is None or can(permission, member) else 403
        response = client.get(fill(rule, real))
        assert response.status_code == expected, (rule.endpoint, response.status_code)


def test_an_unclassified_argument_fails_the_walk(app):
    """A new route taking, say, an escalation id must be classified before the suite passes."""
    from flask import Flask

    probe = Flask("probe")
    probe.add_url_rule("/escalations/<int:escalation_id>", "escalations.show", lambda escalation_id: "")
    with pytest.raises(AssertionError, match="escalation_id"):
        project_scoped_rules(probe)
