"""A contact's sign-in (issue 13, acceptance 3): the portal's password sign-in (throttled like /login, apart
from internal users'), invitation and e-mailed sign-in links that work once and expire, links of deactivated
contacts that do nothing, sign-out and deactivation that end the sign-in, and an answer to "e-mail me a link"
that never tells whether the address is known."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from psa.accounts.models import Contact, PortalLink
from psa.core.clock import frozen
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from tests.conftest import csrf_token, login_as
from tests.factories import PASSWORD
from tests.portal.helpers import login_contact

NEW_PASSWORD = "a-brand-new-password"


def _mails(app, to=None) -> list[OutboxEmail]:
    with app.app_context():
        stmt = sa.select(OutboxEmail).order_by(OutboxEmail.id)
        if to:
            stmt = stmt.where(OutboxEmail.to_address == to)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def _link(mail: OutboxEmail, kind: str) -> str:
    """The path of the link an e-mail carries (/portal/invite/... or /portal/link/...)."""
    match = re.search(rf"http://localhost(/portal/{kind}/[A-Za-z0-9_\-]+)", mail.body)
    assert match, mail.body
    return match.group(1)


def _invite(app, contact, actor=None) -> str:
    """Invite the contact through the service; the invitation link's path."""
    from psa.portal.services import invite_contact

    with app.test_request_context():  # the e-mail's absolute link is built with url_for
        invite_contact(actor, db.session.get(Contact, contact.id))
        db.session.commit()
    return _link(_mails(app, contact.email)[-1], "invite")


def _token(client) -> str:
    """A CSRF token of the client's session, from a page that always has a form (whoever is signed in)."""
    return csrf_token(client, "/portal/link")


def _ask_link(client, email):
    return client.post("/portal/link", data={"csrf_token": csrf_token(client, "/portal/link"), "email": email})


def _portal_login(client, email, password, **extra):
    return client.post("/portal/login", data={"csrf_token": _token(client), "email": email,
                                              "password": password, **extra})


def _accept(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(path, data={"csrf_token": _token(client), "password": password,
                                   "confirm": confirm or password})


def _signed_in_as_contact(client) -> bool:
    """Whether the client's cookies carry a contact's live sign-in (the portal's sign-in page then sends it
    home; the home page itself is not this file's)."""
    response = client.get("/portal/login")
    return response.status_code == 302 and response.headers["Location"] == "/portal/"


# --- password sign-in -----------------------------------------------------------------------------------------


def test_a_contact_signs_in_at_the_portal_and_lands_on_its_home(client, make):
    contact = make.contact(email="pat@customer.example")
    response = _portal_login(client, "  PAT@Customer.example ", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert _signed_in_as_contact(client)
    # an already signed-in contact asking for the sign-in page goes home
    assert client.get("/portal/login").headers["Location"] == "/portal/"
    assert contact.email == "pat@customer.example"


def test_the_login_page_offers_a_sign_in_link_by_e_mail(client):
    html = client.get("/portal/login").get_data(as_text=True)
    assert "E-mail me a sign-in link" in html and 'href="/portal/link"' in html


def test_a_wrong_password_is_401_with_the_message_at_the_field(client, make):
    contact = make.contact()
    response = _portal_login(client, contact.email, "not-the-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong e-mail or password." in html and "invalid-feedback" in html
    assert not _signed_in_as_contact(client)


def test_next_stays_inside_the_portal(client, make):
    contact = make.contact()
    for target, expected in (("/portal/projects/1", "/portal/projects/1"), ("/admin/users", "/portal/"),
                             ("//evil.example/portal/", "/portal/"), ("https://evil.example/", "/portal/")):
        client.post("/portal/logout", data={"csrf_token": _token(client)})
        response = _portal_login(client, contact.email, PASSWORD, next=target)
        assert response.headers["Location"] == expected, target


def test_an_internal_users_password_does_not_open_the_portal_and_a_contacts_does_not_open_the_app(client, make):
    user = make.user(email="same@customer.example")
    contact = make.contact(email="other@customer.example")
    assert _portal_login(client, user.email, PASSWORD).status_code == 401
    response = client.post("/login", data={"csrf_token": csrf_token(client), "email": contact.email,
                                           "password": PASSWORD})
    assert response.status_code == 401
    assert client.get("/").status_code == 302 and not _signed_in_as_contact(client)


def test_a_deactivated_contact_or_one_never_invited_cannot_sign_in(client, make):
    inactive = make.contact(is_active_contact=False)
    never = make.contact(password=None)
    assert _portal_login(client, inactive.email, PASSWORD).status_code == 401
    assert _portal_login(client, never.email, "").status_code == 200  # the password is required at its field
    assert _portal_login(client, never.email, PASSWORD).status_code == 401


def test_the_sixth_failure_within_fifteen_minutes_answers_429_and_is_apart_from_login(client, make):
    contact = make.contact()
    for _ in range(5):
        assert _portal_login(client, contact.email, "wrong-password-1").status_code == 401
    response = _portal_login(client, contact.email, "wrong-password-1")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert _portal_login(client, contact.email, PASSWORD).status_code == 429  # the right one too, meanwhile
    # the internal sign-in keeps its own count
    user = make.user()
    login_as(client, user)


def test_sign_out_ends_the_sign_in_and_a_copied_cookie_no_longer_works(app, client, make):
    contact = make.contact()
    _portal_login(client, contact.email, PASSWORD, remember="y")
    assert _signed_in_as_contact(client)
    copy = app.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert _signed_in_as_contact(copy)
    response = client.post("/portal/logout", data={"csrf_token": csrf_token(client, "/portal/link")})
    assert response.headers["Location"] == "/portal/login"
    assert not _signed_in_as_contact(client)
    assert not _signed_in_as_contact(copy)  # the sign-in ended on the server


def test_deactivation_by_an_internal_user_ends_the_contacts_sign_ins(app, client, make):
    from psa.auth.models import User
    from psa.portal.services import set_contact_active

    contact = make.contact()
    admin = make.user(role="admin")
    login_contact(app, client, contact)
    assert _signed_in_as_contact(client)
    with app.app_context():
        set_contact_active(db.session.get(User, admin.id), db.session.get(Contact, contact.id), False)
        db.session.commit()
    assert not _signed_in_as_contact(client)


# --- invitations ----------------------------------------------------------------------------------------------


def test_an_invitation_sets_the_password_signs_in_and_works_once(app, client, make):
    admin = make.user(role="admin")
    contact = make.contact(password=None, name="Pat Customer")
    with app.app_context():
        from psa.admin.services import get_settings

        get_settings().brand_name = "Northwind Services"
        db.session.commit()
    path = _invite(app, contact, actor=admin)
    mail = _mails(app, contact.email)[-1]
    assert "Northwind Services" in mail.subject and "Northwind Services" in mail.body
    assert "http://localhost/portal/invite/" in mail.body
    page = client.get(path)
    assert page.status_code == 200 and "Welcome, Pat Customer" in page.get_data(as_text=True)
    response = _accept(client, path)
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert _signed_in_as_contact(client)
    # the link is used: a second use, even from another browser, is refused with a message
    other = app.test_client()
    again = other.get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    assert _accept(other, path, password="another-password-1").status_code == 410
    assert _portal_login(other, contact.email, NEW_PASSWORD).status_code == 302
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert "contact.invited" in actions and "contact.invitation_accepted" in actions
        accepted = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "contact.invitation_accepted"))
        assert accepted.actor_contact_id == contact.id and accepted.actor_id is None
        stored = db.session.scalars(sa.select(PortalLink.token_hash)).all()
        assert path.rsplit("/", 1)[1] not in stored  # only the hash is kept


def test_a_password_against_the_rules_is_refused_at_the_field_and_keeps_the_link(app, client, make):
    contact = make.contact(password=None)
    path = _invite(app, contact)
    response = _accept(client, path, password="short")
    assert response.status_code == 400 and "Use 10 to 128 characters." in response.get_data(as_text=True)
    response = _accept(client, path, password="long-enough-one", confirm="long-enough-two")
    assert response.status_code == 400 and "The two passwords differ." in response.get_data(as_text=True)
    assert _accept(client, path).status_code == 302


def test_an_expired_invitation_is_refused_with_a_message(app, client, make):
    contact = make.contact(password=None)
    start = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    with frozen(start):
        path = _invite(app, contact)
    with frozen(start + timedelta(days=7, seconds=-1)):
        assert client.get(path).status_code == 200
    with frozen(start + timedelta(days=7, seconds=1)):
        response = client.get(path)
        assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
        assert _accept(client, path).status_code == 410
    with app.app_context():
        assert db.session.get(Contact, contact.id).password_hash is None


def test_a_new_invitation_replaces_the_earlier_one(app, client, make):
    contact = make.contact(password=None)
    first = _invite(app, contact)
    second = _invite(app, contact)
    assert client.get(first).status_code == 410
    assert _accept(client, second).status_code == 302


def test_a_link_of_a_deactivated_contact_does_nothing(app, client, make):
    from psa.portal.services import set_contact_active

    contact = make.contact(password=None)
    invite = _invite(app, contact)
    _ask_link(client, contact.email)
    sign_in = _link(_mails(app, contact.email)[-1], "link")
    with app.app_context():
        set_contact_active(None, db.session.get(Contact, contact.id), False)
        db.session.commit()
    for path in (invite, sign_in):
        response = client.get(path)
        assert response.status_code == 400 and "not valid" in response.get_data(as_text=True), path
    assert _accept(client, invite).status_code == 400
    assert client.post(sign_in, data={"csrf_token": _token(client)}).status_code == 400
    assert not _signed_in_as_contact(client)
    with app.app_context():
        assert db.session.get(Contact, contact.id).password_hash is None
        assert db.session.scalars(sa.select(PortalLink.used_at)).all() == [None, None]


@pytest.mark.parametrize("token", ["nonsense", "x" * 300, "%00"])
def test_a_made_up_link_is_refused_with_a_page_never_a_500(client, token):
    for path in (f"/portal/invite/{token}", f"/portal/link/{token}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "not valid" in response.get_data(as_text=True) or "cannot be stored" in response.get_data(as_text=True)


# --- sign-in links --------------------------------------------------------------------------------------------


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address_and_only_a_known_one_gets_mail(app, make):
    contact = make.contact()
    inactive = make.contact(is_active_contact=False)
    user = make.user()
    answers = []
    for email in (contact.email, "nobody@customer.example", inactive.email, user.email):
        client = app.test_client()
        response = _ask_link(client, email)
        assert response.status_code == 302 and response.headers["Location"] == "/portal/login"
        # the CSRF token is signed with the second it was made: leave its value out of the comparison
        answers.append(re.sub(r'(<input[^>]*name="csrf_token"[^>]*value=")[^"]*', r"\1",
                              client.get("/portal/login").get_data(as_text=True)))
    assert "If that e-mail belongs to a contact, a link is on its way" in answers[0]
    assert len(set(answers)) == 1
    mails = _mails(app)
    assert [m.to_address for m in mails] == [contact.email]


def test_a_sign_in_link_shows_a_button_then_signs_in_once(app, client, make):
    contact = make.contact(password=None)
    _ask_link(client, contact.email)
    path = _link(_mails(app, contact.email)[-1], "link")
    # a mail scanner following the link uses nothing up
    assert client.get(path).status_code == 200
    page = client.get(path)
    assert page.status_code == 200 and "Sign in as" in page.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert _signed_in_as_contact(client)
    other = app.test_client()
    again = other.post(path, data={"csrf_token": _token(other)})
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, contact.id).last_login_at is not None


def test_a_sign_in_link_expires_after_fifteen_minutes(app, client, make):
    contact = make.contact()
    start = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    with frozen(start):
        _ask_link(client, contact.email)
    path = _link(_mails(app, contact.email)[-1], "link")
    token = _token(client)
    with frozen(start + timedelta(minutes=15, seconds=1)):
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert not _signed_in_as_contact(client)


def test_a_link_of_one_purpose_does_not_work_as_the_other(app, client, make):
    contact = make.contact(password=None)
    invite = _invite(app, contact)
    token = invite.rsplit("/", 1)[1]
    assert client.get(f"/portal/link/{token}").status_code == 400


def test_use_link_refuses_a_second_use_in_the_service(app, make):
    from psa.portal.services import LinkRefused, request_sign_in_link, use_link

    contact = make.contact()
    with app.test_request_context():
        request_sign_in_link(contact.email)
        db.session.commit()
    token = _link(_mails(app, contact.email)[-1], "link").rsplit("/", 1)[1]
    with app.app_context():
        assert use_link(token, "signin").id == contact.id
        db.session.commit()
        with pytest.raises(LinkRefused) as refused:
            use_link(token, "signin")
        assert refused.value.status == 410 and refused.value.message.startswith("This link has already been used")


def test_asking_for_links_is_throttled(app, make):
    client = app.test_client()
    for _ in range(10):
        assert _ask_link(client, "someone@customer.example").status_code == 302
    assert _ask_link(client, "someone@customer.example").status_code == 429
