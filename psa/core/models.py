"""Models every feature writes to: the audit trail, in-app notifications and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.core.db import UTCDateTime, utcnow
from psa.extensions import db


class AuditEvent(db.Model):
    """Who changed what, when, from what to what."""

    __tablename__ = "audit_events"
    __repr_fields__ = ("action", "object_type", "object_id")
    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id", "at", "id"),
                      sa.Index("ix_audit_events_type_at", "object_type", "at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The internal user who acted; None for the system (jobs, CLI).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The portal contact who acted (a sign-off, a rating, a task completed in the portal); actor_id is then None.
    actor_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    #: What was done, as a dotted verb ("user.role_changed").
    action: Mapped[str] = mapped_column(sa.String(64))
    #: The kind of object acted on ("user", "account", "settings"…).
    object_type: Mapped[str] = mapped_column(sa.String(40))
    #: Its id.
    object_id: Mapped[int | None] = mapped_column()
    #: The changed fields before and after, as JSON.
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    #: When it happened.
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = relationship("User", lazy="raise")


class Notification(db.Model):
    """A message in a user's in-app inbox."""

    __tablename__ = "notifications"
    __repr_fields__ = ("user_id", "message")
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The internal user it is for.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: One line of text.
    message: Mapped[str] = mapped_column(sa.String(500))
    #: A path inside the app to open, if any.
    link: Mapped[str | None] = mapped_column(sa.String(500))
    #: When it was created.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the user marked it read; None while unread.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


#: States of an outbox e-mail.
OUTBOX_STATES = ("pending", "sending", "sent", "failed")


class OutboxEmail(db.Model):
    """An e-mail waiting to be sent, or a record of one sent or given up on."""

    __tablename__ = "outbox_emails"
    __repr_fields__ = ("to_address", "state")
    __table_args__ = (
        sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name="state"),
        sa.Index("ix_outbox_emails_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Recipient address.
    to_address: Mapped[str] = mapped_column(sa.String(254))
    #: Subject line.
    subject: Mapped[str] = mapped_column(sa.String(200))
    #: Plain-text body.
    body: Mapped[str] = mapped_column(sa.Text)
    #: pending → sending (claimed by one sender) → sent; back to pending on error; failed after the last try.
    state: Mapped[str] = mapped_column(sa.String(10), default="pending")
    #: Delivery attempts made so far.
    attempts: Mapped[int] = mapped_column(default=0)
    #: When the current or last attempt started; a "sending" row older than the claim timeout is retried.
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The error of the last failed attempt.
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: A message that failed to send waits until then before its next attempt (backoff); None: now.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When it was queued and when it went out.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReminderSent(db.Model):
    """A reminder that went out (SPEC §2 Notification): one row per kind, recipient and subject, unique, so a
    second run of a reminder job (or two at once) sends nothing again. `recipient` is "user:<id>" or
    "contact:<id>"; `subject_key` names what it was about ("task:12:2026-12-10", "week:2026-11-30")."""

    __tablename__ = "reminders_sent"
    __repr_fields__ = ("kind", "recipient", "subject_key")
    __table_args__ = (sa.UniqueConstraint("kind", "recipient", "subject_key", name="uq_reminders_sent_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    recipient: Mapped[str] = mapped_column(sa.String(40))
    subject_key: Mapped[str] = mapped_column(sa.String(80))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
