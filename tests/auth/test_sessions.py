"""Sign-ins end on the server: a copied session or remember-me cookie stops working after sign-out (that
sign-in), a password reset or a deactivation (every sign-in of the user); reactivation revives none."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from psa.auth import services
from psa.auth.models import User, UserSession
from psa.core.auth import load_user
from psa.core.db import utcnow
from psa.extensions import db
from tests.conftest import csrf_token, login_as, post_form
from tests.factories import PASSWORD

COOKIES = ("session", "remember_token")


def _signed_in(app, user, remember: bool = True, **password):
    """A fresh client signed in as the user (with remember-me by default)."""
    client = app.test_client()
    login_as(client, user, **password, **({"remember": "y"} if remember else {}))
    return client


def _copy(client) -> dict[str, str]:
    cookies = {name: client.get_cookie(name).value for name in COOKIES if client.get_cookie(name) is not None}
    assert set(cookies) == set(COOKIES), cookies
    return cookies


def _replay(app, cookies: dict[str, str]):
    """GET / on a new client holding only the copied cookies."""
    fresh = app.test_client()
    for name, value in cookies.items():
        fresh.set_cookie(name, value)
    return fresh.get("/")


def _assert_signed_out(app, cookies):
    for replayed in ({"session": cookies["session"]}, {"remember_token": cookies["remember_token"]}, cookies):
        response = _replay(app, replayed)
        assert response.status_code == 302, replayed.keys()
        assert response.headers["Location"].startswith("/login")


def test_a_copied_cookie_works_while_the_sign_in_lasts(app, make):
    """The premise of the tests below: replaying either cookie on another client signs it in."""
    user = make.user()
    cookies = _copy(_signed_in(app, user))
    assert _replay(app, {"session": cookies["session"]}).status_code == 200
    assert _replay(app, {"remember_token": cookies["remember_token"]}).status_code == 200


def test_sign_out_ends_that_session_and_its_remember_cookie(app, make):
    user = make.user()
    client = _signed_in(app, user)
    cookies = _copy(client)
    assert post_form(client, "/logout").status_code == 302
    _assert_signed_out(app, cookies)


def test_sign_out_leaves_the_users_other_sign_ins(app, make):
    user = make.user()
    laptop, phone = _signed_in(app, user), _signed_in(app, user)
    phone_cookies = _copy(phone)
    post_form(laptop, "/logout")
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200
    assert _replay(app, {"remember_token": phone_cookies["remember_token"]}).status_code == 200


def test_password_reset_ends_every_sign_in_of_the_user(app, make):
    user, other = make.user(), make.user()
    first, second = _copy(_signed_in(app, user)), _copy(_signed_in(app, user))
    others = _copy(_signed_in(app, other))
    with app.app_context():
        path = f"/reset-password/{services.make_token(db.session.get(User, user.id), 'reset')}"
    client = app.test_client()
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "password": "a-new-password-9",
                                       "confirm": "a-new-password-9"})
    assert response.status_code == 302
    _assert_signed_out(app, first)
    _assert_signed_out(app, second)
    assert _replay(app, others).status_code == 200
    # the new password signs in afresh
    assert _signed_in(app, user, remember=False, password="a-new-password-9").get("/").status_code == 200


def test_deactivation_ends_every_sign_in_and_reactivation_revives_none(app, make):
    admin, user = make.user(role="admin"), make.user()
    first, second = _copy(_signed_in(app, user)), _copy(_signed_in(app, user))
    admin_client = _signed_in(app, admin, remember=False)
    assert post_form(admin_client, f"/admin/users/{user.id}/active", {"active": "0"},
                     token_from="/admin/users").status_code == 302
    _assert_signed_out(app, first)
    _assert_signed_out(app, second)
    assert post_form(admin_client, f"/admin/users/{user.id}/active", {"active": "1"},
                     token_from="/admin/users").status_code == 302
    _assert_signed_out(app, first)
    _assert_signed_out(app, second)
    assert _signed_in(app, user, remember=False).get("/").status_code == 200


def test_services_end_one_or_all_sign_ins(ctx, make):
    user = make.user()
    first, second, third = (services.start_session(user) for _ in range(3))
    db.session.commit()
    services.end_session(user, second)
    assert services.session_user(user.id, first) is user
    assert services.session_user(user.id, second) is None
    assert services.end_all_sessions(user) == 2  # first and third; second had ended already
    assert services.session_user(user.id, first) is None
    assert services.session_user(user.id, third) is None
    assert db.session.scalar(sa.select(sa.func.count()).where(UserSession.ended_at.is_(None))) == 0


def test_a_sign_in_older_than_the_remember_cookie_is_refused(ctx, make):
    user = make.user()
    token = services.start_session(user)
    db.session.commit()
    lifetime = services.session_lifetime()
    assert lifetime == timedelta(days=14)  # REMEMBER_COOKIE_DURATION, longer than the 12-hour session
    assert services.session_user(user.id, token, now=utcnow() + lifetime - timedelta(minutes=1)) is user
    assert services.session_user(user.id, token, now=utcnow() + lifetime + timedelta(minutes=1)) is None


def test_expired_rows_are_pruned_at_the_next_sign_in(ctx, make):
    user = make.user()
    services.start_session(user)
    db.session.execute(sa.update(UserSession).values(created_at=utcnow() - timedelta(days=15)))
    services.start_session(user)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 1


def test_load_user_takes_one_statement_and_refuses_ids_without_a_sign_in(ctx, make, count_queries):
    user = make.user()
    uid, token = user.id, services.start_session(user)
    db.session.commit()
    db.session.expunge_all()
    with count_queries() as statements:
        loaded = load_user(f"user:{uid}:{token}")
    assert loaded is not None and loaded.id == uid
    assert len(statements) == 1
    assert loaded.get_id() == f"user:{uid}:{token}"
    # the pre-session form, a wrong token, another user's token and a deactivated user all load nobody
    other = make.user()
    other_token = services.start_session(other)
    db.session.commit()
    for identity in (f"user:{uid}", f"user:{uid}:", f"user:{uid}:{token}x",
                     f"user:{uid}:{other_token}", "contact:1:x", "user:abc:x"):
        assert load_user(identity) is None, identity
    services.set_user_active(None, db.session.get(User, other.id), False)
    db.session.commit()
    assert load_user(f"user:{other.id}:{other_token}") is None


def _change(client, current, new):
    path = "/account/password"
    return client.post(path, data={"csrf_token": csrf_token(client, path), "current_password": current,
                                   "password": new, "confirm": new})


def test_a_password_change_ends_every_other_sign_in_and_keeps_this_device(app, make):
    user = make.user()
    here, elsewhere = _signed_in(app, user), _signed_in(app, user)
    here_before, elsewhere_cookies = _copy(here), _copy(elsewhere)
    response = _change(here, PASSWORD, "changed-password-7")
    assert response.status_code == 302
    # this device goes on, kept signed in under a new sign-in; its old cookies and the other device's are dead
    assert here.get("/").status_code == 200
    here_after = _copy(here)
    assert here_after["remember_token"] != here_before["remember_token"]
    assert _replay(app, {"remember_token": here_after["remember_token"]}).status_code == 200
    _assert_signed_out(app, here_before)
    _assert_signed_out(app, elsewhere_cookies)
    assert elsewhere.get("/").status_code == 302
    assert _signed_in(app, user, remember=False, password="changed-password-7").get("/").status_code == 200


def test_a_wrong_current_password_changes_nothing(app, make):
    user = make.user()
    client, other = _signed_in(app, user), _signed_in(app, user)
    response = _change(client, "not-my-password", "changed-password-7")
    assert response.status_code == 400
    assert "That is not your current password." in response.get_data(as_text=True)
    assert _change(client, PASSWORD, "short").status_code == 400
    assert client.get("/").status_code == 200 and other.get("/").status_code == 200
    assert _signed_in(app, user, remember=False).get("/").status_code == 200  # the old password still works
