"""Contacts and their sign-ins: plain functions, no request objects (SPEC §1, §2 Contact).

A contact's sign-in is a ContactSession row named by a random token that the session and remember-me
cookies carry (Contact.get_id: "contact:<id>:<token>"), exactly as users' sign-ins (psa.auth.services):
ending the row (sign-out, password change, deactivation) ends every copy of the cookies."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa

from psa.accounts.models import Contact, ContactSession
from psa.auth.services import session_lifetime
from psa.core.db import utcnow
from psa.extensions import db


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_contact_session(contact: Contact) -> str:
    """Record a new sign-in of the contact and return its token (also set on contact.session_token)."""
    now = utcnow()
    db.session.execute(sa.delete(ContactSession).where(ContactSession.contact_id == contact.id,
                                                       ContactSession.created_at < now - session_lifetime()))
    token = secrets.token_urlsafe(32)
    db.session.add(ContactSession(contact_id=contact.id, token_hash=_token_hash(token), created_at=now))
    db.session.flush()
    contact.session_token = token
    return token


def contact_session(contact_id: int, token: str, now: datetime | None = None) -> Contact | None:
    """The active contact whose sign-in this token names, if it has not ended or expired (one statement)."""
    if not token:
        return None
    now = now or utcnow()
    contact = db.session.scalar(
        sa.select(Contact).join(ContactSession, ContactSession.contact_id == Contact.id)
        .where(Contact.id == contact_id, Contact.is_active_contact.is_(True),
               ContactSession.token_hash == _token_hash(token), ContactSession.ended_at.is_(None),
               ContactSession.created_at >= now - session_lifetime()))
    if contact is not None:
        contact.session_token = token
    return contact


def end_contact_session(contact: Contact, token: str | None) -> None:
    """End one sign-in (sign-out)."""
    if token:
        db.session.execute(sa.update(ContactSession).where(
            ContactSession.contact_id == contact.id, ContactSession.token_hash == _token_hash(token),
            ContactSession.ended_at.is_(None)).values(ended_at=utcnow()))


def end_all_contact_sessions(contact: Contact) -> int:
    """End every sign-in of the contact (password set or changed, deactivation); returns how many ended."""
    result = db.session.execute(sa.update(ContactSession).where(
        ContactSession.contact_id == contact.id, ContactSession.ended_at.is_(None)).values(ended_at=utcnow()))
    return result.rowcount
