"""Every submitted week reaches an approver: the weeks of someone whose approver is an active manager are in
that manager's queue; weeks of someone without one (none set, or theirs deactivated or no longer a manager)
are in no manager's queue but in every leader's and admin's, flagged "No approver — leaders approve"; the
notifications, the queue, the week's own page and who may decide agree; the queue's statements do not grow
with the flagged weeks."""

from __future__ import annotations

import sqlalchemy as sa

from psa.auth.models import User
from psa.auth.services import set_user_active, update_user
from psa.core.models import Notification
from psa.extensions import db
from psa.timesheets import services as ts
from tests.conftest import post_form
from tests.timesheets import test_approval_routes
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_approval_routes import _client, _sheet, _week_in
from tests.timesheets.test_grid_routes import _testid

#: The cast of the approval tests: Cleo Consultant (approved by Mia Manager), Lee Leader, Ada Admin.
people = test_approval_routes.people

FLAG = "No approver — leaders approve"


def _set_approver(app, user_id: int, approver_id: int | None) -> None:
    with app.app_context():
        db.session.get(User, user_id).approver_id = approver_id
        db.session.commit()


def _submitted(app, people, user_id: int) -> int:
    """A submitted week of one hour on the staffed project (the user must be a member)."""
    return _week_in(app, "submitted", user_id, people["leader"].id, [(people["project_id"], None, True, {0: "1"})])


def _join_project(app, people, *users) -> None:
    with app.app_context():
        db.session.execute(sa.text("INSERT INTO project_members (project_id, user_id) VALUES (:p, :u)"),
                           [{"p": people["project_id"], "u": u.id} for u in users])
        db.session.commit()


def _notified(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                                 .where(Notification.user_id == user_id, Notification.message.like("%submitted%")))


def _flags(html: str) -> int:
    return html.count('data-testid="no-approver"')


def test_a_week_without_an_approver_is_flagged_in_the_leaders_queue_and_in_no_managers(app, people):
    consultant, manager, leader, admin = (people[k] for k in ("consultant", "manager", "leader", "admin"))
    _set_approver(app, consultant.id, None)
    sheet_id = _submitted(app, people, consultant.id)

    assert _testid(_client(app, manager).get("/timesheets/approvals").get_data(as_text=True), "queue-user") == []
    leader_html = _client(app, leader).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(leader_html, "queue-user") == ["Cleo Consultant"]
    assert _flags(leader_html) == 1 and FLAG in leader_html
    assert f"/admin/users/{consultant.id}#approver_id" not in leader_html  # leaders do not edit users
    admin_html = _client(app, admin).get("/timesheets/approvals").get_data(as_text=True)
    assert _flags(admin_html) == 1 and f'href="/admin/users/{consultant.id}#approver_id"' in admin_html
    # the leader (the only active one) was told; the manager was not
    assert (_notified(app, leader.id), _notified(app, manager.id)) == (1, 0)
    # and the manager may not decide it; the leader may
    assert post_form(_client(app, manager), f"/timesheets/{sheet_id}/approve").status_code == 403
    assert post_form(_client(app, leader), f"/timesheets/{sheet_id}/approve").status_code == 302
    assert _sheet(app, sheet_id).state == "approved"


def test_a_managers_week_goes_to_that_manager_and_leaders_see_who_approves(app, make, people):
    consultant, manager, leader = people["consultant"], people["manager"], people["leader"]  # Mia approves Cleo
    other = make.user(role="manager", name="Max Manager")
    sheet_id = _submitted(app, people, consultant.id)

    mia_html = _client(app, manager).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(mia_html, "queue-user") == ["Cleo Consultant"] and _flags(mia_html) == 0
    assert _testid(_client(app, other).get("/timesheets/approvals").get_data(as_text=True), "queue-user") == []
    leader_html = _client(app, leader).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(leader_html, "queue-user") == ["Cleo Consultant"]
    assert _flags(leader_html) == 0 and _testid(leader_html, "queue-approver") == ["Mia Manager"]
    assert (_notified(app, manager.id), _notified(app, leader.id)) == (1, 0)
    assert post_form(_client(app, manager), f"/timesheets/{sheet_id}/approve").status_code == 302


def test_a_deactivated_approver_sends_the_weeks_back_to_the_leaders(app, people):
    consultant, manager, leader, admin = (people[k] for k in ("consultant", "manager", "leader", "admin"))
    with app.app_context():
        set_user_active(db.session.get(User, admin.id), db.session.get(User, manager.id), False)
        db.session.commit()
    sheet_id = _submitted(app, people, consultant.id)

    with app.app_context():
        cleo = db.session.get(User, consultant.id)
        assert cleo.approver_id == manager.id  # still recorded: reactivating Mia restores her
        assert ts.approver_in_effect(cleo) is None
        assert [u.id for u in ts.approvers_of(cleo)] == [leader.id]
    assert (_notified(app, leader.id), _notified(app, manager.id)) == (1, 0)
    leader_html = _client(app, leader).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(leader_html, "queue-user") == ["Cleo Consultant"] and _flags(leader_html) == 1
    grid = _client(app, consultant).get(f"/timesheets?week={MONDAY.isoformat()}").get_data(as_text=True)
    assert _testid(grid, "approver") == ["Weeks are approved by the PS leaders (no approver set)"]
    assert post_form(_client(app, leader), f"/timesheets/{sheet_id}/approve").status_code == 302


def test_an_approver_demoted_to_consultant_no_longer_approves(app, people):
    consultant, manager, leader, admin = (people[k] for k in ("consultant", "manager", "leader", "admin"))
    with app.app_context():
        mia = db.session.get(User, manager.id)
        update_user(db.session.get(User, admin.id), mia, email=mia.email, name=mia.name, role="consultant",
                    timezone=mia.timezone, weekly_capacity_hours=mia.weekly_capacity_hours)
        db.session.commit()
    _submitted(app, people, consultant.id)
    assert (_notified(app, leader.id), _notified(app, manager.id)) == (1, 0)
    leader_html = _client(app, leader).get("/timesheets/approvals").get_data(as_text=True)
    assert _testid(leader_html, "queue-user") == ["Cleo Consultant"] and _flags(leader_html) == 1


def test_the_grid_names_who_approves_the_week(app, people):
    consultant, manager, leader = people["consultant"], people["manager"], people["leader"]
    own = _client(app, consultant)
    assert _testid(own.get("/timesheets").get_data(as_text=True), "approver") == [
        "Weeks are approved by Mia Manager"]
    sheet_id = _submitted(app, people, consultant.id)
    # the approver looking at the week sees the same
    assert _testid(_client(app, manager).get(f"/timesheets/{sheet_id}").get_data(as_text=True), "approver") == [
        "Cleo Consultant’s weeks are approved by Mia Manager"]
    _set_approver(app, consultant.id, None)
    assert _testid(own.get("/timesheets").get_data(as_text=True), "approver") == [
        "Weeks are approved by the PS leaders (no approver set)"]
    assert _testid(_client(app, leader).get(f"/timesheets/{sheet_id}").get_data(as_text=True), "approver") == [
        "Cleo Consultant’s weeks are approved by the PS leaders (no approver set)"]


def test_a_leader_approver_is_named_and_the_leaders_queue_is_not_flagged(app, people):
    consultant, leader = people["consultant"], people["leader"]
    _set_approver(app, consultant.id, leader.id)
    _submitted(app, people, consultant.id)
    assert _testid(_client(app, consultant).get("/timesheets").get_data(as_text=True), "approver") == [
        "Weeks are approved by Lee Leader"]
    html = _client(app, people["admin"]).get("/timesheets/approvals").get_data(as_text=True)
    assert _flags(html) == 0 and _testid(html, "queue-approver") == ["Lee Leader"]


def test_the_queue_runs_as_many_statements_with_12_flagged_weeks_as_with_2(app, make, people, count_queries):
    """Weeks with a manager approver, without one and with a deactivated one: the flag costs no query."""
    leader, manager = people["leader"], people["manager"]
    gone = make.user(role="manager", name="Gus Gone", is_active_user=False)

    def fill(count: int):
        users = [make.user(role="consultant", approver_id=(None, manager.id, gone.id)[i % 3]) for i in range(count)]
        _join_project(app, people, *users)
        for user in users:
            _submitted(app, people, user.id)

    client = _client(app, leader)
    fill(3)  # 1 without, 1 with Mia, 1 with Gus
    assert client.get("/timesheets/approvals").status_code == 200  # warm-up
    with count_queries() as few:
        small = client.get("/timesheets/approvals").get_data(as_text=True)
    fill(15)
    with count_queries() as many:
        large = client.get("/timesheets/approvals").get_data(as_text=True)
    # 3 weeks: 2 flagged (none, Gus); 18 weeks: 12 flagged, 6 with Mia
    assert (small.count('data-testid="queue-item"'), _flags(small)) == (3, 2)
    assert (large.count('data-testid="queue-item"'), _flags(large)) == (18, 12)
    assert _testid(large, "queue-approver") == ["Mia Manager"] * 6
    assert len(few) == len(many), "\n".join(["3 weeks:", *few, "", "18 weeks:", *many])
