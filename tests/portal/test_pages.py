"""The portal's pages and actions for a contact: what each view level lists, completing a customer task,
commenting, uploading (type by content), signing off (once, only where required), rating (once), downloads,
and "view as customer" (read only, audited)."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa

from psa.core.models import AuditEvent, Notification
from psa.extensions import db
from psa.projects.models import Attachment, Comment, Milestone, MilestoneRating, Task
from tests.conftest import csrf_token, login_as
from tests.portal.helpers import login_contact
from tests.portal.world import PDF, world


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, path
    return match.group(1)


def _post(client, path, data=None, page="/portal/", **kwargs):
    return client.post(path, data={"csrf_token": _token(client, page), **(data or {})}, **kwargs)


def test_home_lists_the_accounts_projects_and_what_waits_on_the_contact(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    html = client.get("/portal/").get_data(as_text=True)
    assert "Rollout" in html and "Go-live" in html  # the next milestone
    assert "Send the user list" in html and "Approve the design" in html  # the group's task and Fran's own
    assert "OTHER-ACCOUNT" not in html and "CANCELLED-PROJECT" not in html


def test_home_without_projects_says_so(app, client, make):
    contact = make.contact()
    login_contact(app, client, contact)
    html = client.get("/portal/").get_data(as_text=True)
    assert "No projects yet" in html and "Nothing is waiting on you" in html


def test_each_view_level_lists_its_tasks(app, client, make):
    w = world(app, make)
    page = f"/portal/projects/{w['a']['project']}"
    login_contact(app, client, w["full"])
    full = client.get(page).get_data(as_text=True)
    assert "Configure SSO" in full and "Send the user list" in full and "Approve the design" in full
    client2 = app.test_client()
    login_contact(app, client2, w["mine"])
    mine = client2.get(page).get_data(as_text=True)
    assert "Configure SSO" not in mine and "Send the user list" in mine and "Approve the design" not in mine
    client3 = app.test_client()
    login_contact(app, client3, w["overview"])
    overview = client3.get(page).get_data(as_text=True)
    assert "Configure SSO" not in overview and "Send the user list" in overview
    assert "Kickoff call" not in overview  # done and not theirs


def test_a_contact_completes_a_customer_task_of_theirs_or_the_groups_only(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["mine"])
    page = f"/portal/projects/{w['a']['project']}"
    # Fran's own task is not Mo's to complete (nor visible at my_tasks): 404
    assert _post(client, f"/portal/tasks/{w['a']['task_other']}/complete", page=page).status_code == 404
    # an internal team task shared with the customer is not the customer's to complete
    client_full = app.test_client()
    login_contact(app, client_full, w["full"])
    response = _post(client_full, f"/portal/tasks/{w['a']['task_shared']}/complete", page=page)
    assert response.status_code == 302
    # the group's task: done, audited, the manager told
    response = _post(client, f"/portal/tasks/{w['a']['task_group']}/complete", page=page)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Task, w["a"]["task_shared"]).status == "todo"
        task = db.session.get(Task, w["a"]["task_group"])
        assert task.status == "done" and task.completed_at is not None
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "portal.task_completed"))
        assert event.actor_contact_id == w["mine"].id and event.actor_id is None
        assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
            Notification.user_id == w["manager"].id, Notification.message.contains("completed Send the user list")))
    # a second click changes nothing more
    again = _post(client, f"/portal/tasks/{w['a']['task_group']}/complete", page=page)
    assert again.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "portal.task_completed")) == 1


def test_a_comment_is_shared_and_carries_its_contact(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    page = f"/portal/projects/{w['a']['project']}"
    response = _post(client, f"{page}/comments", {"body": "When is training?"}, page=page)
    assert response.status_code == 302
    with app.app_context():
        comment = db.session.scalar(sa.select(Comment).where(Comment.body == "When is training?"))
        assert comment.visibility == "shared" and comment.author_contact_id == w["full"].id
        assert comment.author_id is None
    html = client.get(page).get_data(as_text=True)
    assert "When is training?" in html and "Fran Full" in html
    empty = _post(client, f"{page}/comments", {"body": "  "}, page=page)
    assert empty.status_code == 400 and "Write something first." in empty.get_data(as_text=True)


def test_uploads_are_checked_by_content(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    page = f"/portal/projects/{w['a']['project']}"
    fake = _post(client, f"{page}/attachments", {"file": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "report.pdf")},
                 page=page, content_type="multipart/form-data")
    assert fake.status_code == 400 and "not a .pdf file" in fake.get_data(as_text=True)
    good = _post(client, f"{page}/attachments", {"file": (io.BytesIO(PDF), "signed.pdf")}, page=page,
                 content_type="multipart/form-data")
    assert good.status_code == 302
    with app.app_context():
        attachment = db.session.scalar(sa.select(Attachment).where(Attachment.original_name == "signed.pdf"))
        assert attachment.visibility == "shared" and attachment.uploaded_by_contact_id == w["full"].id
        assert attachment.uploaded_by_id is None
        assert db.session.scalar(sa.select(sa.func.count(Attachment.id)).where(
            Attachment.original_name == "report.pdf")) == 0
    download = client.get(f"/portal/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_sign_off_once_only_where_required(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    page = f"/portal/projects/{w['a']['project']}"
    done, open_ = w["a"]["milestone_done"], w["a"]["milestone_open"]
    assert _post(client, f"/portal/milestones/{done}/sign-off", page=page).status_code == 302
    with app.app_context():
        milestone = db.session.get(Milestone, done)
        assert milestone.signed_off_at is not None and milestone.signed_off_by_contact_id == w["full"].id
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "milestone.signed_off"))
        first = milestone.signed_off_at
    assert "Signed off by Fran Full" in client.get(page).get_data(as_text=True)
    # a second sign-off changes nothing
    _post(client, f"/portal/milestones/{done}/sign-off", page=page)
    with app.app_context():
        assert db.session.get(Milestone, done).signed_off_at == first
    # an open milestone cannot be signed off yet
    _post(client, f"/portal/milestones/{open_}/sign-off", page=page)
    with app.app_context():
        assert db.session.get(Milestone, open_).signed_off_at is None
        db.session.execute(sa.update(Milestone).where(Milestone.id == done).values(requires_signoff=False,
                                                                                   signed_off_at=None))
        db.session.commit()
    # not required: 404, as for a missing milestone
    assert _post(client, f"/portal/milestones/{done}/sign-off", page=page).status_code == 404
    # another account's, and a hidden one: 404
    assert _post(client, f"/portal/milestones/{w['b']['milestone_done']}/sign-off", page=page).status_code == 404
    assert _post(client, f"/portal/milestones/{w['a']['milestone_hidden']}/sign-off", page=page).status_code == 404
    # a project the contact cannot see (cancelled)
    assert _post(client, f"/portal/milestones/{w['cancelled']['milestone_done']}/sign-off",
                 page=page).status_code == 404


def test_csat_once_per_contact_and_milestone(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    page = f"/portal/projects/{w['a']['project']}"
    done = w["a"]["milestone_done"]
    bad = _post(client, f"/portal/milestones/{done}/rating", {"score": "9"}, page=page)
    assert bad.status_code == 400 and "from 1 to 5" in bad.get_data(as_text=True)
    assert _post(client, f"/portal/milestones/{done}/rating", {"score": "4", "comment": "Smooth"},
                 page=page).status_code == 302
    second = _post(client, f"/portal/milestones/{done}/rating", {"score": "1"}, page=page, follow_redirects=True)
    assert "already rated" in second.get_data(as_text=True)
    with app.app_context():
        ratings = db.session.scalars(sa.select(MilestoneRating)).all()
        assert [(r.score, r.comment, r.contact_id) for r in ratings] == [(4, "Smooth", w["full"].id)]
    html = client.get(page).get_data(as_text=True)
    assert "You rated it 4 out of 5" in html
    # another contact of the account rates it too; an open milestone cannot be rated; others' are 404
    other = app.test_client()
    login_contact(app, other, w["mine"])
    assert _post(other, f"/portal/milestones/{done}/rating", {"score": "5"}, page=page).status_code == 302
    _post(other, f"/portal/milestones/{w['a']['milestone_open']}/rating", {"score": "5"}, page=page)
    assert _post(other, f"/portal/milestones/{w['b']['milestone_done']}/rating", {"score": "5"},
                 page=page).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MilestoneRating.id))) == 2


def test_the_rating_constraint_decides_a_race(app, make):
    """Two requests that both passed the check: the unique constraint refuses the second, nothing changes."""
    from psa.accounts.models import Contact
    from psa.portal import work
    from psa.projects.models import Project

    w = world(app, make)
    with app.test_request_context():
        contact = db.session.get(Contact, w["full"].id)
        project = db.session.get(Project, w["a"]["project"])
        milestone = db.session.get(Milestone, w["a"]["milestone_done"])
        db.session.add(MilestoneRating(milestone_id=milestone.id, contact_id=contact.id, project_id=project.id,
                                       score=3))
        db.session.flush()
        original = work.db.session.scalar
        work.db.session.scalar = lambda *a, **k: None  # the check saw no rating yet
        try:
            try:
                work.rate_milestone(contact, project, milestone, score="5")
            except work.Conflict as exc:
                assert "already rated" in str(exc)
            else:
                raise AssertionError("a second rating was accepted")
        finally:
            work.db.session.scalar = original
        assert [r.score for r in db.session.scalars(sa.select(MilestoneRating))] == [3]


def test_view_as_customer_is_read_only_and_audited(app, client, make):
    w = world(app, make)
    login_as(client, w["manager"])
    page = f"/portal/preview/projects/{w['a']['project']}"
    chooser = client.get(page)
    assert chooser.status_code == 200 and "Fran Full" in chooser.get_data(as_text=True)
    assert "Olga" not in chooser.get_data(as_text=True)
    response = client.get(f"{page}?contact={w['mine'].id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "You are viewing the portal as Mo Mine" in html
    assert "<form" not in html.replace('<form method="post" action="/logout"', "")  # no portal form at all
    assert "Send the user list" in html and "Configure SSO" not in html
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "portal.previewed"))
        assert event.actor_id == w["manager"].id and event.after == {"contact_id": w["mine"].id}
    # the contact of another account: the chooser again, never their view
    assert "You are viewing" not in client.get(f"{page}?contact={w['other'].id}").get_data(as_text=True)
    home = client.get(f"/portal/preview?contact={w['full'].id}")
    assert home.status_code == 200 and "Rollout" in home.get_data(as_text=True)
    # a consultant not on the project: 404
    outsider = app.test_client()
    login_as(outsider, make.user(role="consultant"))
    assert outsider.get(f"{page}?contact={w['mine'].id}").status_code == 404
    assert outsider.get(f"/portal/preview?contact={w['mine'].id}").status_code == 404
    # a contact: 404
    contact_client = app.test_client()
    login_contact(app, contact_client, w["full"])
    assert contact_client.get(f"{page}?contact={w['full'].id}").status_code == 404


def test_the_hours_widget_is_off_until_the_project_turns_it_on(app, client, make):
    """Budgeted, used and remaining hours in the portal only once the project's edit page turns them on (audited);
    never a rate, cost or fee."""
    from psa.projects.models import Project

    w = world(app, make)
    project_id = w["a"]["project"]
    login_contact(app, client, w["full"])
    assert 'data-testid="hours"' not in client.get(f"/portal/projects/{project_id}").get_data(as_text=True)

    staff = app.test_client()
    login_as(staff, w["manager"])
    page = staff.get(f"/projects/{project_id}/edit").get_data(as_text=True)
    assert "Show the customer the budgeted, used and remaining hours in the portal" in page
    with app.app_context():
        project = db.session.get(Project, project_id)
        form = {"account_id": project.account_id, "name": project.name,
                "kickoff_date": project.kickoff_date.isoformat(), "manager_id": project.manager_id,
                "billing_model": project.billing_model, "fee_amount": str(project.fee_amount),
                "budget_hours": "100", "status": project.status, "portal_shows_hours": "y"}
    response = staff.post(f"/projects/{project_id}/edit",
                          data={"csrf_token": csrf_token(staff, f"/projects/{project_id}/edit"), **form})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        assert db.session.get(Project, project_id).portal_shows_hours is True
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "project.updated")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event.after.get("portal_shows_hours") is True
    html = client.get(f"/portal/projects/{project_id}").get_data(as_text=True)
    assert 'data-testid="hours"' in html and "100" in html
    for figure in ("987654.32", "987,654.32"):
        assert figure not in html
