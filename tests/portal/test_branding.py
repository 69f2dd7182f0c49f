"""Branding from settings on every portal page and e-mail: the brand name, the logo and the accent colour
(served as /branding.css, which every portal page links, since the CSP forbids inline styles)."""

from __future__ import annotations

import sqlalchemy as sa

from psa.core.models import OutboxEmail
from psa.extensions import db
from tests.conftest import login_as
from tests.portal.helpers import login_contact
from tests.portal.world import world

BRAND = "Northstar Onboarding"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _brand(app):
    from psa.admin.services import save_logo, update_settings

    with app.app_context():
        update_settings(None, brand_name=BRAND, brand_accent_color="#7a1fa2")
        save_logo(None, PNG)
        db.session.commit()


def _branded(html: str) -> bool:
    return BRAND in html and 'href="/branding.css"' in html and 'src="/branding/logo"' in html


def test_every_portal_page_carries_the_brand(app, client, make):
    w = world(app, make)
    _brand(app)
    assert "#7a1fa2" in client.get("/branding.css").get_data(as_text=True)
    anonymous = ["/portal/login", "/portal/link"]
    for path in anonymous:
        assert _branded(client.get(path).get_data(as_text=True)), path
    login_contact(app, client, w["full"])
    for path in ("/portal/", f"/portal/projects/{w['a']['project']}"):
        response = client.get(path)
        assert response.status_code == 200 and _branded(response.get_data(as_text=True)), path
    staff = app.test_client()
    login_as(staff, w["manager"])
    preview = staff.get(f"/portal/preview/projects/{w['a']['project']}?contact={w['full'].id}")
    assert preview.status_code == 200 and _branded(preview.get_data(as_text=True))


def test_portal_e_mails_carry_the_brand(app, make):
    from psa.accounts.models import Contact
    from psa.portal.services import invite_contact, request_sign_in_link

    _brand(app)
    contact = make.contact(name="Dana Doe")
    with app.test_request_context():
        invite_contact(None, db.session.get(Contact, contact.id))
        request_sign_in_link(contact.email)
        db.session.commit()
        mails = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == contact.email)).all()
    assert len(mails) == 2
    for mail in mails:
        assert BRAND in mail.subject or BRAND in mail.body, mail.subject
