"""The API's templates, projects, milestones and tasks (psa/api/projects.py): the project pages' object rules (404
for a project one may not see, 403 to change the details of one seen but not managed), the same services as the
pages (compared with the pages' own results), cursor pages, filters, constant statements per page, refusals at
their fields and Idempotency-Key replay. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from psa.core.audit import AuditEvent
from psa.extensions import db
from psa.projects.models import Milestone, Project, Task
from tests.conftest import login_as, post_form
from tests.projects.helpers import ONBOARDING, build_template, create_project, grid

BIG = 2**63
KICKOFF = date(2030, 1, 7)
#: ONBOARDING with a customer task, so the role mapping has a contact to give.
WITH_CUSTOMER = [*grid(2, 3), {"name": "Customer side", "offset_days": 12, "fee_share_percent": 0, "tasks": [
    {"name": "Share SSO details", "offset_days": 11, "duration_days": 1, "assignee_role": "customer",
     "visibility": "shared"}]}]


@pytest.fixture
def team(app, make):
    mia = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    carl = make.user(role="consultant", name="Carl Consultant")
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe")
    return {"mia": mia, "cleo": cleo, "carl": carl, "account": account, "dana": dana}


def _all_pages(client, path: str, limit: int = 2) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        response = client.get(f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def _fields(response) -> dict:
    assert response.status_code == 422, (response.status_code, response.get_json())
    return response.get_json()["error"]["fields"]


# --- templates ---------------------------------------------------------------------------------------------------


def test_templates_list_published_versions_and_drafts_only_to_their_builders(app, api, make):
    from psa.project_templates import services as templates

    version_id = build_template(app, ONBOARDING)
    with app.app_context():
        draft = templates.create_template(None, name="Unfinished")
        db.session.commit()
        draft_template_id = draft.template_id
    consultant, leader = api(make.user(role="consultant")), api(make.user(role="leader"))
    seen = consultant.get("/api/v1/templates").get_json()["items"]
    assert [(t["version_id"], t["version_state"], t["published_version_id"]) for t in seen] == [
        (version_id, "published", version_id)]
    assert consultant.get(f"/api/v1/templates/{draft_template_id}").status_code == 404
    assert {t["version_state"] for t in leader.get("/api/v1/templates").get_json()["items"]} == {"published", "draft"}
    assert leader.get(f"/api/v1/templates/{draft_template_id}").get_json()["milestones"] == []

    detail = consultant.get(f"/api/v1/templates/{seen[0]['id']}").get_json()
    assert detail["roles"] == ["consultant", "manager"]
    assert [(m["name"], [t["name"] for t in m["tasks"]]) for m in detail["milestones"]] == [
        ("Kickoff", ["Kickoff call", "Configure"]), ("Go-live", ["Train users", "Go live"])]
    configure = detail["milestones"][0]["tasks"][1]
    assert configure["predecessor_ids"] == [detail["milestones"][0]["tasks"][0]["id"]]
    assert (configure["duration_days"], configure["estimated_minutes"]) == (3, 600)
    assert consultant.get(f"/api/v1/templates/{BIG}").status_code == 404


# --- projects: reading and who sees what ---------------------------------------------------------------------------


def test_projects_are_paged_by_cursor_and_filtered(app, api, make, team):
    version_id = build_template(app, ONBOARDING)
    other_manager = make.user(role="manager")
    other_account = make.account()
    ids = [create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF)["id"] for _ in range(3)]
    ids.append(create_project(app, version_id, other_manager.id, team["account"].id, KICKOFF, status="planned")["id"])
    ids.append(create_project(app, version_id, team["mia"].id, other_account.id, KICKOFF)["id"])
    with app.app_context():  # a hand-set health, as the schedule would store it
        db.session.execute(sa.update(Project).where(Project.id == ids[1]).values(health="red"))
        db.session.commit()
    client = api(make.user(role="leader"))
    assert _all_pages(client, "/api/v1/projects") == [ids[0:2], ids[2:4], ids[4:5]]
    assert _all_pages(client, "/api/v1/projects?status=planned") == [[ids[3]]]
    assert _all_pages(client, f"/api/v1/projects?account_id={other_account.id}") == [[ids[4]]]
    assert _all_pages(client, f"/api/v1/projects?manager_id={other_manager.id}") == [[ids[3]]]
    assert _all_pages(client, "/api/v1/projects?health=red") == [[ids[1]]]
    assert _all_pages(client, f"/api/v1/projects?account_id={team['account'].id}&manager_id={team['mia'].id}",
                      limit=1) == [[ids[0]], [ids[1]], [ids[2]]]
    for bad in ("status=done", "health=blue", "account_id=x", f"manager_id={BIG}", "limit=0", "limit=201",
                "cursor=nonsense"):
        assert _fields(client.get(f"/api/v1/projects?{bad}")), bad


def test_a_consultant_sees_only_their_projects_and_404_for_the_others(app, api, make, team):
    version_id = build_template(app, ONBOARDING)
    theirs = create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF, member_ids=(team["cleo"].id,))
    other = create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF)
    cleo = api(team["cleo"])
    assert [p["id"] for p in cleo.get("/api/v1/projects").get_json()["items"]] == [theirs["id"]]
    assert cleo.get(f"/api/v1/projects/{theirs['id']}").status_code == 200
    hidden_task, hidden_milestone = other["tasks"]["Configure"], other["milestones"]["Kickoff"]
    for path in (f"/api/v1/projects/{other['id']}", f"/api/v1/projects/{other['id']}/tasks",
                 f"/api/v1/projects/{other['id']}/milestones", f"/api/v1/tasks/{hidden_task}",
                 f"/api/v1/milestones/{hidden_milestone}", "/api/v1/projects/999999", f"/api/v1/projects/{BIG}",
                 f"/api/v1/tasks/{BIG}", f"/api/v1/milestones/{BIG}"):
        response = cleo.get(path)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", path
    refused = cleo.patch(f"/api/v1/tasks/{hidden_task}", json={"status": "done"})
    assert refused.status_code == 404
    assert cleo.patch(f"/api/v1/milestones/{hidden_milestone}", json={"due_date": "2030-02-01"}).status_code == 404
    # the details of a project they see are the manager's to change, as on the edit page
    assert cleo.patch(f"/api/v1/projects/{theirs['id']}", json={"name": "Mine now"}).status_code == 403
    assert cleo.post("/api/v1/projects", json={}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(Task.status).where(Task.id == hidden_task)) == "todo"
        assert db.session.scalar(sa.select(Project.name).where(Project.id == theirs["id"])) != "Mine now"


def test_a_manager_who_is_only_a_member_may_not_change_the_details(app, api, make, team):
    other_manager = make.user(role="manager")
    project = create_project(app, None, team["mia"].id, team["account"].id, KICKOFF, member_ids=(other_manager.id,))
    response = api(other_manager).patch(f"/api/v1/projects/{project['id']}", json={"name": "Renamed"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_a_consultant_reads_health_progress_dates_budget_and_fee_as_the_project_page_shows_them(app, api, client,
                                                                                             team):
    version_id = build_template(app, ONBOARDING)
    project = create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF,
                             member_ids=(team["cleo"].id,))
    body = api(team["cleo"]).get(f"/api/v1/projects/{project['id']}").get_json()
    login_as(client, team["cleo"])
    page = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert "10,000.00" in page and "24" in page  # the page shows the fee and the budget to the consultant
    assert (body["fee_amount"], body["budget_minutes"], body["billing_model"]) == ("10000.00", 24 * 60, "fixed_fee")
    assert (body["kickoff_date"], body["target_go_live_date"]) == ("2030-01-07", "2030-01-21")
    assert body["health"] == "green" and body["health_reason"] and body["progress_percent"] == 0
    assert body["manager_name"] == "Mia Manager" and body["account_name"] == "Contoso"
    assert [m["name"] for m in body["members"]] == ["Cleo Consultant", "Mia Manager"]
    assert not any("rate" in key for key in body)


# --- creating a project --------------------------------------------------------------------------------------------


def _assignees(app, project_id: int) -> dict[str, tuple]:
    with app.app_context():
        return {row.name: (row.assignee_id, row.assignee_contact_id, row.start_date, row.due_date) for row in
                db.session.execute(sa.select(Task.name, Task.assignee_id, Task.assignee_contact_id, Task.start_date,
                                             Task.due_date).where(Task.project_id == project_id))}


def test_create_from_a_template_maps_roles_as_the_page_does(app, api, client, team):
    version_id = build_template(app, WITH_CUSTOMER)
    mia, cleo, carl, dana = team["mia"], team["cleo"], team["carl"], team["dana"]
    login_as(client, mia)
    page = post_form(client, "/projects/new", {
        "account_id": team["account"].id, "template_version_id": version_id, "name": "By the page",
        "kickoff_date": "2030-01-07", "contract_signed_date": "", "target_go_live_date": "", "manager_id": mia.id,
        "member_ids": [cleo.id, carl.id], "billing_model": "fixed_fee", "fee_amount": "1000", "budget_hours": "",
        "assign_consultant": carl.id, "assign_customer": dana.id})
    assert page.status_code == 302, page.get_data(as_text=True)[-2000:]
    with app.app_context():
        page_id = db.session.scalar(sa.select(Project.id).where(Project.name == "By the page"))
        template_id = db.session.scalar(sa.text("SELECT template_id FROM template_versions WHERE id = :v"),
                                        {"v": version_id})

    response = api(mia).post("/api/v1/projects", json={
        "template_id": template_id, "account_id": team["account"].id, "name": "By the API",
        "kickoff_date": "2030-01-07", "manager_id": mia.id, "member_ids": [cleo.id, carl.id], "fee_amount": "1000",
        "role_assignees": {"consultant": carl.id, "customer": dana.id}})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["template_version_id"], body["fee_amount"], body["target_go_live_date"]) == (version_id, "1000.00",
                                                                                            "2030-01-23")
    assert sorted(m["id"] for m in body["members"]) == sorted([mia.id, cleo.id, carl.id])
    by_api = _assignees(app, body["id"])
    assert by_api == _assignees(app, page_id)
    assert {by_api[f"Task {m}.1"][0] for m in (1, 2)} == {mia.id}  # the manager's tasks
    assert {by_api[f"Task {m}.{t}"][0] for m in (1, 2) for t in (2, 3)} == {carl.id}  # the one chosen
    assert by_api["Share SSO details"][:2] == (None, dana.id)  # the customer's task to the contact

    tasks = api(mia).get(f"/api/v1/projects/{body['id']}/tasks?assignee_id={carl.id}").get_json()["items"]
    assert sorted(t["name"] for t in tasks) == ["Task 1.2", "Task 1.3", "Task 2.2", "Task 2.3"]
    assert {t["assignee_name"] for t in tasks} == {"Carl Consultant"}


def test_a_blank_project_and_its_defaults(api, team):
    response = api(team["mia"]).post("/api/v1/projects", json={
        "account_id": team["account"].id, "name": "Blank", "kickoff_date": "2030-03-04", "manager_id": team["mia"].id,
        "billing_model": "time_and_materials"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["template_version_id"], body["target_go_live_date"], body["fee_amount"], body["status"]) == (
        None, "2030-03-04", None, "active")
    assert api(team["mia"]).get(f"/api/v1/projects/{body['id']}/tasks").get_json() == {"items": [],
                                                                                        "next_cursor": None}


def test_bad_input_to_create_a_project_is_refused_at_its_field_and_creates_nothing(app, api, make, team):
    from psa.project_templates import services as templates

    version_id = build_template(app, ONBOARDING)
    with app.app_context():
        template_id = db.session.scalar(sa.text("SELECT template_id FROM template_versions WHERE id = :v"),
                                        {"v": version_id})
        draft_only = templates.create_template(None, name="Draft only").template_id
        db.session.commit()
    outsider = make.user(role="consultant")
    gone = make.user(role="consultant", is_active_user=False)
    stranger = make.contact()  # another account's contact
    good = {"template_id": template_id, "account_id": team["account"].id, "name": "Rollout",
            "kickoff_date": "2030-01-07", "manager_id": team["mia"].id, "member_ids": [team["cleo"].id],
            "fee_amount": "1000"}
    cases = [
        ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": 12}, "name"), ({"name": "x" * 201}, "name"),
        ({"name": "Nul\x00"}, "name"),
        ({"kickoff_date": "2150-01-01"}, "kickoff_date"), ({"kickoff_date": "1999-12-31"}, "kickoff_date"),
        ({"kickoff_date": "07/01/2030"}, "kickoff_date"), ({"kickoff_date": 20300107}, "kickoff_date"),
        ({"target_go_live_date": "2100-01-01"}, "target_go_live_date"),
        ({"target_go_live_date": "2029-01-01"}, "target_go_live_date"),
        ({"contract_signed_date": "2030-02-01"}, "contract_signed_date"),
        ({"account_id": 999999}, "account_id"), ({"account_id": "Contoso"}, "account_id"),
        ({"account_id": BIG}, "account_id"),
        ({"manager_id": 999999}, "manager_id"), ({"manager_id": team["cleo"].id}, "manager_id"),
        ({"template_id": 999999}, "template_id"), ({"template_id": draft_only}, "template_id"),
        ({"member_ids": [999999]}, "member_ids"), ({"member_ids": [gone.id]}, "member_ids"),
        ({"member_ids": "all"}, "member_ids"),
        ({"billing_model": "barter"}, "billing_model"), ({"fee_amount": "1e4"}, "fee_amount"),
        ({"fee_amount": "NaN"}, "fee_amount"), ({"fee_amount": None}, "fee_amount"),
        ({"budget_minutes": -60}, "budget_minutes"), ({"budget_minutes": BIG}, "budget_minutes"),
        ({"status": "done"}, "status"),
        ({"role_assignees": {"consultant": outsider.id}}, "role_assignees.consultant"),
        ({"role_assignees": {"consultant": 999999}}, "role_assignees.consultant"),
        ({"role_assignees": {"customer": stranger.id}}, "role_assignees.customer"),
        ({"role_assignees": {"customer": 999999}}, "role_assignees.customer"),
        ({"role_assignees": {"wizard": team["cleo"].id}}, "role_assignees.wizard"),
        ({"colour": "red"}, "colour"),
    ]
    client = api(team["mia"])
    for change, field in cases:
        fields = _fields(client.post("/api/v1/projects", json={**good, **change}))
        assert any(name == field or name.startswith(field + ".") for name in fields), (change, fields)
    assert client.post("/api/v1/projects", json=[1, 2]).status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 0
    assert client.post("/api/v1/projects", json=good).status_code == 201


def test_the_same_idempotency_key_makes_one_project_and_answers_the_same(app, api, team):
    client = api(team["mia"])
    body = {"account_id": team["account"].id, "name": "Once", "kickoff_date": "2030-01-07",
            "manager_id": team["mia"].id, "fee_amount": "500"}
    first = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "create-once"})
    again = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "create-once"})
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = client.post("/api/v1/projects", json={**body, "name": "Twice"}, headers={"Idempotency-Key": "create-once"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    # a refused request leaves its key free for the corrected one
    refused = client.post("/api/v1/projects", json={**body, "name": ""}, headers={"Idempotency-Key": "fix-me"})
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalars(sa.select(Project.name)).all() == ["Once"]


# --- changing a project ------------------------------------------------------------------------------------------


def test_patch_a_project_changes_what_is_sent_through_the_edit_pages_service(app, api, team):
    project = create_project(app, build_template(app, ONBOARDING), team["mia"].id, team["account"].id, KICKOFF,
                             member_ids=(team["cleo"].id,))
    client = api(team["mia"])
    response = client.patch(f"/api/v1/projects/{project['id']}",
                            json={"name": "Renamed", "status": "on_hold", "member_ids": [team["carl"].id],
                                  "budget_minutes": 600})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["status"], body["budget_minutes"], body["fee_amount"]) == ("Renamed", "on_hold", 600,
                                                                                          "10000.00")
    assert [m["name"] for m in body["members"]] == ["Carl Consultant", "Mia Manager"]
    assert body["target_go_live_date"] == "2030-01-21"  # kept
    for change, field in (({"name": ""}, "name"), ({"kickoff_date": "2101-01-01"}, "kickoff_date"),
                          ({"billing_model": "non_billable"}, "fee_amount"), ({"manager_id": None}, "manager_id"),
                          ({"account_id": 999999}, "account_id"), ({"status": None}, "status")):
        assert field in _fields(client.patch(f"/api/v1/projects/{project['id']}", json=change)), change
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "project")
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["project.created", "project.updated"]


# --- milestones and tasks ----------------------------------------------------------------------------------------


def _state(app, project_id: int) -> dict:
    """What a change leaves: each task's and milestone's state by name, the project's figures, and the audit trail
    of the plan (action, object name) in order."""
    with app.app_context():
        tasks = db.session.execute(sa.select(Task).where(Task.project_id == project_id)).scalars().all()
        milestones = db.session.execute(sa.select(Milestone).where(Milestone.project_id == project_id)).scalars().all()
        project = db.session.get(Project, project_id)
        names = {("task", t.id): t.name for t in tasks} | {("milestone", m.id): m.name for m in milestones}
        trail = [(e.action, names[(e.object_type, e.object_id)]) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.object_type.in_(("task", "milestone"))).order_by(AuditEvent.id))
            if (e.object_type, e.object_id) in names]
        return {
            "tasks": {t.name: (t.status, t.start_date, t.due_date, t.forecast_date, t.assignee_id, t.blocked_reason,
                               t.completed_at is not None) for t in tasks},
            "milestones": {m.name: (m.status, m.due_date, m.forecast_date, m.slip_days) for m in milestones},
            "project": (project.health, project.health_reason, project.progress_percent, project.max_slip_days),
            "trail": trail,
        }


def test_task_changes_do_what_the_pages_do(app, api, client, team):
    version_id = build_template(app, ONBOARDING)
    by_page = create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF,
                             member_ids=(team["cleo"].id,))
    by_api = create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF,
                            member_ids=(team["cleo"].id,))
    login_as(client, team["mia"])
    page_url = f"/projects/{by_page['id']}"
    done = post_form(client, f"/projects/tasks/{by_page['tasks']['Kickoff call']}/quick", {"action": "done"},
                     token_from=page_url)
    assert done.status_code == 302
    configure = by_page["tasks"]["Configure"]
    prefix = f"task-{configure}"
    moved = post_form(client, f"/projects/tasks/{configure}", {
        f"{prefix}-status": "in_progress", f"{prefix}-due_date": "2030-01-15", f"{prefix}-assignee_id": team["cleo"].id,
        f"{prefix}-blocked_reason": "", f"{prefix}-shift_successors": "y"}, token_from=page_url)
    assert moved.status_code == 302
    blocked = post_form(client, f"/projects/tasks/{by_page['tasks']['Train users']}/quick",
                        {"action": "block", "blocked_reason": "Waiting for SSO"}, token_from=page_url)
    assert blocked.status_code == 302

    mia = api(team["mia"])
    response = mia.patch(f"/api/v1/tasks/{by_api['tasks']['Kickoff call']}", json={"status": "done"})
    assert response.status_code == 200 and response.get_json()["status"] == "done"
    response = mia.patch(f"/api/v1/tasks/{by_api['tasks']['Configure']}",
                         json={"status": "in_progress", "due_date": "2030-01-15"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert sorted(body["moved_task_ids"]) == sorted([by_api["tasks"]["Train users"], by_api["tasks"]["Go live"]])
    assert body["summary"].startswith("2 following tasks moved 3 working days later")
    response = mia.patch(f"/api/v1/tasks/{by_api['tasks']['Train users']}",
                         json={"status": "blocked", "blocked_reason": "Waiting for SSO"})
    assert response.status_code == 200
    # the same tasks, milestones, health and audit trail (object for object, in order) as the pages left
    page_state, api_state = _state(app, by_page["id"]), _state(app, by_api["id"])
    assert api_state == page_state
    assert ("task.shifted", "Go live") in api_state["trail"] and api_state["tasks"]["Go live"][2] == date(2030, 1, 24)

    listed = mia.get(f"/api/v1/projects/{by_api['id']}/tasks?status=blocked").get_json()["items"]
    assert [(t["name"], t["blocked_reason"]) for t in listed] == [("Train users", "Waiting for SSO")]


def test_task_refusals_are_the_services_at_their_fields(app, api, make, team):
    project = create_project(app, build_template(app, ONBOARDING), team["mia"].id, team["account"].id, KICKOFF,
                             member_ids=(team["cleo"].id,))
    outsider = make.user(role="consultant")
    task = project["tasks"]["Configure"]
    client = api(team["mia"])
    cases = [({"status": "blocked"}, "blocked_reason"), ({"status": "finished"}, "status"),
             ({"due_date": "2030-01-01"}, "due_date"), ({"due_date": "2100-01-01"}, "due_date"),
             ({"due_date": "tomorrow"}, "due_date"), ({"assignee_id": outsider.id}, "assignee_id"),
             ({"assignee_id": 999999}, "assignee_id"), ({"assignee_id": BIG}, "assignee_id"),
             ({"assignee_contact_id": team["dana"].id}, "assignee_contact_id"),
             ({"blocked_reason": "x" * 501, "status": "blocked"}, "blocked_reason"), ({"priority": 1}, "priority")]
    for change, field in cases:
        assert field in _fields(client.patch(f"/api/v1/tasks/{task}", json=change)), change
    before = _state(app, project["id"])
    assign = client.patch(f"/api/v1/tasks/{task}", json={"assignee_id": team["mia"].id})
    assert assign.status_code == 200 and assign.get_json()["assignee_name"] == "Mia Manager"
    unassign = client.patch(f"/api/v1/tasks/{task}", json={"assignee_id": None})
    assert unassign.status_code == 200 and unassign.get_json()["assignee_id"] is None
    assert _state(app, project["id"])["tasks"]["Go live"] == before["tasks"]["Go live"]


def test_milestones_are_listed_and_changed_as_on_the_project_page(app, api, team):
    project = create_project(app, build_template(app, ONBOARDING), team["mia"].id, team["account"].id, KICKOFF)
    blank = create_project(app, None, team["mia"].id, team["account"].id, KICKOFF)
    client = api(team["mia"])
    listed = client.get(f"/api/v1/projects/{project['id']}/milestones").get_json()["items"]
    assert [(m["name"], m["due_date"], m["fee_share_percent"]) for m in listed] == [
        ("Kickoff", "2030-01-10", "50.00"), ("Go-live", "2030-01-21", "50.00")]
    kickoff = project["milestones"]["Kickoff"]
    moved = client.patch(f"/api/v1/milestones/{kickoff}", json={"due_date": "2030-01-09"})
    assert moved.status_code == 200 and moved.get_json()["due_date"] == "2030-01-09"
    assert moved.get_json()["baseline_due_date"] == "2030-01-10"
    assert "status" in _fields(client.patch(f"/api/v1/milestones/{kickoff}", json={"status": "done"}))
    assert "due_date" in _fields(client.patch(f"/api/v1/milestones/{kickoff}", json={"due_date": "1999-01-01"}))
    with app.app_context():
        from psa.projects import services

        loaded = db.session.get(Project, blank["id"])
        milestone_id = services.add_milestone_to_project(None, loaded, name="Sign-off", due_date=date(2030, 2, 1)).id
        db.session.commit()
    done = client.patch(f"/api/v1/milestones/{milestone_id}", json={"status": "done"})
    assert done.status_code == 200 and done.get_json()["status"] == "done" and done.get_json()["completed_at"]
    assert client.get(f"/api/v1/milestones/{milestone_id}").get_json()["status"] == "done"


# --- statements per page -----------------------------------------------------------------------------------------


def test_lists_run_as_many_statements_for_30_rows_as_for_3(app, api, make, team, count_queries):
    version_id = build_template(app, grid(1, 3))
    admin = api(make.user(role="admin"))
    consultant = api(team["cleo"])
    admin.get("/api/v1/me")
    consultant.get("/api/v1/me")  # each token's first use is recorded once: measure after it

    def statements(client, path) -> int:
        with count_queries() as seen:
            response = client.get(path)
        assert response.status_code == 200 and len(response.get_json()["items"]) in (3, 30)
        return len(seen)

    def measure(project_id: int) -> list[int]:
        return [statements(admin, "/api/v1/projects?limit=200"), statements(consultant, "/api/v1/projects?limit=200"),
                statements(admin, "/api/v1/templates?limit=200"),
                statements(admin, f"/api/v1/projects/{project_id}/tasks?limit=200"),
                statements(admin, f"/api/v1/projects/{project_id}/milestones?limit=200")]

    small = create_project(app, build_template(app, grid(3, 1)), team["mia"].id, team["account"].id, KICKOFF,
                           member_ids=(team["cleo"].id,))
    for _ in range(2):
        create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF, member_ids=(team["cleo"].id,))
    build_template(app, grid(1, 1))
    three = measure(small["id"])
    large = create_project(app, build_template(app, grid(30, 1)), team["mia"].id, team["account"].id, KICKOFF,
                           member_ids=(team["cleo"].id,))
    for _ in range(26):
        create_project(app, version_id, team["mia"].id, team["account"].id, KICKOFF, member_ids=(team["cleo"].id,))
    for _ in range(26):
        build_template(app, grid(1, 1))
    assert measure(large["id"]) == three
