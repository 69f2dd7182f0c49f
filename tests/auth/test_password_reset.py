"""Password reset: an e-mailed, single-use link that expires."""

from __future__ import annotations

import re

import sqlalchemy as sa

from psa.core.models import OutboxEmail
from psa.extensions import db
from tests.conftest import csrf_token, login_as

LINK_RE = re.compile(r"http://localhost(/reset-password/[\w.\-]+)")


def _request_reset(client, email):
    return client.post("/forgot-password", data={"csrf_token": csrf_token(client, "/forgot-password"), "email": email})


def _outbox(app):
    with app.app_context():
        return db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()


def _reset_link(app) -> str:
    emails = _outbox(app)
    assert emails, "no e-mail was queued"
    match = LINK_RE.search(emails[-1].body)
    assert match, emails[-1].body
    return match.group(1)


def _set_password(client, path, password):
    return client.post(path, data={"csrf_token": csrf_token(client, path), "password": password, "confirm": password})


def test_reset_link_is_mailed_and_works_once(client, app, make):
    user = make.user(email="forgetful@example.com")
    response = _request_reset(client, "Forgetful@Example.com")
    assert response.status_code == 302
    emails = _outbox(app)
    assert [e.to_address for e in emails] == ["forgetful@example.com"]
    assert emails[0].state == "sent"  # no SMTP configured: written to the log and marked sent
    path = _reset_link(app)

    assert client.get(path).status_code == 200
    assert _set_password(client, path, "a-brand-new-password").status_code == 302
    login_as(client, user, password="a-brand-new-password")

    second = client.get(path)
    assert second.status_code == 410
    assert "already been used" in second.get_data(as_text=True)
    post_again = client.post(path, data={"csrf_token": csrf_token(client, "/forgot-password"),
                                         "password": "another-password-1", "confirm": "another-password-1"})
    assert post_again.status_code == 410


def test_reset_link_fails_after_expiry(client, app, make, monkeypatch):
    import itsdangerous.timed

    make.user(email="late@example.com")
    _request_reset(client, "late@example.com")
    path = _reset_link(app)
    real_time = itsdangerous.timed.time.time
    max_age = app.config["PASSWORD_RESET_MAX_AGE"]

    class LaterClock:
        @staticmethod
        def time():
            return real_time() + max_age + 5

    monkeypatch.setattr(itsdangerous.timed, "time", LaterClock)
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_reset_link_still_works_just_before_expiry(client, app, make, monkeypatch):
    import itsdangerous.timed

    user = make.user(email="ontime@example.com")
    _request_reset(client, "ontime@example.com")
    path = _reset_link(app)
    real_time = itsdangerous.timed.time.time
    max_age = app.config["PASSWORD_RESET_MAX_AGE"]

    class AlmostLate:
        @staticmethod
        def time():
            return real_time() + max_age - 30

    monkeypatch.setattr(itsdangerous.timed, "time", AlmostLate)
    assert _set_password(client, path, "just-in-time-pass").status_code == 302
    monkeypatch.undo()
    login_as(client, user, password="just-in-time-pass")


def test_unknown_or_inactive_email_gets_the_same_answer_and_no_mail(client, app, make):
    make.user(email="gone@example.com", is_active_user=False)
    for email in ("nobody@example.com", "gone@example.com"):
        response = _request_reset(client, email)
        assert response.status_code == 302
    assert _outbox(app) == []


def test_tampered_token_is_refused(client, app, make):
    make.user(email="tamper@example.com")
    _request_reset(client, "tamper@example.com")
    path = _reset_link(app)
    response = client.get(path[:-3] + "abc")
    assert response.status_code == 410
    assert "not valid" in response.get_data(as_text=True)


def test_new_password_rules_are_shown_at_the_field(client, app, make):
    user = make.user(email="rules@example.com")
    _request_reset(client, "rules@example.com")
    path = _reset_link(app)
    short = _set_password(client, path, "short")
    assert short.status_code == 200
    assert "Use 10 to 128 characters." in short.get_data(as_text=True)
    mismatch = client.post(path, data={"csrf_token": csrf_token(client, path), "password": "long-enough-pass",
                                       "confirm": "different-pass-1"})
    assert "The two passwords differ." in mismatch.get_data(as_text=True)
    # nothing changed: the old password still works and the link is still usable
    login_as(client, user)
    assert client.get(path).status_code == 200


def test_reset_mail_reaches_a_real_smtp_server(client, app, make, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    make.user(email="smtp@example.com")
    _request_reset(client, "smtp@example.com")
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["smtp@example.com"]
    assert "/reset-password/" in envelope.content.decode()
    assert _outbox(app)[0].state == "sent"
