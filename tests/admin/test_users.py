"""Admin users page: create, invite, change role, deactivate, the last admin, search, bad input."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from tests.admin.helpers import count_testid, field_errors, row_count
from tests.conftest import csrf_token, login_as, post_form
from tests.factories import PASSWORD

NEW_PASSWORD = "a-fresh-long-password"


def _form(**overrides) -> dict:
    data = dict(name="Nora North", email="nora@example.com", role="consultant", timezone="UTC",
                weekly_capacity_hours="40", password="")
    data.update(overrides)
    return data


def _edit_form(user, **overrides) -> dict:
    data = dict(name=user.name, email=user.email, role=user.role, timezone=user.timezone,
                weekly_capacity_hours=str(user.weekly_capacity_hours))
    data.update(overrides)
    return data


def _create(client, **overrides):
    return post_form(client, "/admin/users/new", _form(**overrides), token_from="/admin/users/new")


def _edit(client, user, **overrides):
    path = f"/admin/users/{user.id}"
    return post_form(client, path, _edit_form(user, **overrides), token_from=path)


def _set_active(client, user, active: bool):
    return post_form(client, f"/admin/users/{user.id}/active", {"active": "1" if active else "0"},
                     token_from="/admin/users")


def _reload(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _events(app, action: str, object_id: int | None = None) -> list[AuditEvent]:
    with app.app_context():
        stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if object_id is not None:
            stmt = stmt.where(AuditEvent.object_id == object_id)
        events = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return events


def _can_sign_in(app, email: str, password: str) -> bool:
    other = app.test_client()
    response = other.post("/login", data={"csrf_token": csrf_token(other), "email": email, "password": password})
    return response.status_code == 302


@pytest.fixture
def admin(make):
    return make.user(role="admin", name="Ada Admin")


@pytest.fixture
def as_admin(client, admin):
    login_as(client, admin)
    return client


# --- creating and inviting -------------------------------------------------------------------------


def test_user_created_with_a_password_can_sign_in(app, as_admin, admin):
    response = _create(as_admin, email="Nora@Example.com", role="manager", weekly_capacity_hours="32.5",
                       timezone="Europe/Berlin", password=NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    assert "can sign in now" in as_admin.get("/admin/users").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "nora@example.com"))
        assert (user.name, user.role, user.timezone) == ("Nora North", "manager", "Europe/Berlin")
        assert user.weekly_capacity_hours == Decimal("32.5")
        assert user.is_active_user and user.password_hash
        assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0
    [created] = _events(app, "user.created")
    assert created.actor_id == admin.id and created.after["email"] == "nora@example.com"
    assert _can_sign_in(app, "nora@example.com", NEW_PASSWORD)


def test_user_created_without_a_password_is_invited_and_signs_in_after_choosing_one(app, as_admin):
    response = _create(as_admin, email="ivy@example.com", name="Ivy Invited", password="")
    assert response.status_code == 302
    page = as_admin.get("/admin/users").get_data(as_text=True)
    assert "Invitation e-mailed to ivy@example.com." in page
    assert "Invited" in page
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "ivy@example.com"))
        assert user.password_hash is None
        [email] = db.session.scalars(sa.select(OutboxEmail)).all()
        assert email.to_address == "ivy@example.com"
        assert email.state == "sent"  # PSA_INLINE_JOBS: the outbox is delivered within the request
        body = email.body
    assert len(_events(app, "user.invited", user.id)) == 1
    assert not _can_sign_in(app, "ivy@example.com", NEW_PASSWORD)

    link = re.search(r"http://localhost(/reset-password/[^\s]+)", body)
    assert link, body
    path = urlsplit(link.group(0)).path
    invited = app.test_client()
    assert invited.get(path).status_code == 200
    response = invited.post(path, data={"csrf_token": csrf_token(invited, path),
                                        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert _can_sign_in(app, "ivy@example.com", NEW_PASSWORD)
    # the link works once
    assert invited.get(path).status_code == 410


def test_a_new_invitation_can_be_sent_again(app, as_admin, make):
    user = make.user(password=None)
    response = post_form(as_admin, f"/admin/users/{user.id}/invite", token_from=f"/admin/users/{user.id}")
    assert response.status_code == 302
    with app.app_context():
        [email] = db.session.scalars(sa.select(OutboxEmail)).all()
        assert email.to_address == user.email and "/reset-password/" in email.body


# --- changing role and details ---------------------------------------------------------------------


def test_role_change_is_saved_and_audited_with_before_and_after(app, as_admin, admin, make):
    target = make.user(role="consultant")
    response = _edit(as_admin, target, role="manager")
    assert response.status_code == 302
    assert _reload(app, target.id).role == "manager"
    [event] = _events(app, "user.role_changed", target.id)
    assert event.actor_id == admin.id
    assert event.object_type == "user"
    assert event.before == {"role": "consultant"}
    assert event.after == {"role": "manager"}


@pytest.mark.parametrize("hours", ["37.50", "37.5", " 37.500 "])
def test_saving_unchanged_details_records_no_audit_event(app, as_admin, make, hours):
    target = make.user(weekly_capacity_hours=Decimal("37.5"))
    before = row_count(app, AuditEvent)
    assert _edit(as_admin, target, weekly_capacity_hours=hours).status_code == 302
    assert row_count(app, AuditEvent) == before


def test_detail_change_is_audited_as_an_update(app, as_admin, make):
    target = make.user(name="Old Name")
    assert _edit(as_admin, target, name="New Name", weekly_capacity_hours="20").status_code == 302
    [event] = _events(app, "user.updated", target.id)
    assert event.before == {"name": "Old Name", "weekly_capacity_hours": "40.00"}
    assert event.after == {"name": "New Name", "weekly_capacity_hours": "20.00"}


def test_own_email_in_another_case_is_not_a_duplicate(app, as_admin, make):
    target = make.user(email="case@example.com")
    assert _edit(as_admin, target, email="CASE@example.com").status_code == 302
    assert _reload(app, target.id).email == "case@example.com"


# --- deactivating ----------------------------------------------------------------------------------


def test_deactivate_and_reactivate(app, as_admin, make):
    target = make.user(name="Dee Active")
    response = _set_active(as_admin, target, False)
    assert response.status_code == 302
    assert "Dee Active is deactivated." in as_admin.get("/admin/users").get_data(as_text=True)
    assert _reload(app, target.id).is_active_user is False
    assert not _can_sign_in(app, target.email, PASSWORD)
    assert len(_events(app, "user.deactivated", target.id)) == 1

    assert _set_active(as_admin, target, True).status_code == 302
    assert _reload(app, target.id).is_active_user is True
    assert _can_sign_in(app, target.email, PASSWORD)
    [event] = _events(app, "user.activated", target.id)
    assert event.before == {"is_active_user": False} and event.after == {"is_active_user": True}


def test_admin_cannot_deactivate_themselves(app, as_admin, admin, make):
    make.user(role="admin")  # another admin exists, so only the self-check can refuse
    response = _set_active(as_admin, admin, False)
    assert response.status_code == 302
    assert "You cannot deactivate yourself." in as_admin.get("/admin/users").get_data(as_text=True)
    assert _reload(app, admin.id).is_active_user is True
    assert _events(app, "user.deactivated") == []


def test_last_active_admin_cannot_be_demoted(app, as_admin, admin, make):
    other = make.user(role="admin", is_active_user=False)  # an inactive admin does not count
    response = _edit(as_admin, admin, role="manager")
    assert response.status_code == 200
    assert "This is the last active admin; make someone else admin first." in field_errors(
        response.get_data(as_text=True), "role")
    assert _reload(app, admin.id).role == "admin"
    assert _events(app, "user.role_changed") == []
    # with a second active admin the demotion goes through
    assert _set_active(as_admin, other, True).status_code == 302
    assert _edit(as_admin, other, role="leader").status_code == 302
    assert _reload(app, other.id).role == "leader"


def test_another_admin_can_be_demoted_while_one_remains(app, as_admin, make):
    other = make.user(role="admin")
    assert _edit(as_admin, other, role="consultant").status_code == 302
    assert _reload(app, other.id).role == "consultant"


def test_last_active_admin_cannot_be_deactivated(ctx, make):
    from psa.auth import services
    from psa.core.errors import ValidationError

    only_admin = make.user(role="admin")
    manager = make.user(role="manager")
    for actor in (None, manager):
        with pytest.raises(ValidationError) as caught:
            services.set_user_active(actor, only_admin, False)
        assert caught.value.errors == {"active": "This is the last active admin."}
        assert only_admin.is_active_user is True
    # a second active admin lifts the rule
    make.user(role="admin")
    services.set_user_active(manager, only_admin, False)
    assert only_admin.is_active_user is False


# --- the list ----------------------------------------------------------------------------------------


def _names(page: str) -> set[str]:
    return set(re.findall(r'<tr data-testid="user-row">\s*<td><a href="[^"]+">([^<]+)</a>', page))


def test_search_by_name_or_email_and_filter_by_role(as_admin, make):
    make.user(name="Alice Smith", email="alice@example.com", role="manager")
    make.user(name="Bob Jones", email="bob@corp.test", role="consultant")
    make.user(name="Carol Smith", email="carol@example.com", role="consultant")

    page = as_admin.get("/admin/users?q=SMITH").get_data(as_text=True)
    assert _names(page) == {"Alice Smith", "Carol Smith"}
    page = as_admin.get("/admin/users?q=corp.test").get_data(as_text=True)
    assert _names(page) == {"Bob Jones"}
    page = as_admin.get("/admin/users?role=consultant").get_data(as_text=True)
    assert _names(page) == {"Bob Jones", "Carol Smith"}
    page = as_admin.get("/admin/users?q=smith&role=consultant").get_data(as_text=True)
    assert _names(page) == {"Carol Smith"}
    page = as_admin.get("/admin/users?role=wizard").get_data(as_text=True)
    assert _names(page) == {"Ada Admin", "Alice Smith", "Bob Jones", "Carol Smith"}
    response = as_admin.get("/admin/users?q=nobody-at-all")
    assert response.status_code == 200
    assert "No user matches" in response.get_data(as_text=True)


def test_users_list_paginates(as_admin, app):
    with app.app_context():
        db.session.add_all([User(email=f"bulk{n:02}@example.com", name=f"Bulk {n:02}", role="consultant")
                            for n in range(30)])
        db.session.commit()
    assert count_testid(as_admin.get("/admin/users").get_data(as_text=True), "user-row") == 25
    assert count_testid(as_admin.get("/admin/users?page=2").get_data(as_text=True), "user-row") == 6
    assert count_testid(as_admin.get("/admin/users?page=999").get_data(as_text=True), "user-row") == 6


@pytest.mark.parametrize("role", ["leader", "manager", "consultant"])
def test_only_admins_reach_the_users_pages(client, make, role):
    target = make.user()
    login_as(client, make.user(role=role))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    assert client.get(f"/admin/users/{target.id}").status_code == 403
    assert post_form(client, "/admin/users/new", _form(password=NEW_PASSWORD)).status_code == 403


def test_unknown_user_is_404(as_admin):
    assert as_admin.get("/admin/users/999999").status_code == 404


# --- bad input ---------------------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"name": ""}, "name", "This field is required.", id="empty-name"),
    pytest.param({"name": "   "}, "name", "This field is required.", id="blank-name"),
    pytest.param({"name": "n" * 121}, "name", "Use at most 120 characters.", id="long-name"),
    pytest.param({"email": ""}, "email", "Enter an e-mail address.", id="empty-email"),
    pytest.param({"email": "not-an-email"}, "email",
                 "Enter a valid e-mail address, like name@example.com. An email address must have an @-sign.",
                 id="malformed-email"),
    pytest.param({"email": "a" * 243 + "@example.com"}, "email", "Use at most 254 characters.", id="long-email"),
    pytest.param({"email": "TAKEN@Example.COM"}, "email", "A user with this e-mail already exists.",
                 id="duplicate-email"),
    pytest.param({"role": "wizard"}, "role", "Not a valid choice.", id="unknown-role"),
    pytest.param({"timezone": "Mars/Olympus"}, "timezone", "Not a valid choice.", id="unknown-timezone"),
    pytest.param({"weekly_capacity_hours": "-1"}, "weekly_capacity_hours", "Enter the hours a week, 0 to 168.",
                 id="negative-capacity"),
    pytest.param({"weekly_capacity_hours": "168.5"}, "weekly_capacity_hours", "Enter the hours a week, 0 to 168.",
                 id="capacity-over-168"),
    pytest.param({"weekly_capacity_hours": ""}, "weekly_capacity_hours", "Enter the hours a week, 0 to 168.",
                 id="empty-capacity"),
    pytest.param({"weekly_capacity_hours": "forty"}, "weekly_capacity_hours", "Enter a number, like 12.5.",
                 id="non-numeric-capacity"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [*BAD_INPUT,
     pytest.param({"password": "short"}, "password", "Use 10 to 128 characters.", id="short-password"),
     pytest.param({"password": "p" * 129}, "password", "Use 10 to 128 characters.", id="long-password")],
)
def test_bad_input_on_create_is_refused_at_the_field(app, as_admin, make, overrides, field, message):
    make.user(email="taken@example.com")
    counts = {model: row_count(app, model) for model in (User, AuditEvent, OutboxEmail)}
    response = _create(as_admin, **{"password": NEW_PASSWORD, **overrides})
    assert response.status_code == 200
    assert message in field_errors(response.get_data(as_text=True), field)
    assert {model: row_count(app, model) for model in counts} == counts


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_on_edit_is_refused_at_the_field(app, as_admin, make, overrides, field, message):
    make.user(email="taken@example.com")
    target = make.user(name="Tess Target", role="manager", weekly_capacity_hours=Decimal("30"))
    events = row_count(app, AuditEvent)
    response = _edit(as_admin, target, **overrides)
    assert response.status_code == 200
    assert message in field_errors(response.get_data(as_text=True), field)
    after = _reload(app, target.id)
    assert (after.name, after.email, after.role, after.timezone, after.weekly_capacity_hours) == (
        "Tess Target", target.email, "manager", "UTC", Decimal("30"))
    assert row_count(app, AuditEvent) == events
