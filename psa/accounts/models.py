"""The customer account (SPEC §2)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

    owner: Mapped[User | None] = relationship(lazy="raise")

    @property
    def segment_label(self) -> str:
        return SEGMENT_LABELS.get(self.segment, self.segment)
