"""Portal test helpers: sign a contact in without the form (the form has its own tests), by starting a
sign-in through the service and putting its id in the test client's session, as Flask-Login would."""

from __future__ import annotations

from psa.extensions import db


def login_contact(app, client, contact) -> str:
    """Start a sign-in for `contact` (psa.portal.services) and make `client` carry it; returns the token."""
    from psa.accounts.models import Contact
    from psa.portal.services import start_contact_session

    with app.app_context():
        row = db.session.get(Contact, contact.id)
        token = start_contact_session(row)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = f"contact:{contact.id}:{token}"
        session["_fresh"] = True
    return token
