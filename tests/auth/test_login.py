"""Sign-in, sign-out, remember-me, throttling and the `next` parameter."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token, login_as, post_form


def _attempt(client, email, password, **extra):
    return client.post("/login", data={"csrf_token": csrf_token(client), "email": email, "password": password, **extra})


def test_sign_in_lands_on_the_dashboard(client, make):
    user = make.user(name="Dana Demo")
    response = login_as(client, user)
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, Dana Demo" in page.get_data(as_text=True)


def test_email_is_matched_case_insensitively(client, make):
    user = make.user(email="mixed@example.com")
    response = _attempt(client, "  MIXED@Example.com ", "correct-horse-battery")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert user.email == "mixed@example.com"


def test_wrong_password_shows_a_message_at_the_field(client, make):
    user = make.user()
    response = _attempt(client, user.email, "not-the-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong e-mail or password." in html
    assert "invalid-feedback" in html
    assert client.get("/").status_code == 302


def test_unknown_email_gets_the_same_message(client, make):
    response = _attempt(client, "nobody@example.com", "whatever-password")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", "x", "Enter an e-mail address."),
        ("not-an-email", "x", "Enter a valid e-mail address"),
        ("a" * 250 + "@example.com", "x", "Use at most 254 characters."),
        ("someone@example.com", "", "Enter your password."),
    ],
)
def test_bad_sign_in_input_is_refused_at_the_field(client, email, password, message):
    response = _attempt(client, email, password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_sixth_failure_within_fifteen_minutes_answers_429(client, make):
    user = make.user()
    for _ in range(5):
        assert _attempt(client, user.email, "wrong-password-1").status_code == 401
    response = _attempt(client, user.email, "wrong-password-1")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    # the right password is refused too while throttled
    assert _attempt(client, user.email, "correct-horse-battery").status_code == 429


def test_throttle_is_per_email_and_address(client, make):
    first, second = make.user(), make.user()
    for _ in range(5):
        _attempt(client, first.email, "wrong-password-1")
    assert _attempt(client, first.email, "wrong-password-1").status_code == 429
    # another e-mail from the same address is not throttled
    assert _attempt(client, second.email, "correct-horse-battery").status_code == 302
    # the same e-mail from another address is not throttled either
    other = client.application.test_client()
    response = other.post("/login", environ_base={"REMOTE_ADDR": "10.9.8.7"},
                          data={"csrf_token": csrf_token(other), "email": first.email,
                                "password": "correct-horse-battery"})
    assert response.status_code == 302


def test_successful_sign_ins_do_not_count_towards_the_throttle(client, make):
    user = make.user()
    for _ in range(7):
        assert _attempt(client, user.email, "correct-horse-battery").status_code == 302
        post_form(client, "/logout")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "https://evil.example/login", "/\\evil.example",
     "javascript:alert(1)", "http:/evil.example"],
)
def test_next_never_leaves_the_site(client, make, target):
    user = make.user()
    response = _attempt(client, user.email, "correct-horse-battery", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_within_the_site_is_followed(client, make):
    admin = make.user(role="admin")
    response = _attempt(client, admin.email, "correct-horse-battery", next="/admin/users?page=1")
    assert response.headers["Location"] == "/admin/users?page=1"


def test_anonymous_request_is_sent_to_sign_in_with_next(client, app):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_remember_me_sets_a_lasting_http_only_cookie(client, make):
    user = make.user()
    response = _attempt(client, user.email, "correct-horse-battery", remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember, cookies
    assert "HttpOnly" in remember[0] and "SameSite=Lax" in remember[0] and "Expires=" in remember[0]


def test_without_remember_me_no_remember_cookie(client, make):
    user = make.user()
    response = _attempt(client, user.email, "correct-horse-battery")
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]


def test_sign_out_needs_a_post_with_csrf(client, make):
    user = make.user()
    login_as(client, user)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    response = post_form(client, "/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_deactivated_user_cannot_sign_in(client, make):
    user = make.user(is_active_user=False)
    assert _attempt(client, user.email, "correct-horse-battery").status_code == 401


def test_deactivation_signs_the_user_out_at_the_next_request(client, app, make):
    from psa.auth.models import User
    from psa.extensions import db

    user = make.user()
    login_as(client, user)
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(User, user.id).is_active_user = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused_and_signs_nobody_in(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
