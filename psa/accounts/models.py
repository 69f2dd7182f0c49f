"""The customer account and its contacts, the people at the customer who sign in to the portal (SPEC §2):
their sign-ins and the single-use links e-mailed to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from psa.auth.models import User
from psa.core.db import ExactNumeric, UTCDateTime, utcnow
from psa.extensions import db

#: Service segments: how much hands-on attention the customer gets.
SEGMENTS = ("high", "mid", "low")
SEGMENT_LABELS = {"high": "High touch", "mid": "Mid touch", "low": "Low touch"}


class Account(db.Model):
    """A customer company."""

    __tablename__ = "accounts"
    __repr_fields__ = ("name",)
    __table_args__ = (
        sa.CheckConstraint("segment IN ('high', 'mid', 'low')", name="segment"),
        sa.CheckConstraint("arr >= 0", name="arr"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Company name; unique so imports and the CRM hook can match on it.
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    #: Service segment, one of SEGMENTS.
    segment: Mapped[str] = mapped_column(sa.String(10), default="mid")
    #: Internal user who owns the relationship; told of level-3 escalations.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: Annual recurring revenue of the contract, in the installation's currency.
    arr: Mapped[Decimal] = mapped_column(ExactNumeric(14, 2), default=Decimal("0"))
    #: When the account was created.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: E-mail domains its portal contacts may have ("contoso.com, contoso.de"); empty: any domain.
    allowed_email_domains: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    owner: Mapped[User | None] = relationship(lazy="raise")

    @property
    def segment_label(self) -> str:
        return SEGMENT_LABELS.get(self.segment, self.segment)


#: Who the contact is for the project (SPEC §2).
STAKEHOLDER_ROLES = ("executive_sponsor", "project_lead", "daily_user")
STAKEHOLDER_LABELS = {"executive_sponsor": "Executive sponsor", "project_lead": "Project lead",
                      "daily_user": "Daily user"}
#: How much of a project the contact sees in the portal (as GUIDEcx offers): the milestones only, the whole
#: customer-facing project, or only the tasks assigned to them.
VIEW_LEVELS = ("overview", "full", "my_tasks")
VIEW_LEVEL_LABELS = {"overview": "Overview only", "full": "Full project", "my_tasks": "My tasks only"}
#: Single-use links: an invitation (set a password, 7 days) and an e-mailed sign-in link (15 minutes).
LINK_PURPOSES = ("invite", "signin")


class Contact(UserMixin, db.Model):
    """A person at the customer who signs in to the portal, tied to exactly one account; never an internal
    user (no role: psa.core.auth.is_internal is False for a contact)."""

    __tablename__ = "contacts"
    __repr_fields__ = ("email", "account_id")
    __table_args__ = (
        sa.CheckConstraint("stakeholder_role IN ('executive_sponsor', 'project_lead', 'daily_user')",
                           name="stakeholder_role"),
        sa.CheckConstraint("view_level IN ('overview', 'full', 'my_tasks')", name="view_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    #: Sign-in name, stored lower-case; unique among contacts (a person is a contact of one account).
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    title: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    stakeholder_role: Mapped[str] = mapped_column(sa.String(20), default="daily_user")
    view_level: Mapped[str] = mapped_column(sa.String(10), default="full")
    #: Werkzeug hash; None until the contact accepts an invitation (a sign-in link works without one).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    #: A deactivated contact cannot sign in, and their sign-ins end at once.
    is_active_contact: Mapped[bool] = mapped_column("is_active", sa.Boolean, default=True)
    #: The contact may turn off reminder e-mails (the opt-out link in each one).
    email_opt_out: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(lazy="raise")

    #: Not a column: contacts hold no internal role (psa.core.auth checks roles).
    role = None
    #: The token of the sign-in this object was loaded for (set by the session loader), not a column.
    session_token = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive contacts
        return bool(self.is_active_contact)

    @property
    def is_contact(self) -> bool:
        return True

    def get_id(self) -> str:
        """What the session and the remember-me cookie hold: "contact:<id>:<token>" (users are "user:...")."""
        return f"contact:{self.id}:{self.session_token or ''}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)


class ContactSession(db.Model):
    """One sign-in of a contact on one device, named by a random token the cookies carry (as UserSession)."""

    __tablename__ = "contact_sessions"
    __repr_fields__ = ("contact_id", "ended_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalLink(db.Model):
    """A single-use link e-mailed to a contact: an invitation to set a password (7 days) or a sign-in link
    (15 minutes). Used by a conditional update (used_at IS NULL and not expired): it works once, even twice
    clicked at the same moment."""

    __tablename__ = "portal_links"
    __repr_fields__ = ("contact_id", "purpose", "used_at")
    __table_args__ = (sa.CheckConstraint("purpose IN ('invite', 'signin')", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(10))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
