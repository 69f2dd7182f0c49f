"""The user pages set who approves a user's timesheets: set, change and clear it through the page, each change
audited (approver_id before → after); an id the page does not offer is a message at the field with nothing
changed; the service refuses what the page would not offer (the user themself, a consultant, a deactivated
user); a deactivated approver stays on the page, marked, so the user's other details still save."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.auth.services import create_user, set_user_active, update_user
from psa.core.errors import ValidationError
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.admin.helpers import field_errors, row_count
from tests.admin.test_users import _create, _edit, _events, _reload


@pytest.fixture
def team(make):
    """An admin signed in later, two managers, a leader, a consultant and a deactivated manager."""
    return {
        "admin": make.user(role="admin", name="Ada Admin"),
        "mia": make.user(role="manager", name="Mia Manager"),
        "max": make.user(role="manager", name="Max Manager"),
        "lee": make.user(role="leader", name="Lee Leader"),
        "cleo": make.user(role="consultant", name="Cleo Consultant"),
        "gone": make.user(role="manager", name="Gus Gone", is_active_user=False),
    }


@pytest.fixture
def as_admin(client, team):
    from tests.conftest import login_as

    login_as(client, team["admin"])
    return client


def _options(page: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of the approver select's options, in order."""
    select = re.search(r'<select[^>]*name="approver_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [(re.search(r'value="([^"]*)"', attrs).group(1), label.strip(), " selected" in f" {attrs}")
            for attrs, label in re.findall(r"<option ([^>]*)>(.*?)</option>", select, re.S)]


# --- what the page offers ------------------------------------------------------------------------------


def test_the_edit_page_offers_active_managers_leaders_and_admins_but_not_the_user(as_admin, team):
    page = as_admin.get(f"/admin/users/{team['mia'].id}").get_data(as_text=True)
    assert "Without one, the PS leaders approve them." in page
    # sorted by name; Mia herself, the consultant and the deactivated manager are not offered
    assert _options(page) == [
        ("0", "— none: the leaders approve —", True),
        (str(team["admin"].id), "Ada Admin (Admin)", False),
        (str(team["lee"].id), "Lee Leader (PS leader)", False),
        (str(team["max"].id), "Max Manager (Project manager)", False),
    ]


def test_the_new_user_page_offers_the_same_people(as_admin, team):
    page = as_admin.get("/admin/users/new").get_data(as_text=True)
    assert [value for value, _, _ in _options(page)] == [
        "0", str(team["admin"].id), str(team["lee"].id), str(team["max"].id), str(team["mia"].id)]


# --- set, change, clear ----------------------------------------------------------------------------------


def test_set_change_and_clear_the_approver_through_the_page_each_audited(app, as_admin, team):
    cleo, mia, lee = team["cleo"], team["mia"], team["lee"]

    assert _edit(as_admin, cleo, approver_id=str(mia.id)).status_code == 302
    assert _reload(app, cleo.id).approver_id == mia.id
    page = as_admin.get(f"/admin/users/{cleo.id}").get_data(as_text=True)
    assert (str(mia.id), "Mia Manager (Project manager)", True) in _options(page)

    assert _edit(as_admin, cleo, approver_id=str(lee.id)).status_code == 302
    assert _reload(app, cleo.id).approver_id == lee.id

    assert _edit(as_admin, cleo, approver_id="0").status_code == 302
    assert _reload(app, cleo.id).approver_id is None

    events = _events(app, "user.approver_changed", cleo.id)
    assert [(e.actor_id, e.before, e.after) for e in events] == [
        (team["admin"].id, {"approver_id": None}, {"approver_id": mia.id}),
        (team["admin"].id, {"approver_id": mia.id}, {"approver_id": lee.id}),
        (team["admin"].id, {"approver_id": lee.id}, {"approver_id": None}),
    ]


def test_saving_the_same_approver_records_nothing_and_other_changes_are_an_update(app, as_admin, team):
    cleo, mia = team["cleo"], team["mia"]
    assert _edit(as_admin, cleo, approver_id=str(mia.id)).status_code == 302
    events = row_count(app, AuditEvent)
    assert _edit(as_admin, cleo, approver_id=str(mia.id)).status_code == 302
    assert row_count(app, AuditEvent) == events
    assert _edit(as_admin, cleo, name="Cleo Renamed", approver_id="0").status_code == 302
    [event] = _events(app, "user.updated", cleo.id)
    assert event.before == {"name": "Cleo Consultant", "approver_id": mia.id}
    assert event.after == {"name": "Cleo Renamed", "approver_id": None}


def test_a_form_without_the_approver_field_keeps_the_approver(app, as_admin, team):
    """The other user tests post no approver_id: that keeps what is set (none stays none)."""
    cleo = team["cleo"]
    with app.app_context():
        db.session.get(User, cleo.id).approver_id = team["mia"].id
        db.session.commit()
    assert _edit(as_admin, cleo, name="Cleo Kept").status_code == 302
    assert (_reload(app, cleo.id).name, _reload(app, cleo.id).approver_id) == ("Cleo Kept", team["mia"].id)


def test_a_new_user_is_created_with_an_approver_and_the_creation_records_it(app, as_admin, team):
    response = _create(as_admin, email="nia@example.com", name="Nia New", approver_id=str(team["max"].id),
                       password="a-fresh-long-password")
    assert response.status_code == 302
    with app.app_context():
        nia = db.session.scalar(sa.select(User).where(User.email == "nia@example.com"))
        assert nia.approver_id == team["max"].id
    [created] = _events(app, "user.created")
    assert created.after["approver_id"] == team["max"].id


def test_mutual_approvers_are_allowed(app, as_admin, team):
    """Mia approves Max's weeks and Max approves Mia's: each still never decides their own."""
    mia, max_ = team["mia"], team["max"]
    assert _edit(as_admin, mia, approver_id=str(max_.id)).status_code == 302
    assert _edit(as_admin, max_, approver_id=str(mia.id)).status_code == 302
    assert (_reload(app, mia.id).approver_id, _reload(app, max_.id).approver_id) == (max_.id, mia.id)


# --- bad ids ------------------------------------------------------------------------------------------


BAD_IDS = [
    pytest.param(lambda team: "abc", id="not-a-number"),
    pytest.param(lambda team: "", id="empty"),
    pytest.param(lambda team: "1e3", id="exponent"),
    pytest.param(lambda team: "2147483648", id="beyond-the-column"),
    pytest.param(lambda team: "-1", id="negative"),
    pytest.param(lambda team: "999999", id="no-such-user"),
    pytest.param(lambda team: str(team["cleo"].id), id="a-consultant"),
    pytest.param(lambda team: str(team["gone"].id), id="a-deactivated-manager"),
    pytest.param(lambda team: str(team["mia"].id), id="the-user-themself"),
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_approver_id_the_page_does_not_offer_is_refused_at_the_field_on_edit(app, as_admin, team, bad):
    mia = team["mia"]
    with app.app_context():
        db.session.get(User, mia.id).approver_id = team["lee"].id
        db.session.commit()
    events = row_count(app, AuditEvent)
    response = _edit(as_admin, mia, name="Mia Changed", approver_id=bad(team))
    assert response.status_code == 200
    messages = field_errors(response.get_data(as_text=True), "approver_id")
    assert messages and messages[0] in ("Not a valid choice.", "Invalid Choice: could not coerce.")
    after = _reload(app, mia.id)
    assert (after.name, after.approver_id) == ("Mia Manager", team["lee"].id)
    assert row_count(app, AuditEvent) == events


@pytest.mark.parametrize("bad", BAD_IDS[:-1])
def test_an_approver_id_the_page_does_not_offer_is_refused_at_the_field_on_create(app, as_admin, team, bad):
    users, events = row_count(app, User), row_count(app, AuditEvent)
    response = _create(as_admin, email="nia@example.com", password="a-fresh-long-password", approver_id=bad(team))
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), "approver_id")
    assert (row_count(app, User), row_count(app, AuditEvent)) == (users, events)


# --- the service's own checks (what the page would not offer) -------------------------------------------


def test_the_service_refuses_the_user_themself_a_consultant_and_a_deactivated_user(ctx, team):
    mia, cleo, gone, admin = (db.session.get(User, team[k].id) for k in ("mia", "cleo", "gone", "admin"))
    fields = dict(email=mia.email, name=mia.name, role=mia.role, timezone=mia.timezone,
                  weekly_capacity_hours=mia.weekly_capacity_hours)
    for approver, message in [
        (mia, "Nobody approves their own weeks; choose someone else, or none."),
        (cleo, "Choose an active project manager, PS leader or admin, or none (the PS leaders approve)."),
        (gone, "Choose an active project manager, PS leader or admin, or none (the PS leaders approve)."),
    ]:
        with pytest.raises(ValidationError) as refused:
            update_user(admin, mia, approver=approver, **fields)
        assert refused.value.errors == {"approver_id": message}
        db.session.rollback()
    with pytest.raises(ValidationError) as refused:
        create_user(admin, email="new@example.com", name="New", role="consultant", approver=cleo)
    assert list(refused.value.errors) == ["approver_id"]
    db.session.rollback()
    assert db.session.get(User, mia.id).approver_id is None
    assert db.session.scalar(sa.select(User).where(User.email == "new@example.com")) is None


def test_a_deactivated_approver_stays_marked_on_the_page_and_other_details_still_save(app, as_admin, team):
    cleo, mia = team["cleo"], team["mia"]
    assert _edit(as_admin, cleo, approver_id=str(mia.id)).status_code == 302
    with app.app_context():
        set_user_active(db.session.get(User, team["admin"].id), db.session.get(User, mia.id), False)
        db.session.commit()
    page = as_admin.get(f"/admin/users/{cleo.id}").get_data(as_text=True)
    assert (str(mia.id), "Mia Manager (Project manager) — no longer an approver: the leaders approve", True) \
        in _options(page)
    assert _edit(as_admin, cleo, name="Cleo Still", approver_id=str(mia.id)).status_code == 302
    assert (_reload(app, cleo.id).name, _reload(app, cleo.id).approver_id) == ("Cleo Still", mia.id)
    # choosing her again after clearing is refused: she is no longer offered
    assert _edit(as_admin, cleo, approver_id="0").status_code == 302
    response = _edit(as_admin, cleo, approver_id=str(mia.id))
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), "approver_id") == ["Not a valid choice."]
    assert _reload(app, cleo.id).approver_id is None
