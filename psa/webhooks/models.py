"""Outgoing webhooks: endpoints an admin registers for chosen events, and one delivery per event and endpoint,
signed, sent by a job with retries and logged."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.core.db import UTCDateTime, utcnow
from psa.extensions import db

#: The events an endpoint may subscribe to.
WEBHOOK_EVENTS = {
    "project.created": "Project created",
    "milestone.completed": "Milestone completed",
    "milestone.signed_off": "Milestone signed off",
    "project.health_changed": "Project health changed",
    "escalation.opened": "Escalation opened",
    "escalation.raised": "Escalation raised",
    "escalation.resolved": "Escalation resolved",
    "timesheet.approved": "Timesheet approved",
    "webhook.test": "Test delivery",
}
#: pending (waiting for its first or next attempt) → delivered (a 2xx answer) or failed (attempts exhausted).
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookEndpoint(db.Model):
    """A URL that receives the chosen events, each delivery signed with the endpoint's secret."""

    __tablename__ = "webhook_endpoints"
    __repr_fields__ = ("url", "active")

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    secret: Mapped[str] = mapped_column(sa.String(100))
    #: The subscribed event names, space-separated (keys of WEBHOOK_EVENTS).
    events: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return [name for name in self.events.split() if name]


class WebhookDelivery(db.Model):
    """One event sent (or to be sent) to one endpoint: the exact body signed, each attempt's answer, the state."""

    __tablename__ = "webhook_deliveries"
    __repr_fields__ = ("endpoint_id", "event", "state", "attempts")
    __table_args__ = (
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
        sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(50))
    #: The JSON body exactly as signed and sent.
    payload: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None] = mapped_column()
    error: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint = relationship("WebhookEndpoint", lazy="joined")
