"""Template builder pages: who may do what, every form's bad input shown at its field with nothing changed,
published versions answering 409, predecessors without cycles, export/import through files, copies and order.

No test holds an app context while it calls the client: data is made and read in short contexts of its own.
"""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.project_templates import services as s
from psa.project_templates.models import (
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)
from tests.conftest import login_as, post_form
from tests.project_templates.test_services import build

_FEEDBACK_RE = re.compile(r'<div class="invalid-feedback[^"]*">(.*?)</div>', re.S)
_ALERT_RE = re.compile(r'<div class="alert alert-danger" role="alert">(.*?)</div>\s*(?:<div class="d-flex|<form)', re.S)


def field_errors(page: str, field: str) -> list[str]:
    """The `invalid-feedback` messages between the control named `field` and the next control of another name."""
    start = page.find(f'name="{field}"')
    assert start != -1, f"no control named {field!r} on the page"
    following = re.compile(rf'name="(?!{re.escape(field)}")[^"]+"').search(page, start + 1)
    end = following.start() if following else len(page)
    return [html.unescape(re.sub(r"<[^>]+>", "", m).strip()) for m in _FEEDBACK_RE.findall(page[start:end])]


def text(page: str) -> str:
    return html.unescape(page)


def post(client, path: str, data: dict | None = None, **kwargs):
    return post_form(client, path, data, token_from="/templates/", **kwargs)


def seed(app, user, name="Standard onboarding", publish=False) -> SimpleNamespace:
    """The draft of tests/project_templates/test_services.build, made in a short context; returns plain ids."""
    with app.app_context():
        actor = db.session.get(User, user.id)
        version, items = build(actor, name)
        if publish:
            s.publish_version(actor, version)
            db.session.commit()
        return SimpleNamespace(version=version.id, template=version.template_id,
                               **{key: item.id for key, item in items.items()})


def state(app, version_id: int) -> dict:
    """Everything a version holds, as its export."""
    with app.app_context():
        return s.export_version(s.load_version(version_id))


def counts(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Template, TemplateVersion, TemplateMilestone, TemplateTask, TemplateCriterion))


@pytest.fixture
def admin(make):
    return make.user(role="admin", name="Ada Admin")


@pytest.fixture
def as_admin(client, admin):
    login_as(client, admin)
    return client


def milestone_fields(prefix: str, **overrides) -> dict:
    fields = {"name": "Design", "offset_days": "5", "fee_share_percent": "0", "is_customer_visible": "y"}
    fields.update(overrides)
    return {f"{prefix}-{key}": value for key, value in fields.items() if value is not None}


def task_fields(prefix: str, **overrides) -> dict:
    fields = {"name": "Workshop", "offset_days": "3", "duration_days": "2", "estimated_hours": "1.25",
              "assignee_role": "consultant", "visibility": "internal"}
    fields.update(overrides)
    return {f"{prefix}-{key}": value for key, value in fields.items() if value is not None}


def a_fields(prefix: str) -> dict:
    """seed()'s task A as it is, for a test posting predecessors beside it (the form saves both)."""
    return task_fields(prefix, name="A kickoff call", offset_days="0", duration_days="1", estimated_hours="1.5",
                       assignee_role="manager", visibility="shared")


# --- list, new, permissions ----------------------------------------------------------------------


def test_the_list_shows_newest_and_published_versions_and_an_empty_state(app, client, admin, make):
    login_as(client, admin)
    page = client.get("/templates/").get_data(as_text=True)
    assert 'data-testid="empty-state"' in page and "No templates yet" in page
    assert 'href="/templates/new"' in page and 'href="/templates/import"' in page
    assert 'href="/templates/">Templates</a>' in page  # the nav link

    first = seed(app, admin, "Standard onboarding", publish=True)
    seed(app, admin, "Enterprise rollout")
    with app.app_context():
        s.new_draft(db.session.get(User, admin.id), db.session.get(Template, first.template))
        db.session.commit()
    page = client.get("/templates/").get_data(as_text=True)
    rows = re.findall(r'<tr data-testid="template-row">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    assert "Enterprise rollout" in rows[0] and "Draft" in rows[0] and "Not yet" in rows[0]
    assert "Standard onboarding" in rows[1] and "v2" in rows[1] and "Draft" in rows[1]
    assert f'href="/templates/versions/{first.version}">v1</a>' in rows[1]


def test_a_consultant_views_but_changes_nothing(app, client, admin, make):
    ids = seed(app, admin)
    published = seed(app, admin, "Released one", publish=True)
    login_as(client, make.user(role="consultant"))
    page = client.get("/templates/").get_data(as_text=True)
    assert "Released one" in page and 'href="/templates/new"' not in page and "/templates/import" not in page
    assert "Standard onboarding" not in page  # a draft only (tests/project_templates/test_draft_access.py)
    builder = client.get(f"/templates/versions/{published.version}")
    assert builder.status_code == 200
    main = builder.get_data(as_text=True).split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert "A kickoff call" in main and "C train users" in main
    assert "<input" not in main and "<form" not in main and "<select" not in main  # read-only
    assert "/publish" not in main and "/new-draft" not in main and "Duplicate" not in main and "Export JSON" in main
    assert client.get(f"/templates/versions/{published.version}/export.json").status_code == 200
    assert client.get(f"/templates/{published.template}").status_code == 302
    assert client.get("/templates/new").status_code == 403
    assert client.get("/templates/import").status_code == 403

    before = (state(app, ids.version), counts(app))
    values = {"version_id": ids.version, "milestone_id": ids.kickoff, "task_id": ids.b, "template_id": ids.template}
    with app.app_context():
        values["criterion_id"] = db.session.scalar(sa.select(TemplateCriterion.id))
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("project_templates.") or "POST" not in rule.methods:
            continue
        path = re.sub(r"<int:(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)
        response = post(client, path, {"direction": "up", "details-name": "Hacked", "new-milestone-name": "Hacked"})
        assert response.status_code == 403, (rule.endpoint, response.status_code)
        checked += 1
    assert checked >= 17
    assert client.get(f"/templates/tasks/{ids.b}/edit").status_code == 403
    assert (state(app, ids.version), counts(app)) == before


def test_missing_objects_answer_404(as_admin):
    assert as_admin.get("/templates/versions/999999").status_code == 404
    assert as_admin.get("/templates/versions/999999/export.json").status_code == 404
    assert as_admin.get("/templates/999999").status_code == 404
    assert post(as_admin, "/templates/milestones/999999", milestone_fields("m999999")).status_code == 404
    assert post(as_admin, "/templates/tasks/999999/delete").status_code == 404


def test_a_new_template_opens_its_builder(app, as_admin):
    response = post(as_admin, "/templates/new", {"name": " Standard onboarding ", "description": "Eight weeks",
                                                 "target_ttv_days": "45"})
    assert response.status_code == 302
    with app.app_context():
        version = db.session.scalar(sa.select(TemplateVersion))
        assert (version.template.name, version.template.description, version.target_ttv_days, version.number,
                version.state) == ("Standard onboarding", "Eight weeks", 45, 1, "draft")
        version_id = version.id
    assert response.headers["Location"] == f"/templates/versions/{version_id}"
    page = text(as_admin.get(response.headers["Location"]).get_data(as_text=True))
    assert "Template Standard onboarding created." in page
    assert 'data-testid="version-state">Draft' in page
    assert "Add at least one milestone." in page  # the publish problems, before publishing


TTV_RANGE = "Enter a number of days from 1 to 3650, or leave it empty."


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "Give the template a name."),
    ("name", "x" * 121, "Use at most 120 characters."),
    ("name", "standard ONBOARDING", "A template with this name already exists."),
    ("target_ttv_days", "0", TTV_RANGE),
    ("target_ttv_days", "-3", TTV_RANGE),
    ("target_ttv_days", "3651", TTV_RANGE),
    ("target_ttv_days", "six weeks", "Enter a whole number."),
])
def test_bad_input_on_the_new_template_form_is_shown_at_the_field(app, as_admin, admin, field, value, message):
    seed(app, admin)
    before = counts(app)
    data = {"name": "Premium onboarding", "description": "", "target_ttv_days": "30", field: value}
    response = post(as_admin, "/templates/new", data)
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), field) == [message]
    assert counts(app) == before


def test_newest_version_redirect(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    with app.app_context():
        draft = s.new_draft(db.session.get(User, admin.id), db.session.get(Template, ids.template))
        db.session.commit()
        draft_id = draft.id
    response = as_admin.get(f"/templates/{ids.template}")
    assert response.status_code == 302 and response.headers["Location"] == f"/templates/versions/{draft_id}"


# --- the builder ---------------------------------------------------------------------------------


def test_the_builder_shows_the_whole_version(app, as_admin, admin):
    ids = seed(app, admin)
    page = text(as_admin.get(f"/templates/versions/{ids.version}").get_data(as_text=True))
    assert re.search(r'data-testid="builder-title">Standard onboarding\s*<span[^>]*>v1</span>', page)
    assert page.count('data-testid="milestone"') == 2 and page.count('data-testid="task-row"') == 3
    assert f'name="m{ids.kickoff}-name"' in page and 'value="Kickoff"' in page
    # tasks are read here, each edited on its own page
    assert f'href="/templates/tasks/{ids.a}/edit"' in page and 'name="t' not in page
    assert re.search(r"B configure</td>.*?A kickoff call</td>", page, re.S)  # B's predecessor listed
    assert "Fee shares total 100 %" in page and 'data-testid="publish-problems"' not in page
    assert "Faster month-end close" in page and "Publish v1" in page


def test_a_task_is_edited_on_its_own_page_with_its_predecessors_by_name(app, as_admin, admin):
    ids = seed(app, admin)
    page = text(as_admin.get(f"/templates/tasks/{ids.a}/edit").get_data(as_text=True))
    assert 'name="task-estimated_hours"' in page and 'value="1.50"' in page  # 90 minutes
    page = text(as_admin.get(f"/templates/tasks/{ids.b}/edit").get_data(as_text=True))
    boxes = dict(re.findall(r'<input class="form-check-input" type="checkbox" name="task-predecessors"\s+'
                            r'value="(\d+)" id="[^"]+"( checked)?>', page))
    # B's predecessors: A checked, C offered, B itself not offered; each named with its milestone
    assert boxes == {str(ids.a): " checked", str(ids.c): ""}
    assert "A kickoff call (Kickoff)" in page and "Chosen: A kickoff call (Kickoff)" in page
    assert 'data-checkbox-filter' in page and 'for="task-predecessors-filter"' in page
    # a published version's task is read on the builder
    published = seed(app, admin, "Published one", publish=True)
    response = as_admin.get(f"/templates/tasks/{published.a}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#task-{published.a}")




def test_the_builder_runs_the_same_queries_however_big_the_version(app, as_admin, admin, count_queries):
    small = seed(app, admin, "Small")
    big = seed(app, admin, "Big")
    with app.app_context():
        actor = db.session.get(User, admin.id)
        version = db.session.get(TemplateVersion, big.version)
        for n in range(4):
            milestone = s.add_milestone(actor, version, name=f"Extra {n}")
            previous = None
            for k in range(3):
                task = s.add_task(actor, milestone, name=f"Task {n}.{k}")
                if previous:
                    s.set_predecessors(actor, task, [previous.id])
                previous = task
            s.add_criterion(actor, version, outcome=f"Outcome {n}")
        db.session.commit()
    as_admin.get(f"/templates/versions/{small.version}")  # warm up
    with count_queries() as few:
        assert as_admin.get(f"/templates/versions/{small.version}").status_code == 200
    with count_queries() as many:
        assert as_admin.get(f"/templates/versions/{big.version}").status_code == 200
    assert len(many) == len(few), many


def test_milestones_tasks_predecessors_and_criteria_are_added_and_saved(app, as_admin, admin):
    response = post(as_admin, "/templates/new", {"name": "Fresh", "target_ttv_days": ""})
    with app.app_context():
        version_id = db.session.scalar(sa.select(TemplateVersion.id))

    response = post(as_admin, f"/templates/versions/{version_id}/milestones",
                    milestone_fields("new-milestone", name="Kickoff", offset_days="2", fee_share_percent="100",
                                     requires_signoff="y", is_first_value="y"))
    with app.app_context():
        milestone_id = db.session.scalar(sa.select(TemplateMilestone.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/templates/versions/{version_id}#milestone-{milestone_id}"

    for name in ("First", "Second"):
        response = post(as_admin, f"/templates/milestones/{milestone_id}/tasks",
                        task_fields(f"new-task{milestone_id}", name=name, estimated_hours="1.25",
                                    assignee_role="customer", visibility="shared"))
        assert response.status_code == 302
    with app.app_context():
        first, second = db.session.scalars(sa.select(TemplateTask).order_by(TemplateTask.position)).all()
        first_id, second_id = first.id, second.id
        assert (first.estimated_minutes, first.assignee_role, first.visibility) == (75, "customer", "shared")
    assert response.headers["Location"] == f"/templates/versions/{version_id}#task-{second_id}"

    response = post(as_admin, f"/templates/tasks/{second_id}",
                    {**task_fields("task", name="Second", estimated_hours="1.25", assignee_role="customer",
                                   visibility="shared"), "task-predecessors": [first_id]})
    assert response.status_code == 302
    response = post(as_admin, f"/templates/tasks/{first_id}",
                    task_fields("task", name="First, renamed", offset_days="1", duration_days="4",
                                estimated_hours="0.33", assignee_role="manager"))
    assert response.status_code == 302
    response = post(as_admin, f"/templates/milestones/{milestone_id}",
                    milestone_fields(f"m{milestone_id}", name="Kick-off", offset_days="3", fee_share_percent="100",
                                     is_customer_visible=None, is_first_value="y"))
    assert response.status_code == 302
    response = post(as_admin, f"/templates/versions/{version_id}/criteria",
                    {"new-criterion-outcome": "Faster close", "new-criterion-metric": "Days to close",
                     "new-criterion-baseline": "10", "new-criterion-target": "4",
                     "new-criterion-due_offset_days": "90"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#criteria")
    response = post(as_admin, f"/templates/versions/{version_id}/details",
                    {"details-name": "Fresh start", "details-description": "For small teams",
                     "details-target_ttv_days": "30", "details-notes": "First version"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#details")

    data = state(app, version_id)
    assert data["template"] == {"name": "Fresh start", "description": "For small teams"}
    assert data["version"] == {"number": 1, "target_ttv_days": 30, "notes": "First version"}
    assert data["milestones"] == [{
        "name": "Kick-off", "offset_days": 3, "is_customer_visible": False, "requires_signoff": False,
        "is_first_value": True, "fee_share_percent": "100.00",
        "tasks": [
            {"key": "t1", "name": "First, renamed", "offset_days": 1, "duration_days": 4, "estimated_minutes": 20,
             "assignee_role": "manager", "visibility": "internal", "predecessors": []},
            {"key": "t2", "name": "Second", "offset_days": 3, "duration_days": 2, "estimated_minutes": 75,
             "assignee_role": "customer", "visibility": "shared", "predecessors": ["t1"]},
        ]}]
    assert data["criteria"] == [{"outcome": "Faster close", "metric": "Days to close", "baseline": "10",
                                 "target": "4", "due_offset_days": 90}]

    response = post(as_admin, f"/templates/versions/{version_id}/publish")
    assert response.status_code == 302
    page = text(as_admin.get(f"/templates/versions/{version_id}").get_data(as_text=True))
    assert "Version 1 published." in page and 'data-testid="version-state">Published' in page
    assert "Create new draft" in page and "Export JSON" in page and 'name="duplicate-name"' in page
    assert f'name="m{milestone_id}-name"' not in page  # read-only now


# --- 1. published versions are frozen ------------------------------------------------------------


def test_editing_a_published_version_through_a_route_answers_409_and_changes_nothing(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    before = (state(app, ids.version), counts(app))
    with app.app_context():
        criterion_id = db.session.scalar(sa.select(TemplateCriterion.id))
    attempts = [
        (f"/templates/versions/{ids.version}/publish", {}),
        (f"/templates/versions/{ids.version}/details", {"details-name": "Changed", "details-target_ttv_days": "9"}),
        (f"/templates/versions/{ids.version}/milestones", milestone_fields("new-milestone")),
        (f"/templates/milestones/{ids.kickoff}", milestone_fields(f"m{ids.kickoff}", name="Changed")),
        (f"/templates/milestones/{ids.kickoff}/move", {"direction": "down"}),
        (f"/templates/milestones/{ids.kickoff}/delete", {}),
        (f"/templates/milestones/{ids.kickoff}/tasks", task_fields(f"new-task{ids.kickoff}")),
        (f"/templates/tasks/{ids.b}", {**task_fields("task", name="Changed", offset_days="9"),
                                       "task-predecessors": []}),
        (f"/templates/tasks/{ids.b}/move", {"direction": "up"}),
        (f"/templates/tasks/{ids.b}/delete", {}),
        (f"/templates/versions/{ids.version}/criteria", {"new-criterion-outcome": "More"}),
        (f"/templates/criteria/{criterion_id}/move", {"direction": "up"}),
        (f"/templates/criteria/{criterion_id}/delete", {}),
    ]
    for path, data in attempts:
        response = post(as_admin, path, data)
        assert response.status_code == 409, (path, response.status_code)
        assert "published and frozen" in response.get_data(as_text=True)
    assert (state(app, ids.version), counts(app)) == before


def test_a_new_draft_is_edited_and_published_while_the_project_keeps_v1(app, as_admin, admin, make):
    from psa.projects.models import Project, Task
    from psa.projects.services import create_project

    ids = seed(app, admin, publish=True)
    account, manager = make.account(), make.user(role="manager")
    with app.app_context():
        project = create_project(db.session.get(User, admin.id), account=account, name="Globex onboarding",
                                 kickoff_date=date(2026, 11, 2), manager=manager,
                                 template_version=db.session.get(TemplateVersion, ids.version),
                                 fee_amount=Decimal("12000"))
        db.session.commit()
        project_id = project.id

    def project_plan():
        with app.app_context():
            return db.session.execute(sa.select(Task.name, Task.baseline_start_date, Task.start_date, Task.due_date)
                                      .where(Task.project_id == project_id).order_by(Task.id)).all()

    before = project_plan()
    response = post(as_admin, f"/templates/versions/{ids.version}/new-draft")
    assert response.status_code == 302
    with app.app_context():
        draft = db.session.scalar(sa.select(TemplateVersion).where(TemplateVersion.number == 2))
        draft_id = draft.id
        draft_b = db.session.scalar(sa.select(TemplateTask).join(TemplateMilestone).where(
            TemplateMilestone.version_id == draft_id, TemplateTask.name == "B configure")).id
    assert response.headers["Location"] == f"/templates/versions/{draft_id}"
    # a second click opens the same draft
    assert post(as_admin, f"/templates/versions/{ids.version}/new-draft").headers["Location"] == response.headers[
        "Location"]
    assert post(as_admin, f"/templates/tasks/{draft_b}",
                task_fields("task", name="B configure everything", offset_days="7")).status_code == 302
    assert post(as_admin, f"/templates/versions/{draft_id}/publish").status_code == 302

    assert project_plan() == before
    with app.app_context():
        assert db.session.get(Project, project_id).template_version_id == ids.version
    assert [t["name"] for m in state(app, ids.version)["milestones"] for t in m["tasks"]] == [
        "A kickoff call", "B configure", "C train users"]
    assert [t["offset_days"] for m in state(app, draft_id)["milestones"] for t in m["tasks"]] == [0, 7, 10]


# --- 2. predecessors -----------------------------------------------------------------------------


def test_a_cycle_is_refused_at_the_predecessors_field(app, as_admin, admin):
    ids = seed(app, admin)  # A → B → C
    before = state(app, ids.version)
    response = post(as_admin, f"/templates/tasks/{ids.a}", {**a_fields("task"), "task-predecessors": [ids.c]})
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "task-predecessors") == [
        "That would make a cycle: “A kickoff call” → “C train users” → “B configure” → “A kickoff call”."]
    assert state(app, ids.version) == before


def test_a_predecessor_from_another_template_is_refused_at_the_field(app, as_admin, admin):
    ids = seed(app, admin)
    other = seed(app, admin, "Other template")
    before = (state(app, ids.version), state(app, other.version))
    for value in ([ids.a, other.a], ["not-a-number"]):
        response = post(as_admin, f"/templates/tasks/{ids.c}", {**a_fields("task"), "task-predecessors": value})
        assert response.status_code == 400
        errors = field_errors(response.get_data(as_text=True), "task-predecessors")
        assert len(errors) == 1 and ("must be a task of this template version" in errors[0] or
                                     "could not be coerced" in errors[0]), errors
    assert (state(app, ids.version), state(app, other.version)) == before


# --- 3. publishing -------------------------------------------------------------------------------


def test_publish_with_fee_shares_off_100_is_refused_naming_the_total(app, as_admin, admin):
    ids = seed(app, admin)
    assert post(as_admin, f"/templates/milestones/{ids.golive}",
                milestone_fields(f"m{ids.golive}", name="Go-live", offset_days="15", fee_share_percent="50",
                                 is_first_value="y")).status_code == 302
    page = text(as_admin.get(f"/templates/versions/{ids.version}").get_data(as_text=True))
    assert "Fee shares sum to 90.00 %, not 100 %." in page and "Fee shares total 90 % (must be 100 %)" in page
    response = post(as_admin, f"/templates/versions/{ids.version}/publish")
    assert response.status_code == 400
    alert = _ALERT_RE.search(text(response.get_data(as_text=True)))
    assert alert and "Fee shares sum to 90.00 %, not 100 %." in alert.group(1)
    with app.app_context():
        assert db.session.get(TemplateVersion, ids.version).state == "draft"


def test_a_second_first_value_milestone_is_refused_at_the_field(app, as_admin, admin):
    ids = seed(app, admin)
    before = state(app, ids.version)
    response = post(as_admin, f"/templates/milestones/{ids.kickoff}",
                    milestone_fields(f"m{ids.kickoff}", name="Kickoff", offset_days="2", fee_share_percent="40",
                                     is_first_value="y"))
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), f"m{ids.kickoff}-is_first_value") == [
        "“Go-live” is already the first-value milestone."]
    response = post(as_admin, f"/templates/versions/{ids.version}/milestones",
                    milestone_fields("new-milestone", is_first_value="y"))
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "new-milestone-is_first_value") == [
        "“Go-live” is already the first-value milestone."]
    assert state(app, ids.version) == before


# --- 4. bad input on every builder form ----------------------------------------------------------

NOT_A_NUMBER = "Enter a number, like 12.5."
OFFSET = "Enter 0 or more working days."
SHARE = "Enter a percentage from 0 to 100."
BAD_INPUT = [
    # (form, field, value, message)
    ("details", "name", "", "Give the template a name."),
    ("details", "name", "n" * 121, "Use at most 120 characters."),
    ("details", "target_ttv_days", "0", TTV_RANGE),
    ("details", "target_ttv_days", "3651", TTV_RANGE),
    ("details", "target_ttv_days", "soon", "Enter a whole number."),
    ("new_milestone", "name", "", "Give the milestone a name of at most 200 characters."),
    ("new_milestone", "name", "n" * 201, "Give the milestone a name of at most 200 characters."),
    ("new_milestone", "offset_days", "-1", OFFSET),
    ("new_milestone", "offset_days", "", OFFSET),
    ("new_milestone", "offset_days", "two", "Enter a whole number."),
    ("new_milestone", "fee_share_percent", "100.5", SHARE),
    ("new_milestone", "fee_share_percent", "-1", SHARE),
    ("new_milestone", "fee_share_percent", "half", NOT_A_NUMBER),
    ("new_milestone", "fee_share_percent", "NaN", NOT_A_NUMBER),
    ("milestone", "name", "   ", "Give the milestone a name of at most 200 characters."),
    ("milestone", "offset_days", "-4", OFFSET),
    ("milestone", "fee_share_percent", "101", SHARE),
    ("milestone", "fee_share_percent", "1e3", "Enter a number, like 12.5."),
    ("new_task", "name", "", "Give the task a name of at most 200 characters."),
    ("new_task", "name", "n" * 201, "Give the task a name of at most 200 characters."),
    ("new_task", "offset_days", "-1", OFFSET),
    ("new_task", "duration_days", "0", "Enter 1 or more working days."),
    ("new_task", "duration_days", "1.5", "Enter a whole number."),
    ("new_task", "estimated_hours", "lots", NOT_A_NUMBER),
    ("new_task", "estimated_hours", "-1", "Enter 0 to 10,000 hours."),
    ("new_task", "estimated_hours", "1.255", "Use at most 2 decimals, like 1.25."),
    ("new_task", "assignee_role", "wizard", "Choose one of consultant, manager, leader, admin, customer."),
    ("new_task", "visibility", "public", "Choose internal or shared."),
    ("task", "name", "", "Give the task a name of at most 200 characters."),
    ("task", "offset_days", "-2", OFFSET),
    ("task", "duration_days", "0", "Enter 1 or more working days."),
    ("task", "estimated_hours", "Infinity", NOT_A_NUMBER),
    ("task", "assignee_role", "ceo", "Choose one of consultant, manager, leader, admin, customer."),
    ("criterion", "outcome", "", "Describe the outcome in at most 200 characters."),
    ("criterion", "metric", "m" * 201, "Use at most 200 characters."),
    ("criterion", "due_offset_days", "-1", "Enter 0 or more days."),
    ("criterion", "due_offset_days", "later", "Enter a whole number."),
    ("duplicate", "name", "", "Give the template a name."),
    ("duplicate", "name", "STANDARD onboarding", "A template with this name already exists."),
]


def _bad_request(ids, form: str, field: str, value: str):
    """(path, posted data, name of the control that must show the message)."""
    if form == "details":
        prefix, path = "details", f"/templates/versions/{ids.version}/details"
        data = {"details-name": "Standard onboarding", "details-description": "", "details-target_ttv_days": "45",
                "details-notes": ""}
    elif form == "new_milestone":
        prefix, path = "new-milestone", f"/templates/versions/{ids.version}/milestones"
        data = milestone_fields(prefix)
    elif form == "milestone":
        prefix, path = f"m{ids.kickoff}", f"/templates/milestones/{ids.kickoff}"
        data = milestone_fields(prefix, name="Kickoff", offset_days="2", fee_share_percent="40")
    elif form == "new_task":
        prefix, path = f"new-task{ids.golive}", f"/templates/milestones/{ids.golive}/tasks"
        data = task_fields(prefix)
    elif form == "task":
        prefix, path = "task", f"/templates/tasks/{ids.b}"
        data = task_fields(prefix, name="B configure")
    elif form == "criterion":
        prefix, path = "new-criterion", f"/templates/versions/{ids.version}/criteria"
        data = {"new-criterion-outcome": "Fewer tickets"}
    else:
        prefix, path = "duplicate", f"/templates/versions/{ids.version}/duplicate"
        data = {"duplicate-name": "Copy"}
    data[f"{prefix}-{field}"] = value
    return path, data, f"{prefix}-{field}"


@pytest.mark.parametrize(("form", "field", "value", "message"), BAD_INPUT,
                         ids=[f"{f}-{field}-{value[:8]}" for f, field, value, _ in BAD_INPUT])
def test_bad_input_on_every_builder_form_is_shown_at_the_field_and_changes_nothing(
        app, as_admin, admin, form, field, value, message):
    ids = seed(app, admin)
    before = (state(app, ids.version), counts(app))
    path, data, control = _bad_request(ids, form, field, value)
    response = post(as_admin, path, data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert field_errors(page, control) == [message]
    assert f'name="{control}"' in page and "Standard onboarding" in page  # the whole builder again
    assert (state(app, ids.version), counts(app)) == before


def test_a_refused_task_form_keeps_what_was_typed_name_and_predecessors_together(app, as_admin, admin):
    ids = seed(app, admin)
    before = state(app, ids.version)
    response = post(as_admin, f"/templates/tasks/{ids.c}", {
        **task_fields("task", name="Typed name", duration_days="0"), "task-predecessors": [ids.a, ids.b]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'name="task-name"[^>]*value="Typed name"|value="Typed name"[^>]*name="task-name"', page)
    assert re.search(rf'name="task-predecessors"\s+value="{ids.a}" id="[^"]+" checked', page)
    assert re.search(rf'name="task-predecessors"\s+value="{ids.b}" id="[^"]+" checked', page)
    assert state(app, ids.version) == before
    # corrected, the name and the predecessors are saved by the one button
    response = post(as_admin, f"/templates/tasks/{ids.c}", {
        **task_fields("task", name="Typed name"), "task-predecessors": [ids.a, ids.b]})
    assert response.status_code == 302
    task = next(t for m in state(app, ids.version)["milestones"] for t in m["tasks"] if t["name"] == "Typed name")
    assert len(task["predecessors"]) == 2


def test_a_new_task_is_added_with_its_predecessors(app, as_admin, admin):
    ids = seed(app, admin)
    response = post(as_admin, f"/templates/milestones/{ids.golive}/tasks",
                    {**task_fields(f"new-task{ids.golive}", name="Go-live call"),
                     f"new-task{ids.golive}-predecessors": [ids.c]})
    assert response.status_code == 302
    tasks = {t["name"]: t for m in state(app, ids.version)["milestones"] for t in m["tasks"]}
    assert tasks["Go-live call"]["predecessors"] == [tasks["C train users"]["key"]]


def test_a_move_without_a_direction_is_a_bad_request(app, as_admin, admin):
    ids = seed(app, admin)
    assert post(as_admin, f"/templates/tasks/{ids.b}/move", {"direction": "sideways"}).status_code == 400


# --- 5. export and import ------------------------------------------------------------------------


def upload(client, content: bytes, filename="template.json"):
    return post(client, "/templates/import", {"file": (io.BytesIO(content), filename)},
                content_type="multipart/form-data")


def test_export_is_a_json_download(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    response = as_admin.get(f"/templates/versions/{ids.version}/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Standard_onboarding-v1.json"'
    assert json.loads(response.data) == state(app, ids.version)


def test_export_then_import_through_files_loses_nothing(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    exported = as_admin.get(f"/templates/versions/{ids.version}/export.json").data
    original = json.loads(exported)

    # same template name: becomes v2 (a draft) of that template
    response = upload(as_admin, exported)
    assert response.status_code == 302
    with app.app_context():
        v2 = db.session.scalar(sa.select(TemplateVersion).where(TemplateVersion.number == 2))
        v2_id, v2_template = v2.id, v2.template_id
    assert v2_template == ids.template and response.headers["Location"] == f"/templates/versions/{v2_id}"
    again = json.loads(as_admin.get(f"/templates/versions/{v2_id}/export.json").data)
    assert again["version"].pop("number") == 2 and original["version"].pop("number") == 1
    assert again == original

    # another name: a new template
    renamed = json.loads(exported)
    renamed["template"]["name"] = "Imported onboarding"
    response = upload(as_admin, json.dumps(renamed).encode())
    assert response.status_code == 302
    with app.app_context():
        new = db.session.scalar(sa.select(TemplateVersion).join(Template).where(Template.name == "Imported onboarding"))
        new_id = new.id
    assert response.headers["Location"] == f"/templates/versions/{new_id}"
    copied = json.loads(as_admin.get(f"/templates/versions/{new_id}/export.json").data)
    assert copied["template"].pop("name") == "Imported onboarding"
    copied["version"].pop("number")
    original["template"].pop("name")
    assert copied == original


def _file(ids_data: dict, case: str) -> bytes:
    data = json.loads(json.dumps(ids_data))
    data["template"]["name"] = "Fresh import"
    tasks = data["milestones"][0]["tasks"]
    if case == "not json":
        return b"milestones: [Kickoff]\n"
    if case == "not utf-8":
        return b"\xff\xfe\x00{"
    if case == "wrong format":
        data["format"] = "trello-board"
    elif case == "unknown predecessor":
        tasks[1]["predecessors"] = ["t42"]
    elif case == "cycle":
        tasks[0]["predecessors"] = ["t3"]
    return json.dumps(data).encode()


@pytest.mark.parametrize(("case", "message"), [
    ("not json", "This file is not valid JSON. Choose a file exported from PSA."),
    ("not utf-8", "This file is not valid JSON. Choose a file exported from PSA."),
    ("wrong format", 'This is not a PSA template export (its "format" is not psa-template).'),
    ("unknown predecessor", "The file has a problem: “B configure” names unknown predecessors ['t42']"),
    ("cycle", "The file has a problem: cycle A kickoff call → C train users → B configure → A kickoff call"),
])
def test_a_broken_file_is_refused_at_the_file_field_and_creates_nothing(app, as_admin, admin, case, message):
    ids = seed(app, admin, publish=True)
    before = counts(app)
    response = upload(as_admin, _file(state(app, ids.version), case))
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "file") == [message]
    assert counts(app) == before


def test_the_import_form_needs_a_file(as_admin):
    response = post(as_admin, "/templates/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "file") == ["Choose a JSON file exported from PSA."]


# --- 6. duplicate, reorder, delete ---------------------------------------------------------------


def test_duplicate_makes_a_new_template_with_the_same_content(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    response = post(as_admin, f"/templates/versions/{ids.version}/duplicate", {"duplicate-name": "Premium onboarding"})
    assert response.status_code == 302
    with app.app_context():
        copy = db.session.scalar(sa.select(TemplateVersion).join(Template).where(Template.name == "Premium onboarding"))
        copy_id = copy.id
    assert response.headers["Location"] == f"/templates/versions/{copy_id}"
    original, copied = state(app, ids.version), state(app, copy_id)
    assert copied["template"]["name"] == "Premium onboarding"
    for data in (original, copied):
        data["template"].pop("name")
    assert copied == original


def test_reorder_moves_milestones_tasks_and_criteria(app, as_admin, admin):
    ids = seed(app, admin)
    with app.app_context():
        s.add_criterion(db.session.get(User, admin.id), db.session.get(TemplateVersion, ids.version),
                        outcome="Fewer tickets")
        db.session.commit()
        criterion_id = db.session.scalar(sa.select(TemplateCriterion.id).where(
            TemplateCriterion.outcome == "Fewer tickets"))
    response = post(as_admin, f"/templates/milestones/{ids.golive}/move", {"direction": "up"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#milestone-{ids.golive}")
    response = post(as_admin, f"/templates/tasks/{ids.a}/move", {"direction": "down"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#task-{ids.a}")
    assert post(as_admin, f"/templates/criteria/{criterion_id}/move", {"direction": "up"}).status_code == 302
    data = state(app, ids.version)
    assert [m["name"] for m in data["milestones"]] == ["Go-live", "Kickoff"]
    assert [t["name"] for t in data["milestones"][1]["tasks"]] == ["B configure", "A kickoff call"]
    assert [c["outcome"] for c in data["criteria"]] == ["Fewer tickets", "Faster month-end close"]
    page = as_admin.get(f"/templates/versions/{ids.version}").get_data(as_text=True)
    assert page.index("Go-live") < page.index("Kickoff")


def test_delete_removes_a_task_a_milestone_and_a_criterion(app, as_admin, admin):
    ids = seed(app, admin)
    with app.app_context():
        criterion_id = db.session.scalar(sa.select(TemplateCriterion.id))
    assert post(as_admin, f"/templates/tasks/{ids.b}/delete").status_code == 302
    data = state(app, ids.version)
    assert [t["name"] for m in data["milestones"] for t in m["tasks"]] == ["A kickoff call", "C train users"]
    assert all(t["predecessors"] == [] for m in data["milestones"] for t in m["tasks"])
    assert post(as_admin, f"/templates/milestones/{ids.kickoff}/delete").status_code == 302
    assert post(as_admin, f"/templates/criteria/{criterion_id}/delete").status_code == 302
    data = state(app, ids.version)
    assert [m["name"] for m in data["milestones"]] == ["Go-live"] and data["criteria"] == []


def test_builder_pages_have_no_inline_script_or_style(app, as_admin, admin):
    ids = seed(app, admin)
    published = seed(app, admin, "Published", publish=True)
    for path in ("/templates/", "/templates/new", "/templates/import", f"/templates/versions/{ids.version}",
                 f"/templates/versions/{published.version}"):
        page = as_admin.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert " style=" not in page and "<style" not in page, path
