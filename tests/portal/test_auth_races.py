"""Two uses of one single-use link at the same moment (threads released by a barrier): exactly one wins, the
other is refused and changes nothing. Meaningful on PostgreSQL, where the uses really overlap; SQLite
serializes writers, and the same assertions hold."""

from __future__ import annotations

import re

import sqlalchemy as sa

from psa.accounts.models import Contact, ContactSession, PortalLink
from psa.core.models import OutboxEmail
from psa.extensions import db
from tests.concurrency.helpers import ROUNDS, kinds, no_errors, race

THREADS = 2


def _token(app, contact_id, purpose) -> str:
    from psa.portal.services import invite_contact, request_sign_in_link

    with app.test_request_context():
        contact = db.session.get(Contact, contact_id)
        if purpose == "invite":
            invite_contact(None, contact)
        else:
            request_sign_in_link(contact.email)
        db.session.commit()
        body = db.session.scalars(sa.select(OutboxEmail.body).order_by(OutboxEmail.id.desc())).first()
    return re.search(r"/portal/(?:invite|link)/([A-Za-z0-9_\-]+)", body).group(1)


def test_two_simultaneous_uses_of_a_sign_in_link_have_one_winner(app, make):
    from psa.portal.services import sign_in_with_link, start_contact_session

    contact = make.contact()
    for _ in range(ROUNDS):
        token = _token(app, contact.id, "signin")

        def use(i, go, token=token):
            go()
            signed_in = sign_in_with_link(token)
            start_contact_session(signed_in)
            db.session.commit()
            return signed_in.id

        outcomes = race(app, use, threads=THREADS)
        no_errors(outcomes)
        assert kinds(outcomes) == ["invalid", "ok"]
        refused = next(o for o in outcomes if o.kind == "invalid")
        assert refused.value.status == 410
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ContactSession.id))) == ROUNDS
        assert db.session.scalar(sa.select(sa.func.count(PortalLink.id)).where(PortalLink.used_at.is_(None))) == 0


def test_two_simultaneous_acceptances_of_an_invitation_set_one_password(app, make):
    from psa.portal.services import accept_invitation

    contact = make.contact(password=None)
    token = _token(app, contact.id, "invite")

    def accept(i, go):
        go()
        accept_invitation(token, f"password-of-thread-{i}")
        db.session.commit()
        return i

    outcomes = race(app, accept, threads=THREADS)
    no_errors(outcomes)
    assert kinds(outcomes) == ["invalid", "ok"]
    winner = next(o.value for o in outcomes if o.kind == "ok")
    with app.app_context():
        row = db.session.get(Contact, contact.id)
        assert row.check_password(f"password-of-thread-{winner}")
        assert not row.check_password(f"password-of-thread-{1 - winner}")
