"""What the JSON API keeps: bearer tokens (stored hashed), the answers to writes sent with an Idempotency-Key, and
the CRM deals already turned into projects."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.core.db import UTCDateTime, utcnow
from psa.extensions import db


class ApiToken(db.Model):
    """A named bearer token acting with its user's permissions. Only the SHA-256 of the secret is stored; the
    secret is shown once, when the token is made. `prefix` (the secret's first characters) names it in lists."""

    __tablename__ = "api_tokens"
    __repr_fields__ = ("name", "user_id", "prefix")
    #: One token per (user, form_key): the new-token form carries a random key, so a page refreshed after making a
    #: token (the browser sending the POST again) or a double click never makes a second one.
    __table_args__ = (sa.Index("uq_api_tokens_user_id_form_key", "user_id", "form_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The random key of the form that made it (None from the command line).
    form_key: Mapped[str | None] = mapped_column(sa.String(64))

    user = relationship("User", lazy="joined")


class IdempotencyRecord(db.Model):
    """The answer given to a write sent with an Idempotency-Key: the same key and body again gets the same answer
    and changes nothing. The unique (token, key) pair decides between two requests racing with one key."""

    __tablename__ = "api_idempotency"
    __repr_fields__ = ("token_id", "key", "status_code")
    __table_args__ = (sa.UniqueConstraint("token_id", "key", name="uq_api_idempotency_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    #: SHA-256 of method, path and raw body: the same key with another request is refused (422).
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    #: None while the first request is still running (a second one meanwhile gets 409).
    status_code: Mapped[int | None] = mapped_column()
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DealWon(db.Model):
    """A CRM deal turned into a project by POST /api/v1/hooks/deal-won: the unique deal id makes a replay answer
    with the same project instead of creating a second one."""

    __tablename__ = "crm_deals"
    __repr_fields__ = ("deal_id", "project_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
