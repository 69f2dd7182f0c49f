"""Internal users: the team, leaders and admins (SPEC §1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from psa.core.db import ExactNumeric, UTCDateTime, exact_between, utcnow
from psa.extensions import db

#: Internal roles, most powerful first.
ROLES = ("admin", "leader", "manager", "consultant")
ROLE_LABELS = {
    "admin": "Admin",
    "leader": "PS leader",
    "manager": "Project manager",
    "consultant": "Consultant",
}


class User(UserMixin, db.Model):
    """A person on the implementation side who signs in to the internal app."""

    __tablename__ = "users"
    __repr_fields__ = ("email", "role")
    __table_args__ = (
        sa.CheckConstraint("role IN ('admin', 'leader', 'manager', 'consultant')", name="role"),
        sa.CheckConstraint(exact_between("weekly_capacity_hours", ExactNumeric(5, 2), 0, 168), name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name, stored lower-case; unique across internal users.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    #: Full name as shown to colleagues and customers.
    name: Mapped[str] = mapped_column(sa.String(120))
    #: One of ROLES; decides what the user may see and do.
    role: Mapped[str] = mapped_column(sa.String(20))
    #: Werkzeug hash; None until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    #: IANA time zone the user's dates and times are shown in.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    #: Hours a week the user can work; the base of utilization.
    weekly_capacity_hours: Mapped[Decimal] = mapped_column(ExactNumeric(5, 2), default=Decimal("40"))
    #: A deactivated user cannot sign in and is signed out at the next request.
    is_active_user: Mapped[bool] = mapped_column("is_active", sa.Boolean, default=True)
    #: The manager who approves this user's timesheets (leaders and admins can approve anyone's).
    approver_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: When the account was created.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Last successful sign-in.
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.is_active_user)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    #: The token of the sign-in this object was loaded for (set by start_session and load_user), not a column.
    session_token = None

    def get_id(self) -> str:
        """What the session and the remember-me cookie hold: the user and the sign-in ("user:12:<token>")."""
        return f"user:{self.id}:{self.session_token or ''}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class UserSession(db.Model):
    """One sign-in on one device: the browser's session and remember-me cookie name it by a random token."""

    __tablename__ = "user_sessions"
    __repr_fields__ = ("user_id", "ended_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Whose sign-in this is.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the random token the cookies carry; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: When the user signed in.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When it was ended (sign-out, password change or reset, deactivation); None while it lasts.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
