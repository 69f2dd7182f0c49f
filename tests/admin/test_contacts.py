"""An account's contacts, managed by internal users holding "accounts.manage" from the account page: added,
changed, deactivated and reactivated, invited (again), limited to the account's allowed e-mail domains."""

from __future__ import annotations

import sqlalchemy as sa

from psa.accounts.models import Account, Contact, ContactSession
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from tests.conftest import login_as, post_form


def _contact_form(**fields):
    return {"name": "Pat Customer", "email": "pat@contoso.com", "title": "CFO",
            "stakeholder_role": "executive_sponsor", "view_level": "overview", **fields}


def _contacts(app, account_id):
    with app.app_context():
        rows = db.session.scalars(sa.select(Contact).where(Contact.account_id == account_id)
                                  .order_by(Contact.id)).all()
        db.session.expunge_all()
        return rows


def test_a_manager_adds_a_contact_and_sees_it_on_the_account_page(app, client, make):
    manager = make.user(role="manager")
    account = make.account(name="Contoso")
    login_as(client, manager)
    page = client.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert "No contacts yet" in page and f"/admin/accounts/{account.id}/contacts/new" in page
    response = post_form(client, f"/admin/accounts/{account.id}/contacts/new", _contact_form(email=" Pat@Contoso.COM"))
    assert response.status_code == 302
    [contact] = _contacts(app, account.id)
    assert (contact.email, contact.stakeholder_role, contact.view_level, contact.title) == (
        "pat@contoso.com", "executive_sponsor", "overview", "CFO")
    page = client.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    for text in ("Pat Customer", "pat@contoso.com", "Executive sponsor", "Overview only", "Not invited yet",
                 "Send invitation", "Deactivate"):
        assert text in page, text
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "contact.created"))
        assert event.actor_id == manager.id and event.object_id == contact.id


def test_bad_contact_input_gets_messages_at_the_fields(app, client, make):
    account = make.account()
    make.contact(email="taken@contoso.com")
    login_as(client, make.user(role="admin"))
    path = f"/admin/accounts/{account.id}/contacts/new"
    for fields, message in (({"email": "not-an-address"}, "Enter a valid e-mail address"),
                            ({"email": "TAKEN@contoso.com"}, "A contact with this e-mail already exists."),
                            ({"name": ""}, "This field is required."),
                            ({"view_level": "everything"}, "Not a valid choice")):
        response = post_form(client, path, _contact_form(**fields))
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    assert _contacts(app, account.id) == []


def test_allowed_domains_refuse_other_domains_at_the_field(app, client, make):
    account = make.account()
    login_as(client, make.user(role="admin"))
    response = post_form(client, f"/admin/accounts/{account.id}/contact-domains",
                         {"allowed_email_domains": "Contoso.com; @contoso.de"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Account, account.id).allowed_email_domains == "contoso.com, contoso.de"
    response = post_form(client, f"/admin/accounts/{account.id}/contacts/new", _contact_form(email="pat@gmail.com"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Use an address at contoso.com, contoso.de" in html and "invalid-feedback" in html
    assert post_form(client, f"/admin/accounts/{account.id}/contacts/new",
                     _contact_form(email="pat@contoso.de")).status_code == 302
    bad = post_form(client, f"/admin/accounts/{account.id}/contact-domains", {"allowed_email_domains": "not a domain!"})
    assert bad.status_code == 400 and "is not a domain" in bad.get_data(as_text=True)


def test_an_invitation_outside_the_allowed_domains_is_refused(app, client, make):
    account = make.account()
    contact = make.contact(account, email="pat@gmail.com", password=None)
    with app.app_context():
        db.session.get(Account, account.id).allowed_email_domains = "contoso.com"
        db.session.commit()
    login_as(client, make.user(role="admin"))
    response = post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/invite")
    assert response.status_code == 302
    assert "Use an address at contoso.com" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0


def test_send_and_resend_an_invitation_from_the_account_page(app, client, make):
    account = make.account()
    contact = make.contact(account, password=None)
    login_as(client, make.user(role="manager"))
    path = f"/admin/accounts/{account.id}/contacts/{contact.id}/invite"
    assert post_form(client, path).status_code == 302
    assert "Resend invitation" in client.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert post_form(client, path).status_code == 302
    with app.app_context():
        mails = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == contact.email)).all()
        assert len(mails) == 2 and all("/portal/invite/" in m.body for m in mails)
        assert db.session.get(Contact, contact.id).invited_at is not None


def test_edit_deactivate_and_reactivate_a_contact(app, client, make):
    from tests.portal.helpers import login_contact

    account = make.account()
    contact = make.contact(account)
    login_contact(app, app.test_client(), contact)
    login_as(client, make.user(role="leader"))
    response = post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}",
                         _contact_form(email=contact.email, name="Renamed", view_level="my_tasks"))
    assert response.status_code == 302
    assert post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/active",
                     {"active": "0"}).status_code == 302
    with app.app_context():
        row = db.session.get(Contact, contact.id)
        assert (row.name, row.view_level, row.is_active_contact) == ("Renamed", "my_tasks", False)
        assert db.session.scalar(sa.select(sa.func.count(ContactSession.id))
                                 .where(ContactSession.ended_at.is_(None))) == 0
    page = client.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert "Deactivated" in page and "Reactivate" in page
    # a deactivated contact is not invited
    post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/invite")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0
    assert post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/active",
                     {"active": "1"}).status_code == 302
    with app.app_context():
        assert db.session.get(Contact, contact.id).is_active_contact is True
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["contact.updated", "contact.deactivated", "contact.activated"]


def test_a_contact_of_another_account_is_404_under_this_one(client, make):
    account, other = make.account(), make.account()
    contact = make.contact(other)
    login_as(client, make.user(role="admin"))
    assert client.get(f"/admin/accounts/{account.id}/contacts/{contact.id}").status_code == 404
    assert post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/active",
                     {"active": "0"}).status_code == 404


def test_a_consultant_cannot_manage_contacts(app, client, make):
    account = make.account()
    contact = make.contact(account)
    login_as(client, make.user(role="consultant"))
    assert client.get(f"/admin/accounts/{account.id}/contacts/new").status_code == 403
    assert post_form(client, f"/admin/accounts/{account.id}/contacts/{contact.id}/invite").status_code == 403
