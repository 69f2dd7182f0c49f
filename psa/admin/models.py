"""Installation-wide settings and the holiday calendar (SPEC §2, Settings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from psa.core.db import ExactNumeric, UTCDateTime, utcnow
from psa.extensions import db

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Settings(db.Model):
    """The single row of organisation-wide settings."""

    __tablename__ = "settings"
    __repr_fields__ = ("org_name",)
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="singleton"),
        sa.CheckConstraint(
            "escalation_level1_days >= 1 AND escalation_level2_days > escalation_level1_days "
            "AND escalation_level3_days > escalation_level2_days",
            name="escalation_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    #: The organisation's name, shown in the header and on reports.
    org_name: Mapped[str] = mapped_column(sa.String(120), default="PSA")
    #: ISO 4217 code of the one currency all money is in.
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    #: IANA time zone of the organisation: escalation sweeps and "today" are counted here.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    #: ISO weekday numbers (1 = Monday … 7 = Sunday) that are working days, e.g. "12345".
    working_days: Mapped[str] = mapped_column(sa.String(7), default="12345")
    #: No time entry on or before this date may be created, changed or deleted.
    time_lock_date: Mapped[date | None] = mapped_column(sa.Date)
    #: Whether time can be logged on days after today (planned vacation, for instance).
    allow_future_time: Mapped[bool] = mapped_column(default=False)
    #: Slip in working days that opens an escalation at level 1, 2 and 3.
    escalation_level1_days: Mapped[int] = mapped_column(default=1)
    escalation_level2_days: Mapped[int] = mapped_column(default=3)
    escalation_level3_days: Mapped[int] = mapped_column(default=7)
    #: A milestone overdue by more than this many working days makes a project red.
    health_red_overdue_days: Mapped[int] = mapped_column(default=5)
    #: Burn ahead of progress by more than this many percentage points makes a project amber.
    health_amber_burn_points: Mapped[int] = mapped_column(default=15)
    #: Billable utilization the team aims at, in percent.
    utilization_target_percent: Mapped[Decimal] = mapped_column(ExactNumeric(5, 2), default=Decimal("75"))
    #: Name shown in the portal header and on customer-facing reports.
    brand_name: Mapped[str] = mapped_column(sa.String(120), default="PSA")
    #: Stored file name of the uploaded logo under the upload folder, if any.
    brand_logo_filename: Mapped[str | None] = mapped_column(sa.String(120))
    #: Accent colour as #rrggbb.
    brand_accent_color: Mapped[str] = mapped_column(sa.String(7), default="#0d6efd")
    #: Last change.
    #: The CRM deal-won hook (POST /api/v1/hooks/deal-won): the HMAC-SHA256 secret ("" = the hook is off) and the
    #: mapping from the deal's product or plan to a template, as JSON {"<product>": <template id>}.
    crm_hook_secret: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    crm_template_map: Mapped[str] = mapped_column(sa.Text, default="{}", server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def working_weekdays(self) -> frozenset[int]:
        """Python weekday numbers (0 = Monday) that are working days."""
        return frozenset(int(ch) - 1 for ch in self.working_days)


class Holiday(db.Model):
    """A day off for the whole organisation; never a working day."""

    __tablename__ = "holidays"
    __repr_fields__ = ("day", "name")

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The date of the holiday.
    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    #: What it is called ("Christmas Day").
    name: Mapped[str] = mapped_column(sa.String(120))
