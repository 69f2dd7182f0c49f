"""In-app notifications."""

from __future__ import annotations

import sqlalchemy as sa

from psa.core.db import utcnow
from psa.core.models import Notification
from psa.extensions import db


def notify(user, message: str, link: str | None = None) -> Notification:
    """Put a message in one user's in-app inbox."""
    note = Notification(user_id=user.id, message=message[:500], link=link)
    db.session.add(note)
    return note


def unread_count(user) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def mark_all_read(user) -> int:
    return db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount
