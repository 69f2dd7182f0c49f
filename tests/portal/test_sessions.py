"""A contact's sign-in is a contact's only: it never loads an internal user of the same id, never reaches an
internal page (404, as a page that does not exist), and ends with deactivation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from psa.extensions import db
from tests.conftest import login_as
from tests.portal.helpers import login_contact


def test_a_contact_on_an_internal_page_gets_404(app, client, make):
    contact = make.contact()
    make.user(role="admin")  # an internal user whose id may equal the contact's
    login_contact(app, client, contact)
    for path in ("/", "/projects/1", "/timesheets", "/admin/users", "/admin/audit", "/notifications"):
        assert client.get(path).status_code == 404, path
    assert client.get("/healthz").status_code in (200, 503)  # assets and health stay reachable
    assert client.get("/branding.css").status_code == 200


def test_a_contact_session_id_never_loads_a_user_and_the_reverse(app, make):
    from psa.core.auth import load_user

    user = make.user(role="admin")
    contact = make.contact()
    with app.test_request_context():
        from psa.accounts.models import Contact
        from psa.auth.models import User
        from psa.auth.services import start_session
        from psa.portal.services import start_contact_session

        user_token = start_session(db.session.get(User, user.id))
        contact_token = start_contact_session(db.session.get(Contact, contact.id))
        db.session.commit()
        assert load_user(f"contact:{user.id}:{user_token}") is None
        assert load_user(f"user:{contact.id}:{contact_token}") is None
        assert load_user(f"contact:{contact.id}:{contact_token}").email == contact.email
        assert load_user(f"user:{user.id}:{user_token}").email == user.email


def test_deactivating_a_contact_ends_their_sign_in(app, client, make):
    from psa.accounts.models import Contact
    from psa.core.auth import load_user

    contact = make.contact()
    token = login_contact(app, client, contact)
    with app.test_request_context():
        assert load_user(f"contact:{contact.id}:{token}") is not None
        db.session.execute(sa.update(Contact).where(Contact.id == contact.id).values(is_active_contact=False))
        db.session.commit()
        assert load_user(f"contact:{contact.id}:{token}") is None


@pytest.mark.parametrize("path", ["/portal/", "/portal/projects/1"])
def test_an_internal_session_is_not_a_contacts(app, client, make, path):
    login_as(client, make.user(role="admin"))
    response = client.get(path)
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert "/portal/login" in response.headers["Location"]
