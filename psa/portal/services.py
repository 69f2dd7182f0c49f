"""Contacts and their sign-ins: plain functions, no request objects (SPEC §1, §2 Contact).

A contact's sign-in is a ContactSession row named by a random token that the session and remember-me
cookies carry (Contact.get_id: "contact:<id>:<token>"), exactly as users' sign-ins (psa.auth.services):
ending the row (sign-out, password change, deactivation) ends every copy of the cookies."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from psa.accounts.models import STAKEHOLDER_ROLES, VIEW_LEVELS, Account, Contact, ContactSession, PortalLink
from psa.admin.services import get_settings
from psa.auth.services import PASSWORD_MAX, check_password_rules, external_url, session_lifetime
from psa.core.audit import record_audit, snapshot
from psa.core.db import unique_or_field_error, utcnow
from psa.core.emails import check_email, normalise_email
from psa.core.errors import ValidationError
from psa.core.mail import queue_email
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


# --- contacts: created, changed, (de)activated by internal users -------------------------------------------
CONTACT_FIELDS = ("name", "email", "title", "stakeholder_role", "view_level", "is_active_contact")
EMAIL_TAKEN = "A contact with this e-mail already exists."
#: The e-mail is unique among contacts: an address another request took meanwhile is a message at the field.
EMAIL_UNIQUE = {"uq_contacts_email": ("email", EMAIL_TAKEN)}
#: How long each kind of link works.
LINK_LIFETIMES = {"invite": timedelta(days=7), "signin": timedelta(minutes=15)}
#: A hash compared against when the e-mail is unknown, so timing does not reveal who is a contact.
_DUMMY_HASH = "scrypt:32768:8:1$k1hbm2ZeCGNy9Bcr$" + "0" * 128
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

LINK_NOT_VALID = "This link is not valid. Ask for a new one."
LINK_USED = "This link has already been used. Ask for a new one."
LINK_EXPIRED = "This link has expired. Ask for a new one."


class LinkRefused(ValidationError):
    """A single-use link that cannot be used: `message` says why, `status` is the page's answer (400: not a
    link of ours, or its contact is deactivated; 410: used already, or expired)."""

    def __init__(self, message: str, status: int):
        super().__init__({"token": message})
        self.message = message
        self.status = status


def find_contact_by_email(email: str) -> Contact | None:
    return db.session.scalar(sa.select(Contact).where(Contact.email == normalise_email(email)))


def parse_domains(text: str | None) -> list[str]:
    """The domains of an allowed-domains text ("contoso.com, contoso.de"), lower-case, "@" dropped."""
    parts = (text or "").replace(";", ",").replace("\n", ",").replace(" ", ",").split(",")
    return [part.strip().lower().lstrip("@") for part in parts if part.strip()]


def email_domain_allowed(account: Account, email: str) -> bool:
    domains = parse_domains(account.allowed_email_domains)
    return not domains or email.rpartition("@")[2] in domains


def _domain_message(account: Account) -> str:
    return ("Use an address at " + ", ".join(parse_domains(account.allowed_email_domains))
            + " (the account's allowed e-mail domains).")


def set_allowed_email_domains(actor, account: Account, text: str) -> Account:
    """Limit the account's contacts (new ones, changed addresses, invitations) to these e-mail domains;
    empty allows any domain."""
    domains = parse_domains(text)
    bad = [d for d in domains if not _DOMAIN_RE.match(d)]
    if bad:
        raise ValidationError({"allowed_email_domains": f"“{bad[0][:60]}” is not a domain; write domains like "
                                                        "contoso.com, separated by commas."})
    value = ", ".join(dict.fromkeys(domains))
    if len(value) > 500:
        raise ValidationError({"allowed_email_domains": "Use at most 500 characters."})
    before = snapshot(account, ("allowed_email_domains",))
    account.allowed_email_domains = value
    after = snapshot(account, ("allowed_email_domains",))
    if before != after:
        record_audit(actor, "account.domains_changed", account, before, after)
    return account


def _clean_contact(account: Account, contact: Contact | None, *, name: str, email: str, title: str,
                   stakeholder_role: str, view_level: str) -> dict:
    """The fields as stored, or every refusal at its field."""
    errors: dict[str, str] = {}
    name, title = (name or "").strip(), (title or "").strip()
    if not name:
        errors["name"] = "Enter the contact's name."
    elif len(name) > 120:
        errors["name"] = "Use at most 120 characters."
    if len(title) > 120:
        errors["title"] = "Use at most 120 characters."
    try:
        email = check_email(email)
    except ValidationError as exc:
        errors.update(exc.errors)
    else:
        existing = find_contact_by_email(email)
        if existing is not None and existing is not contact:
            errors["email"] = EMAIL_TAKEN
        elif not email_domain_allowed(account, email):
            errors["email"] = _domain_message(account)
    if stakeholder_role not in STAKEHOLDER_ROLES:
        errors["stakeholder_role"] = "Choose executive sponsor, project lead or daily user."
    if view_level not in VIEW_LEVELS:
        errors["view_level"] = "Choose overview only, full project or my tasks only."
    if errors:
        raise ValidationError(errors)
    return dict(name=name, email=email, title=title, stakeholder_role=stakeholder_role, view_level=view_level)


def create_contact(actor, account: Account, *, name: str, email: str, title: str = "",
                   stakeholder_role: str = "daily_user", view_level: str = "full") -> Contact:
    """Add a contact to the account; they sign in once invited (invite_contact) or by an e-mailed link."""
    fields = _clean_contact(account, None, name=name, email=email, title=title,
                            stakeholder_role=stakeholder_role, view_level=view_level)
    contact = Contact(account_id=account.id, is_active_contact=True, **fields)
    with unique_or_field_error(EMAIL_UNIQUE):
        db.session.add(contact)
    record_audit(actor, "contact.created", contact, after=snapshot(contact, CONTACT_FIELDS))
    return contact


def update_contact(actor, contact: Contact, *, name: str, email: str, title: str, stakeholder_role: str,
                   view_level: str) -> Contact:
    account = db.session.get(Account, contact.account_id)
    fields = _clean_contact(account, contact, name=name, email=email, title=title,
                            stakeholder_role=stakeholder_role, view_level=view_level)
    before = snapshot(contact, CONTACT_FIELDS)
    with unique_or_field_error(EMAIL_UNIQUE):
        for key, value in fields.items():
            setattr(contact, key, value)
    after = snapshot(contact, CONTACT_FIELDS)
    if before != after:
        record_audit(actor, "contact.updated", contact, before, after)
    return contact


def set_contact_active(actor, contact: Contact, active: bool) -> Contact:
    """Deactivate (every sign-in of the contact ends at once; their links stop working) or reactivate."""
    if contact.is_active_contact != active:
        before = snapshot(contact, ("is_active_contact",))
        contact.is_active_contact = active
        if not active:
            end_all_contact_sessions(contact)
        db.session.flush()
        record_audit(actor, "contact.activated" if active else "contact.deactivated", contact, before,
                     snapshot(contact, ("is_active_contact",)))
    return contact


# --- single-use links: invitations (7 days) and sign-in links (15 minutes) --------------------------------


def _brand_name() -> str:
    settings = get_settings()
    return settings.brand_name or settings.org_name


def _new_link(contact: Contact, purpose: str) -> str:
    """Store a new link (only the SHA-256 of its token) and return the token. Earlier unused links of the same
    purpose stop working: the newest one e-mailed is the one that counts."""
    now = utcnow()
    db.session.execute(sa.update(PortalLink).where(
        PortalLink.contact_id == contact.id, PortalLink.purpose == purpose, PortalLink.used_at.is_(None),
        PortalLink.expires_at > now).values(expires_at=now))
    token = secrets.token_urlsafe(32)
    db.session.add(PortalLink(contact_id=contact.id, purpose=purpose, token_hash=_token_hash(token),
                              created_at=now, expires_at=now + LINK_LIFETIMES[purpose]))
    db.session.flush()
    return token


def invite_contact(actor, contact: Contact) -> PortalLink:
    """E-mail the contact an invitation: a link, valid 7 days and working once, to choose a password (sent
    again, the earlier invitation stops working)."""
    if not contact.is_active_contact:
        raise ValidationError({"contact": f"{contact.name} is deactivated; reactivate them before inviting."})
    account = db.session.get(Account, contact.account_id)
    if not email_domain_allowed(account, contact.email):
        raise ValidationError({"email": _domain_message(account)})
    token = _new_link(contact, "invite")
    brand = _brand_name()
    link = external_url("portal.accept_invitation", token=token)
    inviter = getattr(actor, "name", None) or brand
    queue_email(
        contact.email,
        f"{brand}: your invitation to the customer portal",
        f"Hello {contact.name},\n\n{inviter} has invited you to the {brand} customer portal, where you can follow "
        f"{account.name}'s projects with us.\n\nChoose your password here (the link works once, for 7 days):\n\n"
        f"{link}\n\nAfterwards, sign in at {external_url('portal.login')}\n",
    )
    contact.invited_at = utcnow()
    record_audit(actor, "contact.invited", contact)
    return db.session.scalar(sa.select(PortalLink).where(PortalLink.token_hash == _token_hash(token)))


def request_sign_in_link(email: str) -> None:
    """E-mail a sign-in link (15 minutes, works once) to the active contact with this address. The caller's
    answer is the same either way, and the work is of the same shape: one look-up, one token made and hashed;
    only a known active contact gets a link stored and an e-mail."""
    contact = find_contact_by_email(email) if email else None
    if contact is None or not contact.is_active_contact:
        _token_hash(secrets.token_urlsafe(32))
        return
    token = _new_link(contact, "signin")
    brand = _brand_name()
    queue_email(
        contact.email,
        f"{brand}: your sign-in link",
        f"Hello {contact.name},\n\nSomeone (we hope you) asked for a link to sign in to the {brand} customer "
        f"portal. It works once, for 15 minutes:\n\n{external_url('portal.sign_in_link', token=token)}\n\n"
        "If you did not ask, ignore this e-mail.\n",
    )
    record_audit(None, "contact.sign_in_link_sent", contact)


def check_link(token: str, purpose: str) -> Contact:
    """The contact a link is for, if it can still be used (nothing is changed), or LinkRefused with why."""
    now = utcnow()
    row = db.session.execute(
        sa.select(PortalLink, Contact).join(Contact, Contact.id == PortalLink.contact_id)
        .where(PortalLink.token_hash == _token_hash(token or ""), PortalLink.purpose == purpose)).first()
    if row is None or not row.Contact.is_active_contact:
        raise LinkRefused(LINK_NOT_VALID, 400)
    if row.PortalLink.used_at is not None:
        raise LinkRefused(LINK_USED, 410)
    if row.PortalLink.expires_at <= now:
        raise LinkRefused(LINK_EXPIRED, 410)
    return row.Contact


def use_link(token: str, purpose: str) -> Contact:
    """Use a link: one conditional update (not used, not expired, its contact active) that exactly one of any
    number of simultaneous uses wins; the others, and a link used or expired before, get LinkRefused and
    change nothing. A deactivated contact's link does nothing."""
    if not token or len(token) > 200:
        raise LinkRefused(LINK_NOT_VALID, 400)
    now = utcnow()
    token_hash = _token_hash(token)
    active = sa.select(Contact.id).where(Contact.is_active_contact.is_(True))
    won = db.session.execute(
        sa.update(PortalLink)
        .where(PortalLink.token_hash == token_hash, PortalLink.purpose == purpose, PortalLink.used_at.is_(None),
               PortalLink.expires_at > now, PortalLink.contact_id.in_(active.scalar_subquery()))
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if won != 1:
        check_link(token, purpose)  # says why
        raise LinkRefused(LINK_USED, 410)  # used meanwhile
    contact_id = db.session.scalar(sa.select(PortalLink.contact_id).where(PortalLink.token_hash == token_hash))
    return db.session.get(Contact, contact_id)


def accept_invitation(token: str, password: str) -> Contact:
    """Set the contact's password through their invitation link (used once by it); every other sign-in of the
    contact ends. The caller signs them in."""
    check_password_rules(password)
    contact = use_link(token, "invite")
    contact.set_password(password)
    end_all_contact_sessions(contact)
    contact.last_login_at = utcnow()
    record_audit(contact, "contact.invitation_accepted", contact)
    return contact


def sign_in_with_link(token: str) -> Contact:
    """Use an e-mailed sign-in link; the caller signs the contact in."""
    contact = use_link(token, "signin")
    contact.last_login_at = utcnow()
    record_audit(contact, "contact.signed_in_by_link", contact)
    return contact


def authenticate_contact(email: str, password: str) -> Contact | None:
    """The active contact with this e-mail and password, or None (the same work when the e-mail is unknown)."""
    contact = find_contact_by_email(email) if email else None
    password = (password or "")[:PASSWORD_MAX]
    if contact is None or not contact.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not contact.check_password(password) or not contact.is_active_contact:
        return None
    contact.last_login_at = utcnow()
    return contact
